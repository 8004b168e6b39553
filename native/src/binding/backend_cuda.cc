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

void addExtras(Napi::Env, Napi::Object) {}

}  // namespace parascan::binding
