// gemm({ transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc }): row-major
// C = alpha·op(A)·op(B) + beta·C through OpenBLAS (native/src/cpu/gemm.cc). @parascan/nn checks
// every argument with full messages first; these checks only keep a malformed call from touching
// memory it does not own (they throw, never crash).
#include <cstdint>
#include <string>

#include <napi.h>

#include "parascan/cpu.h"

namespace parascan::binding {

namespace {

const char* const kOp = "gemm (native cpu): ";

bool readInt(const Napi::Object& req, const char* key, int64_t& out) {
  const Napi::Value v = req.Get(key);
  if (!v.IsNumber()) return false;
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 1 && d <= 2147483647.0) || d != static_cast<double>(static_cast<int64_t>(d))) return false;
  out = static_cast<int64_t>(d);
  return true;
}

template <typename T, typename Array>
Napi::Value GemmTyped(const Napi::Env& env, const Napi::Object& req, cpu::GemmParams<T> p, napi_typedarray_type type, const char* typeName) {
  auto fail = [&](const std::string& m) {
    Napi::TypeError::New(env, kOp + m).ThrowAsJavaScriptException();
    return env.Undefined();
  };
  struct Want {
    const char* name;
    int64_t rows, cols, ld;
  } wants[3] = {{"a", p.transA ? p.k : p.m, p.transA ? p.m : p.k, p.lda},
                {"b", p.transB ? p.n : p.k, p.transB ? p.k : p.n, p.ldb},
                {"c", p.m, p.n, p.ldc}};
  const uint8_t* begin[3];
  const uint8_t* end[3];
  T* ptr[3];
  for (int i = 0; i < 3; ++i) {
    const Want& w = wants[i];
    if (w.ld < w.cols) return fail(std::string("leading dimension of `") + w.name + "` must be >= " + std::to_string(w.cols));
    const int64_t need = (w.rows - 1) * w.ld + w.cols;
    const Napi::Value v = req.Get(w.name);
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != type)
      return fail(std::string("argument `") + w.name + "` must be a " + typeName + " (the dtype of `a`)");
    Array arr = v.As<Array>();
    if (static_cast<int64_t>(arr.ElementLength()) < need)
      return fail(std::string("argument `") + w.name + "` must hold at least " + std::to_string(need) + " elements; got " +
                  std::to_string(arr.ElementLength()));
    ptr[i] = arr.Data();
    begin[i] = reinterpret_cast<const uint8_t*>(arr.Data());
    end[i] = begin[i] + arr.ByteLength();
  }
  for (int i = 0; i < 2; ++i)
    if (begin[2] < end[i] && begin[i] < end[2]) return fail(std::string("argument `c` must not overlap `") + wants[i].name + "`");
  p.a = ptr[0];
  p.b = ptr[1];
  p.c = ptr[2];
  if (!cpu::gemm(p)) return fail("the sizes are malformed or this build has no BLAS");
  return env.Undefined();
}

Napi::Value Gemm(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) {
    Napi::TypeError::New(env, std::string(kOp) + "expected one request object").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const Napi::Object req = info[0].As<Napi::Object>();
  int64_t dims[6];
  const char* keys[6] = {"m", "n", "k", "lda", "ldb", "ldc"};
  for (int i = 0; i < 6; ++i) {
    if (!readInt(req, keys[i], dims[i])) {
      Napi::RangeError::New(env, std::string(kOp) + "argument `" + keys[i] + "` must be an integer in [1, 2147483647]").ThrowAsJavaScriptException();
      return env.Undefined();
    }
  }
  const Napi::Value alpha = req.Get("alpha"), beta = req.Get("beta");
  if (!alpha.IsNumber() || !beta.IsNumber()) {
    Napi::TypeError::New(env, std::string(kOp) + "arguments `alpha` and `beta` must be numbers").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const Napi::Value a = req.Get("a");
  const bool f64 = a.IsTypedArray() && a.As<Napi::TypedArray>().TypedArrayType() == napi_float64_array;
  auto fill = [&](auto& p, auto scalar) {
    p.transA = req.Get("transA").ToBoolean().Value();
    p.transB = req.Get("transB").ToBoolean().Value();
    p.m = dims[0], p.n = dims[1], p.k = dims[2], p.lda = dims[3], p.ldb = dims[4], p.ldc = dims[5];
    p.alpha = static_cast<decltype(scalar)>(alpha.As<Napi::Number>().DoubleValue());
    p.beta = static_cast<decltype(scalar)>(beta.As<Napi::Number>().DoubleValue());
  };
  if (f64) {
    cpu::GemmParams<double> p;
    fill(p, 0.0);
    return GemmTyped<double, Napi::Float64Array>(env, req, p, napi_float64_array, "Float64Array");
  }
  cpu::GemmParams<float> p;
  fill(p, 0.0f);
  return GemmTyped<float, Napi::Float32Array>(env, req, p, napi_float32_array, "Float32Array");
}

}  // namespace

void addGemmFunctions(Napi::Env env, Napi::Object exports) {
  if (cpu::haveBlas()) exports.Set("gemm", Napi::Function::New(env, Gemm, "gemm"));
}

}  // namespace parascan::binding
