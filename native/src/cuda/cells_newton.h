// The control logic of the cells' fused Newton loop and backward pass, written once over an
// abstract executor so that the CUDA launcher (cells_host.cuh) and the CPU emulation of the
// kernels (native/tests/gpu/emulator/) run exactly the same sequence of launches. Plain C++.
//
// The policy is native/src/cells/cells_cpu.cc's newton() (itself packages/solvers' solveNewton
// with onDivergence 'fallback'): first guess f(0, x_t); per iteration the residual and Jacobians
// at every point, the max-norm test (converged / stalled / non-finite / growing twice / out of
// iterations), one forward linear solve δ_t = J_t δ_{t-1} + r_t, h += ω δ. Divergence runs the
// sequential loop instead. After convergence, the size of the step that would follow is checked
// (FallbackReason::IllConditioned).
//
// Executor interface (each returns false after writing a DeviceError into `report`):
//   int64_t length()                                 T (the scan length, for acceptableStep)
//   bool firstGuess(SolveReport&)                    h = f(0, x_t) at every point
//   bool residual(cellkernels::NewtonProbe&, SolveReport&)
//                                                    r = f(h) − h, J at h, max-norms, ONE read-back
//   bool solveForward(SolveReport&)                  r ← δ (in place), enqueued, no read-back
//   bool update(double omega, SolveReport&)          h += ω r
//   bool stepNorm(cellkernels::NewtonProbe&, SolveReport&)
//                                                    max |r| (after solveForward: |δ|) and max |h|, ONE read-back
//   bool sequential(SolveReport&)                    h = the sequential loop; NonFinite in the report
//   bool jacobiansAt(SolveReport&)                   J at the given states (backward)
//   bool solveReverse(SolveReport&)                  λ ← the reversed solve (in place), checked
//   bool cotangents(SolveReport&)                    dP, dh0 and the parameter partial sums
//   bool sumParameters(SolveReport&)                 dA, dC from the partial sums; waits for the end
#pragma once

#include <cmath>
#include <cstdio>
#include <limits>

#include "cells_kernels.cuh"
#include "parascan/cells.h"
#include "parascan/linear_recurrence.h"

namespace parascan::cuda::cellkernels {

// The scan's "look-back timed out" status bit (linear_recurrence.cuh's kStatusLookBackTimeout).
constexpr int32_t kScanStatusTimeout = 2;

template <typename T, typename Executor>
::parascan::cells::NewtonReport runNewton(Executor& run, const ::parascan::cells::NewtonControls& c) {
  using namespace ::parascan::cells;
  NewtonReport rep;
  rep.solve.schedule = "cuda-cells-fused";
  if (!run.firstGuess(rep.solve)) return rep;
  auto fallBack = [&](FallbackReason why) {
    rep.termination = Termination::FallbackSequential;
    rep.reason = why;
    SolveReport s;
    s.schedule = "cuda-cells-fused-fallback";
    run.sequential(s);
    rep.solve = s;
    return rep;
  };
  const double eps = std::numeric_limits<T>::epsilon();
  int growth = 0;
  double tolerance = c.absTol;
  for (;;) {
    NewtonProbe probe{};
    if (!run.residual(probe, rep.solve)) return rep;
    if ((probe.scanStatus & kScanStatusTimeout) != 0) {
      rep.solve.status = Status::DeviceError;
      std::snprintf(rep.solve.message, sizeof(rep.solve.message),
                    "internal error: the decoupled look-back of the Newton step's linear solve timed out");
      return rep;
    }
    const double res = probe.residual;
    rep.residuals.push_back(res);
    const size_t count = rep.residuals.size();
    if (count == 1) {
      tolerance = c.absTol + c.relTol * (std::isfinite(res) ? res : 0.0);
      rep.tolerance = tolerance;
    }
    const bool finite = std::isfinite(res);
    if (finite) {
      bool done = res <= tolerance;
      const double previous = count > 1 ? rep.residuals[count - 2] : std::numeric_limits<double>::infinity();
      if (!done && res >= previous && res <= 64 * eps * std::max(1.0, probe.stateNorm)) rep.stalled = done = true;
      if (done) {
        // The step that would follow, solved but not taken: its size estimates the distance to the
        // exact solution (cells.h, FallbackReason::IllConditioned). One more solve and read-back.
        NewtonProbe step{};
        if (!run.solveForward(rep.solve) || !run.stepNorm(step, rep.solve)) return rep;
        if ((step.scanStatus & kScanStatusTimeout) != 0) {
          rep.solve.status = Status::DeviceError;
          std::snprintf(rep.solve.message, sizeof(rep.solve.message),
                        "internal error: the decoupled look-back of the Newton step's linear solve timed out");
          return rep;
        }
        rep.errorEstimate = step.residual;
        if (!(step.residual <= acceptableStep(tolerance, eps, run.length(), step.stateNorm))) return fallBack(FallbackReason::IllConditioned);
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
    // A non-finite δ shows up as a non-finite residual next round (as on the CPU).
    if (!run.solveForward(rep.solve)) return rep;
    if (!run.update(c.damping, rep.solve)) return rep;
    rep.iterations++;
  }
  return rep;
}

template <typename Executor>
SolveReport runBackward(Executor& run) {
  SolveReport report;
  report.schedule = "cuda-cells-backward";
  if (!run.jacobiansAt(report) || !run.solveReverse(report) || !run.cotangents(report) || !run.sumParameters(report))
    return report;
  return report;
}

// cells.h's checkParams, for the CUDA entry points (which do not link the CPU library).
template <typename T>
bool checkCellParams(const ::parascan::cells::CellParams<T>& p, SolveReport& report) {
  using ::parascan::cells::CellKind;
  auto fail = [&](const char* text, long long value) {
    report.status = Status::InvalidArgument;
    std::snprintf(report.message, sizeof(report.message), text, value);
    return false;
  };
  if (p.kind != CellKind::GRU && p.kind != CellKind::LSTM) return fail("cells (cuda): unknown cell kind %lld", (long long)p.kind);
  if (p.batch < 1) return fail("cells (cuda): batch must be >= 1; got %lld", (long long)p.batch);
  if (p.length < 1) return fail("cells (cuda): length must be >= 1; got %lld", (long long)p.length);
  if (p.size < 1) return fail("cells (cuda): size must be >= 1; got %lld", (long long)p.size);
  if (!p.projection || !p.A) return fail("cells (cuda): projection and A must not be null (%lld)", 0);
  if (p.kind == CellKind::LSTM && !p.C) return fail("cells (cuda): ParaLSTM needs C (%lld)", 0);
  // Sizes: B·T·k·k·D elements must fit comfortably in int64 (and in bytes).
  const long double total = (long double)p.batch * (long double)p.length * 4.0L * (long double)p.size * 8.0L;
  if (total > (long double)(int64_t(1) << 60))
    return fail("cells (cuda): problem too large: B·T·D·32 bytes of buffers overflow (batch %lld)", (long long)p.batch);
  return true;
}

template <typename T>
bool checkNewtonControls(const ::parascan::cells::NewtonControls& c, SolveReport& report) {
  if (c.maxIterations < 1 || !(c.damping > 0 && c.damping <= 1) || !(c.absTol >= 0) || !(c.relTol >= 0)) {
    report.status = Status::InvalidArgument;
    std::snprintf(report.message, sizeof(report.message),
                  "cells (cuda): controls out of range (maxIterations %lld, damping in (0, 1], tolerances >= 0)",
                  (long long)c.maxIterations);
    return false;
  }
  return true;
}

}  // namespace parascan::cuda::cellkernels
