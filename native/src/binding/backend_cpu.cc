#include <string>

#include "backend.h"
#include "parascan/cpu.h"

namespace parascan::binding {

const char* const kBackendName = "cpu";

// cells_binding.cc: cellSequential / cellEvaluate / cellNewton / cellBackward (+ ...Async).
void addCellFunctions(Napi::Env env, Napi::Object exports);

SolveReport solve(const LinearRecurrenceParams<float>& p) { return cpu::solveLinearRecurrence(p); }
SolveReport solve(const LinearRecurrenceParams<double>& p) { return cpu::solveLinearRecurrence(p); }

Napi::Object info(Napi::Env env) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("backend", "cpu");
  o.Set("isa", cpu::activeIsa());
  const auto isas = cpu::availableIsas();
  Napi::Array list = Napi::Array::New(env, isas.size());
  for (size_t i = 0; i < isas.size(); ++i) list.Set(static_cast<uint32_t>(i), isas[i]);
  o.Set("availableIsas", list);
  o.Set("threads", cpu::threadCount());
  return o;
}

namespace {
// bandwidthProbe(kind, a, b, c, threads): 'copy' a = b, or 'triad' a = b + 3·c (c ignored for copy).
Napi::Value BandwidthProbe(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  auto fail = [&](const std::string& m) {
    Napi::TypeError::New(env, "bandwidthProbe: " + m).ThrowAsJavaScriptException();
    return env.Undefined();
  };
  if (info.Length() < 5 || !info[0].IsString() || !info[4].IsNumber())
    return fail("expected (kind: 'copy' | 'triad', a, b, c, threads)");
  const std::string kind = info[0].As<Napi::String>().Utf8Value();
  if (kind != "copy" && kind != "triad") return fail("argument `kind` must be 'copy' or 'triad'; got '" + kind + "'");
  const int threads = info[4].As<Napi::Number>().Int32Value();
  for (int i = 1; i <= 3; ++i)
    if (!info[i].IsTypedArray() || info[i].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
      return fail("arguments a, b, c must be Float32Arrays of one length");
  auto a = info[1].As<Napi::Float32Array>(), b = info[2].As<Napi::Float32Array>(), c = info[3].As<Napi::Float32Array>();
  if (a.ElementLength() != b.ElementLength() || a.ElementLength() != c.ElementLength())
    return fail("arguments a, b, c must be Float32Arrays of one length");
  const int64_t n = static_cast<int64_t>(a.ElementLength());
  if (kind == "copy")
    cpu::streamCopy<float>(a.Data(), b.Data(), n, threads);
  else
    cpu::streamTriad<float>(a.Data(), b.Data(), c.Data(), 3.0f, n, threads);
  return env.Undefined();
}
}  // namespace

void addExtras(Napi::Env env, Napi::Object exports) {
  addCellFunctions(env, exports);
  exports.Set("bandwidthProbe", Napi::Function::New(env, BandwidthProbe, "bandwidthProbe"));
  exports.Set("setThreads", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
    const Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsNumber()) {
      Napi::TypeError::New(env, "setThreads: argument `threads` must be a non-negative integer").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    const double n = info[0].As<Napi::Number>().DoubleValue();
    if (!(n >= 0 && n <= 4096) || n != static_cast<double>(static_cast<int>(n))) {
      Napi::RangeError::New(env, "setThreads: argument `threads` must be an integer in [0, 4096]").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    cpu::setThreads(static_cast<int>(n));
    return env.Undefined();
  }));
  exports.Set("setIsa", Napi::Function::New(env, [](const Napi::CallbackInfo& info) {
    const Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsString()) {
      Napi::TypeError::New(env, "setIsa: argument `isa` must be a string").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    const std::string isa = info[0].As<Napi::String>().Utf8Value();
    if (!cpu::setIsa(isa)) {
      std::string list;
      for (const auto& s : cpu::availableIsas()) list += (list.empty() ? "" : ", ") + s;
      Napi::Error::New(env, "setIsa: this CPU cannot run '" + isa + "'; available: " + list + ", auto").ThrowAsJavaScriptException();
    }
    return env.Undefined();
  }));
}

}  // namespace parascan::binding
