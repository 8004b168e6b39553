// The harness state shared by the C++ test executables (see testing.h).
#include <chrono>
#include <cstdlib>

#include "testing.h"

namespace parascan::testing {
Counter& counter() {
  static Counter c;
  return c;
}
uint64_t testSeed() {
  static uint64_t seed = [] {
    if (const char* s = std::getenv("PARASCAN_TEST_SEED")) return static_cast<uint64_t>(std::strtoull(s, nullptr, 10));
    return static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  }();
  return seed;
}
}  // namespace parascan::testing
