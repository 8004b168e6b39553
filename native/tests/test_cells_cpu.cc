// The cells' native kernels without Node: the fused Newton forward must equal the sequential loop
// (ParaGRU and ParaLSTM, float32 and float64, with and without an initial state), converge in a few
// iterations on well-conditioned cells, and fall back to (exactly) the sequential answer when the
// cell is made unstable; malformed params are rejected.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "parascan/cells.h"
#include "testing.h"

using namespace parascan;
using namespace parascan::testing;


namespace {

template <typename T>
std::vector<T> randn(std::mt19937_64& rng, size_t n, double std) {
  std::normal_distribution<double> d(0.0, std);
  std::vector<T> v(n);
  for (auto& x : v) x = static_cast<T>(d(rng));
  return v;
}

template <typename T>
void runCase(std::mt19937_64& rng, cells::CellKind kind, int64_t B, int64_t Tn, int64_t D, bool withInitial, double scaleA) {
  const char* dtype = sizeof(T) == 4 ? "float32" : "float64";
  const std::string base = std::string(kind == cells::CellKind::GRU ? "GRU" : "LSTM") + " " + dtype + " B=" + std::to_string(B) +
                           " T=" + std::to_string(Tn) + " D=" + std::to_string(D) + (withInitial ? " h0" : "") +
                           (scaleA != 1 ? " A×" + std::to_string(int(scaleA)) : "");
  const int64_t S = cells::blocksOf(kind) * D;
  auto P = randn<T>(rng, size_t(B * Tn * 3 * D), 1.0);
  auto A = randn<T>(rng, size_t(3 * D), 0.5 * scaleA);
  auto C = randn<T>(rng, size_t(2 * D), 0.5 * scaleA);
  auto h0 = randn<T>(rng, size_t(B * S), 0.5);
  cells::CellParams<T> p;
  p.kind = kind;
  p.batch = B;
  p.length = Tn;
  p.size = D;
  p.projection = P.data();
  p.A = A.data();
  p.C = kind == cells::CellKind::LSTM ? C.data() : nullptr;
  p.initial = withInitial ? h0.data() : nullptr;
  std::vector<T> seq(size_t(B * Tn * S)), fused(seq.size());
  const SolveReport s = cells::sequential(p, seq.data());
  expect(s.status == Status::Ok, base + ": sequential status ok");
  for (auto schedule : {cells::FusedSchedule::Global, cells::FusedSchedule::Shooting}) {
  const std::string name = base + (schedule == cells::FusedSchedule::Global ? " global" : " shooting");
  cells::NewtonControls c;
  c.schedule = schedule;
  c.absTol = 4 * std::numeric_limits<T>::epsilon();
  c.maxIterations = scaleA == 1 ? 30 : 20;
  std::fill(fused.begin(), fused.end(), T(0));
  const cells::NewtonReport r = cells::newton(p, c, fused.data());
  expect(r.solve.status == Status::Ok, name + ": fused status ok (" + r.solve.message + ")");
  expect(r.residuals.size() == size_t(r.iterations) + 1 || r.termination == cells::Termination::FallbackSequential,
         name + ": one residual per iteration plus the first guess");
  if (r.termination == cells::Termination::FallbackSequential) {
    expect(r.reason != cells::FallbackReason::None, name + ": a fallback says why");
    expect(std::equal(seq.begin(), seq.end(), fused.begin()), name + ": the fallback equals the sequential loop bit for bit");
  } else {
    expect(r.termination == cells::Termination::Converged, name + ": converged");
    if (scaleA == 1) expect(r.iterations <= 6, name + ": at most 6 iterations, got " + std::to_string(r.iterations));
    const Tolerance tol = toleranceFor<T>(Tn);
    double worst = 0;
    bool ok = true;
    for (size_t i = 0; i < seq.size(); ++i) {
      const double e = std::fabs(double(fused[i]) - double(seq[i]));
      worst = std::max(worst, e);
      if (!(e <= tol.atol + tol.rtol * std::fabs(double(seq[i])))) ok = false;
    }
    expect(ok, name + ": fused == sequential (max error " + std::to_string(worst) + ")");
  }
  }
}

void runInvalid() {
  cells::CellParams<float> p;
  std::vector<float> out(8);
  expect(cells::sequential(p, out.data()).status == Status::InvalidArgument, "invalid: empty params rejected");
  std::vector<float> P(3 * 4), A(3 * 4);
  p.batch = 1;
  p.length = 1;
  p.size = 4;
  p.projection = P.data();
  p.A = A.data();
  p.kind = cells::CellKind::LSTM;  // no C
  expect(cells::newton(p, cells::NewtonControls{}, out.data()).solve.status == Status::InvalidArgument, "invalid: LSTM without C rejected");
}

}  // namespace

int main() {
  std::printf("seed %llu (replay with PARASCAN_TEST_SEED)\n", static_cast<unsigned long long>(testSeed()));
  std::mt19937_64 rng(testSeed());
  for (auto kind : {cells::CellKind::GRU, cells::CellKind::LSTM})
    for (int64_t B : {1, 3})
      for (int64_t Tn : {1, 7, 257, 3000})
        for (bool init : {false, true}) {
          runCase<float>(rng, kind, B, Tn, 8, init, 1);
          runCase<double>(rng, kind, B, Tn, 5, init, 1);
        }
  for (auto kind : {cells::CellKind::GRU, cells::CellKind::LSTM}) {
    runCase<double>(rng, kind, 1, 300, 8, false, 100);
    runCase<float>(rng, kind, 2, 300, 8, true, 100);
  }
  runInvalid();
  std::printf("%d passed, %d failed\n", counter().passed, counter().failed);
  return counter().failed == 0 ? 0 : 1;
}
