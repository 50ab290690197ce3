#include "base/thread_pool.h"

namespace loom {

ThreadPool::ThreadPool(int num_threads) {
  if (num_threads <= 0) {
    num_threads = static_cast<int>(std::thread::hardware_concurrency());
    if (num_threads <= 0) num_threads = 1;
  }
  for (int i = 1; i < num_threads; ++i) {
    workers_.emplace_back([this, i] { WorkerLoop(i); });
  }
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  work_cv_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::RunChunk(int chunk) {
  // Chunk boundaries: an even split, the first (n % chunks) chunks one larger.
  size_t base = n_ / static_cast<size_t>(num_chunks_);
  size_t extra = n_ % static_cast<size_t>(num_chunks_);
  size_t c = static_cast<size_t>(chunk);
  size_t begin = c * base + (c < extra ? c : extra);
  size_t end = begin + base + (c < extra ? 1 : 0);
  if (begin < end) (*fn_)(begin, end, chunk);
}

void ThreadPool::WorkerLoop(int index) {
  uint64_t seen = 0;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      work_cv_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      if (index >= num_chunks_) continue;  // this call needs fewer chunks than threads
    }
    RunChunk(index);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (--pending_ == 0) done_cv_.notify_one();
    }
  }
}

void ThreadPool::ParallelFor(size_t n, const std::function<void(size_t, size_t, int)>& fn) {
  if (n == 0) return;
  std::lock_guard<std::mutex> call_lock(call_mu_);
  int chunks = num_threads();
  if (static_cast<size_t>(chunks) > n) chunks = static_cast<int>(n);
  if (chunks == 1) {
    fn(0, n, 0);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    fn_ = &fn;
    n_ = n;
    num_chunks_ = chunks;
    pending_ = chunks - 1;  // chunk 0 runs on this thread
    ++generation_;
  }
  work_cv_.notify_all();
  RunChunk(0);
  std::unique_lock<std::mutex> lock(mu_);
  done_cv_.wait(lock, [&] { return pending_ == 0; });
  fn_ = nullptr;
}

}  // namespace loom
