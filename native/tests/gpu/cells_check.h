// The CUDA cell kernels' part of parascan_gpu_check (cells_check.cu): a correctness sweep against
// the float64 references of cells_reference.h, and a benchmark of the fused Newton forward and the
// backward pass next to the sequential kernel.
#pragma once

#include <string>
#include <vector>

namespace parascan::gpucheck {

// Adds its results to the counters; prints one line per failure.
void runCellTests(int& passed, int& failed);

struct CellBenchRow {
  std::string name, schedule;
  double ms = 0, sequentialMs = 0;  // median; the sequential kernel on the same problem
  int iterations = 0;
  double bytesPerIteration = 0;  // DRAM traffic of one Newton iteration (the model in cells_check.cu)
  bool ok = true;
  std::string error;
};

std::vector<CellBenchRow> runCellBench();

// JSON array of the rows (no trailing newline).
std::string cellBenchJson(const std::vector<CellBenchRow>& rows);

}  // namespace parascan::gpucheck
