// The avx512 build of the CPU kernels (flags set per file in CMakeLists.txt).
#define PARASCAN_ISA_NAMESPACE isa_avx512
#include "kernels.h"

namespace parascan::cpu {

const IsaKernels kAvx512Kernels = {
    "avx512",
    {&isa_avx512::solveTile<float>, &isa_avx512::aggregateTile<float>},
    {&isa_avx512::solveTile<double>, &isa_avx512::aggregateTile<double>},
};

}  // namespace parascan::cpu
