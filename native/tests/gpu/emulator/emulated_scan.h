// Runs the linear-recurrence kernels of native/src/cuda/linear_recurrence.cuh through the CPU
// emulation (emulated_device.h), with the plans and arguments the CUDA launcher uses. Shared by the
// emulated checks of the solver (emulated_check.cpp) and of the cells (emulated_cells.cpp).
// Include emulated_device.h first.
#pragma once

#include <cstring>
#include <vector>

#include "linear_recurrence.cuh"

namespace parascan::emulation {

namespace kernels = ::parascan::cuda::kernels;
namespace device = ::parascan::cuda::device;

// Blocks in flight at once: enough that the decoupled look-back really waits on running blocks.
constexpr int kConcurrentBlocks = 3;

// Zeroed, 16-byte aligned host memory standing in for device memory.
struct Scratch {
  explicit Scratch(int64_t bytes) : storage(static_cast<size_t>(bytes / 16 + 1)) {}
  unsigned char* bytes() { return reinterpret_cast<unsigned char*>(storage.data()); }
  struct alignas(16) Chunk {
    unsigned char bytes[16] = {0};
  };
  std::vector<Chunk> storage;
};

// One launch of the single-pass kernel over `scratch` (plan.scratchBytes); clears the counter and
// flags first, like enqueueSinglePass. Returns the status word.
template <typename T, int K>
int32_t emulateSinglePass(const ::parascan::LinearRecurrenceParams<T>& p, const kernels::SinglePassPlan& plan,
                          unsigned char* scratch) {
  constexpr int C = kernels::singlePassStepsPerThread<T, K>();
  std::memset(scratch, 0, static_cast<size_t>(plan.zeroBytes));
  const kernels::SinglePassArgs<T> args = kernels::singlePassArgs(p, plan, scratch);
  if (plan.staged) {
    device::emulateLaunch(kernels::linearRecurrenceSinglePassKernel<T, K, C, true>, args, plan.tiles,
                          kernels::kBlockThreads, static_cast<size_t>(plan.sharedBytes), kConcurrentBlocks);
  } else {
    device::emulateLaunch(kernels::linearRecurrenceSinglePassKernel<T, K, C, false>, args, plan.tiles,
                          kernels::kBlockThreads, static_cast<size_t>(plan.sharedBytes), kConcurrentBlocks);
  }
  return args.control[1];
}

template <typename T, int K>
int32_t runSinglePass(const ::parascan::LinearRecurrenceParams<T>& p) {
  const kernels::SinglePassPlan plan = kernels::planSinglePass<T, K>(p.batch, p.length, p.lanes);
  Scratch scratch(plan.scratchBytes);
  return emulateSinglePass<T, K>(p, plan, scratch.bytes());
}

}  // namespace parascan::emulation
