#include "base/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <thread>
#include <vector>

namespace loom {
namespace {

TEST(ThreadPoolTest, CoversRangeExactlyOnce) {
  for (int threads : {1, 2, 3, 8}) {
    ThreadPool pool(threads);
    EXPECT_EQ(pool.num_threads(), threads);
    for (size_t n : {0u, 1u, 2u, 7u, 100u, 1001u}) {
      std::vector<std::atomic<int>> hits(n);
      pool.ParallelFor(n, [&](size_t b, size_t e, int) {
        for (size_t i = b; i < e; ++i) hits[i]++;
      });
      for (size_t i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 1) << "n=" << n << " i=" << i;
    }
  }
}

TEST(ThreadPoolTest, ChunksAreBalancedAndIndexed) {
  ThreadPool pool(4);
  std::vector<size_t> sizes(4, 0);
  pool.ParallelFor(10, [&](size_t b, size_t e, int t) { sizes[static_cast<size_t>(t)] = e - b; });
  EXPECT_EQ(sizes, (std::vector<size_t>{3, 3, 2, 2}));
}

TEST(ThreadPoolTest, ManyCallsInARow) {
  ThreadPool pool(3);
  std::atomic<long> sum{0};
  for (int rep = 0; rep < 2000; ++rep) {
    pool.ParallelFor(5, [&](size_t b, size_t e, int) {
      for (size_t i = b; i < e; ++i) sum += static_cast<long>(i);
    });
  }
  EXPECT_EQ(sum.load(), 2000L * 10);
}

TEST(ThreadPoolTest, ConcurrentCallersAreSerialized) {
  ThreadPool pool(2);
  std::atomic<long> sum{0};
  std::vector<std::thread> callers;
  for (int c = 0; c < 4; ++c) {
    callers.emplace_back([&] {
      for (int rep = 0; rep < 200; ++rep) {
        pool.ParallelFor(8, [&](size_t b, size_t e, int) { sum += static_cast<long>(e - b); });
      }
    });
  }
  for (auto& t : callers) t.join();
  EXPECT_EQ(sum.load(), 4L * 200 * 8);
}

// An idle pool must sleep, not spin: its workers should use almost no CPU time.
TEST(ThreadPoolTest, IdlePoolBurnsNoCpu) {
  ThreadPool pool(4);
  pool.ParallelFor(4, [](size_t, size_t, int) {});
  std::clock_t start = std::clock();  // process CPU time, all threads
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  double cpu_s = static_cast<double>(std::clock() - start) / CLOCKS_PER_SEC;
  EXPECT_LT(cpu_s, 0.1) << "idle workers are busy-waiting";
}

}  // namespace
}  // namespace loom
