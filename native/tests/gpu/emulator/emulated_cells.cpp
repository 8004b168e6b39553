// Runs the CUDA cell kernels (native/src/cuda/cells_kernels.cuh) and their launch sequence
// (cells_executor.h, the same class the CUDA launcher instantiates) on the CPU through the emulation
// of the CUDA primitives, and compares every result with the float64 references of
// ../cells_reference.h: the sequential loop, f and the Jacobians (by dual numbers), the fused Newton
// forward, and the backward pass (λ, dP, dA, dC, dh0 by backpropagation through time).
//
// Sweeps ParaGRU and ParaLSTM, float32 and float64, T = 1, odd T, the look-back scan's tile
// boundaries ± 1, staged (D < 32) and lane-major (D = 33: two lane tiles) scans, B = 1 and 2, with
// and without an initial state; plus the Newton policy paths (max iterations → return or fallback,
// NaN → fallback, damping) and the one-sync-per-iteration promise. Heads do not reach these kernels:
// they live in the input projection, which the caller computes.
//
//   parascan_gpu_emulated_cells [--quick] [--verbose]   prints "N passed, M failed", exit 1 on failure
#include "emulated_device.h"
//
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "cells_executor.h"
#include "cells_reference.h"
#include "emulated_scan.h"
#include "reference.h"

namespace {

using parascan::SolveReport;
using parascan::Status;
using parascan::cells::CellKind;
using parascan::cells::NewtonControls;
using parascan::cells::NewtonReport;
using parascan::cells::OnMaxIterations;
using parascan::cells::Termination;
namespace ck = parascan::cuda::cellkernels;
namespace kernels = parascan::cuda::kernels;
namespace device = parascan::cuda::device;
namespace testing = parascan::testing;
namespace cellref = parascan::testing::cellref;
namespace emulation = parascan::emulation;

// cells_executor.h's platform on the CPU emulation: host memory, synchronous launches. Small
// blocks and grids (64 threads, at most 3 blocks, cotangent tiles of >= 8 rows, at most 5 of them)
// keep the emulation fast and make the grid-stride loops and the tile sums take several rounds.
struct EmulatedPlatform {
  int64_t maxBlocks = 3;
  int threads = 64;
  int64_t cotangentMinRows = 8, cotangentMaxTiles = 5;
  int syncs = 0;  // host synchronisations requested (the GPU's cudaStreamSynchronize)

  struct Buffer {
    explicit Buffer(EmulatedPlatform&) {}
    bool allocate(int64_t bytes, const char*, SolveReport&) {
      storage.assign(static_cast<size_t>(bytes / 16 + 1), Chunk{});
      return true;
    }
    unsigned char* bytes() const { return const_cast<unsigned char*>(reinterpret_cast<const unsigned char*>(storage.data())); }
    struct alignas(16) Chunk {
      unsigned char bytes[16] = {0};
    };
    std::vector<Chunk> storage;
  };

  template <typename Kernel, typename Args>
  bool launch(Kernel kernel, int64_t blocks, int threadCount, int64_t sharedBytes, const Args& args, const char*, SolveReport&) {
    device::emulateLaunch(kernel, args, blocks, threadCount, static_cast<size_t>(sharedBytes), emulation::kConcurrentBlocks);
    return true;
  }
  bool zero(void* memory, int64_t bytes, SolveReport&) {
    std::memset(memory, 0, static_cast<size_t>(bytes));
    return true;
  }
  bool read(void* host, const void* memory, int64_t bytes, const char*, SolveReport&) {
    std::memcpy(host, memory, static_cast<size_t>(bytes));
    return true;
  }
  bool sync(const char*, SolveReport&) {
    ++syncs;
    return true;
  }
  template <typename T, int K>
  bool enqueueScan(const parascan::LinearRecurrenceParams<T>& p, const kernels::SinglePassPlan& plan, unsigned char* scratch,
                   SolveReport&) {
    emulation::emulateSinglePass<T, K>(p, plan, scratch);
    return true;
  }
  template <typename T, int K>
  SolveReport solveScan(const parascan::LinearRecurrenceParams<T>& p) {
    SolveReport report;
    const int32_t status = emulation::runSinglePass<T, K>(p);
    if (status & kernels::kStatusNonFinite) {
      report.status = Status::NonFinite;
      std::snprintf(report.message, sizeof(report.message), "a NaN or Inf appeared in the output");
    }
    return report;
  }
};

struct Tally {
  int passed = 0, failed = 0;
  bool verbose = false;
  void expect(bool ok, const std::string& what) {
    if (ok) {
      ++passed;
      if (verbose) std::printf("ok   %s\n", what.c_str());
    } else {
      ++failed;
      std::printf("FAIL %s\n", what.c_str());
    }
  }
};

template <typename T>
const char* typeName() {
  return sizeof(T) == 4 ? "f32" : "f64";
}

// got vs ref with reference.h's tolerance for a recurrence of `length` steps.
template <typename E>
bool close(const E* got, const std::vector<double>& ref, int64_t length, std::string& detail) {
  const testing::Comparison cmp = testing::compareToReference(got, ref, length);
  if (cmp.ok) return true;
  char text[160];
  std::snprintf(text, sizeof(text), " (worst at %lld: got %.9g want %.9g, %.2fx the tolerance)",
                static_cast<long long>(cmp.worstIndex), cmp.worstGot, cmp.worstRef, cmp.worstExcess);
  detail = text;
  return false;
}

template <typename T>
NewtonControls defaultControls() {
  NewtonControls c;
  c.absTol = 4 * std::numeric_limits<T>::epsilon();
  c.relTol = 0;
  c.maxIterations = 40;
  return c;
}

template <typename T>
std::vector<double> toDouble(const std::vector<T>& v) {
  return std::vector<double>(v.begin(), v.end());
}

template <typename T>
void checkShape(CellKind kind, int64_t batch, int64_t length, int64_t size, bool withInitial, uint64_t seed, Tally& tally) {
  const cellref::CellCase<T> c = cellref::makeCellCase<T>(kind, batch, length, size, withInitial, seed);
  const parascan::cells::CellParams<T> p = c.params();
  char nameText[128];
  std::snprintf(nameText, sizeof(nameText), "%s %s B=%lld T=%lld D=%lld%s", kind == CellKind::GRU ? "GRU" : "LSTM",
                typeName<T>(), static_cast<long long>(batch), static_cast<long long>(length), static_cast<long long>(size),
                withInitial ? " h0" : "");
  const std::string name = nameText;
  const std::vector<double> reference = cellref::sequentialStates(c);
  std::string detail;

  // Sequential kernel.
  EmulatedPlatform platform;
  std::vector<T> sequential(static_cast<size_t>(c.stateCount()), T(-7));
  const SolveReport s = ck::cellSequential(platform, p, sequential.data());
  const bool sequentialOk = s.status == Status::Ok && close(sequential.data(), reference, length, detail);
  tally.expect(sequentialOk, name + ": sequential kernel == float64 loop" + detail);

  // Fused Newton.
  EmulatedPlatform newtonPlatform;
  std::vector<T> fused(static_cast<size_t>(c.stateCount()), T(-7));
  const NewtonReport r = ck::cellNewton(newtonPlatform, p, defaultControls<T>(), fused.data());
  detail.clear();
  const bool fusedOk = r.solve.status == Status::Ok && r.termination == Termination::Converged &&
                       close(fused.data(), reference, length, detail);
  tally.expect(fusedOk,
               name + ": fused Newton converges to the float64 loop (" + std::to_string(r.iterations) + " iterations)" + detail);
  // One read-back per iteration, plus one for the check of the step after convergence.
  tally.expect(newtonPlatform.syncs == static_cast<int>(r.residuals.size()) + 1,
               name + ": one host sync per Newton iteration, one for the final check (" + std::to_string(newtonPlatform.syncs) +
                   " syncs, " + std::to_string(r.residuals.size()) + " residuals)");
  double largest = 1;
  for (T v : fused) largest = std::max(largest, std::fabs(static_cast<double>(v)));
  tally.expect(r.errorEstimate <= parascan::cells::acceptableStep(r.tolerance, std::numeric_limits<T>::epsilon(), length, largest),
               name + ": the step after convergence is within the acceptance bound (" + std::to_string(r.errorEstimate) + ")");
  tally.expect(r.iterations <= length, name + ": Newton needs at most T iterations");

  // f and Jacobians at random states (float64 reference by dual numbers, at the same T-rounded states).
  {
    testing::Random random(seed ^ 0xabcdefull);
    std::vector<T> states(static_cast<size_t>(c.stateCount()));
    for (auto& v : states) v = static_cast<T>(random.uniform(-0.9, 0.9));
    std::vector<double> f, jac;
    cellref::evaluateAt(c, toDouble(states), f, jac);
    std::vector<T> out(f.size(), T(-7)), jacobians(jac.size(), T(-7));
    EmulatedPlatform evaluatePlatform;
    const SolveReport e = ck::cellEvaluate(evaluatePlatform, p, states.data(), out.data(), jacobians.data());
    detail.clear();
    const bool valuesOk = e.status == Status::Ok && close(out.data(), f, 1, detail);
    tally.expect(valuesOk, name + ": evaluate f" + detail);
    detail.clear();
    const bool jacobiansOk = close(jacobians.data(), jac, 1, detail);
    tally.expect(jacobiansOk, name + ": evaluate Jacobians == dual numbers" + detail);
  }

  // Backward at the fused solution, for the loss Σ g·h with random g.
  {
    testing::Random random(seed ^ 0x5151ull);
    std::vector<double> g(static_cast<size_t>(c.stateCount()));
    for (auto& v : g) v = random.uniform(-1, 1);
    std::vector<T> lambda(g.begin(), g.end());
    // The kernel sees g rounded to T: the reference takes the same rounded values.
    const cellref::Gradients want = cellref::backpropagate(c, toDouble(fused), toDouble(lambda));
    const int64_t D = size, S = c.width();
    std::vector<T> dP(static_cast<size_t>(batch * length * 3 * D), T(-7));
    std::vector<double> dA(static_cast<size_t>(3 * D), -7),
        dC(static_cast<size_t>(2 * D), -7);
    std::vector<T> dh0(static_cast<size_t>(batch * S), T(-7));
    EmulatedPlatform backwardPlatform;
    const SolveReport b = ck::cellBackward(backwardPlatform, p, fused.data(), lambda.data(), dP.data(), dA.data(),
                                           kind == CellKind::LSTM ? dC.data() : nullptr, dh0.data());
    tally.expect(b.status == Status::Ok, name + ": backward status ok " + b.message);
    // dA, dC are float64 sums of terms computed from T-precision λ: judged with T's tolerance.
    auto part = [&](const char* what, auto* got, const std::vector<double>& ref, int64_t steps) {
      std::string why;
      const std::vector<T> rounded(got, got + ref.size());
      const bool ok = close(rounded.data(), ref, steps, why);
      tally.expect(ok, name + ": backward " + what + " == BPTT in float64" + why);
    };
    part("lambda", lambda.data(), want.lambda, length);
    part("dP", dP.data(), want.dP, length);
    part("dA", dA.data(), want.dA, length * batch);
    if (kind == CellKind::LSTM) part("dC", dC.data(), want.dC, length * batch);
    part("dh0", dh0.data(), want.dh0, length);
  }
}

// The Newton policy paths on one shape.
template <typename T>
void checkPolicies(CellKind kind, uint64_t seed, Tally& tally) {
  const std::string name = std::string(kind == CellKind::GRU ? "GRU " : "LSTM ") + typeName<T>();
  const int64_t length = 40, size = 6;
  cellref::CellCase<T> c = cellref::makeCellCase<T>(kind, 2, length, size, true, seed);
  const std::vector<double> reference = cellref::sequentialStates(c);
  std::string detail;
  EmulatedPlatform platform;
  std::vector<T> sequential(static_cast<size_t>(c.stateCount()));
  ck::cellSequential(platform, c.params(), sequential.data());

  {  // out of iterations, 'return': the iterate after one step, reported as such
    NewtonControls controls = defaultControls<T>();
    controls.maxIterations = 1;
    controls.onMaxIterations = OnMaxIterations::Return;
    std::vector<T> out(sequential.size());
    const NewtonReport r = ck::cellNewton(platform, c.params(), controls, out.data());
    tally.expect(r.solve.status == Status::Ok && r.termination == Termination::MaxIterations && r.iterations == 1 &&
                     r.residuals.size() == 2,
                 name + ": maxIterations 1, 'return' stops after one iteration");
  }
  {  // out of iterations, 'fallback': exactly the sequential kernel's answer
    NewtonControls controls = defaultControls<T>();
    controls.maxIterations = 1;
    std::vector<T> out(sequential.size());
    const NewtonReport r = ck::cellNewton(platform, c.params(), controls, out.data());
    tally.expect(r.termination == Termination::FallbackSequential &&
                     r.reason == parascan::cells::FallbackReason::MaxIterations && out == sequential,
                 name + ": maxIterations 1, 'fallback' returns the sequential loop bit for bit");
  }
  {  // damping: more iterations, same answer
    NewtonControls controls = defaultControls<T>();
    controls.damping = 0.75;
    controls.maxIterations = 200;
    std::vector<T> out(sequential.size());
    const NewtonReport r = ck::cellNewton(platform, c.params(), controls, out.data());
    detail.clear();
    const bool ok = r.solve.status == Status::Ok && r.termination == Termination::Converged && close(out.data(), reference, length, detail);
    tally.expect(ok, name + ": damping 0.75 converges to the same states (" + std::to_string(r.iterations) + " iterations)" + detail);
  }
  {  // weights ×100 (ill-conditioned or divergent): the answer is the sequential kernel's, bit for bit
     // after a fallback, or within the tolerance of it when Newton converged (never "close enough").
    int fallbacks = 0, converged = 0;
    for (uint64_t variant = 0; variant < 6; ++variant) {
      cellref::CellCase<T> u = cellref::makeCellCase<T>(kind, 2, 150, size, true, seed * 31 + variant);
      for (auto& a : u.A) a *= 100;
      for (auto& a : u.C) a *= 100;
      std::vector<T> seqU(static_cast<size_t>(u.stateCount())), out(seqU.size());
      ck::cellSequential(platform, u.params(), seqU.data());
      NewtonControls controls = defaultControls<T>();
      controls.maxIterations = 20;
      const NewtonReport r = ck::cellNewton(platform, u.params(), controls, out.data());
      if (r.termination == Termination::FallbackSequential) {
        ++fallbacks;
        tally.expect(r.reason != parascan::cells::FallbackReason::None && out == seqU,
                     name + " ×100: a fallback says why and returns the sequential kernel bit for bit");
      } else {
        ++converged;
        detail.clear();
        tally.expect(r.termination == Termination::Converged && close(out.data(), toDouble(seqU), 150, detail),
                     name + " ×100: converged == the sequential kernel" + detail);
      }
    }
    if (tally.verbose) std::printf("     %s ×100: %d fallbacks, %d converged\n", name.c_str(), fallbacks, converged);
  }
  {  // a NaN in the projection: Newton falls back, the sequential loop reports NonFinite
    c.projection[static_cast<size_t>(c.projection.size() / 2 + 1)] = std::numeric_limits<T>::quiet_NaN();
    std::vector<T> out(sequential.size());
    const NewtonReport r = ck::cellNewton(platform, c.params(), defaultControls<T>(), out.data());
    tally.expect(r.termination == Termination::FallbackSequential && r.reason == parascan::cells::FallbackReason::NonFinite &&
                     r.solve.status == Status::NonFinite,
                 name + ": a NaN in the projection falls back and is reported as NonFinite");
    const SolveReport s = ck::cellSequential(platform, c.params(), out.data());
    tally.expect(s.status == Status::NonFinite, name + ": the sequential kernel reports the NaN");
  }
}

template <typename T>
void runSuite(bool quick, Tally& tally) {
  uint64_t seed = 0xce11000 + sizeof(T);
  for (CellKind kind : {CellKind::GRU, CellKind::LSTM}) {
    const bool lstm = kind == CellKind::LSTM;
    // Tile of the look-back scan for the staged (D = 5) and lane-major (D = 33) layouts.
    const int64_t stagedTile = lstm ? kernels::planSinglePass<T, 2>(1, 1, 5).tileSteps : kernels::planSinglePass<T, 1>(1, 1, 5).tileSteps;
    const int64_t laneTile = lstm ? kernels::planSinglePass<T, 2>(1, 1, 33).tileSteps : kernels::planSinglePass<T, 1>(1, 1, 33).tileSteps;
    struct Shape {
      int64_t batch, length, size;
      bool initial;
    };
    std::vector<Shape> shapes = {{2, 1, 5, true}, {1, 7, 33, false}, {2, stagedTile + 1, 5, false}, {1, laneTile - 1, 33, true}};
    if (!quick) {
      shapes.push_back({1, stagedTile - 1, 5, true});
      shapes.push_back({2, laneTile + 1, 33, false});
      shapes.push_back({1, 2 * laneTile + 3, 33, true});
      shapes.push_back({3, 13, 1, true});
    }
    for (const Shape& s : shapes) checkShape<T>(kind, s.batch, s.length, s.size, s.initial, ++seed, tally);
    checkPolicies<T>(kind, ++seed, tally);
  }
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  Tally tally;
  for (int i = 1; i < argc; ++i) {
    quick = quick || std::strcmp(argv[i], "--quick") == 0;
    tally.verbose = tally.verbose || std::strcmp(argv[i], "--verbose") == 0;
  }
  for (CellKind kind : {CellKind::GRU, CellKind::LSTM}) {
    const double worst = cellref::checkReferenceGradients(kind, 77);
    tally.expect(worst < 1e-6, std::string("reference BPTT (dual numbers) == central differences for ") +
                                   (kind == CellKind::GRU ? "GRU" : "LSTM") + " (worst relative error " + std::to_string(worst) + ")");
  }
  runSuite<float>(quick, tally);
  runSuite<double>(quick, tally);
  std::printf("%d passed, %d failed\n", tally.passed, tally.failed);
  return tally.failed == 0 ? 0 : 1;
}
