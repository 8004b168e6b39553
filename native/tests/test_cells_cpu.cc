// The cells' native kernels without Node: the fused Newton forward must equal the sequential loop
// (ParaGRU and ParaLSTM, float32 and float64, with and without an initial state), converge in a few
// iterations on well-conditioned cells, and fall back to (exactly) the sequential answer when the
// cell is made unstable; malformed params are rejected.
#include <algorithm>
#include <array>
#include <cmath>
#include <string>
#include <vector>

#include "parascan/cells.h"
#include "parascan/cpu.h"
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

// The kernels' parameter struct over test-owned arrays (C only for ParaLSTM; h0 null: zero).
template <typename T>
cells::CellParams<T> paramsOf(cells::CellKind kind, int64_t B, int64_t Tn, int64_t D, const std::vector<T>& P, const std::vector<T>& A,
                              const std::vector<T>& C, const std::vector<T>* h0) {
  cells::CellParams<T> p;
  p.kind = kind;
  p.batch = B;
  p.length = Tn;
  p.size = D;
  p.projection = P.data();
  p.A = A.data();
  p.C = kind == cells::CellKind::LSTM ? C.data() : nullptr;
  p.initial = h0 ? h0->data() : nullptr;
  return p;
}

// Fallbacks per reason in the ×100 cases, printed (how often each guard fires).
int fallbacks[5] = {0, 0, 0, 0, 0};

template <typename T>
double stepResidual(cells::CellKind kind, int64_t B, int64_t Tn, int64_t D, const T* A, const T* C, const T* P, const T* initial,
                    const std::vector<T>& h);

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
  const cells::CellParams<T> p = paramsOf(kind, B, Tn, D, P, A, C, withInitial ? &h0 : nullptr);
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
  // A freshly initialised (well-conditioned) cell must converge: a fallback there, ill-conditioned
  // or any other, would mean the check or the solver misjudges ordinary cells.
  if (scaleA == 1)
    expect(r.termination == cells::Termination::Converged, name + ": converges without a fallback (reason " + std::to_string(int(r.reason)) +
                                                               ", error estimate " + std::to_string(r.errorEstimate) + ")");
  if (r.termination == cells::Termination::FallbackSequential) {
    if (scaleA != 1) ++fallbacks[int(r.reason)];
    expect(r.reason != cells::FallbackReason::None, name + ": a fallback says why");
    expect(std::equal(seq.begin(), seq.end(), fused.begin()), name + ": the fallback equals the sequential loop bit for bit");
  } else {
    expect(r.termination == cells::Termination::Converged, name + ": converged");
    if (scaleA == 1) {
      // Newton from a cold start: a few damped-looking iterations while far away, then quadratic.
      // (Float64 to 4ε over T = 3000 takes 7-8 in about one seed of fifteen; 6 is the common case.)
      expect(r.iterations <= 10, name + ": at most 10 iterations, got " + std::to_string(r.iterations));
      bool quadratic = true;
      for (size_t i = 1; i < r.residuals.size(); ++i) {
        const double prev = r.residuals[i - 1], next = r.residuals[i];
        if (prev < 1e-4 && next > 1e3 * std::numeric_limits<T>::epsilon() && !(next <= 1e3 * prev * prev)) quadratic = false;
      }
      expect(quadratic, name + ": quadratic convergence once the residual is below 1e-4");
    }
    const Tolerance tol = toleranceFor<T>(Tn);
    double worst = 0;
    bool ok = true;
    for (size_t i = 0; i < seq.size(); ++i) {
      const double e = std::fabs(double(fused[i]) - double(seq[i]));
      worst = std::max(worst, e);
      if (!(e <= tol.atol + tol.rtol * std::fabs(double(seq[i])))) ok = false;
    }
    expect(ok, name + ": fused == sequential (max error " + std::to_string(worst) + ", error estimate " + std::to_string(r.errorEstimate) + ")");
    if (scaleA != 1) {
      // A×100 makes the recurrence ill-conditioned: an ε-sized change at one step can grow by
      // orders of magnitude downstream (float32 `sequential` itself ends up to O(1) away from the
      // float64 trajectory). A converged answer must still be the sequential one, which the error
      // estimate guarantees (else FallbackReason::IllConditioned); and it must be backward stable:
      // every step satisfies the cell to rounding, h_t = f(h_{t-1}, x_t) within a few ε, in float64.
      // 64ε: a residual that stalled at rounding is accepted up to 64·eps·max|h| (cells.h), plus rounding.
      const double bound = 128 * std::numeric_limits<T>::epsilon();
      const double rf = stepResidual(kind, B, Tn, D, A.data(), C.data(), P.data(), withInitial ? h0.data() : nullptr, fused);
      expect(rf <= bound, name + ": fused satisfies every step to rounding (" + std::to_string(rf / std::numeric_limits<T>::epsilon()) + " ε)");
    }
  }
  }
}

// ---- the kernels against a float64 transcription of DESIGN §5 -------------------------------------

double sig(double v) { return 1.0 / (1.0 + std::exp(-v)); }

// f (and the closed-form Jacobian [k, k, D]) at one point, in double, from the T-typed inputs.
template <typename T>
void refPoint(cells::CellKind kind, int64_t D, const T* A, const T* C, const T* P, const double* prev, double* out, double* jac) {
  for (int64_t j = 0; j < D; ++j) {
    if (kind == cells::CellKind::GRU) {
      const double h = prev[j], az = A[j], ar = A[D + j], ac = A[2 * D + j];
      const double z = sig(az * h + P[j]), r = sig(ar * h + P[D + j]), c = std::tanh(ac * h * r + P[2 * D + j]);
      out[j] = z * c + (1 - z) * h;
      jac[j] = 1 - z + (c - h) * z * (1 - z) * az + z * (1 - c * c) * ac * (r + h * r * (1 - r) * ar);
    } else {
      const double cp = prev[j], h = prev[D + j], af = A[j], ao = A[D + j], ac = A[2 * D + j], cf = C[j], co = C[D + j];
      const double f = sig(af * h + P[j] + cf * cp), g = std::tanh(ac * h + P[2 * D + j]);
      const double cn = f * cp + (1 - f) * g, o = sig(ao * h + P[D + j] + co * cn), tc = std::tanh(cn);
      out[j] = cn;
      out[D + j] = o * tc;
      const double sf = f * (1 - f), so = o * (1 - o);
      const double jcc = f + (cp - g) * sf * cf, jch = (cp - g) * sf * af + (1 - f) * (1 - g * g) * ac;
      const double dhdc = so * co * tc + o * (1 - tc * tc);
      jac[j] = jcc;
      jac[D + j] = jch;
      jac[2 * D + j] = dhdc * jcc;
      jac[3 * D + j] = so * ao * tc + dhdc * jch;
    }
  }
}

// max over steps of |h_t − f(h_{t−1}, x_t)| / (1 + |f|), f in float64 from the T-typed inputs.
template <typename T>
double stepResidual(cells::CellKind kind, int64_t B, int64_t Tn, int64_t D, const T* A, const T* C, const T* P, const T* initial,
                    const std::vector<T>& h) {
  const int64_t S = cells::blocksOf(kind) * D;
  std::vector<double> prev(static_cast<size_t>(S)), f(static_cast<size_t>(S)), jac(static_cast<size_t>(S * cells::blocksOf(kind)));
  double worst = 0;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < Tn; ++t) {
      for (int64_t s = 0; s < S; ++s)
        prev[s] = t > 0 ? double(h[(b * Tn + t - 1) * S + s]) : initial ? double(initial[b * S + s]) : 0.0;
      refPoint(kind, D, A, C, P + (b * Tn + t) * 3 * D, prev.data(), f.data(), jac.data());
      for (int64_t s = 0; s < S; ++s) {
        const double r = std::fabs(double(h[(b * Tn + t) * S + s]) - f[s]) / (1 + std::fabs(f[s]));
        if (!(r <= worst)) worst = r;  // NaN sticks
      }
    }
  return worst;
}

template <typename T>
double worstRatio(const std::vector<T>& got, const std::vector<double>& ref, Tolerance tol) {
  double w = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    const double e = std::fabs(double(got[i]) - ref[i]);
    const double r = e / (tol.atol + tol.rtol * std::fabs(ref[i]));
    if (!(r <= w)) w = r;  // NaN sticks
  }
  return w;
}

// sequential, evaluate (f and J), fused (both schedules) and backward of the vectorised kernels
// against double references, for one shape on the current ISA.
template <typename T>
void runKernels(std::mt19937_64& rng, cells::CellKind kind, int64_t B, int64_t Tn, int64_t D, const std::string& isa) {
  const bool lstm = kind == cells::CellKind::LSTM;
  const int64_t S = cells::blocksOf(kind) * D, K = cells::blocksOf(kind), G = 3 * D;
  const std::string name = std::string(lstm ? "LSTM " : "GRU ") + (sizeof(T) == 4 ? "f32" : "f64") + " " + isa + " B=" + std::to_string(B) +
                           " T=" + std::to_string(Tn) + " D=" + std::to_string(D);
  auto P = randn<T>(rng, size_t(B * Tn * G), 1.0);
  auto A = randn<T>(rng, size_t(3 * D), 0.5);
  auto Cp = randn<T>(rng, size_t(2 * D), 0.5);
  auto h0 = randn<T>(rng, size_t(B * S), 0.5);
  auto g = randn<T>(rng, size_t(B * Tn * S), 1.0);
  const cells::CellParams<T> p = paramsOf(kind, B, Tn, D, P, A, Cp, B > 1 ? &h0 : nullptr);
  // Reference: the recurrence in double.
  std::vector<double> ref(size_t(B * Tn * S)), scratchJ(size_t(K * S));
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < Tn; ++t) {
      std::vector<double> prev(size_t(S), 0.0);
      for (int64_t s = 0; s < S; ++s) prev[s] = t > 0 ? ref[(b * Tn + t - 1) * S + s] : (p.initial ? double(p.initial[b * S + s]) : 0.0);
      refPoint(kind, D, p.A, p.C, p.projection + (b * Tn + t) * G, prev.data(), ref.data() + (b * Tn + t) * S, scratchJ.data());
    }
  const Tolerance tol = toleranceFor<T>(Tn);
  std::vector<T> seq(ref.size());
  expect(cells::sequential(p, seq.data()).status == Status::Ok, name + ": sequential ok");
  double w = worstRatio(seq, ref, tol);
  expect(w <= 1, name + ": sequential == float64 reference (worst error / tolerance " + std::to_string(w) + ")");
  for (auto schedule : {cells::FusedSchedule::Global, cells::FusedSchedule::Shooting}) {
    cells::NewtonControls c;
    c.schedule = schedule;
    c.absTol = 4 * std::numeric_limits<T>::epsilon();
    std::vector<T> fused(ref.size());
    const cells::NewtonReport r = cells::newton(p, c, fused.data());
    const std::string sn = name + (schedule == cells::FusedSchedule::Global ? " fused-global" : " fused-shooting");
    expect(r.solve.status == Status::Ok && r.termination == cells::Termination::Converged, sn + ": converged");
    w = worstRatio(fused, ref, tol);
    expect(w <= 1, sn + ": == float64 reference (worst error / tolerance " + std::to_string(w) + ")");
  }
  // Point-wise f and J at the native states (one step each: the tolerance of T = 1).
  std::vector<double> fRef(ref.size()), jRef(size_t(B * Tn * K * S));
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < Tn; ++t) {
      std::vector<double> prev(size_t(S), 0.0);
      for (int64_t s = 0; s < S; ++s) prev[s] = t > 0 ? double(seq[(b * Tn + t - 1) * S + s]) : (p.initial ? double(p.initial[b * S + s]) : 0.0);
      refPoint(kind, D, p.A, p.C, p.projection + (b * Tn + t) * G, prev.data(), fRef.data() + (b * Tn + t) * S, jRef.data() + (b * Tn + t) * K * S);
    }
  std::vector<T> f(ref.size()), J(jRef.size());
  expect(cells::evaluate(p, seq.data(), f.data(), J.data()).status == Status::Ok, name + ": evaluate ok");
  w = worstRatio(f, fRef, toleranceFor<T>(1));
  expect(w <= 1, name + ": evaluate f == float64 (worst " + std::to_string(w) + ")");
  w = worstRatio(J, jRef, toleranceFor<T>(1));
  expect(w <= 1, name + ": evaluate J == float64 (worst " + std::to_string(w) + ")");
  // Backward: λ_t = g_t + J_{t+1}^T λ_{t+1} on the reference Jacobians, then the VJPs by central
  // differences of the double reference point (an independent derivation of the cotangent formulas).
  std::vector<double> lam(ref.size());
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = Tn - 1; t >= 0; --t)
      for (int64_t j = 0; j < D; ++j)
        for (int64_t i = 0; i < K; ++i) {
          double v = double(g[(b * Tn + t) * S + i * D + j]);
          if (t + 1 < Tn)
            for (int64_t r = 0; r < K; ++r)
              v += jRef[((b * Tn + t + 1) * K * K + r * K + i) * D + j] * lam[(b * Tn + t + 1) * S + r * D + j];
          lam[(b * Tn + t) * S + i * D + j] = v;
        }
  std::vector<T> lambda(g), dP(P.size()), dh0(size_t(B * S));
  std::vector<double> dA(size_t(3 * D)), dC(size_t(2 * D));
  expect(cells::backward(p, seq.data(), lambda.data(), dP.data(), dA.data(), lstm ? dC.data() : nullptr, dh0.data()).status == Status::Ok,
         name + ": backward ok");
  const Tolerance gtol{tol.atol * 4, tol.rtol * 4};
  w = worstRatio(lambda, lam, gtol);
  expect(w <= 1, name + ": backward λ == float64 (worst " + std::to_string(w) + ")");
  // dP and dA/dC: u^T ∂f/∂(P, A, C) at every point by central differences of refPoint in double.
  std::vector<double> dPRef(P.size(), 0.0), dARef(size_t(3 * D), 0.0), dCRef(size_t(2 * D), 0.0), dh0Ref(size_t(B * S), 0.0);
  std::vector<double> o1(static_cast<size_t>(S)), o2(static_cast<size_t>(S)), jj(static_cast<size_t>(K * S));
  const double hstep = 1e-6;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < Tn; ++t) {
      const int64_t m = b * Tn + t;
      std::vector<double> prev(size_t(S), 0.0);
      for (int64_t s = 0; s < S; ++s) prev[s] = t > 0 ? double(seq[(m - 1) * S + s]) : (p.initial ? double(p.initial[b * S + s]) : 0.0);
      const double* u = lam.data() + m * S;
      // Perturb in double: refPoint reads T-typed P/A/C, so differentiate a double copy directly.
      std::vector<double> Pd(P.begin() + m * G, P.begin() + (m + 1) * G), Ad(A.begin(), A.end()), Cd(Cp.begin(), Cp.end());
      auto eval = [&](std::vector<double>& out) { refPoint<double>(kind, D, Ad.data(), lstm ? Cd.data() : nullptr, Pd.data(), prev.data(), out.data(), jj.data()); };
      auto dot = [&](double& slot, double& x) {
        const double keep = x;
        x = keep + hstep;
        eval(o1);
        x = keep - hstep;
        eval(o2);
        x = keep;
        double v = 0;
        for (int64_t s = 0; s < S; ++s) v += u[s] * (o1[s] - o2[s]) / (2 * hstep);
        slot += v;
      };
      for (int64_t q = 0; q < G; ++q) dot(dPRef[m * G + q], Pd[q]);
      for (int64_t q = 0; q < 3 * D; ++q) dot(dARef[q], Ad[q]);
      if (lstm)
        for (int64_t q = 0; q < 2 * D; ++q) dot(dCRef[q], Cd[q]);
      if (t == 0)
        for (int64_t s = 0; s < S; ++s) dot(dh0Ref[b * S + s], prev[s]);
    }
  // Central differences carry ~1e-9 relative error in double: a float64 kernel is held to 1e-7.
  const Tolerance fd = sizeof(T) == 4 ? gtol : Tolerance{1e-7 * std::sqrt(double(Tn)), 1e-7 * std::sqrt(double(Tn))};
  w = worstRatio(dP, dPRef, fd);
  expect(w <= 1, name + ": backward dP == finite differences (worst " + std::to_string(w) + ")");
  w = worstRatio(dh0, dh0Ref, fd);
  expect(w <= 1, name + ": backward dh0 == finite differences (worst " + std::to_string(w) + ")");
  const double points = double(B * Tn);
  const Tolerance sum{fd.atol * std::sqrt(points), fd.rtol * std::sqrt(points)};
  w = worstRatio(dA, dARef, sum);
  expect(w <= 1, name + ": backward dA == finite differences (worst " + std::to_string(w) + ")");
  if (lstm) {
    w = worstRatio(dC, dCRef, sum);
    expect(w <= 1, name + ": backward dC == finite differences (worst " + std::to_string(w) + ")");
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
  std::printf("×100 fallbacks: non-finite %d, growing %d, max-iterations %d, ill-conditioned %d\n", fallbacks[1], fallbacks[2], fallbacks[3],
              fallbacks[4]);
  // The vectorised kernels on every ISA this CPU runs: T = 1, odd lengths, the 256-step evaluation
  // chunks ±1; D with a partial vector (5, 19) and without; both cells and dtypes.
  for (const std::string& isa : cpu::availableIsas()) {
    if (!cpu::setIsa(isa)) continue;
    for (auto kind : {cells::CellKind::GRU, cells::CellKind::LSTM})
      for (auto [B, Tn, D] : std::vector<std::array<int64_t, 3>>{{1, 1, 5}, {3, 2, 8}, {1, 17, 19}, {2, 255, 16}, {1, 257, 5}, {3, 513, 8}}) {
        runKernels<float>(rng, kind, B, Tn, D, isa);
        runKernels<double>(rng, kind, B, Tn, D, isa);
      }
  }
  cpu::setIsa(cpu::availableIsas().front());
  runInvalid();
  std::printf("%d passed, %d failed\n", counter().passed, counter().failed);
  return counter().failed == 0 ? 0 : 1;
}
