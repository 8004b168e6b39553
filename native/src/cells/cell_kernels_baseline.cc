// The baseline build of the cell kernels (flags set per file in CMakeLists.txt).
#define PARASCAN_CELL_ISA cells_baseline
#include "cell_kernels.h"

namespace parascan::cells {

const CellIsaKernels kCellBaselineKernels = {"baseline", cells_baseline::table<float>(), cells_baseline::table<double>()};

}  // namespace parascan::cells
