// This machine's ceilings, the yardsticks of `loom bench roofline` and `loom bench kernels`:
// sustained memory read bandwidth and f32 FMA peak, both with the best SIMD target and the
// threads of a pool.
#ifndef LOOM_KERNELS_ROOFLINE_H_
#define LOOM_KERNELS_ROOFLINE_H_

#include <cstddef>

#include "base/thread_pool.h"

namespace loom::kernels {

// Bytes per second read from a buffer of `bytes` (make it far larger than the last-level
// cache), split over the pool's threads; the best pass over at least `min_seconds`.
double MeasureReadBandwidth(ThreadPool* pool, size_t bytes, double min_seconds);

// f32 FLOP/s (an FMA counts 2) of register-only multiply-add chains on every pool thread; the
// best pass over at least `min_seconds`.
double MeasureFmaPeak(ThreadPool* pool, double min_seconds);

}  // namespace loom::kernels

#endif  // LOOM_KERNELS_ROOFLINE_H_
