// Decode kernels for the 32-element block formats: Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL.
#include <cstring>

#include "base/status.h"
#include "kernels/matvec.h"
#include "tensor/fp16.h"
#include "tensor/quant.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/matvec_q32.cc"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include "kernels/matvec-inl.h"

HWY_BEFORE_NAMESPACE();
namespace loom::kernels::HWY_NAMESPACE {

using namespace mv;  // NOLINT(build/namespaces): the shared building blocks

namespace {

template <class Block, class BlockDot>
void Rows32(const Matrix& w, const QuantizedActs& qa, int64_t batch, float* y, int64_t ldy,
            int64_t r0, int64_t r1, const BlockDot& block_dot) {
  ForRows<Block>(w, qa, batch, y, ldy, r0, r1, tensor::kQK, block_dot);
}

// Offsets of the Q4_1 / Q5_1 blocks: m * sum(x) per column.
template <class C>
HWY_INLINE void AddOffset(const C& c, int64_t e, float m, float* sacc) {
  for (int b = 0; b < C::kNB; ++b) sacc[b] += m * Sum32(c, b, e);
}

#if HWY_TARGET == HWY_AVX3
// AVX-512 path: a whole 32-element block is one vector of 32 int16 weights (Highway 1.0.3 has
// no mask-register or byte-shuffle ops for this, hence raw intrinsics), dotted with the
// activations in one vpmaddwd: measured on Zen 4, one thread, Q5_0 640 columns ~6 -> ~11 GB/s
// and Q8_0 15360 columns ~7 -> ~10 GB/s over the 256-bit Highway path.
//
// Rows longer than kPairRowsAbove (activations over half of L1) go two at a time, so that the
// second row finds the activations in L1: measured on Zen 4, one thread, Q8_0 15360 columns
// 10.4 -> 12.5 GB/s. Shorter rows stay one at a time: pairing 640-column rows dropped the
// 262144-row output layer from ~14 to ~8.5 GB/s (the two interleaved streams defeat the
// hardware prefetcher), and 4 rows at once with a transpose-and-add reduction was slower still.
constexpr int64_t kPairRowsAbove = 8192;

// Bytes of qs[0..16) as 32 nibbles in element order: the low nibbles (elements 0..15), then
// the high ones (16..31), each 0..15.
HWY_INLINE __m256i Nibbles32(const uint8_t* qs) {
  const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m256i both = _mm256_inserti128_si256(_mm256_castsi128_si256(q), _mm_srli_epi16(q, 4), 1);
  return _mm256_and_si256(both, _mm256_set1_epi8(15));
}

HWY_INLINE uint32_t LoadQh(const uint8_t* qh) {
  uint32_t v;
  std::memcpy(&v, qh, 4);
  return v;
}

// weights(blk) -> 32 int16 weights of a block, scale(blk) -> its float scale, offset(blk) ->
// its float offset (added times the sum of the activations) or 0.
template <class Block, int NB, int R, class Weights, class Scale, class Offset>
HWY_INLINE void WideGroup(const Matrix& w, const QuantizedActs& qa, int64_t col0, int64_t r,
                          float* y, int64_t ldy, const Weights& weights, const Scale& scale,
                          const Offset& offset) {
  const int64_t nblocks = w.cols / 32;
  const int64_t nq = qa.cols / 32;
  const Block* rows[R];
  for (int i = 0; i < R; ++i) {
    rows[i] =
        reinterpret_cast<const Block*>(static_cast<const uint8_t*>(w.data) + (r + i) * w.row_bytes);
  }
  const int16_t* q = qa.q + col0 * qa.cols;
  const float* dx = qa.d + col0 * nq;
  const float* sx = qa.s32 + col0 * nq;
  __m512 acc[NB * R];
  float sacc[NB * R] = {};
  for (auto& a : acc) a = _mm512_setzero_ps();
  for (int64_t ib = 0; ib < nblocks; ++ib) {
    __m512i xq[NB];
    for (int b = 0; b < NB; ++b) xq[b] = _mm512_loadu_si512(q + b * qa.cols + 32 * ib);
    for (int i = 0; i < R; ++i) {
      const Block& blk = rows[i][ib];
      // The group reads R rows side by side, so look as far ahead in each as one row does.
      const uint8_t* ahead = reinterpret_cast<const uint8_t*>(&blk) + R * kPrefetchBytes;
      __builtin_prefetch(ahead);
      const __m512i wq = weights(blk);
      const float dw = scale(blk), m = offset(blk);
      for (int b = 0; b < NB; ++b) {
        const __m512 p = _mm512_cvtepi32_ps(_mm512_madd_epi16(wq, xq[b]));
        acc[b * R + i] = _mm512_fmadd_ps(p, _mm512_set1_ps(dw * dx[b * nq + ib]), acc[b * R + i]);
        sacc[b * R + i] += m * sx[b * nq + ib];
      }
    }
  }
  for (int b = 0; b < NB; ++b) {
    for (int i = 0; i < R; ++i) {
      y[(col0 + b) * ldy + r + i] = _mm512_reduce_add_ps(acc[b * R + i]) + sacc[b * R + i];
    }
  }
}

template <class Block, class Weights, class Scale, class Offset>
void RowsWide(const Matrix& w, const QuantizedActs& qa, int64_t batch, float* y, int64_t ldy,
              int64_t r0, int64_t r1, const Weights& weights, const Scale& scale,
              const Offset& offset) {
  const auto group = [&]<int NB, int R>(int64_t col0, int64_t r) {
    WideGroup<Block, NB, R>(w, qa, col0, r, y, ldy, weights, scale, offset);
  };
  if (batch == 1 && w.cols > kPairRowsAbove) {
    int64_t r = r0;
    for (; r + 2 <= r1; r += 2) group.template operator()<1, 2>(0, r);
    if (r < r1) group.template operator()<1, 1>(0, r);
    return;
  }
  for (int64_t r = r0; r < r1; ++r) {
    for (int64_t col0 = 0; col0 < batch; col0 += kMaxCols) {
      switch (batch - col0) {
        case 1:
          group.template operator()<1, 1>(col0, r);
          break;
        case 2:
          group.template operator()<2, 1>(col0, r);
          break;
        case 3:
          group.template operator()<3, 1>(col0, r);
          break;
        default:
          group.template operator()<4, 1>(col0, r);
          break;
      }
    }
  }
}

// The 32 int8 weights w8 sign-extended, in element order.
HWY_INLINE __m512i Widen(__m256i w8) { return _mm512_cvtepi8_epi16(w8); }

bool Q32Wide(const Matrix& w, const QuantizedActs& qa, int64_t batch, float* y, int64_t ldy,
             int64_t r0, int64_t r1) {
  using tensor::GgmlType;
  const auto d = [](const auto& blk) { return HalfToFloat(blk.d); };
  const auto m = [](const auto& blk) { return HalfToFloat(blk.m); };
  const auto no_m = [](const auto&) { return 0.0f; };
  switch (w.type) {
    case GgmlType::kQ8_0:
      RowsWide<tensor::BlockQ8_0>(
          w, qa, batch, y, ldy, r0, r1,
          [](const tensor::BlockQ8_0& blk) {
            return Widen(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk.qs)));
          },
          d, no_m);
      return true;
    case GgmlType::kQ4_0:
      RowsWide<tensor::BlockQ4_0>(
          w, qa, batch, y, ldy, r0, r1,
          [](const tensor::BlockQ4_0& blk) {
            return Widen(_mm256_sub_epi8(Nibbles32(blk.qs), _mm256_set1_epi8(8)));
          },
          d, no_m);
      return true;
    case GgmlType::kQ4_1:
      RowsWide<tensor::BlockQ4_1>(
          w, qa, batch, y, ldy, r0, r1,
          [](const tensor::BlockQ4_1& blk) { return Widen(Nibbles32(blk.qs)); }, d, m);
      return true;
    case GgmlType::kQ5_0:
      // Bit i of qh is the fifth bit of element i: one mask register. Weight = nibble + 16 *
      // bit - 16, i.e. nibble - 16 where the bit is clear.
      RowsWide<tensor::BlockQ5_0>(
          w, qa, batch, y, ldy, r0, r1,
          [](const tensor::BlockQ5_0& blk) {
            const __m256i nib = Nibbles32(blk.qs);
            const __mmask32 clear = static_cast<__mmask32>(~LoadQh(blk.qh));
            return Widen(_mm256_mask_sub_epi8(nib, clear, nib, _mm256_set1_epi8(16)));
          },
          d, no_m);
      return true;
    case GgmlType::kQ5_1:
      RowsWide<tensor::BlockQ5_1>(
          w, qa, batch, y, ldy, r0, r1,
          [](const tensor::BlockQ5_1& blk) {
            const __m256i nib = Nibbles32(blk.qs);
            const __mmask32 set = static_cast<__mmask32>(LoadQh(blk.qh));
            return Widen(_mm256_mask_add_epi8(nib, set, nib, _mm256_set1_epi8(16)));
          },
          d, m);
      return true;
    case GgmlType::kIQ4_NL:
      RowsWide<tensor::BlockIQ4_NL>(
          w, qa, batch, y, ldy, r0, r1,
          [](const tensor::BlockIQ4_NL& blk) {
            const __m256i table = _mm256_broadcastsi128_si256(
                _mm_loadu_si128(reinterpret_cast<const __m128i*>(tensor::kIQ4NLValues)));
            return Widen(_mm256_shuffle_epi8(table, Nibbles32(blk.qs)));
          },
          d, no_m);
      return true;
    default:
      return false;
  }
}
#endif  // HWY_TARGET == HWY_AVX3

}  // namespace

void MatVecRowsQ32Impl(const Matrix& w, const QuantizedActs& qa, int64_t batch, float* y,
                       int64_t ldy, int64_t r0, int64_t r1) {
  using tensor::GgmlType;
#if HWY_TARGET == HWY_AVX3
  if (Q32Wide(w, qa, batch, y, ldy, r0, r1)) return;
#endif
  switch (w.type) {
    case GgmlType::kQ8_0:
      Rows32<tensor::BlockQ8_0>(
          w, qa, batch, y, ldy, r0, r1,
          [](const tensor::BlockQ8_0& blk, const auto& c, int64_t e, VF* acc, float*) {
            const auto unpack = [&](size_t i, V16& lo, V16& hi) {
              lo = LoadI8(blk.qs + i);
              hi = LoadI8(blk.qs + 16 + i);
            };
            Sub32(unpack, c, e, HalfToFloat(blk.d), acc);
          });
      break;
    case GgmlType::kQ4_0:
      Rows32<tensor::BlockQ4_0>(
          w, qa, batch, y, ldy, r0, r1,
          [](const tensor::BlockQ4_0& blk, const auto& c, int64_t e, VF* acc, float*) {
            const auto unpack = [&](size_t i, V16& lo, V16& hi) {
              const V16 v = LoadU8(blk.qs + i);
              const V16 k8 = hn::Set(D16(), 8);
              lo = hn::Sub(Lo4(v), k8);
              hi = hn::Sub(Hi4(v), k8);
            };
            Sub32(unpack, c, e, HalfToFloat(blk.d), acc);
          });
      break;
    case GgmlType::kQ4_1:
      Rows32<tensor::BlockQ4_1>(
          w, qa, batch, y, ldy, r0, r1,
          [](const tensor::BlockQ4_1& blk, const auto& c, int64_t e, VF* acc, float* sacc) {
            const auto unpack = [&](size_t i, V16& lo, V16& hi) {
              const V16 v = LoadU8(blk.qs + i);
              lo = Lo4(v);
              hi = Hi4(v);
            };
            Sub32(unpack, c, e, HalfToFloat(blk.d), acc);
            AddOffset(c, e, HalfToFloat(blk.m), sacc);
          });
      break;
    case GgmlType::kQ5_0:
      Rows32<tensor::BlockQ5_0>(
          w, qa, batch, y, ldy, r0, r1,
          [](const tensor::BlockQ5_0& blk, const auto& c, int64_t e, VF* acc, float*) {
            uint32_t qh;
            std::memcpy(&qh, blk.qh, 4);
            // 16 - 16 * bit: the sign offset and the fifth bit together.
            const auto unpack = [&](size_t i, V16& lo, V16& hi) {
              const V16 v = LoadU8(blk.qs + i);
              const V16 k16 = hn::Set(D16(), 16);
              lo = hn::Sub(Lo4(v), hn::Sub(k16, BitsToValue(qh, i, 16)));
              hi = hn::Sub(Hi4(v), hn::Sub(k16, BitsToValue(qh >> 16, i, 16)));
            };
            Sub32(unpack, c, e, HalfToFloat(blk.d), acc);
          });
      break;
    case GgmlType::kQ5_1:
      Rows32<tensor::BlockQ5_1>(
          w, qa, batch, y, ldy, r0, r1,
          [](const tensor::BlockQ5_1& blk, const auto& c, int64_t e, VF* acc, float* sacc) {
            uint32_t qh;
            std::memcpy(&qh, blk.qh, 4);
            const auto unpack = [&](size_t i, V16& lo, V16& hi) {
              const V16 v = LoadU8(blk.qs + i);
              lo = hn::Add(Lo4(v), BitsToValue(qh, i, 16));
              hi = hn::Add(Hi4(v), BitsToValue(qh >> 16, i, 16));
            };
            Sub32(unpack, c, e, HalfToFloat(blk.d), acc);
            AddOffset(c, e, HalfToFloat(blk.m), sacc);
          });
      break;
    case GgmlType::kIQ4_NL:
      Rows32<tensor::BlockIQ4_NL>(
          w, qa, batch, y, ldy, r0, r1,
          [](const tensor::BlockIQ4_NL& blk, const auto& c, int64_t e, VF* acc, float*) {
            const auto unpack = [&](size_t i, V16& lo, V16& hi) {
              lo = LookupIQ4(blk.qs, i, false);
              hi = LookupIQ4(blk.qs, i, true);
            };
            Sub32(unpack, c, e, HalfToFloat(blk.d), acc);
          });
      break;
    default:
      LOOM_CHECK(false && "not a 32-element block format");
  }
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace loom::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace loom::kernels {

HWY_EXPORT(MatVecRowsQ32Impl);

void MatVecRowsQ32(const Matrix& w, const QuantizedActs& qa, int64_t batch, float* y, int64_t ldy,
                   int64_t row_begin, int64_t row_end) {
  HWY_DYNAMIC_DISPATCH(MatVecRowsQ32Impl)(w, qa, batch, y, ldy, row_begin, row_end);
}

}  // namespace loom::kernels
#endif  // HWY_ONCE
