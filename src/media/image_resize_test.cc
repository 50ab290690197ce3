// The uint8 antialiased bicubic resize against the reference: the sha256 of every resized
// golden image (9 sources x budgets 70 and 280) and of the 32 resized video frames, plus the
// stored PNGs and bands for a max-difference diagnosis when a hash differs.
#include "media/image_resize.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "base/thread_pool.h"
#include "media/media_test_util.h"

namespace loom::media {
namespace {

using testing::Fixture;
using testing::LoadJson;
using testing::Sha256Hex;

// Max |a - b| over the first rows of `b` (a band of `a`), 256 when the shapes differ.
int MaxDiffOnBand(const Image& a, const Image& band) {
  if (a.width != band.width || band.height > a.height) return 256;
  int m = 0;
  for (size_t i = 0; i < band.rgb.size(); ++i) {
    m = std::max(m, std::abs(int{a.rgb[i]} - int{band.rgb[i]}));
  }
  return m;
}

TEST(ImageResize, MatchesTorchOnEveryGoldenImage) {
  const nlohmann::json index = LoadJson(Fixture("goldens/image/index.json"));
  int checked = 0;
  for (const auto& [name, rec] : index["images"].items()) {
    Result<Image> src = LoadImageFile(Fixture("media/" + name), MediaLimits{});
    ASSERT_TRUE(src.ok()) << src.status().ToString();
    for (const auto& [budget, b] : rec["budgets"].items()) {
      SCOPED_TRACE(name + " @ " + budget);
      const int64_t th = b["target_hw"][0].get<int64_t>(), tw = b["target_hw"][1].get<int64_t>();
      const Image out = ResizeBicubicAntialias(*src, th, tw);
      ASSERT_EQ(out.height, th);
      ASSERT_EQ(out.width, tw);
      EXPECT_EQ(Sha256Hex(out.rgb), b["resized_u8_hwc_sha256"].get<std::string>());
      const std::string png = b.contains("resized_png") ? b["resized_png"].get<std::string>()
                                                        : b["resized_band_png"].get<std::string>();
      Result<Image> ref = LoadImageFile(Fixture("goldens/image/" + png), MediaLimits{});
      ASSERT_TRUE(ref.ok()) << ref.status().ToString();
      EXPECT_EQ(MaxDiffOnBand(out, *ref), 0) << png;
      ++checked;
    }
  }
  EXPECT_EQ(checked, 18);
}

TEST(ImageResize, MatchesTorchOnEveryVideoFrame) {
  const nlohmann::json index = LoadJson(Fixture("goldens/video/index.json"));
  const auto tensors = testing::LoadSafetensors(Fixture("goldens/video/video.safetensors"));
  const auto it = tensors.find("default.decoded_frames_nhwc_u8");
  ASSERT_NE(it, tensors.end());
  const testing::RawTensor& frames = it->second;
  ASSERT_EQ(frames.shape.size(), 4u);
  const int64_t n = frames.shape[0];
  const nlohmann::json& recs = index["cases"]["default"]["frames"];
  ASSERT_EQ(static_cast<int64_t>(recs.size()), n);
  for (int64_t f = 0; f < n; ++f) {
    SCOPED_TRACE(f);
    const Image frame = testing::FrameOf(frames, f);
    const nlohmann::json& r = recs[static_cast<size_t>(f)];
    EXPECT_EQ(Sha256Hex(frame.rgb), r["decoded_rgb_sha256"].get<std::string>());
    const Image out = ResizeBicubicAntialias(frame, r["resized_hw"][0].get<int64_t>(),
                                             r["resized_hw"][1].get<int64_t>());
    EXPECT_EQ(Sha256Hex(out.rgb), r["resized_u8_hwc_sha256"].get<std::string>());
    if (f == 0) {
      Result<Image> ref =
          LoadImageFile(Fixture("goldens/video/frame0.b70.resized.png"), MediaLimits{});
      ASSERT_TRUE(ref.ok());
      EXPECT_EQ(MaxDiffOnBand(out, *ref), 0);
    }
  }
}

Image Random(int64_t w, int64_t h, uint32_t seed) {
  Image img;
  img.width = w;
  img.height = h;
  img.rgb.resize(static_cast<size_t>(w * h * 3));
  uint32_t s = seed;
  for (uint8_t& v : img.rgb) {
    s = s * 1664525u + 1013904223u;
    v = static_cast<uint8_t>(s >> 24);
  }
  return img;
}

// MEDIA.md's algorithm written out plainly (int64, one tap at a time), to check the SIMD
// paths, their tails and the narrow-input fallbacks on shapes the goldens do not reach.
std::vector<uint8_t> ReferenceAxis(const std::vector<uint8_t>& src, int64_t outer, int64_t in,
                                   int64_t inner, int64_t out) {
  const double scale = static_cast<double>(in) / static_cast<double>(out);
  const double support = scale >= 1.0 ? 2.0 * scale : 2.0;
  const double inv = scale >= 1.0 ? 1.0 / scale : 1.0;
  auto cubic = [](double x) {
    x = std::abs(x);
    if (x < 1.0) return (1.5 * x - 2.5) * x * x + 1.0;
    if (x < 2.0) return (((x - 5.0) * x + 8.0) * x - 4.0) * -0.5;
    return 0.0;
  };
  std::vector<std::vector<double>> ws(static_cast<size_t>(out));
  std::vector<int64_t> mins(static_cast<size_t>(out));
  double wmax = 0;
  for (int64_t i = 0; i < out; ++i) {
    const double center = scale * (static_cast<double>(i) + 0.5);
    const int64_t lo = std::max<int64_t>(static_cast<int64_t>(center - support + 0.5), 0);
    const int64_t hi = std::min<int64_t>(static_cast<int64_t>(center + support + 0.5), in);
    std::vector<double>& w = ws[static_cast<size_t>(i)];
    double total = 0;
    for (int64_t j = lo; j < hi; ++j) {
      w.push_back(cubic((static_cast<double>(j) - center + 0.5) * inv));
      total += w.back();
    }
    for (double& v : w) {
      v = total != 0 ? v / total : 0;
      wmax = std::max(wmax, v);
    }
    mins[static_cast<size_t>(i)] = lo;
  }
  int prec = 0;
  while (prec < 22 && static_cast<int>(0.5 + wmax * (1 << (prec + 1))) < (1 << 15)) ++prec;
  std::vector<uint8_t> dst(static_cast<size_t>(outer * out * inner));
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < out; ++i) {
      for (int64_t c = 0; c < inner; ++c) {
        int64_t acc = int64_t{1} << (prec - 1);
        const std::vector<double>& w = ws[static_cast<size_t>(i)];
        for (size_t j = 0; j < w.size(); ++j) {
          const int64_t wi = static_cast<int64_t>(w[j] * (1 << prec) + (w[j] >= 0 ? 0.5 : -0.5));
          const int64_t at =
              (o * in + mins[static_cast<size_t>(i)] + static_cast<int64_t>(j)) * inner + c;
          acc += src[static_cast<size_t>(at)] * wi;
        }
        dst[static_cast<size_t>((o * out + i) * inner + c)] =
            static_cast<uint8_t>(std::clamp<int64_t>(acc >> prec, 0, 255));
      }
    }
  }
  return dst;
}

Image ReferenceResize(const Image& src, int64_t oh, int64_t ow) {
  std::vector<uint8_t> px = src.rgb;
  if (ow != src.width) px = ReferenceAxis(px, src.height, src.width, 3, ow);
  if (oh != src.height) px = ReferenceAxis(px, 1, src.height, ow * 3, oh);
  Image out;
  out.width = ow;
  out.height = oh;
  out.rgb = std::move(px);
  return out;
}

TEST(ImageResize, MatchesAPlainReimplementationOnOddShapes) {
  const int64_t shapes[][4] = {{1, 1, 7, 5},    {2, 3, 50, 49},  {5, 1, 1, 9},
                               {17, 13, 5, 3},  {9, 40, 48, 48}, {64, 96, 288, 480},
                               {333, 7, 96, 5}, {30, 20, 2, 2},  {121, 77, 48, 3360}};
  uint32_t seed = 10;
  for (const auto& s : shapes) {
    SCOPED_TRACE(std::to_string(s[0]) + "x" + std::to_string(s[1]) + " -> " + std::to_string(s[2]) +
                 "x" + std::to_string(s[3]));
    const Image src = Random(s[1], s[0], seed++);
    EXPECT_EQ(ResizeBicubicAntialias(src, s[2], s[3]).rgb, ReferenceResize(src, s[2], s[3]).rgb);
  }
}

TEST(ImageResize, IdentityAndSingleAxis) {
  const Image src = Random(37, 23, 1);
  EXPECT_EQ(ResizeBicubicAntialias(src, 23, 37).rgb, src.rgb);
  // One axis unchanged: only the other pass runs, and each pass works row/column-wise.
  const Image wide = ResizeBicubicAntialias(src, 23, 100);
  EXPECT_EQ(wide.width, 100);
  EXPECT_EQ(wide.height, 23);
  const Image tall = ResizeBicubicAntialias(src, 80, 37);
  EXPECT_EQ(tall.width, 37);
  EXPECT_EQ(tall.height, 80);
  // Doing the horizontal pass, then the vertical one separately, is the full resize.
  EXPECT_EQ(ResizeBicubicAntialias(wide, 80, 100).rgb, ResizeBicubicAntialias(src, 80, 100).rgb);
}

TEST(ImageResize, ExtremeSizesAndConstantImages) {
  Image one;
  one.width = one.height = 1;
  one.rgb = {10, 200, 255};
  const Image up = ResizeBicubicAntialias(one, 384, 384);
  ASSERT_EQ(up.rgb.size(), 384u * 384 * 3);
  // A single source pixel carries all the weight: every output equals it.
  for (size_t i = 0; i < up.rgb.size(); i += 3) {
    ASSERT_EQ(up.rgb[i], 10);
    ASSERT_EQ(up.rgb[i + 1], 200);
    ASSERT_EQ(up.rgb[i + 2], 255);
  }
  const Image big = Random(1000, 3, 2);
  const Image down = ResizeBicubicAntialias(big, 1, 1);
  EXPECT_EQ(down.rgb.size(), 3u);
  const Image strip = ResizeBicubicAntialias(Random(800, 10, 3), 48, 3360);
  EXPECT_EQ(strip.rgb.size(), 48u * 3360 * 3);
}

TEST(ImageResize, ThreadPoolGivesTheSameBytes) {
  ThreadPool pool(3);
  const Image src = Random(301, 203, 4);
  EXPECT_EQ(ResizeBicubicAntialias(src, 480, 720, &pool).rgb,
            ResizeBicubicAntialias(src, 480, 720).rgb);
  EXPECT_EQ(ResizeBicubicAntialias(src, 96, 144, &pool).rgb,
            ResizeBicubicAntialias(src, 96, 144).rgb);
}

}  // namespace
}  // namespace loom::media
