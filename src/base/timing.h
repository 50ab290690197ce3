// Timing: a monotonic clock, and for benchmarks the best of repeated passes, so one
// interruption by another process on a shared machine does not decide the figure.
#ifndef LOOM_BASE_TIMING_H_
#define LOOM_BASE_TIMING_H_

#include <algorithm>
#include <chrono>

namespace loom {

// Seconds on the monotonic clock (differences only).
inline double NowSeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Runs `pass` at least 3 times and for at least `min_seconds` in total; returns the fastest
// pass in seconds.
template <typename F>
double BestSeconds(double min_seconds, F&& pass) {
  double best = 1e300, total = 0;
  for (int i = 0; i < 3 || total < min_seconds; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    pass();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::min(best, s);
    total += s;
  }
  return best;
}

}  // namespace loom

#endif  // LOOM_BASE_TIMING_H_
