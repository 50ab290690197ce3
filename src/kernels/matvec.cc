// Decode kernels for the float formats (F32, F16, BF16: converted to f32 and multiplied with
// f32 FMAs), activation quantization for the integer kernels, and the format dispatch.
#include "kernels/matvec.h"

#include <cmath>
#include <cstring>

#include "base/status.h"
#include "tensor/fp16.h"
#include "tensor/quant.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/matvec.cc"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

HWY_BEFORE_NAMESPACE();
namespace loom::kernels::HWY_NAMESPACE {
namespace {

namespace hn = hwy::HWY_NAMESPACE;

constexpr int kMaxCols = 4;

using DF = hn::ScalableTag<float>;
using VF = hn::Vec<DF>;

template <tensor::GgmlType kType>
struct FloatWeights;
template <>
struct FloatWeights<tensor::GgmlType::kF32> {
  using T = float;
  static HWY_INLINE VF Load(const T* p) { return hn::LoadU(DF(), p); }
  static float Scalar(T v) { return v; }
};
template <>
struct FloatWeights<tensor::GgmlType::kF16> {
  using T = hwy::float16_t;
  static HWY_INLINE VF Load(const T* p) {
    return hn::PromoteTo(DF(), hn::LoadU(hn::Rebind<T, DF>(), p));
  }
  static float Scalar(T v) {
    uint16_t bits;
    std::memcpy(&bits, &v, 2);
    return tensor::F16ToF32(bits);
  }
};
template <>
struct FloatWeights<tensor::GgmlType::kBF16> {
  using T = hwy::bfloat16_t;
  static HWY_INLINE VF Load(const T* p) {
    return hn::PromoteTo(DF(), hn::LoadU(hn::Rebind<T, DF>(), p));
  }
  static float Scalar(T v) {
    uint16_t bits;
    std::memcpy(&bits, &v, 2);
    return tensor::BF16ToF32(bits);
  }
};

// NB columns of one row, two vectors per step so that batch 1 has two FMA chains.
template <class W, int NB>
HWY_INLINE void RowFloat(const typename W::T* row, int64_t cols, const float* x, int64_t ldx,
                         float* out) {
  const DF df;
  const int64_t n = static_cast<int64_t>(hn::Lanes(df));
  VF acc0[NB], acc1[NB];
  for (int b = 0; b < NB; ++b) acc0[b] = acc1[b] = hn::Zero(df);
  int64_t c = 0;
  for (; c + 2 * n <= cols; c += 2 * n) {
    const VF w0 = W::Load(row + c), w1 = W::Load(row + c + n);
    for (int b = 0; b < NB; ++b) {
      acc0[b] = hn::MulAdd(w0, hn::LoadU(df, x + b * ldx + c), acc0[b]);
      acc1[b] = hn::MulAdd(w1, hn::LoadU(df, x + b * ldx + c + n), acc1[b]);
    }
  }
  for (; c + n <= cols; c += n) {
    const VF w0 = W::Load(row + c);
    for (int b = 0; b < NB; ++b) acc0[b] = hn::MulAdd(w0, hn::LoadU(df, x + b * ldx + c), acc0[b]);
  }
  for (int b = 0; b < NB; ++b) {
    float sum = hn::GetLane(hn::SumOfLanes(df, hn::Add(acc0[b], acc1[b])));
    for (int64_t k = c; k < cols; ++k) sum += W::Scalar(row[k]) * x[b * ldx + k];
    out[b] = sum;
  }
}

// Two rows of one column: x is loaded once for both (long rows' x does not stay in L1:
// 60 KB for 15360 columns).
template <class W>
HWY_INLINE void TwoRowsFloat(const typename W::T* row0, const typename W::T* row1, int64_t cols,
                             const float* x, float* out0, float* out1) {
  const DF df;
  const int64_t n = static_cast<int64_t>(hn::Lanes(df));
  VF a0 = hn::Zero(df), a1 = hn::Zero(df), b0 = hn::Zero(df), b1 = hn::Zero(df);
  int64_t c = 0;
  for (; c + 2 * n <= cols; c += 2 * n) {
    const VF x0 = hn::LoadU(df, x + c), x1 = hn::LoadU(df, x + c + n);
    a0 = hn::MulAdd(W::Load(row0 + c), x0, a0);
    a1 = hn::MulAdd(W::Load(row0 + c + n), x1, a1);
    b0 = hn::MulAdd(W::Load(row1 + c), x0, b0);
    b1 = hn::MulAdd(W::Load(row1 + c + n), x1, b1);
  }
  for (; c + n <= cols; c += n) {
    const VF x0 = hn::LoadU(df, x + c);
    a0 = hn::MulAdd(W::Load(row0 + c), x0, a0);
    b0 = hn::MulAdd(W::Load(row1 + c), x0, b0);
  }
  float sa = hn::GetLane(hn::SumOfLanes(df, hn::Add(a0, a1)));
  float sb = hn::GetLane(hn::SumOfLanes(df, hn::Add(b0, b1)));
  for (int64_t k = c; k < cols; ++k) {
    sa += W::Scalar(row0[k]) * x[k];
    sb += W::Scalar(row1[k]) * x[k];
  }
  *out0 = sa;
  *out1 = sb;
}

template <class W>
void RowsFloat(const Matrix& w, const float* x, int64_t ldx, int64_t batch, float* y, int64_t ldy,
               int64_t r0, int64_t r1) {
  for (int64_t r = r0; r < r1; ++r) {
    const auto* row = reinterpret_cast<const typename W::T*>(static_cast<const uint8_t*>(w.data) +
                                                             r * w.row_bytes);
    for (int64_t col0 = 0; col0 < batch; col0 += kMaxCols) {
      const int64_t nb = batch - col0 < kMaxCols ? batch - col0 : kMaxCols;
      const float* xc = x + col0 * ldx;
      float out[kMaxCols];
      switch (nb) {
        case 1:
          RowFloat<W, 1>(row, w.cols, xc, ldx, out);
          break;
        case 2:
          RowFloat<W, 2>(row, w.cols, xc, ldx, out);
          break;
        case 3:
          RowFloat<W, 3>(row, w.cols, xc, ldx, out);
          break;
        default:
          RowFloat<W, 4>(row, w.cols, xc, ldx, out);
          break;
      }
      for (int64_t b = 0; b < nb; ++b) y[(col0 + b) * ldy + r] = out[b];
    }
  }
}

}  // namespace

void MatVecRowsFloatImpl(const Matrix& w, const float* x, int64_t ldx, int64_t batch, float* y,
                         int64_t ldy, int64_t r0, int64_t r1) {
  using tensor::GgmlType;
  switch (w.type) {
    case GgmlType::kF32:
      return RowsFloat<FloatWeights<GgmlType::kF32>>(w, x, ldx, batch, y, ldy, r0, r1);
    case GgmlType::kF16:
      return RowsFloat<FloatWeights<GgmlType::kF16>>(w, x, ldx, batch, y, ldy, r0, r1);
    case GgmlType::kBF16:
      return RowsFloat<FloatWeights<GgmlType::kBF16>>(w, x, ldx, batch, y, ldy, r0, r1);
    default:
      LOOM_CHECK(false && "not a float format");
  }
}

// Per 32 elements: d = max|x| / kActQuantMax, q = round(x / d).
void QuantizeActsImpl(const float* x, int64_t ldx, int64_t batch, const QuantizedActs& out) {
  const hn::CappedTag<float, 8> df;
  const hn::RebindToSigned<decltype(df)> di;
  const hn::Rebind<int16_t, decltype(df)> d16;
  const size_t n = hn::Lanes(df);
  const int64_t cols = out.cols;
  for (int64_t b = 0; b < batch; ++b) {
    const float* xb = x + b * ldx;
    int16_t* q = out.q + b * cols;
    float* dq = out.d + b * (cols / 32);
    float* s16 = out.s16 + b * (cols / 16);
    float* s32 = out.s32 + b * (cols / 32);
    for (int64_t e = 0; e < cols; e += 32) {
      auto vmax = hn::Zero(df);
      for (size_t i = 0; i < 32; i += n) vmax = hn::Max(vmax, hn::Abs(hn::LoadU(df, xb + e + i)));
      const float amax = hn::GetLane(hn::MaxOfLanes(df, vmax));
      const float d = amax / kActQuantMax;
      const auto vid = hn::Set(df, d != 0.0f ? kActQuantMax / amax : 0.0f);
      for (size_t half = 0; half < 2; ++half) {
        auto vsum = hn::Zero(di);
        for (size_t i = 16 * half; i < 16 * half + 16; i += n) {
          const auto qi = hn::NearestInt(hn::Mul(hn::LoadU(df, xb + e + i), vid));
          vsum = hn::Add(vsum, qi);
          hn::StoreU(hn::DemoteTo(d16, qi), d16, q + e + i);
        }
        s16[e / 16 + half] = d * static_cast<float>(hn::GetLane(hn::SumOfLanes(di, vsum)));
      }
      dq[e / 32] = d;
      s32[e / 32] = s16[e / 16] + s16[e / 16 + 1];
    }
  }
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace loom::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace loom::kernels {

HWY_EXPORT(MatVecRowsFloatImpl);
HWY_EXPORT(QuantizeActsImpl);

bool UsesQuantizedActs(tensor::GgmlType type) {
  return type != tensor::GgmlType::kF32 && type != tensor::GgmlType::kF16 &&
         type != tensor::GgmlType::kBF16;
}

void QuantizeActs(const float* x, int64_t ldx, int64_t batch, const QuantizedActs& out) {
  LOOM_CHECK(out.cols % 32 == 0);
  HWY_DYNAMIC_DISPATCH(QuantizeActsImpl)(x, ldx, batch, out);
}

void MatVecRows(const Matrix& w, const float* x, int64_t ldx, const QuantizedActs* qa,
                int64_t batch, float* y, int64_t ldy, int64_t row_begin, int64_t row_end) {
  using tensor::GgmlType;
  switch (w.type) {
    case GgmlType::kF32:
    case GgmlType::kF16:
    case GgmlType::kBF16:
      HWY_DYNAMIC_DISPATCH(MatVecRowsFloatImpl)(w, x, ldx, batch, y, ldy, row_begin, row_end);
      return;
    case GgmlType::kQ8_0:
    case GgmlType::kQ4_0:
    case GgmlType::kQ4_1:
    case GgmlType::kQ5_0:
    case GgmlType::kQ5_1:
    case GgmlType::kIQ4_NL:
      LOOM_CHECK(qa != nullptr && qa->cols == w.cols);
      MatVecRowsQ32(w, *qa, batch, y, ldy, row_begin, row_end);
      return;
    case GgmlType::kQ2_K:
    case GgmlType::kQ3_K:
    case GgmlType::kQ4_K:
    case GgmlType::kQ5_K:
    case GgmlType::kQ6_K:
    case GgmlType::kIQ4_XS:
      LOOM_CHECK(qa != nullptr && qa->cols == w.cols);
      MatVecRowsQK(w, *qa, batch, y, ldy, row_begin, row_end);
      return;
    default:
      LOOM_CHECK(false && "not a weight type");
  }
}

}  // namespace loom::kernels
#endif  // HWY_ONCE
