// parascan_gpu_check: correctness sweep and bandwidth benchmark of the CUDA backend, for a GPU
// machine without Node (run by native/tests/gpu/run-gpu-check.sh).
//
//   parascan_gpu_check test [--budget-seconds S]
//                                     sweep dtypes × directions × k × T × B × N × initial against a
//                                     sequential float64 CPU reference; one line per failure; ends
//                                     with "N passed, M failed"; exit 1 on any failure
//   parascan_gpu_check bench [--json] GB/s of bytes moved (read J and r, write out) for diagonal and
//                                     2×2-block float32 at B·T·N = 2^26, next to a device-to-device
//                                     cudaMemcpy and a triad kernel measured in the same run; then the
//                                     cells (cells_check.cu): fused Newton forward and backward of
//                                     ParaGRU / ParaLSTM next to the sequential cell kernel
//
// `test` also runs the cells' sweep (cells_check.cu) against float64 references.
//
// Without a usable device both print "no CUDA device: <reason>" and exit with code 2.
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "cells_check.h"
#include "linear_recurrence.cuh"
#include "parascan/cuda.h"
#include "reference.h"

namespace {

using parascan::Direction;
using parascan::LinearRecurrenceParams;
using parascan::SolveReport;
using parascan::Status;
namespace kernels = parascan::cuda::kernels;
namespace testing = parascan::testing;

const char* statusName(Status s) {
  switch (s) {
    case Status::Ok: return "Ok";
    case Status::NonFinite: return "NonFinite";
    case Status::InvalidArgument: return "InvalidArgument";
    case Status::DeviceError: return "DeviceError";
  }
  return "?";
}

// ---- device buffers owned by the test (for the device-pointer entry point) -----------------------

template <typename T>
class DeviceArray {
 public:
  DeviceArray() = default;
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;
  ~DeviceArray() {
    if (data_ != nullptr) cudaFree(data_);
  }
  bool allocate(size_t count) {
    count_ = count;
    return cudaMalloc(&data_, std::max<size_t>(count, 1) * sizeof(T)) == cudaSuccess;
  }
  bool upload(const std::vector<T>& host) {
    return cudaMemcpy(data_, host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice) == cudaSuccess;
  }
  bool download(std::vector<T>& host) const {
    host.resize(count_);
    return cudaMemcpy(host.data(), data_, count_ * sizeof(T), cudaMemcpyDeviceToHost) == cudaSuccess;
  }
  T* get() const { return data_; }

 private:
  T* data_ = nullptr;
  size_t count_ = 0;
};

// ---- test sweep ------------------------------------------------------------------------------------

struct Tally {
  int passed = 0, failed = 0, skipped = 0;
};

enum class Entry { Host, Device };

// Solves through the host or device entry point; `inPlace` makes out the rhs buffer.
template <typename T>
SolveReport solve(const testing::RecurrenceCase<T>& c, Entry entry, bool inPlace, cudaStream_t stream,
                  std::vector<T>& out) {
  SolveReport report;
  if (entry == Entry::Host) {
    out = inPlace ? c.rhs : std::vector<T>(c.rhs.size(), T(-12345));
    LinearRecurrenceParams<T> p = c.params(out.data());
    if (inPlace) p.rhs = out.data();
    return parascan::cuda::solveLinearRecurrenceHost(p);
  }
  DeviceArray<T> jac, rhs, initial, result;
  if (!jac.allocate(c.jacobians.size()) || !rhs.allocate(c.rhs.size()) || !initial.allocate(c.initial.size()) ||
      !result.allocate(c.rhs.size()) || !jac.upload(c.jacobians) || !rhs.upload(c.rhs) ||
      !initial.upload(c.initial) ||
      // A pageable cudaMemcpy may return before its DMA lands, and `stream` does not order itself
      // after the legacy stream: wait for the uploads.
      cudaDeviceSynchronize() != cudaSuccess) {
    report.status = Status::DeviceError;
    snprintf(report.message, sizeof(report.message), "test harness: device allocation/upload failed");
    return report;
  }
  LinearRecurrenceParams<T> p = c.params(nullptr);
  p.jacobians = jac.get();
  p.rhs = rhs.get();
  p.initial = c.shape.withInitial ? initial.get() : nullptr;
  p.out = inPlace ? rhs.get() : result.get();
  report = parascan::cuda::solveLinearRecurrenceDevice(p, stream);
  if (!(inPlace ? rhs : result).download(out)) {
    report.status = Status::DeviceError;
    snprintf(report.message, sizeof(report.message), "test harness: download failed");
  }
  return report;
}

template <typename T>
const char* typeName() {
  return sizeof(T) == 4 ? "f32" : "f64";
}

template <typename T>
void checkCase(const testing::CaseShape& shape, uint64_t seed, Entry entry, bool inPlace, cudaStream_t stream,
               Tally& tally) {
  const testing::RecurrenceCase<T> c = testing::makeCase<T>(shape, seed);
  const std::vector<double> ref = testing::solveReference(c);
  std::vector<T> out;
  const SolveReport report = solve(c, entry, inPlace, stream, out);
  char text[160];
  testing::describeShape(shape, text, sizeof(text));
  const char* how = entry == Entry::Host ? (inPlace ? "host in-place" : "host") : (inPlace ? "device in-place" : "device");
  if (report.status != Status::Ok) {
    printf("FAIL %s %s [%s, %s]: status %s: %s\n", typeName<T>(), text, how, report.schedule,
           statusName(report.status), report.message);
    ++tally.failed;
    return;
  }
  const testing::Comparison cmp = testing::compareToReference(out.data(), ref, shape.length);
  if (!cmp.ok) {
    char where[96];
    testing::describeIndex(shape, cmp.worstIndex, where, sizeof(where));
    printf("FAIL %s %s [%s, %s]: worst at %s got %.9g want %.9g (%.3gx the tolerance)\n", typeName<T>(), text, how,
           report.schedule, where, cmp.worstGot, cmp.worstRef, cmp.worstExcess);
    ++tally.failed;
    return;
  }
  ++tally.passed;
}

// Chunk and tile boundaries of the kernel that serves (k, N): one thread's C steps and one block's
// tile. The sequential kernel (k > 4) has none.
template <typename T>
void boundaryLengths(int64_t k, int64_t lanes, std::vector<int64_t>& lengths) {
  int64_t chunk = 0, tile = 0;
  switch (k) {
    case 1: chunk = kernels::singlePassStepsPerThread<T, 1>(); tile = kernels::planSinglePass<T, 1>(1, 1, lanes).tileSteps; break;
    case 2: chunk = kernels::singlePassStepsPerThread<T, 2>(); tile = kernels::planSinglePass<T, 2>(1, 1, lanes).tileSteps; break;
    case 3: chunk = kernels::singlePassStepsPerThread<T, 3>(); tile = kernels::planSinglePass<T, 3>(1, 1, lanes).tileSteps; break;
    case 4: chunk = kernels::singlePassStepsPerThread<T, 4>(); tile = kernels::planSinglePass<T, 4>(1, 1, lanes).tileSteps; break;
    default: return;
  }
  for (int64_t t : {chunk - 1, chunk, chunk + 1, tile - 1, tile, tile + 1, 2 * tile + 1})
    if (t >= 1) lengths.push_back(t);
}

// The sweep stops starting new cases after this long (they are counted as skipped, with a notice),
// so that the run always reaches its summary line; `test --budget-seconds S` changes it.
double gSweepBudgetSeconds = 150.0;
std::chrono::steady_clock::time_point gSweepStart;
bool sweepOutOfTime(Tally& tally) {
  static bool announced = false;
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - gSweepStart).count();
  if (elapsed <= gSweepBudgetSeconds) return false;
  if (!announced) {
    fprintf(stderr, "test: time budget of %.0f s reached, skipping the rest of the sweep\n", gSweepBudgetSeconds);
    announced = true;
  }
  ++tally.skipped;
  return true;
}

// Cases larger than this many Jacobian elements are skipped (CPU data generation and the reference
// loop dominate the run time; a long T is still covered by the smaller B·k·N).
constexpr int64_t kMaxJacobianElements = int64_t(1) << 24;

template <typename T>
void sweep(cudaStream_t stream, Tally& tally) {
  uint64_t seed = 0x5eed0000ull + sizeof(T);
  int64_t counter = 0;
  for (int reverse = 0; reverse < 2; ++reverse) {
    for (int64_t k : {1, 2, 3, 4, 5}) {
      for (int64_t lanes : {1, 5, 17, 33, 64}) {
        std::vector<int64_t> lengths = {1, 2, 3, 17, 1000, 65539};
        boundaryLengths<T>(k, lanes, lengths);
        std::sort(lengths.begin(), lengths.end());
        lengths.erase(std::unique(lengths.begin(), lengths.end()), lengths.end());
        for (int64_t batch : {1, 3}) {
          for (int withInitial = 0; withInitial < 2; ++withInitial) {
            for (int64_t length : lengths) {
              testing::CaseShape shape;
              shape.batch = batch;
              shape.length = length;
              shape.blockSize = k;
              shape.lanes = lanes;
              shape.reverse = reverse != 0;
              shape.withInitial = withInitial != 0;
              if (testing::jacobianCount(shape) > kMaxJacobianElements) {
                ++tally.skipped;
                continue;
              }
              if (sweepOutOfTime(tally)) continue;
              ++counter;
              // Mostly the host entry point; every third case through device pointers on a
              // non-default stream, every fifth in place.
              const Entry entry = counter % 3 == 0 ? Entry::Device : Entry::Host;
              checkCase<T>(shape, ++seed, entry, counter % 5 == 0, stream, tally);
            }
          }
        }
      }
    }
    // Dense Jacobians (N = 1): the generic kernel with k = 16.
    for (int64_t batch : {1, 3}) {
      for (int64_t length : {1, 17, 1000, 65539}) {
        testing::CaseShape shape;
        shape.batch = batch;
        shape.length = length;
        shape.blockSize = 16;
        shape.lanes = 1;
        shape.reverse = reverse != 0;
        shape.withInitial = (length + batch) % 2 == 0;
        if (testing::jacobianCount(shape) > kMaxJacobianElements) {
          ++tally.skipped;
          continue;
        }
        if (sweepOutOfTime(tally)) continue;
        checkCase<T>(shape, ++seed, length % 2 == 0 ? Entry::Device : Entry::Host, false, stream, tally);
      }
    }
  }
}

// A NaN in the input must come back as Status::NonFinite (every kernel, both entry points).
template <typename T>
void checkNonFinite(cudaStream_t stream, Tally& tally) {
  uint64_t seed = 0xbad0000ull + sizeof(T);
  for (int reverse = 0; reverse < 2; ++reverse) {
    for (int64_t k : {1, 2, 4, 5, 16}) {
      for (int64_t lanes : {1, 64}) {
        if (k == 16 && lanes != 1) continue;
        for (int where = 0; where < 2; ++where) {  // 0: NaN in rhs, 1: Inf in a Jacobian
          testing::CaseShape shape;
          shape.batch = 2;
          shape.length = 3001;
          shape.blockSize = k;
          shape.lanes = lanes;
          shape.reverse = reverse != 0;
          testing::RecurrenceCase<T> c = testing::makeCase<T>(shape, ++seed);
          if (where == 0) {
            c.rhs[c.rhs.size() / 3] = std::numeric_limits<T>::quiet_NaN();
          } else {
            // A diagonal entry of row T/2 of batch 1 (not J_0, which the reverse pass ignores).
            const size_t row = static_cast<size_t>(shape.length + shape.length / 2);
            c.jacobians[row * k * k * lanes] = std::numeric_limits<T>::infinity();
          }
          std::vector<T> out;
          const SolveReport report = solve(c, where == 0 ? Entry::Host : Entry::Device, false, stream, out);
          char text[160];
          testing::describeShape(shape, text, sizeof(text));
          if (report.status != Status::NonFinite) {
            printf("FAIL %s %s with a %s: expected NonFinite, got %s (%s) [%s]\n", typeName<T>(), text,
                   where == 0 ? "NaN in rhs" : "Inf in J", statusName(report.status), report.message, report.schedule);
            ++tally.failed;
          } else {
            ++tally.passed;
          }
        }
      }
    }
  }
  // The reverse recurrence never uses J_0: garbage there must not reach the output or the status.
  for (int64_t k : {1, 2, 5}) {
    for (int64_t lanes : {1, 64}) {
      testing::CaseShape shape;
      shape.batch = 2;
      shape.length = 5000;
      shape.blockSize = k;
      shape.lanes = lanes;
      shape.reverse = true;
      testing::RecurrenceCase<T> c = testing::makeCase<T>(shape, ++seed);
      const int64_t rowElements = k * k * lanes;
      for (int64_t b = 0; b < shape.batch; ++b)
        for (int64_t e = 0; e < rowElements; ++e)
          c.jacobians[static_cast<size_t>(b * shape.length * rowElements + e)] = std::numeric_limits<T>::quiet_NaN();
      const std::vector<double> ref = testing::solveReference(c);
      std::vector<T> out;
      const SolveReport report = solve(c, Entry::Host, false, stream, out);
      const testing::Comparison cmp = testing::compareToReference(out.data(), ref, shape.length);
      char text[160];
      testing::describeShape(shape, text, sizeof(text));
      if (report.status != Status::Ok || !cmp.ok) {
        printf("FAIL %s %s: NaN in the unused J_0 of a reverse solve leaked (status %s, %.3gx tolerance) [%s]\n",
               typeName<T>(), text, statusName(report.status), cmp.worstExcess, report.schedule);
        ++tally.failed;
      } else {
        ++tally.passed;
      }
    }
  }
}

void checkInvalidArguments(Tally& tally) {
  std::vector<float> data(64, 0.5f);
  LinearRecurrenceParams<float> p;
  p.batch = 1;
  p.length = 0;
  p.blockSize = 1;
  p.lanes = 1;
  p.jacobians = data.data();
  p.rhs = data.data();
  p.out = data.data();
  SolveReport r = parascan::cuda::solveLinearRecurrenceHost(p);
  if (r.status != Status::InvalidArgument) {
    printf("FAIL length 0: expected InvalidArgument, got %s (%s)\n", statusName(r.status), r.message);
    ++tally.failed;
  } else {
    ++tally.passed;
  }
  p.length = 4;
  r = parascan::cuda::solveLinearRecurrenceDevice(p, nullptr);  // host pointers to the device entry
  if (r.status != Status::InvalidArgument) {
    printf("FAIL host pointers given to solveLinearRecurrenceDevice: expected InvalidArgument, got %s (%s)\n",
           statusName(r.status), r.message);
    ++tally.failed;
  } else {
    ++tally.passed;
  }
}

int runTests() {
  cudaStream_t stream = nullptr;
  if (cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking) != cudaSuccess) {
    printf("FAIL cudaStreamCreate\n0 passed, 1 failed\n");
    return 1;
  }
  Tally tally;
  const auto start = std::chrono::steady_clock::now();
  gSweepStart = start;
  sweep<float>(stream, tally);
  sweep<double>(stream, tally);
  checkNonFinite<float>(stream, tally);
  checkNonFinite<double>(stream, tally);
  checkInvalidArguments(tally);
  parascan::gpucheck::runCellTests(tally.passed, tally.failed);  // ParaGRU / ParaLSTM (cells_check.cu)
  cudaStreamDestroy(stream);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  fprintf(stderr, "test: %.1f s, %d cases skipped (more than %lld Jacobian elements, or out of time)\n", seconds,
          tally.skipped, static_cast<long long>(kMaxJacobianElements));
  printf("%d passed, %d failed\n", tally.passed, tally.failed);
  return tally.failed == 0 ? 0 : 1;
}

// ---- benchmark ---------------------------------------------------------------------------------

__device__ __forceinline__ float hashUniform(uint64_t i, uint32_t salt) {
  uint64_t z = i * 0x9e3779b97f4a7c15ull + salt;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  return static_cast<float>(z >> 40) * (1.0f / 16777216.0f);
}

// Bounded data: |J| entries in [0.3, 0.7] / k keep every row and column sum below 1.
__global__ void fillBenchmarkData(float* jac, int64_t jacCount, float* rhs, int64_t rhsCount, float jacScale) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < jacCount; i += stride)
    jac[i] = (0.3f + 0.4f * hashUniform(i, 1)) * jacScale;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < rhsCount; i += stride)
    rhs[i] = hashUniform(i, 2) - 0.5f;
}

__global__ void triad(float* __restrict__ a, const float* __restrict__ b, const float* __restrict__ c, float s,
                      int64_t n) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += stride) a[i] = b[i] + s * c[i];
}

struct Timing {
  double medianMs = 0, minMs = 0;
  bool ok = true;
  std::string error;
};

// Median (and min) of `runs` timed calls after `warmups`, measured with events on `stream`.
template <typename F>
Timing timeIt(cudaStream_t stream, int warmups, int runs, F&& body) {
  Timing timing;
  cudaEvent_t begin, end;
  cudaEventCreate(&begin);
  cudaEventCreate(&end);
  std::vector<double> samples;
  for (int i = 0; i < warmups + runs && timing.ok; ++i) {
    cudaEventRecord(begin, stream);
    std::string error = body();
    cudaEventRecord(end, stream);
    cudaError_t e = cudaEventSynchronize(end);
    if (!error.empty() || e != cudaSuccess) {
      timing.ok = false;
      timing.error = error.empty() ? cudaGetErrorString(e) : error;
      break;
    }
    float ms = 0;
    cudaEventElapsedTime(&ms, begin, end);
    if (i >= warmups) samples.push_back(ms);
  }
  cudaEventDestroy(begin);
  cudaEventDestroy(end);
  if (timing.ok && !samples.empty()) {
    std::sort(samples.begin(), samples.end());
    timing.medianMs = samples[samples.size() / 2];
    timing.minMs = samples.front();
  }
  return timing;
}

struct BenchRow {
  std::string name, schedule;
  int64_t k = 1, batch = 1, length = 1, lanes = 1;
  bool reverse = false;
  double bytes = 0;
  Timing timing;
};

int runBench(bool json, const parascan::cuda::DeviceInfo& info) {
  cudaStream_t stream = nullptr;
  if (cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking) != cudaSuccess) {
    fprintf(stderr, "bench: cudaStreamCreate failed\n");
    return 1;
  }
  const int64_t elements = int64_t(1) << 26;  // B·T·N
  const int warmups = 2, runs = 9;
  const int64_t maxK = 2;
  float *jac = nullptr, *rhs = nullptr, *out = nullptr;
  const size_t jacBytes = size_t(elements) * maxK * maxK * sizeof(float);
  const size_t vecBytes = size_t(elements) * maxK * sizeof(float);
  if (cudaMalloc(&jac, jacBytes) != cudaSuccess || cudaMalloc(&rhs, vecBytes) != cudaSuccess ||
      cudaMalloc(&out, vecBytes) != cudaSuccess) {
    fprintf(stderr, "bench: cudaMalloc of %.1f GiB failed\n", double(jacBytes + 2 * vecBytes) / (1 << 30));
    return 1;
  }

  // Reference copies over the same traffic as the diagonal solve: read 2·E floats, write E floats.
  const double k1Bytes = 3.0 * double(elements) * sizeof(float);
  const size_t copyBytes = size_t(elements) * 2 * sizeof(float);  // read 2E, write 2E floats
  Timing memcpyTiming = timeIt(stream, warmups, runs, [&]() -> std::string {
    cudaError_t e = cudaMemcpyAsync(jac + copyBytes / sizeof(float), jac, copyBytes, cudaMemcpyDeviceToDevice, stream);
    return e == cudaSuccess ? "" : cudaGetErrorString(e);
  });
  const double memcpyGBps = memcpyTiming.ok ? 2.0 * double(copyBytes) / (memcpyTiming.medianMs * 1e6) : 0.0;
  int smCount = 0;
  cudaDeviceGetAttribute(&smCount, cudaDevAttrMultiProcessorCount, 0);
  Timing triadTiming = timeIt(stream, warmups, runs, [&]() -> std::string {
    triad<<<smCount * 8, 256, 0, stream>>>(out, jac, rhs, 0.5f, elements);
    cudaError_t e = cudaGetLastError();
    return e == cudaSuccess ? "" : cudaGetErrorString(e);
  });
  const double triadGBps = triadTiming.ok ? k1Bytes / (triadTiming.medianMs * 1e6) : 0.0;

  struct Shape {
    int64_t batch, length, lanes;
  };
  const Shape shapes[] = {{1, int64_t(1) << 26, 1}, {1, int64_t(1) << 22, 16}, {16, int64_t(1) << 16, 64}};
  std::vector<BenchRow> rows;
  for (int64_t k : {int64_t(1), int64_t(2)}) {
    fillBenchmarkData<<<smCount * 8, 256, 0, stream>>>(jac, elements * k * k, rhs, elements * k, 1.0f / float(k));
    cudaStreamSynchronize(stream);
    for (const Shape& s : shapes) {
      for (int reverse = 0; reverse < 2; ++reverse) {
        BenchRow row;
        row.k = k;
        row.batch = s.batch;
        row.length = s.length;
        row.lanes = s.lanes;
        row.reverse = reverse != 0;
        row.bytes = double(k * k + 2 * k) * double(elements) * sizeof(float);
        char name[128];
        snprintf(name, sizeof(name), "%s k=%lld B=%lld T=%lld N=%lld", reverse ? "reverse" : "forward",
                 static_cast<long long>(k), static_cast<long long>(s.batch), static_cast<long long>(s.length),
                 static_cast<long long>(s.lanes));
        row.name = name;
        LinearRecurrenceParams<float> p;
        p.direction = reverse ? Direction::Reverse : Direction::Forward;
        p.batch = s.batch;
        p.length = s.length;
        p.blockSize = k;
        p.lanes = s.lanes;
        p.jacobians = jac;
        p.rhs = rhs;
        p.out = out;
        row.timing = timeIt(stream, warmups, runs, [&]() -> std::string {
          const SolveReport r = parascan::cuda::solveLinearRecurrenceDevice(p, stream);
          row.schedule = r.schedule;
          if (r.status != Status::Ok) return std::string(statusName(r.status)) + ": " + r.message;
          return "";
        });
        rows.push_back(row);
      }
    }
  }
  cudaFree(jac);
  cudaFree(rhs);
  cudaFree(out);
  cudaStreamDestroy(stream);

  const std::vector<parascan::gpucheck::CellBenchRow> cellRows = parascan::gpucheck::runCellBench();
  bool allOk = memcpyTiming.ok && triadTiming.ok;
  for (const auto& r : cellRows) allOk = allOk && r.ok;
  if (json) {
    printf("{\n  \"device\": {\"name\": \"%s\", \"computeCapability\": \"%d.%d\", \"memoryBytes\": %zu, "
           "\"runtimeVersion\": %d, \"driverVersion\": %d},\n",
           info.name, info.major, info.minor, info.totalMemory, info.runtimeVersion, info.driverVersion);
    printf("  \"method\": \"median of %d runs after %d warm-ups, cudaEvent timing of one end-to-end "
           "solveLinearRecurrenceDevice call (scratch alloc, flag memset, kernel, status read-back); "
           "GB/s = bytes moved (read J and r, write out) / time\",\n",
           runs, warmups);
    printf("  \"memcpy\": {\"bytes\": %.0f, \"ms\": %.4f, \"GBps\": %.1f, \"ok\": %s},\n", 2.0 * double(copyBytes),
           memcpyTiming.medianMs, memcpyGBps, memcpyTiming.ok ? "true" : "false");
    printf("  \"triad\": {\"bytes\": %.0f, \"ms\": %.4f, \"GBps\": %.1f, \"ok\": %s},\n", k1Bytes,
           triadTiming.medianMs, triadGBps, triadTiming.ok ? "true" : "false");
    printf("  \"results\": [\n");
    for (size_t i = 0; i < rows.size(); ++i) {
      const BenchRow& r = rows[i];
      const double gbps = r.timing.ok ? r.bytes / (r.timing.medianMs * 1e6) : 0.0;
      printf("    {\"name\": \"%s\", \"k\": %lld, \"B\": %lld, \"T\": %lld, \"N\": %lld, \"reverse\": %s, "
             "\"schedule\": \"%s\", \"bytes\": %.0f, \"ms\": %.4f, \"minMs\": %.4f, \"GBps\": %.1f, "
             "\"vsMemcpy\": %.3f, \"vsTriad\": %.3f, \"ok\": %s%s%s%s}%s\n",
             r.name.c_str(), static_cast<long long>(r.k), static_cast<long long>(r.batch),
             static_cast<long long>(r.length), static_cast<long long>(r.lanes), r.reverse ? "true" : "false",
             r.schedule.c_str(), r.bytes, r.timing.medianMs, r.timing.minMs, gbps,
             memcpyGBps > 0 ? gbps / memcpyGBps : 0.0, triadGBps > 0 ? gbps / triadGBps : 0.0,
             r.timing.ok ? "true" : "false", r.timing.ok ? "" : ", \"error\": \"",
             r.timing.ok ? "" : r.timing.error.c_str(), r.timing.ok ? "" : "\"", i + 1 < rows.size() ? "," : "");
      allOk = allOk && r.timing.ok;
    }
    printf("  ],\n  \"cells\": %s\n}\n", parascan::gpucheck::cellBenchJson(cellRows).c_str());
  } else {
    printf("device: %s (sm_%d%d)\n", info.name, info.major, info.minor);
    printf("%-44s %10s %9s %8s %8s  %s\n", "case", "ms", "GB/s", "/memcpy", "/triad", "schedule");
    printf("%-44s %10.4f %9.1f\n", "cudaMemcpy device-to-device", memcpyTiming.medianMs, memcpyGBps);
    printf("%-44s %10.4f %9.1f\n", "triad a = b + s·c (float32, 2^26)", triadTiming.medianMs, triadGBps);
    for (const BenchRow& r : rows) {
      if (!r.timing.ok) {
        printf("%-44s FAILED: %s\n", r.name.c_str(), r.timing.error.c_str());
        allOk = false;
        continue;
      }
      const double gbps = r.bytes / (r.timing.medianMs * 1e6);
      printf("%-44s %10.4f %9.1f %8.3f %8.3f  %s\n", r.name.c_str(), r.timing.medianMs, gbps,
             memcpyGBps > 0 ? gbps / memcpyGBps : 0.0, triadGBps > 0 ? gbps / triadGBps : 0.0, r.schedule.c_str());
    }
    printf("%-52s %10s %10s %6s  %s\n", "cells (float32, device pointers)", "ms", "seq. ms", "iters", "schedule");
    for (const auto& r : cellRows)
      printf("%-52s %10.3f %10.3f %6d  %s%s\n", r.name.c_str(), r.ms, r.sequentialMs, r.iterations, r.schedule.c_str(),
             r.ok ? "" : (" FAILED: " + r.error).c_str());
  }
  return allOk ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const char* command = argc > 1 ? argv[1] : "";
  bool json = false, usage = std::strcmp(command, "test") != 0 && std::strcmp(command, "bench") != 0;
  for (int i = 2; i < argc && !usage; ++i) {
    if (std::strcmp(argv[i], "--json") == 0) {
      json = true;
    } else if (std::strcmp(argv[i], "--budget-seconds") == 0 && i + 1 < argc) {
      gSweepBudgetSeconds = std::atof(argv[++i]);
    } else {
      usage = true;
    }
  }
  if (usage) {
    fprintf(stderr, "usage: parascan_gpu_check test [--budget-seconds S] | bench [--json]\n");
    return 64;
  }
  const parascan::cuda::DeviceInfo info = parascan::cuda::queryDevices();
  if (info.deviceCount == 0) {
    printf("no CUDA device: %s\n", info.error);
    return 2;
  }
  fprintf(stderr, "device: %s (sm_%d%d, %.1f GiB), runtime %d, driver %d\n", info.name, info.major, info.minor,
          double(info.totalMemory) / (1 << 30), info.runtimeVersion, info.driverVersion);
  return std::strcmp(command, "test") == 0 ? runTests() : runBench(json, info);
}
