// CUDA backend of parascan: device query and the non-templated host helpers.
//
// The kernels (and the list of kernel versions) are in linear_recurrence.cuh; the templated host
// launchers in linear_recurrence_host.cuh; linear_recurrence_f32.cu / _f64.cu instantiate both for
// one element type each.
#include <cuda_runtime.h>

#include <cstdarg>
#include <cstdio>
#include <cstring>

#include "linear_recurrence_host.cuh"
#include "parascan/cuda.h"

namespace parascan::cuda {

namespace detail {

void setReport(SolveReport& report, Status status, const char* format, ...) {
  report.status = status;
  va_list arguments;
  va_start(arguments, format);
  vsnprintf(report.message, sizeof(report.message), format, arguments);
  va_end(arguments);
}

void formatBytes(int64_t bytes, char* text, size_t capacity) {
  static const char* const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024.0 && unit < 4) {
    value /= 1024.0;
    ++unit;
  }
  if (unit == 0 || value == static_cast<double>(static_cast<int64_t>(value))) {
    snprintf(text, capacity, "%lld %s", static_cast<long long>(value), units[unit]);
  } else {
    snprintf(text, capacity, "%.1f %s", value, units[unit]);
  }
}

bool checkCuda(cudaError_t error, SolveReport& report, const char* what) {
  if (error == cudaSuccess) return true;
  (void)cudaGetLastError();  // clear a non-sticky error so the next call starts clean
  setReport(report, Status::DeviceError, "%s failed: %s (%s)", what, cudaGetErrorString(error),
            cudaGetErrorName(error));
  return false;
}

bool checkAllocation(cudaError_t error, SolveReport& report, const char* call, int64_t bytes, const char* buffer) {
  if (error == cudaSuccess) return true;
  (void)cudaGetLastError();
  char size[32];
  formatBytes(bytes, size, sizeof(size));
  setReport(report, Status::DeviceError, "%s of %s for `%s` failed: %s", call, size, buffer,
            cudaGetErrorString(error));
  return false;
}

void describeMissingDevice(cudaError_t error, char* text, size_t capacity) {
  int driverVersion = 0;
  (void)cudaDriverGetVersion(&driverVersion);
  int runtimeVersion = 0;
  (void)cudaRuntimeGetVersion(&runtimeVersion);
  switch (error) {
    case cudaErrorInsufficientDriver:
      if (driverVersion == 0) {
        snprintf(text, capacity,
                 "no CUDA driver found (libcuda.so could not be loaded; install the NVIDIA driver to use the GPU)");
      } else {
        snprintf(text, capacity,
                 "the installed CUDA driver supports CUDA %d.%d but this build needs the CUDA %d.%d runtime; "
                 "update the NVIDIA driver",
                 driverVersion / 1000, (driverVersion % 1000) / 10, runtimeVersion / 1000,
                 (runtimeVersion % 1000) / 10);
      }
      break;
    case cudaErrorNoDevice:
      snprintf(text, capacity, "no CUDA device (the driver is installed but reports no GPU)");
      break;
    case cudaSuccess:
      snprintf(text, capacity, "no CUDA device");
      break;
    default:
      snprintf(text, capacity, "cudaGetDeviceCount failed: %s (%s)", cudaGetErrorString(error),
               cudaGetErrorName(error));
      break;
  }
}

bool requireDevice(SolveReport& report) {
  int count = 0;
  const cudaError_t error = cudaGetDeviceCount(&count);
  if (error == cudaSuccess && count > 0) return true;
  (void)cudaGetLastError();
  char reason[200];
  describeMissingDevice(error, reason, sizeof(reason));
  setReport(report, Status::DeviceError, "%s", reason);
  return false;
}

bool requireDevicePointer(const void* pointer, const char* name, SolveReport& report) {
  cudaPointerAttributes attributes{};
  const cudaError_t error = cudaPointerGetAttributes(&attributes, pointer);
  if (error != cudaSuccess) {
    (void)cudaGetLastError();
    setReport(report, Status::InvalidArgument, "`%s` is not a device pointer (cudaPointerGetAttributes: %s)", name,
              cudaGetErrorString(error));
    return false;
  }
  if (attributes.type == cudaMemoryTypeUnregistered) {
    setReport(report, Status::InvalidArgument,
              "`%s` points to ordinary host memory; solveLinearRecurrenceDevice needs device (or managed / "
              "registered) memory, use solveLinearRecurrenceHost for host arrays",
              name);
    return false;
  }
  return true;
}

const char* singlePassScheduleName(int k, bool staged) {
  static const char* const lanes[] = {"cuda-lookback-k1-lanes", "cuda-lookback-k2-lanes", "cuda-lookback-k3-lanes",
                                      "cuda-lookback-k4-lanes"};
  static const char* const stagedNames[] = {"cuda-lookback-k1-staged", "cuda-lookback-k2-staged",
                                            "cuda-lookback-k3-staged", "cuda-lookback-k4-staged"};
  if (k < 1 || k > 4) return "cuda-lookback";
  return staged ? stagedNames[k - 1] : lanes[k - 1];
}

}  // namespace detail

DeviceInfo queryDevices() {
  DeviceInfo info;
  (void)cudaRuntimeGetVersion(&info.runtimeVersion);
  (void)cudaDriverGetVersion(&info.driverVersion);
  int count = 0;
  const cudaError_t error = cudaGetDeviceCount(&count);
  if (error != cudaSuccess || count <= 0) {
    (void)cudaGetLastError();
    info.deviceCount = 0;
    detail::describeMissingDevice(error, info.error, sizeof(info.error));
    return info;
  }
  info.deviceCount = count;
  int device = 0;
  if (cudaGetDevice(&device) != cudaSuccess) {
    (void)cudaGetLastError();
    device = 0;
  }
  cudaDeviceProp properties{};
  const cudaError_t propertiesError = cudaGetDeviceProperties(&properties, device);
  if (propertiesError != cudaSuccess) {
    (void)cudaGetLastError();
    snprintf(info.error, sizeof(info.error), "cudaGetDeviceProperties(%d) failed: %s", device,
             cudaGetErrorString(propertiesError));
    return info;
  }
  snprintf(info.name, sizeof(info.name), "%s", properties.name);
  info.major = properties.major;
  info.minor = properties.minor;
  info.totalMemory = properties.totalGlobalMem;
  return info;
}

}  // namespace parascan::cuda
