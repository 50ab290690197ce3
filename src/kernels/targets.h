// Which Highway SIMD targets this binary was compiled for and this CPU runs, and a way to force
// one (tests run every kernel on each; `loom bench kernels --target` compares them).
#ifndef LOOM_KERNELS_TARGETS_H_
#define LOOM_KERNELS_TARGETS_H_

#include <cstdint>
#include <string>
#include <vector>

namespace loom::kernels {

// Compiled and supported by this CPU, best first (e.g. AVX3, AVX2, SSE4, SCALAR).
std::vector<int64_t> AvailableTargets();
std::string TargetName(int64_t target);
// The target the dispatcher uses now.
int64_t CurrentTarget();

// While alive, every kernel dispatches to `target` (one of AvailableTargets()). Not thread-safe
// with concurrent kernel calls: for tests and benchmarks.
class ScopedTarget {
 public:
  explicit ScopedTarget(int64_t target);
  ~ScopedTarget();
  ScopedTarget(const ScopedTarget&) = delete;
  ScopedTarget& operator=(const ScopedTarget&) = delete;
};

}  // namespace loom::kernels

#endif  // LOOM_KERNELS_TARGETS_H_
