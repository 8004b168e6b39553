// The function table through which the CPU driver reaches the kernels of one instruction set.
#pragma once

#include <cstdint>

#include "parascan/linear_recurrence.h"

namespace parascan::cpu {

// A run of time steps [t0, t1) of one batch entry. Forward runs t0 -> t1-1, reverse t1-1 -> t0.
struct ChunkSpan {
  int64_t t0;
  int64_t t1;
};

// How many chunks one tile runs in lockstep (independent chains for the out-of-order core).
inline constexpr int kMaxInterleave = 8;

template <typename T>
struct KernelTable {
  bool (*solveTile)(const LinearRecurrenceParams<T>& p, int64_t b, int64_t n0, int64_t n1, const ChunkSpan* chunks, int g,
                    T* const* carries, T* tmp);
  bool (*aggregateTile)(const LinearRecurrenceParams<T>& p, int64_t b, int64_t n0, int64_t n1, const ChunkSpan* chunks,
                        int g, T* const* A, T* const* e);
};

struct IsaKernels {
  const char* name;
  KernelTable<float> f32;
  KernelTable<double> f64;
};

// Defined by kernels_baseline.cc, kernels_avx2.cc, kernels_avx512.cc.
extern const IsaKernels kBaselineKernels;
extern const IsaKernels kAvx2Kernels;
extern const IsaKernels kAvx512Kernels;

}  // namespace parascan::cpu
