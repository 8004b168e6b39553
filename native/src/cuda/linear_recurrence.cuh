// CUDA kernels of the linear recurrence (native/include/parascan/linear_recurrence.h):
//
//   forward:  x_t = J_t x_{t-1} + r_t                         (t = 0..T-1, x_{-1} = initial or 0)
//   reverse:  out_t = r_t + c,  c ← J_t^T out_t               (t = T-1..0, c starts at initial or 0)
//
// on data laid out [B, T, k, k, N] (Jacobians) and [B, T, k, N] (rhs, out): batch-first, time-major,
// lanes contiguous. Every lane n of every batch b is an independent k-dimensional system.
//
// Kernel versions (llm.c dev/cuda style; the launcher picks one, report.schedule names it):
//
//   v1  linearRecurrenceSequentialKernel<T>            "cuda-sequential-generic"
//       Any k (dense Jacobians, k > 4). One thread block per (batch, group of up to 32 lanes),
//       sequential over time; the k×k mat-vec of a step is spread over the block's threads (one
//       (row, lane) pair each, lanes fastest so 32 lanes of J are one coalesced segment) and the
//       state lives in shared memory (double-buffered, one __syncthreads per step). Latency-bound:
//       expected ~1-2 µs per time step (a dependent global load + a barrier) whatever the size, so
//       it is the correct fallback, not a fast path. With N = 1 the forward pass reads J rows at a
//       stride of k per thread (served from L1 after the first touch); the reverse pass reads
//       columns of J^T, which are contiguous.
//
//   v2  linearRecurrenceSinglePassKernel<T, K, C, false>, lane-major mode   "cuda-lookback-k<K>-lanes"
//       k = 1..4 (templated K, registers), N >= 32. A block owns 32 consecutive lanes (one per warp
//       thread, so every load/store of a warp is one contiguous 128-byte row segment) and 8·C
//       consecutive time steps: warp w owns steps [w·C, (w+1)·C). Each thread aggregates its C steps
//       into one affine map (combine.h), the block scans the 8 warp aggregates through shared memory,
//       and the carry into the tile comes from the tiles before it by decoupled look-back (below).
//       The data is read once and written once: 3 passes of memory for k = 1, like a triad.
//
//   v3  linearRecurrenceSinglePassKernel<T, K, C, true>, staged mode   "cuda-lookback-k<K>-staged"
//       k = 1..4, N < 32 (the long-T / few-lanes shapes: dense k×k with N = 1, small heads). A lane
//       tile of L = nextpow2(N) lanes is too narrow to give a warp contiguous rows, so the block
//       copies its whole tile (a contiguous range of rows: all N lanes × 256/L·C steps) into shared
//       memory with fully coalesced loads, and each thread then picks its (lane, C-step chunk) out of
//       shared memory; the 256/L chunks of a lane are scanned with warp shuffles, then across warps.
//       The outputs go back through shared memory for coalesced stores. Shared memory is padded by
//       one element every 128 bytes so that threads reading chunks at a stride of C rows do not all
//       hit the same bank.
//
// Grid level (v2 and v3): single pass with decoupled look-back (Merrill & Garland, "Single-pass
// Parallel Prefix Scan with Decoupled Look-back", 2016). A block takes the next tile ticket from a
// global counter (so every tile it waits on belongs to a block that already runs: no deadlock
// whatever the scheduling order), publishes its tile aggregate (flag 1), finds its carry-in by
// walking back over its predecessors in the same (batch, lane tile) chain, composing aggregates
// until it meets a predecessor that already published its inclusive state (flag 2), then
// publishes its own inclusive state. Warp 0 inspects 32/L predecessors per round. Tickets are
// time-tile-major across chains, so with many chains (B × lane tiles) the tiles in flight spread
// over chains and look-back chains stay short. Flags and payloads are per (tile, lane), each
// written and read by a single thread with release/acquire ordering.
//
// Expected behaviour (unmeasured until run on a GPU, see native/tests/gpu): DRAM traffic is the
// minimum, (K² + 2K)·B·T·N elements (J and r read once, out written once) plus ~1% of look-back
// scratch, so for k = 1 and 2 the target is triad bandwidth (~85-90% of a device memcpy on H100).
// What can keep it below: the look-back latency per tile (hidden by 2-3 resident blocks per SM,
// see singlePassMinBlocksPerSM), and for k = 3, 4 the K³ flops per step of composing maps, which
// makes them compute-bound rather than bandwidth-bound (float64 k >= 3 also spill a few hundred
// bytes of registers into L1).
//
// Scratch: O(B · N/L · T/tile) — one map and one state per tile and lane, never log T copies.
// Finiteness: every output is checked with isfinite as it is produced (free next to the memory
// traffic); a non-finite one sets a bit in a device status word the launcher reads back.
#pragma once

#include <cstdint>

#include "parascan/combine.h"
#include "parascan/linear_recurrence.h"

#include "device_primitives.cuh"

namespace parascan::cuda::kernels {

constexpr int kBlockThreads = 256;
constexpr int kWarpThreads = 32;
constexpr int kBlockWarps = kBlockThreads / kWarpThreads;

// Device status word bits (control[1]).
constexpr int32_t kStatusNonFinite = 1;
constexpr int32_t kStatusLookBackTimeout = 2;

// Look-back flag values.
constexpr int32_t kFlagAggregate = 1;  // the tile's aggregate map is published
constexpr int32_t kFlagInclusive = 2;  // the state at the end of the tile is published

// Time steps per thread of the single-pass kernel. The steps of a thread stay in registers between
// the aggregate pass and the output pass (that is what makes it single-pass), so C·(K²+K) values
// must fit next to the scan's working maps (a few AffineMaps of K²+K values each): 128 bytes of
// step data per thread for k = 1, less for larger k where the maps themselves get big. For k = 1
// that is also what keeps enough bytes in flight per SM (3 blocks × 256 threads × 128 B = 96 KB,
// several times the ~25 KB an H100 SM needs to cover DRAM latency).
//
//            C (steps/thread)   resident blocks/SM   registers (ptxas, sm_90)
//   f32 k=1        16                 3                 80 (lanes mode spills ~100 B)
//   f32 k=2         6                 2                111
//   f32 k=3         3                 2                128
//   f32 k=4         1                 2                128 (spills ~100 B)
//   f64 k=1         8                 2                 96
//   f64 k=2         2                 2                125
//   f64 k=3         1                 2                128 (spills ~350 B)
//   f64 k=4         1                 1                255 (spills ~100 B)
template <typename T, int K>
PARASCAN_HD constexpr int singlePassStepsPerThread() {
  return sizeof(T) == 4 ? (K == 1 ? 16 : K == 2 ? 6 : K == 3 ? 3 : 1) : (K == 1 ? 8 : K == 2 ? 2 : 1);
}

// Resident blocks per SM the single-pass kernel is compiled for (__launch_bounds__), so that while
// one block waits in its look-back the others keep the SM's loads in flight. float64 k = 4 needs
// about 280 registers' worth of maps in the look-back and gets 1.
template <typename T, int K>
PARASCAN_HD constexpr int singlePassMinBlocksPerSM() {
  return sizeof(T) == 4 ? (K == 1 ? 3 : 2) : (K <= 3 ? 2 : 1);
}

template <typename T>
struct SinglePassArgs {
  const T* jacobians;  // [B, T, K, K, N]
  const T* rhs;        // [B, T, K, N]
  const T* initial;    // [B, K, N] or null
  T* out;              // [B, T, K, N], may be rhs
  int64_t length;      // T
  int64_t lanes;       // N
  int64_t laneTiles;   // lane tiles per batch (1 in staged mode)
  int64_t chains;      // B · laneTiles: independent look-back chains
  int64_t timeTiles;   // tiles per chain
  int64_t tileSteps;   // time steps per tile
  int32_t reverse;
  int32_t laneTileWidth;  // L: lanes per tile, a power of two <= 32
  int32_t laneTileShift;  // log2(L)
  int32_t* control;       // [0] tile ticket counter, [1] status bits (zeroed before the launch)
  int32_t* flags;         // [tiles][L] look-back flags (zeroed before the launch)
  T* aggregates;          // [tiles][L][K·K + K]
  T* states;              // [tiles][L][K]
};

// Dynamic shared memory of the single-pass kernel:
//   [0, 16)                 the block's tile ticket
//   [16, regionOffset)      warp carries: T[kBlockWarps][32][K]
//   [regionOffset, ...)     one region used twice: first the staged tile (v3) — padded J rows then
//                           padded rhs rows, later reused for the outputs — and in between the
//                           per-warp aggregate maps AffineMap[kBlockWarps][L] of the block scan.
template <typename T, int K>
struct SinglePassSharedLayout {
  static constexpr int64_t kHeaderBytes = 16;
  static constexpr int64_t kWarpCarryBytes = int64_t(kBlockWarps) * kWarpThreads * K * int64_t(sizeof(T));
  static constexpr int64_t kRegionOffset = (kHeaderBytes + kWarpCarryBytes + 15) / 16 * 16;
  // One padding element every 128 bytes (32 floats / 16 doubles).
  static constexpr int kPadShift = sizeof(T) == 4 ? 5 : 4;

  static PARASCAN_HD int64_t padded(int64_t index) { return index + (index >> kPadShift); }
  static PARASCAN_HD int padded(int index) { return index + (index >> kPadShift); }
  static PARASCAN_HD int64_t paddedCount(int64_t count) { return count + (count >> kPadShift) + 1; }

  static PARASCAN_HD int64_t stagingElements(int64_t tileSteps, int64_t lanes) {
    return paddedCount(tileSteps * K * K * lanes) + paddedCount(tileSteps * K * lanes);
  }
  static PARASCAN_HD int64_t scanElements(int laneTileWidth) {
    return int64_t(kBlockWarps) * laneTileWidth * (K * K + K);
  }
  static PARASCAN_HD int64_t bytes(bool staged, int64_t tileSteps, int64_t lanes, int laneTileWidth) {
    int64_t region = scanElements(laneTileWidth);
    if (staged) {
      const int64_t staging = stagingElements(tileSteps, lanes);
      region = staging > region ? staging : region;
    }
    return kRegionOffset + region * int64_t(sizeof(T));
  }
};

template <typename T, int K>
struct CarryVector {
  T v[K];
};

__device__ __forceinline__ int64_t minInt64(int64_t a, int64_t b) { return a < b ? a : b; }
__device__ __forceinline__ int64_t maxInt64(int64_t a, int64_t b) { return a > b ? a : b; }

// Waits until the look-back flag at `flag` is published and returns it. A predecessor tile always
// belongs to a block that is already running (tickets are handed out in start order) and publishes
// its aggregate right after loading its tile, so a wait is a few microseconds. The iteration cap
// (seconds) only turns a would-be hang — a bug — into a reported error; once one waiter has given
// up, the others stop waiting too.
__device__ __forceinline__ int32_t waitForFlag(const int32_t* flag, int32_t* control) {
  constexpr int64_t kSpinLimit = int64_t(1) << 22;
  unsigned sleep = 0;
  for (int64_t iteration = 0;; ++iteration) {
    const int32_t value = device::loadAcquire(flag);
    if (value != 0) return value;
    if (iteration >= kSpinLimit || ((iteration & 1023) == 1023 &&
                                    (device::loadAcquire(control + 1) & kStatusLookBackTimeout) != 0)) {
      device::atomicOrInt(control + 1, kStatusLookBackTimeout);
      return kFlagInclusive;
    }
    device::backoff(sleep);
    sleep = sleep == 0 ? 32 : (sleep < 256 ? 2 * sleep : 256);
  }
}

template <typename T, int K>
__device__ __forceinline__ void storeMapToL2(T* address, const AffineMap<T, K>& m) {
#pragma unroll
  for (int i = 0; i < K; ++i) {
#pragma unroll
    for (int j = 0; j < K; ++j) device::storeToL2(address + i * K + j, m.a[i][j]);
    device::storeToL2(address + K * K + i, m.b[i]);
  }
}

template <typename T, int K>
__device__ __forceinline__ AffineMap<T, K> loadMapFromL2(const T* address) {
  AffineMap<T, K> m;
#pragma unroll
  for (int i = 0; i < K; ++i) {
#pragma unroll
    for (int j = 0; j < K; ++j) m.a[i][j] = device::loadFromL2(address + i * K + j);
    m.b[i] = device::loadFromL2(address + K * K + i);
  }
  return m;
}

// Decoupled look-back, run by the 32 threads of warp 0. Thread u serves lane u & (L-1) of the
// tile and inspects the predecessor at distance 1 + (u >> log2 L) (+ 32/L per further round).
// Result (for threads u < L): the carry into this tile for lane u.
//
// For one lane, the predecessors at distances 1, 2, ... hold maps X_1, X_2, ... (their aggregates)
// up to the first one, m, that published its inclusive state s; the carry is
// X_1 ∘ X_2 ∘ ... ∘ X_{m-1} (s). Writing the state as the constant map (a = 0, b = s) makes that
// one ordered reduction of maps, whose result's b is the carry; the maps beyond m are identities.
template <typename T, int K>
__device__ __forceinline__ void lookBackCarry(const SinglePassArgs<T>& args, int64_t timeTile, int64_t chain, int u,
                                              T* carry) {
  using Map = AffineMap<T, K>;
  constexpr int kMapElements = K * K + K;
  const int laneTileWidth = args.laneTileWidth;
  const int shift = args.laneTileShift;
  const int lane = u & (laneTileWidth - 1);
  const int distance = u >> shift;          // 0-based distance within the round
  const int window = kWarpThreads >> shift;  // predecessors inspected per round
  unsigned groupMask = 0;                    // warp threads serving the same lane
  for (int i = lane; i < kWarpThreads; i += laneTileWidth) groupMask |= 1u << i;

  Map running = affineIdentity<T, K>();
  bool done = false;
  for (int64_t walked = 0;; walked += window) {
    const int64_t predecessor = timeTile - 1 - walked - distance;  // its time tile
    const int64_t slot = (predecessor * args.chains + chain) * laneTileWidth + lane;
    const bool inspects = !done && predecessor >= 0;
    // Threads past the chain start (or whose lane is done) act as published states: the real
    // first tile of the chain, which only ever publishes its state, always comes before them.
    const int32_t flag = inspects ? waitForFlag(args.flags + slot, args.control) : kFlagInclusive;
    const unsigned inclusiveInGroup = device::ballot(flag == kFlagInclusive) & groupMask;
    const int firstInclusive = inclusiveInGroup ? (device::findFirstSet(inclusiveInGroup) - 1) >> shift : window;

    Map x = affineIdentity<T, K>();
    if (inspects) {
      if (distance < firstInclusive) {
        x = loadMapFromL2<T, K>(args.aggregates + slot * kMapElements);
      } else if (distance == firstInclusive) {
#pragma unroll
        for (int i = 0; i < K; ++i) {
#pragma unroll
          for (int j = 0; j < K; ++j) x.a[i][j] = T(0);
          x.b[i] = device::loadFromL2(args.states + slot * K + i);
        }
      }
    }
    // Ordered reduction over the round: distance 0 ends with X_0 ∘ X_1 ∘ ... ∘ X_{window-1}.
    for (int offset = laneTileWidth; offset < kWarpThreads; offset <<= 1) {
      const Map earlier = device::shuffleDown(x, offset);
      if (u + offset < kWarpThreads) x = affineCompose(x, earlier);
    }
    if (!done) running = affineCompose(running, x);
    if (firstInclusive < window) done = true;
    if (device::ballot(!done) == 0) break;
  }
#pragma unroll
  for (int i = 0; i < K; ++i) carry[i] = running.b[i];
}

// v2 / v3, see the top of the file. One block = one tile = L lanes × (256/L)·C time steps of one
// batch; thread tid serves lane tid & (L-1) and the C-step chunk number tid >> log2(L).
template <typename T, int K, int C, bool kStaged>
__global__ void __launch_bounds__(kBlockThreads, singlePassMinBlocksPerSM<T, K>())
    linearRecurrenceSinglePassKernel(SinglePassArgs<T> args) {
  using Map = AffineMap<T, K>;
  using Step = RecurrenceStep<T, K>;
  using Layout = SinglePassSharedLayout<T, K>;
  using Vector = CarryVector<T, K>;
  constexpr int KK = K * K;
  constexpr int kMapElements = KK + K;

  unsigned char* shared = device::dynamicSharedMemory();
  int64_t* sharedTicket = reinterpret_cast<int64_t*>(shared);
  T* warpCarries = reinterpret_cast<T*>(shared + Layout::kHeaderBytes);  // [kBlockWarps][32][K]
  T* region = reinterpret_cast<T*>(shared + Layout::kRegionOffset);

  const int tid = device::threadIndex();
  const int warp = tid / kWarpThreads;
  const int laneInWarp = tid % kWarpThreads;
  const int laneTileWidth = args.laneTileWidth;
  const int shift = args.laneTileShift;
  const int laneLocal = tid & (laneTileWidth - 1);
  const int chunk = tid >> shift;
  const bool reverse = args.reverse != 0;
  constexpr bool staged = kStaged;
  const int64_t length = args.length;
  const int64_t lanes = args.lanes;

  if (tid == 0) *sharedTicket = device::atomicAddInt(args.control, 1);
  device::syncThreads();
  const int64_t tile = *sharedTicket;
  const int64_t timeTile = tile / args.chains;
  const int64_t chain = tile - timeTile * args.chains;
  const int64_t batch = chain / args.laneTiles;
  const int64_t laneTile = chain - batch * args.laneTiles;
  const int64_t lane = laneTile * laneTileWidth + laneLocal;
  const bool laneValid = lane < lanes;
  // Logical steps s run in processing order (s = t forward, s = T-1-t reverse).
  const int64_t tileFirst = timeTile * args.tileSteps;
  const int64_t tileCount = minInt64(args.tileSteps, length - tileFirst);
  const int chunkFirst = chunk * C;  // within the tile
  const int tileRows = static_cast<int>(tileCount);
  const int myCount = laneValid ? (tileRows - chunkFirst < 0 ? 0 : tileRows - chunkFirst < C ? tileRows - chunkFirst : C) : 0;
  // Physical rows of the tile: [rowLow, rowLow + tileCount).
  const int64_t rowLow = reverse ? length - tileFirst - tileCount : tileFirst;
  const int64_t rowStrideJ = KK * lanes;
  const int64_t rowStrideR = K * lanes;
  // In staged mode lanes < 32, so tile-local shared-memory offsets fit 32 bits.
  const int stagedLanes = static_cast<int>(lanes < kWarpThreads ? lanes : 0);
  const int stagedStrideJ = KK * stagedLanes;
  const int stagedStrideR = K * stagedLanes;

  // ---- load the thread's C steps into registers --------------------------------------------------
  Step steps[C] = {};  // (zeroed: steps past the end of the data are never used, but keep them defined)
  T* stagedJ = region;
  T* stagedR = region + Layout::paddedCount(tileCount * rowStrideJ);
  if constexpr (staged) {
    // The tile's rows are one contiguous range of both arrays (all lanes): copy them with
    // consecutive threads on consecutive addresses. All of a thread's loads are issued before the
    // first shared-memory store so that C·(K²+K) loads per thread are in flight at once.
    // Tile-local offsets are small (< 256·C·K²), so they are 32-bit: 64-bit offsets held across
    // the unrolled loads would double the registers of this loop.
    const int countJ = static_cast<int>(tileCount * rowStrideJ);
    const int countR = static_cast<int>(tileCount * rowStrideR);
    const T* sourceJ = args.jacobians + (batch * length + rowLow) * rowStrideJ;
    const T* sourceR = args.rhs + (batch * length + rowLow) * rowStrideR;
    {
      T values[C * KK];
#pragma unroll
      for (int u = 0; u < C * KK; ++u) {
        const int e = tid + u * kBlockThreads;
        if (e < countJ) values[u] = sourceJ[e];
      }
#pragma unroll
      for (int u = 0; u < C * KK; ++u) {
        const int e = tid + u * kBlockThreads;
        if (e < countJ) stagedJ[Layout::padded(e)] = values[u];
      }
    }
    {
      T values[C * K];
#pragma unroll
      for (int u = 0; u < C * K; ++u) {
        const int e = tid + u * kBlockThreads;
        if (e < countR) values[u] = sourceR[e];
      }
#pragma unroll
      for (int u = 0; u < C * K; ++u) {
        const int e = tid + u * kBlockThreads;
        if (e < countR) stagedR[Layout::padded(e)] = values[u];
      }
    }
    device::syncThreads();
#pragma unroll
    for (int c = 0; c < C; ++c) {
      if (c < myCount) {
        const int s = chunkFirst + c;
        const int row = reverse ? tileRows - 1 - s : s;
#pragma unroll
        for (int i = 0; i < K; ++i) {
#pragma unroll
          for (int j = 0; j < K; ++j) {
            const int q = reverse ? j * K + i : i * K + j;  // the reverse pass uses J^T
            steps[c].a[i][j] = stagedJ[Layout::padded(row * stagedStrideJ + q * stagedLanes + laneLocal)];
          }
          steps[c].r[i] = stagedR[Layout::padded(row * stagedStrideR + i * stagedLanes + laneLocal)];
        }
      }
    }
    device::syncThreads();  // the region is reused by the block scan below
  } else {
    // Lane-major: the 32 threads of a warp read 32 consecutive lanes of one row, a contiguous
    // 128-byte (float) segment per (i, j); no staging needed.
#pragma unroll
    for (int c = 0; c < C; ++c) {
      if (c < myCount) {
        const int64_t s = tileFirst + chunkFirst + c;
        const int64_t t = reverse ? length - 1 - s : s;
        steps[c] = loadRecurrenceStep<T, K>(args.jacobians + (batch * length + t) * rowStrideJ,
                                            args.rhs + (batch * length + t) * rowStrideR, lanes, lane, reverse);
      }
    }
  }

  // ---- thread aggregate, then inclusive scan over the chunks of the same lane in the warp -------
  Map inclusive = affineIdentity<T, K>();
#pragma unroll
  for (int c = 0; c < C; ++c) {
    if (c < myCount) {
      const Map step = recurrenceStepMap(steps[c], reverse);
      inclusive = c == 0 ? step : affineCompose(step, inclusive);
    }
  }
  for (int offset = laneTileWidth; offset < kWarpThreads; offset <<= 1) {
    const Map earlier = device::shuffleUp(inclusive, offset);
    if (laneInWarp >= offset) inclusive = affineCompose(inclusive, earlier);
  }
  Map* warpTotals = reinterpret_cast<Map*>(region);  // [kBlockWarps][L]
  if (laneInWarp >= kWarpThreads - laneTileWidth) warpTotals[warp * laneTileWidth + laneLocal] = inclusive;
  device::syncThreads();

  // ---- warp 0: tile aggregate, look-back, publish, per-warp carries ------------------------------
  if (warp == 0) {
    const int u = laneInWarp;  // == tid; for u < L it is the lane served (laneLocal == u)
    const int64_t slot = tile * laneTileWidth + u;
    Map total = affineIdentity<T, K>();
    if (u < laneTileWidth) {
      for (int w = 0; w < kBlockWarps; ++w) total = affineCompose(warpTotals[w * laneTileWidth + u], total);
      if (timeTile > 0) {
        storeMapToL2<T, K>(args.aggregates + slot * kMapElements, total);
        device::storeRelease(args.flags + slot, kFlagAggregate);
      }
    }
    T carry[K];
    if (timeTile == 0) {
#pragma unroll
      for (int i = 0; i < K; ++i)
        carry[i] = (u < laneTileWidth && laneValid && args.initial != nullptr)
                       ? args.initial[batch * rowStrideR + i * lanes + lane]
                       : T(0);
    } else {
      lookBackCarry<T, K>(args, timeTile, chain, u, carry);
    }
    if (u < laneTileWidth) {
      T state[K];
      affineApply(total, carry, state);
#pragma unroll
      for (int i = 0; i < K; ++i) device::storeToL2(args.states + slot * K + i, state[i]);
      device::storeRelease(args.flags + slot, kFlagInclusive);
      for (int w = 0; w < kBlockWarps; ++w) {
#pragma unroll
        for (int i = 0; i < K; ++i) warpCarries[(w * kWarpThreads + u) * K + i] = carry[i];
        affineApply(warpTotals[w * laneTileWidth + u], carry, carry);
      }
    }
  }
  device::syncThreads();

  // ---- the thread's carry-in: its warp's carry through the chunks before it in the warp ---------
  Vector start;
#pragma unroll
  for (int i = 0; i < K; ++i) start.v[i] = warpCarries[(warp * kWarpThreads + laneLocal) * K + i];
  Vector end;
  affineApply(inclusive, start.v, end.v);
  const Vector previousEnd = device::shuffleUp(end, laneTileWidth);
  if (laneInWarp >= laneTileWidth) start = previousEnd;

  // ---- re-run the chunk from its carry and emit the outputs ---------------------------------------
  bool finite = true;
#pragma unroll
  for (int c = 0; c < C; ++c) {
    if (c < myCount) {
      T o[K];
      recurrenceStepAdvance(steps[c], reverse, start.v, o);
      const int s = chunkFirst + c;
      if constexpr (staged) {
        const int row = reverse ? tileRows - 1 - s : s;
#pragma unroll
        for (int i = 0; i < K; ++i) {
          finite = finite && device::isFiniteValue(o[i]);
          stagedR[Layout::padded(row * stagedStrideR + i * stagedLanes + laneLocal)] = o[i];
        }
      } else {
        const int64_t t = reverse ? length - 1 - (tileFirst + s) : tileFirst + s;
        T* outRow = args.out + (batch * length + t) * rowStrideR;
#pragma unroll
        for (int i = 0; i < K; ++i) {
          finite = finite && device::isFiniteValue(o[i]);
          outRow[i * lanes + lane] = o[i];
        }
      }
    }
  }
  if (!finite) device::atomicOrInt(args.control + 1, kStatusNonFinite);
  if constexpr (staged) {
    device::syncThreads();
    const int countR = tileRows * stagedStrideR;
    T* target = args.out + (batch * length + rowLow) * rowStrideR;
#pragma unroll
    for (int u = 0; u < C * K; ++u) {
      const int e = tid + u * kBlockThreads;
      if (e < countR) target[e] = stagedR[Layout::padded(e)];
    }
  }
}

// ---- v1: any k, sequential over time -------------------------------------------------------------

template <typename T>
struct SequentialArgs {
  const T* jacobians;
  const T* rhs;
  const T* initial;
  T* out;
  int64_t length;
  int64_t blockSize;   // k
  int64_t lanes;       // N
  int64_t groupLanes;  // G: lanes per block
  int64_t groups;      // ceil(N / G)
  int32_t reverse;
  int32_t* control;  // [1] status bits
};

// Shared memory: T[3][k·G] — two state buffers (the mat-vec of step s reads one while writing the
// other) and the reverse carry. Thread q handles the (row i, lane) pairs q, q + blockDim, ...; the
// lane is the fastest index, so with G = 32 a warp reads 32 consecutive lanes of J (coalesced).
template <typename T>
__global__ void __launch_bounds__(kBlockThreads) linearRecurrenceSequentialKernel(SequentialArgs<T> args) {
  const int64_t k = args.blockSize;
  const int64_t lanes = args.lanes;
  const int64_t groupLanes = args.groupLanes;
  const int64_t length = args.length;
  const int64_t block = device::blockIndex();
  const int64_t batch = block / args.groups;
  const int64_t firstLane = (block - batch * args.groups) * groupLanes;
  const int64_t groupValid = minInt64(groupLanes, lanes - firstLane);
  const int64_t pairs = k * groupLanes;
  const int tid = device::threadIndex();
  const int threads = device::blockThreads();
  const bool reverse = args.reverse != 0;

  T* buffers = reinterpret_cast<T*>(device::dynamicSharedMemory());
  T* reverseCarry = buffers + 2 * pairs;

  // Initial state: forward x_{-1}, reverse c.
  for (int64_t q = tid; q < pairs; q += threads) {
    const int64_t i = q / groupLanes;
    const int64_t l = q - i * groupLanes;
    if (l >= groupValid) continue;
    const T value = args.initial != nullptr ? args.initial[batch * k * lanes + i * lanes + firstLane + l] : T(0);
    (reverse ? reverseCarry : buffers)[q] = value;
  }
  device::syncThreads();

  bool finite = true;
  for (int64_t s = 0; s < length; ++s) {
    const int64_t t = reverse ? length - 1 - s : s;
    const T* jacStep = args.jacobians + ((batch * length + t) * k * k) * lanes + firstLane;
    const T* rhsStep = args.rhs + (batch * length + t) * k * lanes + firstLane;
    T* outStep = args.out + (batch * length + t) * k * lanes + firstLane;
    T* current = buffers + (s & 1) * pairs;
    T* next = buffers + ((s + 1) & 1) * pairs;
    if (!reverse) {
      // x_t[i] = r_t[i] + Σ_j J_t[i][j] x_{t-1}[j]
      for (int64_t q = tid; q < pairs; q += threads) {
        const int64_t i = q / groupLanes;
        const int64_t l = q - i * groupLanes;
        if (l >= groupValid) continue;
        T x = rhsStep[i * lanes + l];
        const T* jacRow = jacStep + i * k * lanes + l;
        for (int64_t j = 0; j < k; ++j) x += jacRow[j * lanes] * current[j * groupLanes + l];
        next[q] = x;
        outStep[i * lanes + l] = x;
        finite = finite && device::isFiniteValue(x);
      }
      device::syncThreads();
    } else {
      // out_t = r_t + c;  c ← J_t^T out_t (not needed after t = 0, which never reads J_0)
      for (int64_t q = tid; q < pairs; q += threads) {
        const int64_t i = q / groupLanes;
        const int64_t l = q - i * groupLanes;
        if (l >= groupValid) continue;
        const T o = rhsStep[i * lanes + l] + reverseCarry[q];
        current[q] = o;
        outStep[i * lanes + l] = o;
        finite = finite && device::isFiniteValue(o);
      }
      device::syncThreads();
      if (t > 0) {
        for (int64_t q = tid; q < pairs; q += threads) {
          const int64_t i = q / groupLanes;
          const int64_t l = q - i * groupLanes;
          if (l >= groupValid) continue;
          const T* jacColumn = jacStep + i * lanes + l;  // J_t[j][i] = jacColumn[j·k·N]
          T c = T(0);
          for (int64_t j = 0; j < k; ++j) c += jacColumn[j * k * lanes] * current[j * groupLanes + l];
          reverseCarry[q] = c;  // read back only by this thread
        }
      }
      // No barrier here: the next step writes the other buffer, and reverseCarry is per-thread.
    }
  }
  if (!finite) device::atomicOrInt(args.control + 1, kStatusNonFinite);
}

// ---- launch plans (host side, shared by the CUDA launcher and the CPU emulator) ----------------

inline int64_t roundUpTo(int64_t value, int64_t multiple) { return (value + multiple - 1) / multiple * multiple; }

struct SinglePassPlan {
  bool staged = false;
  int laneTileWidth = 32;  // L
  int laneTileShift = 5;
  int stepsPerThread = 1;  // C
  int64_t laneTiles = 0, chains = 0, timeTiles = 0, tiles = 0, tileSteps = 0;
  int64_t sharedBytes = 0;
  // Scratch: [control | flags | aggregates | states], each 256-byte aligned; the first zeroBytes
  // (control and flags) are cleared before every launch.
  int64_t flagsOffset = 0, aggregatesOffset = 0, statesOffset = 0, scratchBytes = 0, zeroBytes = 0;
};

template <typename T, int K>
SinglePassPlan planSinglePass(int64_t batch, int64_t length, int64_t lanes) {
  using Layout = SinglePassSharedLayout<T, K>;
  SinglePassPlan plan;
  plan.stepsPerThread = singlePassStepsPerThread<T, K>();
  // Fewer than 32 lanes cannot fill a warp with one row: stage whole tiles (v3). From 32 lanes on,
  // one warp per 32-lane row segment is already perfectly coalesced (v2).
  plan.staged = lanes < kWarpThreads;
  plan.laneTileShift = 0;
  if (plan.staged) {
    while ((int64_t(1) << plan.laneTileShift) < lanes) ++plan.laneTileShift;
  } else {
    plan.laneTileShift = 5;
  }
  plan.laneTileWidth = 1 << plan.laneTileShift;
  plan.tileSteps = int64_t(kBlockThreads / plan.laneTileWidth) * plan.stepsPerThread;
  plan.laneTiles = plan.staged ? 1 : (lanes + kWarpThreads - 1) / kWarpThreads;
  plan.chains = batch * plan.laneTiles;
  plan.timeTiles = (length + plan.tileSteps - 1) / plan.tileSteps;
  plan.tiles = plan.chains * plan.timeTiles;
  plan.sharedBytes = Layout::bytes(plan.staged, plan.tileSteps, lanes, plan.laneTileWidth);
  const int64_t slots = plan.tiles * plan.laneTileWidth;
  plan.flagsOffset = 256;
  plan.aggregatesOffset = plan.flagsOffset + roundUpTo(slots * int64_t(sizeof(int32_t)), 256);
  plan.statesOffset = plan.aggregatesOffset + roundUpTo(slots * (K * K + K) * int64_t(sizeof(T)), 256);
  plan.scratchBytes = plan.statesOffset + roundUpTo(slots * K * int64_t(sizeof(T)), 256);
  plan.zeroBytes = plan.aggregatesOffset;
  return plan;
}

// The kernel arguments of a plan over `scratch` (plan.scratchBytes, control and flags zeroed):
// one place for the CUDA launcher and the CPU emulator, so both run the very same launch.
template <typename T>
SinglePassArgs<T> singlePassArgs(const ::parascan::LinearRecurrenceParams<T>& p, const SinglePassPlan& plan, unsigned char* scratch) {
  SinglePassArgs<T> args;
  args.jacobians = p.jacobians;
  args.rhs = p.rhs;
  args.initial = p.initial;
  args.out = p.out;
  args.length = p.length;
  args.lanes = p.lanes;
  args.laneTiles = plan.laneTiles;
  args.chains = plan.chains;
  args.timeTiles = plan.timeTiles;
  args.tileSteps = plan.tileSteps;
  args.reverse = p.direction == ::parascan::Direction::Reverse ? 1 : 0;
  args.laneTileWidth = plan.laneTileWidth;
  args.laneTileShift = plan.laneTileShift;
  args.control = reinterpret_cast<int32_t*>(scratch);
  args.flags = reinterpret_cast<int32_t*>(scratch + plan.flagsOffset);
  args.aggregates = reinterpret_cast<T*>(scratch + plan.aggregatesOffset);
  args.states = reinterpret_cast<T*>(scratch + plan.statesOffset);
  return args;
}

struct SequentialPlan {
  int64_t groupLanes = 1, groups = 1, blocks = 1;
  int threads = kWarpThreads;
  int64_t sharedBytes = 0;
};

// G lanes per block: up to 32 (a warp over consecutive lanes), fewer when the three k·G state
// buffers would not fit the default 48 KiB of shared memory.
template <typename T>
SequentialPlan planSequential(int64_t batch, int64_t k, int64_t lanes) {
  SequentialPlan plan;
  plan.groupLanes = lanes < kWarpThreads ? lanes : kWarpThreads;
  while (plan.groupLanes > 1 && 3 * k * plan.groupLanes * int64_t(sizeof(T)) > 48 * 1024) plan.groupLanes /= 2;
  plan.groups = (lanes + plan.groupLanes - 1) / plan.groupLanes;
  plan.blocks = batch * plan.groups;
  const int64_t pairs = k * plan.groupLanes;
  plan.threads = static_cast<int>(pairs >= kBlockThreads ? kBlockThreads : roundUpTo(pairs, kWarpThreads));
  plan.sharedBytes = 3 * k * plan.groupLanes * int64_t(sizeof(T));
  return plan;
}

// The generic kernel's arguments over a 256-byte zeroed status scratch (launcher and emulator alike).
template <typename T>
SequentialArgs<T> sequentialArgs(const ::parascan::LinearRecurrenceParams<T>& p, const SequentialPlan& plan, unsigned char* scratch) {
  SequentialArgs<T> args;
  args.jacobians = p.jacobians;
  args.rhs = p.rhs;
  args.initial = p.initial;
  args.out = p.out;
  args.length = p.length;
  args.blockSize = p.blockSize;
  args.lanes = p.lanes;
  args.groupLanes = plan.groupLanes;
  args.groups = plan.groups;
  args.reverse = p.direction == ::parascan::Direction::Reverse ? 1 : 0;
  args.control = reinterpret_cast<int32_t*>(scratch);
  return args;
}

}  // namespace parascan::cuda::kernels
