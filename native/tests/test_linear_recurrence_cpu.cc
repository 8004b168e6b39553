// CPU solver vs the float64 reference: every instruction set × schedule × dtype × block size ×
// direction, over awkward sizes, with and without an initial value; exact zeros in J must cut the
// recurrence; NaN/Inf must be reported; in-place solves must match out-of-place ones.
#include <algorithm>
#include <cstring>
#include <string>

#include "parascan/cpu.h"
#include "testing.h"

using namespace parascan;
using namespace parascan::testing;

namespace {

struct Case {
  int64_t B, T, k, N;
  bool reverse;
  bool withInitial;
  int schedule;
  int64_t chunkLength;
};

std::string describe(const Case& c, const char* dtype, const std::string& isa) {
  char buf[256];
  std::snprintf(buf, sizeof(buf), "%s %s B=%lld T=%lld k=%lld N=%lld %s init=%d schedule=%d chunk=%lld", isa.c_str(), dtype,
                (long long)c.B, (long long)c.T, (long long)c.k, (long long)c.N, c.reverse ? "reverse" : "forward",
                (int)c.withInitial, c.schedule, (long long)c.chunkLength);
  return buf;
}

// Jacobians near the edge of stability: most |J| close to 1, some exactly 0, blocks scaled by
// 1/k so every row of a block grid has absolute sum <= 1 (values stay O(sqrt T)).
template <typename T>
void fillInputs(std::mt19937_64& rng, int64_t B, int64_t Tn, int64_t k, int64_t N, std::vector<T>& jac, std::vector<T>& rhs,
                std::vector<T>& init) {
  std::uniform_real_distribution<double> u(-1.0, 1.0), mag(0.9, 1.0);
  std::uniform_int_distribution<int> pick(0, 9);
  jac.resize(static_cast<size_t>(B * Tn * k * k * N));
  rhs.resize(static_cast<size_t>(B * Tn * k * N));
  init.resize(static_cast<size_t>(B * k * N));
  for (auto& j : jac) {
    const int p = pick(rng);
    double v = p == 0 ? 0.0 : (p <= 6 ? mag(rng) * (u(rng) < 0 ? -1 : 1) : 0.5 * u(rng));
    j = static_cast<T>(v / static_cast<double>(k));
  }
  for (auto& r : rhs) r = static_cast<T>(u(rng));
  for (auto& x : init) x = static_cast<T>(u(rng));
}

template <typename T>
LinearRecurrenceParams<T> makeParams(bool reverse, int64_t B, int64_t Tn, int64_t k, int64_t N, const std::vector<T>& jac,
                                     const std::vector<T>& rhs, const T* initial, std::vector<T>& out, int schedule,
                                     int64_t chunkLength) {
  LinearRecurrenceParams<T> p;
  p.direction = reverse ? Direction::Reverse : Direction::Forward;
  p.batch = B;
  p.length = Tn;
  p.blockSize = k;
  p.lanes = N;
  p.jacobians = jac.data();
  p.rhs = rhs.data();
  p.initial = initial;
  p.out = out.data();
  p.schedule = schedule;
  p.chunkLength = chunkLength;
  return p;
}

template <typename T>
bool compare(const std::vector<T>& got, const std::vector<double>& ref, int64_t Tn, const std::string& name) {
  const Tolerance tol = toleranceFor<T>(Tn);
  for (size_t i = 0; i < ref.size(); ++i) {
    const double err = std::fabs(double(got[i]) - ref[i]);
    if (!(err <= tol.atol + tol.rtol * std::fabs(ref[i]))) {
      char buf[160];
      std::snprintf(buf, sizeof(buf), " at %zu: got %.9g want %.9g (err %.3g)", i, double(got[i]), ref[i], err);
      return expect(false, name + buf);
    }
  }
  return expect(true, name);
}

template <typename T>
void runCase(std::mt19937_64& rng, const Case& c, const std::string& isa, const char* dtype) {
  std::vector<T> jac, rhs, init;
  fillInputs(rng, c.B, c.T, c.k, c.N, jac, rhs, init);
  const std::vector<double> ref = referenceSolve<T>(c.reverse, c.B, c.T, c.k, c.N, jac, rhs, c.withInitial ? &init : nullptr);
  std::vector<T> out(rhs.size(), T(-12345));
  LinearRecurrenceParams<T> p = makeParams(c.reverse, c.B, c.T, c.k, c.N, jac, rhs, c.withInitial ? init.data() : nullptr, out,
                                           c.schedule, c.chunkLength);
  const std::string name = describe(c, dtype, isa);
  const SolveReport rep = cpu::solveLinearRecurrence(p);
  if (!expect(rep.status == Status::Ok, name + " status " + rep.message)) return;
  compare(out, ref, c.T, name);

  // In place (out == rhs) must give the same bits as out of place.
  std::vector<T> inplace = rhs;
  p.rhs = inplace.data();
  p.out = inplace.data();
  cpu::solveLinearRecurrence(p);
  expect(std::memcmp(inplace.data(), out.data(), sizeof(T) * out.size()) == 0, name + " in-place differs");
}

// With J_t = 0 the recurrence restarts: x_t must equal r_t bit for bit (forward), and with
// J_{t+1} = 0, x_t = r_t (reverse, no initial leaking in from later rows either).
template <typename T>
void zeroCutCase(std::mt19937_64& rng, int64_t k, int64_t N, int schedule, bool reverse, const std::string& isa) {
  const int64_t B = 2, Tn = 3001;
  std::vector<T> jac, rhs, init;
  fillInputs(rng, B, Tn, k, N, jac, rhs, init);
  const int64_t cut = 1777;
  for (int64_t b = 0; b < B; ++b)
    std::fill(jac.begin() + (b * Tn + cut) * k * k * N, jac.begin() + (b * Tn + cut + 1) * k * k * N, T(0));
  std::vector<T> out(rhs.size());
  const LinearRecurrenceParams<T> p = makeParams(reverse, B, Tn, k, N, jac, rhs, init.data(), out, schedule, 100);
  cpu::solveLinearRecurrence(p);
  const int64_t row = reverse ? cut - 1 : cut;
  bool exact = true;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t i = 0; i < k * N; ++i) exact = exact && out[(b * Tn + row) * k * N + i] == rhs[(b * Tn + row) * k * N + i];
  expect(exact, isa + " zero Jacobian cuts the recurrence k=" + std::to_string(k) + " N=" + std::to_string(N) +
                    " schedule=" + std::to_string(schedule) + (reverse ? " reverse" : " forward"));
}

template <typename T>
void nonFiniteCase(std::mt19937_64& rng, int schedule, bool reverse, const std::string& isa) {
  const int64_t B = 1, Tn = 5000, k = 1, N = 3;
  std::vector<T> jac, rhs, init;
  fillInputs(rng, B, Tn, k, N, jac, rhs, init);
  std::vector<T> out(rhs.size());
  const LinearRecurrenceParams<T> p = makeParams(reverse, B, Tn, k, N, jac, rhs, static_cast<const T*>(nullptr), out, schedule, 0);
  const std::string tag = isa + " schedule=" + std::to_string(schedule) + (reverse ? " reverse" : " forward");
  expect(cpu::solveLinearRecurrence(p).status == Status::Ok, tag + " finite input is ok");
  // A NaN followed by a zero Jacobian: the NaN must still be reported although the zero stops
  // it from reaching the last row (0·NaN is NaN, so it does reach it; this pins that behaviour).
  rhs[1234 * N + 1] = std::numeric_limits<T>::quiet_NaN();
  expect(cpu::solveLinearRecurrence(p).status == Status::NonFinite, tag + " NaN in rhs reported");
  rhs[1234 * N + 1] = T(0);
  jac[4321 * N + 2] = std::numeric_limits<T>::infinity();
  expect(cpu::solveLinearRecurrence(p).status == Status::NonFinite, tag + " Inf in jacobians reported");
  jac[4321 * N + 2] = T(0.5);
  // Overflow from finite inputs: |J| = 2 for 5000 steps.
  std::fill(jac.begin(), jac.end(), T(2));
  expect(cpu::solveLinearRecurrence(p).status == Status::NonFinite, tag + " overflow reported");
}

template <typename T>
void sweep(const char* dtype, const std::string& isa) {
  std::mt19937_64 rng(testSeed() ^ (sizeof(T) * 7919) ^ std::hash<std::string>{}(isa));
  const int64_t chunk = 64;  // forced chunk length for the boundary sizes below
  const int64_t lengths[] = {1, 2, 3, 17, chunk - 1, chunk, chunk + 1, 8 * chunk - 1, 8 * chunk + 1, 1000};
  const int64_t blocks[] = {1, 2, 3, 4, 5};
  const int64_t lanesList[] = {1, 4, 5, 64};  // 4: the SIMD lockstep kernels (2 and 8 below)
  for (int schedule : {0, 1, 2, 3})
    for (int64_t k : blocks)
      for (int64_t N : lanesList)
        for (int64_t Tn : lengths)
          for (int64_t B : {1, 3})
            for (bool reverse : {false, true}) {
              if (k * k * N * Tn * B > (1 << 22)) continue;
              const bool withInitial = ((Tn + k + N + B) % 2) == 0 || Tn == 1;
              runCase<T>(rng, Case{B, Tn, k, N, reverse, withInitial, schedule, schedule == 3 ? chunk : 0}, isa, dtype);
              if (Tn == 17) runCase<T>(rng, Case{B, Tn, k, N, reverse, !withInitial, schedule, schedule == 3 ? 5 : 0}, isa, dtype);
            }
  // Long sequences: the automatic schedule and the chunked one with its automatic chunking.
  for (bool reverse : {false, true})
    for (int schedule : {0, 3}) {
      runCase<T>(rng, Case{1, (1 << 16) + 3, 1, 1, reverse, true, schedule, 0}, isa, dtype);
      runCase<T>(rng, Case{3, (1 << 16) + 3, 1, 5, reverse, false, schedule, 0}, isa, dtype);
      runCase<T>(rng, Case{1, (1 << 16) + 3, 2, 4, reverse, true, schedule, 0}, isa, dtype);
      runCase<T>(rng, Case{1, (1 << 14) + 1, 3, 5, reverse, true, schedule, 0}, isa, dtype);
      runCase<T>(rng, Case{1, (1 << 15) + 7, 1, 2, reverse, true, schedule, 0}, isa, dtype);
      runCase<T>(rng, Case{2, (1 << 14) + 5, 1, 8, reverse, false, schedule, 0}, isa, dtype);
      runCase<T>(rng, Case{1, (1 << 14) + 5, 2, 2, reverse, true, schedule, 0}, isa, dtype);
    }
  runCase<T>(rng, Case{1, (1 << 16) + 3, 1, 64, false, true, 0, 0}, isa, dtype);
  runCase<T>(rng, Case{2, 300, 16, 1, true, true, 0, 0}, isa, dtype);  // dense D = 16
  runCase<T>(rng, Case{1, 200, 64, 1, false, true, 0, 0}, isa, dtype);  // dense D = 64
  for (int64_t k : {1, 2, 3, 6})
    for (int schedule : {1, 2, 3})
      for (bool reverse : {false, true}) zeroCutCase<T>(rng, k, k == 6 ? 1 : 7, schedule, reverse, isa);
  for (int schedule : {1, 2, 3})
    for (bool reverse : {false, true}) nonFiniteCase<T>(rng, schedule, reverse, isa);
}

}  // namespace

void runCpuSolverTests() {
  const auto isas = cpu::availableIsas();
  expect(!isas.empty() && cpu::setIsa(isas.front()), "the best instruction set can be selected");
  expect(!cpu::setIsa("no-such-isa"), "an unknown instruction set is refused");
  for (const auto& isa : isas) {
    expect(cpu::setIsa(isa) && cpu::activeIsa() == isa, "select " + isa);
    for (int threads : {1, 3}) {
      cpu::setThreads(threads);
      const int before = counter().failed;
      sweep<float>("float32", isa);
      sweep<double>("float64", isa);
      std::printf("%s threads=%d: %s\n", isa.c_str(), threads, counter().failed == before ? "ok" : "FAILURES");
      if (threads == 1 && isa != isas.front()) break;  // the narrower ISAs once, single-threaded
    }
  }
  cpu::setThreads(0);
  cpu::setIsa("auto");
}
