// Host side of the CUDA cell kernels (cells_kernels.cuh): the CUDA platform of cells_executor.h
// (stream-ordered buffers, launches, copies, the look-back scan), the device-pointer entry points,
// and the host-pointer ones that stage arrays in and out. Templated on the element type;
// cells_f32.cu / cells_f64.cu instantiate it. Every CUDA call is checked; nothing throws.
//
// Per Newton iteration, on one stream: evaluate (residual, Jacobians and per-block max-norms in
// one pass), a one-block max reduction, ONE 24-byte read-back and sync (the convergence test),
// then the look-back scan and the update, enqueued without waiting. The scan's status word is read
// back with the next residual, so there is exactly one host sync per iteration. Scratch comes from
// the stream-ordered pool (cudaMallocAsync) and is allocated once per call, not per iteration.
#pragma once

#include <cuda_runtime.h>

#include <deque>

#include "cells_executor.h"
#include "linear_recurrence_host.cuh"
#include "parascan/cells.h"
#include "parascan/cuda.h"

namespace parascan::cuda::detail {

namespace ck = ::parascan::cuda::cellkernels;
using ::parascan::cells::CellKind;
using ::parascan::cells::CellParams;

// cells_executor.h's platform on a CUDA stream.
struct CudaPlatform {
  cudaStream_t stream = nullptr;
  int64_t maxBlocks = 1;  // grid-stride kernels: a few waves, 8 blocks of 256 threads per SM
  int threads = ck::kDefaultThreads;
  int64_t cotangentMinRows = 256, cotangentMaxTiles = 1024;

  bool prepare(cudaStream_t s, SolveReport& report) {
    stream = s;
    int device = 0, sms = 0;
    if (!checkCuda(cudaGetDevice(&device), report, "cudaGetDevice") ||
        !checkCuda(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device), report,
                   "cudaDeviceGetAttribute(MultiProcessorCount)"))
      return false;
    maxBlocks = int64_t(sms > 0 ? sms : 1) * 8;
    return true;
  }

  struct Buffer {
    explicit Buffer(CudaPlatform& platform) : scratch(platform.stream) {}
    bool allocate(int64_t bytes, const char* name, SolveReport& report) { return scratch.allocate(bytes, name, report); }
    unsigned char* bytes() const { return scratch.bytes(); }
    StreamScratch scratch;
  };

  template <typename Kernel, typename Args>
  bool launch(Kernel kernel, int64_t blocks, int threadCount, int64_t sharedBytes, const Args& args, const char* name,
              SolveReport& report) {
    if (blocks > INT32_MAX) {
      setReport(report, Status::InvalidArgument, "problem too large for one launch of %s (%lld blocks)", name,
                static_cast<long long>(blocks));
      return false;
    }
    kernel<<<static_cast<unsigned>(blocks), threadCount, static_cast<size_t>(sharedBytes), stream>>>(args);
    char what[96];
    snprintf(what, sizeof(what), "launch of %s", name);
    return checkCuda(cudaGetLastError(), report, what);
  }

  bool zero(void* device, int64_t bytes, SolveReport& report) {
    return checkCuda(cudaMemsetAsync(device, 0, static_cast<size_t>(bytes), stream), report, "cudaMemsetAsync");
  }

  bool read(void* host, const void* device, int64_t bytes, const char* what, SolveReport& report) {
    char text[96];
    snprintf(text, sizeof(text), "cudaMemcpyAsync of %s", what);
    return checkCuda(cudaMemcpyAsync(host, device, static_cast<size_t>(bytes), cudaMemcpyDeviceToHost, stream), report, text);
  }

  // A kernel fault surfaces here as the (sticky) error of the sync.
  bool sync(const char* what, SolveReport& report) {
    char text[96];
    snprintf(text, sizeof(text), "%s (cudaStreamSynchronize)", what);
    return checkCuda(cudaStreamSynchronize(stream), report, text);
  }

  template <typename T, int K>
  bool enqueueScan(const LinearRecurrenceParams<T>& p, const kernels::SinglePassPlan& plan, unsigned char* scratch,
                   SolveReport& report) {
    return enqueueSinglePass<T, K>(p, plan, scratch, stream, report);
  }

  template <typename T, int K>
  SolveReport solveScan(const LinearRecurrenceParams<T>& p) {
    return runSinglePass<T, K>(p, stream);
  }
};

// ---- device-pointer entry points --------------------------------------------------------------------

template <typename T>
bool cellPointersOnDevice(const CellParams<T>& p, SolveReport& report) {
  return requireDevicePointer(p.projection, "projection", report) && requireDevicePointer(p.A, "A", report) &&
         (p.kind != CellKind::LSTM || requireDevicePointer(p.C, "C", report)) &&
         (p.initial == nullptr || requireDevicePointer(p.initial, "initial", report));
}

template <typename T>
cells::NewtonReport newtonOnDevice(const CellParams<T>& p, const cells::NewtonControls& c, T* out, cudaStream_t stream) {
  cells::NewtonReport rep;
  CudaPlatform platform;
  if (!platform.prepare(stream, rep.solve)) return rep;
  return ck::cellNewton(platform, p, c, out);
}

template <typename T>
SolveReport backwardOnDevice(const CellParams<T>& p, const T* states, T* lambda, T* dP, double* dA, double* dC, T* dh0,
                             cudaStream_t stream) {
  SolveReport report;
  CudaPlatform platform;
  if (!platform.prepare(stream, report)) return report;
  return ck::cellBackward(platform, p, states, lambda, dP, dA, dC, dh0);
}

template <typename T>
SolveReport sequentialOnDevice(const CellParams<T>& p, T* out, cudaStream_t stream) {
  SolveReport report;
  CudaPlatform platform;
  if (!platform.prepare(stream, report)) return report;
  return ck::cellSequential(platform, p, out);
}

template <typename T>
SolveReport evaluateOnDevice(const CellParams<T>& p, const T* states, T* out, T* jacobians, cudaStream_t stream) {
  SolveReport report;
  CudaPlatform platform;
  if (!platform.prepare(stream, report)) return report;
  return ck::cellEvaluate(platform, p, states, out, jacobians);
}

template <typename T>
cells::NewtonReport cellNewtonDevice(const CellParams<T>& p, const cells::NewtonControls& c, T* out, cudaStream_t stream) {
  cells::NewtonReport rep;
  if (!ck::checkCellParams(p, rep.solve) || !ck::checkNewtonControls<T>(c, rep.solve)) return rep;
  if (out == nullptr) {
    setReport(rep.solve, Status::InvalidArgument, "cells (cuda): out must not be null");
    return rep;
  }
  if (!requireDevice(rep.solve) || !cellPointersOnDevice(p, rep.solve) || !requireDevicePointer(out, "out", rep.solve))
    return rep;
  return newtonOnDevice(p, c, out, stream);
}

template <typename T>
SolveReport cellSequentialDevice(const CellParams<T>& p, T* out, cudaStream_t stream) {
  SolveReport report;
  if (!ck::checkCellParams(p, report)) return report;
  if (out == nullptr) {
    setReport(report, Status::InvalidArgument, "cells (cuda): out must not be null");
    return report;
  }
  if (!requireDevice(report) || !cellPointersOnDevice(p, report) || !requireDevicePointer(out, "out", report)) return report;
  return sequentialOnDevice(p, out, stream);
}

template <typename T>
SolveReport cellBackwardDevice(const CellParams<T>& p, const T* states, T* lambda, T* dP, double* dA, double* dC, T* dh0,
                               cudaStream_t stream) {
  SolveReport report;
  if (!ck::checkCellParams(p, report)) return report;
  if (!states || !lambda || !dP || !dA || !dh0 || (p.kind == CellKind::LSTM && !dC)) {
    setReport(report, Status::InvalidArgument, "cells (cuda): backward buffers must not be null");
    return report;
  }
  if (!requireDevice(report) || !cellPointersOnDevice(p, report) || !requireDevicePointer(states, "states", report) ||
      !requireDevicePointer(lambda, "lambda", report) || !requireDevicePointer(dP, "dP", report) ||
      !requireDevicePointer(dA, "dA", report) || !requireDevicePointer(dh0, "dh0", report) ||
      (p.kind == CellKind::LSTM && !requireDevicePointer(dC, "dC", report)))
    return report;
  return backwardOnDevice(p, states, lambda, dP, dA, dC, dh0, stream);
}

// ---- host-pointer entry points: stage in, run on the per-thread stream, stage out ---------------

// Device copies of a call's host arrays; uploads inputs, downloads outputs, frees on scope exit.
class Staging {
 public:
  explicit Staging(SolveReport& report) : report_(report) {}
  // Allocates a device array of `bytes` for `host` (null stays null); copies it in when `upload`.
  template <typename E>
  bool add(const E* host, int64_t count, const char* name, bool upload, E*& device) {
    device = nullptr;
    if (host == nullptr) return true;
    buffers_.emplace_back();
    const int64_t bytes = count * int64_t(sizeof(E));
    if (!buffers_.back().allocate(bytes, name, report_)) return false;
    device = static_cast<E*>(buffers_.back().get());
    if (!upload) return true;
    return copy(device, host, bytes, cudaMemcpyHostToDevice, name);
  }
  template <typename E>
  bool download(E* host, const E* device, int64_t count, const char* name) {
    if (host == nullptr) return true;
    return copy(host, device, count * int64_t(sizeof(E)), cudaMemcpyDeviceToHost, name);
  }
  bool finish() {
    return checkCuda(cudaStreamSynchronize(cudaStreamPerThread), report_, "cudaStreamSynchronize after copying the outputs back");
  }

 private:
  bool copy(void* target, const void* source, int64_t bytes, cudaMemcpyKind kind, const char* name) {
    char size[32], what[96];
    formatBytes(bytes, size, sizeof(size));
    snprintf(what, sizeof(what), "cudaMemcpyAsync of %s for `%s`", size, name);
    return checkCuda(cudaMemcpyAsync(target, source, static_cast<size_t>(bytes), kind, cudaStreamPerThread), report_, what);
  }
  SolveReport& report_;
  std::deque<DeviceBuffer> buffers_;  // a deque: DeviceBuffer cannot move
};

template <typename T>
int64_t cellStateCount(const CellParams<T>& p) {
  return p.batch * p.length * cells::blocksOf(p.kind) * p.size;
}

// Stages the parameters every call reads; `onDevice` gets the device pointers.
template <typename T>
bool stageInputs(Staging& staging, const CellParams<T>& p, CellParams<T>& onDevice) {
  onDevice = p;
  T *projection = nullptr, *A = nullptr, *C = nullptr, *initial = nullptr;
  const int64_t S = cells::blocksOf(p.kind) * p.size;
  if (!staging.add(p.projection, p.batch * p.length * 3 * p.size, "projection", true, projection) ||
      !staging.add(p.A, 3 * p.size, "A", true, A) ||
      !staging.add(p.kind == CellKind::LSTM ? p.C : static_cast<const T*>(nullptr), 2 * p.size, "C", true, C) ||
      !staging.add(p.initial, p.batch * S, "initial", true, initial))
    return false;
  onDevice.projection = projection;
  onDevice.A = A;
  onDevice.C = C;
  onDevice.initial = initial;
  return true;
}

template <typename T>
cells::NewtonReport cellNewtonHost(const CellParams<T>& p, const cells::NewtonControls& c, T* out) {
  cells::NewtonReport rep;
  if (!ck::checkCellParams(p, rep.solve) || !ck::checkNewtonControls<T>(c, rep.solve)) return rep;
  if (out == nullptr) {
    setReport(rep.solve, Status::InvalidArgument, "cells (cuda): out must not be null");
    return rep;
  }
  if (!requireDevice(rep.solve)) return rep;
  Staging staging(rep.solve);
  CellParams<T> d;
  T* h = nullptr;
  const int64_t n = cellStateCount(p);
  if (!stageInputs(staging, p, d) || !staging.add(static_cast<const T*>(out), n, "out", false, h)) return rep;
  rep = newtonOnDevice(d, c, h, cudaStreamPerThread);
  if (rep.solve.status != Status::Ok && rep.solve.status != Status::NonFinite) return rep;
  SolveReport copyReport = rep.solve;
  Staging back(copyReport);
  if (!back.download(out, h, n, "out") || !back.finish()) rep.solve = copyReport;
  return rep;
}

template <typename T>
SolveReport cellSequentialHost(const CellParams<T>& p, T* out) {
  SolveReport report;
  if (!ck::checkCellParams(p, report)) return report;
  if (out == nullptr) {
    setReport(report, Status::InvalidArgument, "cells (cuda): out must not be null");
    return report;
  }
  if (!requireDevice(report)) return report;
  Staging staging(report);
  CellParams<T> d;
  T* h = nullptr;
  const int64_t n = cellStateCount(p);
  if (!stageInputs(staging, p, d) || !staging.add(static_cast<const T*>(out), n, "out", false, h)) return report;
  report = sequentialOnDevice(d, h, cudaStreamPerThread);
  if (report.status != Status::Ok && report.status != Status::NonFinite) return report;
  SolveReport copyReport = report;
  Staging back(copyReport);
  if (!back.download(out, h, n, "out") || !back.finish()) return copyReport;
  return report;
}

template <typename T>
SolveReport cellEvaluateHost(const CellParams<T>& p, const T* states, T* out, T* jacobians) {
  SolveReport report;
  if (!ck::checkCellParams(p, report)) return report;
  if (states == nullptr || (out == nullptr && jacobians == nullptr)) {
    setReport(report, Status::InvalidArgument, "cells (cuda): states must not be null, and out or jacobians must be given");
    return report;
  }
  if (!requireDevice(report)) return report;
  Staging staging(report);
  CellParams<T> d;
  T *s = nullptr, *o = nullptr, *j = nullptr;
  const int64_t n = cellStateCount(p), k = cells::blocksOf(p.kind);
  if (!stageInputs(staging, p, d) || !staging.add(states, n, "states", true, s) ||
      !staging.add(static_cast<const T*>(out), n, "out", false, o) ||
      !staging.add(static_cast<const T*>(jacobians), n * k, "jacobians", false, j))
    return report;
  report = evaluateOnDevice(d, s, o, j, cudaStreamPerThread);
  if (report.status != Status::Ok) return report;
  if (!staging.download(out, o, n, "out") || !staging.download(jacobians, j, n * k, "jacobians") || !staging.finish())
    return report;
  return report;
}

template <typename T>
SolveReport cellBackwardHost(const CellParams<T>& p, const T* states, T* lambda, T* dP, double* dA, double* dC, T* dh0) {
  SolveReport report;
  if (!ck::checkCellParams(p, report)) return report;
  if (!states || !lambda || !dP || !dA || !dh0 || (p.kind == CellKind::LSTM && !dC)) {
    setReport(report, Status::InvalidArgument, "cells (cuda): backward buffers must not be null");
    return report;
  }
  if (!requireDevice(report)) return report;
  Staging staging(report);
  CellParams<T> d;
  const int64_t n = cellStateCount(p), D = p.size, S = cells::blocksOf(p.kind) * D;
  const bool lstm = p.kind == CellKind::LSTM;
  T *s = nullptr, *l = nullptr, *h0 = nullptr;
  T* gP = nullptr;
  double *gA = nullptr, *gC = nullptr;
  if (!stageInputs(staging, p, d) || !staging.add(states, n, "states", true, s) ||
      !staging.add(static_cast<const T*>(lambda), n, "lambda", true, l) ||
      !staging.add(static_cast<const T*>(dP), p.batch * p.length * 3 * D, "dP", false, gP) ||
      !staging.add(static_cast<const double*>(dA), 3 * D, "dA", false, gA) ||
      !staging.add(static_cast<const double*>(lstm ? dC : nullptr), 2 * D, "dC", false, gC) ||
      !staging.add(static_cast<const T*>(dh0), p.batch * S, "dh0", false, h0))
    return report;
  report = backwardOnDevice(d, s, l, gP, gA, gC, h0, cudaStreamPerThread);
  if (report.status != Status::Ok) return report;
  if (!staging.download(lambda, static_cast<const T*>(l), n, "lambda") ||
      !staging.download(dP, static_cast<const T*>(gP), p.batch * p.length * 3 * D, "dP") ||
      !staging.download(dA, static_cast<const double*>(gA), 3 * D, "dA") ||
      !staging.download(lstm ? dC : nullptr, static_cast<const double*>(gC), 2 * D, "dC") ||
      !staging.download(dh0, static_cast<const T*>(h0), p.batch * S, "dh0") || !staging.finish())
    return report;
  return report;
}

}  // namespace parascan::cuda::detail

// The public entry points of cuda.h for one element type (cells_f32.cu, cells_f64.cu).
#define PARASCAN_CUDA_CELLS_ENTRY_POINTS(T)                                                                          \
  namespace parascan::cuda {                                                                                       \
  SolveReport cellSequentialHost(const cells::CellParams<T>& p, T* out) { return detail::cellSequentialHost(p, out); } \
  SolveReport cellEvaluateHost(const cells::CellParams<T>& p, const T* states, T* out, T* jacobians) {              \
    return detail::cellEvaluateHost(p, states, out, jacobians);                                                    \
  }                                                                                                                \
  cells::NewtonReport cellNewtonHost(const cells::CellParams<T>& p, const cells::NewtonControls& c, T* out) {       \
    return detail::cellNewtonHost(p, c, out);                                                                      \
  }                                                                                                                \
  SolveReport cellBackwardHost(const cells::CellParams<T>& p, const T* states, T* lambda, T* dP, double* dA,   \
                               double* dC, T* dh0) {                                                               \
    return detail::cellBackwardHost(p, states, lambda, dP, dA, dC, dh0);                                           \
  }                                                                                                                \
  SolveReport cellSequentialDevice(const cells::CellParams<T>& p, T* out, void* cudaStream) {                       \
    return detail::cellSequentialDevice(p, out, static_cast<cudaStream_t>(cudaStream));                            \
  }                                                                                                                \
  cells::NewtonReport cellNewtonDevice(const cells::CellParams<T>& p, const cells::NewtonControls& c, T* out,      \
                                       void* cudaStream) {                                                         \
    return detail::cellNewtonDevice(p, c, out, static_cast<cudaStream_t>(cudaStream));                             \
  }                                                                                                                \
  SolveReport cellBackwardDevice(const cells::CellParams<T>& p, const T* states, T* lambda, T* dP, double* dA, \
                                 double* dC, T* dh0, void* cudaStream) {                                           \
    return detail::cellBackwardDevice(p, states, lambda, dP, dA, dC, dh0, static_cast<cudaStream_t>(cudaStream));  \
  }                                                                                                                \
  }
