// Runs the CUDA kernels of native/src/cuda/linear_recurrence.cuh on the CPU through the emulation in
// emulated_device.h and compares them with the float64 reference. It checks the kernels' logic
// (tiling, staging, shuffles, the block scan, the decoupled look-back, reverse indexing, the
// non-finite flag) on machines without a GPU; performance and CUDA compilation are checked by
// parascan_gpu_check on a real GPU.
//
//   parascan_gpu_emulated_check [--quick]      prints "N passed, M failed", exit 1 on failure
#include "emulated_device.h"
//
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "emulated_scan.h"
#include "linear_recurrence.cuh"
#include "reference.h"

namespace {

using parascan::Direction;
using parascan::LinearRecurrenceParams;
namespace kernels = parascan::cuda::kernels;
namespace device = parascan::cuda::device;
namespace testing = parascan::testing;

using ::parascan::emulation::kConcurrentBlocks;
using ::parascan::emulation::runSinglePass;
using Scratch = ::parascan::emulation::Scratch;

template <typename T>
int32_t runSequential(const LinearRecurrenceParams<T>& p) {
  const kernels::SequentialPlan plan = kernels::planSequential<T>(p.batch, p.blockSize, p.lanes);
  Scratch scratch(256);
  const kernels::SequentialArgs<T> args = kernels::sequentialArgs(p, plan, scratch.bytes());
  device::emulateLaunch(kernels::linearRecurrenceSequentialKernel<T>, args, plan.blocks, plan.threads,
                        static_cast<size_t>(plan.sharedBytes), kConcurrentBlocks);
  return args.control[1];
}

template <typename T>
int32_t runEmulated(const LinearRecurrenceParams<T>& p) {
  switch (p.blockSize) {
    case 1: return runSinglePass<T, 1>(p);
    case 2: return runSinglePass<T, 2>(p);
    case 3: return runSinglePass<T, 3>(p);
    case 4: return runSinglePass<T, 4>(p);
    default: return runSequential<T>(p);
  }
}

template <typename T>
int64_t tileSteps(int64_t k, int64_t lanes) {
  switch (k) {
    case 1: return kernels::planSinglePass<T, 1>(1, 1, lanes).tileSteps;
    case 2: return kernels::planSinglePass<T, 2>(1, 1, lanes).tileSteps;
    case 3: return kernels::planSinglePass<T, 3>(1, 1, lanes).tileSteps;
    case 4: return kernels::planSinglePass<T, 4>(1, 1, lanes).tileSteps;
    default: return 1;
  }
}

struct Tally {
  int passed = 0, failed = 0;
};

template <typename T>
void checkCase(const testing::CaseShape& shape, uint64_t seed, Tally& tally, bool inPlace = false) {
  const testing::RecurrenceCase<T> c = testing::makeCase<T>(shape, seed);
  const std::vector<double> ref = testing::solveReference(c);
  std::vector<T> out(c.rhs.size(), T(-12345));
  std::vector<T> rhsCopy = c.rhs;
  LinearRecurrenceParams<T> p = c.params(out.data());
  if (inPlace) {
    p.rhs = rhsCopy.data();
    p.out = rhsCopy.data();
  }
  const int32_t status = runEmulated(p);
  const T* result = inPlace ? rhsCopy.data() : out.data();
  const testing::Comparison cmp = testing::compareToReference(result, ref, shape.length);
  char text[160];
  testing::describeShape(shape, text, sizeof(text));
  const char* type = sizeof(T) == 4 ? "f32" : "f64";
  if (status != 0 || !cmp.ok) {
    char where[96];
    testing::describeIndex(shape, cmp.worstIndex, where, sizeof(where));
    printf("FAIL %s %s%s: status %d, worst [%s] got %.9g want %.9g (%.2fx tolerance)\n", type, text,
           inPlace ? " in-place" : "", status, where, cmp.worstGot, cmp.worstRef, cmp.worstExcess);
    ++tally.failed;
  } else {
    ++tally.passed;
  }
}

template <typename T>
void checkNonFinite(const testing::CaseShape& shape, uint64_t seed, Tally& tally) {
  testing::RecurrenceCase<T> c = testing::makeCase<T>(shape, seed);
  c.rhs[c.rhs.size() / 2] = std::numeric_limits<T>::quiet_NaN();
  std::vector<T> out(c.rhs.size());
  const int32_t status = runEmulated(c.params(out.data()));
  char text[160];
  testing::describeShape(shape, text, sizeof(text));
  if ((status & kernels::kStatusNonFinite) == 0) {
    printf("FAIL %s NaN in rhs not reported (status %d): %s\n", sizeof(T) == 4 ? "f32" : "f64", status, text);
    ++tally.failed;
  } else {
    ++tally.passed;
  }
}

// Reverse never uses J_0: a NaN there must not reach the output.
template <typename T>
void checkUnusedFirstJacobian(const testing::CaseShape& shape, uint64_t seed, Tally& tally) {
  testing::RecurrenceCase<T> c = testing::makeCase<T>(shape, seed);
  const int64_t rowElements = shape.blockSize * shape.blockSize * shape.lanes;
  for (int64_t b = 0; b < shape.batch; ++b)
    for (int64_t e = 0; e < rowElements; ++e)
      c.jacobians[static_cast<size_t>(b * shape.length * rowElements + e)] = std::numeric_limits<T>::quiet_NaN();
  const std::vector<double> ref = testing::solveReference(c);
  std::vector<T> out(c.rhs.size());
  const int32_t status = runEmulated(c.params(out.data()));
  const testing::Comparison cmp = testing::compareToReference(out.data(), ref, shape.length);
  char text[160];
  testing::describeShape(shape, text, sizeof(text));
  if (status != 0 || !cmp.ok) {
    printf("FAIL %s NaN in the unused J_0 of a reverse solve changed the result (status %d): %s\n",
           sizeof(T) == 4 ? "f32" : "f64", status, text);
    ++tally.failed;
  } else {
    ++tally.passed;
  }
}

template <typename T>
void runSuite(bool quick, Tally& tally) {
  uint64_t seed = sizeof(T) * 1000;
  for (int reverse = 0; reverse < 2; ++reverse) {
    for (int64_t k = 1; k <= 4; ++k) {
      // (lanes, tiles per chain, batch): staged L = 1, 8, 32; lane-major with 1, 2 and 3 lane tiles.
      struct Shape {
        int64_t lanes, tiles, extra, batch;
      };
      const Shape shapes[] = {{1, 3, 5, 2}, {5, 2, -1, 1}, {17, 1, 1, 1}, {32, 3, 0, 1}, {33, 4, 3, 2}, {70, 9, -2, 1}};
      for (const Shape& s : shapes) {
        if (quick && (s.lanes == 17 || s.lanes == 70)) continue;
        const int64_t tt = tileSteps<T>(k, s.lanes);
        testing::CaseShape shape;
        shape.batch = s.batch;
        shape.length = tt * s.tiles + s.extra;
        shape.blockSize = k;
        shape.lanes = s.lanes;
        shape.reverse = reverse != 0;
        shape.withInitial = (s.lanes + k) % 2 == 0;
        checkCase<T>(shape, ++seed, tally);
      }
      // Tiny lengths: fewer steps than one thread's chunk, and a single step.
      for (int64_t length : {int64_t(1), int64_t(2), int64_t(kernels::singlePassStepsPerThread<T, 1>() + 1)}) {
        testing::CaseShape shape;
        shape.batch = 2;
        shape.length = length;
        shape.blockSize = k;
        shape.lanes = 3;
        shape.reverse = reverse != 0;
        shape.withInitial = true;
        checkCase<T>(shape, ++seed, tally);
      }
    }
    // Generic kernel: k = 5 with 1, 5 and 40 lanes (two lane groups), dense k = 16.
    for (int64_t lanes : {int64_t(1), int64_t(5), int64_t(40)}) {
      testing::CaseShape shape;
      shape.batch = 2;
      shape.length = 37;
      shape.blockSize = 5;
      shape.lanes = lanes;
      shape.reverse = reverse != 0;
      shape.withInitial = lanes != 5;
      checkCase<T>(shape, ++seed, tally);
    }
    {
      testing::CaseShape shape;
      shape.length = 23;
      shape.blockSize = 16;
      shape.reverse = reverse != 0;
      shape.withInitial = true;
      checkCase<T>(shape, ++seed, tally);
    }
    // In place, non-finite detection, unused J_0.
    for (int64_t k : {int64_t(1), int64_t(2), int64_t(5)}) {
      for (int64_t lanes : {int64_t(1), int64_t(40)}) {
        testing::CaseShape shape;
        shape.batch = 1;
        shape.length = k == 5 ? 20 : 2 * tileSteps<T>(k, lanes) + 3;
        shape.blockSize = k;
        shape.lanes = lanes;
        shape.reverse = reverse != 0;
        checkCase<T>(shape, ++seed, tally, /*inPlace=*/true);
        checkNonFinite<T>(shape, ++seed, tally);
        if (reverse) checkUnusedFirstJacobian<T>(shape, ++seed, tally);
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  Tally tally;
  runSuite<float>(quick, tally);
  runSuite<double>(quick, tally);
  const int64_t aggregatesSeen = device::emulatedFlagsSeen[1].load();
  const int64_t inclusiveSeen = device::emulatedFlagsSeen[2].load();
  printf("look-back flags observed: %lld aggregate, %lld inclusive\n", static_cast<long long>(aggregatesSeen),
         static_cast<long long>(inclusiveSeen));
  if (aggregatesSeen == 0 || inclusiveSeen == 0) {
    printf("FAIL the emulation did not exercise both look-back paths\n");
    ++tally.failed;
  }
  printf("%d passed, %d failed\n", tally.passed, tally.failed);
  return tally.failed == 0 ? 0 : 1;
}
