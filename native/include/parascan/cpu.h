// CPU backend of the linear-recurrence solver: a runtime-dispatched (baseline x86-64 / AVX2 /
// AVX-512) family of kernels driven by a small thread pool. Plain C++, no Node.
#pragma once

#include <string>
#include <vector>

#include "parascan/linear_recurrence.h"

namespace parascan::cpu {

SolveReport solveLinearRecurrence(const LinearRecurrenceParams<float>& p);
SolveReport solveLinearRecurrence(const LinearRecurrenceParams<double>& p);

// The instruction set in use ("avx512", "avx2", "baseline") and those this CPU can run.
std::string activeIsa();
std::vector<std::string> availableIsas();
// Forces an instruction set (tests, benchmarks). Returns false if this CPU cannot run it.
bool setIsa(const std::string& isa);

// Default worker count (hardware concurrency unless changed). setThreads(0) restores it.
int threadCount();
void setThreads(int threads);

}  // namespace parascan::cpu

namespace parascan::cpu {

// Memory-bandwidth probes (benchmarks): dst = src, and a = b + scalar·c, over n elements.
template <typename T>
void streamCopy(T* dst, const T* src, int64_t n, int threads);
template <typename T>
void streamTriad(T* a, const T* b, const T* c, T scalar, int64_t n, int threads);

}  // namespace parascan::cpu

namespace parascan::cpu {

// ParaRNN's per-head input projection (DESIGN §5) over M = B·T points, through BLAS (one GEMM
// per head and gate):  P[m, g, h·Dh + j] = b[g, h·Dh + j] + Σ_i x[m, h·Di + i] · W[h, i, g, j]
// with x [M, Din], W [H, Din/H, G, D/H], b [G, D], P [M, G, D]; Di = Din/H, Dh = D/H.
template <typename T>
struct ProjectionParams {
  int64_t points = 0, inputSize = 0, stateSize = 0, heads = 1, gates = 1;
  const T* x = nullptr;
  const T* weight = nullptr;
  const T* bias = nullptr;
  T* out = nullptr;
};

// False when this build has no BLAS (PARASCAN_HAVE_BLAS unset) or the sizes are malformed.
bool projectInputs(const ProjectionParams<float>& p);
bool projectInputs(const ProjectionParams<double>& p);
bool haveBlas();

}  // namespace parascan::cpu

namespace parascan::cpu {

// General row-major matrix product through BLAS: C[m×n] = alpha·op(A)·op(B) + beta·C, where
// op(A) = A (stored m×k) or Aᵀ (transA: stored k×m), op(B) = B (k×n) or Bᵀ (transB: n×k); element
// (i, j) of a stored matrix X is X[i·ldX + j]. beta = 0: C is not read (BLAS convention).
template <typename T>
struct GemmParams {
  bool transA = false, transB = false;
  int64_t m = 0, n = 0, k = 0;
  T alpha = 1, beta = 0;
  const T* a = nullptr;
  int64_t lda = 0;
  const T* b = nullptr;
  int64_t ldb = 0;
  T* c = nullptr;
  int64_t ldc = 0;
};

// False when this build has no BLAS, or a size/leading dimension is malformed or beyond int.
bool gemm(const GemmParams<float>& p);
bool gemm(const GemmParams<double>& p);

}  // namespace parascan::cpu
