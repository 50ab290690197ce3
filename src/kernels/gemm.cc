// GemmRows: Y^T = X · W^T computed as a blocked f32 GEMM.
//
// Loop nest (per batch chunk of <= kBatchChunk columns and row block of <= kRowTiles * kMR rows):
//   for each K slice (a multiple of the weight block; see kPackedXBytes):
//     pack X^T for the slice: xp[bt][k][kNB] (kNB = kNR vectors of batch columns, zero padded)
//     for each micro-tile of kMR weight rows:
//       unpack the kMR rows' slice to f32 (wbuf)
//       for each batch tile bt: micro-kernel kMR x kNR vectors, accumulating into cb[r][b]
//   transpose cb into y.
// The micro-kernel broadcasts one weight per row and multiplies it with kNR vectors of packed
// activations, so it needs no horizontal sums and reads the slice's packed X (~1 MiB, L2
// resident) once per micro-tile. cb holds the block's sums in the micro-kernel's layout (rows x
// batch) so K slices accumulate with plain vector loads and stores; it is transposed into y
// once at the end, which costs one scalar move per output against cols/lanes FMAs.
#include "kernels/gemm.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "base/status.h"
#include "tensor/fp16.h"
#include "tensor/quant.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/gemm.cc"
#include <hwy/cache_control.h>
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#ifndef LOOM_KERNELS_GEMM_SCRATCH_DECLARED_
#define LOOM_KERNELS_GEMM_SCRATCH_DECLARED_
namespace loom::kernels::gemm_internal {

// Per-thread scratch (grows, never shrinks), shared by every target's code.
enum ScratchSlot { kScratchX = 0, kScratchW = 1, kScratchC = 2, kScratchSlots = 3 };
float* Scratch(int slot, size_t floats);

}  // namespace loom::kernels::gemm_internal
#endif  // LOOM_KERNELS_GEMM_SCRATCH_DECLARED_

HWY_BEFORE_NAMESPACE();
namespace loom::kernels::HWY_NAMESPACE {
namespace {

namespace hn = hwy::HWY_NAMESPACE;
using tensor::GgmlType;

// ---------------------------------------------------------------------------------------------
// Unpacking: elements [k0, k0 + n) of one weight row to f32. Vectors of at most 16 lanes, so a
// vector never straddles the 16-element groups that share a scale in the block formats.

using DU = hn::CappedTag<float, 16>;
using DI = hn::RebindToSigned<DU>;

HWY_INLINE hn::Vec<DI> LoadBytes(const uint8_t* p) {
  const DI di;
  return hn::PromoteTo(di, hn::LoadU(hn::Rebind<uint8_t, DI>(), p));
}

HWY_INLINE hn::Vec<DI> LoadSignedBytes(const int8_t* p) {
  const DI di;
  return hn::PromoteTo(di, hn::LoadU(hn::Rebind<int8_t, DI>(), p));
}

// dst = q * scale + offset.
HWY_INLINE void StoreScaled(hn::Vec<DI> q, float scale, float offset, float* dst) {
  const DU du;
  hn::StoreU(hn::MulAdd(hn::ConvertTo(du, q), hn::Set(du, scale), hn::Set(du, offset)), du, dst);
}

alignas(64) constexpr float kIQ4Float[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                             1,    13,   25,  38,  53,  69,  89,  113};

// kIQ4Float[idx] * scale for idx in [0, 16).
HWY_INLINE void StoreIQ4(hn::Vec<DI> idx, float scale, float* dst) {
  const DU du;
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3
  // The 16-entry table fills one register: a permute instead of a gather.
  const hn::Vec<DU> v = hn::TableLookupLanes(hn::Load(du, kIQ4Float), hn::IndicesFromVec(du, idx));
#else
  const hn::Vec<DU> v = hn::GatherIndex(du, kIQ4Float, idx);
#endif
  hn::StoreU(hn::Mul(v, hn::Set(du, scale)), du, dst);
}

// 1 << i for i < 32, for testing the i-th bit of Q5_0/Q5_1's 32-bit high-bit word.
alignas(64) constexpr int32_t kBit[32] = {
    1 << 0,  1 << 1,  1 << 2,  1 << 3,  1 << 4,  1 << 5,  1 << 6,  1 << 7,
    1 << 8,  1 << 9,  1 << 10, 1 << 11, 1 << 12, 1 << 13, 1 << 14, 1 << 15,
    1 << 16, 1 << 17, 1 << 18, 1 << 19, 1 << 20, 1 << 21, 1 << 22, 1 << 23,
    1 << 24, 1 << 25, 1 << 26, 1 << 27, 1 << 28, 1 << 29, 1 << 30, static_cast<int32_t>(1u << 31)};

// Bits 4 of each element e0..e0+lanes from a 32-bit high-bit word (0 or 16).
HWY_INLINE hn::Vec<DI> HighBits32(uint32_t qh, int e0) {
  const DI di;
  const auto m = hn::TestBit(hn::Set(di, static_cast<int32_t>(qh)), hn::LoadU(di, kBit + e0));
  return hn::IfThenElseZero(m, hn::Set(di, 16));
}

template <class Block>
HWY_INLINE const Block* Blocks(const uint8_t* row, int64_t k0, int per_block) {
  return reinterpret_cast<const Block*>(row) + k0 / per_block;
}

void UnpackF16(const uint16_t* src, int64_t n, float* dst) {
  const DU du;
  const hn::Rebind<hwy::float16_t, DU> dh;
  const int64_t nl = static_cast<int64_t>(hn::Lanes(du));
  int64_t i = 0;
  for (; i + nl <= n; i += nl) {
    hn::StoreU(hn::PromoteTo(du, hn::LoadU(dh, reinterpret_cast<const hwy::float16_t*>(src + i))),
               du, dst + i);
  }
  for (; i < n; ++i) dst[i] = tensor::F16ToF32(src[i]);
}

void UnpackBF16(const uint16_t* src, int64_t n, float* dst) {
  const DU du;
  const hn::RebindToUnsigned<DU> du32;
  const hn::Rebind<uint16_t, DU> du16;
  const int64_t nl = static_cast<int64_t>(hn::Lanes(du));
  int64_t i = 0;
  for (; i + nl <= n; i += nl) {
    const auto bits = hn::ShiftLeft<16>(hn::PromoteTo(du32, hn::LoadU(du16, src + i)));
    hn::StoreU(hn::BitCast(du, bits), du, dst + i);
  }
  for (; i < n; ++i) dst[i] = tensor::BF16ToF32(src[i]);
}

void UnpackQ8_0(const uint8_t* row, int64_t k0, int64_t n, float* dst) {
  const int nl = static_cast<int>(hn::Lanes(DU()));
  const auto* b = Blocks<tensor::BlockQ8_0>(row, k0, tensor::kQK);
  for (int64_t i = 0; i < n; i += tensor::kQK, ++b, dst += tensor::kQK) {
    const float d = tensor::F16ToF32(b->d);
    for (int e = 0; e < tensor::kQK; e += nl)
      StoreScaled(LoadSignedBytes(b->qs + e), d, 0.0f, dst + e);
  }
}

// Q4_0 (has_min false: offset -8 d) and Q4_1 (offset m).
template <class Block, bool kHasMin>
void UnpackQ4(const uint8_t* row, int64_t k0, int64_t n, float* dst) {
  const DI di;
  const int nl = static_cast<int>(hn::Lanes(di));
  const auto* b = Blocks<Block>(row, k0, tensor::kQK);
  const auto mask = hn::Set(di, 15);
  for (int64_t i = 0; i < n; i += tensor::kQK, ++b, dst += tensor::kQK) {
    const float d = tensor::F16ToF32(b->d);
    float off;
    if constexpr (kHasMin) {
      off = tensor::F16ToF32(b->m);
    } else {
      off = -8.0f * d;
    }
    for (int e = 0; e < 16; e += nl) {
      const auto q = LoadBytes(b->qs + e);
      StoreScaled(hn::And(q, mask), d, off, dst + e);
      StoreScaled(hn::ShiftRight<4>(q), d, off, dst + 16 + e);
    }
  }
}

template <class Block, bool kHasMin>
void UnpackQ5(const uint8_t* row, int64_t k0, int64_t n, float* dst) {
  const DI di;
  const int nl = static_cast<int>(hn::Lanes(di));
  const auto* b = Blocks<Block>(row, k0, tensor::kQK);
  const auto mask = hn::Set(di, 15);
  for (int64_t i = 0; i < n; i += tensor::kQK, ++b, dst += tensor::kQK) {
    const float d = tensor::F16ToF32(b->d);
    float off;
    if constexpr (kHasMin) {
      off = tensor::F16ToF32(b->m);
    } else {
      off = -16.0f * d;
    }
    uint32_t qh;
    std::memcpy(&qh, b->qh, 4);
    for (int e = 0; e < 16; e += nl) {
      const auto q = LoadBytes(b->qs + e);
      StoreScaled(hn::Or(hn::And(q, mask), HighBits32(qh, e)), d, off, dst + e);
      StoreScaled(hn::Or(hn::ShiftRight<4>(q), HighBits32(qh, 16 + e)), d, off, dst + 16 + e);
    }
  }
}

void UnpackIQ4NL(const uint8_t* row, int64_t k0, int64_t n, float* dst) {
  const DI di;
  const int nl = static_cast<int>(hn::Lanes(di));
  const auto* b = Blocks<tensor::BlockIQ4_NL>(row, k0, tensor::kQK);
  const auto mask = hn::Set(di, 15);
  for (int64_t i = 0; i < n; i += tensor::kQK, ++b, dst += tensor::kQK) {
    const float d = tensor::F16ToF32(b->d);
    for (int e = 0; e < 16; e += nl) {
      const auto q = LoadBytes(b->qs + e);
      StoreIQ4(hn::And(q, mask), d, dst + e);
      StoreIQ4(hn::ShiftRight<4>(q), d, dst + 16 + e);
    }
  }
}

void UnpackIQ4XS(const uint8_t* row, int64_t k0, int64_t n, float* dst) {
  const DI di;
  const int nl = static_cast<int>(hn::Lanes(di));
  const auto* b = Blocks<tensor::BlockIQ4_XS>(row, k0, tensor::kQK_K);
  const auto mask = hn::Set(di, 15);
  for (int64_t i = 0; i < n; i += tensor::kQK_K, ++b) {
    const float d = tensor::F16ToF32(b->d);
    for (int ib = 0; ib < tensor::kQK_K / 32; ++ib, dst += 32) {
      const int ls =
          ((b->scales_l[ib / 2] >> (4 * (ib % 2))) & 0xf) | (((b->scales_h >> (2 * ib)) & 3) << 4);
      const float dl = d * static_cast<float>(ls - 32);
      const uint8_t* qs = b->qs + 16 * ib;
      for (int e = 0; e < 16; e += nl) {
        const auto q = LoadBytes(qs + e);
        StoreIQ4(hn::And(q, mask), dl, dst + e);
        StoreIQ4(hn::ShiftRight<4>(q), dl, dst + 16 + e);
      }
    }
  }
}

void UnpackQ2_K(const uint8_t* row, int64_t k0, int64_t n, float* dst) {
  const DI di;
  const int nl = static_cast<int>(hn::Lanes(di));
  const auto* b = Blocks<tensor::BlockQ2_K>(row, k0, tensor::kQK_K);
  const auto three = hn::Set(di, 3);
  for (int64_t i = 0; i < n; i += tensor::kQK_K, ++b) {
    const float d = tensor::F16ToF32(b->d);
    const float dmin = tensor::F16ToF32(b->dmin);
    int is = 0;
    for (int half = 0; half < 2; ++half) {
      const uint8_t* q = b->qs + 32 * half;
      for (int j = 0; j < 4; ++j) {
        for (int part = 0; part < 2; ++part, dst += 16) {
          const int sc = b->scales[is++];
          const float dl = d * static_cast<float>(sc & 0xF);
          const float ml = dmin * static_cast<float>(sc >> 4);
          for (int e = 0; e < 16; e += nl) {
            const auto v = hn::And(hn::ShiftRightSame(LoadBytes(q + 16 * part + e), 2 * j), three);
            StoreScaled(v, dl, -ml, dst + e);
          }
        }
      }
    }
  }
}

void UnpackQ3_K(const uint8_t* row, int64_t k0, int64_t n, float* dst) {
  const DI di;
  const int nl = static_cast<int>(hn::Lanes(di));
  const auto* b = Blocks<tensor::BlockQ3_K>(row, k0, tensor::kQK_K);
  const auto three = hn::Set(di, 3);
  const auto one = hn::Set(di, 1);
  const auto four = hn::Set(di, 4);
  constexpr uint32_t kMask1 = 0x03030303, kMask2 = 0x0f0f0f0f;
  for (int64_t i = 0; i < n; i += tensor::kQK_K, ++b) {
    const float d_all = tensor::F16ToF32(b->d);
    uint32_t aux[4];
    std::memcpy(aux, b->scales, 12);
    const uint32_t tmp = aux[2];
    aux[2] = ((aux[0] >> 4) & kMask2) | (((tmp >> 4) & kMask1) << 4);
    aux[3] = ((aux[1] >> 4) & kMask2) | (((tmp >> 6) & kMask1) << 4);
    aux[0] = (aux[0] & kMask2) | (((tmp >> 0) & kMask1) << 4);
    aux[1] = (aux[1] & kMask2) | (((tmp >> 2) & kMask1) << 4);
    int8_t scales[16];
    std::memcpy(scales, aux, 16);
    int is = 0;
    for (int half = 0; half < 2; ++half) {
      const uint8_t* q = b->qs + 32 * half;
      for (int j = 0; j < 4; ++j) {
        const int hbit = 4 * half + j;
        for (int part = 0; part < 2; ++part, dst += 16) {
          const float dl = d_all * static_cast<float>(scales[is++] - 32);
          for (int e = 0; e < 16; e += nl) {
            const auto lo = hn::And(hn::ShiftRightSame(LoadBytes(q + 16 * part + e), 2 * j), three);
            const auto h =
                hn::And(hn::ShiftRightSame(LoadBytes(b->hmask + 16 * part + e), hbit), one);
            // q - 4 when the high bit is clear: q - 4 + 4 h.
            StoreScaled(hn::Add(lo, hn::Mul(h, four)), dl, -4.0f * dl, dst + e);
          }
        }
      }
    }
  }
}

HWY_INLINE void ScaleMinK4(int j, const uint8_t* q, int* sc, int* m) {
  if (j < 4) {
    *sc = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    *m = (q[j + 4] >> 4) | ((q[j - 0] >> 6) << 4);
  }
}

template <bool kHighBits>
void UnpackQ45_K(const uint8_t* row, int64_t k0, int64_t n, float* dst) {
  const DI di;
  const int nl = static_cast<int>(hn::Lanes(di));
  using Block = std::conditional_t<kHighBits, tensor::BlockQ5_K, tensor::BlockQ4_K>;
  const auto* b = Blocks<Block>(row, k0, tensor::kQK_K);
  const auto mask = hn::Set(di, 15);
  const auto one = hn::Set(di, 1);
  for (int64_t i = 0; i < n; i += tensor::kQK_K, ++b) {
    const float d = tensor::F16ToF32(b->d);
    const float dmin = tensor::F16ToF32(b->dmin);
    for (int j = 0; j < 4; ++j, dst += 64) {
      int sc1, m1, sc2, m2;
      ScaleMinK4(2 * j, b->scales, &sc1, &m1);
      ScaleMinK4(2 * j + 1, b->scales, &sc2, &m2);
      const float d1 = d * static_cast<float>(sc1), o1 = -dmin * static_cast<float>(m1);
      const float d2 = d * static_cast<float>(sc2), o2 = -dmin * static_cast<float>(m2);
      const uint8_t* q = b->qs + 32 * j;
      for (int e = 0; e < 32; e += nl) {
        const auto v = LoadBytes(q + e);
        auto lo = hn::And(v, mask);
        auto hi = hn::ShiftRight<4>(v);
        if constexpr (kHighBits) {
          const auto h = LoadBytes(b->qh + e);
          lo = hn::Or(lo, hn::ShiftLeft<4>(hn::And(hn::ShiftRightSame(h, 2 * j), one)));
          hi = hn::Or(hi, hn::ShiftLeft<4>(hn::And(hn::ShiftRightSame(h, 2 * j + 1), one)));
        }
        StoreScaled(lo, d1, o1, dst + e);
        StoreScaled(hi, d2, o2, dst + 32 + e);
      }
    }
  }
}

void UnpackQ6_K(const uint8_t* row, int64_t k0, int64_t n, float* dst) {
  const DI di;
  const int nl = static_cast<int>(hn::Lanes(di));
  const auto* b = Blocks<tensor::BlockQ6_K>(row, k0, tensor::kQK_K);
  const auto mask = hn::Set(di, 15);
  const auto three = hn::Set(di, 3);
  for (int64_t i = 0; i < n; i += tensor::kQK_K, ++b) {
    const float d = tensor::F16ToF32(b->d);
    for (int half = 0; half < 2; ++half, dst += 128) {
      const uint8_t* ql = b->ql + 64 * half;
      const uint8_t* qh = b->qh + 32 * half;
      const int8_t* sc = b->scales + 8 * half;
      for (int l = 0; l < 32; l += nl) {
        const int is = l / 16;
        const auto a = LoadBytes(ql + l);
        const auto c = LoadBytes(ql + 32 + l);
        const auto h = LoadBytes(qh + l);
        const auto q1 = hn::Or(hn::And(a, mask), hn::ShiftLeft<4>(hn::And(h, three)));
        const auto q2 =
            hn::Or(hn::And(c, mask), hn::ShiftLeft<4>(hn::And(hn::ShiftRight<2>(h), three)));
        const auto q3 =
            hn::Or(hn::ShiftRight<4>(a), hn::ShiftLeft<4>(hn::And(hn::ShiftRight<4>(h), three)));
        const auto q4 = hn::Or(hn::ShiftRight<4>(c), hn::ShiftLeft<4>(hn::ShiftRight<6>(h)));
        const float s1 = d * sc[is], s2 = d * sc[is + 2], s3 = d * sc[is + 4], s4 = d * sc[is + 6];
        StoreScaled(q1, s1, -32.0f * s1, dst + l);
        StoreScaled(q2, s2, -32.0f * s2, dst + 32 + l);
        StoreScaled(q3, s3, -32.0f * s3, dst + 64 + l);
        StoreScaled(q4, s4, -32.0f * s4, dst + 96 + l);
      }
    }
  }
}

// Elements [k0, k0 + n) of `row` to f32; k0 and n are multiples of the type's block (n may be
// any count for F32/F16/BF16).
void UnpackRow(GgmlType type, const uint8_t* row, int64_t k0, int64_t n, float* dst) {
  switch (type) {
    case GgmlType::kF32:
      std::memcpy(dst, reinterpret_cast<const float*>(row) + k0, n * sizeof(float));
      return;
    case GgmlType::kF16:
      return UnpackF16(reinterpret_cast<const uint16_t*>(row) + k0, n, dst);
    case GgmlType::kBF16:
      return UnpackBF16(reinterpret_cast<const uint16_t*>(row) + k0, n, dst);
    case GgmlType::kQ8_0:
      return UnpackQ8_0(row, k0, n, dst);
    case GgmlType::kQ4_0:
      return UnpackQ4<tensor::BlockQ4_0, false>(row, k0, n, dst);
    case GgmlType::kQ4_1:
      return UnpackQ4<tensor::BlockQ4_1, true>(row, k0, n, dst);
    case GgmlType::kQ5_0:
      return UnpackQ5<tensor::BlockQ5_0, false>(row, k0, n, dst);
    case GgmlType::kQ5_1:
      return UnpackQ5<tensor::BlockQ5_1, true>(row, k0, n, dst);
    case GgmlType::kQ2_K:
      return UnpackQ2_K(row, k0, n, dst);
    case GgmlType::kQ3_K:
      return UnpackQ3_K(row, k0, n, dst);
    case GgmlType::kQ4_K:
      return UnpackQ45_K<false>(row, k0, n, dst);
    case GgmlType::kQ5_K:
      return UnpackQ45_K<true>(row, k0, n, dst);
    case GgmlType::kQ6_K:
      return UnpackQ6_K(row, k0, n, dst);
    case GgmlType::kIQ4_NL:
      return UnpackIQ4NL(row, k0, n, dst);
    case GgmlType::kIQ4_XS:
      return UnpackIQ4XS(row, k0, n, dst);
    default: {
      // Not a weight type the dispatcher lets through; the scalar reference knows the rest.
      const size_t bytes = tensor::RowBytes(type, k0);
      tensor::DequantizeRow(type, row + bytes, dst, n);
      return;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Micro-kernel: c[i][j] (+)= sum_k w[i * ldw + k] * xp[k * xstride + j] for i < kMR and
// j < kVecs * lanes. AVX-512 has 32 registers: 6 x 4 accumulators + 4 activations + 1
// broadcast; the 16-register targets use 6 x 2.

constexpr size_t kMR = 6;
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3
constexpr size_t kNR = 4;
#else
constexpr size_t kNR = 2;
#endif

template <class D, size_t kVecs>
HWY_NOINLINE void MicroKernel(const float* HWY_RESTRICT w, size_t ldw, const float* HWY_RESTRICT xp,
                              size_t xstride, size_t kc, float* HWY_RESTRICT c, size_t ldc,
                              bool accumulate) {
  const D d;
  const size_t nl = hn::Lanes(d);
  using V = hn::Vec<D>;
  V acc[kMR][kVecs];
#pragma GCC unroll 16
  for (size_t i = 0; i < kMR; ++i) {
#pragma GCC unroll 16
    for (size_t j = 0; j < kVecs; ++j) acc[i][j] = hn::Zero(d);
  }
  for (size_t k = 0; k < kc; ++k) {
    V xv[kVecs];
#pragma GCC unroll 16
    for (size_t j = 0; j < kVecs; ++j) xv[j] = hn::Load(d, xp + k * xstride + j * nl);
#pragma GCC unroll 16
    for (size_t i = 0; i < kMR; ++i) {
      const V wv = hn::Set(d, w[i * ldw + k]);
#pragma GCC unroll 16
      for (size_t j = 0; j < kVecs; ++j) acc[i][j] = hn::MulAdd(wv, xv[j], acc[i][j]);
    }
  }
#pragma GCC unroll 16
  for (size_t i = 0; i < kMR; ++i) {
#pragma GCC unroll 16
    for (size_t j = 0; j < kVecs; ++j) {
      float* out = c + i * ldc + j * nl;
      hn::Store(accumulate ? hn::Add(acc[i][j], hn::Load(d, out)) : acc[i][j], d, out);
    }
  }
}

using KernelFn = void (*)(const float*, size_t, const float*, size_t, size_t, float*, size_t, bool);

// The kernel for a batch tile of `cols` columns (<= kNR vectors).
KernelFn KernelFor(int64_t cols) {
  using D = hn::ScalableTag<float>;
  const int64_t nl = static_cast<int64_t>(hn::Lanes(D()));
  static_assert(kNR == 2 || kNR == 4);
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3
  // A tail of <= 8 columns (batch 8, 72, ...) in 256-bit vectors: AVX-512 would waste half of
  // each 16-lane FMA on padding.
  if (cols <= 8) return &MicroKernel<hn::CappedTag<float, 8>, 1>;
#endif
  switch ((cols + nl - 1) / nl) {
    case 1:
      return &MicroKernel<D, 1>;
    case 2:
      return &MicroKernel<D, 2>;
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3
    case 3:
      return &MicroKernel<D, 3>;
    case 4:
      return &MicroKernel<D, 4>;
#endif
    default:
      HWY_ASSERT(false);
      return nullptr;
  }
}

// xp[bt][k][j] = x[(bt * nb + j) * ldx + k] for k < kc, zero for batch columns past nbatch.
// k outer so the stores are sequential; the nb source rows stay in L1 meanwhile.
void PackX(const float* HWY_RESTRICT x, int64_t ldx, int64_t nbatch, int64_t kc, int64_t nb,
           int64_t nl, float* HWY_RESTRICT xp) {
  constexpr size_t kMaxNB = kNR * HWY_LANES(float);
  const int64_t ntiles = (nbatch + nb - 1) / nb;
  for (int64_t bt = 0; bt < ntiles; ++bt) {
    float* HWY_RESTRICT panel = xp + bt * kc * nb;
    const int64_t valid = std::min<int64_t>(nb, nbatch - bt * nb);
    // Zeros up to the vector the micro-kernel reads; columns past it are never read.
    const int64_t used = std::min<int64_t>(nb, (valid + nl - 1) / nl * nl);
    const float* src[kMaxNB];
    for (int64_t j = 0; j < valid; ++j) src[j] = x + (bt * nb + j) * ldx;
    for (int64_t k = 0; k < kc; ++k) {
      float* HWY_RESTRICT dst = panel + k * nb;
      for (int64_t j = 0; j < valid; ++j) dst[j] = src[j][k];
      for (int64_t j = valid; j < used; ++j) dst[j] = 0.0f;
    }
  }
}

// K elements per slice: as many as keep the slice's packed activations within kPackedXBytes
// (about L2: every micro-tile of the row block reads them), within [kMinSlice, kMaxSlice].
// Long slices matter at small batch: each weight row is then read in long runs (F32 at batch 64
// ran 25% faster with whole 3840-element rows than with 256-element pieces).
constexpr int64_t kPackedXBytes = int64_t{1} << 20;
constexpr int64_t kMinSlice = 256;
constexpr int64_t kMaxSlice = 4096;
// Batch columns per pass (bounds the packed activations) and micro-tiles per row block (bounds
// the accumulation buffer: 384 * 6 rows x 512 columns x 4 bytes = 4.5 MiB).
constexpr int64_t kBatchChunk = 512;
constexpr int64_t kRowTiles = 384;

}  // namespace

void GemmRowsImpl(const Matrix& w, const float* x, int64_t ldx, int64_t batch, float* y,
                  int64_t ldy, int64_t row_begin, int64_t row_end) {
  const hn::ScalableTag<float> d;
  const int64_t nl = static_cast<int64_t>(hn::Lanes(d));
  const int64_t nb = static_cast<int64_t>(kNR) * nl;  // batch columns per micro-kernel
  const int64_t mr = static_cast<int64_t>(kMR);
  if (batch <= 0 || row_end <= row_begin) return;
  const int64_t cols = w.cols;
  const int64_t blk = tensor::BlockElements(w.type);
  const int64_t max_chunk = std::min<int64_t>(batch, kBatchChunk);
  const int64_t max_tiles = (max_chunk + nb - 1) / nb;
  const int64_t want = std::clamp<int64_t>(
      kPackedXBytes / (max_tiles * nb * static_cast<int64_t>(sizeof(float))), kMinSlice, kMaxSlice);
  const int64_t slice = std::max<int64_t>(blk, want / blk * blk);  // whole blocks, at least one
  const int64_t max_rows = std::min<int64_t>(row_end - row_begin, kRowTiles * mr);
  const int64_t max_rtiles = (max_rows + mr - 1) / mr;

  float* xp =
      gemm_internal::Scratch(gemm_internal::kScratchX, static_cast<size_t>(max_tiles * nb * slice));
  float* wbuf = gemm_internal::Scratch(gemm_internal::kScratchW, static_cast<size_t>(mr * slice));
  float* cb = gemm_internal::Scratch(gemm_internal::kScratchC,
                                     static_cast<size_t>(max_rtiles * mr * max_tiles * nb));
  const auto* wdata = static_cast<const uint8_t*>(w.data);

  for (int64_t b0 = 0; b0 < batch; b0 += kBatchChunk) {
    const int64_t nbatch = std::min<int64_t>(kBatchChunk, batch - b0);
    const int64_t ntiles = (nbatch + nb - 1) / nb;
    const int64_t ldc = ntiles * nb;
    for (int64_t r0 = row_begin; r0 < row_end; r0 += kRowTiles * mr) {
      const int64_t nrows = std::min<int64_t>(kRowTiles * mr, row_end - r0);
      const int64_t nrtiles = (nrows + mr - 1) / mr;
      for (int64_t k0 = 0; k0 < cols; k0 += slice) {
        const int64_t kc = std::min<int64_t>(slice, cols - k0);
        PackX(x + b0 * ldx + k0, ldx, nbatch, kc, nb, nl, xp);
        const size_t kbyte0 = tensor::RowBytes(w.type, k0);
        const size_t kbytes = tensor::RowBytes(w.type, kc);
        for (int64_t rt = 0; rt < nrtiles; ++rt) {
          const int64_t rbase = r0 + rt * mr;
          const int64_t rows_here = std::min<int64_t>(mr, row_end - rbase);
          // The next tile's weights come from DRAM (wide formats at small batch would stall on
          // them otherwise); one tile of compute hides the latency.
          const int64_t next_rows = std::min<int64_t>(mr, row_end - rbase - mr);
          for (int64_t i = 0; i < next_rows; ++i) {
            const uint8_t* p = wdata + static_cast<size_t>(rbase + mr + i) * w.row_bytes + kbyte0;
            for (size_t off = 0; off < kbytes; off += 64) hwy::Prefetch(p + off);
          }
          for (int64_t i = 0; i < rows_here; ++i) {
            UnpackRow(w.type, wdata + static_cast<size_t>(rbase + i) * w.row_bytes, k0, kc,
                      wbuf + i * slice);
          }
          for (int64_t i = rows_here; i < mr; ++i) {
            std::memset(wbuf + i * slice, 0, static_cast<size_t>(kc) * sizeof(float));
          }
          float* ctile = cb + rt * mr * ldc;
          for (int64_t bt = 0; bt < ntiles; ++bt) {
            const int64_t cols_here = std::min<int64_t>(nb, nbatch - bt * nb);
            KernelFor(cols_here)(wbuf, static_cast<size_t>(slice), xp + bt * kc * nb,
                                 static_cast<size_t>(nb), static_cast<size_t>(kc), ctile + bt * nb,
                                 static_cast<size_t>(ldc), k0 > 0);
          }
        }
      }
      // cb[r][b] -> y[b][r], in blocks of 16 rows so the reads stay within a few cache lines.
      for (int64_t rr = 0; rr < nrows; rr += 16) {
        const int64_t rn = std::min<int64_t>(16, nrows - rr);
        for (int64_t b = 0; b < nbatch; ++b) {
          float* dst = y + (b0 + b) * ldy + r0 + rr;
          const float* src = cb + rr * ldc + b;
          for (int64_t r = 0; r < rn; ++r) dst[r] = src[r * ldc];
        }
      }
    }
  }
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace loom::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <hwy/aligned_allocator.h>

namespace loom::kernels {

namespace gemm_internal {

float* Scratch(int slot, size_t floats) {
  struct Buffer {
    hwy::AlignedFreeUniquePtr<float[]> data;
    size_t size = 0;
  };
  thread_local Buffer buffers[kScratchSlots];
  Buffer& buf = buffers[slot];
  if (buf.size < floats) {
    buf.data = hwy::AllocateAligned<float>(floats);
    LOOM_CHECK(buf.data != nullptr);
    buf.size = floats;
  }
  return buf.data.get();
}

}  // namespace gemm_internal

HWY_EXPORT(GemmRowsImpl);

void GemmRows(const Matrix& w, const float* x, int64_t ldx, int64_t batch, float* y, int64_t ldy,
              int64_t row_begin, int64_t row_end) {
  LOOM_CHECK(row_begin >= 0 && row_end <= w.rows);
  LOOM_CHECK(batch <= 1 || (ldx >= w.cols && ldy >= w.rows));
  HWY_DYNAMIC_DISPATCH(GemmRowsImpl)(w, x, ldx, batch, y, ldy, row_begin, row_end);
}

}  // namespace loom::kernels
#endif  // HWY_ONCE
