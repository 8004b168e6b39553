// The avx2 build of the CPU kernels (flags set per file in CMakeLists.txt).
#define PARASCAN_ISA_NAMESPACE isa_avx2
#include "kernels.h"

namespace parascan::cpu {

const IsaKernels kAvx2Kernels = {
    "avx2",
    {&isa_avx2::solveTile<float>, &isa_avx2::aggregateTile<float>},
    {&isa_avx2::solveTile<double>, &isa_avx2::aggregateTile<double>},
};

}  // namespace parascan::cpu
