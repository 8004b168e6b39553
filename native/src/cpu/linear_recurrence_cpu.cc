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

// Lane tiles: at least one 64-byte cache line of lanes (false sharing and partial vectors
// otherwise) and at most 1024 lanes so a tile's carry stays in L1.
template <typename T>
int64_t laneTileWidth(int64_t lanes, int64_t blockSize, int64_t batch, int threads) {
  const int64_t line = 64 / static_cast<int64_t>(sizeof(T));
  const int64_t maxTile = std::max<int64_t>(line, 1024 / std::max<int64_t>(1, blockSize));
  // Enough tiles to give every thread ~2 of them when the batch alone cannot.
  const int64_t wantTiles = std::max<int64_t>(1, (2 * threads + batch - 1) / batch);
  int64_t width = (lanes + wantTiles - 1) / wantTiles;
  width = ((width + line - 1) / line) * line;
  return std::clamp<int64_t>(width, std::min(line, lanes), maxTile);
}

template <typename T>
int chooseSchedule(const LinearRecurrenceParams<T>& p, int threads) {
  if (p.schedule == kSequential || p.schedule == kLanes) return p.schedule;
  if (p.schedule == kChunked) return p.blockSize <= 4 && p.length >= 2 ? kChunked : kLanes;
  const int64_t k = p.blockSize, N = p.lanes, D = k * N;
  const int64_t work = p.batch * p.length * D * k;
  if (work < (int64_t{1} << 15)) return kSequential;
  const int64_t line = 64 / static_cast<int64_t>(sizeof(T));
  const int64_t chains = p.batch * N;
  if (chains >= static_cast<int64_t>(threads) * line) return kLanes;
  if (k <= 4 && p.length >= 1024) return kChunked;
  return threads > 1 && chains >= threads ? kLanes : kSequential;
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

template <typename T>
bool runChunked(const LinearRecurrenceParams<T>& p, const KernelTable<T>& kt, int threads) {
  const int64_t k = p.blockSize, N = p.lanes, D = k * N, Tn = p.length;
  // Interleave chunks when a row has too few lanes to keep the core busy on its own.
  const int interleave = (D <= 8) ? kMaxInterleave : 1;
  int64_t chunks;
  if (p.chunkLength > 0) {
    chunks = (Tn + p.chunkLength - 1) / p.chunkLength;
  } else {
    const int64_t perBatchTasks = std::max<int64_t>(1, (4 * threads + p.batch - 1) / p.batch);
    chunks = std::min<int64_t>(perBatchTasks * interleave, std::max<int64_t>(1, Tn / 256));
  }
  chunks = std::clamp<int64_t>(chunks, 1, Tn);
  const int64_t chunkLen = (Tn + chunks - 1) / chunks;
  chunks = (Tn + chunkLen - 1) / chunkLen;  // no empty trailing chunks
  const int64_t groups = (chunks + interleave - 1) / interleave;
  const bool reverse = p.direction == Direction::Reverse;

  const size_t perChunkA = static_cast<size_t>(k * D), perChunkE = static_cast<size_t>(D);
  std::vector<T> A(static_cast<size_t>(p.batch * chunks) * perChunkA);
  std::vector<T> e(static_cast<size_t>(p.batch * chunks) * perChunkE);
  std::vector<T> carryIn(static_cast<size_t>(p.batch * chunks) * perChunkE);
  auto spanOf = [&](int64_t c) { return ChunkSpan{c * chunkLen, std::min(Tn, (c + 1) * chunkLen)}; };

  // Phase 1: the affine map of every chunk except the one whose carry-out nobody needs.
  const int64_t skip = reverse ? 0 : chunks - 1;
  ThreadPool::instance().parallelFor(p.batch * groups, threads, [&](int64_t task) {
    const int64_t b = task / groups, g0 = (task % groups) * interleave;
    ChunkSpan spans[kMaxInterleave];
    T* As[kMaxInterleave];
    T* es[kMaxInterleave];
    int g = 0;
    for (int64_t c = g0; c < std::min(chunks, g0 + interleave); ++c) {
      if (c == skip) continue;
      spans[g] = spanOf(c);
      As[g] = A.data() + (b * chunks + c) * perChunkA;
      es[g] = e.data() + (b * chunks + c) * perChunkE;
      ++g;
    }
    if (g > 0) kt.aggregateTile(p, b, 0, N, spans, g, As, es);
  });

  // Phase 2: carries, chunk to chunk in solve order (cheap: B·C steps of a k×k map per lane).
  for (int64_t b = 0; b < p.batch; ++b) {
    std::vector<T> carry(static_cast<size_t>(D)), next(static_cast<size_t>(D));
    loadInitial(p, b, carry.data());
    for (int64_t s = 0; s < chunks; ++s) {
      const int64_t c = reverse ? chunks - 1 - s : s;
      std::copy(carry.begin(), carry.end(), carryIn.begin() + (b * chunks + c) * perChunkE);
      if (s == chunks - 1) break;
      const T* Ac = A.data() + (b * chunks + c) * perChunkA;
      const T* ec = e.data() + (b * chunks + c) * perChunkE;
      for (int64_t i = 0; i < k; ++i)
        for (int64_t n = 0; n < N; ++n) {
          T acc = ec[i * N + n];
          for (int64_t j = 0; j < k; ++j) acc += Ac[(i * k + j) * N + n] * carry[j * N + n];
          next[i * N + n] = acc;
        }
      carry.swap(next);
    }
  }

  // Phase 3: every chunk from its true carry.
  std::atomic<bool> ok{true};
  ThreadPool::instance().parallelFor(p.batch * groups, threads, [&](int64_t task) {
    const int64_t b = task / groups, g0 = (task % groups) * interleave;
    ChunkSpan spans[kMaxInterleave];
    T* carries[kMaxInterleave];
    int g = 0;
    for (int64_t c = g0; c < std::min(chunks, g0 + interleave); ++c) {
      spans[g] = spanOf(c);
      carries[g] = carryIn.data() + (b * chunks + c) * perChunkE;
      ++g;
    }
    if (!kt.solveTile(p, b, 0, N, spans, g, carries, nullptr)) ok.store(false);
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
