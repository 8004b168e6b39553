// Host API of the CUDA backend (native/src/cuda/). Plain C++: no CUDA type appears here, so the
// binding and any C++ code can include it without the CUDA toolkit; only linking needs the
// `parascan_cuda_kernels` library (which brings the static CUDA runtime with it).
//
// Nothing here throws or aborts. Errors come back as SolveReport::status / message:
//   InvalidArgument  malformed parameters (sizes < 1, null pointers, host pointers given to the
//                    device entry point, a problem too large for one launch)
//   DeviceError      no driver / no device, an allocation, copy or launch that failed; the message
//                    names the call, the buffer and the size ("cudaMalloc of 512 MiB for
//                    `jacobians` failed: out of memory")
//   NonFinite        the solve ran and a NaN or Inf appeared in the output (the output is written)
//
// report.schedule names the kernel that ran (static string):
//   "cuda-lookback-k<k>-lanes"    k = 1..4, N >= 32: single pass, lane-major tiles
//   "cuda-lookback-k<k>-staged"   k = 1..4, N <  32: single pass, tiles staged through shared memory
//   "cuda-sequential-generic"     any other k (dense Jacobians): one block per (batch, lane group),
//                                 sequential over time (slow: about 1 µs per time step)
#pragma once

#include <cstddef>

#include "linear_recurrence.h"

namespace parascan::cuda {

struct DeviceInfo {
  int deviceCount = 0;     // 0 when there is no driver or no device (see `error`)
  char error[256] = {0};   // why deviceCount is 0, or why the query failed; empty otherwise
  char name[256] = {0};    // the current device (device 0 unless the caller switched)
  int major = 0, minor = 0;
  size_t totalMemory = 0;  // bytes
  int runtimeVersion = 0;  // e.g. 13000 for CUDA 13.0 (the runtime linked in)
  int driverVersion = 0;   // the newest CUDA version the installed driver supports, 0 without one
};

// Never throws, never aborts; safe to call on machines without a driver or GPU.
DeviceInfo queryDevices();

// HOST pointers: allocates device buffers, copies in, solves, copies out, frees. Runs on the
// calling thread's per-thread default stream and returns when the output is back on the host.
// In-place (out == rhs) is supported. On NonFinite the output is still copied back.
SolveReport solveLinearRecurrenceHost(const LinearRecurrenceParams<float>& params);
SolveReport solveLinearRecurrenceHost(const LinearRecurrenceParams<double>& params);

// DEVICE pointers, enqueued on the caller's stream (`cudaStream` is a cudaStream_t; nullptr = the
// legacy default stream). The only device memory it allocates is a small look-back scratch
// (stream-ordered, cudaMallocAsync). It synchronizes the stream before returning, because the
// report carries the non-finite status read back from the device.
SolveReport solveLinearRecurrenceDevice(const LinearRecurrenceParams<float>& params, void* cudaStream);
SolveReport solveLinearRecurrenceDevice(const LinearRecurrenceParams<double>& params, void* cudaStream);

}  // namespace parascan::cuda
