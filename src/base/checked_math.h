// Overflow-checked size arithmetic for every size derived from a file or a request.
// (CVE-2025-53630 and friends: an unchecked multiply becomes an undersized allocation.)
#ifndef LOOM_BASE_CHECKED_MATH_H_
#define LOOM_BASE_CHECKED_MATH_H_

#include <cstdint>
#include <optional>

namespace loom {

// Each returns std::nullopt on overflow.
inline std::optional<uint64_t> CheckedAdd(uint64_t a, uint64_t b) {
  uint64_t r;
  if (__builtin_add_overflow(a, b, &r)) return std::nullopt;
  return r;
}

inline std::optional<uint64_t> CheckedMul(uint64_t a, uint64_t b) {
  uint64_t r;
  if (__builtin_mul_overflow(a, b, &r)) return std::nullopt;
  return r;
}

inline std::optional<int64_t> CheckedMulSigned(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_mul_overflow(a, b, &r)) return std::nullopt;
  return r;
}

// Rounds `x` up to a multiple of `align` (a non-zero power of two) without wrapping.
inline std::optional<uint64_t> CheckedAlignUp(uint64_t x, uint64_t align) {
  if (align == 0 || (align & (align - 1)) != 0) return std::nullopt;
  auto bumped = CheckedAdd(x, align - 1);
  if (!bumped) return std::nullopt;
  return *bumped & ~(align - 1);
}

// Product of all dims; nullopt on overflow. Works for any range of uint64_t.
template <typename Range>
std::optional<uint64_t> CheckedProduct(const Range& dims) {
  uint64_t p = 1;
  for (auto d : dims) {
    auto next = CheckedMul(p, static_cast<uint64_t>(d));
    if (!next) return std::nullopt;
    p = *next;
  }
  return p;
}

inline bool IsPowerOfTwo(uint64_t x) { return x != 0 && (x & (x - 1)) == 0; }

}  // namespace loom

#endif  // LOOM_BASE_CHECKED_MATH_H_
