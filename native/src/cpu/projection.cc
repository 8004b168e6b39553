// Input projections through OpenBLAS. One GEMM per (head, gate): the output block of a gate is a
// strided column block of P ([M, G, D] row-major, leading dimension G·D), so every call writes
// its Dh columns in place, with the bias pre-filled and beta = 1. No copies of x or P.
//
// Threads: OpenBLAS has its own pool. It runs before or after our solver's parallel regions,
// never inside one, and is capped at our pool's size so the two never oversubscribe the cores.
#include <algorithm>
#include <cstring>

#include "parascan/cpu.h"

#if defined(PARASCAN_HAVE_BLAS)
#include <cblas.h>

namespace parascan::cpu {

namespace {

void matmul(const float* a, int lda, const float* b, int ldb, float* c, int ldc, int m, int n, int k) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, a, lda, b, ldb, 1.0f, c, ldc);
}
void matmul(const double* a, int lda, const double* b, int ldb, double* c, int ldc, int m, int n, int k) {
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0, a, lda, b, ldb, 1.0, c, ldc);
}

template <typename T>
bool project(const ProjectionParams<T>& p) {
  const int64_t M = p.points, Din = p.inputSize, D = p.stateSize, H = p.heads, G = p.gates;
  if (M < 1 || Din < 1 || D < 1 || H < 1 || G < 1 || Din % H != 0 || D % H != 0) return false;
  if (!p.x || !p.weight || !p.bias || !p.out) return false;
  // cblas takes int sizes: split the rows so no call exceeds them.
  const int64_t maxRows = int64_t{1} << 30;
  if (Din > maxRows || G * D > maxRows) return false;
  const int64_t Di = Din / H, Dh = D / H;
  openblas_set_num_threads(std::max(1, threadCount()));
  for (int64_t m = 0; m < M; ++m) std::memcpy(p.out + m * G * D, p.bias, sizeof(T) * static_cast<size_t>(G * D));
  for (int64_t m0 = 0; m0 < M; m0 += maxRows) {
    const int rows = static_cast<int>(std::min(maxRows, M - m0));
    if (H == 1) {  // one head: W is [Din, G·D], one GEMM for every gate
      matmul(p.x + m0 * Din, static_cast<int>(Din), p.weight, static_cast<int>(G * D), p.out + m0 * G * D, static_cast<int>(G * D), rows,
             static_cast<int>(G * D), static_cast<int>(Din));
      continue;
    }
    for (int64_t h = 0; h < H; ++h)
      for (int64_t g = 0; g < G; ++g)
        matmul(p.x + m0 * Din + h * Di, static_cast<int>(Din),         // x[m, h·Di + i]
               p.weight + h * Di * G * Dh + g * Dh, static_cast<int>(G * Dh),  // W[h, i, g, j]
               p.out + m0 * G * D + g * D + h * Dh, static_cast<int>(G * D),   // P[m, g, h·Dh + j]
               rows, static_cast<int>(Dh), static_cast<int>(Di));
  }
  return true;
}

}  // namespace

bool projectInputs(const ProjectionParams<float>& p) { return project(p); }
bool projectInputs(const ProjectionParams<double>& p) { return project(p); }
bool haveBlas() { return true; }

}  // namespace parascan::cpu

#else  // no BLAS in this build: the callers fall back to their own loops

namespace parascan::cpu {
bool projectInputs(const ProjectionParams<float>&) { return false; }
bool projectInputs(const ProjectionParams<double>&) { return false; }
bool haveBlas() { return false; }
}  // namespace parascan::cpu

#endif
