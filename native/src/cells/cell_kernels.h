// The vectorised ParaGRU / ParaLSTM kernels, compiled once per instruction set (cell_kernels_*.cc
// define PARASCAN_CELL_ISA and get their -m flags from CMakeLists.txt). Written with GCC/Clang
// vector extensions, so one source serves SSE2 (16-byte vectors), AVX2+FMA (32) and AVX-512 (64).
//
// Numbers: a float32 cell computes in float32 with the exp/tanh below (≤ ~2 ulp against a float64
// reference, see test_cells_cpu.cc), a float64 cell in float64 through libm lane by lane (the
// accurate path: it equals the TypeScript reference up to libm rounding). Every formula is the
// one of packages/cells/src/gru.ts and lstm.ts, in the same operation order. NaN propagates
// through every function (the clamps keep NaN), which the non-finite checks rely on.
#ifndef PARASCAN_CELL_ISA
#error "define PARASCAN_CELL_ISA (the namespace of this instruction set's build) before including cell_kernels.h"
#endif

#include <cmath>
#include <cstdint>
#include <algorithm>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

#include "cell_kernel_table.h"

namespace parascan::cells::PARASCAN_CELL_ISA {
namespace {

#if defined(__AVX512F__)
constexpr int kBytes = 64;
#elif defined(__AVX__)
constexpr int kBytes = 32;
#else
constexpr int kBytes = 16;
#endif

typedef float vf __attribute__((vector_size(kBytes)));
typedef int32_t vi __attribute__((vector_size(kBytes)));
typedef double vd __attribute__((vector_size(kBytes)));
typedef int64_t vl __attribute__((vector_size(kBytes)));

template <typename T>
struct Simd;
template <>
struct Simd<float> {
  using V = vf;
  using M = vi;  // comparison results
  static constexpr int N = kBytes / 4;
};
template <>
struct Simd<double> {
  using V = vd;
  using M = vl;
  static constexpr int N = kBytes / 8;
};

template <typename To, typename From>
inline To bitcast(From v) {
  static_assert(sizeof(To) == sizeof(From), "same size");
  To r;
  std::memcpy(&r, &v, sizeof r);
  return r;
}

template <typename V, typename S>
inline V splat(S s) {
  return V{} + s;
}

// n lanes at p (n == N: one unaligned load; fewer: the rest are zero).
template <typename T>
inline typename Simd<T>::V load(const T* p, int n) {
  using V = typename Simd<T>::V;
  V v{};
  if (n == Simd<T>::N) {
    std::memcpy(&v, p, sizeof v);
  } else {
    for (int i = 0; i < n; ++i) v[i] = p[i];
  }
  return v;
}

template <typename T>
inline void store(T* p, typename Simd<T>::V v, int n) {
  if (n == Simd<T>::N) {
    std::memcpy(p, &v, sizeof v);
  } else {
    for (int i = 0; i < n; ++i) p[i] = v[i];
  }
}

// ---- float32: exp and tanh on vectors ---------------------------------------------------------

// e^x: x = n·ln2 + r with |r| ≤ ln2/2 (ln2 split in a 16-bit head, exact for |n| ≤ 128, and a tail),
// e^r by its Taylor polynomial to r^7 (truncation < 6e-9 relative), times 2^n built in the exponent
// bits. x is clamped to [-87, 88] so 2^n stays a normal float (e^-87 ≈ 1.6e-38, e^88 ≈ 1.65e38);
// NaN passes the clamps and the polynomial.
inline vf vexp(vf x) {
  const vf hi = splat<vf>(88.0f), lo = splat<vf>(-87.0f);
  x = x > hi ? hi : x;
  x = x < lo ? lo : x;
  const vf magic = splat<vf>(12582912.0f);  // 1.5·2^23: adding it rounds to an integer
  vf n = x * 1.44269504088896341f + magic;
  n = n - magic;
  vf r = x - n * 0.693145751953125f;
  r = r - n * 1.4286068203094173e-06f;
  vf p = r * (1.0f / 5040) + (1.0f / 720);
  p = p * r + (1.0f / 120);
  p = p * r + (1.0f / 24);
  p = p * r + (1.0f / 6);
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const vi bits = (__builtin_convertvector(n, vi) + 127) << 23;
  return p * bitcast<vf>(bits);
}

inline vf vabs(vf x) {
  const vi b = bitcast<vi>(x) & 0x7fffffff;
  return bitcast<vf>(b);
}

// tanh: |x| < 0.4 by the odd Taylor series to x^13 (the next term is < 5e-9 relative there), else
// 1 − 2/(e^{2|x|} + 1) with the sign of x (its cancellation costs at most ~1 ulp at |x| = 0.4).
inline vf vtanh(vf x) {
  const vi bits = bitcast<vi>(x);
  const vi sign = bits & static_cast<int32_t>(0x80000000u);
  const vf a = vabs(x);
  const vf e = vexp(a + a);
  const vf big = 1.0f - 2.0f / (e + 1.0f);
  const vi bigBits = bitcast<vi>(big) | sign;
  const vf x2 = x * x;
  vf q = x2 * (21844.0f / 6081075) - (1382.0f / 155925);
  q = q * x2 + (62.0f / 2835);
  q = q * x2 - (17.0f / 315);
  q = q * x2 + (2.0f / 15);
  q = q * x2 - (1.0f / 3);
  const vf small = x + x * x2 * q;
  return a < splat<vf>(0.4f) ? small : bitcast<vf>(bigBits);
}

// ---- float64: libm lane by lane (accuracy first) -----------------------------------------------

inline vd vexp(vd x) {
  vd r{};
  for (int i = 0; i < Simd<double>::N; ++i) r[i] = std::exp(x[i]);
  return r;
}
inline vd vtanh(vd x) {
  vd r{};
  for (int i = 0; i < Simd<double>::N; ++i) r[i] = std::tanh(x[i]);
  return r;
}
inline vd vabs(vd x) {
  const vl b = bitcast<vl>(x) & 0x7fffffffffffffffLL;
  return bitcast<vd>(b);
}

// Lane-wise max; a NaN in b passes through (the comparison is false).
template <typename V>
inline V vmax(V a, V b) {
  return a > b ? a : b;
}

template <typename V>
inline V vsigmoid(V v) {
  using E = decltype(v[0] + 0);
  return E(1) / (E(1) + vexp(-v));
}

// ---- the cells at one vector of lanes ----------------------------------------------------------

template <typename V>
struct GruPoint {
  V z, r, c, f;
};

template <typename V>
inline GruPoint<V> gru(V hp, V pz, V pr, V pc, V az, V ar, V ac) {
  GruPoint<V> q;
  q.z = vsigmoid(az * hp + pz);
  q.r = vsigmoid(ar * hp + pr);
  q.c = vtanh(ac * hp * q.r + pc);
  q.f = q.z * q.c + (1 - q.z) * hp;
  return q;
}

template <typename V>
inline V gruJacobian(const GruPoint<V>& q, V hp, V az, V ar, V ac) {
  return 1 - q.z + (q.c - hp) * q.z * (1 - q.z) * az + q.z * (1 - q.c * q.c) * ac * (q.r + hp * q.r * (1 - q.r) * ar);
}

template <typename V>
struct LstmPoint {
  V f, g, cn, o, tc, hn;
};

template <typename V>
inline LstmPoint<V> lstm(V cp, V hp, V pf, V po, V pc, V af, V ao, V ac, V cf, V co) {
  LstmPoint<V> q;
  q.f = vsigmoid(af * hp + pf + cf * cp);
  q.g = vtanh(ac * hp + pc);
  q.cn = q.f * cp + (1 - q.f) * q.g;
  q.o = vsigmoid(ao * hp + po + co * q.cn);
  q.tc = vtanh(q.cn);
  q.hn = q.o * q.tc;
  return q;
}

// The 2×2 block [[∂c'/∂c, ∂c'/∂h], [∂h'/∂c, ∂h'/∂h]].
template <typename V>
inline void lstmJacobian(const LstmPoint<V>& q, V cp, V af, V ao, V ac, V cf, V co, V& j00, V& j01, V& j10, V& j11) {
  const V sf = q.f * (1 - q.f);
  const V so = q.o * (1 - q.o);
  const V jcc = q.f + (cp - q.g) * sf * cf;
  const V jch = (cp - q.g) * sf * af + (1 - q.f) * (1 - q.g * q.g) * ac;
  const V dhdc = so * co * q.tc + q.o * (1 - q.tc * q.tc);
  j00 = jcc;
  j01 = jch;
  j10 = dhdc * jcc;
  j11 = so * ao * q.tc + dhdc * jch;
}

// ---- drivers -------------------------------------------------------------------------------------

// Runs body(full, j, n) over the lanes [j0, j1): whole vectors with `full` a compile-time true (so
// every load and store is one instruction), then one partial vector for the rest.
template <int N, typename Body>
inline void forLanes(int64_t j0, int64_t j1, Body&& body) {
  int64_t j = j0;
  for (; j + N <= j1; j += N) body(std::true_type{}, j, N);
  if (j < j1) body(std::false_type{}, j, static_cast<int>(j1 - j));
}

template <typename T>
inline bool anyBad(typename Simd<T>::M m) {
  for (int i = 0; i < Simd<T>::N; ++i)
    if (m[i]) return true;
  return false;
}

template <typename T>
bool sequentialTile(const CellParams<T>& p, int64_t b0, int64_t b1, int64_t j0, int64_t j1, T* out) {
  using V = typename Simd<T>::V;
  using M = typename Simd<T>::M;
  constexpr int N = Simd<T>::N;
  const int64_t D = p.size, S = stateWidth(p), G = 3 * D, Tn = p.length;
  const bool lstmCell = p.kind == CellKind::LSTM;
  const V maxv = splat<V>(std::numeric_limits<T>::max());
  M bad{};
  for (int64_t t = 0; t < Tn; ++t) {
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t m = b * Tn + t;
      const T* prev = t > 0 ? out + (m - 1) * S : (p.initial ? p.initial + b * S : nullptr);
      const T* P = p.projection + m * G;
      T* o = out + m * S;
      forLanes<N>(j0, j1, [&](auto full, int64_t j, int nn) {
        const int n = decltype(full)::value ? N : nn;
        const V az = load(p.A + j, n), ar = load(p.A + D + j, n), ac = load(p.A + 2 * D + j, n);
        if (!lstmCell) {
          const V hp = prev ? load(prev + j, n) : V{};
          const GruPoint<V> q = gru(hp, load(P + j, n), load(P + D + j, n), load(P + 2 * D + j, n), az, ar, ac);
          store(o + j, q.f, n);
          bad |= ~(vabs(q.f) <= maxv);
        } else {
          const V cp = prev ? load(prev + j, n) : V{};
          const V hp = prev ? load(prev + D + j, n) : V{};
          const LstmPoint<V> q = lstm(cp, hp, load(P + j, n), load(P + D + j, n), load(P + 2 * D + j, n), az, ar, ac,
                                      load(p.C + j, n), load(p.C + D + j, n));
          store(o + j, q.cn, n);
          store(o + D + j, q.hn, n);
          bad |= ~(vabs(q.cn) <= maxv) | ~(vabs(q.hn) <= maxv);
        }
      });
    }
  }
  return anyBad<T>(bad);
}

template <typename T>
double evalChunk(const CellParams<T>& p, const EvalJob<T>& job, int64_t b, int64_t t0, int64_t t1, T* deferH, T* deferOut) {
  using V = typename Simd<T>::V;
  using M = typename Simd<T>::M;
  constexpr int N = Simd<T>::N;
  const int64_t D = p.size, S = stateWidth(p), G = 3 * D, Tn = p.length;
  const bool lstmCell = p.kind == CellKind::LSTM;
  const int64_t JS = lstmCell ? 4 * D : D;
  const T omega = job.omega;
  thread_local std::vector<T> carry;
  // The state fed to step t0.
  const T* prev = nullptr;
  if (t0 == 0) {
    prev = p.initial ? p.initial + b * S : nullptr;
  } else if (!job.zeroPrev) {
    const T* row = job.states + (b * Tn + t0 - 1) * S;
    if (job.delta) {
      carry.resize(static_cast<size_t>(S));
      const T* d = job.delta + (b * Tn + t0 - 1) * S;
      for (int64_t s = 0; s < S; ++s) carry[s] = row[s] + omega * d[s];
      prev = carry.data();
    } else {
      prev = row;
    }
  }
  const V maxv = splat<V>(std::numeric_limits<T>::max());
  V peak{};
  M bad{};
  T peakTail = 0;
  for (int64_t t = t0; t < t1; ++t) {
    const int64_t m = b * Tn + t;
    const T* P = p.projection + m * G;
    T* h = job.states + m * S;
    const T* d = job.delta ? job.delta + m * S : nullptr;
    const bool deferred = deferOut && t == t1 - 1 && t1 < Tn;
    T* hw = deferred && d ? deferH : h;
    T* o = job.out ? (deferred ? deferOut : job.out + m * S) : nullptr;
    T* J = job.jac ? job.jac + m * JS : nullptr;
    forLanes<N>(0, D, [&](auto full, int64_t j, int nn) {
      const int n = decltype(full)::value ? N : nn;
      const V a0 = load(p.A + j, n), a1 = load(p.A + D + j, n), a2 = load(p.A + 2 * D + j, n);
      V f0, f1{};  // the new state's lanes (LSTM: c then h)
      if (!lstmCell) {
        const V hp = prev ? load(prev + j, n) : V{};
        const GruPoint<V> q = gru(hp, load(P + j, n), load(P + D + j, n), load(P + 2 * D + j, n), a0, a1, a2);
        f0 = q.f;
        if (J) store(J + j, gruJacobian(q, hp, a0, a1, a2), n);
      } else {
        const V cp = prev ? load(prev + j, n) : V{};
        const V hp = prev ? load(prev + D + j, n) : V{};
        const V cf = load(p.C + j, n), co = load(p.C + D + j, n);
        const LstmPoint<V> q = lstm(cp, hp, load(P + j, n), load(P + D + j, n), load(P + 2 * D + j, n), a0, a1, a2, cf, co);
        f0 = q.cn;
        f1 = q.hn;
        if (J) {
          V j00, j01, j10, j11;
          lstmJacobian(q, cp, a0, a1, a2, cf, co, j00, j01, j10, j11);
          store(J + j, j00, n);
          store(J + D + j, j01, n);
          store(J + 2 * D + j, j10, n);
          store(J + 3 * D + j, j11, n);
        }
      }
      if (!o) return;
      for (int half = 0; half < (lstmCell ? 2 : 1); ++half) {
        const int64_t off = half * D + j;
        V v = half == 0 ? f0 : f1;
        if (job.residual) {
          V cur = load(h + off, n);
          if (d) {
            cur = cur + omega * load(d + off, n);
            store(hw + off, cur, n);
          }
          v = v - cur;
          const V a = vabs(v);
          bad |= ~(a <= maxv);
          if (decltype(full)::value) {
            peak = a > peak ? a : peak;
          } else {
            for (int i = 0; i < n; ++i) peakTail = a[i] > peakTail ? a[i] : peakTail;
          }
        }
        store(o + off, v, n);
      }
    });
    prev = job.zeroPrev ? nullptr : (d ? hw : h);
  }
  if (!job.residual) return 0;
  if (anyBad<T>(bad)) return std::numeric_limits<double>::quiet_NaN();
  double m = peakTail;
  for (int i = 0; i < N; ++i) m = peak[i] > m ? peak[i] : m;
  return m;
}

// The sequential recurrence over g chunks [t0s[i], t1s[i]) of row b in lockstep (independent chains
// for the out-of-order core), chunk i starting from starts[i] (null: zero), writing the states to
// out. With phis, also the chunk's propagator Φ_i = J_{t1-1} ··· J_{t0} ([k, k, D], the solver's
// Jacobian layout; entries below a tiny threshold are flushed to zero so long contractive chunks
// never reach subnormal arithmetic), followed by its peak gain [D]: max over t in the chunk of the
// ∞-norm of J_t ··· J_{t0} per lane (how much a change of the start grows anywhere inside, even when
// it has decayed again by the end). True if a state is non-finite.
template <typename T>
bool sweepChunks(const CellParams<T>& p, int64_t b, const int64_t* t0s, const int64_t* t1s, int g, const T* const* starts, T* out,
                 T* const* phis) {
  using V = typename Simd<T>::V;
  using M = typename Simd<T>::M;
  constexpr int N = Simd<T>::N;
  const int64_t D = p.size, S = stateWidth(p), G = 3 * D, Tn = p.length;
  const bool lstmCell = p.kind == CellKind::LSTM;
  const V maxv = splat<V>(std::numeric_limits<T>::max());
  const V tiny = splat<V>(static_cast<T>(sizeof(T) == 4 ? 1e-30 : 1e-290));
  auto flush = [&](V v) { return vabs(v) < tiny ? V{} : v; };
  M bad{};
  int64_t longest = 0;
  for (int i = 0; i < g; ++i) {
    longest = std::max(longest, t1s[i] - t0s[i]);
    if (!phis || !phis[i]) continue;
    T* ph = phis[i];
    for (int64_t q = 0; q < (lstmCell ? 5 * D : 2 * D); ++q) ph[q] = 0;
    for (int64_t q = 0; q < D; ++q) ph[q] = 1;
    if (lstmCell)
      for (int64_t q = 0; q < D; ++q) ph[3 * D + q] = 1;
  }
  for (int64_t s = 0; s < longest; ++s) {
    for (int i = 0; i < g; ++i) {
      if (s >= t1s[i] - t0s[i]) continue;
      const int64_t t = t0s[i] + s, m = b * Tn + t;
      const T* prev = s > 0 ? out + (m - 1) * S : starts[i];
      const T* P = p.projection + m * G;
      T* o = out + m * S;
      T* ph = phis ? phis[i] : nullptr;
      forLanes<N>(0, D, [&](auto full, int64_t j, int nn) {
        const int n = decltype(full)::value ? N : nn;
        const V a0 = load(p.A + j, n), a1 = load(p.A + D + j, n), a2 = load(p.A + 2 * D + j, n);
        if (!lstmCell) {
          const V hp = prev ? load(prev + j, n) : V{};
          const GruPoint<V> q = gru(hp, load(P + j, n), load(P + D + j, n), load(P + 2 * D + j, n), a0, a1, a2);
          store(o + j, q.f, n);
          bad |= ~(vabs(q.f) <= maxv);
          if (ph) {
            const V np = flush(gruJacobian(q, hp, a0, a1, a2) * load(ph + j, n));
            store(ph + j, np, n);
            store(ph + D + j, vmax(load(ph + D + j, n), vabs(np)), n);
          }
        } else {
          const V cp = prev ? load(prev + j, n) : V{};
          const V hp = prev ? load(prev + D + j, n) : V{};
          const V cf = load(p.C + j, n), co = load(p.C + D + j, n);
          const LstmPoint<V> q = lstm(cp, hp, load(P + j, n), load(P + D + j, n), load(P + 2 * D + j, n), a0, a1, a2, cf, co);
          store(o + j, q.cn, n);
          store(o + D + j, q.hn, n);
          bad |= ~(vabs(q.cn) <= maxv) | ~(vabs(q.hn) <= maxv);
          if (ph) {
            V j00, j01, j10, j11;
            lstmJacobian(q, cp, a0, a1, a2, cf, co, j00, j01, j10, j11);
            const V p00 = load(ph + j, n), p01 = load(ph + D + j, n), p10 = load(ph + 2 * D + j, n), p11 = load(ph + 3 * D + j, n);
            const V n00 = flush(j00 * p00 + j01 * p10), n01 = flush(j00 * p01 + j01 * p11);
            const V n10 = flush(j10 * p00 + j11 * p10), n11 = flush(j10 * p01 + j11 * p11);
            store(ph + j, n00, n);
            store(ph + D + j, n01, n);
            store(ph + 2 * D + j, n10, n);
            store(ph + 3 * D + j, n11, n);
            store(ph + 4 * D + j, vmax(load(ph + 4 * D + j, n), vmax(vabs(n00) + vabs(n01), vabs(n10) + vabs(n11))), n);
          }
        }
      });
    }
  }
  return anyBad<T>(bad);
}

template <typename T>
void cotangentChunk(const CellParams<T>& p, const T* states, const T* lambda, T* dP, T* dh0, double* gA, double* gC, int64_t b,
                    int64_t t0, int64_t t1) {
  using V = typename Simd<T>::V;
  constexpr int N = Simd<T>::N;
  constexpr int64_t kFlush = 32;  // steps summed in T before the partial sums move to double
  const int64_t D = p.size, S = stateWidth(p), G = 3 * D, Tn = p.length;
  const bool lstmCell = p.kind == CellKind::LSTM;
  const int64_t W = lstmCell ? 5 * D : 3 * D;
  thread_local std::vector<T> acc;
  acc.assign(static_cast<size_t>(W), T(0));
  auto flush = [&]() {
    for (int64_t q = 0; q < 3 * D; ++q) gA[q] += acc[q];
    if (lstmCell)
      for (int64_t q = 0; q < 2 * D; ++q) gC[q] += acc[3 * D + q];
    std::fill(acc.begin(), acc.end(), T(0));
  };
  for (int64_t t = t0; t < t1; ++t) {
    const int64_t m = b * Tn + t;
    const T* prev = t > 0 ? states + (m - 1) * S : (p.initial ? p.initial + b * S : nullptr);
    const T* P = p.projection + m * G;
    const T* u = lambda + m * S;
    T* dp = dP + m * G;
    T* dprev = t == 0 ? dh0 + b * S : nullptr;
    forLanes<N>(0, D, [&](auto full, int64_t j, int nn) {
      const int n = decltype(full)::value ? N : nn;
      const V a0 = load(p.A + j, n), a1 = load(p.A + D + j, n), a2 = load(p.A + 2 * D + j, n);
      T* ac = acc.data() + j;
      if (!lstmCell) {
        const V hp = prev ? load(prev + j, n) : V{};
        const V g = load(u + j, n);
        const GruPoint<V> q = gru(hp, load(P + j, n), load(P + D + j, n), load(P + 2 * D + j, n), a0, a1, a2);
        const V daz = g * (q.c - hp) * q.z * (1 - q.z);
        const V dac = g * q.z * (1 - q.c * q.c);
        const V dar = dac * a2 * hp * q.r * (1 - q.r);
        if (dprev) store(dprev + j, g * (1 - q.z) + daz * a0 + dar * a1 + dac * a2 * q.r, n);
        store(ac, load(ac, n) + daz * hp, n);
        store(ac + D, load(ac + D, n) + dar * hp, n);
        store(ac + 2 * D, load(ac + 2 * D, n) + dac * hp * q.r, n);
        store(dp + j, daz, n);
        store(dp + D + j, dar, n);
        store(dp + 2 * D + j, dac, n);
      } else {
        const V cp = prev ? load(prev + j, n) : V{};
        const V hp = prev ? load(prev + D + j, n) : V{};
        const V uc = load(u + j, n), uh = load(u + D + j, n);
        const V cf = load(p.C + j, n), co = load(p.C + D + j, n);
        const LstmPoint<V> q = lstm(cp, hp, load(P + j, n), load(P + D + j, n), load(P + 2 * D + j, n), a0, a1, a2, cf, co);
        const V dao = uh * q.tc * q.o * (1 - q.o);
        const V dcn = uc + uh * q.o * (1 - q.tc * q.tc) + dao * co;
        const V daf = dcn * (cp - q.g) * q.f * (1 - q.f);
        const V dag = dcn * (1 - q.f) * (1 - q.g * q.g);
        if (dprev) {
          store(dprev + j, dcn * q.f + daf * cf, n);
          store(dprev + D + j, daf * a0 + dag * a2 + dao * a1, n);
        }
        store(ac, load(ac, n) + daf * hp, n);
        store(ac + D, load(ac + D, n) + dao * hp, n);
        store(ac + 2 * D, load(ac + 2 * D, n) + dag * hp, n);
        store(ac + 3 * D, load(ac + 3 * D, n) + daf * cp, n);
        store(ac + 4 * D, load(ac + 4 * D, n) + dao * q.cn, n);
        store(dp + j, daf, n);
        store(dp + D + j, dao, n);
        store(dp + 2 * D + j, dag, n);
      }
    });
    if ((t - t0) % kFlush == kFlush - 1) flush();
  }
  flush();
}

}  // namespace

template <typename T>
CellKernelTable<T> table() {
  CellKernelTable<T> k;
  k.sequentialTile = &sequentialTile<T>;
  k.evalChunk = &evalChunk<T>;
  k.cotangentChunk = &cotangentChunk<T>;
  k.sweepChunks = &sweepChunks<T>;
  k.vectorWidth = Simd<T>::N;
  return k;
}

}  // namespace parascan::cells::PARASCAN_CELL_ISA
