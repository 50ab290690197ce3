#include "base/thread_pool.h"

#include <chrono>

namespace loom {
namespace {

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Spins until pred() holds or about `micros` have passed; true when pred() held.
template <typename Pred>
bool SpinFor(int micros, Pred pred) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::microseconds(micros);
  for (int i = 0;; ++i) {
    if (pred()) return true;
    CpuRelax();
    if ((i & 63) == 63 && std::chrono::steady_clock::now() > deadline) return pred();
  }
}

}  // namespace

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
    generation_.fetch_add(1, std::memory_order_release);
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
    // Fast path: the next call usually comes within microseconds of the last.
    SpinFor(kSpinMicros, [&] { return generation_.load(std::memory_order_acquire) != seen; });
    {
      std::unique_lock<std::mutex> lock(mu_);
      work_cv_.wait(lock, [&] { return stop_ || generation_.load() != seen; });
      if (stop_) return;
      seen = generation_.load();
      if (index >= num_chunks_) continue;  // this call needs fewer chunks than threads
    }
    RunChunk(index);
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard<std::mutex> lock(mu_);
      done_cv_.notify_one();
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
    pending_.store(chunks - 1, std::memory_order_relaxed);  // chunk 0 runs on this thread
    generation_.fetch_add(1, std::memory_order_release);
  }
  work_cv_.notify_all();
  RunChunk(0);
  if (!SpinFor(kSpinMicros, [&] { return pending_.load(std::memory_order_acquire) == 0; })) {
    std::unique_lock<std::mutex> lock(mu_);
    done_cv_.wait(lock, [&] { return pending_.load(std::memory_order_acquire) == 0; });
  }
  std::lock_guard<std::mutex> lock(mu_);
  fn_ = nullptr;
}

}  // namespace loom
