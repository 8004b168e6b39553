// Async calls of the binding: a plain-C++ baton runs on the libuv pool and settles a promise.
// The request's arrays (the named keys) stay referenced until then, so the garbage collector
// cannot free memory the worker thread is reading or writing.
#pragma once

#include <napi.h>

#include <initializer_list>
#include <memory>
#include <vector>

namespace parascan::binding {

// Run(baton) executes on the worker thread (no JS there); Result(env, baton, &error) builds the
// resolved value on the JS thread, or fills `error` to reject.
template <typename Baton, void (*Run)(Baton&), Napi::Value (*Result)(Napi::Env, const Baton&, Napi::Error*)>
class PromiseWorker : public Napi::AsyncWorker {
 public:
  PromiseWorker(Napi::Env env, const char* name, const Napi::Object& request, std::initializer_list<const char*> keys,
                std::unique_ptr<Baton> baton)
      : Napi::AsyncWorker(env, name), deferred_(Napi::Promise::Deferred::New(env)), baton_(std::move(baton)) {
    for (const char* key : keys) {
      const Napi::Value v = request.Get(key);
      if (v.IsObject()) keepAlive_.push_back(Napi::Persistent(v.As<Napi::Object>()));
    }
  }

  // Queues the worker (which deletes itself when done) and returns its promise.
  Napi::Promise queue() {
    Napi::Promise promise = deferred_.Promise();
    Queue();
    return promise;
  }

 protected:
  void Execute() override { Run(*baton_); }
  void OnOK() override {
    Napi::Error error;
    Napi::Value value = Result(Env(), *baton_, &error);
    if (!error.IsEmpty())
      deferred_.Reject(error.Value());
    else
      deferred_.Resolve(value);
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::unique_ptr<Baton> baton_;
  std::vector<Napi::ObjectReference> keepAlive_;
};

// An async call whose arguments failed to parse rejects its promise with the pending exception
// instead of throwing, like every other failure of an async call.
inline Napi::Value rejectWithPendingException(Napi::Env env) {
  Napi::Error e = env.GetAndClearPendingException();
  auto deferred = Napi::Promise::Deferred::New(env);
  deferred.Reject(e.Value());
  return deferred.Promise();
}

}  // namespace parascan::binding
