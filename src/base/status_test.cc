#include "base/status.h"

#include <gtest/gtest.h>

#include "base/checked_math.h"
#include "base/strings.h"

namespace loom {
namespace {

Result<int> Half(int x) {
  if (x % 2) return InvalidArgument("x: value ", x, " is odd");
  return x / 2;
}

Result<int> Quarter(int x) {
  LOOM_ASSIGN_OR_RETURN(int h, Half(x));
  LOOM_ASSIGN_OR_RETURN(int q, Half(h));
  return q;
}

Status Check(int x) {
  LOOM_RETURN_IF_ERROR(Half(x).status());
  return Status::Ok();
}

TEST(StatusTest, OkAndErrors) {
  EXPECT_TRUE(Status::Ok().ok());
  Status s = DataLoss("tensor ", QuoteForMessage("a"), ": offset ", 12, " beyond ", 10);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kDataLoss);
  EXPECT_EQ(s.message(), "tensor 'a': offset 12 beyond 10");
  EXPECT_EQ(s.ToString(), "DataLoss: tensor 'a': offset 12 beyond 10");
  EXPECT_EQ(s.WithContext("m.gguf").message(), "m.gguf: tensor 'a': offset 12 beyond 10");
}

TEST(StatusTest, ResultPropagation) {
  EXPECT_EQ(*Quarter(8), 2);
  Result<int> r = Quarter(6);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(), "x: value 3 is odd");
  EXPECT_TRUE(Check(4).ok());
  EXPECT_FALSE(Check(5).ok());
}

TEST(StatusTest, ResultFromOkStatusIsInternalError) {
  Result<int> r{Status::Ok()};
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInternal);
}

TEST(StatusTest, EveryCodeHasAName) {
  for (int c = 0; c < static_cast<int>(StatusCode::kSentinel); ++c) {
    EXPECT_STRNE(StatusCodeName(static_cast<StatusCode>(c)), "Unknown");
  }
}

TEST(CheckedMathTest, AddMulAlign) {
  EXPECT_EQ(CheckedAdd(1, 2), 3u);
  EXPECT_FALSE(CheckedAdd(UINT64_MAX, 1));
  EXPECT_EQ(CheckedMul(1ull << 31, 1ull << 32), 1ull << 63);
  EXPECT_FALSE(CheckedMul(1ull << 32, 1ull << 32));
  EXPECT_FALSE(CheckedMulSigned(INT64_MAX, 2));
  EXPECT_EQ(CheckedAlignUp(33, 32), 64u);
  EXPECT_EQ(CheckedAlignUp(64, 32), 64u);
  EXPECT_EQ(CheckedAlignUp(0, 32), 0u);
  EXPECT_FALSE(CheckedAlignUp(UINT64_MAX - 3, 32));  // would wrap
  EXPECT_FALSE(CheckedAlignUp(5, 0));
  EXPECT_FALSE(CheckedAlignUp(5, 13));
  std::vector<uint64_t> dims = {2, 3, 4};
  EXPECT_EQ(CheckedProduct(dims), 24u);
  std::vector<uint64_t> huge = {(1ull << 42) + 1, 1ull << 42};
  EXPECT_FALSE(CheckedProduct(huge));
  std::vector<uint64_t> zero = {0, UINT64_MAX};
  EXPECT_EQ(CheckedProduct(zero), 0u);
  EXPECT_TRUE(IsPowerOfTwo(64));
  EXPECT_FALSE(IsPowerOfTwo(0));
  EXPECT_FALSE(IsPowerOfTwo(96));
}

TEST(StringsTest, QuoteForMessage) {
  EXPECT_EQ(QuoteForMessage("abc"), "'abc'");
  EXPECT_EQ(QuoteForMessage(std::string("a\0b\n", 4)), "'a\\x00b\\x0a'");
  std::string long_name(200, 'x');
  std::string q = QuoteForMessage(long_name, 10);
  EXPECT_EQ(q, "'xxxxxxxxxx'... (200 bytes)");
}

TEST(StringsTest, Utf8Validation) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain ascii"));
  EXPECT_TRUE(IsValidUtf8("\xe2\x96\x81"));      // U+2581
  EXPECT_TRUE(IsValidUtf8("\xf0\x9f\x98\x80"));  // emoji
  EXPECT_FALSE(IsValidUtf8("\xff"));
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));      // surrogate U+D800
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));  // > U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\xe2\x96"));          // truncated
  EXPECT_FALSE(IsValidUtf8("\xe2\x28\xa1"));      // bad continuation
}

TEST(StringsTest, HumanUnits) {
  EXPECT_EQ(HumanBytes(12), "12 B");
  EXPECT_EQ(HumanBytes(320ull << 20), "320.00 MiB");
  EXPECT_EQ(HumanBytes(4ull << 30), "4.00 GiB");
  EXPECT_EQ(HumanCount(11959730224ull), "11.96B");
  EXPECT_EQ(HumanCount(268100000ull), "268.10M");
  EXPECT_EQ(HumanCount(999), "999");
  EXPECT_EQ(Join({"a", "b", "c"}, ", "), "a, b, c");
  EXPECT_TRUE(StartsWith("blk.0.attn", "blk."));
  EXPECT_TRUE(EndsWith("model.gguf", ".gguf"));
  EXPECT_FALSE(EndsWith("gguf", ".gguf"));
}

}  // namespace
}  // namespace loom
