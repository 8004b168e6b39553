// A CPU emulation of the few CUDA primitives the linear-recurrence kernels use
// (native/src/cuda/device_primitives.cuh), so that the very same kernel source runs under g++ on
// machines without a GPU.
//
// Model: every thread of a block is an OS thread; __syncthreads is a block barrier; a warp shuffle
// or ballot is an exchange through a per-warp buffer between two warp barriers (so every lane of
// the warp must take part, exactly the full-mask rule of the real intrinsics — a divergent shuffle
// deadlocks here instead of silently misbehaving). Several blocks run at once (like resident blocks
// on SMs), so the decoupled look-back really waits on, and reads from, blocks still in flight. Flags
// use std::atomic_ref release/acquire, the same ordering the kernels ask of the GPU.
//
// What it cannot show: performance, register pressure, the GPU's weaker memory ordering of plain
// accesses beyond what release/acquire promise, or compile errors of the CUDA path (nvcc checks those).
//
// Include this first, then linear_recurrence.cuh.
#pragma once

#define PARASCAN_CPU_EMULATION 1

#include <atomic>
#include <barrier>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)

namespace parascan::cuda::device {

constexpr int kEmulatedWarp = 32;
constexpr size_t kMaxShuffleBytes = 512;

struct EmulatedWarp {
  std::barrier<> barrier{kEmulatedWarp};
  alignas(16) unsigned char slots[kEmulatedWarp][kMaxShuffleBytes];
};

struct EmulatedBlock {
  EmulatedBlock(int threadCount, size_t sharedBytes, int64_t index)
      : threads(threadCount), blockIndex(index), barrier(threadCount), shared(sharedBytes / 16 + 1) {
    for (int w = 0; w < (threadCount + kEmulatedWarp - 1) / kEmulatedWarp; ++w)
      warps.push_back(std::make_unique<EmulatedWarp>());
  }
  int threads;
  int64_t blockIndex;
  std::barrier<> barrier;
  std::vector<std::unique_ptr<EmulatedWarp>> warps;
  struct alignas(16) Chunk {
    unsigned char bytes[16];
  };
  std::vector<Chunk> shared;
};

struct EmulatedThread {
  EmulatedBlock* block = nullptr;
  int thread = 0;
};

inline thread_local EmulatedThread currentThread;

// Counts of look-back flags seen by acquire loads, so a test can check that both the
// "aggregate" (1) and the "inclusive" (2) paths were exercised.
inline std::atomic<int64_t> emulatedFlagsSeen[3];

inline int threadIndex() { return currentThread.thread; }
inline int blockThreads() { return currentThread.block->threads; }
inline int64_t blockIndex() { return currentThread.block->blockIndex; }
inline void syncThreads() { currentThread.block->barrier.arrive_and_wait(); }
inline unsigned char* dynamicSharedMemory() {
  return reinterpret_cast<unsigned char*>(currentThread.block->shared.data());
}

inline EmulatedWarp& currentWarp() { return *currentThread.block->warps[currentThread.thread / kEmulatedWarp]; }

template <typename V>
V exchange(const V& value, int sourceLane) {
  static_assert(sizeof(V) <= kMaxShuffleBytes, "shuffled value too large for the emulator");
  EmulatedWarp& warp = currentWarp();
  const int lane = currentThread.thread % kEmulatedWarp;
  std::memcpy(warp.slots[lane], &value, sizeof(V));
  warp.barrier.arrive_and_wait();
  V result;
  std::memcpy(&result, warp.slots[sourceLane], sizeof(V));
  warp.barrier.arrive_and_wait();
  return result;
}

template <typename V>
V shuffleUp(const V& value, int delta) {
  const int lane = currentThread.thread % kEmulatedWarp;
  return exchange(value, lane - delta >= 0 ? lane - delta : lane);
}

template <typename V>
V shuffleDown(const V& value, int delta) {
  const int lane = currentThread.thread % kEmulatedWarp;
  return exchange(value, lane + delta < kEmulatedWarp ? lane + delta : lane);
}

inline unsigned ballot(bool predicate) {
  EmulatedWarp& warp = currentWarp();
  const int lane = currentThread.thread % kEmulatedWarp;
  warp.slots[lane][0] = predicate ? 1 : 0;
  warp.barrier.arrive_and_wait();
  unsigned bits = 0;
  for (int i = 0; i < kEmulatedWarp; ++i)
    if (warp.slots[i][0] != 0) bits |= 1u << i;
  warp.barrier.arrive_and_wait();
  return bits;
}

inline int findFirstSet(unsigned bits) { return __builtin_ffs(static_cast<int>(bits)); }

inline void storeRelease(int32_t* address, int32_t value) {
  std::atomic_ref<int32_t>(*address).store(value, std::memory_order_release);
}

inline int32_t loadAcquire(const int32_t* address) {
  const int32_t value = std::atomic_ref<int32_t>(*const_cast<int32_t*>(address)).load(std::memory_order_acquire);
  if (value >= 0 && value <= 2) emulatedFlagsSeen[value].fetch_add(1, std::memory_order_relaxed);
  return value;
}

inline int32_t atomicAddInt(int32_t* address, int32_t value) { return std::atomic_ref<int32_t>(*address).fetch_add(value); }
inline void atomicOrInt(int32_t* address, int32_t value) { std::atomic_ref<int32_t>(*address).fetch_or(value); }

template <typename T>
T loadFromL2(const T* address) {
  return *address;
}

template <typename T>
void storeToL2(T* address, T value) {
  *address = value;
}

inline void backoff(unsigned) { std::this_thread::yield(); }

template <typename T>
bool isFiniteValue(T value) {
  return std::isfinite(value);
}

// Runs `kernel(args)` over a 1-D grid, `concurrentBlocks` blocks at a time (each block a team of
// OS threads), picking blocks in index order like the hardware's block scheduler.
template <typename Kernel, typename Args>
void emulateLaunch(Kernel kernel, const Args& args, int64_t blocks, int threads, size_t sharedBytes,
                   int concurrentBlocks) {
  std::atomic<int64_t> nextBlock{0};
  auto runBlocks = [&] {
    for (;;) {
      const int64_t index = nextBlock.fetch_add(1);
      if (index >= blocks) return;
      EmulatedBlock block(threads, sharedBytes, index);
      std::vector<std::thread> team;
      team.reserve(static_cast<size_t>(threads));
      for (int t = 0; t < threads; ++t) {
        team.emplace_back([&block, &kernel, &args, t] {
          currentThread.block = &block;
          currentThread.thread = t;
          kernel(args);
        });
      }
      for (auto& thread : team) thread.join();
    }
  };
  std::vector<std::thread> schedulers;
  for (int s = 0; s < concurrentBlocks; ++s) schedulers.emplace_back(runBlocks);
  for (auto& scheduler : schedulers) scheduler.join();
}

}  // namespace parascan::cuda::device
