// A fixed-size thread pool for data-parallel loops (kernels split rows across it).
//
// A decode step calls ParallelFor hundreds of times with a few microseconds of serial work in
// between, and waking a sleeping thread costs tens of microseconds. So a worker that finishes
// spins briefly (kSpinMicros) for the next call before it blocks on a condition variable; an
// idle pool sleeps and burns no CPU. The calling thread takes part in every ParallelFor, so a
// pool of N threads has N-1 workers.
#ifndef LOOM_BASE_THREAD_POOL_H_
#define LOOM_BASE_THREAD_POOL_H_

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace loom {

class ThreadPool {
 public:
  // num_threads <= 0 means std::thread::hardware_concurrency().
  explicit ThreadPool(int num_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int num_threads() const { return static_cast<int>(workers_.size()) + 1; }

  // Calls fn(begin, end, thread_index) on disjoint chunks covering [0, n), at most
  // num_threads() chunks, and returns when all are done. Not reentrant: fn must not call
  // ParallelFor on the same pool. Calls from several threads are serialized.
  void ParallelFor(size_t n, const std::function<void(size_t, size_t, int)>& fn);

 private:
  static constexpr int kSpinMicros = 100;

  void WorkerLoop(int index);
  void RunChunk(int chunk);

  std::vector<std::thread> workers_;
  std::mutex call_mu_;  // serializes ParallelFor callers

  std::mutex mu_;
  std::condition_variable work_cv_;
  std::condition_variable done_cv_;
  const std::function<void(size_t, size_t, int)>* fn_ = nullptr;
  size_t n_ = 0;
  int num_chunks_ = 0;
  std::atomic<int> pending_{0};          // chunks not yet finished in the current call
  std::atomic<uint64_t> generation_{0};  // bumped once per ParallelFor call (under mu_)
  bool stop_ = false;
};

}  // namespace loom

#endif  // LOOM_BASE_THREAD_POOL_H_
