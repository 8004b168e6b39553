// CUDA kernels of ParaRNN's reference cells (native/include/parascan/cells.h, DESIGN §5): ParaGRU
// (K = 1, diagonal Jacobian) and ParaLSTM (K = 2, 2×2 blocks of diagonals, state [c; h]).
//
// The cells are elementwise in the state: lane j of f(h, x) reads lane j of h only (and c_j, h_j
// for ParaLSTM). So every kernel here is a flat loop over points (b, t, j) or lanes (b, j), and
// the only coupling over time is the linear recurrence, solved by linear_recurrence.cuh's
// single-pass look-back scan on the same device buffers. Layouts are cells.h's (batch-first,
// time-major, lanes contiguous): consecutive threads take consecutive lanes j, so every load and
// store of a warp is one contiguous row segment.
//
//   cellEvaluateKernel<T, K>      f (or the residual f − h) and/or the closed-form Jacobians at
//                                 every point, plus per-block max-norms for the Newton test
//   cellMaxReduceKernel           one block: the per-block max-norms → one probe (and the
//                                 look-back scan's status word of the previous solve)
//   cellUpdateKernel<T>           h += ω δ
//   cellSequentialKernel<T, K>    the plain recurrence, one thread per (b, j) lane looping over t
//                                 (lanes are independent, so this is parallel over B·D)
//   cellCotangentKernel<T, K>     per-point VJPs: dP (in T), dh0, and per-tile partial sums of dA, dC (double)
//   cellParameterSumKernel        the partial sums over tiles, in tile order
//
// Arithmetic: every formula is evaluated in double (Compute below), like the CPU kernels and the
// TypeScript reference, so both dtypes agree with them up to libm rounding. The work is bound by
// memory traffic (7-12 loads/stores per point against ~3 transcendentals), and sm_80/sm_90 run
// double at half the float rate, so this costs little there; on GPUs with slow FP64 a float
// Compute would be the one-line change.
//
// Determinism: no float atomics. The max-norms are maxima (order-free); the parameter gradients
// are summed per fixed (row tile, lane) in a fixed order, then over tiles in tile order, so the
// same inputs give bit-identical dA/dC on every run.
//
// Like linear_recurrence.cuh, everything a kernel touches that is not plain C++ goes through
// device_primitives.cuh, so the CPU emulation (native/tests/gpu/emulator/) runs this very source.
// Kernels take their grid size in their arguments (grid-stride loops) instead of reading gridDim.
#pragma once

#include <cmath>
#include <cstdint>

#include "device_primitives.cuh"

namespace parascan::cuda::cellkernels {

using Compute = double;

constexpr int kWarp = 32;
constexpr int kDefaultThreads = 256;

// Status bits of the sequential kernel's status word.
constexpr int32_t kStatusNonFinite = 1;

__device__ __forceinline__ Compute sigmoidOf(Compute v) { return Compute(1) / (Compute(1) + ::exp(-v)); }
__device__ __forceinline__ Compute tanhOf(Compute v) { return ::tanh(v); }
__device__ __forceinline__ bool isNan(double v) { return v != v; }
// Max-norm combine where NaN (= "something was not finite") wins.
__device__ __forceinline__ double maxOrNan(double a, double b) { return isNan(a) || isNan(b) ? a + b : (a > b ? a : b); }

// The parameters every kernel reads.
template <typename T>
struct CellInputs {
  const T* projection = nullptr;  // [B, T, 3, D]
  const T* A = nullptr;           // [3, D]
  const T* C = nullptr;           // [2, D] (LSTM)
  const T* initial = nullptr;     // [B, S] or null (zero)
  int64_t batch = 0, length = 0, size = 0;
};

// One lane of one point: the cell's value and Jacobian at prev = (c, h) (GRU: h only).
// Formulas: packages/cells/src/gru.ts and lstm.ts (the same as native/src/cells/cells_cpu.cc).
template <typename T, int K>
struct CellLane;

template <typename T>
struct CellLane<T, 1> {
  // prev[0] = h; value[0] = f; jac[0] = ∂f/∂h.
  __device__ __forceinline__ static void evaluate(const CellInputs<T>& in, const T* P, int64_t j, const Compute* prev,
                                                  Compute* value, Compute* jac, bool withJacobian) {
    const int64_t D = in.size;
    const Compute hp = prev[0];
    const Compute Az = in.A[j], Ar = in.A[D + j], Ac = in.A[2 * D + j];
    const Compute z = sigmoidOf(Az * hp + Compute(P[j]));
    const Compute r = sigmoidOf(Ar * hp + Compute(P[D + j]));
    const Compute c = tanhOf(Ac * hp * r + Compute(P[2 * D + j]));
    value[0] = z * c + (1 - z) * hp;
    if (withJacobian) jac[0] = 1 - z + (c - hp) * z * (1 - z) * Az + z * (1 - c * c) * Ac * (r + hp * r * (1 - r) * Ar);
  }
  // u = dL/df at this point: dprev, dP[3] (gate rows z, r, c), dA[3] (no dC).
  __device__ __forceinline__ static void cotangent(const CellInputs<T>& in, const T* P, int64_t j, const Compute* prev,
                                                   const Compute* u, Compute* dprev, Compute* dP, Compute* dParams) {
    const int64_t D = in.size;
    const Compute hp = prev[0], g = u[0];
    const Compute Az = in.A[j], Ar = in.A[D + j], Ac = in.A[2 * D + j];
    const Compute z = sigmoidOf(Az * hp + Compute(P[j]));
    const Compute r = sigmoidOf(Ar * hp + Compute(P[D + j]));
    const Compute c = tanhOf(Ac * hp * r + Compute(P[2 * D + j]));
    const Compute daz = g * (c - hp) * z * (1 - z);
    const Compute dac = g * z * (1 - c * c);
    const Compute dar = dac * Ac * hp * r * (1 - r);
    dprev[0] = g * (1 - z) + daz * Az + dar * Ar + dac * Ac * r;
    dP[0] = daz;
    dP[1] = dar;
    dP[2] = dac;
    dParams[0] = daz * hp;
    dParams[1] = dar * hp;
    dParams[2] = dac * hp * r;
  }
  static constexpr int kParams = 3;  // dA rows z, r, c
};

template <typename T>
struct CellLane<T, 2> {
  // prev = (c, h); value = (c', h'); jac = [[∂c'/∂c, ∂c'/∂h], [∂h'/∂c, ∂h'/∂h]] row-major.
  __device__ __forceinline__ static void evaluate(const CellInputs<T>& in, const T* P, int64_t j, const Compute* prev,
                                                  Compute* value, Compute* jac, bool withJacobian) {
    const int64_t D = in.size;
    const Compute cp = prev[0], hp = prev[1];
    const Compute Af = in.A[j], Ao = in.A[D + j], Ac = in.A[2 * D + j];
    const Compute Cf = in.C[j], Co = in.C[D + j];
    const Compute f = sigmoidOf(Af * hp + Compute(P[j]) + Cf * cp);
    const Compute g = tanhOf(Ac * hp + Compute(P[2 * D + j]));
    const Compute cn = f * cp + (1 - f) * g;
    const Compute o = sigmoidOf(Ao * hp + Compute(P[D + j]) + Co * cn);
    const Compute tc = tanhOf(cn);
    value[0] = cn;
    value[1] = o * tc;
    if (withJacobian) {
      const Compute sf = f * (1 - f), so = o * (1 - o);
      const Compute Jcc = f + (cp - g) * sf * Cf;
      const Compute Jch = (cp - g) * sf * Af + (1 - f) * (1 - g * g) * Ac;
      const Compute dhdc = so * Co * tc + o * (1 - tc * tc);
      jac[0] = Jcc;
      jac[1] = Jch;
      jac[2] = dhdc * Jcc;
      jac[3] = so * Ao * tc + dhdc * Jch;
    }
  }
  // dParams: dA rows f, o, c, then dC rows f, o.
  __device__ __forceinline__ static void cotangent(const CellInputs<T>& in, const T* P, int64_t j, const Compute* prev,
                                                   const Compute* u, Compute* dprev, Compute* dP, Compute* dParams) {
    const int64_t D = in.size;
    const Compute cp = prev[0], hp = prev[1], uc = u[0], uh = u[1];
    const Compute Af = in.A[j], Ao = in.A[D + j], Ac = in.A[2 * D + j];
    const Compute Cf = in.C[j], Co = in.C[D + j];
    const Compute f = sigmoidOf(Af * hp + Compute(P[j]) + Cf * cp);
    const Compute g = tanhOf(Ac * hp + Compute(P[2 * D + j]));
    const Compute cn = f * cp + (1 - f) * g;
    const Compute o = sigmoidOf(Ao * hp + Compute(P[D + j]) + Co * cn);
    const Compute tc = tanhOf(cn);
    const Compute dao = uh * tc * o * (1 - o);
    const Compute dcn = uc + uh * o * (1 - tc * tc) + dao * Co;
    const Compute daf = dcn * (cp - g) * f * (1 - f);
    const Compute dag = dcn * (1 - f) * (1 - g * g);
    dprev[0] = dcn * f + daf * Cf;
    dprev[1] = daf * Af + dag * Ac + dao * Ao;
    dP[0] = daf;
    dP[1] = dao;
    dP[2] = dag;
    dParams[0] = daf * hp;
    dParams[1] = dao * hp;
    dParams[2] = dag * hp;
    dParams[3] = daf * cp;
    dParams[4] = dao * cn;
  }
  static constexpr int kParams = 5;
};

// The state fed to point (b, t), lane j: states[b, t-1] for t >= 1 (zero when states is null: the
// first guess f(0, x_t)), initial[b] (or zero) for t = 0.
template <typename T, int K>
__device__ __forceinline__ void loadPrevious(const CellInputs<T>& in, const T* states, int64_t b, int64_t t, int64_t j,
                                             Compute* prev) {
  const int64_t D = in.size, S = K * D;
  const T* row = t > 0 ? (states ? states + (b * in.length + t - 1) * S : nullptr) : (in.initial ? in.initial + b * S : nullptr);
#pragma unroll
  for (int i = 0; i < K; ++i) prev[i] = row ? Compute(row[i * D + j]) : Compute(0);
}

// Per-block reduction of two max-norms (NaN-propagating), written to partials[block][2].
struct MaxPair {
  double a, b;
};

// Block-wide NaN-propagating maxima of a pair; the result is valid on thread 0. Needs
// blockThreads() a multiple of 32 and blockThreads()/32 · 16 bytes of dynamic shared memory.
__device__ __forceinline__ MaxPair blockMaxPair(MaxPair value) {
  const int tid = device::threadIndex();
  const int warps = device::blockThreads() / kWarp;
  for (int offset = kWarp / 2; offset > 0; offset >>= 1) {
    const MaxPair other = device::shuffleDown(value, offset);
    value.a = maxOrNan(value.a, other.a);
    value.b = maxOrNan(value.b, other.b);
  }
  MaxPair* perWarp = reinterpret_cast<MaxPair*>(device::dynamicSharedMemory());
  if (tid % kWarp == 0) perWarp[tid / kWarp] = value;
  device::syncThreads();
  MaxPair total = perWarp[0];
  if (tid == 0) {
    for (int w = 1; w < warps; ++w) {
      total.a = maxOrNan(total.a, perWarp[w].a);
      total.b = maxOrNan(total.b, perWarp[w].b);
    }
  }
  return total;
}

template <typename T>
struct EvaluateArgs {
  CellInputs<T> in;
  const T* states = nullptr;  // [B, T, S]; null: zero previous state for t >= 1 (the first guess)
  T* out = nullptr;           // [B, T, S] or null: f, or f − states when `residual`
  T* jacobians = nullptr;     // [B, T, K, K, D] or null
  int32_t residual = 0;
  // [gridBlocks][2] or null: max |out| (NaN if any out is not finite) and max |states|.
  double* partials = nullptr;
  int64_t gridBlocks = 1;
};

// Grid-stride over points i = (b·T + t)·D + j. With `partials`: see blockMaxPair.
template <typename T, int K>
__global__ void __launch_bounds__(kDefaultThreads) cellEvaluateKernel(EvaluateArgs<T> args) {
  const CellInputs<T>& in = args.in;
  const int64_t D = in.size, S = K * D, length = in.length;
  const int64_t points = in.batch * length * D;
  const int64_t stride = args.gridBlocks * device::blockThreads();
  MaxPair norms{0.0, 0.0};
  for (int64_t i = device::blockIndex() * device::blockThreads() + device::threadIndex(); i < points; i += stride) {
    const int64_t m = i / D, j = i - m * D;
    const int64_t b = m / length, t = m - b * length;
    Compute prev[K], value[K], jac[K * K];
    loadPrevious<T, K>(in, args.states, b, t, j, prev);
    CellLane<T, K>::evaluate(in, in.projection + m * 3 * D, j, prev, value, jac, args.jacobians != nullptr);
    if (args.out) {
      T* outRow = args.out + m * S;
      const T* here = args.residual ? args.states + m * S : nullptr;
#pragma unroll
      for (int q = 0; q < K; ++q) {
        T v = static_cast<T>(value[q]);
        if (here) {
          const T h = here[q * D + j];
          v = v - h;  // rounded f minus h, in T (as the CPU kernel)
          const double ah = h < T(0) ? -double(h) : double(h);
          norms.b = maxOrNan(norms.b, ah);
        }
        outRow[q * D + j] = v;
        const double av = v < T(0) ? -double(v) : double(v);
        // |v| <= DBL_MAX is false for NaN and Inf alike; av − av turns both into NaN.
        norms.a = maxOrNan(norms.a, av <= 1.7976931348623157e308 ? av : av - av);
      }
    }
    if (args.jacobians) {
      T* jacRow = args.jacobians + m * K * S;
#pragma unroll
      for (int q = 0; q < K * K; ++q) jacRow[q * D + j] = static_cast<T>(jac[q]);
    }
  }
  if (args.partials) {
    const MaxPair total = blockMaxPair(norms);
    if (device::threadIndex() == 0) {
      args.partials[2 * device::blockIndex()] = total.a;
      args.partials[2 * device::blockIndex() + 1] = total.b;
    }
  }
}

// What one Newton iteration reads back: one small struct, one copy, one sync.
struct NewtonProbe {
  double residual;     // max |f(h) − h| (NaN if any is not finite)
  double stateNorm;    // max |h|
  int32_t scanStatus;  // the status bits of the look-back scan that ran before (0 when none)
  int32_t reserved;
};

struct MaxReduceArgs {
  const double* partials = nullptr;  // [count][2]
  int64_t count = 0;
  const int32_t* scanStatus = nullptr;  // the scan's status word, or null
  NewtonProbe* probe = nullptr;
};

// One block; the same NaN-propagating maxima over the partials. (Templated on the element type
// only so that each dtype's translation unit owns its instance: no duplicate kernel symbols.)
template <typename T>
__global__ void __launch_bounds__(kDefaultThreads) cellMaxReduceKernel(MaxReduceArgs args) {
  MaxPair norms{0.0, 0.0};
  for (int64_t i = device::threadIndex(); i < args.count; i += device::blockThreads()) {
    norms.a = maxOrNan(norms.a, args.partials[2 * i]);
    norms.b = maxOrNan(norms.b, args.partials[2 * i + 1]);
  }
  const MaxPair total = blockMaxPair(norms);
  if (device::threadIndex() == 0) {
    args.probe->residual = total.a;
    args.probe->stateNorm = total.b;
    args.probe->scanStatus = args.scanStatus ? *args.scanStatus : 0;
    args.probe->reserved = 0;
  }
}

template <typename T>
struct UpdateArgs {
  T* states = nullptr;
  const T* delta = nullptr;
  double omega = 1.0;
  int64_t count = 0;
  int64_t gridBlocks = 1;
};

__device__ __forceinline__ float updated(float h, float d, double omega) {
  return omega == 1.0 ? h + d : static_cast<float>(h + omega * d);
}
__device__ __forceinline__ double updated(double h, double d, double omega) {
  return omega == 1.0 ? h + d : h + omega * d;
}

template <typename T>
__global__ void __launch_bounds__(kDefaultThreads) cellUpdateKernel(UpdateArgs<T> args) {
  const int64_t stride = args.gridBlocks * device::blockThreads();
  for (int64_t i = device::blockIndex() * device::blockThreads() + device::threadIndex(); i < args.count; i += stride)
    args.states[i] = updated(args.states[i], args.delta[i], args.omega);
}

template <typename T>
struct StepNormArgs {
  const T* delta = nullptr;   // the Newton step, not applied
  const T* states = nullptr;  // h
  int64_t count = 0;
  double* partials = nullptr;  // [gridBlocks][2]: max |δ| (NaN if any is not finite) and max |h|
  int64_t gridBlocks = 1;
};

// The check after convergence (cells.h, FallbackReason::IllConditioned): per-block max-norms of
// the step that would follow and of the states, reduced by cellMaxReduceKernel.
template <typename T>
__global__ void __launch_bounds__(kDefaultThreads) cellStepNormKernel(StepNormArgs<T> args) {
  const int64_t stride = args.gridBlocks * device::blockThreads();
  MaxPair norms{0.0, 0.0};
  for (int64_t i = device::blockIndex() * device::blockThreads() + device::threadIndex(); i < args.count; i += stride) {
    const T d = args.delta[i], h = args.states[i];
    const double ad = d < T(0) ? -double(d) : double(d);
    norms.a = maxOrNan(norms.a, ad <= 1.7976931348623157e308 ? ad : ad - ad);
    norms.b = maxOrNan(norms.b, h < T(0) ? -double(h) : double(h));
  }
  const MaxPair total = blockMaxPair(norms);
  if (device::threadIndex() == 0) {
    args.partials[2 * device::blockIndex()] = total.a;
    args.partials[2 * device::blockIndex() + 1] = total.b;
  }
}

template <typename T>
struct SequentialArgs {
  CellInputs<T> in;
  T* out = nullptr;          // [B, T, S]
  int32_t* status = nullptr;  // kStatusNonFinite is OR-ed in
  int64_t gridBlocks = 1;
};

// One thread per lane (b, j), j fastest, looping over t; the state stays in registers.
template <typename T, int K>
__global__ void __launch_bounds__(kDefaultThreads) cellSequentialKernel(SequentialArgs<T> args) {
  const CellInputs<T>& in = args.in;
  const int64_t D = in.size, S = K * D, length = in.length;
  const int64_t lanes = in.batch * D;
  const int64_t stride = args.gridBlocks * device::blockThreads();
  bool finite = true;
  for (int64_t i = device::blockIndex() * device::blockThreads() + device::threadIndex(); i < lanes; i += stride) {
    const int64_t b = i / D, j = i - b * D;
    Compute state[K];
    loadPrevious<T, K>(in, nullptr, b, 0, j, state);
    for (int64_t t = 0; t < length; ++t) {
      const int64_t m = b * length + t;
      Compute value[K], unusedJacobian[K * K];
      CellLane<T, K>::evaluate(in, in.projection + m * 3 * D, j, state, value, unusedJacobian, false);
#pragma unroll
      for (int q = 0; q < K; ++q) {
        const T v = static_cast<T>(value[q]);
        args.out[m * S + q * D + j] = v;
        finite = finite && device::isFiniteValue(v);
        state[q] = Compute(v);  // continue from the rounded state, like the CPU loop
      }
    }
  }
  if (!finite) device::atomicOrInt(args.status, kStatusNonFinite);
}

// Cotangent tiles: a block owns 32 consecutive lanes × `rowsPerTile` consecutive points m = b·T + t
// (one warp-row of 32 lanes per point, so loads are coalesced); warp w takes rows w, w + warps, ...
// Each thread sums its parameter terms in registers, the block sums its warps in warp order through
// shared memory, and writes partials[rowTile][kParams][D]. No atomics: deterministic.
template <typename T>
struct CotangentArgs {
  CellInputs<T> in;
  const T* states = nullptr;  // [B, T, S]
  const T* lambda = nullptr;  // [B, T, S]: λ_t = dL/dh_t (total)
  T* dP = nullptr;            // [B, T, 3, D] (the cell dtype, like the CPU kernels)
  T* dh0 = nullptr;           // [B, S]
  double* partials = nullptr;  // [rowTiles][kParams][D]
  int64_t rowsPerTile = 1, rowTiles = 1, laneTiles = 1;
};

// Dynamic shared memory: blockThreads()/32 warps × kParams × 32 doubles.
template <typename T, int K>
__global__ void __launch_bounds__(kDefaultThreads) cellCotangentKernel(CotangentArgs<T> args) {
  using Lane = CellLane<T, K>;
  constexpr int kParams = Lane::kParams;
  const CellInputs<T>& in = args.in;
  const int64_t D = in.size, S = K * D, length = in.length, points = in.batch * length;
  const int64_t block = device::blockIndex();
  const int64_t rowTile = block / args.laneTiles, laneTile = block - rowTile * args.laneTiles;
  const int tid = device::threadIndex();
  const int warps = device::blockThreads() / kWarp;
  const int warp = tid / kWarp, laneInWarp = tid % kWarp;
  const int64_t j = laneTile * kWarp + laneInWarp;
  double sums[kParams];
#pragma unroll
  for (int q = 0; q < kParams; ++q) sums[q] = 0.0;
  if (j < D) {
    const int64_t first = rowTile * args.rowsPerTile;
    const int64_t last = first + args.rowsPerTile < points ? first + args.rowsPerTile : points;
    for (int64_t m = first + warp; m < last; m += warps) {
      const int64_t b = m / length, t = m - b * length;
      Compute prev[K], u[K], dprev[K], dP[3], dParams[kParams];
      loadPrevious<T, K>(in, args.states, b, t, j, prev);
#pragma unroll
      for (int q = 0; q < K; ++q) u[q] = Compute(args.lambda[m * S + q * D + j]);
      Lane::cotangent(in, in.projection + m * 3 * D, j, prev, u, dprev, dP, dParams);
      T* dPRow = args.dP + m * 3 * D;
#pragma unroll
      for (int g = 0; g < 3; ++g) dPRow[g * D + j] = static_cast<T>(dP[g]);
      if (t == 0) {
#pragma unroll
        for (int q = 0; q < K; ++q) args.dh0[b * S + q * D + j] = static_cast<T>(dprev[q]);
      }
#pragma unroll
      for (int q = 0; q < kParams; ++q) sums[q] += dParams[q];
    }
  }
  double* shared = reinterpret_cast<double*>(device::dynamicSharedMemory());  // [warps][kParams][32]
#pragma unroll
  for (int q = 0; q < kParams; ++q) shared[(warp * kParams + q) * kWarp + laneInWarp] = sums[q];
  device::syncThreads();
  if (warp == 0 && j < D) {
#pragma unroll
    for (int q = 0; q < kParams; ++q) {
      double total = shared[q * kWarp + laneInWarp];
      for (int w = 1; w < warps; ++w) total += shared[(w * kParams + q) * kWarp + laneInWarp];
      args.partials[(rowTile * kParams + q) * D + j] = total;
    }
  }
}

struct ParameterSumArgs {
  const double* partials = nullptr;  // [rowTiles][params][D]
  int64_t rowTiles = 1, params = 3, size = 1;
  double* dA = nullptr;  // [3, D]
  double* dC = nullptr;  // [2, D] when params == 5
  int64_t gridBlocks = 1;
};

// One thread per (parameter row q, lane j); sums over row tiles in tile order. (Templated like
// cellMaxReduceKernel.)
template <typename T>
__global__ void __launch_bounds__(kDefaultThreads) cellParameterSumKernel(ParameterSumArgs args) {
  const int64_t count = args.params * args.size;
  const int64_t stride = args.gridBlocks * device::blockThreads();
  for (int64_t i = device::blockIndex() * device::blockThreads() + device::threadIndex(); i < count; i += stride) {
    double total = 0.0;
    for (int64_t r = 0; r < args.rowTiles; ++r) total += args.partials[r * count + i];
    if (i < 3 * args.size)
      args.dA[i] = total;
    else
      args.dC[i - 3 * args.size] = total;
  }
}

// ---- launch plans (host side, shared by the CUDA launcher and the CPU emulator) ----------------

struct ElementwisePlan {
  int64_t blocks = 1;
  int threads = kDefaultThreads;
  int64_t sharedBytes = 0;  // the max-norm reduction's per-warp slots
};

// Grid-stride launch over `count` items: at most `maxBlocks` blocks (the launcher passes a few
// waves of the device's SMs; the emulator a handful, which also exercises the stride loop).
inline ElementwisePlan planElementwise(int64_t count, int64_t maxBlocks, int threads = kDefaultThreads) {
  ElementwisePlan plan;
  plan.threads = threads;
  const int64_t needed = (count + threads - 1) / threads;
  plan.blocks = needed < 1 ? 1 : (needed < maxBlocks ? needed : maxBlocks);
  plan.sharedBytes = int64_t(threads / kWarp) * int64_t(sizeof(MaxPair));
  return plan;
}

struct CotangentPlan {
  int64_t rowsPerTile = 1, rowTiles = 1, laneTiles = 1, blocks = 1;
  int threads = kDefaultThreads;
  int64_t sharedBytes = 0;
  int64_t partialElements = 0;  // rowTiles · params · D doubles
};

// At most `maxRowTiles` row tiles of at least `minRowsPerTile` points: bounds the partials to
// maxRowTiles · 5 · D doubles while keeping rowTiles · ⌈D/32⌉ blocks to spread over the SMs.
inline CotangentPlan planCotangent(int64_t points, int64_t size, int params, int64_t minRowsPerTile, int64_t maxRowTiles,
                                   int threads = kDefaultThreads) {
  CotangentPlan plan;
  plan.threads = threads;
  plan.laneTiles = (size + kWarp - 1) / kWarp;
  int64_t rows = (points + maxRowTiles - 1) / maxRowTiles;
  if (rows < minRowsPerTile) rows = minRowsPerTile;
  plan.rowsPerTile = rows;
  plan.rowTiles = (points + rows - 1) / rows;
  plan.blocks = plan.rowTiles * plan.laneTiles;
  plan.sharedBytes = int64_t(threads / kWarp) * params * kWarp * int64_t(sizeof(double));
  plan.partialElements = plan.rowTiles * params * size;
  return plan;
}

}  // namespace parascan::cuda::cellkernels
