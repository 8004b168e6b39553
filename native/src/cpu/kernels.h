// CPU tile kernels of the linear-recurrence solver, written once and compiled once per
// instruction set (kernels_baseline.cc, kernels_avx2.cc, kernels_avx512.cc), each inside its
// own namespace so no template instantiated with AVX-512 flags can leak into the baseline path.
//
// A "tile" is a set of independent chains (one batch entry b, lanes [n0, n1), and G time chunks
// of that batch entry run in lockstep). The schedules in linear_recurrence_cpu.cc only decide
// which tiles exist; all arithmetic happens here.
//
// Why the loops look like this:
//  * lanes are contiguous in memory, so the innermost loop runs over lanes and the compiler
//    vectorises it (SSE2 / AVX2+FMA / AVX-512 depending on the translation unit);
//  * a single lane (e.g. one long sensor stream) has no lanes to vectorise and its chain is
//    latency-bound (one FMA after another). Running G = 8 time chunks in lockstep gives the core
//    8 independent chains to overlap, which is why the time-chunked schedule wins even on one core;
//  * the state is carried in `carry` (L1-resident), the arrays are read once and `out` written once.
//
// This file must not be included anywhere but the kernels_<isa>.cc files.
#pragma once

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "kernel_table.h"
#include "parascan/linear_recurrence.h"

#ifndef PARASCAN_ISA_NAMESPACE
#error "define PARASCAN_ISA_NAMESPACE before including kernels.h"
#endif

namespace parascan::cpu::PARASCAN_ISA_NAMESPACE {


namespace {

template <typename T>
struct Views {
  const T* __restrict jac;  // [T, k, k, N] of batch entry b
  const T* __restrict rhs;  // [T, k*N]
  T* out;                   // [T, k*N] (may alias rhs: only row t is read before row t is written)
  int64_t lanes;
  int64_t k;
};

template <typename T>
Views<T> viewsOf(const LinearRecurrenceParams<T>& p, int64_t b) {
  const int64_t k = p.blockSize, N = p.lanes, D = k * N, Tn = p.length;
  return Views<T>{p.jacobians + b * Tn * k * k * N, p.rhs + b * Tn * D, p.out + b * Tn * D, N, k};
}

// ---- one step, fixed K ------------------------------------------------------------------
// Forward: x = J_t x + r_t, out_t = x.
template <typename T, int K>
inline void forwardStep(const Views<T>& v, int64_t t, int64_t n0, int64_t n1, T* __restrict x) {
  const int64_t N = v.lanes;
  const T* __restrict J = v.jac + t * K * K * N;
  const T* __restrict R = v.rhs + t * K * N;
  T* __restrict O = v.out + t * K * N;
  if constexpr (K == 1) {
#pragma GCC ivdep
    for (int64_t n = n0; n < n1; ++n) {
      const T y = J[n] * x[n] + R[n];
      x[n] = y;
      O[n] = y;
    }
  } else {
#pragma GCC ivdep
    for (int64_t n = n0; n < n1; ++n) {
      T xo[K];
      for (int j = 0; j < K; ++j) xo[j] = x[j * N + n];
      for (int i = 0; i < K; ++i) {
        T s = R[i * N + n];
        for (int j = 0; j < K; ++j) s += J[(i * K + j) * N + n] * xo[j];
        x[i * N + n] = s;
        O[i * N + n] = s;
      }
    }
  }
}

// Reverse: out_t = r_t + c, c = J_t^T out_t.
template <typename T, int K>
inline void reverseStep(const Views<T>& v, int64_t t, int64_t n0, int64_t n1, T* __restrict c) {
  const int64_t N = v.lanes;
  const T* __restrict J = v.jac + t * K * K * N;
  const T* __restrict R = v.rhs + t * K * N;
  T* __restrict O = v.out + t * K * N;
  if constexpr (K == 1) {
#pragma GCC ivdep
    for (int64_t n = n0; n < n1; ++n) {
      const T y = R[n] + c[n];
      O[n] = y;
      c[n] = J[n] * y;
    }
  } else {
#pragma GCC ivdep
    for (int64_t n = n0; n < n1; ++n) {
      T y[K];
      for (int i = 0; i < K; ++i) {
        y[i] = R[i * N + n] + c[i * N + n];
        O[i * N + n] = y[i];
      }
      for (int j = 0; j < K; ++j) {
        T s = T(0);
        for (int i = 0; i < K; ++i) s += J[(i * K + j) * N + n] * y[i];
        c[j * N + n] = s;
      }
    }
  }
}

// ---- one step, runtime k (dense Jacobians, large blocks) -----------------------------------
template <typename T>
inline void forwardStepDynamic(const Views<T>& v, int64_t t, int64_t n0, int64_t n1, T* __restrict x, T* __restrict tmp) {
  const int64_t N = v.lanes, k = v.k;
  const T* __restrict J = v.jac + t * k * k * N;
  const T* __restrict R = v.rhs + t * k * N;
  T* __restrict O = v.out + t * k * N;
  for (int64_t i = 0; i < k; ++i)
    for (int64_t n = n0; n < n1; ++n) tmp[i * N + n] = R[i * N + n];
  for (int64_t i = 0; i < k; ++i)
    for (int64_t j = 0; j < k; ++j) {
      const T* __restrict Jij = J + (i * k + j) * N;
      const T* __restrict xj = x + j * N;
      T* __restrict ti = tmp + i * N;
#pragma GCC ivdep
      for (int64_t n = n0; n < n1; ++n) ti[n] += Jij[n] * xj[n];
    }
  for (int64_t i = 0; i < k; ++i)
    for (int64_t n = n0; n < n1; ++n) {
      x[i * N + n] = tmp[i * N + n];
      O[i * N + n] = tmp[i * N + n];
    }
}

template <typename T>
inline void reverseStepDynamic(const Views<T>& v, int64_t t, int64_t n0, int64_t n1, T* __restrict c, T* __restrict tmp) {
  const int64_t N = v.lanes, k = v.k;
  const T* __restrict J = v.jac + t * k * k * N;
  const T* __restrict R = v.rhs + t * k * N;
  T* __restrict O = v.out + t * k * N;
  for (int64_t i = 0; i < k; ++i)
    for (int64_t n = n0; n < n1; ++n) {
      const T y = R[i * N + n] + c[i * N + n];
      tmp[i * N + n] = y;
      O[i * N + n] = y;
    }
  for (int64_t j = 0; j < k; ++j)
    for (int64_t n = n0; n < n1; ++n) c[j * N + n] = T(0);
  for (int64_t i = 0; i < k; ++i)
    for (int64_t j = 0; j < k; ++j) {
      const T* __restrict Jij = J + (i * k + j) * N;
      const T* __restrict yi = tmp + i * N;
      T* __restrict cj = c + j * N;
#pragma GCC ivdep
      for (int64_t n = n0; n < n1; ++n) cj[n] += Jij[n] * yi[n];
    }
}

// ---- aggregate steps: (A, e) <- step ∘ (A, e) ------------------------------------------------
// Forward step map x ↦ J x + r:   A <- J A,    e <- J e + r.
// Reverse step map c ↦ J^T c + J^T r (see combine.h):  A <- J^T A,  e <- J^T (e + r).
template <typename T, int K, bool Reverse>
inline void aggregateStep(const Views<T>& v, int64_t t, int64_t n0, int64_t n1, T* __restrict A, T* __restrict e) {
  const int64_t N = v.lanes;
  const T* __restrict J = v.jac + t * K * K * N;
  const T* __restrict R = v.rhs + t * K * N;
#pragma GCC ivdep
  for (int64_t n = n0; n < n1; ++n) {
    T m[K][K];
    for (int i = 0; i < K; ++i)
      for (int j = 0; j < K; ++j) m[i][j] = Reverse ? J[(j * K + i) * N + n] : J[(i * K + j) * N + n];
    T a[K][K], eo[K];
    for (int i = 0; i < K; ++i) {
      eo[i] = Reverse ? e[i * N + n] + R[i * N + n] : e[i * N + n];
      for (int j = 0; j < K; ++j) a[i][j] = A[(i * K + j) * N + n];
    }
    for (int i = 0; i < K; ++i) {
      T s = Reverse ? T(0) : R[i * N + n];
      for (int j = 0; j < K; ++j) s += m[i][j] * eo[j];
      e[i * N + n] = s;
      for (int j = 0; j < K; ++j) {
        T q = T(0);
        for (int l = 0; l < K; ++l) q += m[i][l] * a[l][j];
        A[(i * K + j) * N + n] = q;
      }
    }
  }
}


// ---- lockstep kernels for tiny rows (k·N <= 8): all G chunks' state lives in registers ------
// A row of one or a few lanes gives the generic step nothing to vectorise, and its per-step
// pointer arithmetic and loop set-up cost more than the FMA itself. Here the chunk count G and
// the row width are compile-time constants, so the G independent chains unroll into straight
// code whose only memory traffic is the arrays themselves.
// Diagonal rows of 2, 4 or 8 lanes: one short SIMD vector per chunk (GCC vector extensions, so
// every ISA build lowers it to its own registers). Without this the lane loop stays scalar and
// a 4-lane row costs ~7 instructions per lane instead of ~1.
template <typename T, int NL>
inline constexpr bool kVectorRow = (NL == 2 || NL == 4 || NL == 8) && NL * sizeof(T) <= 32;

template <typename T, int NL, bool Reverse>
void solveLockstepVector(const Views<T>& v, const ChunkSpan* chunks, int64_t steps, T* const* carries) {
  constexpr int G = kMaxInterleave;
  using V [[gnu::vector_size(NL * sizeof(T))]] = T;
  V x[G];
  const T* jp[G];
  const T* rp[G];
  T* op[G];
  for (int q = 0; q < G; ++q) {
    std::memcpy(&x[q], carries[q], sizeof(V));
    const int64_t t = Reverse ? chunks[q].t1 - 1 : chunks[q].t0;
    jp[q] = v.jac + t * NL;
    rp[q] = v.rhs + t * NL;
    op[q] = v.out + t * NL;
  }
  constexpr int64_t step = Reverse ? -NL : NL;
  for (int64_t s = 0; s < steps; ++s) {
    for (int q = 0; q < G; ++q) {
      V j, r;
      std::memcpy(&j, jp[q], sizeof(V));
      std::memcpy(&r, rp[q], sizeof(V));
      if constexpr (!Reverse) {
        x[q] = j * x[q] + r;
        std::memcpy(op[q], &x[q], sizeof(V));
      } else {
        const V y = r + x[q];
        std::memcpy(op[q], &y, sizeof(V));
        x[q] = j * y;
      }
      jp[q] += step;
      rp[q] += step;
      op[q] += step;
    }
  }
  for (int q = 0; q < G; ++q) std::memcpy(carries[q], &x[q], sizeof(V));
}

template <typename T, int NL, bool Reverse>
void aggregateLockstepVector(const Views<T>& v, const ChunkSpan* chunks, int64_t steps, T* const* A, T* const* e) {
  constexpr int G = kMaxInterleave;
  using V [[gnu::vector_size(NL * sizeof(T))]] = T;
  V a[G], ev[G];
  const T* jp[G];
  const T* rp[G];
  for (int q = 0; q < G; ++q) {
    std::memcpy(&a[q], A[q], sizeof(V));
    std::memcpy(&ev[q], e[q], sizeof(V));
    const int64_t t = Reverse ? chunks[q].t1 - 1 : chunks[q].t0;
    jp[q] = v.jac + t * NL;
    rp[q] = v.rhs + t * NL;
  }
  constexpr int64_t step = Reverse ? -NL : NL;
  for (int64_t s = 0; s < steps; ++s) {
    for (int q = 0; q < G; ++q) {
      V j, r;
      std::memcpy(&j, jp[q], sizeof(V));
      std::memcpy(&r, rp[q], sizeof(V));
      a[q] = j * a[q];
      ev[q] = Reverse ? j * (ev[q] + r) : j * ev[q] + r;
      jp[q] += step;
      rp[q] += step;
    }
  }
  for (int q = 0; q < G; ++q) {
    std::memcpy(A[q], &a[q], sizeof(V));
    std::memcpy(e[q], &ev[q], sizeof(V));
  }
}

template <typename T, int K, int NL, bool Reverse>
void solveLockstepSmall(const Views<T>& v, const ChunkSpan* chunks, int64_t steps, T* const* carries) {
  if constexpr (K == 1 && kVectorRow<T, NL>) {
    solveLockstepVector<T, NL, Reverse>(v, chunks, steps, carries);
    return;
  }
  constexpr int G = kMaxInterleave, D = K * NL;
  T x[G][D];
  const T* jp[G];
  const T* rp[G];
  T* op[G];
  for (int q = 0; q < G; ++q) {
    for (int d = 0; d < D; ++d) x[q][d] = carries[q][d];
    const int64_t t = Reverse ? chunks[q].t1 - 1 : chunks[q].t0;
    jp[q] = v.jac + t * K * D;
    rp[q] = v.rhs + t * D;
    op[q] = v.out + t * D;
  }
  constexpr int64_t jstep = Reverse ? -K * D : K * D, rstep = Reverse ? -D : D;
  for (int64_t s = 0; s < steps; ++s) {
    for (int q = 0; q < G; ++q) {
      for (int n = 0; n < NL; ++n) {
        if constexpr (!Reverse) {
          T xo[K];
          for (int j = 0; j < K; ++j) xo[j] = x[q][j * NL + n];
          for (int i = 0; i < K; ++i) {
            T acc = rp[q][i * NL + n];
            for (int j = 0; j < K; ++j) acc += jp[q][(i * K + j) * NL + n] * xo[j];
            x[q][i * NL + n] = acc;
            op[q][i * NL + n] = acc;
          }
        } else {
          T y[K];
          for (int i = 0; i < K; ++i) {
            y[i] = rp[q][i * NL + n] + x[q][i * NL + n];
            op[q][i * NL + n] = y[i];
          }
          for (int j = 0; j < K; ++j) {
            T acc = T(0);
            for (int i = 0; i < K; ++i) acc += jp[q][(i * K + j) * NL + n] * y[i];
            x[q][j * NL + n] = acc;
          }
        }
      }
      jp[q] += jstep;
      rp[q] += rstep;
      op[q] += rstep;
    }
  }
  for (int q = 0; q < G; ++q)
    for (int d = 0; d < D; ++d) carries[q][d] = x[q][d];
}

template <typename T, int K, int NL, bool Reverse>
void aggregateLockstepSmall(const Views<T>& v, const ChunkSpan* chunks, int64_t steps, T* const* A, T* const* e) {
  if constexpr (K == 1 && kVectorRow<T, NL>) {
    aggregateLockstepVector<T, NL, Reverse>(v, chunks, steps, A, e);
    return;
  }
  constexpr int G = kMaxInterleave, D = K * NL;
  T a[G][K * D], ev[G][D];
  const T* jp[G];
  const T* rp[G];
  for (int q = 0; q < G; ++q) {
    for (int d = 0; d < K * D; ++d) a[q][d] = A[q][d];
    for (int d = 0; d < D; ++d) ev[q][d] = e[q][d];
    const int64_t t = Reverse ? chunks[q].t1 - 1 : chunks[q].t0;
    jp[q] = v.jac + t * K * D;
    rp[q] = v.rhs + t * D;
  }
  constexpr int64_t jstep = Reverse ? -K * D : K * D, rstep = Reverse ? -D : D;
  for (int64_t s = 0; s < steps; ++s) {
    for (int q = 0; q < G; ++q) {
      for (int n = 0; n < NL; ++n) {
        T m[K][K], eo[K], ao[K][K];
        for (int i = 0; i < K; ++i) {
          for (int j = 0; j < K; ++j) {
            m[i][j] = Reverse ? jp[q][(j * K + i) * NL + n] : jp[q][(i * K + j) * NL + n];
            ao[i][j] = a[q][(i * K + j) * NL + n];
          }
          eo[i] = Reverse ? ev[q][i * NL + n] + rp[q][i * NL + n] : ev[q][i * NL + n];
        }
        for (int i = 0; i < K; ++i) {
          T acc = Reverse ? T(0) : rp[q][i * NL + n];
          for (int j = 0; j < K; ++j) acc += m[i][j] * eo[j];
          ev[q][i * NL + n] = acc;
          for (int j = 0; j < K; ++j) {
            T p = T(0);
            for (int l = 0; l < K; ++l) p += m[i][l] * ao[l][j];
            a[q][(i * K + j) * NL + n] = p;
          }
        }
      }
      jp[q] += jstep;
      rp[q] += rstep;
    }
  }
  for (int q = 0; q < G; ++q) {
    for (int d = 0; d < K * D; ++d) A[q][d] = a[q][d];
    for (int d = 0; d < D; ++d) e[q][d] = ev[q][d];
  }
}

// Runs the common prefix of G full-width chunks through the register kernel; returns the number
// of steps done (0 when this shape has no register kernel).
template <typename T, int K, typename Fn>
int64_t dispatchSmall(int64_t lanes, Fn&& fn) {
  if constexpr (K == 1) {
    switch (lanes) {
      case 1: return fn(std::integral_constant<int, 1>{});
      case 2: return fn(std::integral_constant<int, 2>{});
      case 3: return fn(std::integral_constant<int, 3>{});
      case 4: return fn(std::integral_constant<int, 4>{});
      case 8: return fn(std::integral_constant<int, 8>{});
      default: return 0;
    }
  } else if constexpr (K == 2) {
    switch (lanes) {
      case 1: return fn(std::integral_constant<int, 1>{});
      case 2: return fn(std::integral_constant<int, 2>{});
      case 4: return fn(std::integral_constant<int, 4>{});
      default: return 0;
    }
  } else {
    return 0;
  }
}

inline int64_t commonLength(const ChunkSpan* chunks, int g) {
  int64_t common = chunks[0].t1 - chunks[0].t0;
  for (int q = 1; q < g; ++q) {
    const int64_t len = chunks[q].t1 - chunks[q].t0;
    common = len < common ? len : common;
  }
  return common;
}

// What remains of each chunk after `done` lockstep steps.
inline void remainingSpans(const ChunkSpan* chunks, int g, int64_t done, bool reverse, ChunkSpan* rest) {
  for (int q = 0; q < g; ++q)
    rest[q] = reverse ? ChunkSpan{chunks[q].t0, chunks[q].t1 - done} : ChunkSpan{chunks[q].t0 + done, chunks[q].t1};
}

template <typename T>
inline bool allFinite(const T* x, int64_t k, int64_t N, int64_t n0, int64_t n1) {
  // x - x is 0 for finite x and NaN for NaN/Inf; summing keeps the loop branch-free.
  T acc = T(0);
  for (int64_t i = 0; i < k; ++i)
    for (int64_t n = n0; n < n1; ++n) acc += x[i * N + n] - x[i * N + n];
  return acc == T(0);
}

// Lockstep over G chunks for `steps` rows each, then every chunk's remaining rows alone.
template <int G, typename Step>
inline void lockstep(const ChunkSpan* chunks, int g, bool reverse, Step&& step) {
  int64_t common = chunks[0].t1 - chunks[0].t0;
  for (int q = 1; q < g; ++q) {
    const int64_t len = chunks[q].t1 - chunks[q].t0;
    common = len < common ? len : common;
  }
  if (g == G) {
    for (int64_t s = 0; s < common; ++s)
      for (int q = 0; q < G; ++q) step(q, reverse ? chunks[q].t1 - 1 - s : chunks[q].t0 + s);
  } else {
    for (int64_t s = 0; s < common; ++s)
      for (int q = 0; q < g; ++q) step(q, reverse ? chunks[q].t1 - 1 - s : chunks[q].t0 + s);
  }
  for (int q = 0; q < g; ++q) {
    const int64_t len = chunks[q].t1 - chunks[q].t0;
    for (int64_t s = common; s < len; ++s) step(q, reverse ? chunks[q].t1 - 1 - s : chunks[q].t0 + s);
  }
}

template <typename T, int K>
bool solveTileFixed(const LinearRecurrenceParams<T>& p, int64_t b, int64_t n0, int64_t n1, const ChunkSpan* chunks, int g,
                    T* const* carries) {
  const Views<T> v = viewsOf(p, b);
  const bool reverse = p.direction == Direction::Reverse;
  if (g == kMaxInterleave && n0 == 0 && n1 == p.lanes) {
    const int64_t common = commonLength(chunks, g);
    const int64_t done = dispatchSmall<T, K>(p.lanes, [&](auto nl) -> int64_t {
      if (reverse)
        solveLockstepSmall<T, K, decltype(nl)::value, true>(v, chunks, common, carries);
      else
        solveLockstepSmall<T, K, decltype(nl)::value, false>(v, chunks, common, carries);
      return common;
    });
    if (done > 0) {
      ChunkSpan rest[kMaxInterleave];
      remainingSpans(chunks, g, done, reverse, rest);
      for (int q = 0; q < g; ++q) {
        if (reverse)
          for (int64_t t = rest[q].t1 - 1; t >= rest[q].t0; --t) reverseStep<T, K>(v, t, n0, n1, carries[q]);
        else
          for (int64_t t = rest[q].t0; t < rest[q].t1; ++t) forwardStep<T, K>(v, t, n0, n1, carries[q]);
      }
      bool ok = true;
      for (int q = 0; q < g; ++q) ok = allFinite(carries[q], K, p.lanes, n0, n1) && ok;
      return ok;
    }
  }
  if (g == 1) {
    T* c = carries[0];
    if (reverse)
      for (int64_t t = chunks[0].t1 - 1; t >= chunks[0].t0; --t) reverseStep<T, K>(v, t, n0, n1, c);
    else
      for (int64_t t = chunks[0].t0; t < chunks[0].t1; ++t) forwardStep<T, K>(v, t, n0, n1, c);
  } else if (reverse) {
    lockstep<kMaxInterleave>(chunks, g, true, [&](int q, int64_t t) { reverseStep<T, K>(v, t, n0, n1, carries[q]); });
  } else {
    lockstep<kMaxInterleave>(chunks, g, false, [&](int q, int64_t t) { forwardStep<T, K>(v, t, n0, n1, carries[q]); });
  }
  bool ok = true;
  for (int q = 0; q < g; ++q) ok = allFinite(carries[q], K, p.lanes, n0, n1) && ok;
  return ok;
}

template <typename T>
bool solveTileDynamic(const LinearRecurrenceParams<T>& p, int64_t b, int64_t n0, int64_t n1, const ChunkSpan* chunks, int g,
                      T* const* carries, T* tmp) {
  const Views<T> v = viewsOf(p, b);
  const bool reverse = p.direction == Direction::Reverse;
  for (int q = 0; q < g; ++q) {
    if (reverse)
      for (int64_t t = chunks[q].t1 - 1; t >= chunks[q].t0; --t) reverseStepDynamic(v, t, n0, n1, carries[q], tmp);
    else
      for (int64_t t = chunks[q].t0; t < chunks[q].t1; ++t) forwardStepDynamic(v, t, n0, n1, carries[q], tmp);
  }
  bool ok = true;
  for (int q = 0; q < g; ++q) ok = allFinite(carries[q], p.blockSize, p.lanes, n0, n1) && ok;
  return ok;
}

template <typename T, int K>
void aggregateTileFixed(const LinearRecurrenceParams<T>& p, int64_t b, int64_t n0, int64_t n1, const ChunkSpan* chunks, int g,
                        T* const* A, T* const* e) {
  const Views<T> v = viewsOf(p, b);
  const int64_t N = p.lanes;
  for (int q = 0; q < g; ++q)
    for (int i = 0; i < K; ++i) {
      for (int64_t n = n0; n < n1; ++n) e[q][i * N + n] = T(0);
      for (int j = 0; j < K; ++j)
        for (int64_t n = n0; n < n1; ++n) A[q][(i * K + j) * N + n] = (i == j) ? T(1) : T(0);
    }
  const bool reverse = p.direction == Direction::Reverse;
  if (g == kMaxInterleave && n0 == 0 && n1 == N) {
    const int64_t common = commonLength(chunks, g);
    const int64_t done = dispatchSmall<T, K>(N, [&](auto nl) -> int64_t {
      if (reverse)
        aggregateLockstepSmall<T, K, decltype(nl)::value, true>(v, chunks, common, A, e);
      else
        aggregateLockstepSmall<T, K, decltype(nl)::value, false>(v, chunks, common, A, e);
      return common;
    });
    if (done > 0) {
      ChunkSpan rest[kMaxInterleave];
      remainingSpans(chunks, g, done, reverse, rest);
      for (int q = 0; q < g; ++q) {
        if (reverse)
          for (int64_t t = rest[q].t1 - 1; t >= rest[q].t0; --t) aggregateStep<T, K, true>(v, t, n0, n1, A[q], e[q]);
        else
          for (int64_t t = rest[q].t0; t < rest[q].t1; ++t) aggregateStep<T, K, false>(v, t, n0, n1, A[q], e[q]);
      }
      return;
    }
  }
  if (reverse)
    lockstep<kMaxInterleave>(chunks, g, true, [&](int q, int64_t t) { aggregateStep<T, K, true>(v, t, n0, n1, A[q], e[q]); });
  else
    lockstep<kMaxInterleave>(chunks, g, false, [&](int q, int64_t t) { aggregateStep<T, K, false>(v, t, n0, n1, A[q], e[q]); });
}

}  // namespace

// Entry points of this instruction set, called through a function table.
// solveTile: runs chunks[0..g) (lanes [n0, n1) of batch entry b) from carries[q] (full-state
// layout [k][N]), leaves the final state in carries[q]; false if a carry ended non-finite.
// `tmp` needs k*N elements (runtime-k path only).
template <typename T>
bool solveTile(const LinearRecurrenceParams<T>& p, int64_t b, int64_t n0, int64_t n1, const ChunkSpan* chunks, int g,
               T* const* carries, T* tmp) {
  switch (p.blockSize) {
    case 1: return solveTileFixed<T, 1>(p, b, n0, n1, chunks, g, carries);
    case 2: return solveTileFixed<T, 2>(p, b, n0, n1, chunks, g, carries);
    case 3: return solveTileFixed<T, 3>(p, b, n0, n1, chunks, g, carries);
    case 4: return solveTileFixed<T, 4>(p, b, n0, n1, chunks, g, carries);
    default: return solveTileDynamic<T>(p, b, n0, n1, chunks, g, carries, tmp);
  }
}

// aggregateTile: the affine map (A [k][k][N], e [k][N]) of each chunk, from the identity.
// Only for k <= 4 (the time-chunked schedule is never used for larger k: its k³ cost loses).
template <typename T>
bool aggregateTile(const LinearRecurrenceParams<T>& p, int64_t b, int64_t n0, int64_t n1, const ChunkSpan* chunks, int g,
                   T* const* A, T* const* e) {
  switch (p.blockSize) {
    case 1: aggregateTileFixed<T, 1>(p, b, n0, n1, chunks, g, A, e); return true;
    case 2: aggregateTileFixed<T, 2>(p, b, n0, n1, chunks, g, A, e); return true;
    case 3: aggregateTileFixed<T, 3>(p, b, n0, n1, chunks, g, A, e); return true;
    case 4: aggregateTileFixed<T, 4>(p, b, n0, n1, chunks, g, A, e); return true;
    default: return false;
  }
}

}  // namespace parascan::cpu::PARASCAN_ISA_NAMESPACE
