// The CPU solver tests: combine algebra, then every ISA × schedule × dtype × structure.
#include "testing.h"

void runCombineTests();
void runCpuSolverTests();

int main() {
  using namespace parascan::testing;
  std::printf("seed %llu (replay with PARASCAN_TEST_SEED)\n", static_cast<unsigned long long>(testSeed()));
  runCombineTests();
  runCpuSolverTests();
  std::printf("%d passed, %d failed\n", counter().passed, counter().failed);
  return counter().failed == 0 ? 0 : 1;
}
