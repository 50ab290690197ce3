// Type tables, row checks, dispatch, and the plain, 32-element and IQ4 formats. The K formats
// are in quant_k.cc.
//
// Every conversion follows the float evaluation order of ggml-quants.c (llama.cpp, 2025) step by
// step so results are bit-identical; FMA contraction would change rounding, so it is off here.
#include "tensor/quant.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "tensor/fp16.h"
#include "tensor/quant_internal.h"

#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

namespace loom::tensor {

const int8_t kIQ4NLValues[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                 1,    13,   25,  38,  53,  69,  89,  113};

namespace {

using internal::LoadBlock;
using internal::StoreBlock;

constexpr GgmlType kWeightTypes[] = {
    GgmlType::kF32,  GgmlType::kF16,  GgmlType::kBF16, GgmlType::kQ8_0,   GgmlType::kQ4_0,
    GgmlType::kQ4_1, GgmlType::kQ5_0, GgmlType::kQ5_1, GgmlType::kQ2_K,   GgmlType::kQ3_K,
    GgmlType::kQ4_K, GgmlType::kQ5_K, GgmlType::kQ6_K, GgmlType::kIQ4_NL, GgmlType::kIQ4_XS,
};

// (int8_t)(float) in ggml on values that are in range; going through int keeps it defined.
inline int TruncToInt(float v) { return static_cast<int>(v); }

// ---- 32-element formats ----------------------------------------------------------------------

void DequantizeQ4_0(const void* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK) {
    const auto b = LoadBlock<BlockQ4_0>(src, i);
    const float d = F16ToF32(b.d);
    for (int j = 0; j < kQK / 2; ++j) {
      y[j] = static_cast<float>((b.qs[j] & 0x0F) - 8) * d;
      y[j + kQK / 2] = static_cast<float>((b.qs[j] >> 4) - 8) * d;
    }
  }
}

void DequantizeQ4_1(const void* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK) {
    const auto b = LoadBlock<BlockQ4_1>(src, i);
    const float d = F16ToF32(b.d), m = F16ToF32(b.m);
    for (int j = 0; j < kQK / 2; ++j) {
      y[j] = static_cast<float>(b.qs[j] & 0x0F) * d + m;
      y[j + kQK / 2] = static_cast<float>(b.qs[j] >> 4) * d + m;
    }
  }
}

void DequantizeQ5_0(const void* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK) {
    const auto b = LoadBlock<BlockQ5_0>(src, i);
    const float d = F16ToF32(b.d);
    uint32_t qh;
    std::memcpy(&qh, b.qh, 4);
    for (int j = 0; j < kQK / 2; ++j) {
      const int h0 = ((qh >> j) << 4) & 0x10;
      const int h1 = (qh >> (j + 12)) & 0x10;
      y[j] = static_cast<float>(((b.qs[j] & 0x0F) | h0) - 16) * d;
      y[j + kQK / 2] = static_cast<float>(((b.qs[j] >> 4) | h1) - 16) * d;
    }
  }
}

void DequantizeQ5_1(const void* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK) {
    const auto b = LoadBlock<BlockQ5_1>(src, i);
    const float d = F16ToF32(b.d), m = F16ToF32(b.m);
    uint32_t qh;
    std::memcpy(&qh, b.qh, 4);
    for (int j = 0; j < kQK / 2; ++j) {
      const int h0 = ((qh >> j) << 4) & 0x10;
      const int h1 = (qh >> (j + 12)) & 0x10;
      y[j] = static_cast<float>((b.qs[j] & 0x0F) | h0) * d + m;
      y[j + kQK / 2] = static_cast<float>((b.qs[j] >> 4) | h1) * d + m;
    }
  }
}

void DequantizeQ8_0(const void* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK) {
    const auto b = LoadBlock<BlockQ8_0>(src, i);
    const float d = F16ToF32(b.d);
    for (int j = 0; j < kQK; ++j) y[j] = static_cast<float>(b.qs[j]) * d;
  }
}

void DequantizeQ8_1(const void* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK) {
    const auto b = LoadBlock<BlockQ8_1>(src, i);
    const float d = F16ToF32(b.d);
    for (int j = 0; j < kQK; ++j) y[j] = static_cast<float>(b.qs[j]) * d;
  }
}

// Signed formats: the scale comes from the element of largest magnitude (its sign included), so
// that element maps exactly onto the most negative level.
float SignedMax(const float* x, int n) {
  float amax = 0.0f, max = 0.0f;
  for (int j = 0; j < n; ++j) {
    if (amax < std::fabs(x[j])) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  }
  return max;
}

void QuantizeQ4_0(const float* x, void* dst, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += kQK) {
    BlockQ4_0 b;
    const float d = SignedMax(x, kQK) / -8;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    b.d = F32ToF16(d);
    for (int j = 0; j < kQK / 2; ++j) {
      const int q0 = std::min(15, TruncToInt(x[j] * id + 8.5f));
      const int q1 = std::min(15, TruncToInt(x[j + kQK / 2] * id + 8.5f));
      b.qs[j] = static_cast<uint8_t>(q0 | (q1 << 4));
    }
    StoreBlock(dst, i, b);
  }
}

void QuantizeQ4_1(const float* x, void* dst, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += kQK) {
    BlockQ4_1 b;
    float min = x[0], max = x[0];
    for (int j = 1; j < kQK; ++j) {
      min = std::min(min, x[j]);
      max = std::max(max, x[j]);
    }
    const float d = (max - min) / 15;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    b.d = F32ToF16(d);
    b.m = F32ToF16(min);
    for (int j = 0; j < kQK / 2; ++j) {
      const int q0 = std::min(15, TruncToInt((x[j] - min) * id + 0.5f));
      const int q1 = std::min(15, TruncToInt((x[j + kQK / 2] - min) * id + 0.5f));
      b.qs[j] = static_cast<uint8_t>(q0 | (q1 << 4));
    }
    StoreBlock(dst, i, b);
  }
}

void QuantizeQ5_0(const float* x, void* dst, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += kQK) {
    BlockQ5_0 b;
    const float d = SignedMax(x, kQK) / -16;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    b.d = F32ToF16(d);
    uint32_t qh = 0;
    for (int j = 0; j < kQK / 2; ++j) {
      const int q0 = std::min(31, TruncToInt(x[j] * id + 16.5f));
      const int q1 = std::min(31, TruncToInt(x[j + kQK / 2] * id + 16.5f));
      b.qs[j] = static_cast<uint8_t>((q0 & 0x0F) | ((q1 & 0x0F) << 4));
      qh |= static_cast<uint32_t>((q0 & 0x10) >> 4) << j;
      qh |= static_cast<uint32_t>((q1 & 0x10) >> 4) << (j + kQK / 2);
    }
    std::memcpy(b.qh, &qh, 4);
    StoreBlock(dst, i, b);
  }
}

void QuantizeQ5_1(const float* x, void* dst, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += kQK) {
    BlockQ5_1 b;
    float min = x[0], max = x[0];
    for (int j = 1; j < kQK; ++j) {
      min = std::min(min, x[j]);
      max = std::max(max, x[j]);
    }
    const float d = (max - min) / 31;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    b.d = F32ToF16(d);
    b.m = F32ToF16(min);
    uint32_t qh = 0;
    for (int j = 0; j < kQK / 2; ++j) {
      // ggml does not clamp here; (uint8_t) keeps its behaviour should rounding ever reach 32.
      const int q0 = static_cast<uint8_t>(TruncToInt((x[j] - min) * id + 0.5f));
      const int q1 = static_cast<uint8_t>(TruncToInt((x[j + kQK / 2] - min) * id + 0.5f));
      b.qs[j] = static_cast<uint8_t>((q0 & 0x0F) | ((q1 & 0x0F) << 4));
      qh |= static_cast<uint32_t>((q0 & 0x10) >> 4) << j;
      qh |= static_cast<uint32_t>((q1 & 0x10) >> 4) << (j + kQK / 2);
    }
    std::memcpy(b.qh, &qh, 4);
    StoreBlock(dst, i, b);
  }
}

float AbsMax(const float* x, int n) {
  float amax = 0.0f;
  for (int j = 0; j < n; ++j) amax = std::max(amax, std::fabs(x[j]));
  return amax;
}

void QuantizeQ8_0(const float* x, void* dst, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += kQK) {
    BlockQ8_0 b;
    const float d = AbsMax(x, kQK) / 127;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    b.d = F32ToF16(d);
    for (int j = 0; j < kQK; ++j) b.qs[j] = static_cast<int8_t>(std::round(x[j] * id));
    StoreBlock(dst, i, b);
  }
}

void QuantizeQ8_1(const float* x, void* dst, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += kQK) {
    BlockQ8_1 b;
    const float d = AbsMax(x, kQK) / 127;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    b.d = F32ToF16(d);
    int sum = 0;
    for (int j = 0; j < kQK; ++j) {
      b.qs[j] = static_cast<int8_t>(std::round(x[j] * id));
      sum += b.qs[j];
    }
    b.s = F32ToF16(static_cast<float>(sum) * d);
    StoreBlock(dst, i, b);
  }
}

// ---- IQ4_NL / IQ4_XS -------------------------------------------------------------------------

void DequantizeIQ4_NL(const void* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK) {
    const auto b = LoadBlock<BlockIQ4_NL>(src, i);
    const float d = F16ToF32(b.d);
    for (int j = 0; j < kQK / 2; ++j) {
      y[j] = d * static_cast<float>(kIQ4NLValues[b.qs[j] & 0xF]);
      y[j + kQK / 2] = d * static_cast<float>(kIQ4NLValues[b.qs[j] >> 4]);
    }
  }
}

void DequantizeIQ4_XS(const void* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const auto b = LoadBlock<BlockIQ4_XS>(src, i);
    const float d = F16ToF32(b.d);
    const uint8_t* qs = b.qs;
    for (int ib = 0; ib < kQK_K / 32; ++ib, y += 32, qs += 16) {
      const int ls =
          ((b.scales_l[ib / 2] >> (4 * (ib % 2))) & 0xF) | (((b.scales_h >> (2 * ib)) & 3) << 4);
      const float dl = d * static_cast<float>(ls - 32);
      for (int j = 0; j < 16; ++j) {
        y[j] = dl * static_cast<float>(kIQ4NLValues[qs[j] & 0xF]);
        y[j + 16] = dl * static_cast<float>(kIQ4NLValues[qs[j] >> 4]);
      }
    }
  }
}

// Index of the codebook value nearest to x; exact midpoints go up. Comparing 2x with the sum of
// neighbours keeps the midpoint test exact.
int BestIndexIQ4(float x) {
  const float x2 = x + x;
  int idx = 0;
  for (int step = 8; step > 0; step >>= 1) {
    const int j = idx + step;
    if (x2 >= static_cast<float>(kIQ4NLValues[j - 1] + kIQ4NLValues[j])) idx = j;
  }
  return idx;
}

constexpr float kGroupMaxEps = 1e-15f;

// The per-32 scale search of quantize_row_iq4_nl_impl without importance weights (weights x^2):
// fills L for xb with the initial scale and returns the least-squares scale, refined over
// 2*ntry+1 trial scales when ntry > 0.
float IQ4BlockScale(const float* xb, uint8_t* L, int ntry) {
  float amax = 0.0f, max = 0.0f;
  for (int j = 0; j < 32; ++j) {
    const float ax = std::fabs(xb[j]);
    if (ax > amax) {
      amax = ax;
      max = xb[j];
    }
  }
  if (amax < kGroupMaxEps) {
    std::memset(L, 0, 32);
    return 0.0f;
  }
  const float v0 = static_cast<float>(kIQ4NLValues[0]);
  float d = ntry > 0 ? -max / v0 : max / v0;
  float id = 1 / d;
  float sumqx = 0, sumq2 = 0;
  for (int j = 0; j < 32; ++j) {
    const int l = BestIndexIQ4(id * xb[j]);
    L[j] = static_cast<uint8_t>(l);
    const float q = static_cast<float>(kIQ4NLValues[l]);
    const float w = xb[j] * xb[j];
    sumqx += w * q * xb[j];
    sumq2 += w * q * q;
  }
  d = sumq2 > 0 ? sumqx / sumq2 : 0.0f;
  float best = d * sumqx;
  for (int itry = -ntry; itry <= ntry; ++itry) {
    id = static_cast<float>(itry + kIQ4NLValues[0]) / max;
    sumqx = sumq2 = 0;
    for (int j = 0; j < 32; ++j) {
      const float q = static_cast<float>(kIQ4NLValues[BestIndexIQ4(id * xb[j])]);
      const float w = xb[j] * xb[j];
      sumqx += w * q * xb[j];
      sumq2 += w * q * q;
    }
    if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
      d = sumqx / sumq2;
      best = d * sumqx;
    }
  }
  return d;
}

void PackNibbles32(const uint8_t* L, uint8_t* qs) {
  for (int j = 0; j < 16; ++j) qs[j] = static_cast<uint8_t>(L[j] | (L[j + 16] << 4));
}

// quantize_row_iq4_nl_ref: ntry = -1, so no scale search, and the indices stay those of the
// initial scale max / -127 while the stored scale is the least-squares one.
void QuantizeIQ4_NL(const float* x, void* dst, int64_t nb) {
  uint8_t L[32];
  for (int64_t i = 0; i < nb; ++i, x += kQK) {
    BlockIQ4_NL b;
    const float d = IQ4BlockScale(x, L, -1);
    b.d = F32ToF16(d);
    PackNibbles32(L, b.qs);
    StoreBlock(dst, i, b);
  }
}

// quantize_row_iq4_xs_ref: ntry = 7 per 32 elements, then a 6-bit scale per 32 against one
// super-block scale, and the indices redone with the final scales.
void QuantizeIQ4_XS(const float* x, void* dst, int64_t nb) {
  uint8_t L[kQK_K];
  float scales[kQK_K / 32];
  for (int64_t i = 0; i < nb; ++i, x += kQK_K) {
    BlockIQ4_XS b;
    std::memset(&b, 0, sizeof(b));
    float max_scale = 0, amax_scale = 0;
    for (int ib = 0; ib < kQK_K / 32; ++ib) {
      scales[ib] = IQ4BlockScale(x + 32 * ib, L + 32 * ib, 7);
      const float abs_d = std::fabs(scales[ib]);
      if (abs_d > amax_scale) {
        amax_scale = abs_d;
        max_scale = scales[ib];
      }
    }
    const float d = -max_scale / 32;
    b.d = F32ToF16(d);
    const float id = d != 0.0f ? 1 / d : 0.0f;
    for (int ib = 0; ib < kQK_K / 32; ++ib) {
      int l = internal::NearestInt(id * scales[ib]);
      l = std::max(-32, std::min(31, l));
      const float dl = d * static_cast<float>(l);
      const float idl = dl != 0.0f ? 1 / dl : 0.0f;
      const float* xb = x + 32 * ib;
      for (int j = 0; j < 32; ++j) L[32 * ib + j] = static_cast<uint8_t>(BestIndexIQ4(idl * xb[j]));
      l += 32;
      if (ib % 2 == 0) {
        b.scales_l[ib / 2] = static_cast<uint8_t>(l & 0xF);
      } else {
        b.scales_l[ib / 2] |= static_cast<uint8_t>((l & 0xF) << 4);
      }
      b.scales_h |= static_cast<uint16_t>((l >> 4) << (2 * ib));
    }
    for (int ib = 0; ib < kQK_K / 32; ++ib) PackNibbles32(L + 32 * ib, b.qs + 16 * ib);
    StoreBlock(dst, i, b);
  }
}

}  // namespace

std::span<const GgmlType> WeightTypes() { return kWeightTypes; }

bool IsWeightType(GgmlType type) {
  for (GgmlType t : kWeightTypes) {
    if (t == type) return true;
  }
  return false;
}

int BlockElements(GgmlType type) {
  switch (type) {
    case GgmlType::kF32:
    case GgmlType::kF16:
    case GgmlType::kBF16:
      return 1;
    case GgmlType::kQ4_0:
    case GgmlType::kQ4_1:
    case GgmlType::kQ5_0:
    case GgmlType::kQ5_1:
    case GgmlType::kQ8_0:
    case GgmlType::kQ8_1:
    case GgmlType::kIQ4_NL:
      return kQK;
    case GgmlType::kQ2_K:
    case GgmlType::kQ3_K:
    case GgmlType::kQ4_K:
    case GgmlType::kQ5_K:
    case GgmlType::kQ6_K:
    case GgmlType::kQ8_K:
    case GgmlType::kIQ4_XS:
      return kQK_K;
    default:
      return static_cast<int>(gguf::GetGgmlTypeInfo(type).block_size);
  }
}

size_t BlockBytes(GgmlType type) {
  switch (type) {
    case GgmlType::kF32:
      return 4;
    case GgmlType::kF16:
    case GgmlType::kBF16:
      return 2;
    case GgmlType::kQ4_0:
      return sizeof(BlockQ4_0);
    case GgmlType::kQ4_1:
      return sizeof(BlockQ4_1);
    case GgmlType::kQ5_0:
      return sizeof(BlockQ5_0);
    case GgmlType::kQ5_1:
      return sizeof(BlockQ5_1);
    case GgmlType::kQ8_0:
      return sizeof(BlockQ8_0);
    case GgmlType::kQ8_1:
      return sizeof(BlockQ8_1);
    case GgmlType::kQ2_K:
      return sizeof(BlockQ2_K);
    case GgmlType::kQ3_K:
      return sizeof(BlockQ3_K);
    case GgmlType::kQ4_K:
      return sizeof(BlockQ4_K);
    case GgmlType::kQ5_K:
      return sizeof(BlockQ5_K);
    case GgmlType::kQ6_K:
      return sizeof(BlockQ6_K);
    case GgmlType::kQ8_K:
      return sizeof(BlockQ8_K);
    case GgmlType::kIQ4_NL:
      return sizeof(BlockIQ4_NL);
    case GgmlType::kIQ4_XS:
      return sizeof(BlockIQ4_XS);
    default:
      return gguf::GetGgmlTypeInfo(type).type_size;
  }
}

Status CheckRow(GgmlType type, int64_t n, const char* what) {
  const gguf::GgmlTypeInfo* info = gguf::GetGgmlTypeInfo(static_cast<uint32_t>(type));
  const char* name = info != nullptr ? info->name : "unknown";
  if (!IsWeightType(type)) {
    return Unimplemented(what, ": type ", name, " (id ", static_cast<uint32_t>(type),
                         ") is not a supported weight type");
  }
  const int block = BlockElements(type);
  if (n <= 0 || n % block != 0) {
    return InvalidArgument(what, ": a row of type ", name, " has ", n,
                           " elements; it must be a positive multiple of the block size ", block);
  }
  return Status::Ok();
}

void DequantizeRow(GgmlType type, const void* src, float* dst, int64_t n) {
  const int block = BlockElements(type);
  LOOM_CHECK(n >= 0 && n % block == 0);
  const int64_t nb = n / block;
  switch (type) {
    case GgmlType::kF32:
      std::memcpy(dst, src, static_cast<size_t>(n) * 4);
      return;
    case GgmlType::kF16:
    case GgmlType::kBF16: {
      const auto* p = static_cast<const uint8_t*>(src);
      const bool f16 = type == GgmlType::kF16;
      for (int64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, p + 2 * i, 2);
        dst[i] = f16 ? F16ToF32(h) : BF16ToF32(h);
      }
      return;
    }
    case GgmlType::kQ4_0:
      return DequantizeQ4_0(src, dst, nb);
    case GgmlType::kQ4_1:
      return DequantizeQ4_1(src, dst, nb);
    case GgmlType::kQ5_0:
      return DequantizeQ5_0(src, dst, nb);
    case GgmlType::kQ5_1:
      return DequantizeQ5_1(src, dst, nb);
    case GgmlType::kQ8_0:
      return DequantizeQ8_0(src, dst, nb);
    case GgmlType::kQ8_1:
      return DequantizeQ8_1(src, dst, nb);
    case GgmlType::kIQ4_NL:
      return DequantizeIQ4_NL(src, dst, nb);
    case GgmlType::kIQ4_XS:
      return DequantizeIQ4_XS(src, dst, nb);
    default:
      LOOM_CHECK(internal::DequantizeRowK(type, src, dst, nb));
      return;
  }
}

void QuantizeRow(GgmlType type, const float* src, void* dst, int64_t n) {
  const int block = BlockElements(type);
  LOOM_CHECK(n >= 0 && n % block == 0);
  const int64_t nb = n / block;
  switch (type) {
    case GgmlType::kF32:
      std::memcpy(dst, src, static_cast<size_t>(n) * 4);
      return;
    case GgmlType::kF16:
    case GgmlType::kBF16: {
      auto* p = static_cast<uint8_t*>(dst);
      const bool f16 = type == GgmlType::kF16;
      for (int64_t i = 0; i < n; ++i) {
        const uint16_t h = f16 ? F32ToF16(src[i]) : F32ToBF16(src[i]);
        std::memcpy(p + 2 * i, &h, 2);
      }
      return;
    }
    case GgmlType::kQ4_0:
      return QuantizeQ4_0(src, dst, nb);
    case GgmlType::kQ4_1:
      return QuantizeQ4_1(src, dst, nb);
    case GgmlType::kQ5_0:
      return QuantizeQ5_0(src, dst, nb);
    case GgmlType::kQ5_1:
      return QuantizeQ5_1(src, dst, nb);
    case GgmlType::kQ8_0:
      return QuantizeQ8_0(src, dst, nb);
    case GgmlType::kQ8_1:
      return QuantizeQ8_1(src, dst, nb);
    case GgmlType::kIQ4_NL:
      return QuantizeIQ4_NL(src, dst, nb);
    case GgmlType::kIQ4_XS:
      return QuantizeIQ4_XS(src, dst, nb);
    default:
      LOOM_CHECK(internal::QuantizeRowK(type, src, dst, nb));
      return;
  }
}

}  // namespace loom::tensor
