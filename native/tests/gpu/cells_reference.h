// Float64 references of ParaGRU / ParaLSTM (shared/DESIGN.md §5) for the CUDA cell kernels, shared
// by the GPU check (gpu_check.cu) and the CPU emulation (emulator/emulated_cells.cpp). Plain C++.
//
// Independence: the kernels use hand-derived closed-form Jacobians and VJPs. Here the cell is
// written once, as a template over its number type, and every derivative comes from running it on
// dual numbers (forward-mode differentiation: one pass per input of a lane). So a wrong derivative
// formula in the kernels cannot be matched by the same mistake here. checkReferenceGradients()
// also checks the dual-number gradients against central finite differences.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "parascan/cells.h"
#include "reference.h"

namespace parascan::testing::cellref {

using ::parascan::cells::CellKind;

// A forward-mode dual number: value and one directional derivative.
struct Dual {
  double v = 0, d = 0;
};
inline Dual operator+(Dual a, Dual b) { return {a.v + b.v, a.d + b.d}; }
inline Dual operator-(Dual a, Dual b) { return {a.v - b.v, a.d - b.d}; }
inline Dual operator*(Dual a, Dual b) { return {a.v * b.v, a.d * b.v + a.v * b.d}; }
inline Dual operator+(double a, Dual b) { return {a + b.v, b.d}; }
inline Dual operator-(double a, Dual b) { return {a - b.v, -b.d}; }
inline Dual tanhOf(Dual a) {
  const double t = std::tanh(a.v);
  return {t, (1 - t * t) * a.d};
}
inline Dual sigmoidOf(Dual a) {
  const double s = 1 / (1 + std::exp(-a.v));
  return {s, s * (1 - s) * a.d};
}
inline double tanhOf(double a) { return std::tanh(a); }
inline double sigmoidOf(double a) { return 1 / (1 + std::exp(-a)); }

// Inputs of one lane: prev state (K values: h, or c and h), the 3 projected gates, A's 3 rows,
// and C's 2 rows (ParaLSTM). Outputs: the new state (K values).
constexpr int kMaxInputs = 10;
inline int laneInputs(CellKind kind) { return kind == CellKind::GRU ? 7 : 10; }
inline int laneWidth(CellKind kind) { return kind == CellKind::GRU ? 1 : 2; }

template <typename N>
void laneCell(CellKind kind, const N* in, N* out) {
  if (kind == CellKind::GRU) {  // in: h, Pz, Pr, Pc, Az, Ar, Ac
    const N h = in[0];
    const N z = sigmoidOf(in[4] * h + in[1]);
    const N r = sigmoidOf(in[5] * h + in[2]);
    const N c = tanhOf(in[6] * (h * r) + in[3]);
    out[0] = z * c + (1.0 - z) * h;
  } else {  // in: c, h, Pf, Po, Pc, Af, Ao, Ac, Cf, Co
    const N c = in[0], h = in[1];
    const N f = sigmoidOf(in[5] * h + in[2] + in[8] * c);
    const N g = tanhOf(in[7] * h + in[4]);
    const N cn = f * c + (1.0 - f) * g;
    const N o = sigmoidOf(in[6] * h + in[3] + in[9] * cn);
    out[0] = cn;
    out[1] = o * tanhOf(cn);
  }
}

// The lane's value and its full Jacobian jac[q][i] = ∂out_q/∂in_i, by dual numbers.
inline void laneJacobian(CellKind kind, const double* in, double* value, double jac[2][kMaxInputs]) {
  const int n = laneInputs(kind), K = laneWidth(kind);
  Dual x[kMaxInputs], y[2];
  for (int i = 0; i < n; ++i) {
    for (int q = 0; q < n; ++q) x[q] = {in[q], q == i ? 1.0 : 0.0};
    laneCell(kind, x, y);
    for (int q = 0; q < K; ++q) {
      jac[q][i] = y[q].d;
      value[q] = y[q].v;
    }
  }
}

template <typename T>
struct CellCase {
  CellKind kind = CellKind::GRU;
  int64_t batch = 1, length = 1, size = 1;
  bool withInitial = false;
  std::vector<T> projection, A, C, initial;

  int64_t width() const { return laneWidth(kind) * size; }  // S
  int64_t stateCount() const { return batch * length * width(); }
  ::parascan::cells::CellParams<T> params() const {
    ::parascan::cells::CellParams<T> p;
    p.kind = kind;
    p.batch = batch;
    p.length = length;
    p.size = size;
    p.projection = projection.data();
    p.A = A.data();
    p.C = kind == CellKind::LSTM ? C.data() : nullptr;
    p.initial = withInitial ? initial.data() : nullptr;
    return p;
  }
};

// Parameters in the range of ParaRNN's initialisations and a little beyond (so the cells are
// contractive but not trivially so); projections like standardised inputs.
template <typename T>
CellCase<T> makeCellCase(CellKind kind, int64_t batch, int64_t length, int64_t size, bool withInitial, uint64_t seed) {
  CellCase<T> c;
  c.kind = kind;
  c.batch = batch;
  c.length = length;
  c.size = size;
  c.withInitial = withInitial;
  Random random(seed);
  c.projection.resize(static_cast<size_t>(batch * length * 3 * size));
  for (auto& v : c.projection) v = static_cast<T>(random.uniform(-1.8, 1.8));
  c.A.resize(static_cast<size_t>(3 * size));
  for (auto& v : c.A) v = static_cast<T>(random.uniform(-0.9, 0.9));
  c.C.resize(static_cast<size_t>(2 * size));
  for (auto& v : c.C) v = static_cast<T>(random.uniform(-0.6, 0.6));
  c.initial.resize(static_cast<size_t>(batch * c.width()));
  for (auto& v : c.initial) v = static_cast<T>(random.uniform(-0.7, 0.7));
  return c;
}

// The inputs of lane j at point (b, t), given the previous state values.
template <typename T>
void gatherLane(const CellCase<T>& c, int64_t m, int64_t j, const double* prev, double* in) {
  const int K = laneWidth(c.kind);
  const int64_t D = c.size;
  for (int q = 0; q < K; ++q) in[q] = prev[q];
  for (int g = 0; g < 3; ++g) in[K + g] = double(c.projection[static_cast<size_t>(m * 3 * D + g * D + j)]);
  for (int g = 0; g < 3; ++g) in[K + 3 + g] = double(c.A[static_cast<size_t>(g * D + j)]);
  if (c.kind == CellKind::LSTM)
    for (int g = 0; g < 2; ++g) in[K + 6 + g] = double(c.C[static_cast<size_t>(g * D + j)]);
}

template <typename T>
void previousOf(const CellCase<T>& c, const double* states, int64_t b, int64_t t, int64_t j, double* prev) {
  const int K = laneWidth(c.kind);
  const int64_t S = c.width(), D = c.size;
  for (int q = 0; q < K; ++q) {
    if (t > 0)
      prev[q] = states[(b * c.length + t - 1) * S + q * D + j];
    else
      prev[q] = c.withInitial ? double(c.initial[static_cast<size_t>(b * S + q * D + j)]) : 0.0;
  }
}

// The sequential loop in float64: [B, T, S].
template <typename T>
std::vector<double> sequentialStates(const CellCase<T>& c) {
  const int K = laneWidth(c.kind);
  const int64_t S = c.width(), D = c.size;
  std::vector<double> h(static_cast<size_t>(c.stateCount()));
  for (int64_t b = 0; b < c.batch; ++b)
    for (int64_t t = 0; t < c.length; ++t)
      for (int64_t j = 0; j < D; ++j) {
        double prev[2], in[kMaxInputs], out[2];
        previousOf(c, h.data(), b, t, j, prev);
        gatherLane(c, b * c.length + t, j, prev, in);
        laneCell(c.kind, in, out);
        for (int q = 0; q < K; ++q) h[static_cast<size_t>((b * c.length + t) * S + q * D + j)] = out[q];
      }
  return h;
}

// f and the Jacobians [B, T, k, k, D] at given states (prev of t = states[t-1]), like cellEvaluate.
template <typename T>
void evaluateAt(const CellCase<T>& c, const std::vector<double>& states, std::vector<double>& f, std::vector<double>& jacobians) {
  const int K = laneWidth(c.kind);
  const int64_t S = c.width(), D = c.size;
  f.assign(static_cast<size_t>(c.stateCount()), 0.0);
  jacobians.assign(static_cast<size_t>(c.stateCount() * K), 0.0);
  for (int64_t m = 0; m < c.batch * c.length; ++m)
    for (int64_t j = 0; j < D; ++j) {
      double prev[2], in[kMaxInputs], value[2], jac[2][kMaxInputs];
      previousOf(c, states.data(), m / c.length, m % c.length, j, prev);
      gatherLane(c, m, j, prev, in);
      laneJacobian(c.kind, in, value, jac);
      for (int q = 0; q < K; ++q) {
        f[static_cast<size_t>(m * S + q * D + j)] = value[q];
        for (int i = 0; i < K; ++i) jacobians[static_cast<size_t>(m * K * S + (q * K + i) * D + j)] = jac[q][i];
      }
    }
}

struct Gradients {
  std::vector<double> lambda, dP, dA, dC, dh0;
};

// Backpropagation through time in float64 at the given states, for the loss Σ_t g_t · h_t:
// λ_t = g_t + (∂f_{t+1}/∂h_t)^T λ_{t+1}, and every input's gradient from the dual-number Jacobians.
template <typename T>
Gradients backpropagate(const CellCase<T>& c, const std::vector<double>& states, const std::vector<double>& g) {
  const int K = laneWidth(c.kind), n = laneInputs(c.kind);
  const int64_t S = c.width(), D = c.size, L = c.length;
  Gradients r;
  r.lambda.assign(static_cast<size_t>(c.stateCount()), 0.0);
  r.dP.assign(static_cast<size_t>(c.batch * L * 3 * D), 0.0);
  r.dA.assign(static_cast<size_t>(3 * D), 0.0);
  r.dC.assign(static_cast<size_t>(2 * D), 0.0);
  r.dh0.assign(static_cast<size_t>(c.batch * S), 0.0);
  for (int64_t b = 0; b < c.batch; ++b)
    for (int64_t j = 0; j < D; ++j) {
      double carry[2] = {0, 0};
      for (int64_t t = L - 1; t >= 0; --t) {
        const int64_t m = b * L + t;
        double u[2], prev[2], in[kMaxInputs], value[2], jac[2][kMaxInputs];
        for (int q = 0; q < K; ++q) {
          u[q] = g[static_cast<size_t>(m * S + q * D + j)] + carry[q];
          r.lambda[static_cast<size_t>(m * S + q * D + j)] = u[q];
        }
        previousOf(c, states.data(), b, t, j, prev);
        gatherLane(c, m, j, prev, in);
        laneJacobian(c.kind, in, value, jac);
        double din[kMaxInputs] = {0};
        for (int i = 0; i < n; ++i)
          for (int q = 0; q < K; ++q) din[i] += u[q] * jac[q][i];
        for (int q = 0; q < K; ++q) carry[q] = din[q];
        for (int gate = 0; gate < 3; ++gate) r.dP[static_cast<size_t>(m * 3 * D + gate * D + j)] = din[K + gate];
        for (int gate = 0; gate < 3; ++gate) r.dA[static_cast<size_t>(gate * D + j)] += din[K + 3 + gate];
        if (c.kind == CellKind::LSTM)
          for (int gate = 0; gate < 2; ++gate) r.dC[static_cast<size_t>(gate * D + j)] += din[K + 6 + gate];
      }
      for (int q = 0; q < K; ++q) r.dh0[static_cast<size_t>(b * S + q * D + j)] = carry[q];
    }
  return r;
}

// Checks backpropagate() against central finite differences of Σ g·h(θ) on a small float64 case,
// for a few entries of every input (A, C, P, h0). Returns the worst relative error.
inline double checkReferenceGradients(CellKind kind, uint64_t seed) {
  CellCase<double> c = makeCellCase<double>(kind, 2, 7, 3, true, seed);
  Random random(seed + 1);
  std::vector<double> g(static_cast<size_t>(c.stateCount()));
  for (auto& v : g) v = random.uniform(-1, 1);
  const Gradients r = backpropagate(c, sequentialStates(c), g);
  auto loss = [&]() {
    const std::vector<double> h = sequentialStates(c);
    double s = 0;
    for (size_t i = 0; i < h.size(); ++i) s += g[i] * h[i];
    return s;
  };
  double worst = 0;
  auto probe = [&](std::vector<double>& values, size_t index, double analytic) {
    const double saved = values[index], step = 1e-5;
    values[index] = saved + step;
    const double up = loss();
    values[index] = saved - step;
    const double down = loss();
    values[index] = saved;
    const double numeric = (up - down) / (2 * step);
    worst = std::max(worst, std::fabs(numeric - analytic) / (1e-6 + std::fabs(analytic)));
  };
  for (size_t i = 0; i < c.A.size(); i += 2) probe(c.A, i, r.dA[i]);
  if (kind == CellKind::LSTM)
    for (size_t i = 0; i < c.C.size(); ++i) probe(c.C, i, r.dC[i]);
  for (size_t i = 0; i < c.projection.size(); i += 7) probe(c.projection, i, r.dP[i]);
  for (size_t i = 0; i < c.initial.size(); ++i) probe(c.initial, i, r.dh0[i]);
  return worst;
}

}  // namespace parascan::testing::cellref
