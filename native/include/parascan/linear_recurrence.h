// The linear recurrence at the heart of every Newton step and of the backward pass
// (shared/DESIGN.md §1-3), as a plain parameter struct that every backend consumes.
//
//   forward:  x_t = J_t x_{t-1} + r_t            t = 0..T-1,  x_{-1} = initial (0 if null)
//   reverse:  x_t = r_t + J_{t+1}^T x_{t+1}       t = T-1..0,  with the term for t = T-1 being
//             `initial` (0 if null) instead of J_T^T x_T.
//
// The reverse form is DESIGN §3's adjoint λ_t = g_t + J_{t+1}^T λ_{t+1} on the SAME Jacobian
// array the forward pass used (row 0 = J_1 is not needed by it). For a chunked backward pass the
// caller passes initial = J_{T+1}^T λ_{T+1} of the chunk that follows.
//
// Structure: every Jacobian is a k×k grid of diagonal blocks of size N, D = k·N:
//   J_t[i*N + n, j*N + m] = (n == m) ? jac[b, t, i, j, n] : 0
// which covers the three structures of DESIGN §2 with one layout:
//   diagonal      k = 1, N = D     jac [B, T, D]
//   block         k,     N = D/k   jac [B, T, k, k, N]   (ParaLSTM: k = 2)
//   dense         k = D, N = 1     jac [B, T, D, D]      (row-major, J[i][j] = ∂f_i/∂h_j)
//
// Layout: contiguous, batch-first, time-major inside a batch: rhs/out [B, T, D], initial [B, D].
// `out` may be the very same buffer as `rhs` (in-place solve); any other overlap is the caller's bug.
//
// Kernels know nothing of Node: this header is shared by the CPU, CUDA and binding code.
#pragma once

#include <cstdint>

namespace parascan {

enum class Direction : int32_t { Forward = 0, Reverse = 1 };

template <typename T>
struct LinearRecurrenceParams {
  Direction direction = Direction::Forward;
  int64_t batch = 0;       // B >= 1
  int64_t length = 0;      // T >= 1
  int64_t blockSize = 1;   // k >= 1
  int64_t lanes = 0;       // N >= 1, state size D = k * N
  const T* jacobians = nullptr;  // [B, T, k, k, N]
  const T* rhs = nullptr;        // [B, T, k*N]
  const T* initial = nullptr;    // [B, k*N] or nullptr (zero)
  T* out = nullptr;              // [B, T, k*N]
  int32_t threads = 0;           // CPU only: 0 = the pool's default
  // CPU only, for tests and benchmarks: force a schedule instead of the automatic choice.
  //   0 auto, 1 sequential substitution (the reference loop), 2 parallel over batch x lanes,
  //   3 time-chunked (three-phase) parallel.
  int32_t schedule = 0;
  int64_t chunkLength = 0;       // time-chunked schedule: 0 = automatic
};

enum class Status : int32_t {
  Ok = 0,
  NonFinite = 1,        // a NaN or Inf appeared in the output (inputs held one, or it overflowed)
  InvalidArgument = 2,  // the struct itself is malformed (sizes < 1, null pointers)
  DeviceError = 3,      // CUDA: no device, out of memory, launch failure (see message)
};

struct SolveReport {
  Status status = Status::Ok;
  const char* schedule = "";    // which schedule ran, for diagnostics and benchmarks
  char message[256] = {0};      // human-readable detail when status != Ok
};

inline int64_t stateSize(int64_t blockSize, int64_t lanes) { return blockSize * lanes; }

}  // namespace parascan
