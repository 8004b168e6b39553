#include "backend.h"
#include "parascan/cuda.h"

namespace parascan::binding {

const char* const kBackendName = "cuda";

SolveReport solve(const LinearRecurrenceParams<float>& p) { return cuda::solveLinearRecurrenceHost(p); }
SolveReport solve(const LinearRecurrenceParams<double>& p) { return cuda::solveLinearRecurrenceHost(p); }

Napi::Object info(Napi::Env env) {
  const cuda::DeviceInfo d = cuda::queryDevices();
  Napi::Object o = Napi::Object::New(env);
  o.Set("backend", "cuda");
  o.Set("deviceCount", d.deviceCount);
  o.Set("error", d.deviceCount > 0 ? env.Null() : Napi::String::New(env, d.error));
  o.Set("deviceName", d.deviceCount > 0 ? Napi::String::New(env, d.name) : env.Null());
  o.Set("computeCapability",
        d.deviceCount > 0 ? Napi::String::New(env, std::to_string(d.major) + "." + std::to_string(d.minor)) : env.Null());
  o.Set("runtimeVersion", d.runtimeVersion);
  o.Set("driverVersion", d.driverVersion);
  return o;
}

// The cell kernels (cells_binding.cc, compiled into this addon with PARASCAN_CELLS_BACKEND_CUDA):
// host arrays, staged through device buffers. The input projection stays with the caller (on the
// host, BLAS in the CPU addon); a device error becomes a DEVICE_ERROR JS error naming the call.
template <typename T>
SolveReport cellSequential(const cells::CellParams<T>& p, T* out) { return cuda::cellSequentialHost(p, out); }
template <typename T>
SolveReport cellEvaluate(const cells::CellParams<T>& p, const T* states, T* out, T* jacobians) {
  return cuda::cellEvaluateHost(p, states, out, jacobians);
}
template <typename T>
cells::NewtonReport cellNewton(const cells::CellParams<T>& p, const cells::NewtonControls& c, T* out) {
  return cuda::cellNewtonHost(p, c, out);
}
template <typename T>
SolveReport cellBackward(const cells::CellParams<T>& p, const T* states, T* lambda, T* dP, double* dA, double* dC, T* dh0) {
  return cuda::cellBackwardHost(p, states, lambda, dP, dA, dC, dh0);
}
template SolveReport cellSequential<float>(const cells::CellParams<float>&, float*);
template SolveReport cellSequential<double>(const cells::CellParams<double>&, double*);
template SolveReport cellEvaluate<float>(const cells::CellParams<float>&, const float*, float*, float*);
template SolveReport cellEvaluate<double>(const cells::CellParams<double>&, const double*, double*, double*);
template cells::NewtonReport cellNewton<float>(const cells::CellParams<float>&, const cells::NewtonControls&, float*);
template cells::NewtonReport cellNewton<double>(const cells::CellParams<double>&, const cells::NewtonControls&, double*);
template SolveReport cellBackward<float>(const cells::CellParams<float>&, const float*, float*, float*, double*, double*, float*);
template SolveReport cellBackward<double>(const cells::CellParams<double>&, const double*, double*, double*, double*, double*,
                                          double*);

void addExtras(Napi::Env env, Napi::Object exports) { addCellFunctions(env, exports); }

}  // namespace parascan::binding
