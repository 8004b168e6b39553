// The double instantiation of the CUDA cell kernels (ParaGRU, ParaLSTM) and their entry points.
// One translation unit per element type, like linear_recurrence_f64.cu.
#include "cells_host.cuh"

PARASCAN_CUDA_CELLS_ENTRY_POINTS(double)
