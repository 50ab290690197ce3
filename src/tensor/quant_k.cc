// The K formats (super-blocks of 256) and Q8_K: dequantize_row_q*_K and the reference
// quantizers quantize_row_q*_K_ref of ggml-quants.c, reproduced operation by operation (same
// float evaluation order, same integer wrap-arounds) so the bytes match ggml's.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "tensor/fp16.h"
#include "tensor/quant.h"
#include "tensor/quant_internal.h"

#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

namespace loom::tensor::internal {
namespace {

constexpr float kGroupMaxEps = 1e-15f;

inline float F(int v) { return static_cast<float>(v); }

// 6-bit scale and min j of the 12-byte Q4_K/Q5_K scale array (get_scale_min_k4).
inline void ScaleMinK4(int j, const uint8_t* q, uint8_t* d, uint8_t* m) {
  if (j < 4) {
    *d = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *d = static_cast<uint8_t>((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    *m = static_cast<uint8_t>((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}

// ---- dequantization ----------------------------------------------------------------------------

void DequantizeQ2_K(const void* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const auto b = LoadBlock<BlockQ2_K>(src, i);
    const float d = F16ToF32(b.d), min = F16ToF32(b.dmin);
    const uint8_t* q = b.qs;
    int is = 0;
    for (int n = 0; n < kQK_K; n += 128, q += 32) {
      for (int shift = 0; shift < 8; shift += 2) {
        for (int half = 0; half < 2; ++half) {
          const uint8_t sc = b.scales[is++];
          const float dl = d * F(sc & 0xF), ml = min * F(sc >> 4);
          for (int l = 0; l < 16; ++l) *y++ = dl * F((q[l + 16 * half] >> shift) & 3) - ml;
        }
      }
    }
  }
}

// The 16 6-bit Q3_K scales, as 0..63 (subtract 32 for the signed value).
void UnpackQ3Scales(const uint8_t* s, int* out) {
  for (int j = 0; j < 16; ++j) {
    const int low = j < 8 ? s[j] & 0xF : s[j - 8] >> 4;
    out[j] = low | (((s[8 + j % 4] >> (2 * (j / 4))) & 3) << 4);
  }
}

void DequantizeQ3_K(const void* src, float* y, int64_t nb) {
  int scales[16];
  for (int64_t i = 0; i < nb; ++i) {
    const auto b = LoadBlock<BlockQ3_K>(src, i);
    const float d_all = F16ToF32(b.d);
    UnpackQ3Scales(b.scales, scales);
    const uint8_t* q = b.qs;
    uint8_t m = 1;
    int is = 0;
    for (int n = 0; n < kQK_K; n += 128, q += 32) {
      for (int shift = 0; shift < 8; shift += 2, m = static_cast<uint8_t>(m << 1)) {
        for (int half = 0; half < 2; ++half) {
          const float dl = d_all * F(scales[is++] - 32);
          for (int l = 16 * half; l < 16 * half + 16; ++l) {
            *y++ = dl * F(((q[l] >> shift) & 3) - ((b.hmask[l] & m) ? 0 : 4));
          }
        }
      }
    }
  }
}

void DequantizeQ4_K(const void* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const auto b = LoadBlock<BlockQ4_K>(src, i);
    const float d = F16ToF32(b.d), min = F16ToF32(b.dmin);
    const uint8_t* q = b.qs;
    for (int is = 0; is < 8; is += 2, q += 32) {
      uint8_t sc, m;
      ScaleMinK4(is, b.scales, &sc, &m);
      const float d1 = d * F(sc), m1 = min * F(m);
      ScaleMinK4(is + 1, b.scales, &sc, &m);
      const float d2 = d * F(sc), m2 = min * F(m);
      for (int l = 0; l < 32; ++l) *y++ = d1 * F(q[l] & 0xF) - m1;
      for (int l = 0; l < 32; ++l) *y++ = d2 * F(q[l] >> 4) - m2;
    }
  }
}

void DequantizeQ5_K(const void* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const auto b = LoadBlock<BlockQ5_K>(src, i);
    const float d = F16ToF32(b.d), min = F16ToF32(b.dmin);
    const uint8_t* ql = b.qs;
    uint8_t u1 = 1, u2 = 2;
    for (int is = 0; is < 8; is += 2, ql += 32) {
      uint8_t sc, m;
      ScaleMinK4(is, b.scales, &sc, &m);
      const float d1 = d * F(sc), m1 = min * F(m);
      ScaleMinK4(is + 1, b.scales, &sc, &m);
      const float d2 = d * F(sc), m2 = min * F(m);
      for (int l = 0; l < 32; ++l) *y++ = d1 * F((ql[l] & 0xF) + (b.qh[l] & u1 ? 16 : 0)) - m1;
      for (int l = 0; l < 32; ++l) *y++ = d2 * F((ql[l] >> 4) + (b.qh[l] & u2 ? 16 : 0)) - m2;
      u1 = static_cast<uint8_t>(u1 << 2);
      u2 = static_cast<uint8_t>(u2 << 2);
    }
  }
}

void DequantizeQ6_K(const void* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const auto b = LoadBlock<BlockQ6_K>(src, i);
    const float d = F16ToF32(b.d);
    const uint8_t* ql = b.ql;
    const uint8_t* qh = b.qh;
    const int8_t* sc = b.scales;
    for (int n = 0; n < kQK_K; n += 128, y += 128, ql += 64, qh += 32, sc += 8) {
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        y[l] = d * F(sc[is]) * F(q1);
        y[l + 32] = d * F(sc[is + 2]) * F(q2);
        y[l + 64] = d * F(sc[is + 4]) * F(q3);
        y[l + 96] = d * F(sc[is + 6]) * F(q4);
      }
    }
  }
}

void DequantizeQ8_K(const void* src, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const auto b = LoadBlock<BlockQ8_K>(src, i);
    for (int j = 0; j < kQK_K; ++j) *y++ = b.d * F(b.qs[j]);
  }
}

// ---- quantization helpers ----------------------------------------------------------------------

// make_qx_quants with rmse_type 1 and no importance weights (weights x^2): signed levels
// -nmax..nmax-1, stored in L as 0..2*nmax-1. Returns the scale.
float MakeQxQuants(int n, int nmax, const float* x, int8_t* L) {
  float max = 0, amax = 0;
  for (int i = 0; i < n; ++i) {
    const float ax = std::fabs(x[i]);
    if (ax > amax) {
      amax = ax;
      max = x[i];
    }
  }
  if (amax < kGroupMaxEps) {
    std::memset(L, 0, static_cast<size_t>(n));
    return 0.0f;
  }
  float iscale = F(-nmax) / max;
  float sumlx = 0, suml2 = 0;
  for (int i = 0; i < n; ++i) {
    int l = NearestInt(iscale * x[i]);
    l = std::max(-nmax, std::min(nmax - 1, l));
    L[i] = static_cast<int8_t>(l + nmax);
    const float w = x[i] * x[i];
    sumlx += w * x[i] * F(l);
    suml2 += w * F(l) * F(l);
  }
  float scale = suml2 != 0.0f ? sumlx / suml2 : 0.0f;
  float best = scale * sumlx;
  for (int is = -9; is <= 9; ++is) {
    if (is == 0) continue;
    iscale = -(F(nmax) + 0.1f * F(is)) / max;
    sumlx = suml2 = 0;
    for (int i = 0; i < n; ++i) {
      int l = NearestInt(iscale * x[i]);
      l = std::max(-nmax, std::min(nmax - 1, l));
      const float w = x[i] * x[i];
      sumlx += w * x[i] * F(l);
      suml2 += w * F(l) * F(l);
    }
    if (suml2 > 0 && sumlx * sumlx > best * suml2) {
      for (int i = 0; i < n; ++i) {
        const int l = NearestInt(iscale * x[i]);
        L[i] = static_cast<int8_t>(nmax + std::max(-nmax, std::min(nmax - 1, l)));
      }
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

// make_q3_quants with do_rmse: a start from the max-based scale, then up to 5 rounds of
// coordinate descent on the x^2-weighted error. L gets 0..2*nmax-1.
float MakeQ3Quants(int n, int nmax, const float* x, int8_t* L) {
  float max = 0, amax = 0;
  for (int i = 0; i < n; ++i) {
    const float ax = std::fabs(x[i]);
    if (ax > amax) {
      amax = ax;
      max = x[i];
    }
  }
  if (amax < kGroupMaxEps) {
    std::memset(L, 0, static_cast<size_t>(n));
    return 0.0f;
  }
  const float iscale = F(-nmax) / max;
  float sumlx = 0, suml2 = 0;
  for (int i = 0; i < n; ++i) {
    int l = NearestInt(iscale * x[i]);
    l = std::max(-nmax, std::min(nmax - 1, l));
    L[i] = static_cast<int8_t>(l);
    const float w = x[i] * x[i];
    sumlx += w * x[i] * F(l);
    suml2 += w * F(l) * F(l);
  }
  for (int itry = 0; itry < 5; ++itry) {
    int n_changed = 0;
    for (int i = 0; i < n; ++i) {
      const float w = x[i] * x[i];
      float slx = sumlx - w * x[i] * F(L[i]);
      if (slx > 0) {
        float sl2 = suml2 - w * F(L[i]) * F(L[i]);
        int new_l = NearestInt(x[i] * sl2 / slx);
        new_l = std::max(-nmax, std::min(nmax - 1, new_l));
        if (new_l != L[i]) {
          slx += w * x[i] * F(new_l);
          sl2 += w * F(new_l) * F(new_l);
          if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
            L[i] = static_cast<int8_t>(new_l);
            sumlx = slx;
            suml2 = sl2;
            ++n_changed;
          }
        }
      }
    }
    if (n_changed == 0) break;
  }
  for (int i = 0; i < n; ++i) L[i] = static_cast<int8_t>(L[i] + nmax);
  return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

// make_qkx2_quants: levels 0..nmax with a scale and a min (x ~ scale * L - the_min), searched
// over nstep+1 trial scales, minimizing the weighted squared (or absolute) error.
float MakeQkx2Quants(int n, int nmax, const float* x, const float* weights, uint8_t* L,
                     float* the_min, uint8_t* Laux, float rmin, float rdelta, int nstep,
                     bool use_mad) {
  float min = x[0], max = x[0];
  float sum_w = weights[0];
  float sum_x = sum_w * x[0];
  for (int i = 1; i < n; ++i) {
    if (x[i] < min) min = x[i];
    if (x[i] > max) max = x[i];
    const float w = weights[i];
    sum_w += w;
    sum_x += w * x[i];
  }
  if (min > 0) min = 0;
  if (max == min) {
    std::memset(L, 0, static_cast<size_t>(n));
    *the_min = -min;
    return 0.0f;
  }
  float iscale = F(nmax) / (max - min);
  float scale = 1 / iscale;
  float best_error = 0;
  for (int i = 0; i < n; ++i) {
    const int l = NearestInt(iscale * (x[i] - min));
    L[i] = static_cast<uint8_t>(std::max(0, std::min(nmax, l)));
    float diff = scale * F(L[i]) + min - x[i];
    diff = use_mad ? std::fabs(diff) : diff * diff;
    best_error += weights[i] * diff;
  }
  if (nstep < 1) {
    *the_min = -min;
    return scale;
  }
  for (int is = 0; is <= nstep; ++is) {
    iscale = (rmin + rdelta * F(is) + F(nmax)) / (max - min);
    float sum_l = 0, sum_l2 = 0, sum_xl = 0;
    for (int i = 0; i < n; ++i) {
      int l = NearestInt(iscale * (x[i] - min));
      l = std::max(0, std::min(nmax, l));
      Laux[i] = static_cast<uint8_t>(l);
      const float w = weights[i];
      sum_l += w * F(l);
      sum_l2 += w * F(l) * F(l);
      sum_xl += w * F(l) * x[i];
    }
    const float D = sum_w * sum_l2 - sum_l * sum_l;
    if (D > 0) {
      float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
      float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
      if (this_min > 0) {
        this_min = 0;
        this_scale = sum_xl / sum_l2;
      }
      float cur_error = 0;
      for (int i = 0; i < n; ++i) {
        float diff = this_scale * F(Laux[i]) + this_min - x[i];
        diff = use_mad ? std::fabs(diff) : diff * diff;
        cur_error += weights[i] * diff;
      }
      if (cur_error < best_error) {
        std::memcpy(L, Laux, static_cast<size_t>(n));
        best_error = cur_error;
        scale = this_scale;
        min = this_min;
      }
    }
  }
  *the_min = -min;
  return scale;
}

// 2-bit levels of 4 groups of 32 interleaved into bytes (Q2_K and Q3_K low bits).
void Pack2Bit(const uint8_t* L, uint8_t* qs) {
  for (int j = 0; j < kQK_K; j += 128) {
    for (int l = 0; l < 32; ++l) {
      qs[j / 4 + l] = static_cast<uint8_t>(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) |
                                           (L[j + l + 96] << 6));
    }
  }
}

// ---- quantization ------------------------------------------------------------------------------

void QuantizeQ2_K(const float* x, void* dst, int64_t nb) {
  uint8_t L[kQK_K], Laux[16];
  float weights[16], mins[16], scales[16];
  constexpr float kQ4Scale = 15.0f;
  for (int64_t i = 0; i < nb; ++i, x += kQK_K) {
    BlockQ2_K b;
    std::memset(&b, 0, sizeof(b));
    float max_scale = 0, max_min = 0;
    for (int j = 0; j < 16; ++j) {
      for (int l = 0; l < 16; ++l) weights[l] = std::fabs(x[16 * j + l]);
      scales[j] = MakeQkx2Quants(16, 3, x + 16 * j, weights, L + 16 * j, &mins[j], Laux, -0.5f,
                                 0.1f, 15, true);
      max_scale = std::max(max_scale, scales[j]);
      max_min = std::max(max_min, mins[j]);
    }
    if (max_scale > 0) {
      const float iscale = kQ4Scale / max_scale;
      for (int j = 0; j < 16; ++j)
        b.scales[j] = static_cast<uint8_t>(NearestInt(iscale * scales[j]));
      b.d = F32ToF16(max_scale / kQ4Scale);
    } else {
      b.d = F32ToF16(0.0f);
    }
    if (max_min > 0) {
      const float iscale = kQ4Scale / max_min;
      for (int j = 0; j < 16; ++j) {
        b.scales[j] = static_cast<uint8_t>(b.scales[j] | (NearestInt(iscale * mins[j]) << 4));
      }
      b.dmin = F32ToF16(max_min / kQ4Scale);
    } else {
      b.dmin = F32ToF16(0.0f);
    }
    for (int j = 0; j < 16; ++j) {
      const float d = F16ToF32(b.d) * F(b.scales[j] & 0xF);
      if (d == 0.0f) continue;
      const float dm = F16ToF32(b.dmin) * F(b.scales[j] >> 4);
      for (int ii = 0; ii < 16; ++ii) {
        const int l = NearestInt((x[16 * j + ii] + dm) / d);
        L[16 * j + ii] = static_cast<uint8_t>(std::max(0, std::min(3, l)));
      }
    }
    Pack2Bit(L, b.qs);
    StoreBlock(dst, i, b);
  }
}

void QuantizeQ3_K(const float* x, void* dst, int64_t nb) {
  int8_t L[kQK_K];
  float scales[16];
  int sc[16];
  for (int64_t i = 0; i < nb; ++i, x += kQK_K) {
    BlockQ3_K b;
    std::memset(&b, 0, sizeof(b));
    float max_scale = 0, amax = 0;
    for (int j = 0; j < 16; ++j) {
      scales[j] = MakeQ3Quants(16, 4, x + 16 * j, L + 16 * j);
      const float scale = std::fabs(scales[j]);
      if (scale > amax) {
        amax = scale;
        max_scale = scales[j];
      }
    }
    if (max_scale != 0.0f) {
      const float iscale = -32.0f / max_scale;
      for (int j = 0; j < 16; ++j) {
        // ggml stores nearest_int into an int8_t before clamping.
        int l = static_cast<int8_t>(NearestInt(iscale * scales[j]));
        l = std::max(-32, std::min(31, l)) + 32;
        if (j < 8) {
          b.scales[j] = static_cast<uint8_t>(l & 0xF);
        } else {
          b.scales[j - 8] = static_cast<uint8_t>(b.scales[j - 8] | ((l & 0xF) << 4));
        }
        l >>= 4;
        b.scales[j % 4 + 8] = static_cast<uint8_t>(b.scales[j % 4 + 8] | (l << (2 * (j / 4))));
      }
      b.d = F32ToF16(1 / iscale);
    } else {
      b.d = F32ToF16(0.0f);
    }
    UnpackQ3Scales(b.scales, sc);
    for (int j = 0; j < 16; ++j) {
      const float d = F16ToF32(b.d) * F(sc[j] - 32);
      if (d == 0.0f) continue;
      for (int ii = 0; ii < 16; ++ii) {
        const int l = NearestInt(x[16 * j + ii] / d);
        L[16 * j + ii] = static_cast<int8_t>(std::max(-4, std::min(3, l)) + 4);
      }
    }
    // The high bit of element j goes to bit j / 32 of hmask[j % 32].
    uint8_t low[kQK_K];
    for (int j = 0; j < kQK_K; ++j) {
      int l = L[j];
      if (l > 3) {
        b.hmask[j % 32] = static_cast<uint8_t>(b.hmask[j % 32] | (1 << (j / 32)));
        l -= 4;
      }
      low[j] = static_cast<uint8_t>(l);
    }
    Pack2Bit(low, b.qs);
    StoreBlock(dst, i, b);
  }
}

// Q4_K and Q5_K: 8 sub-blocks of 32 with a 6-bit scale and min each.
template <typename Block, int kNmax>
void QuantizeQ45_K(const float* x, void* dst, int64_t nb, float rmin, int nstep,
                   void (*pack)(const uint8_t* L, Block* b)) {
  uint8_t L[kQK_K], Laux[32];
  float weights[32], mins[8], scales[8];
  for (int64_t i = 0; i < nb; ++i, x += kQK_K) {
    Block b;
    std::memset(&b, 0, sizeof(b));
    float max_scale = 0, max_min = 0;
    for (int j = 0; j < 8; ++j) {
      float sum_x2 = 0;
      for (int l = 0; l < 32; ++l) sum_x2 += x[32 * j + l] * x[32 * j + l];
      const float av_x = std::sqrt(sum_x2 / 32);
      for (int l = 0; l < 32; ++l) weights[l] = av_x + std::fabs(x[32 * j + l]);
      scales[j] = MakeQkx2Quants(32, kNmax, x + 32 * j, weights, L + 32 * j, &mins[j], Laux, rmin,
                                 0.1f, nstep, false);
      max_scale = std::max(max_scale, scales[j]);
      max_min = std::max(max_min, mins[j]);
    }
    const float inv_scale = max_scale > 0 ? 63.0f / max_scale : 0.0f;
    const float inv_min = max_min > 0 ? 63.0f / max_min : 0.0f;
    for (int j = 0; j < 8; ++j) {
      // Assigned to uint8_t before the clamp, as in ggml.
      uint8_t ls = static_cast<uint8_t>(NearestInt(inv_scale * scales[j]));
      uint8_t lm = static_cast<uint8_t>(NearestInt(inv_min * mins[j]));
      ls = std::min<uint8_t>(63, ls);
      lm = std::min<uint8_t>(63, lm);
      if (j < 4) {
        b.scales[j] = ls;
        b.scales[j + 4] = lm;
      } else {
        b.scales[j + 4] = static_cast<uint8_t>((ls & 0xF) | ((lm & 0xF) << 4));
        b.scales[j - 4] = static_cast<uint8_t>(b.scales[j - 4] | ((ls >> 4) << 6));
        b.scales[j] = static_cast<uint8_t>(b.scales[j] | ((lm >> 4) << 6));
      }
    }
    b.d = F32ToF16(max_scale / 63.0f);
    b.dmin = F32ToF16(max_min / 63.0f);
    for (int j = 0; j < 8; ++j) {
      uint8_t sc, m;
      ScaleMinK4(j, b.scales, &sc, &m);
      const float d = F16ToF32(b.d) * F(sc);
      if (d == 0.0f) continue;
      const float dm = F16ToF32(b.dmin) * F(m);
      for (int ii = 0; ii < 32; ++ii) {
        const int l = NearestInt((x[32 * j + ii] + dm) / d);
        L[32 * j + ii] = static_cast<uint8_t>(std::max(0, std::min(kNmax, l)));
      }
    }
    pack(L, &b);
    StoreBlock(dst, i, b);
  }
}

void PackQ4_K(const uint8_t* L, BlockQ4_K* b) {
  uint8_t* q = b->qs;
  for (int j = 0; j < kQK_K; j += 64, q += 32) {
    for (int l = 0; l < 32; ++l) q[l] = static_cast<uint8_t>(L[j + l] | (L[j + l + 32] << 4));
  }
}

void PackQ5_K(const uint8_t* L, BlockQ5_K* b) {
  uint8_t* ql = b->qs;
  std::memset(b->qh, 0, sizeof(b->qh));
  uint8_t m1 = 1, m2 = 2;
  for (int n = 0; n < kQK_K; n += 64, ql += 32) {
    for (int j = 0; j < 32; ++j) {
      int l1 = L[n + j];
      if (l1 > 15) {
        l1 -= 16;
        b->qh[j] |= m1;
      }
      int l2 = L[n + j + 32];
      if (l2 > 15) {
        l2 -= 16;
        b->qh[j] |= m2;
      }
      ql[j] = static_cast<uint8_t>(l1 | (l2 << 4));
    }
    m1 = static_cast<uint8_t>(m1 << 2);
    m2 = static_cast<uint8_t>(m2 << 2);
  }
}

void QuantizeQ6_K(const float* x, void* dst, int64_t nb) {
  int8_t L[kQK_K];
  float scales[16];
  for (int64_t i = 0; i < nb; ++i, x += kQK_K) {
    BlockQ6_K b;
    std::memset(&b, 0, sizeof(b));
    float max_scale = 0, max_abs_scale = 0;
    for (int ib = 0; ib < 16; ++ib) {
      scales[ib] = MakeQxQuants(16, 32, x + 16 * ib, L + 16 * ib);
      const float abs_scale = std::fabs(scales[ib]);
      if (abs_scale > max_abs_scale) {
        max_abs_scale = abs_scale;
        max_scale = scales[ib];
      }
    }
    if (max_abs_scale < kGroupMaxEps) {
      StoreBlock(dst, i, b);  // all zero, d = +0
      continue;
    }
    const float iscale = -128.0f / max_scale;
    b.d = F32ToF16(1 / iscale);
    for (int ib = 0; ib < 16; ++ib) {
      b.scales[ib] = static_cast<int8_t>(std::min(127, NearestInt(iscale * scales[ib])));
    }
    for (int j = 0; j < 16; ++j) {
      const float d = F16ToF32(b.d) * F(b.scales[j]);
      if (d == 0.0f) continue;
      for (int ii = 0; ii < 16; ++ii) {
        const int l = NearestInt(x[16 * j + ii] / d);
        L[16 * j + ii] = static_cast<int8_t>(std::max(-32, std::min(31, l)) + 32);
      }
    }
    uint8_t* ql = b.ql;
    uint8_t* qh = b.qh;
    for (int j = 0; j < kQK_K; j += 128, ql += 64, qh += 32) {
      for (int l = 0; l < 32; ++l) {
        const int l0 = L[j + l], l1 = L[j + l + 32], l2 = L[j + l + 64], l3 = L[j + l + 96];
        ql[l] = static_cast<uint8_t>((l0 & 0xF) | ((l2 & 0xF) << 4));
        ql[l + 32] = static_cast<uint8_t>((l1 & 0xF) | ((l3 & 0xF) << 4));
        qh[l] = static_cast<uint8_t>((l0 >> 4) | ((l1 >> 4) << 2) | ((l2 >> 4) << 4) |
                                     ((l3 >> 4) << 6));
      }
    }
    StoreBlock(dst, i, b);
  }
}

void QuantizeQ8_K(const float* x, void* dst, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += kQK_K) {
    BlockQ8_K b;
    std::memset(&b, 0, sizeof(b));
    float max = 0, amax = 0;
    for (int j = 0; j < kQK_K; ++j) {
      const float ax = std::fabs(x[j]);
      if (ax > amax) {
        amax = ax;
        max = x[j];
      }
    }
    if (amax == 0.0f) {
      StoreBlock(dst, i, b);
      continue;
    }
    // -127 rather than -128 so that every level fits the symmetric range the dot kernels assume.
    const float iscale = -127.0f / max;
    for (int j = 0; j < kQK_K; ++j) {
      b.qs[j] = static_cast<int8_t>(std::min(127, NearestInt(iscale * x[j])));
    }
    for (int j = 0; j < 16; ++j) {
      int sum = 0;
      for (int ii = 0; ii < 16; ++ii) sum += b.qs[16 * j + ii];
      b.bsums[j] = static_cast<int16_t>(sum);
    }
    b.d = 1 / iscale;
    StoreBlock(dst, i, b);
  }
}

}  // namespace

bool DequantizeRowK(GgmlType type, const void* src, float* dst, int64_t nb) {
  switch (type) {
    case GgmlType::kQ2_K:
      DequantizeQ2_K(src, dst, nb);
      return true;
    case GgmlType::kQ3_K:
      DequantizeQ3_K(src, dst, nb);
      return true;
    case GgmlType::kQ4_K:
      DequantizeQ4_K(src, dst, nb);
      return true;
    case GgmlType::kQ5_K:
      DequantizeQ5_K(src, dst, nb);
      return true;
    case GgmlType::kQ6_K:
      DequantizeQ6_K(src, dst, nb);
      return true;
    case GgmlType::kQ8_K:
      DequantizeQ8_K(src, dst, nb);
      return true;
    default:
      return false;
  }
}

bool QuantizeRowK(GgmlType type, const float* src, void* dst, int64_t nb) {
  switch (type) {
    case GgmlType::kQ2_K:
      QuantizeQ2_K(src, dst, nb);
      return true;
    case GgmlType::kQ3_K:
      QuantizeQ3_K(src, dst, nb);
      return true;
    case GgmlType::kQ4_K:
      QuantizeQ45_K<BlockQ4_K, 15>(src, dst, nb, -1.0f, 20, PackQ4_K);
      return true;
    case GgmlType::kQ5_K:
      QuantizeQ45_K<BlockQ5_K, 31>(src, dst, nb, -0.5f, 15, PackQ5_K);
      return true;
    case GgmlType::kQ6_K:
      QuantizeQ6_K(src, dst, nb);
      return true;
    case GgmlType::kQ8_K:
      QuantizeQ8_K(src, dst, nb);
      return true;
    default:
      return false;
  }
}

}  // namespace loom::tensor::internal
