// The Node binding of the native surface (packages/native/src/surface.ts): converts JS values to
// the kernels' plain parameter structs and back. It knows nothing of the maths; the kernels know
// nothing of Node. Friendly validation happens in TypeScript first; the checks here are the
// last line of defence, so a bad call throws instead of crashing the process.
//
// Async calls follow the baton pattern (promise_worker.h): everything the worker thread needs is
// copied into a plain C++ struct, and the JS arrays it points into are held by persistent
// references until the promise settles, so the garbage collector cannot free them mid-solve.
#include <napi.h>

#include <cmath>
#include <cstdio>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "backend.h"
#include "promise_worker.h"
#include "parascan/linear_recurrence.h"

namespace parascan::binding {
namespace {

constexpr int kAbiVersion = 2;  // NATIVE_ABI_VERSION in surface.ts
const char* const kOp = "solveLinearRecurrence";

enum class Dtype { Float32, Float64 };

// Everything a solve needs, independent of Node: the baton.
struct SolveBaton {
  Dtype dtype = Dtype::Float32;
  LinearRecurrenceParams<float> f32;
  LinearRecurrenceParams<double> f64;
  SolveReport report;
};

struct ArgError {
  bool range = false;  // RangeError vs TypeError
  std::string message;
};

std::string argMessage(const std::string& arg, const std::string& expected, const std::string& got) {
  return std::string(kOp) + " (native " + kBackendName + "): argument `" + arg + "` must be " + expected + "; got " + got + ".";
}

std::string describe(const Napi::Value& v) {
  if (v.IsUndefined()) return "undefined";
  if (v.IsNull()) return "null";
  if (v.IsTypedArray()) {
    const auto t = v.As<Napi::TypedArray>();
    const char* names[] = {"Int8Array",  "Uint8Array",   "Uint8ClampedArray", "Int16Array",    "Uint16Array", "Int32Array",
                           "Uint32Array", "Float32Array", "Float64Array",      "BigInt64Array", "BigUint64Array"};
    const int type = static_cast<int>(t.TypedArrayType());
    const char* name = (type >= 0 && type < 11) ? names[type] : "TypedArray";
    return std::string("a ") + name + " of length " + std::to_string(t.ElementLength());
  }
  if (v.IsArray()) return "a plain Array";
  if (v.IsNumber()) {
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%.17g", v.As<Napi::Number>().DoubleValue());
    return buf;
  }
  if (v.IsString()) return "a string";
  if (v.IsBoolean()) return "a boolean";
  return "an object";
}

bool readSize(const Napi::Object& req, const char* key, int64_t& out, ArgError& err, bool optional = false) {
  const Napi::Value v = req.Get(key);
  if (optional && v.IsUndefined()) {
    out = 0;
    return true;
  }
  if (!v.IsNumber()) {
    err = {false, argMessage(key, "a positive integer", describe(v))};
    return false;
  }
  const double d = v.As<Napi::Number>().DoubleValue();
  const double lo = optional ? 0 : 1;
  if (!(d >= lo) || d > 9007199254740991.0 || std::floor(d) != d) {
    err = {true, argMessage(key, optional ? "a non-negative integer" : "a positive integer", describe(v))};
    return false;
  }
  out = static_cast<int64_t>(d);
  return true;
}

// Checks one array argument: dtype, exact element count, attached buffer; returns its data.
template <typename T>
bool readArray(const Napi::Object& req, const char* key, Dtype dtype, int64_t expectedLength, bool optional, T*& data,
               ArgError& err) {
  const Napi::Value v = req.Get(key);
  if (optional && (v.IsUndefined() || v.IsNull())) {
    data = nullptr;
    return true;
  }
  const char* want = dtype == Dtype::Float32 ? "Float32Array" : "Float64Array";
  const napi_typedarray_type wantType = dtype == Dtype::Float32 ? napi_float32_array : napi_float64_array;
  const std::string expected = std::string("a ") + want + " of length " + std::to_string(expectedLength) +
                               " (all arrays of one call share a dtype)";
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != wantType) {
    err = {false, argMessage(key, expected, describe(v))};
    return false;
  }
  // The raw call gives the element pointer for ArrayBuffer- and SharedArrayBuffer-backed views.
  napi_typedarray_type type;
  size_t length = 0, byteOffset = 0;
  void* ptr = nullptr;
  napi_value bufferValue = nullptr;
  if (napi_get_typedarray_info(req.Env(), v, &type, &length, &ptr, &bufferValue, &byteOffset) != napi_ok) {
    err = {false, argMessage(key, expected, "a typed array N-API could not read")};
    return false;
  }
  bool detached = false;
  if (length == 0 && bufferValue != nullptr) {
    bool isArrayBuffer = false;
    napi_is_arraybuffer(req.Env(), bufferValue, &isArrayBuffer);
    if (isArrayBuffer) napi_is_detached_arraybuffer(req.Env(), bufferValue, &detached);
  }
  if (detached) {
    err = {false, argMessage(key, expected, "an array whose ArrayBuffer is detached (transferred or freed)")};
    return false;
  }
  if (static_cast<int64_t>(length) != expectedLength || ptr == nullptr) {
    err = {true, argMessage(key, expected, describe(v))};
    return false;
  }
  data = static_cast<T*>(ptr);
  return true;
}

bool checkedMul(int64_t a, int64_t b, int64_t& out) {
  if (a != 0 && b > std::numeric_limits<int64_t>::max() / a) return false;
  out = a * b;
  return true;
}

template <typename T>
bool fillParams(const Napi::Object& req, Dtype dtype, LinearRecurrenceParams<T>& p, ArgError& err) {
  int64_t threads = 0, schedule = 0, chunkLength = 0;
  if (!readSize(req, "batch", p.batch, err) || !readSize(req, "length", p.length, err) ||
      !readSize(req, "blockSize", p.blockSize, err) || !readSize(req, "lanes", p.lanes, err) ||
      !readSize(req, "threads", threads, err, true) || !readSize(req, "schedule", schedule, err, true) ||
      !readSize(req, "chunkLength", chunkLength, err, true))
    return false;
  if (schedule > 3) {
    err = {true, argMessage("schedule", "0 (auto), 1 (sequential), 2 (lanes) or 3 (chunked)", std::to_string(schedule))};
    return false;
  }
  p.threads = static_cast<int32_t>(std::min<int64_t>(threads, 4096));
  p.schedule = static_cast<int32_t>(schedule);
  p.chunkLength = chunkLength;
  const Napi::Value reverse = req.Get("reverse");
  if (!reverse.IsBoolean()) {
    err = {false, argMessage("reverse", "a boolean", describe(reverse))};
    return false;
  }
  p.direction = reverse.As<Napi::Boolean>().Value() ? Direction::Reverse : Direction::Forward;
  int64_t bt, d, jacLen, rhsLen, initLen;
  if (!checkedMul(p.batch, p.length, bt) || !checkedMul(p.blockSize, p.lanes, d) || !checkedMul(bt, d, rhsLen) ||
      !checkedMul(rhsLen, p.blockSize, jacLen) || !checkedMul(p.batch, d, initLen) || jacLen > (int64_t{1} << 53)) {
    err = {true, std::string(kOp) + ": the sizes B*T*k*k*N overflow"};
    return false;
  }
  const T* jac = nullptr;
  const T* rhs = nullptr;
  const T* init = nullptr;
  T* out = nullptr;
  if (!readArray(req, "jacobians", dtype, jacLen, false, jac, err) || !readArray(req, "rhs", dtype, rhsLen, false, rhs, err) ||
      !readArray(req, "initial", dtype, initLen, true, init, err) || !readArray(req, "out", dtype, rhsLen, false, out, err))
    return false;
  // out may be rhs itself (in place), nothing else may overlap it.
  auto overlaps = [&](const T* a, int64_t na) {
    return a && out != a && !(out + rhsLen <= a || a + na <= out);
  };
  if (overlaps(jac, jacLen) || overlaps(init, initLen) || (out != rhs && overlaps(rhs, rhsLen))) {
    err = {true, argMessage("out", "a buffer that does not overlap the inputs (or exactly `rhs`, to solve in place)",
                            "a view overlapping an input")};
    return false;
  }
  p.jacobians = jac;
  p.rhs = rhs;
  p.initial = init;
  p.out = out;
  return true;
}

// Parses a request into a baton; on failure throws the JS error and returns false.
bool parseRequest(const Napi::CallbackInfo& info, SolveBaton& baton) {
  const Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) {
    Napi::TypeError::New(env, std::string(kOp) + ": expected one request object").ThrowAsJavaScriptException();
    return false;
  }
  const Napi::Object req = info[0].As<Napi::Object>();
  const Napi::Value rhs = req.Get("rhs");
  ArgError err;
  bool ok = false;
  if (rhs.IsTypedArray() && rhs.As<Napi::TypedArray>().TypedArrayType() == napi_float64_array) {
    baton.dtype = Dtype::Float64;
    ok = fillParams(req, Dtype::Float64, baton.f64, err);
  } else if (rhs.IsTypedArray() && rhs.As<Napi::TypedArray>().TypedArrayType() == napi_float32_array) {
    baton.dtype = Dtype::Float32;
    ok = fillParams(req, Dtype::Float32, baton.f32, err);
  } else {
    err = {false, argMessage("rhs", "a Float32Array or Float64Array", describe(rhs))};
  }
  if (!ok) {
    if (err.range)
      Napi::RangeError::New(env, err.message).ThrowAsJavaScriptException();
    else
      Napi::TypeError::New(env, err.message).ThrowAsJavaScriptException();
  }
  return ok;
}

void runBaton(SolveBaton& baton) {
  baton.report = baton.dtype == Dtype::Float32 ? solve(baton.f32) : solve(baton.f64);
}

// Ok/NonFinite become a result object; the other statuses an Error with the kernel's message.
Napi::Value resultOrError(Napi::Env env, const SolveBaton& baton, Napi::Error* error) {
  const SolveReport& r = baton.report;
  if (r.status == Status::Ok || r.status == Status::NonFinite) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("status", r.status == Status::Ok ? "ok" : "non-finite");
    o.Set("schedule", r.schedule ? r.schedule : "");
    return o;
  }
  const std::string prefix = r.status == Status::DeviceError ? "DEVICE_ERROR: " : "INVALID_ARGUMENT: ";
  *error = Napi::Error::New(env, prefix + r.message);
  return env.Undefined();
}

Napi::Value SolveSync(const Napi::CallbackInfo& info) {
  SolveBaton baton;
  if (!parseRequest(info, baton)) return info.Env().Undefined();
  runBaton(baton);
  Napi::Error error;
  Napi::Value result = resultOrError(info.Env(), baton, &error);
  if (!error.IsEmpty()) error.ThrowAsJavaScriptException();
  return result;
}

Napi::Value SolveAsync(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  auto baton = std::make_unique<SolveBaton>();
  if (!parseRequest(info, *baton)) return rejectWithPendingException(env);
  using Worker = PromiseWorker<SolveBaton, runBaton, resultOrError>;
  return (new Worker(env, "parascan:solveLinearRecurrence", info[0].As<Napi::Object>(), {"jacobians", "rhs", "initial", "out"},
                     std::move(baton)))
      ->queue();
}

Napi::Value Info(const Napi::CallbackInfo& info) { return binding::info(info.Env()); }

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("backend", kBackendName);
  exports.Set("abiVersion", kAbiVersion);
  exports.Set("version", PARASCAN_VERSION);
  exports.Set("info", Napi::Function::New(env, Info, "info"));
  exports.Set("solveLinearRecurrence", Napi::Function::New(env, SolveSync, "solveLinearRecurrence"));
  exports.Set("solveLinearRecurrenceAsync", Napi::Function::New(env, SolveAsync, "solveLinearRecurrenceAsync"));
  addExtras(env, exports);
  return exports;
}

}  // namespace
}  // namespace parascan::binding

static Napi::Object InitParascanAddon(Napi::Env env, Napi::Object exports) { return parascan::binding::Init(env, exports); }

NODE_API_MODULE(parascan, InitParascanAddon)
