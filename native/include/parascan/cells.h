// Native CPU kernels of ParaRNN's reference cells (shared/DESIGN.md §5): ParaGRU (diagonal
// Jacobian) and ParaLSTM (2×2 blocks of diagonals, state [c; h]). Plain C++, no Node.
//
// The input projection P = x·B + b stays with the caller; the kernels take it precomputed.
// Layouts (contiguous, batch-first, time-major inside a batch, the same as packages/cells):
//   projection P  [B, T, 3, D]     gate rows: GRU z, r, c; LSTM f, o, c
//   A             [3, D]           same gate rows
//   C             [2, D]           LSTM only (peepholes f, o); null for GRU
//   states h      [B, T, S]        S = D (GRU) or 2D (LSTM, [c; h])
//   initial       [B, S] or null   (zero)
//   jacobians     [B, T, k, k, D]  k = 1 (GRU) or 2 (LSTM): the solver's layout (linear_recurrence.h)
//
// Arithmetic: float32 cells compute in float32 with vectorised exp/tanh (a few ulp from the float64
// TypeScript reference), float64 cells in float64 through libm (equal to it up to libm rounding).
// The kernels are compiled per instruction set (baseline, AVX2+FMA, AVX-512) and follow
// parascan::cpu's run-time choice (cpu::activeIsa(), PARASCAN_CPU_ISA).
//
// Threads (the solver's pool): the sequential loop over (batch rows, lane tiles) (every lane of
// these cells is an independent recurrence); evaluations, Newton passes and VJPs over (batch row,
// time chunk); the linear solves through cpu::solveLinearRecurrence on preallocated buffers.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "parascan/linear_recurrence.h"

namespace parascan::cells {

enum class CellKind : int32_t { GRU = 0, LSTM = 1 };

template <typename T>
struct CellParams {
  CellKind kind = CellKind::GRU;
  int64_t batch = 0;   // B >= 1
  int64_t length = 0;  // T >= 1
  int64_t size = 0;    // D >= 1
  const T* projection = nullptr;  // [B, T, 3, D]
  const T* A = nullptr;           // [3, D]
  const T* C = nullptr;           // [2, D] (LSTM)
  const T* initial = nullptr;     // [B, S] or null
  int32_t threads = 0;            // 0: the pool's default
};

inline int64_t blocksOf(CellKind k) { return k == CellKind::LSTM ? 2 : 1; }
template <typename T>
int64_t stateWidth(const CellParams<T>& p) { return blocksOf(p.kind) * p.size; }

// Returns InvalidArgument (with a message) for malformed params, else Ok.
template <typename T>
SolveReport checkParams(const CellParams<T>& p);

// The plain sequential loop: out[b, t] = f(out[b, t-1], P[b, t]). NonFinite if a NaN/Inf appeared.
template <typename T>
SolveReport sequential(const CellParams<T>& p, T* out);

// For every (b, t) at once: out[b, t] = f(prev, P[b, t]) with prev = states[b, t-1] (t >= 1) or
// initial[b] (t = 0), and the closed-form Jacobian at the same point when `jacobians` is non-null.
// `out` may be null (Jacobians only); it must not alias `states`.
template <typename T>
SolveReport evaluate(const CellParams<T>& p, const T* states, T* out, T* jacobians);

enum class OnMaxIterations : int32_t { Fallback = 0, Return = 1 };

// How the fused Newton loop chooses its unknowns:
//   Global    every state h_t is an unknown (ParaRNN, packages/solvers' solveNewton): each iteration
//             evaluates f and J at every t, then one linear solve over all T.
//   Shooting  the unknowns are the states at the starts of C time chunks per row (multiple
//             shooting): each iteration runs the cell sequentially inside every chunk from its
//             current start (all chunks in parallel, several in lockstep per thread), multiplying
//             the chunk's Jacobians into its propagator Φ_c, then one Newton update of the starts,
//             δ_c = (end_{c-1} − s_c) + Φ_{c-1} δ_{c-1} (a linear recurrence over chunks), s += ωδ.
//             The residual is the same max-norm of h_t − f(h_{t-1}, x_t): zero inside chunks, the
//             mismatch at their starts. C is chosen to give every thread work; C = 1 (enough rows
//             and lanes) is the sequential loop itself, converged at once.
//   Auto      Shooting on the CPU (cheaper per iteration: one pass of the cell instead of
//             evaluation + Jacobians + solve + update, and fewer iterations); Global when asked.
enum class FusedSchedule : int32_t { Auto = 0, Global = 1, Shooting = 2 };

struct NewtonControls {
  FusedSchedule schedule = FusedSchedule::Auto;
  int32_t maxIterations = 30;
  double absTol = 0;  // the caller passes the dtype's default (4·eps)
  double relTol = 0;
  double damping = 1;  // ω in (0, 1]
  OnMaxIterations onMaxIterations = OnMaxIterations::Fallback;
};

enum class Termination : int32_t { Converged = 0, MaxIterations = 1, FallbackSequential = 2 };
// IllConditioned: the residual met the tolerance, but the Newton step that would follow (the
// linearised distance from the answer to the exact solution, `errorEstimate`) did not: the
// recurrence amplifies rounding (weights scaled up, chaotic dynamics), so a small residual no longer
// means an answer close to the sequential loop's. The sequential loop runs instead.
enum class FallbackReason : int32_t { None = 0, NonFinite = 1, Growing = 2, MaxIterations = 3, IllConditioned = 4 };

struct NewtonReport {
  SolveReport solve;  // InvalidArgument for bad params; NonFinite if even the sequential fallback overflowed
  int32_t iterations = 0;
  std::vector<double> residuals;  // first guess, then after every update (NaN where non-finite)
  Termination termination = Termination::Converged;
  FallbackReason reason = FallbackReason::None;
  bool stalled = false;
  double tolerance = 0;
  // After convergence: max |δ| of the next Newton step, which estimates how far the answer is from
  // the recurrence's exact solution. Accepted when ≤ acceptableStep(...).
  double errorEstimate = 0;
};

// The largest next step after convergence that still counts as converged: 16× the tolerance the
// caller asked for (a loose tolerance asks for a loose answer), and never below the rounding of a
// scan of `length` steps, 8·eps·√T·max(1, max|h|) (the agreement the tests demand between modes,
// DESIGN §6). Well-conditioned cells stay far below it (their next step is a few ε); one that
// amplifies rounding by orders of magnitude (weights ×100, chaos) exceeds it and falls back.
inline double acceptableStep(double tolerance, double eps, int64_t length, double maxAbs) {
  const double floor = 8 * eps * std::sqrt(static_cast<double>(length)) * (maxAbs > 1 ? maxAbs : 1.0);
  return 16 * tolerance > floor ? 16 * tolerance : floor;
}

// The whole Newton loop of packages/solvers' solveNewton (policy onDivergence 'fallback') in one
// call: first guess f(0, x_t); then evaluate + Jacobians (parallel over t), max-norm residual,
// convergence / stagnation / divergence tests, ONE forward linear solve, h += ω δ. Divergence
// (non-finite residual, or one growing 2 iterations in a row) runs the sequential loop instead.
// Memory: `out` (the states), one residual buffer [B, T, S] and one Jacobian buffer [B, T, k, k, D]
// (k·S per step), plus O(threads·S) scratch. Each iteration is one pass (the previous update
// h += ωδ, f, Jacobian, residual and its max-norm together) and one linear solve, in place.
template <typename T>
NewtonReport newton(const CellParams<T>& p, const NewtonControls& c, T* out);

// Backward pass (DESIGN §3) at the forward solution `states`:
//   lambda [B, T, S] holds g = dL/dh_t on entry (dFinalState already added to the last row) and
//   λ_t = g_t + J_{t+1}^T λ_{t+1} on return (one reversed linear solve);
//   dP [B, T, 3, D] (the cell's dtype), dA [3, D], dC [2, D] (LSTM; null for GRU), double: the VJPs
//   (dA, dC overwritten); dh0 [B, S]: dL/dh0.
// dA/dC sum per time chunk in T (32 steps at a time) and across chunks in double. dP feeds the
// projection's VJP (projectionVjp). Memory: one Jacobian buffer [B, T, k, k, D], freed before the VJPs.
template <typename T>
SolveReport backward(const CellParams<T>& p, const T* states, T* lambda, T* dP, double* dA, double* dC, T* dh0);

// The reverse of the input projection P = x·W + b (DESIGN §5) for a cotangent dP, through BLAS:
//   dx [M, Din] = per head dP_h · W_h^T (may be null), dW [H, Din/H, G, D/H] = x_h^T · dP_h,
//   db [G, D] = Σ_m dP[m]; all overwritten. False when this build has no BLAS or the sizes are
//   malformed (the caller then uses its own loop).
template <typename T>
struct ProjectionVjpParams {
  int64_t points = 0, inputSize = 0, stateSize = 0, heads = 1, gates = 3;
  const T* x = nullptr;
  const T* weight = nullptr;
  const T* dP = nullptr;
  T* dx = nullptr;
  T* dW = nullptr;
  T* db = nullptr;
};
template <typename T>
bool projectionVjp(const ProjectionVjpParams<T>& p);

// The instruction set the cell kernels run with ("avx512", "avx2", "baseline").
const char* activeCellIsa();

}  // namespace parascan::cells
