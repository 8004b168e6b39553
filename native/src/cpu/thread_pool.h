// A small persistent worker pool: parallelFor(tasks, threads, fn) runs fn(i) for i in [0, tasks)
// on up to `threads` threads, the caller being one of them. Calls from several threads at once
// (concurrent async solves) are serialised rather than oversubscribing the cores.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace parascan::cpu {

class ThreadPool {
 public:
  static ThreadPool& instance();

  int defaultThreads() const { return defaultThreads_.load(); }
  void setDefaultThreads(int threads);  // 0 restores hardware concurrency

  void parallelFor(int64_t tasks, int threads, const std::function<void(int64_t)>& fn);

  ~ThreadPool();

 private:
  ThreadPool();
  void ensureWorkers(int count);
  void workerLoop(int index);
  void runTasks();

  std::mutex jobMutex_;  // one parallel region at a time
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  std::vector<std::thread> workers_;
  std::atomic<int> defaultThreads_{1};

  // The current job (guarded by mutex_ for publication, counters atomic).
  const std::function<void(int64_t)>* job_ = nullptr;
  int64_t jobTasks_ = 0;
  int jobWorkers_ = 0;  // how many pool workers take part
  uint64_t generation_ = 0;
  std::atomic<int64_t> next_{0};
  int running_ = 0;
  bool stop_ = false;
};

}  // namespace parascan::cpu
