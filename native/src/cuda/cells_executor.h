// The executor of the cells' Newton loop and backward pass (the interface in cells_newton.h) over
// a platform: which buffers, launches, copies and scans run, with which plans and arguments.
// Plain C++, no CUDA type: the CUDA launcher (cells_host.cuh, CudaPlatform) and the CPU emulation
// of the kernels (native/tests/gpu/emulator/, EmulatedPlatform) instantiate the very same class,
// so the emulator test runs the launch sequence the GPU runs.
//
// A Platform provides:
//   struct Buffer { explicit Buffer(Platform&); bool allocate(int64_t bytes, const char* name,
//                   SolveReport&); unsigned char* bytes() const; }      (freed on destruction)
//   bool launch(kernel, int64_t blocks, int threads, int64_t sharedBytes, const Args&, const char* name, SolveReport&)
//   bool zero(void* device, int64_t bytes, SolveReport&)
//   bool read(void* host, const void* device, int64_t bytes, const char* what, SolveReport&)   (enqueued)
//   bool sync(const char* what, SolveReport&)
//   template <T, K> bool enqueueScan(const LinearRecurrenceParams<T>&, const kernels::SinglePassPlan&,
//                                    unsigned char* scratch, SolveReport&)       (no wait)
//   template <T, K> SolveReport solveScan(const LinearRecurrenceParams<T>&)     (waits, checks)
//   int64_t maxBlocks; int threads; int64_t cotangentMinRows, cotangentMaxTiles;   (launch shapes)
#pragma once

#include <algorithm>
#include <cstdio>

#include "cells_kernels.cuh"
#include "cells_newton.h"
#include "linear_recurrence.cuh"
#include "parascan/cells.h"

namespace parascan::cuda::cellkernels {

template <typename T>
CellInputs<T> cellInputs(const ::parascan::cells::CellParams<T>& p) {
  CellInputs<T> in;
  in.projection = p.projection;
  in.A = p.A;
  in.C = p.kind == ::parascan::cells::CellKind::LSTM ? p.C : nullptr;
  in.initial = p.initial;
  in.batch = p.batch;
  in.length = p.length;
  in.size = p.size;
  return in;
}

// All pointers of `p` and of the calls are the platform's (device) pointers.
template <typename T, int K, typename Platform>
class CellExecutor {
 public:
  using Buffer = typename Platform::Buffer;

  CellExecutor(const ::parascan::cells::CellParams<T>& p, Platform& platform)
      : p_(p), in_(cellInputs(p)), platform_(platform), residual_(platform), jacobians_(platform), partials_(platform),
        probe_(platform), scan_(platform) {
    points_ = p.batch * p.length * p.size;
    states_ = points_ * K;
  }

  // ---- forward -----------------------------------------------------------------------------------

  // The sequential loop into `out`; NonFinite in the report when a state is not finite.
  bool sequential(T* out, SolveReport& report) {
    Buffer status(platform_);
    if (!status.allocate(256, "sequential status word", report) || !platform_.zero(status.bytes(), 256, report))
      return false;
    const ElementwisePlan plan = planElementwise(p_.batch * p_.size, platform_.maxBlocks, platform_.threads);
    SequentialArgs<T> args;
    args.in = in_;
    args.out = out;
    args.status = reinterpret_cast<int32_t*>(status.bytes());
    args.gridBlocks = plan.blocks;
    int32_t word = 0;
    if (!platform_.launch(cellSequentialKernel<T, K>, plan.blocks, plan.threads, 0, args, "cellSequentialKernel", report) ||
        !platform_.read(&word, status.bytes(), sizeof(word), "the sequential status", report) ||
        !platform_.sync("the sequential cell kernel", report))
      return false;
    if ((word & kStatusNonFinite) != 0) {
      report.status = Status::NonFinite;
      std::snprintf(report.message, sizeof(report.message), "the sequential recurrence produced a non-finite state");
    }
    return true;
  }

  // f (out, nullable) and Jacobians (nullable) at `states` (null = zero previous state); with
  // `residual`, out = f − states; with `partials`, the per-block max-norms.
  bool evaluate(const T* states, T* out, T* jacobians, bool residual, double* partials, SolveReport& report) {
    const ElementwisePlan plan = planElementwise(points_, platform_.maxBlocks, platform_.threads);
    EvaluateArgs<T> args;
    args.in = in_;
    args.states = states;
    args.out = out;
    args.jacobians = jacobians;
    args.residual = residual ? 1 : 0;
    args.partials = partials;
    args.gridBlocks = plan.blocks;
    if (partials) evaluateBlocks_ = plan.blocks;
    return platform_.launch(cellEvaluateKernel<T, K>, plan.blocks, plan.threads, plan.sharedBytes, args,
                            "cellEvaluateKernel", report);
  }

  bool synchronize(const char* what, SolveReport& report) { return platform_.sync(what, report); }

  // ---- the Newton executor (cells_newton.h) ---------------------------------------------------------

  bool prepareNewton(T* h, SolveReport& report) {
    h_ = h;
    scanPlan_ = kernels::planSinglePass<T, K>(p_.batch, p_.length, p_.size);
    // Blocks of the residual pass (points) and of the step-norm pass (states: K per point).
    const int64_t maxPartials = std::max(planElementwise(points_, platform_.maxBlocks, platform_.threads).blocks,
                                         planElementwise(states_, platform_.maxBlocks, platform_.threads).blocks);
    if (!residual_.allocate(states_ * int64_t(sizeof(T)), "residual", report) ||
        !jacobians_.allocate(states_ * K * int64_t(sizeof(T)), "jacobians", report) ||
        !partials_.allocate(maxPartials * 2 * int64_t(sizeof(double)), "max-norm partials", report) ||
        !probe_.allocate(sizeof(NewtonProbe), "Newton probe", report) ||
        !scan_.allocate(scanPlan_.scratchBytes, "look-back scratch", report))
      return false;
    // The first probe reads the scan's status word before any scan has run.
    return platform_.zero(scan_.bytes(), scanPlan_.zeroBytes, report);
  }

  int64_t length() const { return p_.length; }

  bool firstGuess(SolveReport& report) { return evaluate(nullptr, h_, nullptr, false, nullptr, report); }

  bool residual(NewtonProbe& probe, SolveReport& report) {
    T* r = reinterpret_cast<T*>(residual_.bytes());
    T* jac = reinterpret_cast<T*>(jacobians_.bytes());
    double* partials = reinterpret_cast<double*>(partials_.bytes());
    return evaluate(h_, r, jac, true, partials, report) && readMaxima(evaluateBlocks_, probe, "the Newton residual", report);
  }

  bool solveForward(SolveReport& report) {
    SolveReport scan;
    if (platform_.template enqueueScan<T, K>(scanParams(reinterpret_cast<T*>(residual_.bytes()), Direction::Forward),
                                             scanPlan_, scan_.bytes(), scan))
      return true;
    report = scan;
    return false;
  }

  bool update(double omega, SolveReport& report) {
    const ElementwisePlan plan = planElementwise(states_, platform_.maxBlocks, platform_.threads);
    UpdateArgs<T> args;
    args.states = h_;
    args.delta = reinterpret_cast<const T*>(residual_.bytes());
    args.omega = omega;
    args.count = states_;
    args.gridBlocks = plan.blocks;
    return platform_.launch(cellUpdateKernel<T>, plan.blocks, plan.threads, 0, args, "cellUpdateKernel", report);
  }

  // After solveForward without update: max |δ| and max |h| into probe (one read-back).
  bool stepNorm(NewtonProbe& probe, SolveReport& report) {
    const ElementwisePlan plan = planElementwise(states_, platform_.maxBlocks, platform_.threads);
    double* partials = reinterpret_cast<double*>(partials_.bytes());
    StepNormArgs<T> args;
    args.delta = reinterpret_cast<const T*>(residual_.bytes());
    args.states = h_;
    args.count = states_;
    args.partials = partials;
    args.gridBlocks = plan.blocks;
    const int64_t shared = int64_t(plan.threads / kWarp) * int64_t(sizeof(MaxPair));
    return platform_.launch(cellStepNormKernel<T>, plan.blocks, plan.threads, shared, args, "cellStepNormKernel", report) &&
           readMaxima(plan.blocks, probe, "the Newton step's norm", report);
  }

  // The per-block max-norm pairs in partials_ (count blocks) reduced into probe, with the scan's
  // status word: one launch, one read-back, one sync.
  bool readMaxima(int64_t count, NewtonProbe& probe, const char* what, SolveReport& report) {
    MaxReduceArgs args;
    args.partials = reinterpret_cast<double*>(partials_.bytes());
    args.count = count;
    args.scanStatus = reinterpret_cast<const int32_t*>(scan_.bytes()) + 1;
    args.probe = reinterpret_cast<NewtonProbe*>(probe_.bytes());
    const int threads = platform_.threads;
    return platform_.launch(cellMaxReduceKernel<T>, 1, threads, int64_t(threads / kWarp) * int64_t(sizeof(MaxPair)), args,
                            "cellMaxReduceKernel", report) &&
           platform_.read(&probe, probe_.bytes(), sizeof(probe), what, report) && platform_.sync(what, report);
  }

  bool sequential(SolveReport& report) { return sequential(h_, report); }

  // ---- the backward executor (cells_newton.h) -------------------------------------------------------

  bool prepareBackward(const T* states, T* lambda, T* dP, double* dA, double* dC, T* dh0, SolveReport& report) {
    states0_ = states;
    lambda_ = lambda;
    dP_ = dP;
    dA_ = dA;
    dC_ = dC;
    dh0_ = dh0;
    cotangentPlan_ = planCotangent(p_.batch * p_.length, p_.size, CellLane<T, K>::kParams, platform_.cotangentMinRows,
                                   platform_.cotangentMaxTiles, platform_.threads);
    return jacobians_.allocate(states_ * K * int64_t(sizeof(T)), "jacobians", report) &&
           partials_.allocate(cotangentPlan_.partialElements * int64_t(sizeof(double)), "parameter partial sums", report);
  }

  bool jacobiansAt(SolveReport& report) {
    return evaluate(states0_, nullptr, reinterpret_cast<T*>(jacobians_.bytes()), false, nullptr, report);
  }

  // λ ← the reversed solve in place. A non-finite λ stops the backward pass (as on the CPU).
  bool solveReverse(SolveReport& report) {
    const SolveReport scan = platform_.template solveScan<T, K>(scanParams(lambda_, Direction::Reverse));
    if (scan.status == Status::Ok) return true;
    report.status = scan.status;
    std::snprintf(report.message, sizeof(report.message), "%s", scan.message);
    return false;
  }

  bool cotangents(SolveReport& report) {
    CotangentArgs<T> args;
    args.in = in_;
    args.states = states0_;
    args.lambda = lambda_;
    args.dP = dP_;
    args.dh0 = dh0_;
    args.partials = reinterpret_cast<double*>(partials_.bytes());
    args.rowsPerTile = cotangentPlan_.rowsPerTile;
    args.rowTiles = cotangentPlan_.rowTiles;
    args.laneTiles = cotangentPlan_.laneTiles;
    return platform_.launch(cellCotangentKernel<T, K>, cotangentPlan_.blocks, cotangentPlan_.threads,
                            cotangentPlan_.sharedBytes, args, "cellCotangentKernel", report);
  }

  bool sumParameters(SolveReport& report) {
    ParameterSumArgs args;
    args.partials = reinterpret_cast<const double*>(partials_.bytes());
    args.rowTiles = cotangentPlan_.rowTiles;
    args.params = CellLane<T, K>::kParams;
    args.size = p_.size;
    args.dA = dA_;
    args.dC = dC_;
    const ElementwisePlan plan = planElementwise(args.params * p_.size, platform_.maxBlocks, platform_.threads);
    args.gridBlocks = plan.blocks;
    return platform_.launch(cellParameterSumKernel<T>, plan.blocks, plan.threads, 0, args, "cellParameterSumKernel", report) &&
           platform_.sync("the backward cell kernels", report);
  }

 private:
  // The scan solves in place on `rhs` with this executor's Jacobians.
  LinearRecurrenceParams<T> scanParams(T* rhs, Direction direction) {
    LinearRecurrenceParams<T> s;
    s.direction = direction;
    s.batch = p_.batch;
    s.length = p_.length;
    s.blockSize = K;
    s.lanes = p_.size;
    s.jacobians = reinterpret_cast<const T*>(jacobians_.bytes());
    s.rhs = rhs;
    s.out = rhs;
    s.initial = nullptr;
    return s;
  }

  ::parascan::cells::CellParams<T> p_;
  CellInputs<T> in_;
  Platform& platform_;
  int64_t points_ = 0, states_ = 0, evaluateBlocks_ = 1;
  T* h_ = nullptr;
  const T* states0_ = nullptr;
  T* lambda_ = nullptr;
  T* dP_ = nullptr;
  double *dA_ = nullptr, *dC_ = nullptr;
  T* dh0_ = nullptr;
  kernels::SinglePassPlan scanPlan_;
  CotangentPlan cotangentPlan_;
  Buffer residual_, jacobians_, partials_, probe_, scan_;
};

// The four operations for a cell kind known at run time (K = 1 ParaGRU, K = 2 ParaLSTM).
template <typename T, int K, typename Platform>
::parascan::cells::NewtonReport newtonWith(Platform& platform, const ::parascan::cells::CellParams<T>& p,
                                           const ::parascan::cells::NewtonControls& c, T* out) {
  ::parascan::cells::NewtonReport rep;
  CellExecutor<T, K, Platform> run(p, platform);
  if (!run.prepareNewton(out, rep.solve)) return rep;
  return runNewton<T>(run, c);
}

template <typename T, int K, typename Platform>
SolveReport backwardWith(Platform& platform, const ::parascan::cells::CellParams<T>& p, const T* states, T* lambda, T* dP,
                         double* dA, double* dC, T* dh0) {
  SolveReport report;
  CellExecutor<T, K, Platform> run(p, platform);
  if (!run.prepareBackward(states, lambda, dP, dA, dC, dh0, report)) return report;
  return runBackward(run);
}

template <typename T, int K, typename Platform>
SolveReport sequentialWith(Platform& platform, const ::parascan::cells::CellParams<T>& p, T* out) {
  SolveReport report;
  report.schedule = "cuda-cells-sequential";
  CellExecutor<T, K, Platform> run(p, platform);
  run.sequential(out, report);
  return report;
}

template <typename T, int K, typename Platform>
SolveReport evaluateWith(Platform& platform, const ::parascan::cells::CellParams<T>& p, const T* states, T* out, T* jacobians) {
  SolveReport report;
  report.schedule = "cuda-cells-evaluate";
  CellExecutor<T, K, Platform> run(p, platform);
  if (run.evaluate(states, out, jacobians, false, nullptr, report)) run.synchronize("cellEvaluateKernel", report);
  return report;
}

template <typename T, typename Platform>
::parascan::cells::NewtonReport cellNewton(Platform& platform, const ::parascan::cells::CellParams<T>& p,
                                           const ::parascan::cells::NewtonControls& c, T* out) {
  return p.kind == ::parascan::cells::CellKind::GRU ? newtonWith<T, 1>(platform, p, c, out) : newtonWith<T, 2>(platform, p, c, out);
}

template <typename T, typename Platform>
SolveReport cellBackward(Platform& platform, const ::parascan::cells::CellParams<T>& p, const T* states, T* lambda, T* dP,
                         double* dA, double* dC, T* dh0) {
  return p.kind == ::parascan::cells::CellKind::GRU ? backwardWith<T, 1>(platform, p, states, lambda, dP, dA, nullptr, dh0)
                                                    : backwardWith<T, 2>(platform, p, states, lambda, dP, dA, dC, dh0);
}

template <typename T, typename Platform>
SolveReport cellSequential(Platform& platform, const ::parascan::cells::CellParams<T>& p, T* out) {
  return p.kind == ::parascan::cells::CellKind::GRU ? sequentialWith<T, 1>(platform, p, out) : sequentialWith<T, 2>(platform, p, out);
}

template <typename T, typename Platform>
SolveReport cellEvaluate(Platform& platform, const ::parascan::cells::CellParams<T>& p, const T* states, T* out, T* jacobians) {
  return p.kind == ::parascan::cells::CellKind::GRU ? evaluateWith<T, 1>(platform, p, states, out, jacobians)
                                                    : evaluateWith<T, 2>(platform, p, states, out, jacobians);
}

}  // namespace parascan::cuda::cellkernels
