#include "formats/gguf/ggml_types.h"

#include <gtest/gtest.h>

#include <cctype>
#include <set>
#include <string>

namespace loom::gguf {
namespace {

struct Expected {
  uint32_t id;
  const char* name;
  uint32_t block_size;
  uint32_t type_size;
};

// From ggml's type_traits (ggml/src/ggml.c) and the block structs of ggml-common.h, checked
// against gguf-py's GGML_QUANT_SIZES (which has a stale 40 for Q8_1; ggml's block is 36).
constexpr Expected kExpected[] = {
    {0, "F32", 1, 4},         {1, "F16", 1, 2},         {2, "Q4_0", 32, 18},
    {3, "Q4_1", 32, 20},      {6, "Q5_0", 32, 22},      {7, "Q5_1", 32, 24},
    {8, "Q8_0", 32, 34},      {9, "Q8_1", 32, 36},      {10, "Q2_K", 256, 84},
    {11, "Q3_K", 256, 110},   {12, "Q4_K", 256, 144},   {13, "Q5_K", 256, 176},
    {14, "Q6_K", 256, 210},   {15, "Q8_K", 256, 292},   {16, "IQ2_XXS", 256, 66},
    {17, "IQ2_XS", 256, 74},  {18, "IQ3_XXS", 256, 98}, {19, "IQ1_S", 256, 50},
    {20, "IQ4_NL", 32, 18},   {21, "IQ3_S", 256, 110},  {22, "IQ2_S", 256, 82},
    {23, "IQ4_XS", 256, 136}, {24, "I8", 1, 1},         {25, "I16", 1, 2},
    {26, "I32", 1, 4},        {27, "I64", 1, 8},        {28, "F64", 1, 8},
    {29, "IQ1_M", 256, 56},   {30, "BF16", 1, 2},       {34, "TQ1_0", 256, 54},
    {35, "TQ2_0", 256, 66},   {39, "MXFP4", 32, 17},
};

TEST(GgmlTypesTest, TableMatchesGgml) {
  for (const Expected& e : kExpected) {
    SCOPED_TRACE(e.name);
    const GgmlTypeInfo* info = GetGgmlTypeInfo(e.id);
    ASSERT_NE(info, nullptr);
    EXPECT_EQ(static_cast<uint32_t>(info->type), e.id);
    EXPECT_STREQ(info->name, e.name);
    EXPECT_EQ(info->block_size, e.block_size);
    EXPECT_EQ(info->type_size, e.type_size);
    EXPECT_EQ(info->quantized, e.block_size > 1);
    EXPECT_EQ(&GetGgmlTypeInfo(info->type), info);
  }
}

TEST(GgmlTypesTest, RemovedAndUnknownIdsHaveNoInfo) {
  std::set<uint32_t> known;
  for (const Expected& e : kExpected) known.insert(e.id);
  for (uint32_t id = 0; id < 200; ++id) {
    EXPECT_EQ(GetGgmlTypeInfo(id) != nullptr, known.count(id) == 1) << id;
  }
  for (uint32_t id : {4u, 5u, 31u, 32u, 33u, 36u, 37u, 38u, 40u, 0xFFFFFFFFu}) {
    EXPECT_EQ(GetGgmlTypeInfo(id), nullptr) << id;
  }
}

TEST(GgmlTypesTest, FromNameIsCaseInsensitive) {
  for (const Expected& e : kExpected) {
    EXPECT_EQ(GgmlTypeFromName(e.name), static_cast<GgmlType>(e.id)) << e.name;
    std::string lower = e.name;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    EXPECT_EQ(GgmlTypeFromName(lower), static_cast<GgmlType>(e.id)) << lower;
  }
  EXPECT_EQ(GgmlTypeFromName(""), std::nullopt);
  EXPECT_EQ(GgmlTypeFromName("Q4_2"), std::nullopt);
  EXPECT_EQ(GgmlTypeFromName("Q4_K_M"), std::nullopt);  // a file type, not a tensor type
  EXPECT_EQ(GgmlTypeFromName("F3"), std::nullopt);
}

TEST(GgmlTypesTest, RowBytes) {
  EXPECT_EQ(GgmlRowBytes(GgmlType::kF32, 0), 0u);
  EXPECT_EQ(GgmlRowBytes(GgmlType::kF32, 640), 2560u);
  EXPECT_EQ(GgmlRowBytes(GgmlType::kBF16, 3), 6u);
  EXPECT_EQ(GgmlRowBytes(GgmlType::kQ4_K, 640), std::nullopt);  // 640 % 256 != 0
  EXPECT_EQ(GgmlRowBytes(GgmlType::kQ4_K, 1024), 4u * 144);
  EXPECT_EQ(GgmlRowBytes(GgmlType::kQ8_0, 640), 20u * 34);
  EXPECT_EQ(GgmlRowBytes(GgmlType::kQ8_0, 16), std::nullopt);
  EXPECT_EQ(GgmlRowBytes(GgmlType::kMXFP4, 64), 34u);
  EXPECT_EQ(GgmlRowBytes(GgmlType::kTQ1_0, 512), 108u);
  // Overflow is reported, not wrapped.
  EXPECT_EQ(GgmlRowBytes(GgmlType::kF64, 1ull << 62), std::nullopt);
  EXPECT_EQ(GgmlRowBytes(GgmlType::kI8, ~0ull), ~0ull);
  for (const Expected& e : kExpected) {
    const auto t = static_cast<GgmlType>(e.id);
    EXPECT_EQ(GgmlRowBytes(t, 3ull * e.block_size), 3ull * e.type_size) << e.name;
    if (e.block_size > 1) {
      EXPECT_EQ(GgmlRowBytes(t, e.block_size + 1), std::nullopt) << e.name;
    }
  }
}

}  // namespace
}  // namespace loom::gguf
