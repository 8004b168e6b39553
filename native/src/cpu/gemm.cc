// General row-major matrix product through OpenBLAS (the library the input projections use, see
// projection.cc): C = alpha·op(A)·op(B) + beta·C. The layers of @parascan/nn run every matrix
// product through this one function.
//
// Threads: OpenBLAS keeps its own pool. parascan's pool is idle (blocked on a condition variable)
// whenever a GEMM runs, because our parallel regions and these calls come one after the other from
// the same JS thread; so OpenBLAS is given our pool's size (setThreads applies to both) and the two
// pools never run at once. OpenBLAS itself stays single-threaded on products too small to split.
#include <algorithm>
#include <climits>

#include "parascan/cpu.h"

#if defined(PARASCAN_HAVE_BLAS)
#include <cblas.h>
#endif

namespace parascan::cpu {

namespace {

template <typename T>
bool validGemm(const GemmParams<T>& p) {
  const int64_t maxInt = INT_MAX;
  if (p.m < 1 || p.n < 1 || p.k < 1 || p.m > maxInt || p.n > maxInt || p.k > maxInt) return false;
  if (!p.a || !p.b || !p.c) return false;
  const int64_t aCols = p.transA ? p.m : p.k, bCols = p.transB ? p.k : p.n;
  return p.lda >= aCols && p.ldb >= bCols && p.ldc >= p.n && p.lda <= maxInt && p.ldb <= maxInt && p.ldc <= maxInt;
}

#if defined(PARASCAN_HAVE_BLAS)
void blasGemm(const GemmParams<float>& p) {
  cblas_sgemm(CblasRowMajor, p.transA ? CblasTrans : CblasNoTrans, p.transB ? CblasTrans : CblasNoTrans, static_cast<int>(p.m),
              static_cast<int>(p.n), static_cast<int>(p.k), p.alpha, p.a, static_cast<int>(p.lda), p.b, static_cast<int>(p.ldb), p.beta,
              p.c, static_cast<int>(p.ldc));
}
void blasGemm(const GemmParams<double>& p) {
  cblas_dgemm(CblasRowMajor, p.transA ? CblasTrans : CblasNoTrans, p.transB ? CblasTrans : CblasNoTrans, static_cast<int>(p.m),
              static_cast<int>(p.n), static_cast<int>(p.k), p.alpha, p.a, static_cast<int>(p.lda), p.b, static_cast<int>(p.ldb), p.beta,
              p.c, static_cast<int>(p.ldc));
}
#endif

template <typename T>
bool run(const GemmParams<T>& p) {
  if (!validGemm(p)) return false;
#if defined(PARASCAN_HAVE_BLAS)
  openblas_set_num_threads(std::max(1, threadCount()));
  blasGemm(p);
  return true;
#else
  return false;
#endif
}

}  // namespace

bool gemm(const GemmParams<float>& p) { return run(p); }
bool gemm(const GemmParams<double>& p) { return run(p); }

}  // namespace parascan::cpu
