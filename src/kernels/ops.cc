// Highway versions of the small kernels (kernels/ops.h). Reductions run in f32 with several
// vector accumulators; the transcendental parts are chosen for accuracy over speed where the
// fast path loses it (RoPE angles), see the comments at each kernel.
#include "kernels/ops.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "base/status.h"
#include "tensor/quant.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/ops.cc"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>
// (after highway.h: per-target code)
#include <hwy/contrib/math/math-inl.h>

HWY_BEFORE_NAMESPACE();
namespace loom::kernels::HWY_NAMESPACE {

namespace hn = hwy::HWY_NAMESPACE;

namespace {

using DF = hn::ScalableTag<float>;
using VF = hn::Vec<DF>;
using DI = hn::RebindToSigned<DF>;
using VI = hn::Vec<DI>;

float SumOf(VF v) { return hn::GetLane(hn::SumOfLanes(DF(), v)); }

// sum(x^2) of n floats (four accumulators hide the FMA latency).
float SumSquares(const float* x, int64_t n) {
  const DF d;
  const int64_t N = static_cast<int64_t>(hn::Lanes(d));
  VF a0 = hn::Zero(d), a1 = hn::Zero(d), a2 = hn::Zero(d), a3 = hn::Zero(d);
  int64_t i = 0;
  for (; i + 4 * N <= n; i += 4 * N) {
    const VF v0 = hn::LoadU(d, x + i), v1 = hn::LoadU(d, x + i + N);
    const VF v2 = hn::LoadU(d, x + i + 2 * N), v3 = hn::LoadU(d, x + i + 3 * N);
    a0 = hn::MulAdd(v0, v0, a0);
    a1 = hn::MulAdd(v1, v1, a1);
    a2 = hn::MulAdd(v2, v2, a2);
    a3 = hn::MulAdd(v3, v3, a3);
  }
  for (; i + N <= n; i += N) {
    const VF v = hn::LoadU(d, x + i);
    a0 = hn::MulAdd(v, v, a0);
  }
  float s = SumOf(hn::Add(hn::Add(a0, a1), hn::Add(a2, a3)));
  for (; i < n; ++i) s += x[i] * x[i];
  return s;
}

float Sum(const float* x, int64_t n) {
  const DF d;
  const int64_t N = static_cast<int64_t>(hn::Lanes(d));
  VF a0 = hn::Zero(d), a1 = hn::Zero(d), a2 = hn::Zero(d), a3 = hn::Zero(d);
  int64_t i = 0;
  for (; i + 4 * N <= n; i += 4 * N) {
    a0 = hn::Add(a0, hn::LoadU(d, x + i));
    a1 = hn::Add(a1, hn::LoadU(d, x + i + N));
    a2 = hn::Add(a2, hn::LoadU(d, x + i + 2 * N));
    a3 = hn::Add(a3, hn::LoadU(d, x + i + 3 * N));
  }
  for (; i + N <= n; i += N) a0 = hn::Add(a0, hn::LoadU(d, x + i));
  float s = SumOf(hn::Add(hn::Add(a0, a1), hn::Add(a2, a3)));
  for (; i < n; ++i) s += x[i];
  return s;
}

// sum((x - mean)^2): the two-pass variance, which does not cancel like E[x^2] - mean^2.
float SumSquaredDeviations(const float* x, int64_t n, float mean) {
  const DF d;
  const int64_t N = static_cast<int64_t>(hn::Lanes(d));
  const VF m = hn::Set(d, mean);
  VF a0 = hn::Zero(d), a1 = hn::Zero(d);
  int64_t i = 0;
  for (; i + 2 * N <= n; i += 2 * N) {
    const VF v0 = hn::Sub(hn::LoadU(d, x + i), m), v1 = hn::Sub(hn::LoadU(d, x + i + N), m);
    a0 = hn::MulAdd(v0, v0, a0);
    a1 = hn::MulAdd(v1, v1, a1);
  }
  for (; i + N <= n; i += N) {
    const VF v = hn::Sub(hn::LoadU(d, x + i), m);
    a0 = hn::MulAdd(v, v, a0);
  }
  float s = SumOf(hn::Add(a0, a1));
  for (; i < n; ++i) s += (x[i] - mean) * (x[i] - mean);
  return s;
}

// vec_fn(i) for each full vector at i, scalar_fn(i) for each element of the tail.
template <class VecFn, class ScalarFn>
HWY_INLINE void ForEach(int64_t n, const VecFn& vec_fn, const ScalarFn& scalar_fn) {
  const int64_t N = static_cast<int64_t>(hn::Lanes(DF()));
  int64_t i = 0;
  for (; i + N <= n; i += N) vec_fn(i);
  for (; i < n; ++i) scalar_fn(i);
}

}  // namespace

void OpsRmsNorm(const float* x, const float* w, NormWeight mode, float eps, int64_t rows, int64_t n,
                float* out) {
  const DF d;
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * n;
    float* outr = out + r * n;
    // HF: x * torch.rsqrt(x.pow(2).mean(-1) + eps), all in f32 (a true 1/sqrt, not the
    // hardware approximation).
    const float inv = 1.0f / std::sqrt(SumSquares(xr, n) / static_cast<float>(n) + eps);
    const VF vinv = hn::Set(d, inv);
    switch (mode) {
      case NormWeight::kW:
        ForEach(
            n,
            [&](int64_t i) {
              hn::StoreU(hn::Mul(hn::Mul(hn::LoadU(d, xr + i), vinv), hn::LoadU(d, w + i)), d,
                         outr + i);
            },
            [&](int64_t i) { outr[i] = xr[i] * inv * w[i]; });
        break;
      case NormWeight::kOnePlusW: {
        const VF one = hn::Set(d, 1.0f);
        ForEach(
            n,
            [&](int64_t i) {
              const VF scale = hn::Add(one, hn::LoadU(d, w + i));
              hn::StoreU(hn::Mul(hn::Mul(hn::LoadU(d, xr + i), vinv), scale), d, outr + i);
            },
            [&](int64_t i) { outr[i] = xr[i] * inv * (1.0f + w[i]); });
        break;
      }
      case NormWeight::kNone:
        ForEach(
            n, [&](int64_t i) { hn::StoreU(hn::Mul(hn::LoadU(d, xr + i), vinv), d, outr + i); },
            [&](int64_t i) { outr[i] = xr[i] * inv; });
        break;
    }
  }
}

void OpsLayerNorm(const float* x, const float* gamma, const float* beta, float eps, int64_t rows,
                  int64_t n, float* out) {
  const DF d;
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * n;
    float* outr = out + r * n;
    const float mean = Sum(xr, n) / static_cast<float>(n);
    const float var = SumSquaredDeviations(xr, n, mean) / static_cast<float>(n);
    const float inv = 1.0f / std::sqrt(var + eps);
    const VF vmean = hn::Set(d, mean), vinv = hn::Set(d, inv);
    // A null gamma or beta means no scale or no bias.
    ForEach(
        n,
        [&](int64_t i) {
          VF y = hn::Mul(hn::Sub(hn::LoadU(d, xr + i), vmean), vinv);
          if (gamma != nullptr) y = hn::Mul(y, hn::LoadU(d, gamma + i));
          if (beta != nullptr) y = hn::Add(y, hn::LoadU(d, beta + i));
          hn::StoreU(y, d, outr + i);
        },
        [&](int64_t i) {
          float y = (xr[i] - mean) * inv;
          if (gamma != nullptr) y *= gamma[i];
          if (beta != nullptr) y += beta[i];
          outr[i] = y;
        });
  }
}

// cos/sin come from the C library per pair, not from a vector polynomial: hwy::Cos/Sin are
// documented for |angle| <= 39000 and, measured without FMA (SSE4), err by 0.016 at angles near
// 2.6e5 (position 262143 times inv_freq 1), while libm's sinf/cosf stay within an ulp at any
// angle. They cost ~6 ns per pair and are computed once per call for all heads: a call on 16
// heads of 256 dims takes ~1 us (AVX3), little next to one token's layer.
void OpsRope(float* x, int num_heads, int head_dim, int32_t pos, const float* inv_freq) {
  LOOM_CHECK(head_dim % 2 == 0 && num_heads >= 0);
  const DF d;
  const int N = static_cast<int>(hn::Lanes(d));
  const int half = head_dim / 2;
  constexpr int kChunk = 128;
  float cs[kChunk], sn[kChunk];
  const VF zero = hn::Zero(d), one = hn::Set(d, 1.0f);
  for (int i0 = 0; i0 < half; i0 += kChunk) {
    const int m = std::min(kChunk, half - i0);
    bool any = false;
    for (int j = 0; j < m; ++j) {
      const float angle = static_cast<float>(pos) * inv_freq[i0 + j];
      // Angle 0 (position 0, or a pass-through dim of proportional RoPE) is left exactly alone.
      if (angle == 0.0f) {
        cs[j] = 1.0f;
        sn[j] = 0.0f;
      } else {
        cs[j] = std::cos(angle);
        sn[j] = std::sin(angle);
        any = true;
      }
    }
    if (!any) continue;
    for (int h = 0; h < num_heads; ++h) {
      float* lo = x + static_cast<int64_t>(h) * head_dim + i0;
      float* hi = lo + half;
      int j = 0;
      for (; j + N <= m; j += N) {
        const VF c = hn::LoadU(d, cs + j), s = hn::LoadU(d, sn + j);
        const VF x0 = hn::LoadU(d, lo + j), x1 = hn::LoadU(d, hi + j);
        // x*1 - y*0 would turn -0 into +0 and inf/NaN partners into NaN: keep such pairs as is.
        const auto keep = hn::And(hn::Eq(s, zero), hn::Eq(c, one));
        const VF y0 = hn::MulSub(x0, c, hn::Mul(x1, s));
        const VF y1 = hn::MulAdd(x1, c, hn::Mul(x0, s));
        hn::StoreU(hn::IfThenElse(keep, x0, y0), d, lo + j);
        hn::StoreU(hn::IfThenElse(keep, x1, y1), d, hi + j);
      }
      for (; j < m; ++j) {
        if (sn[j] == 0.0f && cs[j] == 1.0f) continue;
        const float x0 = lo[j], x1 = hi[j];
        lo[j] = x0 * cs[j] - x1 * sn[j];
        hi[j] = x1 * cs[j] + x0 * sn[j];
      }
    }
  }
}

// gelu_tanh(g) = 0.5 g (1 + tanh(u)) = g / (1 + exp(-2u)), u = sqrt(2/pi) (g + 0.044715 g^3).
// The sigmoid form avoids the cancellation of 1 + tanh(u) for negative g (where it matters
// least, but it is no slower) and needs one Exp (1 ulp) instead of Tanh (4 ulp).
void OpsGeluTanhGlu(const float* gate, const float* up, int64_t n, float* out) {
  const DF d;
  constexpr float kMinus2K = -2.0f * 0.7978845608028654f;  // -2 sqrt(2/pi)
  constexpr float kC = 0.044715f;
  // exp(88) is finite; beyond it g / (1 + e) is 0 anyway, and the clamp keeps Exp in range.
  const VF vmax = hn::Set(d, 88.0f), vmin = hn::Set(d, -88.0f);
  const VF vk = hn::Set(d, kMinus2K), vc = hn::Set(d, kC), one = hn::Set(d, 1.0f);
  ForEach(
      n,
      [&](int64_t i) {
        const VF g = hn::LoadU(d, gate + i);
        const VF inner = hn::MulAdd(hn::Mul(vc, g), g, one);  // 1 + c g^2
        VF t = hn::Mul(hn::Mul(vk, g), inner);
        t = hn::Min(hn::Max(t, vmin), vmax);
        const VF e = hn::Exp(d, t);
        const VF gelu = hn::Div(g, hn::Add(one, e));
        hn::StoreU(hn::Mul(gelu, hn::LoadU(d, up + i)), d, out + i);
      },
      [&](int64_t i) {
        const float g = gate[i];
        float t = kMinus2K * g * (1.0f + kC * g * g);
        t = std::min(std::max(t, -88.0f), 88.0f);
        out[i] = g / (1.0f + std::exp(t)) * up[i];
      });
}

void OpsSoftCap(float* x, int64_t n, float cap) {
  const DF d;
  const VF vcap = hn::Set(d, cap);
  ForEach(
      n,
      [&](int64_t i) {
        const VF v = hn::Div(hn::LoadU(d, x + i), vcap);
        hn::StoreU(hn::Mul(vcap, hn::Tanh(d, v)), d, x + i);
      },
      [&](int64_t i) { x[i] = cap * std::tanh(x[i] / cap); });
}

void OpsEmbeddingRow(const Matrix& table, int64_t row, float scale, float* out) {
  LOOM_CHECK(row >= 0 && row < table.rows);
  const DF d;
  const uint8_t* src = static_cast<const uint8_t*>(table.data) + row * table.row_bytes;
  const int64_t n = table.cols;
  const float* from = out;
  if (table.type == tensor::GgmlType::kF32) {
    from = reinterpret_cast<const float*>(src);
  } else {
    tensor::DequantizeRow(table.type, src, out, n);
  }
  const VF vs = hn::Set(d, scale);
  ForEach(
      n, [&](int64_t i) { hn::StoreU(hn::Mul(hn::LoadU(d, from + i), vs), d, out + i); },
      [&](int64_t i) { out[i] = from[i] * scale; });
}

// Per-lane running maxima with their indices: a strict > keeps the earliest index per lane and
// never picks NaN; the lanes are merged by (value, lowest index) at the end.
int64_t OpsArgMax(const float* x, int64_t n) {
  const DF d;
  const DI di;
  const int64_t N = static_cast<int64_t>(hn::Lanes(d));
  LOOM_CHECK(n >= 0 && n <= std::numeric_limits<int32_t>::max() - 4 * N);
  const VF neg_inf = hn::Set(d, -std::numeric_limits<float>::infinity());
  VF m0 = neg_inf, m1 = neg_inf;
  VI k0 = hn::Set(di, -1), k1 = k0;
  VI idx0 = hn::Iota(di, 0), idx1 = hn::Iota(di, static_cast<int32_t>(N));
  const VI step2 = hn::Set(di, static_cast<int32_t>(2 * N));
  int64_t i = 0;
  for (; i + 2 * N <= n; i += 2 * N) {
    const VF v0 = hn::LoadU(d, x + i), v1 = hn::LoadU(d, x + i + N);
    const auto g0 = hn::Gt(v0, m0), g1 = hn::Gt(v1, m1);
    m0 = hn::IfThenElse(g0, v0, m0);
    m1 = hn::IfThenElse(g1, v1, m1);
    k0 = hn::IfThenElse(hn::RebindMask(di, g0), idx0, k0);
    k1 = hn::IfThenElse(hn::RebindMask(di, g1), idx1, k1);
    idx0 = hn::Add(idx0, step2);
    idx1 = hn::Add(idx1, step2);
  }
  if (i + N <= n) {
    const VF v0 = hn::LoadU(d, x + i);
    const auto g0 = hn::Gt(v0, m0);
    m0 = hn::IfThenElse(g0, v0, m0);
    k0 = hn::IfThenElse(hn::RebindMask(di, g0), idx0, k0);
    i += N;
  }
  HWY_ALIGN float mv[2 * HWY_MAX_BYTES / sizeof(float)];
  HWY_ALIGN int32_t kv[2 * HWY_MAX_BYTES / sizeof(float)];
  hn::Store(m0, d, mv);
  hn::Store(m1, d, mv + N);
  hn::Store(k0, di, kv);
  hn::Store(k1, di, kv + N);
  int64_t best = -1;
  float best_v = -std::numeric_limits<float>::infinity();
  for (int64_t j = 0; j < 2 * N; ++j) {
    if (kv[j] < 0) continue;
    if (best < 0 || mv[j] > best_v || (mv[j] == best_v && kv[j] < best)) {
      best = kv[j];
      best_v = mv[j];
    }
  }
  for (; i < n; ++i) {
    if (x[i] > best_v) {
      best = i;
      best_v = x[i];
    }
  }
  if (best >= 0) return best;
  // Nothing beat -inf: the first -inf if any, else all are NaN.
  for (int64_t j = 0; j < n; ++j) {
    if (x[j] == -std::numeric_limits<float>::infinity()) return j;
  }
  return 0;
}

namespace {

struct Candidate {
  float v;
  int32_t i;
};

// a ranks before b: larger values first, NaN after every number, ties by lower index.
bool Before(const Candidate& a, const Candidate& b) {
  const bool na = std::isnan(a.v), nb = std::isnan(b.v);
  if (na != nb) return nb;
  if (!na && a.v != b.v) return a.v > b.v;
  return a.i < b.i;
}

}  // namespace

// One pass with a rising threshold: candidates that beat the current k-th best collect in a
// buffer of up to 2k + 256, which is cut back to the best k (nth_element) when full. Typical
// logits leave a handful of cuts; the vector loop only compares against the threshold.
int64_t OpsTopK(const float* x, int64_t n, int64_t k, int32_t* indices, float* values) {
  LOOM_CHECK(k >= 0 && k <= n && n <= std::numeric_limits<int32_t>::max());
  if (k == 0) return 0;
  const DF d;
  const int64_t N = static_cast<int64_t>(hn::Lanes(d));
  thread_local std::vector<Candidate> buf;
  const size_t cap = static_cast<size_t>(2 * k + 256);
  buf.clear();
  if (buf.capacity() < cap) buf.reserve(cap);
  for (int64_t i = 0; i < k; ++i) buf.push_back({x[i], static_cast<int32_t>(i)});
  float thr = 0.0f;
  bool thr_nan = false;  // the k-th best is NaN: any number beats it
  const auto cut = [&] {
    std::nth_element(buf.begin(), buf.begin() + (k - 1), buf.end(), Before);
    buf.resize(static_cast<size_t>(k));
    thr = buf[static_cast<size_t>(k - 1)].v;
    thr_nan = std::isnan(thr);
  };
  cut();
  // Later indices lose ties, so a newcomer must be strictly better than the k-th.
  const auto consider = [&](int64_t i) {
    const float v = x[i];
    if (thr_nan ? !std::isnan(v) : v > thr) {
      buf.push_back({v, static_cast<int32_t>(i)});
      if (buf.size() >= cap) cut();
    }
  };
  // The lanes of one vector that beat the threshold, visited by their mask bits (a scalar pass
  // over every lane of a hit block costs a branch miss per lane).
  const auto scan_vector = [&](int64_t at) {
    const VF v = hn::LoadU(d, x + at);
    const auto hit = thr_nan ? hn::Eq(v, v) : hn::Gt(v, hn::Set(d, thr));
    if (hn::AllFalse(d, hit)) return;
    uint8_t bytes[8] = {};
    hn::StoreMaskBits(d, hit, bytes);
    uint64_t bits = 0;
    for (int b = 0; b < 8; ++b) bits |= static_cast<uint64_t>(bytes[b]) << (8 * b);
    for (; bits != 0; bits &= bits - 1) consider(at + hwy::Num0BitsBelowLS1Bit_Nonzero64(bits));
  };
  int64_t i = k;
  // Four vectors per test while nothing beats the threshold, the common case once it has risen.
  for (; i + 4 * N <= n; i += 4 * N) {
    if (!thr_nan) {
      const VF t = hn::Set(d, thr);
      const auto hit = hn::Or(
          hn::Or(hn::Gt(hn::LoadU(d, x + i), t), hn::Gt(hn::LoadU(d, x + i + N), t)),
          hn::Or(hn::Gt(hn::LoadU(d, x + i + 2 * N), t), hn::Gt(hn::LoadU(d, x + i + 3 * N), t)));
      if (hn::AllFalse(d, hit)) continue;
    }
    for (int64_t j = 0; j < 4; ++j) scan_vector(i + j * N);
  }
  for (; i + N <= n; i += N) scan_vector(i);
  for (; i < n; ++i) consider(i);
  std::sort(buf.begin(), buf.end(), Before);
  for (int64_t j = 0; j < k; ++j) {
    indices[j] = buf[static_cast<size_t>(j)].i;
    values[j] = buf[static_cast<size_t>(j)].v;
  }
  return k;
}

}  // namespace loom::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace loom::kernels {

HWY_EXPORT(OpsRmsNorm);
HWY_EXPORT(OpsLayerNorm);
HWY_EXPORT(OpsRope);
HWY_EXPORT(OpsGeluTanhGlu);
HWY_EXPORT(OpsSoftCap);
HWY_EXPORT(OpsEmbeddingRow);
HWY_EXPORT(OpsArgMax);
HWY_EXPORT(OpsTopK);

void RmsNorm(const float* x, const float* w, NormWeight mode, float eps, int64_t rows, int64_t n,
             float* out) {
  HWY_DYNAMIC_DISPATCH(OpsRmsNorm)(x, w, mode, eps, rows, n, out);
}

void LayerNorm(const float* x, const float* gamma, const float* beta, float eps, int64_t rows,
               int64_t n, float* out) {
  HWY_DYNAMIC_DISPATCH(OpsLayerNorm)(x, gamma, beta, eps, rows, n, out);
}

void Rope(float* x, int num_heads, int head_dim, int32_t pos, const float* inv_freq) {
  HWY_DYNAMIC_DISPATCH(OpsRope)(x, num_heads, head_dim, pos, inv_freq);
}

void GeluTanhGlu(const float* gate, const float* up, int64_t n, float* out) {
  HWY_DYNAMIC_DISPATCH(OpsGeluTanhGlu)(gate, up, n, out);
}

void SoftCap(float* x, int64_t n, float cap) { HWY_DYNAMIC_DISPATCH(OpsSoftCap)(x, n, cap); }

void EmbeddingRow(const Matrix& table, int64_t row, float scale, float* out) {
  HWY_DYNAMIC_DISPATCH(OpsEmbeddingRow)(table, row, scale, out);
}

int64_t ArgMax(const float* x, int64_t n) { return HWY_DYNAMIC_DISPATCH(OpsArgMax)(x, n); }

int64_t TopK(const float* x, int64_t n, int64_t k, int32_t* indices, float* values) {
  return HWY_DYNAMIC_DISPATCH(OpsTopK)(x, n, k, indices, values);
}

}  // namespace loom::kernels
#endif  // HWY_ONCE
