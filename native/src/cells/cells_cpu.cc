// CPU kernels of ParaGRU and ParaLSTM (see native/include/parascan/cells.h). The per-point
// formulas are a line-for-line transcription of packages/cells/src/gru.ts and lstm.ts, evaluated
// in double. Parallel parts run as tasks over (batch row, time chunk) on the solver's thread pool;
// reductions keep one partial per task and combine them in task order (deterministic).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <vector>

#include "parascan/cells.h"
#include "parascan/cpu.h"
#include "thread_pool.h"

namespace parascan::cells {
namespace {

constexpr int64_t kChunk = 256;  // time steps per parallel task

inline double sigmoid(double v) { return 1.0 / (1.0 + std::exp(-v)); }

// One GRU point, j over 0..D-1. prev null = zero state.
template <typename T>
inline void gruPoint(int64_t D, const T* A, const T* P, const T* prev, T* out, T* jac) {
  for (int64_t j = 0; j < D; ++j) {
    const double hp = prev ? static_cast<double>(prev[j]) : 0.0;
    const double Az = A[j], Ar = A[D + j], Ac = A[2 * D + j];
    const double z = sigmoid(Az * hp + static_cast<double>(P[j]));
    const double r = sigmoid(Ar * hp + static_cast<double>(P[D + j]));
    const double c = std::tanh(Ac * hp * r + static_cast<double>(P[2 * D + j]));
    if (out) out[j] = static_cast<T>(z * c + (1 - z) * hp);
    if (jac) jac[j] = static_cast<T>(1 - z + (c - hp) * z * (1 - z) * Az + z * (1 - c * c) * Ac * (r + hp * r * (1 - r) * Ar));
  }
}

template <typename T>
inline void lstmPoint(int64_t D, const T* A, const T* C, const T* P, const T* prev, T* out, T* jac) {
  for (int64_t j = 0; j < D; ++j) {
    const double cp = prev ? static_cast<double>(prev[j]) : 0.0;
    const double hp = prev ? static_cast<double>(prev[D + j]) : 0.0;
    const double Af = A[j], Ao = A[D + j], Ac = A[2 * D + j];
    const double Cf = C[j], Co = C[D + j];
    const double f = sigmoid(Af * hp + static_cast<double>(P[j]) + Cf * cp);
    const double g = std::tanh(Ac * hp + static_cast<double>(P[2 * D + j]));
    const double cn = f * cp + (1 - f) * g;
    const double o = sigmoid(Ao * hp + static_cast<double>(P[D + j]) + Co * cn);
    const double tc = std::tanh(cn);
    if (out) {
      out[j] = static_cast<T>(cn);
      out[D + j] = static_cast<T>(o * tc);
    }
    if (jac) {
      const double sf = f * (1 - f);
      const double so = o * (1 - o);
      const double Jcc = f + (cp - g) * sf * Cf;
      const double Jch = (cp - g) * sf * Af + (1 - f) * (1 - g * g) * Ac;
      const double dhdc = so * Co * tc + o * (1 - tc * tc);
      jac[j] = static_cast<T>(Jcc);
      jac[D + j] = static_cast<T>(Jch);
      jac[2 * D + j] = static_cast<T>(dhdc * Jcc);
      jac[3 * D + j] = static_cast<T>(so * Ao * tc + dhdc * Jch);
    }
  }
}

// Cotangent at one point (u = dL/df): dprev (may be null), dP [3, D], accumulates gA [3, D], gC [2, D].
template <typename T>
inline void gruCotangent(int64_t D, const T* A, const T* P, const T* prev, const T* u, T* dprev, double* dP, double* gA) {
  for (int64_t j = 0; j < D; ++j) {
    const double hp = prev ? static_cast<double>(prev[j]) : 0.0;
    const double g = u[j];
    const double Az = A[j], Ar = A[D + j], Ac = A[2 * D + j];
    const double z = sigmoid(Az * hp + static_cast<double>(P[j]));
    const double r = sigmoid(Ar * hp + static_cast<double>(P[D + j]));
    const double c = std::tanh(Ac * hp * r + static_cast<double>(P[2 * D + j]));
    const double daz = g * (c - hp) * z * (1 - z);
    const double dac = g * z * (1 - c * c);
    const double dar = dac * Ac * hp * r * (1 - r);
    if (dprev) dprev[j] = static_cast<T>(g * (1 - z) + daz * Az + dar * Ar + dac * Ac * r);
    gA[j] += daz * hp;
    gA[D + j] += dar * hp;
    gA[2 * D + j] += dac * hp * r;
    dP[j] = daz;
    dP[D + j] = dar;
    dP[2 * D + j] = dac;
  }
}

template <typename T>
inline void lstmCotangent(int64_t D, const T* A, const T* C, const T* P, const T* prev, const T* u, T* dprev, double* dP,
                          double* gA, double* gC) {
  for (int64_t j = 0; j < D; ++j) {
    const double cp = prev ? static_cast<double>(prev[j]) : 0.0;
    const double hp = prev ? static_cast<double>(prev[D + j]) : 0.0;
    const double uc = u[j], uh = u[D + j];
    const double Af = A[j], Ao = A[D + j], Ac = A[2 * D + j];
    const double Cf = C[j], Co = C[D + j];
    const double f = sigmoid(Af * hp + static_cast<double>(P[j]) + Cf * cp);
    const double g = std::tanh(Ac * hp + static_cast<double>(P[2 * D + j]));
    const double cn = f * cp + (1 - f) * g;
    const double o = sigmoid(Ao * hp + static_cast<double>(P[D + j]) + Co * cn);
    const double tc = std::tanh(cn);
    const double dao = uh * tc * o * (1 - o);
    const double dcn = uc + uh * o * (1 - tc * tc) + dao * Co;
    const double daf = dcn * (cp - g) * f * (1 - f);
    const double dag = dcn * (1 - f) * (1 - g * g);
    if (dprev) {
      dprev[j] = static_cast<T>(dcn * f + daf * Cf);
      dprev[D + j] = static_cast<T>(daf * Af + dag * Ac + dao * Ao);
    }
    gA[j] += daf * hp;
    gA[D + j] += dao * hp;
    gA[2 * D + j] += dag * hp;
    gC[j] += daf * cp;
    gC[D + j] += dao * cn;
    dP[j] = daf;
    dP[D + j] = dao;
    dP[2 * D + j] = dag;
  }
}

template <typename T>
inline void point(const CellParams<T>& p, const T* P, const T* prev, T* out, T* jac) {
  if (p.kind == CellKind::GRU)
    gruPoint(p.size, p.A, P, prev, out, jac);
  else
    lstmPoint(p.size, p.A, p.C, P, prev, out, jac);
}

struct Tasks {
  int64_t chunks;  // per batch row
  int64_t chunk;
  int64_t count;
};

template <typename T>
Tasks tasksOf(const CellParams<T>& p) {
  Tasks t;
  t.chunk = kChunk;
  t.chunks = (p.length + kChunk - 1) / kChunk;
  t.count = p.batch * t.chunks;
  return t;
}

template <typename T>
void parallel(const CellParams<T>& p, int64_t tasks, const std::function<void(int64_t)>& fn) {
  cpu::ThreadPool::instance().parallelFor(tasks, p.threads, fn);
}

// The state fed to step t of row b (null = zero). states null: zero for every t >= 1.
template <typename T>
inline const T* prevOf(const CellParams<T>& p, const T* states, int64_t b, int64_t t) {
  const int64_t S = stateWidth(p);
  if (t > 0) return states ? states + (b * p.length + t - 1) * S : nullptr;
  return p.initial ? p.initial + b * S : nullptr;
}

// out = f(prev) and jac for (b, t) in [t0, t1).
template <typename T>
void evalRange(const CellParams<T>& p, const T* states, T* out, T* jac, int64_t b, int64_t t0, int64_t t1) {
  const int64_t S = stateWidth(p), G = 3 * p.size, JS = blocksOf(p.kind) * S;
  for (int64_t t = t0; t < t1; ++t) {
    const int64_t m = b * p.length + t;
    point(p, p.projection + m * G, prevOf(p, states, b, t), out ? out + m * S : nullptr, jac ? jac + m * JS : nullptr);
  }
}

template <typename T>
SolveReport invalid(const char* fmt, long long v) {
  SolveReport r;
  r.status = Status::InvalidArgument;
  std::snprintf(r.message, sizeof(r.message), fmt, v);
  return r;
}

template <typename T>
LinearRecurrenceParams<T> solverParams(const CellParams<T>& p, const T* jac, T* rhs, Direction dir) {
  LinearRecurrenceParams<T> s;
  s.direction = dir;
  s.batch = p.batch;
  s.length = p.length;
  s.blockSize = blocksOf(p.kind);
  s.lanes = p.size;
  s.jacobians = jac;
  s.rhs = rhs;
  s.out = rhs;
  s.initial = nullptr;
  s.threads = p.threads;
  return s;
}

}  // namespace

template <typename T>
SolveReport checkParams(const CellParams<T>& p) {
  if (p.kind != CellKind::GRU && p.kind != CellKind::LSTM) return invalid<T>("cells: unknown cell kind %lld", (long long)p.kind);
  if (p.batch < 1) return invalid<T>("cells: batch must be >= 1; got %lld", (long long)p.batch);
  if (p.length < 1) return invalid<T>("cells: length must be >= 1; got %lld", (long long)p.length);
  if (p.size < 1) return invalid<T>("cells: size must be >= 1; got %lld", (long long)p.size);
  if (!p.projection || !p.A) return invalid<T>("cells: projection and A must not be null (%lld)", 0);
  if (p.kind == CellKind::LSTM && !p.C) return invalid<T>("cells: ParaLSTM needs C (%lld)", 0);
  return SolveReport{};
}

template <typename T>
SolveReport sequential(const CellParams<T>& p, T* out) {
  SolveReport rep = checkParams(p);
  if (rep.status != Status::Ok) return rep;
  if (!out) return invalid<T>("cells: out must not be null (%lld)", 0);
  const int64_t S = stateWidth(p);
  std::vector<char> bad(static_cast<size_t>(p.batch), 0);
  parallel(p, p.batch, [&](int64_t b) {
    evalRange(p, out, out, static_cast<T*>(nullptr), b, 0, p.length);
    const T* row = out + b * p.length * S;
    for (int64_t i = 0; i < p.length * S; ++i)
      if (!std::isfinite(static_cast<double>(row[i]))) {
        bad[b] = 1;
        break;
      }
  });
  rep.schedule = "cells-sequential";
  for (char c : bad)
    if (c) {
      rep.status = Status::NonFinite;
      std::snprintf(rep.message, sizeof(rep.message), "the sequential recurrence produced a non-finite state");
    }
  return rep;
}

template <typename T>
SolveReport evaluate(const CellParams<T>& p, const T* states, T* out, T* jacobians) {
  SolveReport rep = checkParams(p);
  if (rep.status != Status::Ok) return rep;
  if (!states) return invalid<T>("cells: states must not be null (%lld)", 0);
  const Tasks tk = tasksOf(p);
  parallel(p, tk.count, [&](int64_t i) {
    const int64_t b = i / tk.chunks, t0 = (i % tk.chunks) * tk.chunk;
    evalRange(p, states, out, jacobians, b, t0, std::min(p.length, t0 + tk.chunk));
  });
  rep.schedule = "cells-evaluate";
  return rep;
}

template <typename T>
NewtonReport newton(const CellParams<T>& p, const NewtonControls& c, T* h) {
  NewtonReport rep;
  rep.solve = checkParams(p);
  if (rep.solve.status != Status::Ok) return rep;
  if (!h) {
    rep.solve = invalid<T>("cells: out must not be null (%lld)", 0);
    return rep;
  }
  if (c.maxIterations < 1 || !(c.damping > 0 && c.damping <= 1) || !(c.absTol >= 0) || !(c.relTol >= 0)) {
    rep.solve = invalid<T>("cells: controls out of range (maxIterations %lld, damping in (0, 1], tolerances >= 0)", (long long)c.maxIterations);
    return rep;
  }
  const int64_t S = stateWidth(p);
  const int64_t n = p.batch * p.length * S;
  const int64_t k = blocksOf(p.kind);
  std::vector<T> r(static_cast<size_t>(n));
  std::vector<T> jac(static_cast<size_t>(n * k));
  const Tasks tk = tasksOf(p);
  const double eps = std::numeric_limits<T>::epsilon();
  std::vector<double> partial(static_cast<size_t>(tk.count));

  auto rows = [&](int64_t i, int64_t& b, int64_t& t0, int64_t& t1) {
    b = i / tk.chunks;
    t0 = (i % tk.chunks) * tk.chunk;
    t1 = std::min(p.length, t0 + tk.chunk);
  };
  // First guess: f(0, x_t) (f(initial, x_0) at t = 0).
  parallel(p, tk.count, [&](int64_t i) {
    int64_t b, t0, t1;
    rows(i, b, t0, t1);
    evalRange(p, static_cast<const T*>(nullptr), h, static_cast<T*>(nullptr), b, t0, t1);
  });
  auto fallBack = [&](FallbackReason why) {
    rep.termination = Termination::FallbackSequential;
    rep.reason = why;
    SolveReport s = sequential(p, h);
    if (s.status != Status::Ok) rep.solve = s;
    rep.solve.schedule = "cells-fused-fallback";
    return rep;
  };
  auto maxAbs = [&]() {
    double m = 0;
    for (int64_t i = 0; i < n; ++i) m = std::max(m, std::fabs(static_cast<double>(h[i])));
    return m;
  };
  const double omega = c.damping;
  int growth = 0;
  double tolerance = c.absTol;
  rep.solve.schedule = "cells-fused";
  for (;;) {
    // r = f(h) − h and the Jacobians, per task; the max-norm per task (NaN if non-finite).
    parallel(p, tk.count, [&](int64_t i) {
      int64_t b, t0, t1;
      rows(i, b, t0, t1);
      evalRange(p, static_cast<const T*>(h), r.data(), jac.data(), b, t0, t1);
      const int64_t lo = (b * p.length + t0) * S, hi = (b * p.length + t1) * S;
      double m = 0;
      bool bad = false;
      for (int64_t q = lo; q < hi; ++q) {
        const T d = r[q] - h[q];
        r[q] = d;
        const double a = std::fabs(static_cast<double>(d));
        if (!(a <= std::numeric_limits<double>::max())) bad = true;
        if (a > m) m = a;
      }
      partial[i] = bad ? std::numeric_limits<double>::quiet_NaN() : m;
    });
    double res = 0;
    for (double v : partial) {
      if (std::isnan(v)) {
        res = v;
        break;
      }
      res = std::max(res, v);
    }
    rep.residuals.push_back(res);
    const size_t count = rep.residuals.size();
    if (count == 1) {
      tolerance = c.absTol + c.relTol * (std::isfinite(res) ? res : 0.0);
      rep.tolerance = tolerance;
    }
    const bool finite = std::isfinite(res);
    if (finite) {
      if (res <= tolerance) break;
      const double prev = count > 1 ? rep.residuals[count - 2] : std::numeric_limits<double>::infinity();
      if (res >= prev && res <= 64 * eps * std::max(1.0, maxAbs())) {
        rep.stalled = true;
        break;
      }
    }
    if (!finite) return fallBack(FallbackReason::NonFinite);
    growth = count >= 2 && res > rep.residuals[count - 2] ? growth + 1 : 0;
    if (growth >= 2) return fallBack(FallbackReason::Growing);
    if (rep.iterations >= c.maxIterations) {
      if (c.onMaxIterations == OnMaxIterations::Return) {
        rep.termination = Termination::MaxIterations;
        rep.reason = FallbackReason::MaxIterations;
        return rep;
      }
      return fallBack(FallbackReason::MaxIterations);
    }
    // δ_t = J_t δ_{t-1} + r_t in place; a non-finite δ shows up as a non-finite residual next round.
    const SolveReport s = cpu::solveLinearRecurrence(solverParams(p, jac.data(), r.data(), Direction::Forward));
    if (s.status != Status::Ok && s.status != Status::NonFinite) {
      rep.solve = s;
      return rep;
    }
    parallel(p, tk.count, [&](int64_t i) {
      int64_t b, t0, t1;
      rows(i, b, t0, t1);
      const int64_t lo = (b * p.length + t0) * S, hi = (b * p.length + t1) * S;
      if (omega == 1)
        for (int64_t q = lo; q < hi; ++q) h[q] = h[q] + r[q];
      else
        for (int64_t q = lo; q < hi; ++q) h[q] = static_cast<T>(h[q] + omega * r[q]);
    });
    rep.iterations++;
  }
  return rep;
}

template <typename T>
SolveReport backward(const CellParams<T>& p, const T* states, T* lambda, double* dP, double* dA, double* dC, T* dh0) {
  SolveReport rep = checkParams(p);
  if (rep.status != Status::Ok) return rep;
  if (!states || !lambda || !dP || !dA || !dh0 || (p.kind == CellKind::LSTM && !dC))
    return invalid<T>("cells: backward buffers must not be null (%lld)", 0);
  const int64_t D = p.size, S = stateWidth(p), k = blocksOf(p.kind), G = 3 * D;
  const int64_t n = p.batch * p.length * S;
  std::vector<T> jac(static_cast<size_t>(n * k));
  evaluate(p, states, static_cast<T*>(nullptr), jac.data());
  const SolveReport s = cpu::solveLinearRecurrence(solverParams(p, jac.data(), lambda, Direction::Reverse));
  if (s.status != Status::Ok) return s;
  jac.clear();
  jac.shrink_to_fit();
  const Tasks tk = tasksOf(p);
  const int64_t W = 5 * D;  // per-task partials: gA [3, D], gC [2, D]
  std::vector<double> partial(static_cast<size_t>(tk.count * W), 0.0);
  parallel(p, tk.count, [&](int64_t i) {
    const int64_t b = i / tk.chunks, t0 = (i % tk.chunks) * tk.chunk, t1 = std::min(p.length, t0 + tk.chunk);
    double* gA = partial.data() + i * W;
    double* gC = gA + 3 * D;
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t m = b * p.length + t;
      const T* prev = prevOf(p, states, b, t);
      T* dprev = t == 0 ? dh0 + b * S : nullptr;
      if (p.kind == CellKind::GRU)
        gruCotangent(D, p.A, p.projection + m * G, prev, lambda + m * S, dprev, dP + m * G, gA);
      else
        lstmCotangent(D, p.A, p.C, p.projection + m * G, prev, lambda + m * S, dprev, dP + m * G, gA, gC);
    }
  });
  std::fill(dA, dA + 3 * D, 0.0);
  if (dC) std::fill(dC, dC + 2 * D, 0.0);
  for (int64_t i = 0; i < tk.count; ++i) {
    const double* gA = partial.data() + i * W;
    for (int64_t q = 0; q < 3 * D; ++q) dA[q] += gA[q];
    if (dC)
      for (int64_t q = 0; q < 2 * D; ++q) dC[q] += gA[3 * D + q];
  }
  rep.schedule = "cells-backward";
  return rep;
}

#define PARASCAN_CELLS_INSTANTIATE(T)                                                                           \
  template SolveReport checkParams<T>(const CellParams<T>&);                                                    \
  template SolveReport sequential<T>(const CellParams<T>&, T*);                                                 \
  template SolveReport evaluate<T>(const CellParams<T>&, const T*, T*, T*);                                     \
  template NewtonReport newton<T>(const CellParams<T>&, const NewtonControls&, T*);                             \
  template SolveReport backward<T>(const CellParams<T>&, const T*, T*, double*, double*, double*, T*);

PARASCAN_CELLS_INSTANTIATE(float)
PARASCAN_CELLS_INSTANTIATE(double)

}  // namespace parascan::cells
