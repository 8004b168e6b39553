// A minimal test harness: named checks, a float64 reference, tolerances per dtype, random inputs.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <random>
#include <string>
#include <vector>

namespace parascan::testing {

struct Counter {
  int passed = 0;
  int failed = 0;
};
Counter& counter();

// Registers a check: prints the failure (with its name) and counts it.
inline bool expect(bool ok, const std::string& what) {
  if (ok) {
    ++counter().passed;
  } else {
    ++counter().failed;
    std::printf("FAIL %s\n", what.c_str());
  }
  return ok;
}

// Seeds come from the clock unless PARASCAN_TEST_SEED is set; the seed is printed so any
// failure can be replayed.
uint64_t testSeed();

// atol + rtol·|ref|, with both growing like sqrt(T): scan rounding errors are a sum of T terms.
struct Tolerance {
  double atol;
  double rtol;
};
template <typename T>
Tolerance toleranceFor(int64_t length) {
  const double grow = std::sqrt(static_cast<double>(length));
  if constexpr (sizeof(T) == 4) return {2e-6 * grow, 2e-6 * grow};
  else return {1e-14 * grow, 1e-14 * grow};
}

// Simplest possible float64 sequential substitution (the reference every backend is checked
// against): forward x_t = J_t x_{t-1} + r_t; reverse x_t = r_t + J_{t+1}^T x_{t+1}.
template <typename T>
std::vector<double> referenceSolve(bool reverse, int64_t B, int64_t Tn, int64_t k, int64_t N, const std::vector<T>& jac,
                                   const std::vector<T>& rhs, const std::vector<T>* initial) {
  const int64_t D = k * N;
  std::vector<double> out(static_cast<size_t>(B * Tn * D));
  for (int64_t b = 0; b < B; ++b)
    for (int64_t n = 0; n < N; ++n) {
      std::vector<double> x(k), y(k);
      for (int64_t i = 0; i < k; ++i) x[i] = initial ? double((*initial)[b * D + i * N + n]) : 0.0;
      for (int64_t s = 0; s < Tn; ++s) {
        const int64_t t = reverse ? Tn - 1 - s : s;
        auto J = [&](int64_t i, int64_t j) { return double(jac[((b * Tn + t) * k * k + i * k + j) * N + n]); };
        if (!reverse) {
          for (int64_t i = 0; i < k; ++i) {
            double acc = double(rhs[(b * Tn + t) * D + i * N + n]);
            for (int64_t j = 0; j < k; ++j) acc += J(i, j) * x[j];
            y[i] = acc;
          }
          x = y;
          for (int64_t i = 0; i < k; ++i) out[(b * Tn + t) * D + i * N + n] = x[i];
        } else {
          // x holds the term coming from t+1 (J_{t+1}^T x_{t+1}, or `initial` at the end)
          for (int64_t i = 0; i < k; ++i) y[i] = double(rhs[(b * Tn + t) * D + i * N + n]) + x[i];
          for (int64_t i = 0; i < k; ++i) out[(b * Tn + t) * D + i * N + n] = y[i];
          for (int64_t j = 0; j < k; ++j) {
            double acc = 0;
            for (int64_t i = 0; i < k; ++i) acc += J(i, j) * y[i];
            x[j] = acc;
          }
        }
      }
    }
  return out;
}

}  // namespace parascan::testing
