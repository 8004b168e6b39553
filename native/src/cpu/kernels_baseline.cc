// The baseline build of the CPU kernels (flags set per file in CMakeLists.txt).
#define PARASCAN_ISA_NAMESPACE isa_baseline
#include "kernels.h"

namespace parascan::cpu {

const IsaKernels kBaselineKernels = {
    "baseline",
    {&isa_baseline::solveTile<float>, &isa_baseline::aggregateTile<float>},
    {&isa_baseline::solveTile<double>, &isa_baseline::aggregateTile<double>},
};

}  // namespace parascan::cpu
