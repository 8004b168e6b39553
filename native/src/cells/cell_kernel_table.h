// The function table through which cells_cpu.cc reaches the cell kernels of one instruction set
// (cell_kernels.h, compiled once per ISA: baseline x86-64 / AVX2+FMA / AVX-512). Each entry works
// on one tile of the problem; threads, tiling and the Newton policy live in cells_cpu.cc.
#pragma once

#include <cstdint>

#include "parascan/cells.h"

namespace parascan::cells {

// One evaluation pass over a time chunk [t0, t1) of batch row b (all lanes):
//   cur_t  = states_t + omega·delta_t          (delta null: cur_t = states_t)
//   f_t    = f(cur_{t-1}, P_t)                 (cur_{-1} = initial or zero; zeroPrev: 0 for every t)
//   out_t  = f_t − cur_t  (residual)  or  f_t  (plain evaluation)
//   jac_t  = ∂f/∂h at (cur_{t-1}, P_t)          (jac null: not computed)
// With delta, cur_t is written back to states_t. For t = t1−1 < T the writes of states, out (and
// nothing else) go to deferH / deferOut instead ([S] each), because the next chunk's task reads
// states_{t1−1} and delta_{t1−1} (in `out`'s buffer) as its carry-in: the caller copies them
// after the parallel region. Returns max |out_t| over the chunk (NaN if a value is non-finite)
// when `residual`, else 0.
template <typename T>
struct EvalJob {
  T* states = nullptr;         // [B, T, S]: read (prev), written when delta is set
  const T* delta = nullptr;    // [B, T, S] or null; may be the same buffer as out
  T omega = 1;
  T* out = nullptr;            // [B, T, S] or null
  T* jac = nullptr;            // [B, T, k, k, D] or null
  bool residual = false;
  bool zeroPrev = false;       // the first guess f(0, x_t)
};

inline constexpr int kMaxSweepGroup = 8;

template <typename T>
struct CellKernelTable {
  // Rows [b0, b1) and lanes [j0, j1) (j1 − j0 a multiple of the vector width unless j1 = D),
  // all T steps, step by step; out [B, T, S]. True if a stored value is non-finite.
  bool (*sequentialTile)(const CellParams<T>& p, int64_t b0, int64_t b1, int64_t j0, int64_t j1, T* out);
  double (*evalChunk)(const CellParams<T>& p, const EvalJob<T>& job, int64_t b, int64_t t0, int64_t t1, T* deferH, T* deferOut);
  // Per-point cotangents for t in [t0, t1) of row b with u = lambda_t: dP_t (the cell's dtype),
  // dh0[b] at t = 0, and u^T ∂f/∂A (∂f/∂C) summed into gA [3, D] (gC [2, D]) in double.
  void (*cotangentChunk)(const CellParams<T>& p, const T* states, const T* lambda, T* dP, T* dh0, double* gA, double* gC,
                         int64_t b, int64_t t0, int64_t t1);
  // The sequential recurrence over g <= kMaxSweepGroup chunks of row b in lockstep, chunk i from
  // starts[i] (null: zero) over [t0s[i], t1s[i]), states into out [B, T, S]; with phis (entries may
  // be null) each chunk's propagator Φ_i = J_{t1-1}···J_{t0} ([k, k, D]) then its peak gain [D] (the
  // largest ∞-norm of a partial product, per lane). True if a state is non-finite.
  bool (*sweepChunks)(const CellParams<T>& p, int64_t b, const int64_t* t0s, const int64_t* t1s, int g, const T* const* starts, T* out,
                      T* const* phis);
  int vectorWidth;  // lanes of T per vector
};

struct CellIsaKernels {
  const char* name;
  CellKernelTable<float> f32;
  CellKernelTable<double> f64;
};

extern const CellIsaKernels kCellBaselineKernels;
extern const CellIsaKernels kCellAvx2Kernels;
extern const CellIsaKernels kCellAvx512Kernels;

}  // namespace parascan::cells
