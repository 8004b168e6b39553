// Binding of the cells' native kernels (native/include/parascan/cells.h) into both addons (the
// kernels come from backend.h's cellSequential/... : the CPU kernels in parascan.node, the CUDA
// ones in parascan_cuda.node, compiled with PARASCAN_CELLS_BACKEND_CUDA):
//   cellSequential / cellEvaluate / cellNewton / cellBackward, each also as ...Async (a promise,
//   run on the libuv pool with the request's arrays held by persistent references).
// Shapes and names: CellRequest in packages/native/src/surface.ts. Every argument is re-checked
// here (the TS side validates first) so a bad call throws a TypeError/RangeError naming the
// argument, what was expected and what was got, instead of crashing the process.
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
#include "parascan/cells.h"
#include "parascan/cpu.h"

namespace parascan::binding {
namespace {

enum class Op { Sequential, Evaluate, Newton, Backward };
enum class Dtype { Float32, Float64 };

const char* opName(Op op) {
  switch (op) {
    case Op::Sequential: return "cellSequential";
    case Op::Evaluate: return "cellEvaluate";
    case Op::Newton: return "cellNewton";
    default: return "cellBackward";
  }
}

struct CellBaton {
  Op op = Op::Sequential;
  Dtype dtype = Dtype::Float32;
  cells::CellParams<float> f32;
  cells::CellParams<double> f64;
  void* out = nullptr;          // sequential, evaluate, newton
  const void* states = nullptr;  // evaluate, backward
  void* jacobians = nullptr;     // evaluate (optional)
  void* lambda = nullptr;        // backward (in/out)
  void* dP = nullptr;            // backward: the cell's dtype, or (legacy) a Float64Array when dP64 is set
  double* dP64 = nullptr;        // a float32 call given a Float64Array dP: the kernel writes dPScratch, copied here
  std::vector<float> dPScratch;
  double* dA = nullptr;
  double* dC = nullptr;
  void* dh0 = nullptr;
  cells::NewtonControls controls;
  SolveReport report;
  cells::NewtonReport newton;
};

struct ArgError {
  bool range = false;
  std::string message;
};

std::string describe(const Napi::Value& v) {
  if (v.IsUndefined()) return "undefined";
  if (v.IsNull()) return "null";
  if (v.IsTypedArray()) {
    const auto t = v.As<Napi::TypedArray>();
    const char* names[] = {"Int8Array",  "Uint8Array",   "Uint8ClampedArray", "Int16Array",    "Uint16Array", "Int32Array",
                           "Uint32Array", "Float32Array", "Float64Array",      "BigInt64Array", "BigUint64Array"};
    const int type = static_cast<int>(t.TypedArrayType());
    return std::string("a ") + ((type >= 0 && type < 11) ? names[type] : "TypedArray") + " of length " + std::to_string(t.ElementLength());
  }
  if (v.IsArray()) return "a plain Array";
  if (v.IsNumber()) {
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%.17g", v.As<Napi::Number>().DoubleValue());
    return buf;
  }
  if (v.IsString()) return "'" + v.As<Napi::String>().Utf8Value() + "'";
  if (v.IsBoolean()) return "a boolean";
  return "an object";
}

class Parser {
 public:
  Parser(Op op, const Napi::Object& req) : op_(op), req_(req) {}
  ArgError err;

  bool fail(bool range, const std::string& arg, const std::string& expected, const std::string& got) {
    err = {range, std::string(opName(op_)) + " (native " + kBackendName + "): argument `" + arg + "` must be " + expected + "; got " + got + "."};
    return false;
  }

  bool size(const char* key, int64_t& out, bool optional = false) {
    const Napi::Value v = req_.Get(key);
    if (optional && v.IsUndefined()) {
      out = 0;
      return true;
    }
    const char* want = optional ? "a non-negative integer" : "a positive integer";
    if (!v.IsNumber()) return fail(false, key, want, describe(v));
    const double d = v.As<Napi::Number>().DoubleValue();
    if (!(d >= (optional ? 0 : 1)) || d > 9007199254740991.0 || std::floor(d) != d) return fail(true, key, want, describe(v));
    out = static_cast<int64_t>(d);
    return true;
  }

  // A typed array of `type` with exactly `length` elements; records its byte range for the overlap check.
  template <typename E>
  bool array(const char* key, bool f64, int64_t length, const std::string& shape, bool optional, bool output, E*& data) {
    const Napi::Value v = req_.Get(key);
    data = nullptr;
    if (optional && (v.IsUndefined() || v.IsNull())) return true;
    const char* want = f64 ? "Float64Array" : "Float32Array";
    const napi_typedarray_type wantType = f64 ? napi_float64_array : napi_float32_array;
    const std::string expected = std::string("a ") + want + " of length " + std::to_string(length) + " " + shape;
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != wantType) return fail(false, key, expected, describe(v));
    napi_typedarray_type type;
    size_t len = 0, byteOffset = 0;
    void* ptr = nullptr;
    napi_value buffer = nullptr;
    if (napi_get_typedarray_info(req_.Env(), v, &type, &len, &ptr, &buffer, &byteOffset) != napi_ok)
      return fail(false, key, expected, "a typed array N-API could not read");
    if (static_cast<int64_t>(len) != length || ptr == nullptr) {
      bool detached = false;
      if (len == 0 && buffer != nullptr) {
        bool isAb = false;
        napi_is_arraybuffer(req_.Env(), buffer, &isAb);
        if (isAb) napi_is_detached_arraybuffer(req_.Env(), buffer, &detached);
      }
      return fail(!detached, key, expected, detached ? "an array whose ArrayBuffer is detached" : describe(v));
    }
    data = static_cast<E*>(ptr);
    ranges_.push_back({key, static_cast<const char*>(ptr), static_cast<const char*>(ptr) + len * sizeof(E), output});
    return true;
  }

  // No output may overlap any other array of the call.
  bool noOverlap() {
    for (size_t i = 0; i < ranges_.size(); ++i)
      for (size_t j = 0; j < ranges_.size(); ++j) {
        if (i == j || !ranges_[i].output) continue;
        const auto& a = ranges_[i];
        const auto& b = ranges_[j];
        if (a.lo < b.hi && b.lo < a.hi)
          return fail(true, a.key, std::string("a buffer that overlaps no other array of the call"), std::string("a view overlapping `") + b.key + "`");
      }
    return true;
  }

 private:
  struct Range {
    const char* key;
    const char* lo;
    const char* hi;
    bool output;
  };
  Op op_;
  Napi::Object req_;
  std::vector<Range> ranges_;
};

bool checkedMul(int64_t a, int64_t b, int64_t& out) {
  if (a != 0 && b > std::numeric_limits<int64_t>::max() / a) return false;
  out = a * b;
  return true;
}

// dP in the cell's dtype; a float32 call also takes a Float64Array (the earlier contract), written
// through a float32 scratch buffer.
template <typename T>
bool dPArray(Parser& ps, const Napi::Object& req, int64_t length, CellBaton& baton) {
  constexpr bool f64 = sizeof(T) == 8;
  const Napi::Value v = req.Get("dP");
  if (!f64 && v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == napi_float64_array) {
    if (!ps.array("dP", true, length, "([B, T, 3, D], the cell's dtype or Float64Array)", false, true, baton.dP64)) return false;
    baton.dPScratch.resize(static_cast<size_t>(length));
    baton.dP = baton.dPScratch.data();
    return true;
  }
  T* dP = nullptr;
  if (!ps.array("dP", f64, length, "([B, T, 3, D], the cell's dtype)", false, true, dP)) return false;
  baton.dP = dP;
  return true;
}

template <typename T>
bool fill(Parser& ps, const Napi::Object& req, CellBaton& baton, cells::CellParams<T>& p) {
  constexpr bool f64 = sizeof(T) == 8;
  const Napi::Value cell = req.Get("cell");
  const std::string kind = cell.IsString() ? cell.As<Napi::String>().Utf8Value() : "";
  if (kind == "gru")
    p.kind = cells::CellKind::GRU;
  else if (kind == "lstm")
    p.kind = cells::CellKind::LSTM;
  else
    return ps.fail(false, "cell", "'gru' or 'lstm'", describe(cell));
  int64_t threads = 0;
  if (!ps.size("batch", p.batch) || !ps.size("length", p.length) || !ps.size("size", p.size) || !ps.size("threads", threads, true))
    return false;
  p.threads = static_cast<int32_t>(std::min<int64_t>(threads, 4096));
  const int64_t k = cells::blocksOf(p.kind), D = p.size;
  int64_t BT, M3, S, MS, JL, BS;
  if (!checkedMul(p.batch, p.length, BT) || !checkedMul(BT, 3 * D, M3) || !checkedMul(k, D, S) || !checkedMul(BT, S, MS) ||
      !checkedMul(MS, k, JL) || !checkedMul(p.batch, S, BS) || JL > (int64_t{1} << 53))
    return ps.fail(true, "batch", "sizes whose products B·T·k·k·D do not overflow", "too large a problem");
  const std::string sS = std::to_string(S);
  const std::string shapeBTS = "([B, T, S=" + sS + "])", shapeBS = "([B, S=" + sS + "])";
  const T* proj = nullptr;
  const T* A = nullptr;
  const T* C = nullptr;
  const T* init = nullptr;
  if (!ps.array("projection", f64, M3, "([B, T, 3, D])", false, false, proj) || !ps.array("A", f64, 3 * D, "([3, D])", false, false, A) ||
      !ps.array("C", f64, 2 * D, "([2, D])", p.kind == cells::CellKind::GRU, false, C) ||
      !ps.array("initial", f64, BS, shapeBS, true, false, init))
    return false;
  p.projection = proj;
  p.A = A;
  p.C = p.kind == cells::CellKind::LSTM ? C : nullptr;
  p.initial = init;
  T* out = nullptr;
  const T* states = nullptr;
  T* jac = nullptr;
  T* lambda = nullptr;
  T* dh0 = nullptr;
  switch (baton.op) {
    case Op::Sequential:
    case Op::Newton:
      if (!ps.array("out", f64, MS, shapeBTS, false, true, out)) return false;
      break;
    case Op::Evaluate:
      if (!ps.array("states", f64, MS, shapeBTS, false, false, states) || !ps.array("out", f64, MS, shapeBTS, true, true, out) ||
          !ps.array("jacobians", f64, JL, "([B, T, k, k, D])", true, true, jac))
        return false;
      if (!out && !jac) return ps.fail(false, "out", "an array when `jacobians` is null (nothing to compute otherwise)", "null");
      break;
    case Op::Backward:
      if (!ps.array("states", f64, MS, shapeBTS, false, false, states) || !ps.array("lambda", f64, MS, shapeBTS, false, true, lambda) ||
          !dPArray<T>(ps, req, M3, baton) ||
          !ps.array("dA", true, 3 * D, "([3, D], always float64)", false, true, baton.dA) ||
          !ps.array("dC", true, 2 * D, "([2, D], always float64)", p.kind == cells::CellKind::GRU, true, baton.dC) ||
          !ps.array("dh0", f64, BS, shapeBS, false, true, dh0))
        return false;
      if (p.kind == cells::CellKind::GRU) baton.dC = nullptr;
      break;
  }
  if (baton.op == Op::Newton) {
    const Napi::Value cv = req.Get("controls");
    if (!cv.IsObject()) return ps.fail(false, "controls", "an object { maxIterations, absTol, relTol, damping, onMaxIterations }", describe(cv));
    const Napi::Object c = cv.As<Napi::Object>();
    auto num = [&](const char* key, double lo, double hi, bool loOpen, double& outv) {
      const Napi::Value v = c.Get(key);
      const std::string arg = std::string("controls.") + key;
      const std::string want = std::string("a number in ") + (loOpen ? "(" : "[") + std::to_string(lo) + ", " + std::to_string(hi) + "]";
      if (!v.IsNumber()) return ps.fail(false, arg, want, describe(v));
      const double d = v.As<Napi::Number>().DoubleValue();
      if (!(loOpen ? d > lo : d >= lo) || !(d <= hi)) return ps.fail(true, arg, want, describe(v));
      outv = d;
      return true;
    };
    double maxIt = 0;
    if (!num("maxIterations", 1, 1e9, false, maxIt) || !num("absTol", 0, std::numeric_limits<double>::max(), false, baton.controls.absTol) ||
        !num("relTol", 0, std::numeric_limits<double>::max(), false, baton.controls.relTol) || !num("damping", 0, 1, true, baton.controls.damping))
      return false;
    if (std::floor(maxIt) != maxIt) return ps.fail(true, "controls.maxIterations", "an integer >= 1", describe(c.Get("maxIterations")));
    baton.controls.maxIterations = static_cast<int32_t>(maxIt);
    const Napi::Value sv = c.Get("schedule");
    const std::string sch = sv.IsString() ? sv.As<Napi::String>().Utf8Value() : "";
    if (sv.IsUndefined() || sch == "auto")
      baton.controls.schedule = cells::FusedSchedule::Auto;
    else if (sch == "global")
      baton.controls.schedule = cells::FusedSchedule::Global;
    else if (sch == "shooting")
      baton.controls.schedule = cells::FusedSchedule::Shooting;
    else
      return ps.fail(false, "controls.schedule", "'auto', 'global' or 'shooting' (or absent)", describe(sv));
    const Napi::Value om = c.Get("onMaxIterations");
    const std::string oms = om.IsString() ? om.As<Napi::String>().Utf8Value() : "";
    if (oms == "fallback")
      baton.controls.onMaxIterations = cells::OnMaxIterations::Fallback;
    else if (oms == "return")
      baton.controls.onMaxIterations = cells::OnMaxIterations::Return;
    else
      return ps.fail(false, "controls.onMaxIterations", "'fallback' or 'return'", describe(om));
  }
  if (!ps.noOverlap()) return false;
  baton.out = out;
  baton.states = states;
  baton.jacobians = jac;
  baton.lambda = lambda;
  baton.dh0 = dh0;
  return true;
}

bool parse(Op op, const Napi::CallbackInfo& info, CellBaton& baton) {
  const Napi::Env env = info.Env();
  baton.op = op;
  if (info.Length() < 1 || !info[0].IsObject()) {
    Napi::TypeError::New(env, std::string(opName(op)) + " (native " + kBackendName + "): expected one request object; got " +
                                  (info.Length() < 1 ? std::string("nothing") : describe(info[0])) + ".")
        .ThrowAsJavaScriptException();
    return false;
  }
  const Napi::Object req = info[0].As<Napi::Object>();
  Parser ps(op, req);
  const Napi::Value proj = req.Get("projection");
  bool ok = false;
  if (proj.IsTypedArray() && proj.As<Napi::TypedArray>().TypedArrayType() == napi_float64_array) {
    baton.dtype = Dtype::Float64;
    ok = fill(ps, req, baton, baton.f64);
  } else if (proj.IsTypedArray() && proj.As<Napi::TypedArray>().TypedArrayType() == napi_float32_array) {
    baton.dtype = Dtype::Float32;
    ok = fill(ps, req, baton, baton.f32);
  } else {
    ps.fail(false, "projection", "a Float32Array or Float64Array (it sets the dtype of the call)", describe(proj));
  }
  if (!ok) {
    if (ps.err.range)
      Napi::RangeError::New(env, ps.err.message).ThrowAsJavaScriptException();
    else
      Napi::TypeError::New(env, ps.err.message).ThrowAsJavaScriptException();
  }
  return ok;
}

template <typename T>
void runTyped(CellBaton& b, const cells::CellParams<T>& p) {
  switch (b.op) {
    case Op::Sequential: b.report = cellSequential(p, static_cast<T*>(b.out)); break;
    case Op::Evaluate:
      b.report = cellEvaluate(p, static_cast<const T*>(b.states), static_cast<T*>(b.out), static_cast<T*>(b.jacobians));
      break;
    case Op::Newton:
      b.newton = cellNewton(p, b.controls, static_cast<T*>(b.out));
      b.report = b.newton.solve;
      break;
    case Op::Backward:
      b.report = cellBackward(p, static_cast<const T*>(b.states), static_cast<T*>(b.lambda), static_cast<T*>(b.dP), b.dA, b.dC,
                                 static_cast<T*>(b.dh0));
      if (b.dP64)
        for (size_t i = 0; i < b.dPScratch.size(); ++i) b.dP64[i] = b.dPScratch[i];
      break;
  }
}

void run(CellBaton& b) {
  if (b.dtype == Dtype::Float32)
    runTyped(b, b.f32);
  else
    runTyped(b, b.f64);
}

Napi::Value result(Napi::Env env, const CellBaton& b, Napi::Error* error) {
  const SolveReport& r = b.report;
  if (r.status != Status::Ok && r.status != Status::NonFinite) {
    const char* code = r.status == Status::DeviceError ? "DEVICE_ERROR: " : "INVALID_ARGUMENT: ";
    *error = Napi::Error::New(env, std::string(code) + opName(b.op) + ": " + r.message);
    return env.Undefined();
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("status", r.status == Status::Ok ? "ok" : "non-finite");
  o.Set("schedule", r.schedule ? r.schedule : "");
  if (b.op == Op::Newton) {
    const cells::NewtonReport& n = b.newton;
    o.Set("iterations", n.iterations);
    Napi::Array res = Napi::Array::New(env, n.residuals.size());
    for (size_t i = 0; i < n.residuals.size(); ++i) res.Set(static_cast<uint32_t>(i), n.residuals[i]);
    o.Set("residuals", res);
    const char* term[] = {"converged", "max-iterations", "fallback-sequential"};
    o.Set("termination", term[static_cast<int>(n.termination)]);
    const char* reasons[] = {nullptr, "non-finite", "growing", "max-iterations", "ill-conditioned"};
    const int ri = static_cast<int>(n.reason);
    o.Set("reason", ri == 0 ? env.Null() : Napi::String::New(env, reasons[ri]));
    o.Set("stalled", n.stalled);
    o.Set("tolerance", n.tolerance);
    o.Set("errorEstimate", n.errorEstimate);
  }
  return o;
}

template <Op op>
Napi::Value Sync(const Napi::CallbackInfo& info) {
  CellBaton baton;
  if (!parse(op, info, baton)) return info.Env().Undefined();
  run(baton);
  Napi::Error error;
  Napi::Value r = result(info.Env(), baton, &error);
  if (!error.IsEmpty()) error.ThrowAsJavaScriptException();
  return r;
}

template <Op op>
Napi::Value Async(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  auto baton = std::make_unique<CellBaton>();
  if (!parse(op, info, *baton)) return rejectWithPendingException(env);
  using Worker = PromiseWorker<CellBaton, run, result>;
  return (new Worker(env, "parascan:cells", info[0].As<Napi::Object>(),
                     {"projection", "A", "C", "initial", "out", "states", "jacobians", "lambda", "dP", "dA", "dC", "dh0"},
                     std::move(baton)))
      ->queue();
}

template <Op op>
void add(Napi::Env env, Napi::Object exports) {
  const std::string name = opName(op);
  exports.Set(name, Napi::Function::New(env, Sync<op>, name));
  exports.Set(name + "Async", Napi::Function::New(env, Async<op>, name + "Async"));
}

#if !defined(PARASCAN_CELLS_BACKEND_CUDA)  // the CPU addon only: BLAS and the CPU kernels' ISA
// cellProjectionVjp({ points, inputSize, stateSize, heads, gates, x, weight, dP, dx?, dW, db }): the
// reverse of projectInputs through BLAS, one dtype for every array (cells::projectionVjp).
template <typename T>
Napi::Value ProjectionVjpTyped(const Napi::Env& env, const Napi::Object& req, cells::ProjectionVjpParams<T> p, bool f64) {
  Parser ps(Op::Backward, req);
  const int64_t M = p.points, Din = p.inputSize, D = p.stateSize, G = p.gates;
  const T* x = nullptr;
  const T* w = nullptr;
  const T* dP = nullptr;
  if (!ps.array("x", f64, M * Din, "([M, Din])", false, false, x) || !ps.array("weight", f64, Din * G * D / p.heads, "([H, Din/H, G, D/H])", false, false, w) ||
      !ps.array("dP", f64, M * G * D, "([M, G, D])", false, false, dP) || !ps.array("dx", f64, M * Din, "([M, Din])", true, true, p.dx) ||
      !ps.array("dW", f64, Din * G * D / p.heads, "([H, Din/H, G, D/H])", false, true, p.dW) ||
      !ps.array("db", f64, G * D, "([G, D])", false, true, p.db) || !ps.noOverlap()) {
    std::string m = ps.err.message;
    const std::string from = opName(Op::Backward);
    if (m.rfind(from, 0) == 0) m = "cellProjectionVjp" + m.substr(from.size());
    if (ps.err.range)
      Napi::RangeError::New(env, m).ThrowAsJavaScriptException();
    else
      Napi::TypeError::New(env, m).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  p.x = x;
  p.weight = w;
  p.dP = dP;
  if (!cells::projectionVjp(p)) {
    Napi::RangeError::New(env, "cellProjectionVjp (native cpu): the sizes are malformed or too large for BLAS").ThrowAsJavaScriptException();
  }
  return env.Undefined();
}

Napi::Value ProjectionVjp(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) {
    Napi::TypeError::New(env, "cellProjectionVjp (native cpu): expected one request object").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const Napi::Object req = info[0].As<Napi::Object>();
  int64_t sizes[5];
  const char* keys[5] = {"points", "inputSize", "stateSize", "heads", "gates"};
  for (int i = 0; i < 5; ++i) {
    const Napi::Value v = req.Get(keys[i]);
    const double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
    if (!(d >= 1 && d <= 9007199254740991.0) || d != static_cast<double>(static_cast<int64_t>(d))) {
      Napi::RangeError::New(env, std::string("cellProjectionVjp (native cpu): argument `") + keys[i] + "` must be a positive integer; got " + describe(v))
          .ThrowAsJavaScriptException();
      return env.Undefined();
    }
    sizes[i] = static_cast<int64_t>(d);
  }
  if (sizes[1] % sizes[3] != 0 || sizes[2] % sizes[3] != 0) {
    Napi::RangeError::New(env, "cellProjectionVjp (native cpu): argument `heads` must divide inputSize and stateSize; got " + std::to_string(sizes[3]))
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const Napi::Value x = req.Get("x");
  const bool f64 = x.IsTypedArray() && x.As<Napi::TypedArray>().TypedArrayType() == napi_float64_array;
  auto shape = [&](auto& p) {
    p.points = sizes[0], p.inputSize = sizes[1], p.stateSize = sizes[2], p.heads = sizes[3], p.gates = sizes[4];
  };
  if (f64) {
    cells::ProjectionVjpParams<double> p;
    shape(p);
    return ProjectionVjpTyped(env, req, p, true);
  }
  cells::ProjectionVjpParams<float> p;
  shape(p);
  return ProjectionVjpTyped(env, req, p, false);
}
#endif  // !PARASCAN_CELLS_BACKEND_CUDA

}  // namespace

void addCellFunctions(Napi::Env env, Napi::Object exports) {
#if !defined(PARASCAN_CELLS_BACKEND_CUDA)
  if (cpu::haveBlas()) exports.Set("cellProjectionVjp", Napi::Function::New(env, ProjectionVjp, "cellProjectionVjp"));
  exports.Set("cellKernelIsa", Napi::Function::New(env, [](const Napi::CallbackInfo& info) -> Napi::Value {
    return Napi::String::New(info.Env(), cells::activeCellIsa());
  }, "cellKernelIsa"));
#endif
  add<Op::Sequential>(env, exports);
  add<Op::Evaluate>(env, exports);
  add<Op::Newton>(env, exports);
  add<Op::Backward>(env, exports);
}

}  // namespace parascan::binding
