// What the binding needs from a backend. addon.cc is compiled once per addon file and linked
// with backend_cpu.cc (parascan.node) or backend_cuda.cc (parascan_cuda.node).
#pragma once

#include <napi.h>

#include "parascan/cells.h"
#include "parascan/linear_recurrence.h"

namespace parascan::binding {

extern const char* const kBackendName;  // "cpu" | "cuda"

SolveReport solve(const LinearRecurrenceParams<float>& p);
SolveReport solve(const LinearRecurrenceParams<double>& p);

// info() of the surface (NativeCpuInfo / NativeCudaInfo in packages/native/src/surface.ts).
Napi::Object info(Napi::Env env);

// Backend-specific extras (setThreads, setIsa).
void addExtras(Napi::Env env, Napi::Object exports);

// The cell kernels of the backend, with cells.h's semantics (instantiated for float and double):
// backend_cpu.cc forwards to parascan::cells, backend_cuda.cc to parascan::cuda's host entry points.
// cells_binding.cc calls these, so both addons share one argument parser and one JS surface.
template <typename T>
SolveReport cellSequential(const cells::CellParams<T>& p, T* out);
template <typename T>
SolveReport cellEvaluate(const cells::CellParams<T>& p, const T* states, T* out, T* jacobians);
template <typename T>
cells::NewtonReport cellNewton(const cells::CellParams<T>& p, const cells::NewtonControls& c, T* out);
template <typename T>
SolveReport cellBackward(const cells::CellParams<T>& p, const T* states, T* lambda, T* dP, double* dA, double* dC, T* dh0);

// cells_binding.cc: cellSequential / cellEvaluate / cellNewton / cellBackward (+ ...Async).
void addCellFunctions(Napi::Env env, Napi::Object exports);

}  // namespace parascan::binding
