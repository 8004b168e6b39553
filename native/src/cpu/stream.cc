// STREAM-style copy and triad on the same thread pool as the solver, so benchmarks can put a
// solve's bandwidth next to what this machine's memory system delivers in the same run.
#include <algorithm>
#include <cstring>

#include "parascan/cpu.h"
#include "thread_pool.h"

namespace parascan::cpu {

namespace {
// Large slices (whole pages) per task: the probe measures memory, not scheduling.
constexpr int64_t kSlice = int64_t{1} << 16;
}

template <typename T>
void streamCopy(T* dst, const T* src, int64_t n, int threads) {
  const int64_t tasks = (n + kSlice - 1) / kSlice;
  ThreadPool::instance().parallelFor(tasks, threads, [&](int64_t i) {
    const int64_t lo = i * kSlice, hi = std::min(n, lo + kSlice);
    std::memcpy(dst + lo, src + lo, sizeof(T) * static_cast<size_t>(hi - lo));
  });
}

template <typename T>
void streamTriad(T* a, const T* b, const T* c, T scalar, int64_t n, int threads) {
  const int64_t tasks = (n + kSlice - 1) / kSlice;
  ThreadPool::instance().parallelFor(tasks, threads, [&](int64_t i) {
    const int64_t lo = i * kSlice, hi = std::min(n, lo + kSlice);
    T* __restrict pa = a;
    const T* __restrict pb = b;
    const T* __restrict pc = c;
    for (int64_t j = lo; j < hi; ++j) pa[j] = pb[j] + scalar * pc[j];
  });
}

template void streamCopy<float>(float*, const float*, int64_t, int);
template void streamCopy<double>(double*, const double*, int64_t, int);
template void streamTriad<float>(float*, const float*, const float*, float, int64_t, int);
template void streamTriad<double>(double*, const double*, const double*, double, int64_t, int);

}  // namespace parascan::cpu
