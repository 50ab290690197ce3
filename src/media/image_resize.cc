#include "media/image_resize.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <emmintrin.h>
#include <tmmintrin.h>
#define LOOM_RESIZE_X86 1
#endif

#include "base/status.h"
#include "base/thread_pool.h"

namespace loom::media {
namespace {

// torch's HelperInterpCubic::aa_filter with a = -0.5, written as in UpSample.h
// (cubic_convolution1/2) so the doubles round the same way.
double CubicAa(double x) {
  constexpr double a = -0.5;
  x = std::abs(x);
  if (x < 1.0) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2.0) return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
  return 0.0;
}

// The int16 taps of one axis (torch's _compute_index_ranges_int16_weights).
struct AxisFilter {
  int64_t taps = 0;            // stride of `w`
  std::vector<int64_t> start;  // first input index per output
  std::vector<int64_t> count;  // taps used per output
  std::vector<int16_t> w;      // [out][taps]
  int precision = 0;
  int32_t half = 0;  // rounding term, 2^(precision-1)
  // For the SIMD horizontal pass: an even number of taps per output, starts moved left (and
  // the weights right) so that start + pair_taps <= in; weights as packed int16 pairs.
  // Empty when the input is narrower than pair_taps.
  int64_t pair_taps = 0;
  std::vector<int64_t> pair_start;
  std::vector<int32_t> pairs;  // [out][pair_taps / 2], low half = even tap
};

AxisFilter MakeFilter(int64_t in, int64_t out) {
  AxisFilter f;
  const double scale = static_cast<double>(in) / static_cast<double>(out);
  const double support = scale >= 1.0 ? 2.0 * scale : 2.0;
  const double invscale = scale >= 1.0 ? 1.0 / scale : 1.0;
  f.taps = static_cast<int64_t>(std::ceil(support)) * 2 + 1;
  f.start.resize(static_cast<size_t>(out));
  f.count.resize(static_cast<size_t>(out));
  std::vector<double> wd(static_cast<size_t>(out * f.taps), 0.0);
  double wmax = 0.0;
  for (int64_t i = 0; i < out; ++i) {
    const double center = scale * (static_cast<double>(i) + 0.5);
    const int64_t xmin = std::max(static_cast<int64_t>(center - support + 0.5), int64_t{0});
    // torch clips the rare precision case where the range is one wider than the buffer.
    const int64_t xsize = std::clamp(
        std::min(static_cast<int64_t>(center + support + 0.5), in) - xmin, int64_t{0}, f.taps);
    double* w = &wd[static_cast<size_t>(i * f.taps)];
    double total = 0.0;
    for (int64_t j = 0; j < xsize; ++j) {
      w[j] = CubicAa((static_cast<double>(j + xmin) - center + 0.5) * invscale);
      total += w[j];
    }
    if (total != 0.0) {
      for (int64_t j = 0; j < xsize; ++j) {
        w[j] /= total;
        wmax = std::max(wmax, w[j]);
      }
    }
    f.start[static_cast<size_t>(i)] = xmin;
    f.count[static_cast<size_t>(i)] = xsize;
  }
  // The most fractional bits that keep 2 * wmax * 2^p inside int16.
  int p = 0;
  for (; p < 22; ++p) {
    const int next = static_cast<int>(0.5 + wmax * static_cast<double>(1 << (p + 1)));
    if (next >= (1 << 15)) break;
  }
  f.precision = p;
  f.half = p > 0 ? (1 << (p - 1)) : 0;
  f.w.resize(wd.size());
  const double unit = static_cast<double>(1 << p);
  for (size_t k = 0; k < wd.size(); ++k) {
    const double v = wd[k];
    f.w[k] = static_cast<int16_t>(v < 0 ? static_cast<int>(-0.5 + v * unit)
                                        : static_cast<int>(0.5 + v * unit));
  }
  int64_t most = 0;
  for (int64_t c : f.count) most = std::max(most, c);
  f.pair_taps = (most + 1) / 2 * 2;
  if (f.pair_taps > in) return f;
  const int64_t k = f.pair_taps;
  f.pair_start.resize(static_cast<size_t>(out));
  f.pairs.assign(static_cast<size_t>(out * k / 2), 0);
  std::vector<int16_t> shifted(static_cast<size_t>(k));
  for (int64_t i = 0; i < out; ++i) {
    const int64_t start = f.start[static_cast<size_t>(i)];
    const int64_t d = std::max<int64_t>(0, start + k - in);
    f.pair_start[static_cast<size_t>(i)] = start - d;
    std::fill(shifted.begin(), shifted.end(), 0);
    for (int64_t j = 0; j < f.count[static_cast<size_t>(i)]; ++j) {
      shifted[static_cast<size_t>(d + j)] = f.w[static_cast<size_t>(i * f.taps + j)];
    }
    for (int64_t q = 0; q < k / 2; ++q) {
      const uint32_t lo = static_cast<uint16_t>(shifted[static_cast<size_t>(2 * q)]);
      const uint32_t hi = static_cast<uint16_t>(shifted[static_cast<size_t>(2 * q + 1)]);
      f.pairs[static_cast<size_t>(i * k / 2 + q)] = static_cast<int32_t>(lo | (hi << 16));
    }
  }
  return f;
}

inline uint8_t Clamp8(int32_t v, int shift) {
  return static_cast<uint8_t>(std::clamp(v >> shift, 0, 255));
}

void ForRows(ThreadPool* pool, int64_t n, const std::function<void(int64_t, int64_t)>& fn) {
  if (pool == nullptr || n < 16) {
    fn(0, n);
    return;
  }
  pool->ParallelFor(static_cast<size_t>(n), [&](size_t b, size_t e, int) {
    fn(static_cast<int64_t>(b), static_cast<int64_t>(e));
  });
}

// One row of the horizontal pass, any output range; the reference for the SIMD versions.
void HorizontalRowScalar(const uint8_t* s, const AxisFilter& f, int64_t x0, int64_t x1,
                         uint8_t* d) {
  for (int64_t x = x0; x < x1; ++x) {
    const int16_t* w = &f.w[static_cast<size_t>(x * f.taps)];
    const uint8_t* sp = s + f.start[static_cast<size_t>(x)] * 3;
    const int64_t n = f.count[static_cast<size_t>(x)];
    int32_t r = f.half, g = f.half, b = f.half;
    for (int64_t j = 0; j < n; ++j) {
      const int32_t wj = w[j];
      r += sp[3 * j] * wj;
      g += sp[3 * j + 1] * wj;
      b += sp[3 * j + 2] * wj;
    }
    d[3 * x] = Clamp8(r, f.precision);
    d[3 * x + 1] = Clamp8(g, f.precision);
    d[3 * x + 2] = Clamp8(b, f.precision);
  }
}

// One row of the vertical pass over bytes [k0, row) of the output row.
void VerticalRowScalar(const uint8_t* src, int64_t row, const AxisFilter& f, int64_t y, int64_t k0,
                       uint8_t* d) {
  const int16_t* w = &f.w[static_cast<size_t>(y * f.taps)];
  const uint8_t* s = src + f.start[static_cast<size_t>(y)] * row;
  const int64_t n = f.count[static_cast<size_t>(y)];
  for (int64_t k = k0; k < row; ++k) {
    int32_t acc = f.half;
    for (int64_t j = 0; j < n; ++j) acc += s[j * row + k] * w[j];
    d[k] = Clamp8(acc, f.precision);
  }
}

#ifdef LOOM_RESIZE_X86
// Two taps per step with pmaddwd, as Pillow-SIMD: a pixel's pair of samples times the pair of
// weights, summed in int32. Every product and sum is the exact integer of the scalar code.
// Reads 8 bytes from each tap pair: up to 2 bytes past the row, so the caller keeps the last
// source row on the scalar path.
__attribute__((target("ssse3"))) void HorizontalRowSsse3(const uint8_t* s, const AxisFilter& f,
                                                         int64_t out_w, uint8_t* d) {
  // int16 lanes: r0 r1 g0 g1 b0 b1 0 0 from the bytes r0 g0 b0 r1 g1 b1.
  const __m128i shuf = _mm_setr_epi8(0, -1, 3, -1, 1, -1, 4, -1, 2, -1, 5, -1, -1, -1, -1, -1);
  const __m128i half = _mm_set1_epi32(f.half);
  const __m128i shift = _mm_cvtsi32_si128(f.precision);
  const int64_t pairs = f.pair_taps / 2;
  for (int64_t x = 0; x < out_w; ++x) {
    const uint8_t* sp = s + f.pair_start[static_cast<size_t>(x)] * 3;
    const int32_t* w = &f.pairs[static_cast<size_t>(x * pairs)];
    __m128i acc = half;
    for (int64_t q = 0; q < pairs; ++q) {
      __m128i px = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(sp + 6 * q));
      px = _mm_shuffle_epi8(px, shuf);
      acc = _mm_add_epi32(acc, _mm_madd_epi16(px, _mm_set1_epi32(w[q])));
    }
    acc = _mm_sra_epi32(acc, shift);
    acc = _mm_packs_epi32(acc, acc);
    acc = _mm_packus_epi16(acc, acc);
    const uint32_t v = static_cast<uint32_t>(_mm_cvtsi128_si32(acc));
    d[3 * x] = static_cast<uint8_t>(v);
    d[3 * x + 1] = static_cast<uint8_t>(v >> 8);
    d[3 * x + 2] = static_cast<uint8_t>(v >> 16);
  }
}

// 16 bytes of an output row per step, source rows taken in pairs and interleaved for pmaddwd.
// SSE2 is part of x86-64.
__attribute__((target("sse2"))) int64_t VerticalRowSse2(const uint8_t* src, int64_t row,
                                                        const AxisFilter& f, int64_t y,
                                                        uint8_t* d) {
  const int16_t* w = &f.w[static_cast<size_t>(y * f.taps)];
  const uint8_t* s = src + f.start[static_cast<size_t>(y)] * row;
  const int64_t n = f.count[static_cast<size_t>(y)];
  const __m128i zero = _mm_setzero_si128();
  const __m128i half = _mm_set1_epi32(f.half);
  const __m128i shift = _mm_cvtsi32_si128(f.precision);
  int64_t k = 0;
  for (; k + 16 <= row; k += 16) {
    __m128i acc0 = half, acc1 = half, acc2 = half, acc3 = half;
    for (int64_t j = 0; j < n; j += 2) {
      const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + j * row + k));
      __m128i b = zero;
      uint32_t pair = static_cast<uint16_t>(w[j]);
      if (j + 1 < n) {
        b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + (j + 1) * row + k));
        pair |= static_cast<uint32_t>(static_cast<uint16_t>(w[j + 1])) << 16;
      }
      const __m128i wv = _mm_set1_epi32(static_cast<int32_t>(pair));
      const __m128i lo = _mm_unpacklo_epi8(a, b);
      const __m128i hi = _mm_unpackhi_epi8(a, b);
      acc0 = _mm_add_epi32(acc0, _mm_madd_epi16(_mm_unpacklo_epi8(lo, zero), wv));
      acc1 = _mm_add_epi32(acc1, _mm_madd_epi16(_mm_unpackhi_epi8(lo, zero), wv));
      acc2 = _mm_add_epi32(acc2, _mm_madd_epi16(_mm_unpacklo_epi8(hi, zero), wv));
      acc3 = _mm_add_epi32(acc3, _mm_madd_epi16(_mm_unpackhi_epi8(hi, zero), wv));
    }
    const __m128i lo16 = _mm_packs_epi32(_mm_sra_epi32(acc0, shift), _mm_sra_epi32(acc1, shift));
    const __m128i hi16 = _mm_packs_epi32(_mm_sra_epi32(acc2, shift), _mm_sra_epi32(acc3, shift));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(d + k), _mm_packus_epi16(lo16, hi16));
  }
  return k;
}

bool HasSsse3() {
  static const bool has = __builtin_cpu_supports("ssse3");
  return has;
}
#endif

// rows x in_w x 3 -> rows x out_w x 3.
void Horizontal(const uint8_t* src, int64_t rows, int64_t in_w, const AxisFilter& f, int64_t out_w,
                uint8_t* dst, ThreadPool* pool) {
  ForRows(pool, rows, [&](int64_t y0, int64_t y1) {
    for (int64_t y = y0; y < y1; ++y) {
      const uint8_t* s = src + y * in_w * 3;
      uint8_t* d = dst + y * out_w * 3;
#ifdef LOOM_RESIZE_X86
      if (!f.pair_start.empty() && y + 1 < rows && HasSsse3()) {
        HorizontalRowSsse3(s, f, out_w, d);
        continue;
      }
#endif
      HorizontalRowScalar(s, f, 0, out_w, d);
    }
  });
}

// in_h x width x 3 -> out_h x width x 3.
void Vertical(const uint8_t* src, int64_t width, const AxisFilter& f, int64_t out_h, uint8_t* dst,
              ThreadPool* pool) {
  const int64_t row = width * 3;
  ForRows(pool, out_h, [&](int64_t y0, int64_t y1) {
    for (int64_t y = y0; y < y1; ++y) {
      int64_t k = 0;
#ifdef LOOM_RESIZE_X86
      k = VerticalRowSse2(src, row, f, y, dst + y * row);
#endif
      VerticalRowScalar(src, row, f, y, k, dst + y * row);
    }
  });
}

}  // namespace

Image ResizeBicubicAntialias(const Image& src, int64_t out_height, int64_t out_width,
                             ThreadPool* pool) {
  LOOM_CHECK(src.width >= 1 && src.height >= 1 && out_height >= 1 && out_width >= 1);
  LOOM_CHECK(src.rgb.size() == static_cast<size_t>(src.width * src.height * 3));
  Image out;
  out.width = out_width;
  out.height = out_height;
  if (out_width == src.width && out_height == src.height) {
    out.rgb = src.rgb;
    return out;
  }
  std::vector<uint8_t> tmp;
  const uint8_t* mid = src.rgb.data();
  if (out_width != src.width) {
    const AxisFilter fx = MakeFilter(src.width, out_width);
    tmp.resize(static_cast<size_t>(src.height * out_width * 3));
    Horizontal(src.rgb.data(), src.height, src.width, fx, out_width, tmp.data(), pool);
    mid = tmp.data();
  }
  if (out_height == src.height) {
    out.rgb = std::move(tmp);
    return out;
  }
  const AxisFilter fy = MakeFilter(src.height, out_height);
  out.rgb.resize(static_cast<size_t>(out_height * out_width * 3));
  Vertical(mid, out_width, fy, out_height, out.rgb.data(), pool);
  return out;
}

}  // namespace loom::media
