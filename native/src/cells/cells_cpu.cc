// CPU driver of the ParaGRU / ParaLSTM kernels (see native/include/parascan/cells.h): picks the
// instruction set's kernel table (cell_kernels.h), tiles the work over the solver's thread pool,
// and runs the Newton policy of packages/solvers' solveNewton. Reductions keep one partial per
// task and combine them in task order (deterministic for a given thread count and shape).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "cell_kernel_table.h"
#include "parascan/cells.h"
#include "parascan/cpu.h"
#include "thread_pool.h"

#if defined(PARASCAN_HAVE_BLAS)
#include <cblas.h>
#endif

namespace parascan::cells {
namespace {

const CellIsaKernels& kernels() {
  // Follow the linear-recurrence solver's choice (it honours PARASCAN_CPU_ISA and setIsa).
  const std::string isa = cpu::activeIsa();
#if defined(PARASCAN_HAVE_X86_VARIANTS)
  if (isa == "avx512") return kCellAvx512Kernels;
  if (isa == "avx2") return kCellAvx2Kernels;
#endif
  return kCellBaselineKernels;
}

template <typename T>
const CellKernelTable<T>& tableOf(const CellIsaKernels& k);
template <>
const CellKernelTable<float>& tableOf<float>(const CellIsaKernels& k) {
  return k.f32;
}
template <>
const CellKernelTable<double>& tableOf<double>(const CellIsaKernels& k) {
  return k.f64;
}

int threadsOf(int32_t requested) {
  const int t = requested > 0 ? requested : cpu::ThreadPool::instance().defaultThreads();
  return std::max(1, t);
}

void parallel(int32_t threads, int64_t tasks, const std::function<void(int64_t)>& fn) {
  cpu::ThreadPool::instance().parallelFor(tasks, threads, fn);
}

// Time chunks for the point-parallel passes: 256 steps, shorter when that leaves threads idle.
struct Chunks {
  int64_t length;  // steps per chunk
  int64_t perRow;
  int64_t count;   // B · perRow
};

template <typename T>
Chunks chunksOf(const CellParams<T>& p) {
  const int64_t threads = threadsOf(p.threads);
  int64_t len = 256;
  const int64_t want = 2 * threads;  // at least two tasks per thread when the shape allows
  if (p.batch * ((p.length + len - 1) / len) < want && p.length > 32) {
    const int64_t perRow = (want + p.batch - 1) / p.batch;
    len = std::max<int64_t>(16, (p.length + perRow - 1) / perRow);
  }
  Chunks c;
  c.length = len;
  c.perRow = (p.length + len - 1) / len;
  c.count = p.batch * c.perRow;
  return c;
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

// One evaluation pass over every (b, chunk) in parallel; the chunk-final rows that other tasks
// read (see EvalJob) are written after the region. Returns the max |residual| (NaN if non-finite).
template <typename T>
double evalPass(const CellParams<T>& p, const EvalJob<T>& job) {
  const CellKernelTable<T>& k = tableOf<T>(kernels());
  const Chunks ch = chunksOf(p);
  const int64_t S = stateWidth(p), Tn = p.length;
  const bool defer = job.delta != nullptr;  // only then does a task write what its successor reads
  std::vector<T> deferH(defer ? static_cast<size_t>(ch.count * S) : 0), deferOut(deferH.size());
  std::vector<double> partial(static_cast<size_t>(ch.count), 0.0);
  parallel(p.threads, ch.count, [&](int64_t i) {
    const int64_t b = i / ch.perRow, t0 = (i % ch.perRow) * ch.length, t1 = std::min(Tn, t0 + ch.length);
    partial[i] = k.evalChunk(p, job, b, t0, t1, defer ? deferH.data() + i * S : nullptr, defer ? deferOut.data() + i * S : nullptr);
  });
  if (defer) {
    for (int64_t i = 0; i < ch.count; ++i) {
      const int64_t b = i / ch.perRow, t0 = (i % ch.perRow) * ch.length, t1 = std::min(Tn, t0 + ch.length);
      if (t1 >= Tn) continue;
      const int64_t row = (b * Tn + t1 - 1) * S;
      std::memcpy(job.states + row, deferH.data() + i * S, sizeof(T) * static_cast<size_t>(S));
      if (job.out) std::memcpy(job.out + row, deferOut.data() + i * S, sizeof(T) * static_cast<size_t>(S));
    }
  }
  double res = 0;
  for (double v : partial) {
    if (std::isnan(v)) return v;
    res = std::max(res, v);
  }
  return res;
}

}  // namespace

const char* activeCellIsa() { return kernels().name; }

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
  const CellKernelTable<T>& k = tableOf<T>(kernels());
  // Every lane is its own recurrence: split rows across threads (each task steps its rows in
  // lockstep, independent chains for the out-of-order core), and lanes too when rows are fewer
  // than threads. Lane tiles are whole vectors.
  const int64_t threads = threadsOf(p.threads), W = k.vectorWidth, D = p.size;
  struct Tile {
    int64_t b0, b1, j0, j1;
  };
  std::vector<Tile> tiles;
  // Rows stepped together by one task: just enough for ~8 independent vectors (more rows per task
  // only add concurrent memory streams: measured slower at D = 64).
  const int64_t vectorsPerRow = blocksOf(p.kind) * ((D + W - 1) / W);  // LSTM: the c and h halves
  const int64_t rowsPerTask = std::max<int64_t>(1, std::min<int64_t>((8 + vectorsPerRow - 1) / vectorsPerRow, (p.batch + threads - 1) / threads));
  if (p.batch >= threads) {
    for (int64_t b0 = 0; b0 < p.batch; b0 += rowsPerTask) tiles.push_back({b0, std::min(p.batch, b0 + rowsPerTask), 0, D});
  } else {
    const int64_t vectors = (D + W - 1) / W;
    const int64_t perRow = std::min<int64_t>(vectors, (threads + p.batch - 1) / p.batch);
    for (int64_t b = 0; b < p.batch; ++b)
      for (int64_t i = 0; i < perRow; ++i) {
        const int64_t j0 = std::min(D, vectors * i / perRow * W), j1 = std::min(D, vectors * (i + 1) / perRow * W);
        if (j1 > j0) tiles.push_back({b, b + 1, j0, j1});
      }
  }
  std::vector<char> bad(tiles.size(), 0);
  parallel(p.threads, static_cast<int64_t>(tiles.size()), [&](int64_t i) {
    const Tile& t = tiles[static_cast<size_t>(i)];
    bad[static_cast<size_t>(i)] = k.sequentialTile(p, t.b0, t.b1, t.j0, t.j1, out) ? 1 : 0;
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
  EvalJob<T> job;
  job.states = const_cast<T*>(states);  // read only: no delta
  job.out = out;
  job.jac = jacobians;
  evalPass(p, job);
  rep.schedule = "cells-evaluate";
  return rep;
}

namespace {

// The policy shared by both schedules: records the residual and decides what happens next.
enum class Next { Update, Done, FallBack };

struct Policy {
  const NewtonControls& c;
  NewtonReport& rep;
  double eps;
  int growth = 0;
  double tolerance = 0;
  FallbackReason why = FallbackReason::None;

  template <typename MaxAbs>
  Next next(double res, MaxAbs maxAbs) {
    rep.residuals.push_back(res);
    const size_t count = rep.residuals.size();
    if (count == 1) {
      tolerance = c.absTol + c.relTol * (std::isfinite(res) ? res : 0.0);
      rep.tolerance = tolerance;
    }
    const bool finite = std::isfinite(res);
    if (finite) {
      if (res <= tolerance) return Next::Done;
      const double prev = count > 1 ? rep.residuals[count - 2] : std::numeric_limits<double>::infinity();
      if (res >= prev && res <= 64 * eps * std::max(1.0, maxAbs())) {
        rep.stalled = true;
        return Next::Done;
      }
    }
    if (!finite) {
      why = FallbackReason::NonFinite;
      return Next::FallBack;
    }
    growth = count >= 2 && res > rep.residuals[count - 2] ? growth + 1 : 0;
    if (growth >= 2) {
      why = FallbackReason::Growing;
      return Next::FallBack;
    }
    if (rep.iterations >= c.maxIterations) {
      if (c.onMaxIterations == OnMaxIterations::Return) {
        rep.termination = Termination::MaxIterations;
        rep.reason = FallbackReason::MaxIterations;
        return Next::Done;
      }
      why = FallbackReason::MaxIterations;
      return Next::FallBack;
    }
    return Next::Update;
  }

  // After Done: is the answer as close to the exact solution as the residual suggests? `estimate`
  // is max |δ| of the Newton step that would follow (see FallbackReason::IllConditioned).
  // maxAbs (a pass over every state) is only called when the bound for max|h| ≤ 1 is exceeded.
  template <typename MaxAbs>
  bool accept(double estimate, int64_t length, MaxAbs maxAbs) {
    rep.errorEstimate = estimate;
    if (estimate <= acceptableStep(tolerance, eps, length, 1.0) || estimate <= acceptableStep(tolerance, eps, length, maxAbs())) return true;
    why = FallbackReason::IllConditioned;
    return false;
  }
};

// Multiple shooting (FusedSchedule::Shooting, see cells.h).
template <typename T>
bool shooting(const CellParams<T>& p, const NewtonControls& c, T* h, NewtonReport& rep, Policy& policy) {
  const CellKernelTable<T>& k = tableOf<T>(kernels());
  const int64_t D = p.size, S = stateWidth(p), K = blocksOf(p.kind), Tn = p.length, B = p.batch;
  const int64_t threads = threadsOf(p.threads);
  const int64_t vectors = K * ((D + k.vectorWidth - 1) / k.vectorWidth);  // per row and step (LSTM: c and h)
  // Chunks stepped in lockstep by one task: enough for ~8 independent vector chains.
  int64_t group = std::min<int64_t>(kMaxSweepGroup, std::max<int64_t>(1, (8 + vectors - 1) / vectors));
  // Chunks per row: one when every thread already steps enough rows × vectors in lockstep (then the
  // schedule is the sequential loop itself); else enough tasks for every thread, none shorter than 16 steps.
  int64_t C = group * std::max<int64_t>(1, (threads + B - 1) / B);
  if ((B / threads) * vectors >= 8) C = 1;
  C = std::max<int64_t>(1, std::min<int64_t>(C, Tn / 16));
  group = std::min(group, C);
  const int64_t groups = (C + group - 1) / group;
  std::vector<int64_t> t0s(static_cast<size_t>(C)), t1s(static_cast<size_t>(C));
  for (int64_t i = 0; i < C; ++i) {
    t0s[i] = Tn * i / C;
    t1s[i] = Tn * (i + 1) / C;
  }
  const int64_t PS = K * S, PE = PS + D;  // one propagator [k, k, D] and its peak gain [D]
  std::vector<T> starts(static_cast<size_t>(B * C * S), T(0)), phis(C > 1 ? static_cast<size_t>(B * C * PE) : 0), delta(static_cast<size_t>(S));
  std::vector<char> dirty(static_cast<size_t>(B * C), 1), bad(static_cast<size_t>(B * groups), 0);
  const T omega = static_cast<T>(c.damping);
  for (;;) {
    parallel(p.threads, B * groups, [&](int64_t task) {
      const int64_t b = task / groups, c0 = (task % groups) * group, c1 = std::min(C, c0 + group);
      int64_t a0[kMaxSweepGroup], a1[kMaxSweepGroup];
      const T* st[kMaxSweepGroup];
      T* ph[kMaxSweepGroup];
      int g = 0;
      for (int64_t ci = c0; ci < c1; ++ci) {
        if (!dirty[b * C + ci]) continue;
        a0[g] = t0s[ci];
        a1[g] = t1s[ci];
        st[g] = ci == 0 ? (p.initial ? p.initial + b * S : nullptr) : starts.data() + (b * C + ci) * S;
        ph[g] = C > 1 ? phis.data() + (b * C + ci) * PE : nullptr;
        ++g;
      }
      bad[task] = g > 0 && k.sweepChunks(p, b, a0, a1, g, st, h, C > 1 ? ph : nullptr) ? 1 : 0;
    });
    double res = 0;
    for (char x : bad)
      if (x) res = std::numeric_limits<double>::quiet_NaN();
    for (int64_t b = 0; b < B && !std::isnan(res); ++b)
      for (int64_t ci = 1; ci < C; ++ci) {
        const T* end = h + (b * Tn + t1s[ci - 1] - 1) * S;
        const T* st = starts.data() + (b * C + ci) * S;
        for (int64_t s = 0; s < S; ++s) res = std::max(res, std::fabs(static_cast<double>(end[s] - st[s])));
      }
    auto maxAbs = [&]() {
      double m = 0;
      for (int64_t i = 0; i < B * Tn * S; ++i) m = std::max(m, std::fabs(static_cast<double>(h[i])));
      return m;
    };
    const Next nx = policy.next(res, maxAbs);
    if (nx == Next::FallBack) return false;
    // δ_c = (end_{c-1} − s_c) + Φ_{c-1} δ_{c-1}, δ_0 = 0; s_c += ωδ_c (only when updating). δ_c
    // is, to first order, how far chunk c's start is from the exact solution, and chunk c's peak gain
    // times |δ_c| how far any state inside it is: their max is the check after convergence.
    const bool update = nx == Next::Update;
    const double roundingScale = 2 * policy.eps;  // per step, for states of order 1 (GRU |h| < 1, LSTM |c| ≤ max(1, |c0|))
    double estimate = 0;
    for (int64_t b = 0; b < B; ++b) {
      std::fill(delta.begin(), delta.end(), T(0));
      for (int64_t ci = 1; ci < C; ++ci) {
        const T* end = h + (b * Tn + t1s[ci - 1] - 1) * S;
        T* st = starts.data() + (b * C + ci) * S;
        const T* ph = phis.data() + (b * C + ci - 1) * PE;
        const T* peak = phis.data() + (b * C + ci) * PE + PS;
        bool changed = false;
        for (int64_t j = 0; j < D; ++j) {
          T d0, d1 = 0;
          if (K == 1) {
            d0 = (end[j] - st[j]) + ph[j] * delta[j];
          } else {
            d0 = (end[j] - st[j]) + ph[j] * delta[j] + ph[D + j] * delta[D + j];
            d1 = (end[D + j] - st[D + j]) + ph[2 * D + j] * delta[j] + ph[3 * D + j] * delta[D + j];
          }
          delta[j] = d0;
          if (K == 2) delta[D + j] = d1;
          // The chunk re-runs the loop from a start off by δ_c, and every step of it rounds at values
          // off from sequential's: both grow by up to the chunk's peak gain. (The global schedule sees
          // the rounding in its residual; here the inside of a chunk has none.)
          const double size = std::max(std::fabs(static_cast<double>(d0)), std::fabs(static_cast<double>(d1)));
          estimate = std::max(estimate, (size + roundingScale) * std::max(1.0, static_cast<double>(peak[j])));
          if (!(size == size)) estimate = size;  // NaN
          if (!update) continue;
          const T n0 = st[j] + omega * d0;
          changed |= n0 != st[j];
          st[j] = n0;
          if (K == 2) {
            const T n1 = st[D + j] + omega * d1;
            changed |= n1 != st[D + j];
            st[D + j] = n1;
          }
        }
        if (update) dirty[b * C + ci] = changed ? 1 : 0;
      }
      dirty[b * C] = 0;  // the first chunk starts from the exact initial state: done after one sweep
    }
    if (!update) {
      if (rep.termination == Termination::MaxIterations) return true;  // asked for as is
      return policy.accept(estimate, p.length, maxAbs);  // a NaN estimate fails it too
    }
    rep.iterations++;
  }
}

}  // namespace

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
  Policy policy{c, rep, std::numeric_limits<T>::epsilon()};
  auto fallBack = [&](FallbackReason why) {
    rep.termination = Termination::FallbackSequential;
    rep.reason = why;
    SolveReport s = sequential(p, h);
    if (s.status != Status::Ok) rep.solve = s;
    rep.solve.schedule = "cells-fused-fallback";
    return rep;
  };
  if (c.schedule != FusedSchedule::Global) {
    rep.solve.schedule = "cells-fused-shooting";
    if (!shooting(p, c, h, rep, policy)) return fallBack(policy.why);
    return rep;
  }
  const int64_t S = stateWidth(p);
  const int64_t n = p.batch * p.length * S;
  const int64_t k = blocksOf(p.kind);
  std::vector<T> r(static_cast<size_t>(n));
  std::vector<T> jac(static_cast<size_t>(n * k));

  // First guess: f(0, x_t) (f(initial, x_0) at t = 0).
  {
    EvalJob<T> first;
    first.states = h;
    first.out = h;
    first.zeroPrev = true;
    evalPass(p, first);
  }
  auto maxAbs = [&]() {
    double m = 0;
    for (int64_t i = 0; i < n; ++i) m = std::max(m, std::fabs(static_cast<double>(h[i])));
    return m;
  };
  bool pending = false;  // r holds a δ not yet added to h
  rep.solve.schedule = "cells-fused-global";
  for (;;) {
    // One pass: h += ωδ (pending), then r = f(h) − h and the Jacobians at h, and max |r|.
    EvalJob<T> job;
    job.states = h;
    job.delta = pending ? r.data() : nullptr;
    job.omega = static_cast<T>(c.damping);
    job.out = r.data();
    job.jac = jac.data();
    job.residual = true;
    const double res = evalPass(p, job);
    pending = false;
    const Next nx = policy.next(res, maxAbs);
    if (nx == Next::FallBack) return fallBack(policy.why);
    // δ_t = J_t δ_{t-1} + r_t in place; a non-finite δ shows up as a non-finite residual next pass.
    const SolveReport s = cpu::solveLinearRecurrence(solverParams(p, jac.data(), r.data(), Direction::Forward));
    if (s.status != Status::Ok && s.status != Status::NonFinite) {
      rep.solve = s;
      return rep;
    }
    if (nx == Next::Done && rep.termination == Termination::MaxIterations) break;  // asked for as is
    if (nx == Next::Done) {
      // The step that would follow, solved but not taken: its size is the error estimate (one
      // more linear solve per call; see FallbackReason::IllConditioned).
      double estimate = 0;
      for (int64_t i = 0; i < n; ++i) {
        const double a = std::fabs(static_cast<double>(r[i]));
        if (a > estimate) estimate = a;
        if (a != a) {  // NaN: std::max would drop it
          estimate = a;
          break;
        }
      }
      if (!policy.accept(estimate, p.length, maxAbs)) return fallBack(policy.why);  // a NaN estimate fails it too
      break;
    }
    pending = true;
    rep.iterations++;
  }
  return rep;
}

template <typename T>
SolveReport backward(const CellParams<T>& p, const T* states, T* lambda, T* dP, double* dA, double* dC, T* dh0) {
  SolveReport rep = checkParams(p);
  if (rep.status != Status::Ok) return rep;
  if (!states || !lambda || !dP || !dA || !dh0 || (p.kind == CellKind::LSTM && !dC))
    return invalid<T>("cells: backward buffers must not be null (%lld)", 0);
  const int64_t D = p.size, S = stateWidth(p), k = blocksOf(p.kind);
  const int64_t n = p.batch * p.length * S;
  {
    std::vector<T> jac(static_cast<size_t>(n * k));
    EvalJob<T> job;
    job.states = const_cast<T*>(states);  // read only: no delta
    job.jac = jac.data();
    evalPass(p, job);
    const SolveReport s = cpu::solveLinearRecurrence(solverParams(p, jac.data(), lambda, Direction::Reverse));
    if (s.status != Status::Ok) return s;
  }
  const CellKernelTable<T>& kt = tableOf<T>(kernels());
  const Chunks ch = chunksOf(p);
  const int64_t W = 5 * D;  // per-task partials: gA [3, D], gC [2, D]
  std::vector<double> partial(static_cast<size_t>(ch.count * W), 0.0);
  parallel(p.threads, ch.count, [&](int64_t i) {
    const int64_t b = i / ch.perRow, t0 = (i % ch.perRow) * ch.length, t1 = std::min(p.length, t0 + ch.length);
    double* gA = partial.data() + i * W;
    kt.cotangentChunk(p, states, lambda, dP, dh0, gA, gA + 3 * D, b, t0, t1);
  });
  std::fill(dA, dA + 3 * D, 0.0);
  if (dC) std::fill(dC, dC + 2 * D, 0.0);
  for (int64_t i = 0; i < ch.count; ++i) {
    const double* gA = partial.data() + i * W;
    for (int64_t q = 0; q < 3 * D; ++q) dA[q] += gA[q];
    if (dC)
      for (int64_t q = 0; q < 2 * D; ++q) dC[q] += gA[3 * D + q];
  }
  rep.schedule = "cells-backward";
  return rep;
}

#if defined(PARASCAN_HAVE_BLAS)
namespace {
void gemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m, int n, int k, const float* a, int lda, const float* b, int ldb, float beta,
          float* c, int ldc) {
  cblas_sgemm(CblasRowMajor, ta, tb, m, n, k, 1.0f, a, lda, b, ldb, beta, c, ldc);
}
void gemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m, int n, int k, const double* a, int lda, const double* b, int ldb, double beta,
          double* c, int ldc) {
  cblas_dgemm(CblasRowMajor, ta, tb, m, n, k, 1.0, a, lda, b, ldb, beta, c, ldc);
}
void gemv(int m, int n, const float* a, const float* x, float* y) {
  cblas_sgemv(CblasRowMajor, CblasTrans, m, n, 1.0f, a, n, x, 1, 0.0f, y, 1);
}
void gemv(int m, int n, const double* a, const double* x, double* y) {
  cblas_dgemv(CblasRowMajor, CblasTrans, m, n, 1.0, a, n, x, 1, 0.0, y, 1);
}
}  // namespace

template <typename T>
bool projectionVjp(const ProjectionVjpParams<T>& p) {
  const int64_t M = p.points, Din = p.inputSize, D = p.stateSize, H = p.heads, G = p.gates;
  if (M < 1 || Din < 1 || D < 1 || H < 1 || G < 1 || Din % H != 0 || D % H != 0) return false;
  if (!p.x || !p.weight || !p.dP || !p.dW || !p.db) return false;
  const int64_t limit = int64_t{1} << 30;  // cblas takes int sizes
  if (M > limit || G * D > limit || Din > limit) return false;
  const int m = static_cast<int>(M), gd = static_cast<int>(G * D), din = static_cast<int>(Din);
  const int Di = static_cast<int>(Din / H), Dh = static_cast<int>(D / H);
  openblas_set_num_threads(std::max(1, cpu::threadCount()));
  if (H == 1) {
    // One head: W is [Din, G·D] and dP [M, G·D], both contiguous, so two GEMMs cover every gate
    // (about 1.6× faster than one pair per gate at M = 32768, D = 64).
    if (p.dx) gemm(CblasNoTrans, CblasTrans, m, din, gd, p.dP, gd, p.weight, gd, T(0), p.dx, din);
    gemm(CblasTrans, CblasNoTrans, din, gd, m, p.x, din, p.dP, gd, T(0), p.dW, gd);
  }
  for (int64_t h = 0; h < H && H > 1; ++h) {
    const T* wh = p.weight + h * Di * G * Dh;  // W[h, i, g, j], row i of G·Dh
    for (int64_t g = 0; g < G; ++g) {
      const T* dPhg = p.dP + g * D + h * Dh;  // dP[m, g, h·Dh + j], rows of G·D
      // dx[:, h·Di + i] (+)= Σ_j dP[m, g, h·Dh + j] · W[h, i, g, j]
      if (p.dx) gemm(CblasNoTrans, CblasTrans, m, Di, Dh, dPhg, gd, wh + g * Dh, static_cast<int>(G * Dh), g == 0 ? T(0) : T(1), p.dx + h * Di, din);
      // dW[h, i, g, j] = Σ_m x[m, h·Di + i] · dP[m, g, h·Dh + j]
      gemm(CblasTrans, CblasNoTrans, Di, Dh, m, p.x + h * Di, din, dPhg, gd, T(0), p.dW + h * Di * G * Dh + g * Dh, static_cast<int>(G * Dh));
    }
  }
  std::vector<T> ones(static_cast<size_t>(M), T(1));
  gemv(m, gd, p.dP, ones.data(), p.db);
  return true;
}
#else
template <typename T>
bool projectionVjp(const ProjectionVjpParams<T>&) {
  return false;
}
#endif

#define PARASCAN_CELLS_INSTANTIATE(T)                                                                           \
  template SolveReport checkParams<T>(const CellParams<T>&);                                                    \
  template SolveReport sequential<T>(const CellParams<T>&, T*);                                                 \
  template SolveReport evaluate<T>(const CellParams<T>&, const T*, T*, T*);                                     \
  template NewtonReport newton<T>(const CellParams<T>&, const NewtonControls&, T*);                             \
  template SolveReport backward<T>(const CellParams<T>&, const T*, T*, T*, double*, double*, T*);               \
  template bool projectionVjp<T>(const ProjectionVjpParams<T>&);

PARASCAN_CELLS_INSTANTIATE(float)
PARASCAN_CELLS_INSTANTIATE(double)

}  // namespace parascan::cells
