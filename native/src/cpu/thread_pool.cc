#include "thread_pool.h"

#include <algorithm>

namespace parascan::cpu {

namespace {
int hardwareThreads() {
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}
}  // namespace

ThreadPool& ThreadPool::instance() {
  // Never destroyed: at process exit a static destructor would join workers that may still be
  // serving an in-flight async solve, and hang the exit. The OS reclaims the threads.
  static ThreadPool* pool = new ThreadPool;
  return *pool;
}

ThreadPool::ThreadPool() { defaultThreads_.store(hardwareThreads()); }

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  for (auto& w : workers_)
    if (w.joinable()) w.join();
}

void ThreadPool::setDefaultThreads(int threads) { defaultThreads_.store(threads <= 0 ? hardwareThreads() : threads); }

void ThreadPool::ensureWorkers(int count) {
  // called with jobMutex_ held, so no job is running
  while (static_cast<int>(workers_.size()) < count) {
    const int index = static_cast<int>(workers_.size());
    workers_.emplace_back([this, index] { workerLoop(index); });
  }
}

void ThreadPool::runTasks() {
  for (;;) {
    const int64_t i = next_.fetch_add(1, std::memory_order_relaxed);
    if (i >= jobTasks_) break;
    (*job_)(i);
  }
}

void ThreadPool::workerLoop(int index) {
  uint64_t seen = 0;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return stop_ || (generation_ != seen && index < jobWorkers_); });
      if (stop_) return;
      seen = generation_;
    }
    runTasks();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (--running_ == 0) done_.notify_all();
    }
  }
}

void ThreadPool::parallelFor(int64_t tasks, int threads, const std::function<void(int64_t)>& fn) {
  if (tasks <= 0) return;
  if (threads <= 0) threads = defaultThreads();
  threads = static_cast<int>(std::min<int64_t>(threads, tasks));
  if (threads <= 1) {
    for (int64_t i = 0; i < tasks; ++i) fn(i);
    return;
  }
  std::lock_guard<std::mutex> jobLock(jobMutex_);
  const int helpers = threads - 1;
  ensureWorkers(helpers);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    job_ = &fn;
    jobTasks_ = tasks;
    jobWorkers_ = helpers;
    running_ = helpers;
    next_.store(0);
    ++generation_;
  }
  wake_.notify_all();
  runTasks();
  std::unique_lock<std::mutex> lock(mutex_);
  done_.wait(lock, [&] { return running_ == 0; });
  job_ = nullptr;
}

}  // namespace parascan::cpu
