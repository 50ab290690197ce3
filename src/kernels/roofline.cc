#include "kernels/roofline.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <vector>

#include "base/status.h"
#include "base/timing.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/roofline.cc"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

HWY_BEFORE_NAMESPACE();
namespace loom::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Sums n floats with four independent accumulators so the loads, not the adds, bound it.
float SumFloats(const float* HWY_RESTRICT p, size_t n) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  auto a0 = hn::Zero(d), a1 = hn::Zero(d), a2 = hn::Zero(d), a3 = hn::Zero(d);
  size_t i = 0;
  for (; i + 4 * N <= n; i += 4 * N) {
    a0 = hn::Add(a0, hn::LoadU(d, p + i));
    a1 = hn::Add(a1, hn::LoadU(d, p + i + N));
    a2 = hn::Add(a2, hn::LoadU(d, p + i + 2 * N));
    a3 = hn::Add(a3, hn::LoadU(d, p + i + 3 * N));
  }
  float s = hn::GetLane(hn::SumOfLanes(d, hn::Add(hn::Add(a0, a1), hn::Add(a2, a3))));
  for (; i < n; ++i) s += p[i];
  return s;
}

// `iters` rounds of 12 independent FMA chains: enough in flight to cover FMA latency (4-5
// cycles) on two FMA ports. Returns a value that depends on every chain so none is dropped.
float FmaChains(size_t iters, float seed) {
  const hn::ScalableTag<float> d;
  const auto m = hn::Set(d, 0.999999f);
  const auto c = hn::Set(d, 1e-7f);
  auto v0 = hn::Set(d, seed), v1 = hn::Set(d, seed + 1), v2 = hn::Set(d, seed + 2);
  auto v3 = hn::Set(d, seed + 3), v4 = hn::Set(d, seed + 4), v5 = hn::Set(d, seed + 5);
  auto v6 = hn::Set(d, seed + 6), v7 = hn::Set(d, seed + 7), v8 = hn::Set(d, seed + 8);
  auto v9 = hn::Set(d, seed + 9), v10 = hn::Set(d, seed + 10), v11 = hn::Set(d, seed + 11);
  for (size_t i = 0; i < iters; ++i) {
    v0 = hn::MulAdd(v0, m, c);
    v1 = hn::MulAdd(v1, m, c);
    v2 = hn::MulAdd(v2, m, c);
    v3 = hn::MulAdd(v3, m, c);
    v4 = hn::MulAdd(v4, m, c);
    v5 = hn::MulAdd(v5, m, c);
    v6 = hn::MulAdd(v6, m, c);
    v7 = hn::MulAdd(v7, m, c);
    v8 = hn::MulAdd(v8, m, c);
    v9 = hn::MulAdd(v9, m, c);
    v10 = hn::MulAdd(v10, m, c);
    v11 = hn::MulAdd(v11, m, c);
  }
  auto s =
      hn::Add(hn::Add(hn::Add(v0, v1), hn::Add(v2, v3)), hn::Add(hn::Add(v4, v5), hn::Add(v6, v7)));
  s = hn::Add(s, hn::Add(hn::Add(v8, v9), hn::Add(v10, v11)));
  return hn::GetLane(hn::SumOfLanes(d, s));
}

size_t FloatLanes() { return hn::Lanes(hn::ScalableTag<float>()); }

}  // namespace loom::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace loom::kernels {
HWY_EXPORT(SumFloats);
HWY_EXPORT(FmaChains);
HWY_EXPORT(FloatLanes);

namespace {
volatile float g_sink;  // keeps results alive
}  // namespace

double MeasureReadBandwidth(ThreadPool* pool, size_t bytes, double min_seconds) {
  const size_t n = std::max<size_t>(bytes / sizeof(float), 1024);
  std::vector<float> buf(n);
  // Each thread first-touches the part it will read, so pages land on its NUMA node.
  auto fill = [&](size_t b, size_t e, int) {
    for (size_t i = b; i < e; ++i) buf[i] = static_cast<float>(i & 1023);
  };
  if (pool) {
    pool->ParallelFor(n, fill);
  } else {
    fill(0, n, 0);
  }
  const int threads = pool ? pool->num_threads() : 1;
  std::vector<float> partial(static_cast<size_t>(threads));
  const double s = BestSeconds(min_seconds, [&] {
    auto sum = [&](size_t b, size_t e, int t) {
      partial[static_cast<size_t>(t)] = HWY_DYNAMIC_DISPATCH(SumFloats)(buf.data() + b, e - b);
    };
    if (pool) {
      pool->ParallelFor(n, sum);
    } else {
      sum(0, n, 0);
    }
    float total = 0;
    for (float p : partial) total += p;
    g_sink = total;
  });
  return static_cast<double>(n * sizeof(float)) / s;
}

double MeasureFmaPeak(ThreadPool* pool, double min_seconds) {
  const int threads = pool ? pool->num_threads() : 1;
  const size_t iters = size_t{1} << 24;
  const double s = BestSeconds(min_seconds, [&] {
    auto run = [&](size_t b, size_t e, int) {
      for (size_t i = b; i < e; ++i) {
        g_sink = HWY_DYNAMIC_DISPATCH(FmaChains)(iters, static_cast<float>(i));
      }
    };
    if (pool) {
      pool->ParallelFor(static_cast<size_t>(threads), run);
    } else {
      run(0, 1, 0);
    }
  });
  const double lanes = static_cast<double>(HWY_DYNAMIC_DISPATCH(FloatLanes)());
  return static_cast<double>(threads) * static_cast<double>(iters) * 12.0 * lanes * 2.0 / s;
}

}  // namespace loom::kernels
#endif  // HWY_ONCE
