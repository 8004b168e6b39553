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

#include "cells.h"
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

// ---- ParaGRU / ParaLSTM on the GPU (cells.h semantics, same arguments as the CPU kernels) --------
//
// The projection P = x·B + b is computed by the caller (on the host, BLAS) and passed in, as for
// the CPU kernels. Every formula is evaluated in double on the device (cells_kernels.cuh), so
// results agree with the CPU kernels up to libm rounding. `threads` in CellParams is ignored.
// report.schedule: "cuda-cells-sequential", "cuda-cells-evaluate", "cuda-cells-fused" (the Newton
// loop on the device, one host sync per iteration for the convergence test),
// "cuda-cells-fused-fallback" (it diverged and ran the sequential kernel), "cuda-cells-backward".
// Backward: dP in the cell dtype (like the CPU kernels), dA and dC in double, summed without
// atomics in a fixed order: deterministic.
//
// HOST pointers (staged through device buffers on the calling thread's per-thread stream):
SolveReport cellSequentialHost(const cells::CellParams<float>& p, float* out);
SolveReport cellSequentialHost(const cells::CellParams<double>& p, double* out);
SolveReport cellEvaluateHost(const cells::CellParams<float>& p, const float* states, float* out, float* jacobians);
SolveReport cellEvaluateHost(const cells::CellParams<double>& p, const double* states, double* out, double* jacobians);
cells::NewtonReport cellNewtonHost(const cells::CellParams<float>& p, const cells::NewtonControls& c, float* out);
cells::NewtonReport cellNewtonHost(const cells::CellParams<double>& p, const cells::NewtonControls& c, double* out);
SolveReport cellBackwardHost(const cells::CellParams<float>& p, const float* states, float* lambda, float* dP,
                             double* dA, double* dC, float* dh0);
SolveReport cellBackwardHost(const cells::CellParams<double>& p, const double* states, double* lambda, double* dP,
                             double* dA, double* dC, double* dh0);

// DEVICE pointers (every array of `p` and the outputs), enqueued on `cudaStream` (a cudaStream_t);
// they return when the results are on the device.
SolveReport cellSequentialDevice(const cells::CellParams<float>& p, float* out, void* cudaStream);
SolveReport cellSequentialDevice(const cells::CellParams<double>& p, double* out, void* cudaStream);
cells::NewtonReport cellNewtonDevice(const cells::CellParams<float>& p, const cells::NewtonControls& c, float* out,
                                     void* cudaStream);
cells::NewtonReport cellNewtonDevice(const cells::CellParams<double>& p, const cells::NewtonControls& c, double* out,
                                     void* cudaStream);
SolveReport cellBackwardDevice(const cells::CellParams<float>& p, const float* states, float* lambda, float* dP,
                               double* dA, double* dC, float* dh0, void* cudaStream);
SolveReport cellBackwardDevice(const cells::CellParams<double>& p, const double* states, double* lambda, double* dP,
                               double* dA, double* dC, double* dh0, void* cudaStream);

}  // namespace parascan::cuda
