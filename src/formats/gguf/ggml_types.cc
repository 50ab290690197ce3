#include "formats/gguf/ggml_types.h"

#include <array>
#include <cstddef>

#include "base/checked_math.h"
#include "base/status.h"

namespace loom::gguf {
namespace {

constexpr uint32_t kQK = 32;     // elements per block of the legacy and IQ4_NL/MXFP4 types
constexpr uint32_t kQK_K = 256;  // elements per super-block of the K, IQ and TQ types

// Block layouts from ggml's type_traits (ggml/src/ggml.c) and the static_asserts on the block
// structs in ggml-common.h. Note: gguf-py's GGML_QUANT_SIZES says 40 bytes for Q8_1; that entry
// is stale (Q8_1 once held two floats), the ggml struct is two halves + 32 quants = 36 bytes.
constexpr GgmlTypeInfo kTypes[] = {
    {GgmlType::kF32, "F32", 1, 4, false},
    {GgmlType::kF16, "F16", 1, 2, false},
    {GgmlType::kQ4_0, "Q4_0", kQK, 2 + kQK / 2, true},
    {GgmlType::kQ4_1, "Q4_1", kQK, 4 + kQK / 2, true},
    {GgmlType::kQ5_0, "Q5_0", kQK, 2 + 4 + kQK / 2, true},
    {GgmlType::kQ5_1, "Q5_1", kQK, 4 + 4 + kQK / 2, true},
    {GgmlType::kQ8_0, "Q8_0", kQK, 2 + kQK, true},
    {GgmlType::kQ8_1, "Q8_1", kQK, 4 + kQK, true},
    {GgmlType::kQ2_K, "Q2_K", kQK_K, 84, true},
    {GgmlType::kQ3_K, "Q3_K", kQK_K, 110, true},
    {GgmlType::kQ4_K, "Q4_K", kQK_K, 144, true},
    {GgmlType::kQ5_K, "Q5_K", kQK_K, 176, true},
    {GgmlType::kQ6_K, "Q6_K", kQK_K, 210, true},
    {GgmlType::kQ8_K, "Q8_K", kQK_K, 292, true},
    {GgmlType::kIQ2_XXS, "IQ2_XXS", kQK_K, 66, true},
    {GgmlType::kIQ2_XS, "IQ2_XS", kQK_K, 74, true},
    {GgmlType::kIQ3_XXS, "IQ3_XXS", kQK_K, 98, true},
    {GgmlType::kIQ1_S, "IQ1_S", kQK_K, 50, true},
    {GgmlType::kIQ4_NL, "IQ4_NL", kQK, 18, true},
    {GgmlType::kIQ3_S, "IQ3_S", kQK_K, 110, true},
    {GgmlType::kIQ2_S, "IQ2_S", kQK_K, 82, true},
    {GgmlType::kIQ4_XS, "IQ4_XS", kQK_K, 136, true},
    {GgmlType::kI8, "I8", 1, 1, false},
    {GgmlType::kI16, "I16", 1, 2, false},
    {GgmlType::kI32, "I32", 1, 4, false},
    {GgmlType::kI64, "I64", 1, 8, false},
    {GgmlType::kF64, "F64", 1, 8, false},
    {GgmlType::kIQ1_M, "IQ1_M", kQK_K, 56, true},
    {GgmlType::kBF16, "BF16", 1, 2, false},
    {GgmlType::kTQ1_0, "TQ1_0", kQK_K, 54, true},
    {GgmlType::kTQ2_0, "TQ2_0", kQK_K, 66, true},
    {GgmlType::kMXFP4, "MXFP4", kQK, 17, true},
};

constexpr uint32_t kMaxId = 39;

// Id -> index into kTypes, -1 for ids ggml never defined or has removed. Built at compile time
// so a lookup from file data is one bounds check and one load.
constexpr std::array<int8_t, kMaxId + 1> BuildIndex() {
  std::array<int8_t, kMaxId + 1> index{};
  for (auto& slot : index) slot = -1;
  for (size_t i = 0; i < std::size(kTypes); ++i) {
    index[static_cast<uint32_t>(kTypes[i].type)] = static_cast<int8_t>(i);
  }
  return index;
}
constexpr auto kIndex = BuildIndex();

char AsciiUpper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }

}  // namespace

const GgmlTypeInfo* GetGgmlTypeInfo(uint32_t id) {
  if (id > kMaxId || kIndex[id] < 0) return nullptr;
  return &kTypes[kIndex[id]];
}

const GgmlTypeInfo& GetGgmlTypeInfo(GgmlType type) {
  const GgmlTypeInfo* info = GetGgmlTypeInfo(static_cast<uint32_t>(type));
  // A GgmlType outside the enum can only come from a cast in loom's own code: ids read from
  // files go through the uint32_t overload first.
  LOOM_CHECK(info != nullptr);
  return *info;
}

std::optional<GgmlType> GgmlTypeFromName(std::string_view name) {
  for (const GgmlTypeInfo& info : kTypes) {
    std::string_view candidate = info.name;
    if (candidate.size() != name.size()) continue;
    bool equal = true;
    for (size_t i = 0; i < name.size() && equal; ++i) {
      equal = AsciiUpper(name[i]) == candidate[i];
    }
    if (equal) return info.type;
  }
  return std::nullopt;
}

std::optional<uint64_t> GgmlRowBytes(GgmlType type, uint64_t n) {
  const GgmlTypeInfo* info = GetGgmlTypeInfo(static_cast<uint32_t>(type));
  if (info == nullptr || n % info->block_size != 0) return std::nullopt;
  return CheckedMul(n / info->block_size, info->type_size);
}

}  // namespace loom::gguf
