#include "tensor/fp16.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>

namespace loom::tensor {
namespace {

bool IsHalfNan(uint16_t h) { return (h & 0x7c00) == 0x7c00 && (h & 0x3ff) != 0; }

// The value of a half computed independently: (-1)^s * 2^(e-15) * (1 + m/1024), or m * 2^-24.
double HalfValue(uint16_t h) {
  const int e = (h >> 10) & 0x1f, m = h & 0x3ff;
  const double sign = (h & 0x8000) ? -1.0 : 1.0;
  if (e == 0) return sign * std::ldexp(m, -24);
  if (e == 31) return m == 0 ? sign * INFINITY : NAN;
  return sign * std::ldexp(1024 + m, e - 25);
}

// Every half converts exactly to float and back to the same bits (NaNs stay NaN, sign kept).
TEST(Fp16Test, AllHalvesRoundTrip) {
  for (uint32_t i = 0; i < 65536; ++i) {
    const uint16_t h = static_cast<uint16_t>(i);
    const float f = F16ToF32(h);
    if (IsHalfNan(h)) {
      ASSERT_TRUE(std::isnan(f)) << i;
      const uint16_t back = F32ToF16(f);
      ASSERT_TRUE(IsHalfNan(back)) << i;
      ASSERT_EQ(back & 0x8000, h & 0x8000) << i;
      continue;
    }
    ASSERT_EQ(static_cast<double>(f), HalfValue(h)) << i;
    ASSERT_EQ(std::signbit(f), (h & 0x8000) != 0) << i;
    ASSERT_EQ(F32ToF16(f), h) << i;
  }
}

// Between each pair of adjacent finite halves: the midpoint rounds to the even one, anything
// below or above it to the nearer one.
TEST(Fp16Test, RoundsToNearestEven) {
  for (uint32_t i = 0; i < 0x7bff; ++i) {  // positive finite halves with a finite successor
    const uint16_t lo = static_cast<uint16_t>(i), hi = static_cast<uint16_t>(i + 1);
    const float a = F16ToF32(lo), b = F16ToF32(hi);
    const float mid = static_cast<float>((static_cast<double>(a) + b) / 2);  // exact in float
    const uint16_t even = (lo & 1) ? hi : lo;
    ASSERT_EQ(F32ToF16(mid), even) << i;
    ASSERT_EQ(F32ToF16(std::nextafter(mid, 0.0f)), lo) << i;
    ASSERT_EQ(F32ToF16(std::nextafter(mid, INFINITY)), hi) << i;
    ASSERT_EQ(F32ToF16(-mid), even | 0x8000) << i;
    ASSERT_EQ(F32ToF16(-std::nextafter(mid, INFINITY)), hi | 0x8000) << i;
  }
}

TEST(Fp16Test, EdgeCases) {
  EXPECT_EQ(F32ToF16(0.0f), 0x0000);
  EXPECT_EQ(F32ToF16(-0.0f), 0x8000);
  EXPECT_EQ(F32ToF16(1.0f), 0x3c00);
  EXPECT_EQ(F32ToF16(65504.0f), 0x7bff);  // largest half
  // Overflow: 65520 is the midpoint between 65504 and the (virtual) 65536: ties to even = inf.
  EXPECT_EQ(F32ToF16(65519.996f), 0x7bff);
  EXPECT_EQ(F32ToF16(65520.0f), 0x7c00);
  EXPECT_EQ(F32ToF16(1e10f), 0x7c00);
  EXPECT_EQ(F32ToF16(-1e10f), 0xfc00);
  EXPECT_EQ(F32ToF16(INFINITY), 0x7c00);
  EXPECT_EQ(F32ToF16(-INFINITY), 0xfc00);
  EXPECT_EQ(F32ToF16(3.4e38f), 0x7c00);
  // Subnormals: 2^-24 is the smallest; half of it ties to even (0), just above rounds up.
  EXPECT_EQ(F32ToF16(std::ldexp(1.0f, -24)), 0x0001);
  EXPECT_EQ(F32ToF16(std::ldexp(1.0f, -25)), 0x0000);
  EXPECT_EQ(F32ToF16(std::nextafter(std::ldexp(1.0f, -25), 1.0f)), 0x0001);
  EXPECT_EQ(F32ToF16(std::ldexp(3.0f, -25)), 0x0002);  // 1.5 * 2^-24 ties to 2
  EXPECT_EQ(F32ToF16(-std::ldexp(1.0f, -25)), 0x8000);
  EXPECT_EQ(F32ToF16(1e-30f), 0x0000);
  EXPECT_EQ(F32ToF16(std::numeric_limits<float>::denorm_min()), 0x0000);
  EXPECT_EQ(F32ToF16(std::ldexp(1023.0f, -24)), 0x03ff);  // largest subnormal
  EXPECT_EQ(F32ToF16(std::ldexp(2047.0f, -25)), 0x0400);  // rounds up into the normals
  EXPECT_EQ(F32ToF16(std::ldexp(1.0f, -14)), 0x0400);     // smallest normal
  // NaN stays NaN, sign kept, quiet.
  const uint16_t n = F32ToF16(std::nanf(""));
  EXPECT_TRUE(IsHalfNan(n));
  EXPECT_TRUE(n & 0x0200);
  const uint16_t sn = F32ToF16(BitsFloat(0xff800001));  // signalling NaN with a low payload
  EXPECT_TRUE(IsHalfNan(sn));
  EXPECT_EQ(sn & 0x8000, 0x8000);
}

TEST(Bf16Test, RoundsToNearestEvenAndKeepsNans) {
  EXPECT_EQ(F32ToBF16(1.0f), 0x3f80);
  EXPECT_EQ(F32ToBF16(-2.0f), 0xc000);
  // 1 + 2^-8 is the midpoint between 1 and 1 + 2^-7: ties to even (1.0).
  EXPECT_EQ(F32ToBF16(BitsFloat(0x3f808000)), 0x3f80);
  EXPECT_EQ(F32ToBF16(BitsFloat(0x3f808001)), 0x3f81);
  EXPECT_EQ(F32ToBF16(BitsFloat(0x3f818000)), 0x3f82);  // odd lower neighbour: ties up
  EXPECT_EQ(F32ToBF16(BitsFloat(0x3f817fff)), 0x3f81);
  // Overflow rounds to inf; inf stays inf.
  EXPECT_EQ(F32ToBF16(BitsFloat(0x7f7fffff)), 0x7f80);
  EXPECT_EQ(F32ToBF16(INFINITY), 0x7f80);
  EXPECT_EQ(F32ToBF16(-INFINITY), 0xff80);
  // NaNs become quiet NaNs with the sign kept, never inf (a signalling NaN whose payload is in
  // the low 16 bits would otherwise truncate to inf).
  for (uint32_t bits : {0x7f800001u, 0xff800001u, 0x7fc00000u, 0x7fffffffu, 0xffa00000u}) {
    const uint16_t b = F32ToBF16(BitsFloat(bits));
    EXPECT_TRUE(std::isnan(BF16ToF32(b))) << std::hex << bits;
    EXPECT_TRUE(b & 0x40) << std::hex << bits;
    EXPECT_EQ(b & 0x8000, (bits >> 16) & 0x8000) << std::hex << bits;
  }
  // Every non-NaN bf16 round-trips.
  for (uint32_t i = 0; i < 65536; ++i) {
    const uint16_t b = static_cast<uint16_t>(i);
    const float f = BF16ToF32(b);
    if (std::isnan(f)) continue;
    ASSERT_EQ(F32ToBF16(f), b) << i;
  }
}

}  // namespace
}  // namespace loom::tensor
