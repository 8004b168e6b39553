#include <string>

#include "backend.h"
#include "parascan/cpu.h"

namespace parascan::binding {

const char* const kBackendName = "cpu";

template <typename T>
SolveReport cellSequential(const cells::CellParams<T>& p, T* out) { return cells::sequential(p, out); }
template <typename T>
SolveReport cellEvaluate(const cells::CellParams<T>& p, const T* states, T* out, T* jacobians) {
  return cells::evaluate(p, states, out, jacobians);
}
template <typename T>
cells::NewtonReport cellNewton(const cells::CellParams<T>& p, const cells::NewtonControls& c, T* out) {
  return cells::newton(p, c, out);
}
template <typename T>
SolveReport cellBackward(const cells::CellParams<T>& p, const T* states, T* lambda, T* dP, double* dA, double* dC, T* dh0) {
  return cells::backward(p, states, lambda, dP, dA, dC, dh0);
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
// gemm_binding.cc: gemm (present when built with BLAS).
void addGemmFunctions(Napi::Env env, Napi::Object exports);

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

namespace {
// projectInputs({ x, weight, bias, out, points, inputSize, stateSize, heads, gates }): all arrays of
// one float dtype, x [M, Din], weight [H, Din/H, G, D/H], bias [G, D], out [M, G, D].
template <typename T, typename Array>
Napi::Value ProjectTyped(const Napi::Env& env, const Napi::Object& req, const cpu::ProjectionParams<T>& shape, const char* dtype,
                         napi_typedarray_type arrayType) {
  auto fail = [&](const std::string& m) {
    Napi::TypeError::New(env, "projectInputs (native cpu): " + m).ThrowAsJavaScriptException();
    return env.Undefined();
  };
  const int64_t M = shape.points, Din = shape.inputSize, D = shape.stateSize, G = shape.gates;
  struct Want {
    const char* name;
    int64_t length;
  } wants[] = {{"x", M * Din}, {"weight", Din * G * D / shape.heads}, {"bias", G * D}, {"out", M * G * D}};
  T* ptr[4] = {nullptr, nullptr, nullptr, nullptr};
  for (int i = 0; i < 4; ++i) {
    const Napi::Value v = req.Get(wants[i].name);
    const std::string expected = std::string("a ") + dtype + " of length " + std::to_string(wants[i].length);
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != arrayType)
      return fail(std::string("argument `") + wants[i].name + "` must be " + expected);
    Array a = v.As<Array>();
    if (static_cast<int64_t>(a.ElementLength()) != wants[i].length)
      return fail(std::string("argument `") + wants[i].name + "` must be " + expected + "; got length " +
                  std::to_string(a.ElementLength()));
    ptr[i] = a.Data();
  }
  cpu::ProjectionParams<T> p = shape;
  p.x = ptr[0];
  p.weight = ptr[1];
  p.bias = ptr[2];
  p.out = ptr[3];
  if (!cpu::projectInputs(p)) return fail("the sizes are malformed (heads must divide inputSize and stateSize)");
  return env.Undefined();
}

Napi::Value ProjectInputs(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) {
    Napi::TypeError::New(env, "projectInputs (native cpu): expected one request object").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const Napi::Object req = info[0].As<Napi::Object>();
  int64_t sizes[5];
  const char* keys[5] = {"points", "inputSize", "stateSize", "heads", "gates"};
  for (int i = 0; i < 5; ++i) {
    const Napi::Value v = req.Get(keys[i]);
    const double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
    if (!(d >= 1 && d <= 9007199254740991.0) || d != static_cast<double>(static_cast<int64_t>(d))) {
      Napi::RangeError::New(env, std::string("projectInputs (native cpu): argument `") + keys[i] + "` must be a positive integer")
          .ThrowAsJavaScriptException();
      return env.Undefined();
    }
    sizes[i] = static_cast<int64_t>(d);
  }
  if (sizes[1] % sizes[3] != 0 || sizes[2] % sizes[3] != 0) {
    Napi::RangeError::New(env, "projectInputs (native cpu): argument `heads` must divide inputSize (" + std::to_string(sizes[1]) +
                                   ") and stateSize (" + std::to_string(sizes[2]) + "); got " + std::to_string(sizes[3]))
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const Napi::Value x = req.Get("x");
  const bool f64 = x.IsTypedArray() && x.As<Napi::TypedArray>().TypedArrayType() == napi_float64_array;
  if (f64) {
    cpu::ProjectionParams<double> s;
    s.points = sizes[0], s.inputSize = sizes[1], s.stateSize = sizes[2], s.heads = sizes[3], s.gates = sizes[4];
    return ProjectTyped<double, Napi::Float64Array>(env, req, s, "Float64Array", napi_float64_array);
  }
  cpu::ProjectionParams<float> s;
  s.points = sizes[0], s.inputSize = sizes[1], s.stateSize = sizes[2], s.heads = sizes[3], s.gates = sizes[4];
  return ProjectTyped<float, Napi::Float32Array>(env, req, s, "Float32Array", napi_float32_array);
}
}  // namespace

void addExtras(Napi::Env env, Napi::Object exports) {
  addCellFunctions(env, exports);
  addGemmFunctions(env, exports);
  if (cpu::haveBlas()) exports.Set("projectInputs", Napi::Function::New(env, ProjectInputs, "projectInputs"));
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
