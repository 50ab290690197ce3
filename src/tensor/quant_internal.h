// Shared between quant.cc and quant_k.cc only; not part of the tensor API.
#ifndef LOOM_TENSOR_QUANT_INTERNAL_H_
#define LOOM_TENSOR_QUANT_INTERNAL_H_

#include <cstdint>
#include <cstring>

#include "tensor/quant.h"

namespace loom::tensor::internal {

// ggml's nearest_int: round half to even via the 1.5 * 2^23 trick, valid for |v| < 2^22.
inline int NearestInt(float v) {
  const float shifted = v + 12582912.0f;
  int32_t i;
  std::memcpy(&i, &shifted, 4);
  return (i & 0x007fffff) - 0x00400000;
}

// The blocks of a row may sit at any byte offset of a mapped file, so they are copied in and out
// rather than accessed through a possibly misaligned struct pointer.
template <typename Block>
Block LoadBlock(const void* src, int64_t i) {
  Block b;
  std::memcpy(&b, static_cast<const uint8_t*>(src) + i * static_cast<int64_t>(sizeof(Block)),
              sizeof(Block));
  return b;
}
template <typename Block>
void StoreBlock(void* dst, int64_t i, const Block& b) {
  std::memcpy(static_cast<uint8_t*>(dst) + i * static_cast<int64_t>(sizeof(Block)), &b,
              sizeof(Block));
}

// The K formats and Q8_K (quant_k.cc), nb blocks of 256. False for any other type.
bool DequantizeRowK(GgmlType type, const void* src, float* dst, int64_t nb);
bool QuantizeRowK(GgmlType type, const float* src, void* dst, int64_t nb);

}  // namespace loom::tensor::internal

#endif  // LOOM_TENSOR_QUANT_INTERNAL_H_
