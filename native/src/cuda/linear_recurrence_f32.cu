// The float instantiation of the CUDA linear-recurrence solver (kernels k = 1..4 and generic).
// One translation unit per element type keeps each nvcc invocation small and lets them build in
// parallel.
#include "linear_recurrence_host.cuh"

namespace parascan::cuda {

SolveReport solveLinearRecurrenceHost(const LinearRecurrenceParams<float>& params) {
  return detail::solveHostPointers(params);
}

SolveReport solveLinearRecurrenceDevice(const LinearRecurrenceParams<float>& params, void* cudaStream) {
  return detail::solveDevicePointers(params, cudaStream);
}

}  // namespace parascan::cuda
