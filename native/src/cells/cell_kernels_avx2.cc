// The avx2 build of the cell kernels (flags set per file in CMakeLists.txt).
#define PARASCAN_CELL_ISA cells_avx2
#include "cell_kernels.h"

namespace parascan::cells {

const CellIsaKernels kCellAvx2Kernels = {"avx2", cells_avx2::table<float>(), cells_avx2::table<double>()};

}  // namespace parascan::cells
