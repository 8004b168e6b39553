// The float instantiation of the CUDA cell kernels (ParaGRU, ParaLSTM) and their entry points.
// One translation unit per element type, like linear_recurrence_f32.cu.
#include "cells_host.cuh"

PARASCAN_CUDA_CELLS_ENTRY_POINTS(float)
