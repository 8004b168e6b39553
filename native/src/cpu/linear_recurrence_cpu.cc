// CPU driver of the linear-recurrence solver: picks the instruction set at run time and a
// schedule per call, then hands tiles to the kernels (kernels.h).
//
// Schedules (LinearRecurrenceParams::schedule):
//   1 sequential  the substitution loop, one thread: the reference schedule and the baseline
//                 every benchmark compares with.
//   2 lanes       threads over (batch entry, lane tile); each tile walks all T steps. Reads J and
//                 r once and writes x once: the bandwidth-optimal choice when there are enough
//                 independent chains (B·N) to fill every thread with full vectors.
//   3 chunked     parallel in time, for few chains and long T (one sensor stream, B·N small):
//                   phase 1  each chunk's affine map (A, e) from the identity      (parallel)
//                   phase 2  carries chunk to chunk, x_in(c+1) = A_c x_in(c) + e_c (B·C tiny steps)
//                   phase 3  each chunk re-solved from its true carry, writing x    (parallel)
//                 It reads J and r twice, but chunks run in lockstep (kMaxInterleave) so a
//                 latency-bound single chain becomes 8 overlapping ones: faster even on one core.
// Automatic choice: tiny problems run sequentially (thread start-up costs more than the solve);
// the lanes schedule when B·N chains give every thread at least one full cache line of lanes;
// otherwise chunked when T is long enough and k <= 4 (phase 1 costs k³ per step), else lanes.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <numeric>
#include <thread>
#include <string>
#include <vector>

#include "kernel_table.h"
#include "parascan/cpu.h"
#include "thread_pool.h"

namespace parascan::cpu {

namespace {

// ---- instruction-set dispatch -----------------------------------------------------------

bool cpuSupports(const std::string& isa) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  if (isa == "baseline") return true;
  if (isa == "avx2") return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (isa == "avx512")
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx2") &&
           __builtin_cpu_supports("fma");
  return false;
#else
  return isa == "baseline";
#endif
}

const IsaKernels* kernelsByName(const std::string& isa) {
#if defined(PARASCAN_HAVE_X86_VARIANTS)
  if (isa == "avx512") return &kAvx512Kernels;
  if (isa == "avx2") return &kAvx2Kernels;
#endif
  if (isa == "baseline") return &kBaselineKernels;
  return nullptr;
}

std::vector<std::string> compiledIsas() {
#if defined(PARASCAN_HAVE_X86_VARIANTS)
  return {"avx512", "avx2", "baseline"};
#else
  return {"baseline"};
#endif
}

const IsaKernels* pickBestKernels() {
  // PARASCAN_CPU_ISA pins the choice (for reproducing a user's machine); unknown or unsupported
  // values fall back to the automatic choice.
  if (const char* forced = std::getenv("PARASCAN_CPU_ISA")) {
    const std::string isa(forced);
    if (cpuSupports(isa) && kernelsByName(isa)) return kernelsByName(isa);
  }
  for (const auto& isa : compiledIsas())
    if (cpuSupports(isa)) return kernelsByName(isa);
  return &kBaselineKernels;
}

std::atomic<const IsaKernels*>& activeKernels() {
  static std::atomic<const IsaKernels*> active{pickBestKernels()};
  return active;
}

template <typename T>
const KernelTable<T>& tableOf(const IsaKernels& k);
template <>
const KernelTable<float>& tableOf<float>(const IsaKernels& k) {
  return k.f32;
}
template <>
const KernelTable<double>& tableOf<double>(const IsaKernels& k) {
  return k.f64;
}

// ---- schedules ----------------------------------------------------------------------------

constexpr int kSequential = 1, kLanes = 2, kChunked = 3;

// Lane tiles: at least two 64-byte cache lines of lanes (the L2 prefetcher fetches lines in
// aligned pairs, so a narrower slice of each row wastes half the bandwidth: measured 2.4x slower
// than one thread walking whole rows) and at most 1024 lanes so a tile's carry stays in L1.
template <typename T>
int64_t laneTileWidth(int64_t lanes, int64_t blockSize, int64_t batch, int threads) {
  const int64_t pair = 128 / static_cast<int64_t>(sizeof(T));
  const int64_t maxTile = std::max<int64_t>(pair, 1024 / std::max<int64_t>(1, blockSize));
  // Whole rows when the batch alone gives every thread work; else split rows, never below a pair.
  const int64_t wantTiles = batch >= threads ? 1 : (threads + batch - 1) / batch;
  int64_t width = (lanes + wantTiles - 1) / wantTiles;
  width = ((width + pair - 1) / pair) * pair;
  return std::clamp<int64_t>(width, std::min(pair, lanes), maxTile);
}

// The automatic choice, from measurements on a 2-core EPYC (bench/README.md):
//  * tiny problems: sequential (waking threads costs more than the solve);
//  * a row narrower than 16 bytes (1-3 float lanes): the plain loop is latency-bound (one FMA
//    chain), the time-chunked schedule runs 8 chains in lockstep: chunked, ~2x faster;
//  * enough batch entries for every thread: lanes over whole rows (bandwidth-bound, one pass);
//  * few batch entries but rows of a cache line or more: chunked (parallel in time at one
//    memory pass, the blocks re-read from L2);
//  * a few diagonal lanes (rows of 16-32 bytes) and a second thread: chunked (a SIMD lockstep
//    kernel, ~2x the loop with 2 threads; alone it only matches the loop);
//  * otherwise (a few lanes of a few batch entries, or k > 4) the plain loop, which already
//    streams close to memory bandwidth for rows of 16-64 bytes.
template <typename T>
int chooseSchedule(const LinearRecurrenceParams<T>& p, int threads) {
  if (p.schedule == kSequential || p.schedule == kLanes) return p.schedule;
  if (p.schedule == kChunked) return p.blockSize <= 4 ? kChunked : kLanes;
  const int64_t k = p.blockSize, N = p.lanes, D = k * N;
  const int64_t work = p.batch * p.length * D * k;
  if (work < (int64_t{1} << 15)) return kSequential;
  const int64_t rowBytes = D * static_cast<int64_t>(sizeof(T));
  const bool chunkable = k <= 4 && p.length >= 4096;
  if (chunkable && rowBytes < 16) return kChunked;
  if (threads > 1 && p.batch >= threads) return kLanes;
  // Diagonal rows of 2-8 lanes have a SIMD lockstep kernel: in time, 2 threads ~2x the loop.
  if (chunkable && threads > 1 && k == 1 && rowBytes <= 32) return kChunked;
  if (chunkable && threads > 1 && rowBytes >= 64) return kChunked;
  if (threads > 1 && N * static_cast<int64_t>(sizeof(T)) >= 256) return kLanes;  // >= 2 tiles of a line pair
  return kSequential;
}

template <typename T>
void loadInitial(const LinearRecurrenceParams<T>& p, int64_t b, T* carry) {
  const int64_t D = p.blockSize * p.lanes;
  if (p.initial)
    std::memcpy(carry, p.initial + b * D, sizeof(T) * D);
  else
    std::fill(carry, carry + D, T(0));
}

template <typename T>
bool runSequential(const LinearRecurrenceParams<T>& p, const KernelTable<T>& kt) {
  const int64_t D = p.blockSize * p.lanes;
  std::vector<T> carry(D), tmp(D);
  bool ok = true;
  for (int64_t b = 0; b < p.batch; ++b) {
    loadInitial(p, b, carry.data());
    ChunkSpan all{0, p.length};
    T* c = carry.data();
    ok = kt.solveTile(p, b, 0, p.lanes, &all, 1, &c, tmp.data()) && ok;
  }
  return ok;
}

template <typename T>
bool runLanes(const LinearRecurrenceParams<T>& p, const KernelTable<T>& kt, int threads) {
  const int64_t D = p.blockSize * p.lanes;
  const int64_t width = laneTileWidth<T>(p.lanes, p.blockSize, p.batch, threads);
  const int64_t tilesPerBatch = (p.lanes + width - 1) / width;
  // Carries (and the runtime-k scratch) per batch entry; tiles own disjoint lanes of them.
  std::vector<T> carry(static_cast<size_t>(p.batch * D)), tmp(static_cast<size_t>(p.batch * D));
  std::atomic<bool> ok{true};
  ThreadPool::instance().parallelFor(p.batch * tilesPerBatch, threads, [&](int64_t task) {
    const int64_t b = task / tilesPerBatch, tile = task % tilesPerBatch;
    const int64_t n0 = tile * width, n1 = std::min(p.lanes, n0 + width);
    T* c = carry.data() + b * D;
    const int64_t k = p.blockSize, N = p.lanes;
    for (int64_t i = 0; i < k; ++i)
      for (int64_t n = n0; n < n1; ++n) c[i * N + n] = p.initial ? p.initial[b * D + i * N + n] : T(0);
    ChunkSpan all{0, p.length};
    if (!kt.solveTile(p, b, n0, n1, &all, 1, &c, tmp.data() + b * D)) ok.store(false);
  });
  return ok.load();
}

// Time-chunked, single pass. Time is cut into blocks small enough to stay in L2; blocks are
// claimed in order by whichever thread is free, and each block goes through
//   A  the affine maps (A_q, e_q) of its G sub-chunks, from the identity  (reads J, r from memory)
//   B  waits for the previous block's carry, derives each sub-chunk's carry-in and publishes the
//      block's carry-out at once, so the next block never waits for this block's solve
//   C  re-solves the G sub-chunks in lockstep from their carries            (reads J, r from L2)
// Memory traffic is one read and one write, as in the sequential loop, while the G sub-chunks
// give the core G independent chains in A and C. Blocks are claimed in increasing order, so the
// block whose carry everyone waits for is always already running: no deadlock with any number
// of threads, including one.
template <typename T>
bool runChunked(const LinearRecurrenceParams<T>& p, const KernelTable<T>& kt, int threads) {
  const int64_t k = p.blockSize, N = p.lanes, D = k * N, Tn = p.length;
  const bool reverse = p.direction == Direction::Reverse;
  const int G = (D <= 8) ? kMaxInterleave : 1;
  const int64_t rowBytes = static_cast<int64_t>(sizeof(T)) * (k * D + 2 * D);

  int64_t subLen;
  if (p.chunkLength > 0) {
    subLen = p.chunkLength;
  } else {
    // ~256 KiB of J, r and x per block (half of the smallest L2 this is tuned for), and at
    // least 64 rows per sub-chunk so the lockstep loop amortises its set-up.
    const int64_t blockRows = std::max<int64_t>(64 * G, (int64_t{256} << 10) / rowBytes);
    subLen = (blockRows + G - 1) / G;
    // Sub-chunks run in lockstep subLen rows apart. A distance that is a multiple of 4 KiB puts
    // all G streams in the same cache sets where they evict each other (measured 3-5x slower
    // than the sequential loop); an ODD number of cache lines spreads them over distinct sets.
    const int64_t xBytes = D * static_cast<int64_t>(sizeof(T));
    const int64_t unit = 64 / std::gcd<int64_t>(xBytes, 64);
    subLen = (subLen + unit - 1) / unit * unit;
    if ((subLen / unit) % 2 == 0) subLen += unit;
  }
  subLen = std::clamp<int64_t>(subLen, 1, Tn);
  const int64_t blockLen = subLen * G;
  const int64_t blocksPerBatch = (Tn + blockLen - 1) / blockLen;
  const int64_t totalBlocks = p.batch * blocksPerBatch;

  // Published carry-out of every block (full state [k][N]) and its ready flag.
  std::vector<T> carryOut(static_cast<size_t>(totalBlocks * D));
  std::unique_ptr<std::atomic<int32_t>[]> ready(new std::atomic<int32_t>[static_cast<size_t>(totalBlocks)]);
  for (int64_t i = 0; i < totalBlocks; ++i) ready[i].store(0, std::memory_order_relaxed);
  std::atomic<int64_t> nextBlock{0};
  std::atomic<bool> ok{true};

  const int workers = static_cast<int>(std::min<int64_t>(threads, totalBlocks));
  ThreadPool::instance().parallelFor(workers, workers, [&](int64_t) {
    std::vector<T> A(static_cast<size_t>(G * k * D)), e(static_cast<size_t>(G * D)), carries(static_cast<size_t>(G * D));
    std::vector<T> carry(static_cast<size_t>(D));
    T* As[kMaxInterleave];
    T* es[kMaxInterleave];
    T* cs[kMaxInterleave];
    ChunkSpan spans[kMaxInterleave];
    for (;;) {
      const int64_t id = nextBlock.fetch_add(1, std::memory_order_relaxed);
      if (id >= totalBlocks) break;
      const int64_t b = id / blocksPerBatch, order = id % blocksPerBatch;
      // Blocks are numbered in solve order; reverse solves walk time backwards.
      const int64_t blk = reverse ? blocksPerBatch - 1 - order : order;
      const int64_t t0 = blk * blockLen, t1 = std::min(Tn, t0 + blockLen);
      int g = 0;
      for (int q = 0; q < G; ++q) {
        const int64_t s0 = t0 + q * subLen, s1 = std::min(t1, s0 + subLen);
        if (s0 >= s1) break;
        spans[g] = ChunkSpan{s0, s1};
        As[g] = A.data() + g * k * D;
        es[g] = e.data() + g * D;
        cs[g] = carries.data() + g * D;
        ++g;
      }
      // A: sub-chunk maps (the one solved last in this block needs none if the block is last).
      if (g > 1 || order + 1 < blocksPerBatch) kt.aggregateTile(p, b, 0, N, spans, g, As, es);
      // B: carry-in of this block.
      if (order == 0) {
        loadInitial(p, b, carry.data());
      } else {
        std::atomic<int32_t>& flag = ready[id - 1];
        while (flag.load(std::memory_order_acquire) == 0) std::this_thread::yield();
        std::copy_n(carryOut.data() + (id - 1) * D, D, carry.data());
      }
      for (int s = 0; s < g; ++s) {
        const int q = reverse ? g - 1 - s : s;
        std::copy(carry.begin(), carry.end(), cs[q]);
        if (s + 1 == g && order + 1 == blocksPerBatch) break;
        // carry <- A_q carry + e_q (reading the copy in cs[q]); k <= 4 on this schedule
        for (int64_t i = 0; i < k; ++i)
          for (int64_t n = 0; n < N; ++n) {
            T acc = es[q][i * N + n];
            for (int64_t j = 0; j < k; ++j) acc += As[q][(i * k + j) * N + n] * cs[q][j * N + n];
            carry[i * N + n] = acc;
          }
      }
      if (order + 1 < blocksPerBatch) {
        std::copy(carry.begin(), carry.end(), carryOut.begin() + id * D);
        ready[id].store(1, std::memory_order_release);
      }
      // C: the block's rows from their true carries.
      if (!kt.solveTile(p, b, 0, N, spans, g, cs, nullptr)) ok.store(false, std::memory_order_relaxed);
    }
  });
  return ok.load();
}

bool checkParams(int64_t batch, int64_t length, int64_t blockSize, int64_t lanes, const void* jac, const void* rhs,
                 const void* out, SolveReport& report) {
  const char* problem = nullptr;
  if (batch < 1) problem = "batch must be >= 1";
  else if (length < 1) problem = "length must be >= 1";
  else if (blockSize < 1) problem = "blockSize must be >= 1";
  else if (lanes < 1) problem = "lanes must be >= 1";
  else if (!jac || !rhs || !out) problem = "jacobians, rhs and out must not be null";
  if (!problem) return true;
  report.status = Status::InvalidArgument;
  std::snprintf(report.message, sizeof(report.message), "solveLinearRecurrence (cpu): %s", problem);
  return false;
}

template <typename T>
SolveReport solveImpl(const LinearRecurrenceParams<T>& p) {
  SolveReport report;
  if (!checkParams(p.batch, p.length, p.blockSize, p.lanes, p.jacobians, p.rhs, p.out, report)) return report;
  const KernelTable<T>& kt = tableOf<T>(*activeKernels().load());
  const int threads = p.threads > 0 ? p.threads : ThreadPool::instance().defaultThreads();
  bool ok = true;
  switch (chooseSchedule(p, threads)) {
    case kSequential:
      report.schedule = "sequential";
      ok = runSequential(p, kt);
      break;
    case kLanes:
      report.schedule = "lanes";
      ok = runLanes(p, kt, threads);
      break;
    default:
      report.schedule = "chunked";
      ok = runChunked(p, kt, threads);
      // Phase 1 multiplies Jacobians over whole chunks; a product can overflow (or meet 0·Inf)
      // where the true solution stays finite. Before reporting non-finite, confirm with the
      // plain substitution, which is exact in evaluation order.
      if (!ok && p.rhs != p.out) {
        report.schedule = "chunked->lanes";
        ok = runLanes(p, kt, threads);
      }
      break;
  }
  if (!ok) {
    report.status = Status::NonFinite;
    std::snprintf(report.message, sizeof(report.message), "a NaN or Inf reached the output");
  }
  return report;
}

}  // namespace

SolveReport solveLinearRecurrence(const LinearRecurrenceParams<float>& p) { return solveImpl(p); }
SolveReport solveLinearRecurrence(const LinearRecurrenceParams<double>& p) { return solveImpl(p); }

std::string activeIsa() { return activeKernels().load()->name; }

std::vector<std::string> availableIsas() {
  std::vector<std::string> out;
  for (const auto& isa : compiledIsas())
    if (cpuSupports(isa)) out.push_back(isa);
  return out;
}

bool setIsa(const std::string& isa) {
  if (isa == "auto") {
    activeKernels().store(pickBestKernels());
    return true;
  }
  const IsaKernels* k = kernelsByName(isa);
  if (!k || !cpuSupports(isa)) return false;
  activeKernels().store(k);
  return true;
}

int threadCount() { return ThreadPool::instance().defaultThreads(); }
void setThreads(int threads) { ThreadPool::instance().setDefaultThreads(threads); }

}  // namespace parascan::cpu
