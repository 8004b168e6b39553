// The avx512 build of the cell kernels (flags set per file in CMakeLists.txt).
#define PARASCAN_CELL_ISA cells_avx512
#include "cell_kernels.h"

namespace parascan::cells {

const CellIsaKernels kCellAvx512Kernels = {"avx512", cells_avx512::table<float>(), cells_avx512::table<double>()};

}  // namespace parascan::cells
