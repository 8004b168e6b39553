// What the binding needs from a backend. addon.cc is compiled once per addon file and linked
// with backend_cpu.cc (parascan.node) or backend_cuda.cc (parascan_cuda.node).
#pragma once

#include <napi.h>

#include "parascan/linear_recurrence.h"

namespace parascan::binding {

extern const char* const kBackendName;  // "cpu" | "cuda"

SolveReport solve(const LinearRecurrenceParams<float>& p);
SolveReport solve(const LinearRecurrenceParams<double>& p);

// info() of the surface (NativeCpuInfo / NativeCudaInfo in packages/native/src/surface.ts).
Napi::Object info(Napi::Env env);

// Backend-specific extras (setThreads, setIsa).
void addExtras(Napi::Env env, Napi::Object exports);

}  // namespace parascan::binding
