// Decode kernels for the 256-element super-block formats: Q2_K, Q3_K, Q4_K, Q5_K, Q6_K and
// IQ4_XS. Each super-block is walked as 8 sub-blocks of 32 (matvec-inl.h); the 16-element
// sub-scales of Q2_K, Q3_K and Q6_K are applied to the two int32 halves of a sub-block.
#include <cstring>
#include <type_traits>

#include "base/status.h"
#include "kernels/matvec.h"
#include "tensor/fp16.h"
#include "tensor/quant.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/matvec_qk.cc"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include "kernels/matvec-inl.h"

HWY_BEFORE_NAMESPACE();
namespace loom::kernels::HWY_NAMESPACE {

using namespace mv;  // NOLINT(build/namespaces): the shared building blocks
using tensor::kQK_K;

namespace {

template <class Block, class BlockDot>
void RowsK(const Matrix& w, const QuantizedActs& qa, int64_t batch, float* y, int64_t ldy,
           int64_t r0, int64_t r1, const BlockDot& block_dot) {
  ForRows<Block>(w, qa, batch, y, ldy, r0, r1, kQK_K, block_dot);
}

// The 8 6-bit scales (out[0..8)) and 8 mins (out[8..16)) of Q4_K / Q5_K (ggml's kmask
// shuffle, equivalent to get_scale_min_k4).
HWY_INLINE void ScalesMinsK4(const uint8_t* packed, uint8_t* out) {
  constexpr uint32_t kMask1 = 0x3f3f3f3f, kMask2 = 0x0f0f0f0f, kMask3 = 0x03030303;
  uint32_t u[4];
  std::memcpy(u, packed, 12);
  u[3] = ((u[2] >> 4) & kMask2) | (((u[1] >> 6) & kMask3) << 4);
  const uint32_t mins_lo = u[1] & kMask1;
  u[1] = (u[2] & kMask2) | (((u[0] >> 6) & kMask3) << 4);
  u[2] = mins_lo;
  u[0] &= kMask1;
  std::memcpy(out, u, 16);
}

// Unpacked 16 6-bit scales of Q3_K, offset by -32 (ggml's kmask shuffle).
HWY_INLINE void ScalesQ3K(const uint8_t* packed, int8_t* scales) {
  constexpr uint32_t kMask1 = 0x03030303, kMask2 = 0x0f0f0f0f;
  uint32_t aux[4];
  std::memcpy(aux, packed, 12);
  const uint32_t tmp = aux[2];
  aux[2] = ((aux[0] >> 4) & kMask2) | (((tmp >> 4) & kMask1) << 4);
  aux[3] = ((aux[1] >> 4) & kMask2) | (((tmp >> 6) & kMask1) << 4);
  aux[0] = (aux[0] & kMask2) | (((tmp >> 0) & kMask1) << 4);
  aux[1] = (aux[1] & kMask2) | (((tmp >> 2) & kMask1) << 4);
  std::memcpy(scales, aux, 16);
  for (int i = 0; i < 16; ++i) scales[i] = static_cast<int8_t>(scales[i] - 32);
}

// Bits [shift, shift + 2) of each byte.
HWY_INLINE V16 Crumb(const uint8_t* p, int shift) {
  return hn::And(hn::ShiftRightSame(LoadU8(p), shift), hn::Set(D16(), 3));
}

}  // namespace

void MatVecRowsQKImpl(const Matrix& w, const QuantizedActs& qa, int64_t batch, float* y,
                      int64_t ldy, int64_t r0, int64_t r1) {
  using tensor::GgmlType;
  switch (w.type) {
    case GgmlType::kQ2_K:
      RowsK<tensor::BlockQ2_K>(
          w, qa, batch, y, ldy, r0, r1,
          [](const tensor::BlockQ2_K& blk, const auto& c, int64_t e0, VF* acc, float* sacc) {
            const float d = HalfToFloat(blk.d), dmin = HalfToFloat(blk.dmin);
            for (int h = 0; h < 2; ++h) {
              const uint8_t* q = blk.qs + 32 * h;
              for (int j = 0; j < 4; ++j) {
                const int64_t e = e0 + 128 * h + 32 * j;
                const uint8_t sc0 = blk.scales[8 * h + 2 * j], sc1 = blk.scales[8 * h + 2 * j + 1];
                const auto unpack = [&](size_t i, V16& lo, V16& hi) {
                  lo = Crumb(q + i, 2 * j);
                  hi = Crumb(q + 16 + i, 2 * j);
                };
                Sub16x2(unpack, c, e, sc0 & 15, sc1 & 15, d, acc + (j & 1) * kMaxCols);
                for (int b = 0; b < std::remove_cvref_t<decltype(c)>::kNB; ++b) {
                  sacc[b] -=
                      dmin * ((sc0 >> 4) * c.s16[b][e / 16] + (sc1 >> 4) * c.s16[b][e / 16 + 1]);
                }
              }
            }
          });
      break;
    case GgmlType::kQ3_K:
      RowsK<tensor::BlockQ3_K>(
          w, qa, batch, y, ldy, r0, r1,
          [](const tensor::BlockQ3_K& blk, const auto& c, int64_t e0, VF* acc, float*) {
            const float d = HalfToFloat(blk.d);
            int8_t scales[16];
            ScalesQ3K(blk.scales, scales);
            for (int h = 0; h < 2; ++h) {
              const uint8_t* q = blk.qs + 32 * h;
              for (int j = 0; j < 4; ++j) {
                const int64_t e = e0 + 128 * h + 32 * j;
                const int16_t m = static_cast<int16_t>(1 << (4 * h + j));
                // q - 4 where the hmask bit is clear: q - (4 - 4 * bit).
                const auto unpack = [&](size_t i, V16& lo, V16& hi) {
                  const V16 k4 = hn::Set(D16(), 4);
                  lo = hn::Sub(Crumb(q + i, 2 * j),
                               hn::Sub(k4, MaskToValue(LoadU8(blk.hmask + i), m, 4)));
                  hi = hn::Sub(Crumb(q + 16 + i, 2 * j),
                               hn::Sub(k4, MaskToValue(LoadU8(blk.hmask + 16 + i), m, 4)));
                };
                Sub16x2(unpack, c, e, scales[8 * h + 2 * j], scales[8 * h + 2 * j + 1], d,
                        acc + (j & 1) * kMaxCols);
              }
            }
          });
      break;
    case GgmlType::kQ4_K:
      RowsK<tensor::BlockQ4_K>(
          w, qa, batch, y, ldy, r0, r1,
          [](const tensor::BlockQ4_K& blk, const auto& c, int64_t e0, VF* acc, float*) {
            constexpr int kNB = std::remove_cvref_t<decltype(c)>::kNB;
            uint8_t sm[16];
            ScalesMinsK4(blk.scales, sm);
            alignas(32) float scales[8 * kNB];
            PrepareK8(c, e0, sm, sm + 8, HalfToFloat(blk.d), HalfToFloat(blk.dmin), scales,
                      acc + kMaxCols);
            for (int j = 0; j < 4; ++j) {
              const uint8_t* q = blk.qs + 32 * j;
              const auto unpack_lo = [&](size_t i, V16& lo, V16& hi) {
                lo = Lo4(LoadU8(q + i));
                hi = Lo4(LoadU8(q + 16 + i));
              };
              const auto unpack_hi = [&](size_t i, V16& lo, V16& hi) {
                lo = Hi4(LoadU8(q + i));
                hi = Hi4(LoadU8(q + 16 + i));
              };
              Sub32Pre(unpack_lo, c, e0 + 64 * j, scales + 2 * j, acc);
              Sub32Pre(unpack_hi, c, e0 + 64 * j + 32, scales + 2 * j + 1, acc + kMaxCols);
            }
          });
      break;
    case GgmlType::kQ5_K:
      RowsK<tensor::BlockQ5_K>(
          w, qa, batch, y, ldy, r0, r1,
          [](const tensor::BlockQ5_K& blk, const auto& c, int64_t e0, VF* acc, float*) {
            constexpr int kNB = std::remove_cvref_t<decltype(c)>::kNB;
            uint8_t sm[16];
            ScalesMinsK4(blk.scales, sm);
            alignas(32) float scales[8 * kNB];
            PrepareK8(c, e0, sm, sm + 8, HalfToFloat(blk.d), HalfToFloat(blk.dmin), scales,
                      acc + kMaxCols);
            for (int j = 0; j < 4; ++j) {
              const uint8_t* q = blk.qs + 32 * j;
              const int16_t u0 = static_cast<int16_t>(1 << (2 * j));
              const int16_t u1 = static_cast<int16_t>(u0 << 1);
              const auto unpack_lo = [&](size_t i, V16& lo, V16& hi) {
                lo = hn::Add(Lo4(LoadU8(q + i)), MaskToValue(LoadU8(blk.qh + i), u0, 16));
                hi = hn::Add(Lo4(LoadU8(q + 16 + i)), MaskToValue(LoadU8(blk.qh + 16 + i), u0, 16));
              };
              const auto unpack_hi = [&](size_t i, V16& lo, V16& hi) {
                lo = hn::Add(Hi4(LoadU8(q + i)), MaskToValue(LoadU8(blk.qh + i), u1, 16));
                hi = hn::Add(Hi4(LoadU8(q + 16 + i)), MaskToValue(LoadU8(blk.qh + 16 + i), u1, 16));
              };
              Sub32Pre(unpack_lo, c, e0 + 64 * j, scales + 2 * j, acc);
              Sub32Pre(unpack_hi, c, e0 + 64 * j + 32, scales + 2 * j + 1, acc + kMaxCols);
            }
          });
      break;
    case GgmlType::kQ6_K:
      RowsK<tensor::BlockQ6_K>(
          w, qa, batch, y, ldy, r0, r1,
          [](const tensor::BlockQ6_K& blk, const auto& c, int64_t e0, VF* acc, float*) {
            const float d = HalfToFloat(blk.d);
            for (int h = 0; h < 2; ++h) {
              const uint8_t* ql = blk.ql + 64 * h;
              const uint8_t* qh = blk.qh + 32 * h;
              for (int k = 0; k < 4; ++k) {
                const uint8_t* qlk = ql + 32 * (k & 1);
                const int nib_shift = 4 * (k >> 1);
                // (nibble | crumb << 4) - 32
                const auto unpack = [&](size_t i, V16& lo, V16& hi) {
                  const V16 k15 = hn::Set(D16(), 15), k32 = hn::Set(D16(), 32);
                  const V16 nl = hn::And(hn::ShiftRightSame(LoadU8(qlk + i), nib_shift), k15);
                  const V16 nh = hn::And(hn::ShiftRightSame(LoadU8(qlk + 16 + i), nib_shift), k15);
                  lo = hn::Sub(hn::Or(nl, hn::ShiftLeft<4>(Crumb(qh + i, 2 * k))), k32);
                  hi = hn::Sub(hn::Or(nh, hn::ShiftLeft<4>(Crumb(qh + 16 + i, 2 * k))), k32);
                };
                Sub16x2(unpack, c, e0 + 128 * h + 32 * k, blk.scales[8 * h + 2 * k],
                        blk.scales[8 * h + 2 * k + 1], d, acc + (k & 1) * kMaxCols);
              }
            }
          });
      break;
    case GgmlType::kIQ4_XS:
      RowsK<tensor::BlockIQ4_XS>(
          w, qa, batch, y, ldy, r0, r1,
          [](const tensor::BlockIQ4_XS& blk, const auto& c, int64_t e0, VF* acc, float*) {
            const float d = HalfToFloat(blk.d);
            for (int ib = 0; ib < 8; ++ib) {
              const int ls = ((blk.scales_l[ib / 2] >> (4 * (ib % 2))) & 0xf) |
                             (((blk.scales_h >> (2 * ib)) & 3) << 4);
              const uint8_t* qs = blk.qs + 16 * ib;
              const auto unpack = [&](size_t i, V16& lo, V16& hi) {
                lo = LookupIQ4(qs, i, false);
                hi = LookupIQ4(qs, i, true);
              };
              Sub32(unpack, c, e0 + 32 * ib, d * static_cast<float>(ls - 32),
                    acc + (ib & 1) * kMaxCols);
            }
          });
      break;
    default:
      LOOM_CHECK(false && "not a super-block format");
  }
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace loom::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace loom::kernels {

HWY_EXPORT(MatVecRowsQKImpl);

void MatVecRowsQK(const Matrix& w, const QuantizedActs& qa, int64_t batch, float* y, int64_t ldy,
                  int64_t row_begin, int64_t row_end) {
  HWY_DYNAMIC_DISPATCH(MatVecRowsQKImpl)(w, qa, batch, y, ldy, row_begin, row_end);
}

}  // namespace loom::kernels
#endif  // HWY_ONCE
