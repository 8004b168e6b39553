// Per-lane algebra of the linear recurrence, shared by the CPU and CUDA kernels and exercised by
// the CPU tests (so the GPU's combine logic is verified on machines without a GPU).
//
// Because every block of J is diagonal, the recurrence splits into N independent k-dimensional
// systems, one per lane n. For one lane, one step is the affine map x ↦ a·x + b with a k×k matrix
// a (a[i][j] = jac[t, i, j, n]) and a k-vector b. Affine maps compose associatively:
//
//     later ∘ earlier = (a_l a_e, a_l b_e + b_l)
//
// which is the operator of DESIGN §1. A reverse step (out = r + c; c' = J^T out) is the affine map
// c ↦ J^T c + J^T r, so the reverse scan uses the same operator on transposed blocks.
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define PARASCAN_HD __host__ __device__ __forceinline__
#else
#define PARASCAN_HD inline
#endif

namespace parascan {

// x ↦ a x + b for one lane, fixed block size K (registers on the GPU, unrolled on the CPU).
template <typename T, int K>
struct AffineMap {
  T a[K][K];
  T b[K];
};

template <typename T, int K>
PARASCAN_HD AffineMap<T, K> affineIdentity() {
  AffineMap<T, K> m;
  for (int i = 0; i < K; ++i) {
    for (int j = 0; j < K; ++j) m.a[i][j] = (i == j) ? T(1) : T(0);
    m.b[i] = T(0);
  }
  return m;
}

// later ∘ earlier: apply `earlier` first.
template <typename T, int K>
PARASCAN_HD AffineMap<T, K> affineCompose(const AffineMap<T, K>& later, const AffineMap<T, K>& earlier) {
  AffineMap<T, K> m;
  for (int i = 0; i < K; ++i) {
    T bi = later.b[i];
    for (int j = 0; j < K; ++j) {
      T s = T(0);
      for (int l = 0; l < K; ++l) s += later.a[i][l] * earlier.a[l][j];
      m.a[i][j] = s;
      bi += later.a[i][j] * earlier.b[j];
    }
    m.b[i] = bi;
  }
  return m;
}

// y = a x + b
template <typename T, int K>
PARASCAN_HD void affineApply(const AffineMap<T, K>& m, const T* x, T* y) {
  T tmp[K];
  for (int i = 0; i < K; ++i) {
    T s = m.b[i];
    for (int j = 0; j < K; ++j) s += m.a[i][j] * x[j];
    tmp[i] = s;
  }
  for (int i = 0; i < K; ++i) y[i] = tmp[i];
}

// Loads the forward step map of lane n at one time step: a = J_t (blocks at stride N), b = r_t.
template <typename T, int K>
PARASCAN_HD AffineMap<T, K> loadForwardStep(const T* jacRow, const T* rhsRow, int64_t lanes, int64_t n) {
  AffineMap<T, K> m;
  for (int i = 0; i < K; ++i) {
    for (int j = 0; j < K; ++j) m.a[i][j] = jacRow[(i * K + j) * lanes + n];
    m.b[i] = rhsRow[i * lanes + n];
  }
  return m;
}

// Loads the reverse step map of lane n: c ↦ J_t^T c + J_t^T r_t.
template <typename T, int K>
PARASCAN_HD AffineMap<T, K> loadReverseStep(const T* jacRow, const T* rhsRow, int64_t lanes, int64_t n) {
  AffineMap<T, K> m;
  for (int i = 0; i < K; ++i)
    for (int j = 0; j < K; ++j) m.a[i][j] = jacRow[(j * K + i) * lanes + n];
  for (int i = 0; i < K; ++i) {
    T s = T(0);
    for (int j = 0; j < K; ++j) s += m.a[i][j] * rhsRow[j * lanes + n];
    m.b[i] = s;
  }
  return m;
}

// ---- runtime block size (dense Jacobians and k > the fixed instantiations) ----------------
// Matrices are row-major k×k arrays, vectors k-arrays; `scratch` needs k*k + k elements.

template <typename T>
PARASCAN_HD void affineComposeDynamic(int64_t k, const T* aLater, const T* bLater, const T* aEarlier,
                                      const T* bEarlier, T* aOut, T* bOut, T* scratch) {
  T* a = scratch;
  T* b = scratch + k * k;
  for (int64_t i = 0; i < k; ++i) {
    T bi = bLater[i];
    for (int64_t j = 0; j < k; ++j) {
      T s = T(0);
      for (int64_t l = 0; l < k; ++l) s += aLater[i * k + l] * aEarlier[l * k + j];
      a[i * k + j] = s;
      bi += aLater[i * k + j] * bEarlier[j];
    }
    b[i] = bi;
  }
  for (int64_t i = 0; i < k * k; ++i) aOut[i] = a[i];
  for (int64_t i = 0; i < k; ++i) bOut[i] = b[i];
}

// y = a x + b, y may alias x (`scratch` needs k elements).
template <typename T>
PARASCAN_HD void affineApplyDynamic(int64_t k, const T* a, const T* b, const T* x, T* y, T* scratch) {
  for (int64_t i = 0; i < k; ++i) {
    T s = b[i];
    for (int64_t j = 0; j < k; ++j) s += a[i * k + j] * x[j];
    scratch[i] = s;
  }
  for (int64_t i = 0; i < k; ++i) y[i] = scratch[i];
}

// ---- one recurrence step as the GPU kernels keep it in registers ----------------------------
// A step holds the raw rhs r_t and the step matrix a, which is J_t for the forward direction and
// J_t^T for the reverse one. Keeping r raw (instead of the reverse map's b = J_t^T r_t) is what
// lets the reverse pass emit its output out_t = r_t + c without reloading r_t.

template <typename T, int K>
struct RecurrenceStep {
  T a[K][K];
  T r[K];
};

template <typename T, int K>
PARASCAN_HD RecurrenceStep<T, K> loadRecurrenceStep(const T* jacRow, const T* rhsRow, int64_t lanes, int64_t n,
                                                    bool reverse) {
  RecurrenceStep<T, K> s;
  for (int i = 0; i < K; ++i) {
    for (int j = 0; j < K; ++j) s.a[i][j] = jacRow[(reverse ? j * K + i : i * K + j) * lanes + n];
    s.r[i] = rhsRow[i * lanes + n];
  }
  return s;
}

// The step as an affine map of the carry: forward x ↦ J x + r (= loadForwardStep), reverse
// c ↦ J^T c + J^T r (= loadReverseStep).
template <typename T, int K>
PARASCAN_HD AffineMap<T, K> recurrenceStepMap(const RecurrenceStep<T, K>& s, bool reverse) {
  AffineMap<T, K> m;
  for (int i = 0; i < K; ++i) {
    T bi = reverse ? T(0) : s.r[i];
    for (int j = 0; j < K; ++j) {
      m.a[i][j] = s.a[i][j];
      if (reverse) bi += s.a[i][j] * s.r[j];
    }
    m.b[i] = bi;
  }
  return m;
}

// Advances the carry over one step and yields the step's output:
//   forward: carry ← J carry + r, out = carry        reverse: out = r + carry, carry ← J^T out
// (`out` must not alias `carry`).
template <typename T, int K>
PARASCAN_HD void recurrenceStepAdvance(const RecurrenceStep<T, K>& s, bool reverse, T* carry, T* out) {
  if (reverse) {
    for (int i = 0; i < K; ++i) out[i] = s.r[i] + carry[i];
    for (int i = 0; i < K; ++i) {
      T c = T(0);
      for (int j = 0; j < K; ++j) c += s.a[i][j] * out[j];
      carry[i] = c;
    }
  } else {
    for (int i = 0; i < K; ++i) {
      T x = s.r[i];
      for (int j = 0; j < K; ++j) x += s.a[i][j] * carry[j];
      out[i] = x;
    }
    for (int i = 0; i < K; ++i) carry[i] = out[i];
  }
}

}  // namespace parascan
