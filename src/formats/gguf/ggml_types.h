// The ggml tensor types as stored in GGUF: ids, names and block layouts (elements per block,
// bytes per block). Ids follow ggml.h; removed ids (4, 5, 31-33, 36-38) are unknown.
#ifndef LOOM_FORMATS_GGUF_GGML_TYPES_H_
#define LOOM_FORMATS_GGUF_GGML_TYPES_H_

#include <cstdint>
#include <optional>
#include <string_view>

namespace loom::gguf {

enum class GgmlType : uint32_t {
  kF32 = 0,
  kF16 = 1,
  kQ4_0 = 2,
  kQ4_1 = 3,
  kQ5_0 = 6,
  kQ5_1 = 7,
  kQ8_0 = 8,
  kQ8_1 = 9,
  kQ2_K = 10,
  kQ3_K = 11,
  kQ4_K = 12,
  kQ5_K = 13,
  kQ6_K = 14,
  kQ8_K = 15,
  kIQ2_XXS = 16,
  kIQ2_XS = 17,
  kIQ3_XXS = 18,
  kIQ1_S = 19,
  kIQ4_NL = 20,
  kIQ3_S = 21,
  kIQ2_S = 22,
  kIQ4_XS = 23,
  kI8 = 24,
  kI16 = 25,
  kI32 = 26,
  kI64 = 27,
  kF64 = 28,
  kIQ1_M = 29,
  kBF16 = 30,
  kTQ1_0 = 34,
  kTQ2_0 = 35,
  kMXFP4 = 39,
};

struct GgmlTypeInfo {
  GgmlType type;
  const char* name;     // as ggml prints it: "Q4_K", "BF16", ...
  uint32_t block_size;  // elements per block (1 for plain types)
  uint32_t type_size;   // bytes per block
  bool quantized;
};

// nullptr for ids ggml does not define (or has removed).
const GgmlTypeInfo* GetGgmlTypeInfo(uint32_t id);
// `type` must be one of the enumerators (a value cast from an unchecked id aborts: check ids
// from files with the overload above).
const GgmlTypeInfo& GetGgmlTypeInfo(GgmlType type);
// Case-insensitive ("q4_k" and "Q4_K" both work).
std::optional<GgmlType> GgmlTypeFromName(std::string_view name);
// Bytes of a row of n elements; nullopt when n is not a multiple of the block size (or the
// byte count would overflow uint64).
std::optional<uint64_t> GgmlRowBytes(GgmlType type, uint64_t n);

}  // namespace loom::gguf

#endif  // LOOM_FORMATS_GGUF_GGML_TYPES_H_
