// combine.h is the per-lane algebra the CUDA kernels use in registers and warp shuffles; these
// tests pin its identities on the CPU, where they can run everywhere.
#include <random>

#include "parascan/combine.h"
#include "testing.h"

using namespace parascan;
using namespace parascan::testing;

namespace {

template <int K>
AffineMap<double, K> randomMap(std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  AffineMap<double, K> m;
  for (int i = 0; i < K; ++i) {
    for (int j = 0; j < K; ++j) m.a[i][j] = u(rng);
    m.b[i] = u(rng);
  }
  return m;
}

template <int K>
double maxDiff(const AffineMap<double, K>& x, const AffineMap<double, K>& y) {
  double d = 0;
  for (int i = 0; i < K; ++i) {
    for (int j = 0; j < K; ++j) d = std::max(d, std::fabs(x.a[i][j] - y.a[i][j]));
    d = std::max(d, std::fabs(x.b[i] - y.b[i]));
  }
  return d;
}

template <int K>
void combineIdentities(std::mt19937_64& rng) {
  const std::string tag = "combine K=" + std::to_string(K);
  const auto a = randomMap<K>(rng), b = randomMap<K>(rng), c = randomMap<K>(rng);
  // associativity: (c∘b)∘a == c∘(b∘a)
  expect(maxDiff(affineCompose(affineCompose(c, b), a), affineCompose(c, affineCompose(b, a))) < 1e-12, tag + " associative");
  // identity is neutral on both sides
  const auto id = affineIdentity<double, K>();
  expect(maxDiff(affineCompose(id, a), a) < 1e-15 && maxDiff(affineCompose(a, id), a) < 1e-15, tag + " identity");
  // applying the composition == applying one map after the other
  double x[K], y1[K], y2[K];
  for (int i = 0; i < K; ++i) x[i] = 0.25 * (i + 1);
  affineApply(affineCompose(b, a), x, y1);
  affineApply(a, x, y2);
  affineApply(b, y2, y2);
  double d = 0;
  for (int i = 0; i < K; ++i) d = std::max(d, std::fabs(y1[i] - y2[i]));
  expect(d < 1e-12, tag + " compose == apply twice");
  // the runtime-k versions agree with the fixed-K ones
  double aL[K * K], bL[K], aE[K * K], bE[K], aO[K * K], bO[K], scratch[K * K + K];
  for (int i = 0; i < K; ++i) {
    for (int j = 0; j < K; ++j) {
      aL[i * K + j] = b.a[i][j];
      aE[i * K + j] = a.a[i][j];
    }
    bL[i] = b.b[i];
    bE[i] = a.b[i];
  }
  affineComposeDynamic<double>(K, aL, bL, aE, bE, aO, bO, scratch);
  const auto fixed = affineCompose(b, a);
  d = 0;
  for (int i = 0; i < K; ++i) {
    for (int j = 0; j < K; ++j) d = std::max(d, std::fabs(aO[i * K + j] - fixed.a[i][j]));
    d = std::max(d, std::fabs(bO[i] - fixed.b[i]));
  }
  expect(d < 1e-15, tag + " dynamic compose == fixed compose");
}

// Folding the loaded step maps over time reproduces the sequential recurrence, both directions.
template <int K>
void stepMapsReproduceRecurrence(std::mt19937_64& rng) {
  const int64_t Tn = 37, N = 3, n = 1;
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  std::vector<double> jac(Tn * K * K * N), rhs(Tn * K * N);
  for (auto& v : jac) v = u(rng) / K;
  for (auto& v : rhs) v = u(rng);
  const std::vector<double> initV(K * N, 0.0);
  for (bool reverse : {false, true}) {
    const auto ref = referenceSolve<double>(reverse, 1, Tn, K, N, jac, rhs, &initV);
    auto acc = affineIdentity<double, K>();
    double worst = 0;
    for (int64_t s = 0; s < Tn; ++s) {
      const int64_t t = reverse ? Tn - 1 - s : s;
      if (!reverse) {
        acc = affineCompose(loadForwardStep<double, K>(&jac[t * K * K * N], &rhs[t * K * N], N, n), acc);
        for (int i = 0; i < K; ++i) worst = std::max(worst, std::fabs(acc.b[i] - ref[t * K * N + i * N + n]));
      } else {
        // acc maps the carry into row t+1 to the carry out of row t+1; out_t = r_t + acc.b
        for (int i = 0; i < K; ++i) worst = std::max(worst, std::fabs(rhs[t * K * N + i * N + n] + acc.b[i] - ref[t * K * N + i * N + n]));
        acc = affineCompose(loadReverseStep<double, K>(&jac[t * K * K * N], &rhs[t * K * N], N, n), acc);
      }
    }
    expect(worst < 1e-12, "step maps K=" + std::to_string(K) + (reverse ? " reverse" : " forward") + " reproduce the recurrence");
  }
}

}  // namespace

void runCombineTests() {
  std::mt19937_64 rng(testSeed());
  combineIdentities<1>(rng);
  combineIdentities<2>(rng);
  combineIdentities<3>(rng);
  combineIdentities<4>(rng);
  stepMapsReproduceRecurrence<1>(rng);
  stepMapsReproduceRecurrence<2>(rng);
  stepMapsReproduceRecurrence<3>(rng);
}
