// The handful of CUDA primitives the linear-recurrence kernels use, behind plain function names.
//
// Why a wrapper layer: the kernels in linear_recurrence.cuh are also compiled by g++ against a
// CPU emulation of exactly these functions (native/tests/gpu/emulator/), so their block/warp logic
// (tiling, shuffles, the decoupled look-back) runs on machines without a GPU. Everything a kernel
// touches that is not plain C++ goes through this namespace; nothing else may be used in them.
//
// When PARASCAN_CPU_EMULATION is defined the including file has already provided these functions
// (and the __global__ / __device__ macros) and this header contributes nothing.
#pragma once

#if !defined(PARASCAN_CPU_EMULATION)

#include <cstdint>
#include <cstring>

namespace parascan::cuda::device {

constexpr unsigned kFullWarp = 0xffffffffu;

__device__ __forceinline__ int threadIndex() { return static_cast<int>(threadIdx.x); }
__device__ __forceinline__ int blockThreads() { return static_cast<int>(blockDim.x); }
__device__ __forceinline__ int64_t blockIndex() { return static_cast<int64_t>(blockIdx.x); }

__device__ __forceinline__ void syncThreads() { __syncthreads(); }

// Dynamic shared memory of the launch (16-byte aligned, so doubles and int64 can live in it).
// All shared memory of the kernels is dynamic: the emulator gives every concurrently running block
// its own buffer, which it could not do for `static __shared__` arrays.
__device__ __forceinline__ unsigned char* dynamicSharedMemory() {
  extern __shared__ __align__(16) unsigned char parascanDynamicShared[];
  return parascanDynamicShared;
}

// Warp shuffles of any trivially copyable value (an AffineMap, a small vector), one 32-bit word at
// a time. A double costs two SHFL either way, so nothing is lost against the typed intrinsics.
// Every lane of the warp must call these (full mask).
template <typename V>
__device__ __forceinline__ V shuffleUp(const V& value, int delta) {
  static_assert(sizeof(V) % 4 == 0, "shuffled values must be made of 32-bit words");
  constexpr int kWords = static_cast<int>(sizeof(V) / 4);
  int words[kWords];
  memcpy(words, &value, sizeof(V));
#pragma unroll
  for (int w = 0; w < kWords; ++w) words[w] = __shfl_up_sync(kFullWarp, words[w], delta);
  V result;
  memcpy(&result, words, sizeof(V));
  return result;
}

template <typename V>
__device__ __forceinline__ V shuffleDown(const V& value, int delta) {
  static_assert(sizeof(V) % 4 == 0, "shuffled values must be made of 32-bit words");
  constexpr int kWords = static_cast<int>(sizeof(V) / 4);
  int words[kWords];
  memcpy(words, &value, sizeof(V));
#pragma unroll
  for (int w = 0; w < kWords; ++w) words[w] = __shfl_down_sync(kFullWarp, words[w], delta);
  V result;
  memcpy(&result, words, sizeof(V));
  return result;
}

__device__ __forceinline__ unsigned ballot(bool predicate) { return __ballot_sync(kFullWarp, predicate); }

// 1-based index of the lowest set bit, 0 when none (like ffs).
__device__ __forceinline__ int findFirstSet(unsigned bits) { return __ffs(static_cast<int>(bits)); }

// Release/acquire at GPU scope for the look-back flags: everything the publishing thread stored
// before the release is visible to a thread whose acquire load returns the flag.
__device__ __forceinline__ void storeRelease(int32_t* address, int32_t value) {
  asm volatile("st.release.gpu.global.b32 [%0], %1;" ::"l"(address), "r"(value) : "memory");
}

__device__ __forceinline__ int32_t loadAcquire(const int32_t* address) {
  int32_t value;
  asm volatile("ld.acquire.gpu.global.b32 %0, [%1];" : "=r"(value) : "l"(address) : "memory");
  return value;
}

__device__ __forceinline__ int32_t atomicAddInt(int32_t* address, int32_t value) {
  return atomicAdd(reinterpret_cast<int*>(address), static_cast<int>(value));
}

__device__ __forceinline__ void atomicOrInt(int32_t* address, int32_t value) {
  atomicOr(reinterpret_cast<int*>(address), static_cast<int>(value));
}

// Look-back payloads are written once and read by other blocks: keep them out of the
// (non-coherent) L1 and go through L2, where the other SMs look.
template <typename T>
__device__ __forceinline__ T loadFromL2(const T* address) {
  return __ldcg(address);
}

template <typename T>
__device__ __forceinline__ void storeToL2(T* address, T value) {
  __stcg(address, value);
}

__device__ __forceinline__ void backoff(unsigned nanoseconds) { __nanosleep(nanoseconds); }

template <typename T>
__device__ __forceinline__ bool isFiniteValue(T value) {
  return isfinite(value);
}

}  // namespace parascan::cuda::device

#endif  // !PARASCAN_CPU_EMULATION
