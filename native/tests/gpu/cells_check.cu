// parascan_gpu_check's cell part (see cells_check.h): the CUDA ParaGRU / ParaLSTM kernels against
// the float64 references of cells_reference.h (sequential loop; f and Jacobians by dual numbers;
// backpropagation through time), through the host and device entry points of parascan/cuda.h.
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "cells_check.h"
#include "cells_reference.h"
#include "linear_recurrence.cuh"
#include "parascan/cuda.h"
#include "reference.h"

namespace parascan::gpucheck {
namespace {

using ::parascan::SolveReport;
using ::parascan::Status;
using ::parascan::cells::CellKind;
using ::parascan::cells::NewtonControls;
using ::parascan::cells::NewtonReport;
using ::parascan::cells::Termination;
namespace cellref = ::parascan::testing::cellref;
namespace testing = ::parascan::testing;
namespace kernels = ::parascan::cuda::kernels;

struct Counter {
  int& passed;
  int& failed;
  void expect(bool ok, const std::string& what) {
    if (ok) {
      ++passed;
    } else {
      ++failed;
      std::printf("FAIL cells %s\n", what.c_str());
    }
  }
};

template <typename T>
const char* typeName() {
  return sizeof(T) == 4 ? "f32" : "f64";
}

// got (any float type) vs ref with T's tolerance for `length` steps; fills `why` on failure.
template <typename T, typename E>
bool close(const E* got, const std::vector<double>& ref, int64_t length, std::string& why) {
  const std::vector<T> rounded(got, got + ref.size());
  const testing::Comparison cmp = testing::compareToReference(rounded.data(), ref, length);
  if (cmp.ok) return true;
  char text[160];
  std::snprintf(text, sizeof(text), " (worst at %lld: got %.9g want %.9g, %.3gx the tolerance)",
                static_cast<long long>(cmp.worstIndex), cmp.worstGot, cmp.worstRef, cmp.worstExcess);
  why = text;
  return false;
}

template <typename T>
NewtonControls defaultControls() {
  NewtonControls c;
  c.absTol = 4 * std::numeric_limits<T>::epsilon();
  c.maxIterations = 60;
  return c;
}

// Device copies of a host vector.
template <typename E>
struct DeviceCopy {
  E* data = nullptr;
  size_t count = 0;
  explicit DeviceCopy(const std::vector<E>& host) : count(host.size()) {
    if (cudaMalloc(&data, std::max<size_t>(count, 1) * sizeof(E)) != cudaSuccess) data = nullptr;
    if (data && count) cudaMemcpy(data, host.data(), count * sizeof(E), cudaMemcpyHostToDevice);
  }
  explicit DeviceCopy(size_t n) : count(n) {
    if (cudaMalloc(&data, std::max<size_t>(count, 1) * sizeof(E)) != cudaSuccess) data = nullptr;
  }
  ~DeviceCopy() {
    if (data) cudaFree(data);
  }
  std::vector<E> download() const {
    std::vector<E> host(count);
    if (data && count) cudaMemcpy(host.data(), data, count * sizeof(E), cudaMemcpyDeviceToHost);
    return host;
  }
  DeviceCopy(const DeviceCopy&) = delete;
  DeviceCopy& operator=(const DeviceCopy&) = delete;
};

template <typename T>
std::vector<double> toDouble(const std::vector<T>& v) {
  return std::vector<double>(v.begin(), v.end());
}

template <typename T>
void checkCellShape(CellKind kind, int64_t batch, int64_t length, int64_t size, bool withInitial, uint64_t seed, Counter& count) {
  const cellref::CellCase<T> c = cellref::makeCellCase<T>(kind, batch, length, size, withInitial, seed);
  const auto p = c.params();
  char text[128];
  std::snprintf(text, sizeof(text), "%s %s B=%lld T=%lld D=%lld%s", kind == CellKind::GRU ? "GRU" : "LSTM", typeName<T>(),
                static_cast<long long>(batch), static_cast<long long>(length), static_cast<long long>(size),
                withInitial ? " h0" : "");
  const std::string name = text;
  const std::vector<double> reference = cellref::sequentialStates(c);
  std::string why;

  std::vector<T> sequential(reference.size(), T(-7));
  const SolveReport s = parascan::cuda::cellSequentialHost(p, sequential.data());
  bool ok = s.status == Status::Ok && close<T>(sequential.data(), reference, length, why);
  count.expect(ok, name + ": sequential == float64 loop " + s.message + why);

  std::vector<T> fused(reference.size(), T(-7));
  const NewtonReport r = parascan::cuda::cellNewtonHost(p, defaultControls<T>(), fused.data());
  why.clear();
  ok = r.solve.status == Status::Ok && r.termination == Termination::Converged && close<T>(fused.data(), reference, length, why);
  count.expect(ok, name + ": fused Newton == float64 loop (" + std::to_string(r.iterations) + " iterations) " + r.solve.message + why);

  {  // the device entry point gives the host entry point's answer bit for bit
    DeviceCopy<T> P(c.projection), A(c.A), C(c.C), h0(c.initial), out(reference.size());
    auto q = p;
    q.projection = P.data;
    q.A = A.data;
    q.C = kind == CellKind::LSTM ? C.data : nullptr;
    q.initial = withInitial ? h0.data : nullptr;
    const NewtonReport d = parascan::cuda::cellNewtonDevice(q, defaultControls<T>(), out.data, nullptr);
    count.expect(d.solve.status == Status::Ok && out.download() == fused && d.iterations == r.iterations,
                 name + ": cellNewtonDevice == cellNewtonHost bit for bit " + d.solve.message);
  }

  {  // f and Jacobians at random states
    testing::Random random(seed ^ 0xabcdefull);
    std::vector<T> states(reference.size());
    for (auto& v : states) v = static_cast<T>(random.uniform(-0.9, 0.9));
    std::vector<double> f, jac;
    cellref::evaluateAt(c, toDouble(states), f, jac);
    std::vector<T> out(f.size(), T(-7)), jacobians(jac.size(), T(-7));
    const SolveReport e = parascan::cuda::cellEvaluateHost(p, states.data(), out.data(), jacobians.data());
    why.clear();
    ok = e.status == Status::Ok && close<T>(out.data(), f, 1, why);
    count.expect(ok, name + ": evaluate f " + e.message + why);
    why.clear();
    ok = close<T>(jacobians.data(), jac, 1, why);
    count.expect(ok, name + ": evaluate Jacobians == dual numbers" + why);
  }

  {  // backward at the fused solution; twice, to check that the parameter sums are deterministic
    testing::Random random(seed ^ 0x5151ull);
    std::vector<T> g(reference.size());
    for (auto& v : g) v = static_cast<T>(random.uniform(-1, 1));
    const cellref::Gradients want = cellref::backpropagate(c, toDouble(fused), toDouble(g));
    const int64_t D = size, S = c.width();
    std::vector<double> firstA;
    for (int run = 0; run < 2; ++run) {
      std::vector<T> lambda = g, dh0(static_cast<size_t>(batch * S), T(-7));
      std::vector<T> dP(static_cast<size_t>(batch * length * 3 * D), T(-7));
    std::vector<double> dA(static_cast<size_t>(3 * D), -7),
          dC(static_cast<size_t>(2 * D), -7);
      const SolveReport b = parascan::cuda::cellBackwardHost(p, fused.data(), lambda.data(), dP.data(), dA.data(),
                                                             kind == CellKind::LSTM ? dC.data() : nullptr, dh0.data());
      if (run == 1) {
        count.expect(b.status == Status::Ok && dA == firstA, name + ": backward dA is bit-identical on a second run");
        break;
      }
      firstA = dA;
      count.expect(b.status == Status::Ok, name + ": backward status ok " + b.message);
      auto part = [&](const char* what, auto* got, const std::vector<double>& ref, int64_t steps) {
        std::string reason;
        const bool good = close<T>(got, ref, steps, reason);
        count.expect(good, name + ": backward " + what + " == BPTT in float64" + reason);
      };
      part("lambda", lambda.data(), want.lambda, length);
      part("dP", dP.data(), want.dP, length);
      part("dA", dA.data(), want.dA, length * batch);
      if (kind == CellKind::LSTM) part("dC", dC.data(), want.dC, length * batch);
      part("dh0", dh0.data(), want.dh0, length);
    }
  }
}

template <typename T>
void checkCellErrors(Counter& count) {
  cellref::CellCase<T> c = cellref::makeCellCase<T>(CellKind::LSTM, 2, 300, 40, true, 99);
  std::vector<T> out(static_cast<size_t>(c.stateCount()));
  c.projection[c.projection.size() / 3] = std::numeric_limits<T>::quiet_NaN();
  const NewtonReport r = parascan::cuda::cellNewtonHost(c.params(), defaultControls<T>(), out.data());
  count.expect(r.termination == Termination::FallbackSequential && r.solve.status == Status::NonFinite,
               std::string(typeName<T>()) + ": a NaN in the projection falls back and is reported as NonFinite");
  auto p = c.params();
  p.length = 0;
  count.expect(parascan::cuda::cellSequentialHost(p, out.data()).status == Status::InvalidArgument,
               std::string(typeName<T>()) + ": length 0 is InvalidArgument");
  p.length = c.length;
  count.expect(parascan::cuda::cellNewtonDevice(p, defaultControls<T>(), out.data(), nullptr).solve.status ==
                   Status::InvalidArgument,
               std::string(typeName<T>()) + ": host pointers given to cellNewtonDevice are InvalidArgument");
}

template <typename T>
void sweepCells(Counter& count) {
  uint64_t seed = 0xce11c0de + sizeof(T);
  for (CellKind kind : {CellKind::GRU, CellKind::LSTM}) {
    const bool lstm = kind == CellKind::LSTM;
    for (int64_t size : {int64_t(5), int64_t(33), int64_t(256)}) {
      const int64_t tile = lstm ? kernels::planSinglePass<T, 2>(1, 1, size).tileSteps : kernels::planSinglePass<T, 1>(1, 1, size).tileSteps;
      for (int64_t length : {int64_t(1), int64_t(17), tile - 1, tile + 1, 3 * tile + 5, int64_t(4099)}) {
        const int64_t batch = size == 256 ? 2 : 3;
        if (batch * length * size > (int64_t(1) << 19)) continue;  // keeps the float64 references (one core) quick
        checkCellShape<T>(kind, batch, length, size, (length + size) % 2 == 1, ++seed, count);
      }
    }
  }
  checkCellErrors<T>(count);
}

// ---- benchmark ---------------------------------------------------------------------------------

template <typename Body>
double medianMs(int runs, Body body) {
  std::vector<double> samples;
  for (int i = 0; i < runs; ++i) {
    cudaDeviceSynchronize();
    const auto start = std::chrono::steady_clock::now();
    body();
    cudaDeviceSynchronize();
    samples.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(samples.begin(), samples.end());
  return samples[samples.size() / 2];
}

void benchCell(CellKind kind, int64_t batch, int64_t length, int64_t size, std::vector<CellBenchRow>& rows) {
  using T = float;
  const cellref::CellCase<T> c = cellref::makeCellCase<T>(kind, batch, length, size, false, 4242);
  const bool lstm = kind == CellKind::LSTM;
  const int64_t S = c.width(), n = c.stateCount();
  DeviceCopy<T> P(c.projection), A(c.A), C(c.C), h(static_cast<size_t>(n)), lambda(static_cast<size_t>(n)),
      dh0(static_cast<size_t>(batch * S));
  DeviceCopy<T> dP(static_cast<size_t>(batch * length * 3 * size));
  DeviceCopy<double> dA(static_cast<size_t>(3 * size)),
      dC(static_cast<size_t>(2 * size));
  auto p = c.params();
  p.projection = P.data;
  p.A = A.data;
  p.C = lstm ? C.data : nullptr;
  char text[128];
  std::snprintf(text, sizeof(text), "%s f32 B=%lld T=%lld D=%lld", lstm ? "LSTM" : "GRU", static_cast<long long>(batch),
                static_cast<long long>(length), static_cast<long long>(size));
  // Bytes per point (lane j of one (b, t)) of one Newton iteration, float32: evaluate reads P (3),
  // previous and current state (2k), writes r (k) and J (k²); the scan reads J and r, writes r;
  // the update reads h and r, writes h.
  const double k = lstm ? 2 : 1;
  const double perPoint = 4.0 * ((3 + 2 * k + k + k * k) + (k * k + 2 * k) + 3 * k);
  const double points = double(batch) * double(length) * double(size);
  const int runs = 5;

  CellBenchRow forward;
  forward.name = std::string(text) + " forward (fused Newton)";
  forward.bytesPerIteration = perPoint * points;
  SolveReport seq;
  forward.sequentialMs = medianMs(runs, [&] { seq = parascan::cuda::cellSequentialDevice(p, h.data, nullptr); });
  NewtonReport newton;
  forward.ms = medianMs(runs, [&] { newton = parascan::cuda::cellNewtonDevice(p, defaultControls<T>(), h.data, nullptr); });
  forward.iterations = newton.iterations;
  forward.schedule = newton.solve.schedule;
  forward.ok = seq.status == Status::Ok && newton.solve.status == Status::Ok;
  if (!forward.ok) forward.error = std::string(seq.message) + " " + newton.solve.message;
  rows.push_back(forward);

  CellBenchRow backward;
  backward.name = std::string(text) + " backward";
  backward.sequentialMs = forward.sequentialMs;
  SolveReport b;
  const DeviceCopy<T> g(std::vector<T>(static_cast<size_t>(n), T(0.01)));
  backward.ms = medianMs(runs, [&] {
    // λ is solved in place: restore g first (a device-to-device copy, inside the timing: ~1% of it).
    cudaMemcpyAsync(lambda.data, g.data, g.count * sizeof(T), cudaMemcpyDeviceToDevice, nullptr);
    b = parascan::cuda::cellBackwardDevice(p, h.data, lambda.data, dP.data, dA.data, lstm ? dC.data : nullptr, dh0.data, nullptr);
  });
  backward.schedule = b.schedule;
  backward.ok = b.status == Status::Ok;
  if (!backward.ok) backward.error = b.message;
  rows.push_back(backward);
}

}  // namespace

void runCellTests(int& passed, int& failed) {
  Counter count{passed, failed};
  for (CellKind kind : {CellKind::GRU, CellKind::LSTM}) {
    const double worst = cellref::checkReferenceGradients(kind, 77);
    count.expect(worst < 1e-6, "reference BPTT (dual numbers) == central differences");
  }
  const auto start = std::chrono::steady_clock::now();
  sweepCells<float>(count);
  sweepCells<double>(count);
  std::fprintf(stderr, "cells test: %.1f s\n", std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
}

std::vector<CellBenchRow> runCellBench() {
  std::vector<CellBenchRow> rows;
  benchCell(CellKind::GRU, 16, 4096, 256, rows);
  benchCell(CellKind::LSTM, 16, 4096, 256, rows);
  benchCell(CellKind::GRU, 1, 65536, 256, rows);
  return rows;
}

std::string cellBenchJson(const std::vector<CellBenchRow>& rows) {
  std::string json = "[\n";
  for (size_t i = 0; i < rows.size(); ++i) {
    const CellBenchRow& r = rows[i];
    char line[640];
    const double gbps = r.ms > 0 && r.iterations > 0 ? r.bytesPerIteration * r.iterations / (r.ms * 1e6) : 0.0;
    std::snprintf(line, sizeof(line),
                  "    {\"name\": \"%s\", \"schedule\": \"%s\", \"ms\": %.4f, \"sequentialKernelMs\": %.4f, "
                  "\"speedupVsSequentialKernel\": %.3f, \"iterations\": %d, \"modelGBps\": %.1f, \"ok\": %s%s%s%s}%s\n",
                  r.name.c_str(), r.schedule.c_str(), r.ms, r.sequentialMs, r.ms > 0 ? r.sequentialMs / r.ms : 0.0,
                  r.iterations, gbps, r.ok ? "true" : "false", r.ok ? "" : ", \"error\": \"", r.ok ? "" : r.error.c_str(),
                  r.ok ? "" : "\"", i + 1 < rows.size() ? "," : "");
    json += line;
  }
  json += "  ]";
  return json;
}

}  // namespace parascan::gpucheck
