// Test cases, the sequential float64 reference and the tolerance, shared by the GPU check
// (gpu_check.cu) and the CPU emulation of the kernels (emulator/emulated_check.cpp). Plain C++.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <thread>
#include <vector>

#include "parascan/linear_recurrence.h"

namespace parascan::testing {

// SplitMix64: tiny, seedable, good enough for test data.
class Random {
 public:
  explicit Random(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0); }  // [0, 1)
  double uniform(double low, double high) { return low + (high - low) * uniform(); }

 private:
  uint64_t state_;
};

struct CaseShape {
  int64_t batch = 1, length = 1, blockSize = 1, lanes = 1;
  bool reverse = false;
  bool withInitial = false;
};

template <typename T>
struct RecurrenceCase {
  CaseShape shape;
  std::vector<T> jacobians, rhs, initial;

  LinearRecurrenceParams<T> params(T* out) const {
    LinearRecurrenceParams<T> p;
    p.direction = shape.reverse ? Direction::Reverse : Direction::Forward;
    p.batch = shape.batch;
    p.length = shape.length;
    p.blockSize = shape.blockSize;
    p.lanes = shape.lanes;
    p.jacobians = jacobians.data();
    p.rhs = rhs.data();
    p.initial = shape.withInitial ? initial.data() : nullptr;
    p.out = out;
    return p;
  }
};

inline int64_t jacobianCount(const CaseShape& s) { return s.batch * s.length * s.blockSize * s.blockSize * s.lanes; }
inline int64_t rhsCount(const CaseShape& s) { return s.batch * s.length * s.blockSize * s.lanes; }

// Runs body(begin, end) over [0, count) split across the hardware threads (test data can be
// hundreds of MB; one core would dominate the run time).
template <typename Body>
void parallelFor(int64_t count, Body body) {
  const int64_t workers = std::max<int64_t>(1, std::min<int64_t>(std::thread::hardware_concurrency(), count));
  if (workers == 1) {
    body(int64_t(0), count);
    return;
  }
  std::vector<std::thread> threads;
  for (int64_t w = 0; w < workers; ++w)
    threads.emplace_back([=] { body(count * w / workers, count * (w + 1) / workers); });
  for (auto& t : threads) t.join();
}

// Random Jacobians that keep the recurrence bounded in both directions: every k×k block has row and
// column absolute sums <= 1 (so |x|∞ grows at most linearly and in practice stays O(10)). It mixes
// entries near 1 (long memory: errors of a reassociated scan show up), ordinary ones, exact zeros
// (a zero diagonal, a whole zero block = a reset of the recurrence), and off-diagonal couplings
// large enough that a transposed or misplaced block is a visible error. Every (b, t) row has its
// own generator, so the data does not depend on how rows are spread over threads.
template <typename T>
RecurrenceCase<T> makeCase(const CaseShape& shape, uint64_t seed) {
  RecurrenceCase<T> c;
  c.shape = shape;
  const int64_t k = shape.blockSize, n = shape.lanes;
  c.jacobians.resize(static_cast<size_t>(jacobianCount(shape)));
  c.rhs.resize(static_cast<size_t>(rhsCount(shape)));
  parallelFor(shape.batch * shape.length, [&](int64_t rowBegin, int64_t rowEnd) {
    std::vector<double> diagonal(static_cast<size_t>(k));
    for (int64_t row = rowBegin; row < rowEnd; ++row) {
      Random random(seed * 0x100000001b3ull + static_cast<uint64_t>(row));
      T* block = c.jacobians.data() + row * k * k * n;
      for (int64_t lane = 0; lane < n; ++lane) {
        const bool reset = random.uniform() < 0.03;
        for (int64_t i = 0; i < k; ++i) {
          const double u = random.uniform();
          double magnitude = u < 0.05 ? 0.0 : u < 0.55 ? random.uniform(0.95, 1.0) : random.uniform(0.3, 0.95);
          if (reset) magnitude = 0.0;
          diagonal[static_cast<size_t>(i)] = random.uniform() < 0.8 ? magnitude : -magnitude;
        }
        for (int64_t i = 0; i < k; ++i) {
          for (int64_t j = 0; j < k; ++j) {
            double value;
            if (i == j) {
              value = diagonal[static_cast<size_t>(i)];
            } else if (reset || random.uniform() < 0.2) {
              value = 0.0;
            } else {
              const double budget = std::min(1.0 - std::fabs(diagonal[static_cast<size_t>(i)]),
                                             1.0 - std::fabs(diagonal[static_cast<size_t>(j)])) /
                                    static_cast<double>(k - 1);
              value = random.uniform(-1.0, 1.0) * budget;
            }
            block[(i * k + j) * n + lane] = static_cast<T>(value);
          }
        }
      }
      T* rhs = c.rhs.data() + row * k * n;
      for (int64_t e = 0; e < k * n; ++e) rhs[e] = static_cast<T>(random.uniform(-1.0, 1.0));
    }
  });
  if (shape.withInitial) {
    Random random(~seed);
    c.initial.resize(static_cast<size_t>(shape.batch * k * n));
    for (auto& v : c.initial) v = static_cast<T>(random.uniform(-1.0, 1.0));
  }
  return c;
}

// The simplest possible loop, in float64, straight from linear_recurrence.h:
//   forward: x_t = J_t x_{t-1} + r_t               reverse: out_t = r_t + c, c = J_t^T out_t
template <typename T>
std::vector<double> solveReference(const RecurrenceCase<T>& c) {
  const CaseShape& s = c.shape;
  const int64_t k = s.blockSize, n = s.lanes, length = s.length;
  std::vector<double> out(static_cast<size_t>(rhsCount(s)));
  // Each lane of each batch is an independent system. Threads take ranges of systems; time is the
  // outer loop and the systems of one batch the inner one, so the arrays are streamed once.
  parallelFor(s.batch * n, [&](int64_t begin, int64_t end) {
    for (int64_t first = begin; first < end;) {
      const int64_t b = first / n;
      const int64_t laneBegin = first % n;
      const int64_t laneEnd = std::min(n, laneBegin + (end - first));
      first += laneEnd - laneBegin;
      std::vector<double> state(static_cast<size_t>((laneEnd - laneBegin) * k)), next(static_cast<size_t>(k));
      for (int64_t lane = laneBegin; lane < laneEnd; ++lane)
        for (int64_t i = 0; i < k; ++i)
          state[static_cast<size_t>((lane - laneBegin) * k + i)] =
              s.withInitial ? double(c.initial[static_cast<size_t>((b * k + i) * n + lane)]) : 0.0;
      for (int64_t step = 0; step < length; ++step) {
        const int64_t t = s.reverse ? length - 1 - step : step;
        const T* jac = c.jacobians.data() + (b * length + t) * k * k * n;
        const T* rhs = c.rhs.data() + (b * length + t) * k * n;
        double* o = out.data() + (b * length + t) * k * n;
        for (int64_t lane = laneBegin; lane < laneEnd; ++lane) {
          double* x = state.data() + (lane - laneBegin) * k;
          if (!s.reverse) {  // x_t = J_t x_{t-1} + r_t
            for (int64_t i = 0; i < k; ++i) {
              double v = rhs[i * n + lane];
              for (int64_t j = 0; j < k; ++j) v += double(jac[(i * k + j) * n + lane]) * x[j];
              next[static_cast<size_t>(i)] = v;
            }
            for (int64_t i = 0; i < k; ++i) x[i] = o[i * n + lane] = next[static_cast<size_t>(i)];
          } else {  // out_t = r_t + c; c = J_t^T out_t (J_0 is not part of the reverse recurrence)
            for (int64_t i = 0; i < k; ++i) next[static_cast<size_t>(i)] = o[i * n + lane] = double(rhs[i * n + lane]) + x[i];
            if (t == 0) continue;
            for (int64_t i = 0; i < k; ++i) {
              double v = 0.0;
              for (int64_t j = 0; j < k; ++j) v += double(jac[(j * k + i) * n + lane]) * next[static_cast<size_t>(j)];
              x[i] = v;
            }
          }
        }
      }
    }
  });
  return out;
}

// Tolerance |got - ref| <= atol + rtol·|ref| with rtol = 16·eps·(8 + √T) and atol = rtol·S, where
// S = max(1, max |ref|) of the case. Why: the GPU reassociates the recurrence (products of up to a
// tile's worth of Jacobians, then log-depth scans and look-back compositions), so its rounding
// differs from the sequential loop by a few ulps per level, accumulated over the steps that still
// influence an output; with |J| <= 1 that accumulation behaves like a random walk, hence √T, and
// absolute errors scale with the magnitudes being summed (S). 16 covers the k-term dot products.
// A bug (a wrong carry, a transposed block, a lost step) errs by O(0.01·S) or more and fails even for
// T = 65539 in float32 (rtol ≈ 5e-4).
template <typename T>
double relativeTolerance(int64_t length) {
  return 16.0 * static_cast<double>(std::numeric_limits<T>::epsilon()) * (8.0 + std::sqrt(static_cast<double>(length)));
}

struct Comparison {
  bool ok = true;
  double worstExcess = 0.0;  // max over elements of |got - ref| / (atol + rtol |ref|)
  int64_t worstIndex = -1;
  double worstGot = 0.0, worstRef = 0.0;
};

template <typename T>
Comparison compareToReference(const T* got, const std::vector<double>& ref, int64_t length) {
  Comparison result;
  double scale = 1.0;
  for (double v : ref) scale = std::max(scale, std::fabs(v));
  const double rtol = relativeTolerance<T>(length);
  const double atol = rtol * scale;
  for (size_t i = 0; i < ref.size(); ++i) {
    const double g = static_cast<double>(got[i]);
    double excess = std::fabs(g - ref[i]) / (atol + rtol * std::fabs(ref[i]));
    if (std::isnan(excess)) excess = std::numeric_limits<double>::infinity();
    if (result.worstIndex < 0 || excess > result.worstExcess) {
      result.worstExcess = excess;
      result.worstIndex = static_cast<int64_t>(i);
      result.worstGot = g;
      result.worstRef = ref[i];
    }
  }
  result.ok = result.worstExcess <= 1.0;
  return result;
}

// "B=3 T=17 k=2 N=5 reverse initial" and, for a failure, where: "[b=1 t=4 i=0 n=3] got .. want ..".
inline void describeShape(const CaseShape& s, char* text, size_t capacity) {
  snprintf(text, capacity, "B=%lld T=%lld k=%lld N=%lld %s%s", static_cast<long long>(s.batch),
           static_cast<long long>(s.length), static_cast<long long>(s.blockSize), static_cast<long long>(s.lanes),
           s.reverse ? "reverse" : "forward", s.withInitial ? " initial" : "");
}

inline void describeIndex(const CaseShape& s, int64_t index, char* text, size_t capacity) {
  const int64_t d = s.blockSize * s.lanes;
  const int64_t bt = index / d, within = index % d;
  snprintf(text, capacity, "b=%lld t=%lld i=%lld n=%lld", static_cast<long long>(bt / s.length),
           static_cast<long long>(bt % s.length), static_cast<long long>(within / s.lanes),
           static_cast<long long>(within % s.lanes));
}

}  // namespace parascan::testing
