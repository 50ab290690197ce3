// Weight formats bit-compatible with GGUF (ggml-common.h block layouts), and the scalar
// reference conversions: DequantizeRow / QuantizeRow match ggml's dequantize_row_* and
// quantize_row_*_ref byte for byte, so llama.cpp and Ollama files load without conversion.
//
// All fp16 fields are raw IEEE half bits (see fp16.h); blocks are packed, little-endian.
#ifndef LOOM_TENSOR_QUANT_H_
#define LOOM_TENSOR_QUANT_H_

#include <cstddef>
#include <cstdint>
#include <span>

#include "base/status.h"
#include "formats/gguf/ggml_types.h"

namespace loom::tensor {

using gguf::GgmlType;

constexpr int kQK = 32;     // elements per block of the 32-element formats
constexpr int kQK_K = 256;  // elements per super-block of the K formats and IQ4_XS

struct BlockQ4_0 {
  uint16_t d;
  uint8_t qs[kQK / 2];
};
struct BlockQ4_1 {
  uint16_t d, m;
  uint8_t qs[kQK / 2];
};
struct BlockQ5_0 {
  uint16_t d;
  uint8_t qh[4];
  uint8_t qs[kQK / 2];
};
struct BlockQ5_1 {
  uint16_t d, m;
  uint8_t qh[4];
  uint8_t qs[kQK / 2];
};
struct BlockQ8_0 {
  uint16_t d;
  int8_t qs[kQK];
};
// Activation format of the 32-element formats with an offset (Q4_1, Q5_1): s = d * sum(qs).
struct BlockQ8_1 {
  uint16_t d, s;
  int8_t qs[kQK];
};
struct BlockQ2_K {
  uint8_t scales[kQK_K / 16];  // 4-bit scale | 4-bit min per 16 elements
  uint8_t qs[kQK_K / 4];
  uint16_t d, dmin;
};
struct BlockQ3_K {
  uint8_t hmask[kQK_K / 8];
  uint8_t qs[kQK_K / 4];
  uint8_t scales[12];  // 16 6-bit scales
  uint16_t d;
};
struct BlockQ4_K {
  uint16_t d, dmin;
  uint8_t scales[12];  // 8 6-bit scales and 8 6-bit mins
  uint8_t qs[kQK_K / 2];
};
struct BlockQ5_K {
  uint16_t d, dmin;
  uint8_t scales[12];
  uint8_t qh[kQK_K / 8];
  uint8_t qs[kQK_K / 2];
};
struct BlockQ6_K {
  uint8_t ql[kQK_K / 2];
  uint8_t qh[kQK_K / 4];
  int8_t scales[kQK_K / 16];
  uint16_t d;
};
// Activation format of the K formats: float scale, sums of each 16 quants.
struct BlockQ8_K {
  float d;
  int8_t qs[kQK_K];
  int16_t bsums[kQK_K / 16];
};
struct BlockIQ4_NL {
  uint16_t d;
  uint8_t qs[kQK / 2];
};
struct BlockIQ4_XS {
  uint16_t d;
  uint16_t scales_h;
  uint8_t scales_l[kQK_K / 64];
  uint8_t qs[kQK_K / 2];
};

static_assert(sizeof(BlockQ4_0) == 18 && sizeof(BlockQ4_1) == 20 && sizeof(BlockQ5_0) == 22 &&
              sizeof(BlockQ5_1) == 24 && sizeof(BlockQ8_0) == 34 && sizeof(BlockQ8_1) == 36);
static_assert(sizeof(BlockQ2_K) == 84 && sizeof(BlockQ3_K) == 110 && sizeof(BlockQ4_K) == 144 &&
              sizeof(BlockQ5_K) == 176 && sizeof(BlockQ6_K) == 210 && sizeof(BlockQ8_K) == 292);
static_assert(sizeof(BlockIQ4_NL) == 18 && sizeof(BlockIQ4_XS) == 136);

// The non-linear 4-bit codebook of IQ4_NL / IQ4_XS (kvalues_iq4nl in ggml).
extern const int8_t kIQ4NLValues[16];

// The types loom computes with as weights: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K,
// Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS.
std::span<const GgmlType> WeightTypes();
bool IsWeightType(GgmlType type);

// Elements per block and bytes per block (1 and sizeof(element) for F32/F16/BF16).
int BlockElements(GgmlType type);
size_t BlockBytes(GgmlType type);
// Bytes of a row of n elements. n must be a multiple of BlockElements(type).
inline size_t RowBytes(GgmlType type, int64_t n) {
  return static_cast<size_t>(n / BlockElements(type)) * BlockBytes(type);
}
// OK when `type` is a weight type and n > 0 is a multiple of its block; otherwise an error
// naming `what`, the type and n.
Status CheckRow(GgmlType type, int64_t n, const char* what);

// Scalar reference conversions of one row of n elements (n a multiple of the block size;
// checked by LOOM_CHECK: callers validate with CheckRow first). Also accept Q8_1 and Q8_K.
void DequantizeRow(GgmlType type, const void* src, float* dst, int64_t n);
void QuantizeRow(GgmlType type, const float* src, void* dst, int64_t n);

}  // namespace loom::tensor

#endif  // LOOM_TENSOR_QUANT_H_
