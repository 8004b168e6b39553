// Host side of the CUDA linear-recurrence solver: validation, buffers, launches and error reports.
// Templated on the element type; linear_recurrence_f32.cu / _f64.cu instantiate it (one file per
// dtype, so the two sets of kernels compile in parallel). Every CUDA call is checked and turned
// into a SolveReport message; nothing throws.
#pragma once

#include <cuda_runtime.h>

#include <climits>
#include <cstdio>
#include <cstdint>

#include "linear_recurrence.cuh"
#include "parascan/cuda.h"

namespace parascan::cuda::detail {

// ---- reporting helpers (linear_recurrence.cu) ---------------------------------------------------

void setReport(SolveReport& report, Status status, const char* format, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

// "512 MiB", "1.5 KiB", "12 B"
void formatBytes(int64_t bytes, char* text, size_t capacity);

// Sets DeviceError "<what> failed: <cuda error string>" and returns false when `error` is not
// cudaSuccess; clears the (non-sticky) error state.
bool checkCuda(cudaError_t error, SolveReport& report, const char* what);

// Same, for allocations: "<call> of <size> for `<buffer>` failed: <cuda error string>".
bool checkAllocation(cudaError_t error, SolveReport& report, const char* call, int64_t bytes, const char* buffer);

// A readable reason why there is no usable device ("no CUDA driver found (libcuda.so) ...").
void describeMissingDevice(cudaError_t error, char* text, size_t capacity);

// True when the current device has at least one device; otherwise a DeviceError report.
bool requireDevice(SolveReport& report);

// InvalidArgument unless `pointer` can be dereferenced by the device (device, managed, or
// registered host memory).
bool requireDevicePointer(const void* pointer, const char* name, SolveReport& report);

const char* singlePassScheduleName(int k, bool staged);

// ---- validation -----------------------------------------------------------------------------------

inline bool multiplyChecked(int64_t a, int64_t b, int64_t& result) {
  return !__builtin_mul_overflow(a, b, &result);
}

template <typename T>
struct ProblemSizes {
  int64_t jacobianElements = 0, rhsElements = 0, initialElements = 0;
  int64_t jacobianBytes = 0, rhsBytes = 0, initialBytes = 0;
};

template <typename T>
bool validateParams(const LinearRecurrenceParams<T>& p, ProblemSizes<T>& sizes, SolveReport& report) {
  if (p.batch < 1 || p.length < 1 || p.blockSize < 1 || p.lanes < 1) {
    setReport(report, Status::InvalidArgument,
              "batch, length, blockSize and lanes must all be >= 1 (got B=%lld, T=%lld, k=%lld, N=%lld)",
              static_cast<long long>(p.batch), static_cast<long long>(p.length),
              static_cast<long long>(p.blockSize), static_cast<long long>(p.lanes));
    return false;
  }
  if (p.direction != Direction::Forward && p.direction != Direction::Reverse) {
    setReport(report, Status::InvalidArgument, "direction must be Forward (0) or Reverse (1), got %d",
              static_cast<int>(p.direction));
    return false;
  }
  const char* missing = p.jacobians == nullptr ? "jacobians" : p.rhs == nullptr ? "rhs" : p.out == nullptr ? "out" : nullptr;
  if (missing != nullptr) {
    setReport(report, Status::InvalidArgument, "`%s` is null", missing);
    return false;
  }
  int64_t bt = 0, kk = 0, btk = 0;
  const bool fits = multiplyChecked(p.batch, p.length, bt) && multiplyChecked(p.blockSize, p.blockSize, kk) &&
                    multiplyChecked(bt, p.blockSize, btk) && multiplyChecked(btk, p.lanes, sizes.rhsElements) &&
                    multiplyChecked(bt, kk, sizes.jacobianElements) &&
                    multiplyChecked(sizes.jacobianElements, p.lanes, sizes.jacobianElements) &&
                    multiplyChecked(sizes.jacobianElements, int64_t(sizeof(T)), sizes.jacobianBytes) &&
                    multiplyChecked(sizes.rhsElements, int64_t(sizeof(T)), sizes.rhsBytes) &&
                    multiplyChecked(p.batch * p.blockSize, p.lanes, sizes.initialElements) &&
                    multiplyChecked(sizes.initialElements, int64_t(sizeof(T)), sizes.initialBytes) &&
                    sizes.jacobianBytes < (int64_t(1) << 60);
  if (!fits) {
    setReport(report, Status::InvalidArgument, "problem size overflows (B=%lld, T=%lld, k=%lld, N=%lld)",
              static_cast<long long>(p.batch), static_cast<long long>(p.length),
              static_cast<long long>(p.blockSize), static_cast<long long>(p.lanes));
    return false;
  }
  return true;
}

// ---- stream-ordered scratch ---------------------------------------------------------------------

// Scratch from the stream-ordered pool (cheap when a Newton loop calls the solver repeatedly),
// falling back to cudaMalloc where memory pools are not supported. Freed when it goes out of scope
// (enqueued on the stream, so it is safe while kernels that use it are still queued).
class StreamScratch {
 public:
  explicit StreamScratch(cudaStream_t stream) : stream_(stream) {}
  StreamScratch(const StreamScratch&) = delete;
  StreamScratch& operator=(const StreamScratch&) = delete;
  ~StreamScratch() { release(); }

  bool allocate(int64_t bytes, const char* name, SolveReport& report) {
    cudaError_t error = cudaMallocAsync(&pointer_, static_cast<size_t>(bytes), stream_);
    if (error == cudaErrorNotSupported) {
      (void)cudaGetLastError();
      pooled_ = false;
      error = cudaMalloc(&pointer_, static_cast<size_t>(bytes));
      return checkAllocation(error, report, "cudaMalloc", bytes, name);
    }
    return checkAllocation(error, report, "cudaMallocAsync", bytes, name);
  }

  // Frees now (for the error-checked path); returns the error of the free.
  cudaError_t release() {
    if (pointer_ == nullptr) return cudaSuccess;
    const cudaError_t error = pooled_ ? cudaFreeAsync(pointer_, stream_) : cudaFree(pointer_);
    pointer_ = nullptr;
    return error;
  }

  unsigned char* bytes() const { return static_cast<unsigned char*>(pointer_); }

 private:
  cudaStream_t stream_;
  void* pointer_ = nullptr;
  bool pooled_ = true;
};

// Reads the device status word back, frees the scratch and synchronizes; turns the status bits and
// any asynchronous error (e.g. a kernel fault) into the report.
inline SolveReport finishSolve(SolveReport report, cudaStream_t stream, const int32_t* deviceStatus,
                               StreamScratch& scratch) {
  int32_t status = 0;
  if (!checkCuda(cudaMemcpyAsync(&status, deviceStatus, sizeof(status), cudaMemcpyDeviceToHost, stream), report,
                 "cudaMemcpyAsync of the solver status")) {
    (void)scratch.release();
    (void)cudaStreamSynchronize(stream);
    return report;
  }
  const cudaError_t freeError = scratch.release();
  if (!checkCuda(cudaStreamSynchronize(stream), report, "the linear-recurrence kernel (cudaStreamSynchronize)")) return report;
  if (!checkCuda(freeError, report, "cudaFreeAsync of the solver scratch")) return report;
  if ((status & kernels::kStatusLookBackTimeout) != 0) {
    setReport(report, Status::DeviceError,
              "internal error: the decoupled look-back of %s timed out waiting for a predecessor tile",
              report.schedule);
  } else if ((status & kernels::kStatusNonFinite) != 0) {
    setReport(report, Status::NonFinite, "a NaN or Inf appeared in the output (%s)", report.schedule);
  }
  return report;
}

// ---- launchers ------------------------------------------------------------------------------------

inline bool singlePassFits(const kernels::SinglePassPlan& plan, SolveReport& report) {
  if (plan.tiles <= INT32_MAX) return true;
  setReport(report, Status::InvalidArgument, "problem too large for one launch of %s (%lld tiles)", report.schedule,
            static_cast<long long>(plan.tiles));
  return false;
}

// One launch of the single-pass kernel over caller-owned scratch (plan.scratchBytes; it may be
// reused by launches of the same plan on the same stream): clears the tile counter and flags,
// launches, and returns without waiting. The kernel's status bits end up in
// reinterpret_cast<int32_t*>(scratch)[1]. The cells' Newton loop calls this once per iteration and
// reads the status back with its residual, so an iteration costs one host sync, not two.
template <typename T, int K>
bool enqueueSinglePass(const LinearRecurrenceParams<T>& p, const kernels::SinglePassPlan& plan, unsigned char* scratch,
                       cudaStream_t stream, SolveReport& report) {
  constexpr int C = kernels::singlePassStepsPerThread<T, K>();
  report.schedule = singlePassScheduleName(K, plan.staged);
  if (!singlePassFits(plan, report)) return false;
  if (!checkCuda(cudaMemsetAsync(scratch, 0, static_cast<size_t>(plan.zeroBytes), stream), report,
                 "cudaMemsetAsync of the look-back flags"))
    return false;
  const kernels::SinglePassArgs<T> args = kernels::singlePassArgs(p, plan, scratch);
  const auto kernel = plan.staged ? kernels::linearRecurrenceSinglePassKernel<T, K, C, true>
                                  : kernels::linearRecurrenceSinglePassKernel<T, K, C, false>;
  if (plan.sharedBytes > 48 * 1024 &&
      !checkCuda(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                      static_cast<int>(plan.sharedBytes)),
                 report, "cudaFuncSetAttribute(MaxDynamicSharedMemorySize) for the single-pass kernel"))
    return false;
  kernel<<<static_cast<unsigned>(plan.tiles), kernels::kBlockThreads, static_cast<size_t>(plan.sharedBytes), stream>>>(
      args);
  return checkCuda(cudaGetLastError(), report, "launch of linearRecurrenceSinglePassKernel");
}

template <typename T, int K>
SolveReport runSinglePass(const LinearRecurrenceParams<T>& p, cudaStream_t stream) {
  SolveReport report;
  const kernels::SinglePassPlan plan = kernels::planSinglePass<T, K>(p.batch, p.length, p.lanes);
  report.schedule = singlePassScheduleName(K, plan.staged);
  if (!singlePassFits(plan, report)) return report;
  StreamScratch scratch(stream);
  if (!scratch.allocate(plan.scratchBytes, "look-back scratch", report)) return report;
  if (!enqueueSinglePass<T, K>(p, plan, scratch.bytes(), stream, report)) return report;
  return finishSolve(report, stream, reinterpret_cast<const int32_t*>(scratch.bytes()) + 1, scratch);
}

template <typename T>
SolveReport runSequential(const LinearRecurrenceParams<T>& p, cudaStream_t stream) {
  SolveReport report;
  report.schedule = "cuda-sequential-generic";
  const kernels::SequentialPlan plan = kernels::planSequential<T>(p.batch, p.blockSize, p.lanes);
  if (plan.blocks > INT32_MAX) {
    setReport(report, Status::InvalidArgument, "problem too large for one launch of %s (%lld blocks)",
              report.schedule, static_cast<long long>(plan.blocks));
    return report;
  }
  const auto kernel = kernels::linearRecurrenceSequentialKernel<T>;
  if (plan.sharedBytes > 48 * 1024) {
    int device = 0, limit = 0;
    if (!checkCuda(cudaGetDevice(&device), report, "cudaGetDevice")) return report;
    if (!checkCuda(cudaDeviceGetAttribute(&limit, cudaDevAttrMaxSharedMemoryPerBlockOptin, device), report,
                   "cudaDeviceGetAttribute(MaxSharedMemoryPerBlockOptin)"))
      return report;
    if (plan.sharedBytes > limit) {
      char need[32], have[32];
      formatBytes(plan.sharedBytes, need, sizeof(need));
      formatBytes(limit, have, sizeof(have));
      setReport(report, Status::DeviceError,
                "blockSize k=%lld is too large for the CUDA backend: its state needs %s of shared memory per "
                "block, this GPU allows %s",
                static_cast<long long>(p.blockSize), need, have);
      return report;
    }
    if (!checkCuda(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                        static_cast<int>(plan.sharedBytes)),
                   report, "cudaFuncSetAttribute(MaxDynamicSharedMemorySize) for the sequential kernel"))
      return report;
  }
  StreamScratch scratch(stream);
  if (!scratch.allocate(256, "solver status word", report)) return report;
  if (!checkCuda(cudaMemsetAsync(scratch.bytes(), 0, 256, stream), report, "cudaMemsetAsync of the status word"))
    return report;

  const kernels::SequentialArgs<T> args = kernels::sequentialArgs(p, plan, scratch.bytes());
  kernel<<<static_cast<unsigned>(plan.blocks), plan.threads, static_cast<size_t>(plan.sharedBytes), stream>>>(args);
  if (!checkCuda(cudaGetLastError(), report, "launch of linearRecurrenceSequentialKernel")) return report;
  return finishSolve(report, stream, args.control + 1, scratch);
}

template <typename T>
SolveReport solveOnDevice(const LinearRecurrenceParams<T>& p, cudaStream_t stream) {
  switch (p.blockSize) {
    case 1: return runSinglePass<T, 1>(p, stream);
    case 2: return runSinglePass<T, 2>(p, stream);
    case 3: return runSinglePass<T, 3>(p, stream);
    case 4: return runSinglePass<T, 4>(p, stream);
    default: return runSequential<T>(p, stream);
  }
}

template <typename T>
SolveReport solveDevicePointers(const LinearRecurrenceParams<T>& p, void* cudaStream) {
  SolveReport report;
  ProblemSizes<T> sizes;
  if (!validateParams(p, sizes, report)) return report;
  if (!requireDevice(report)) return report;
  if (!requireDevicePointer(p.jacobians, "jacobians", report) || !requireDevicePointer(p.rhs, "rhs", report) ||
      !requireDevicePointer(p.out, "out", report) ||
      (p.initial != nullptr && !requireDevicePointer(p.initial, "initial", report)))
    return report;
  return solveOnDevice(p, static_cast<cudaStream_t>(cudaStream));
}

// Device memory that frees itself.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() {
    if (pointer_ != nullptr) (void)cudaFree(pointer_);
  }
  bool allocate(int64_t bytes, const char* name, SolveReport& report) {
    return checkAllocation(cudaMalloc(&pointer_, static_cast<size_t>(bytes)), report, "cudaMalloc", bytes, name);
  }
  void* get() const { return pointer_; }

 private:
  void* pointer_ = nullptr;
};

template <typename T>
SolveReport solveHostPointers(const LinearRecurrenceParams<T>& p) {
  SolveReport report;
  ProblemSizes<T> sizes;
  if (!validateParams(p, sizes, report)) return report;
  if (!requireDevice(report)) return report;
  const cudaStream_t stream = cudaStreamPerThread;
  const bool inPlace = static_cast<const void*>(p.out) == static_cast<const void*>(p.rhs);

  DeviceBuffer jacobians, rhs, initial, out;
  if (!jacobians.allocate(sizes.jacobianBytes, "jacobians", report)) return report;
  if (!rhs.allocate(sizes.rhsBytes, "rhs", report)) return report;
  if (p.initial != nullptr && !initial.allocate(sizes.initialBytes, "initial", report)) return report;
  if (!inPlace && !out.allocate(sizes.rhsBytes, "out", report)) return report;

  char size[32];
  auto copy = [&](void* target, const void* source, int64_t bytes, cudaMemcpyKind kind, const char* name) {
    formatBytes(bytes, size, sizeof(size));
    char what[96];
    snprintf(what, sizeof(what), "cudaMemcpyAsync of %s for `%s`", size, name);
    return checkCuda(cudaMemcpyAsync(target, source, static_cast<size_t>(bytes), kind, stream), report, what);
  };
  if (!copy(jacobians.get(), p.jacobians, sizes.jacobianBytes, cudaMemcpyHostToDevice, "jacobians")) return report;
  if (!copy(rhs.get(), p.rhs, sizes.rhsBytes, cudaMemcpyHostToDevice, "rhs")) return report;
  if (p.initial != nullptr &&
      !copy(initial.get(), p.initial, sizes.initialBytes, cudaMemcpyHostToDevice, "initial"))
    return report;

  LinearRecurrenceParams<T> onDevice = p;
  onDevice.jacobians = static_cast<const T*>(jacobians.get());
  onDevice.rhs = static_cast<const T*>(rhs.get());
  onDevice.initial = p.initial != nullptr ? static_cast<const T*>(initial.get()) : nullptr;
  onDevice.out = static_cast<T*>(inPlace ? rhs.get() : out.get());
  report = solveOnDevice(onDevice, stream);
  if (report.status != Status::Ok && report.status != Status::NonFinite) return report;

  SolveReport copyReport = report;
  if (!copy(p.out, onDevice.out, sizes.rhsBytes, cudaMemcpyDeviceToHost, "out")) return report;
  if (!checkCuda(cudaStreamSynchronize(stream), copyReport, "cudaStreamSynchronize after copying `out` back"))
    return copyReport;
  return report;
}

}  // namespace parascan::cuda::detail
