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

}  // namespace

void MatVecRowsQ32Impl(const Matrix& w, const QuantizedActs& qa, int64_t batch, float* y,
                       int64_t ldy, int64_t r0, int64_t r1) {
  using tensor::GgmlType;
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
