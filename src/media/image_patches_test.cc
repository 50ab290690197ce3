// Target size, rescale and patchify against the reference processor: for every golden image
// and budget the grid, token count, identity branch, resized bytes, pixel_values (bitwise,
// sha256 and the stored first/last rows) and positions; the PIL-object route; the video frame
// path with its true division; and the SPEC §3.1 examples and error cases.
#include "media/image_patches.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "media/media_test_util.h"

namespace loom::media {
namespace {

using testing::Fixture;
using testing::LoadJson;
using testing::LoadSafetensors;
using testing::Sha256Hex;
using testing::Sha256OfFloats;

void ExpectRowsEqual(const Patches& p, const testing::RawTensor& rows) {
  ASSERT_EQ(rows.dtype, "F32");
  ASSERT_EQ(rows.bytes.size(), 2 * kPatchValues * sizeof(float));
  const size_t row_bytes = kPatchValues * sizeof(float);
  EXPECT_EQ(std::memcmp(p.values.data(), rows.bytes.data(), row_bytes), 0) << "first row";
  EXPECT_EQ(std::memcmp(p.values.data() + (p.n - 1) * kPatchValues, rows.bytes.data() + row_bytes,
                        row_bytes),
            0)
      << "last row";
}

void ExpectPositions(const Patches& p, const testing::RawTensor& pos) {
  ASSERT_EQ(pos.dtype, "I64");
  ASSERT_EQ(pos.bytes.size(), static_cast<size_t>(p.n) * 2 * sizeof(int64_t));
  for (int64_t i = 0; i < p.n; ++i) {
    int64_t xy[2];
    std::memcpy(xy, pos.bytes.data() + i * 2 * sizeof(int64_t), sizeof(xy));
    ASSERT_EQ(p.pos_x[static_cast<size_t>(i)], xy[0]) << i;
    ASSERT_EQ(p.pos_y[static_cast<size_t>(i)], xy[1]) << i;
  }
}

TEST(ImagePatches, MatchesTheProcessorOnEveryGoldenImage) {
  const nlohmann::json index = LoadJson(Fixture("goldens/image/index.json"));
  int checked = 0;
  for (const auto& [name, rec] : index["images"].items()) {
    Result<Image> img = LoadImageFile(Fixture("media/" + name), MediaLimits{});
    ASSERT_TRUE(img.ok()) << img.status().ToString();
    const auto tensors =
        LoadSafetensors(Fixture("goldens/image/" + rec["tensors"].get<std::string>()));
    for (const auto& [budget_str, b] : rec["budgets"].items()) {
      SCOPED_TRACE(name + " @ " + budget_str);
      const int64_t budget = std::stoll(budget_str);
      Result<TargetSize> t = ImageTargetSize(img->height, img->width, budget);
      ASSERT_TRUE(t.ok()) << t.status().ToString();
      EXPECT_EQ(t->height, b["target_hw"][0].get<int64_t>());
      EXPECT_EQ(t->width, b["target_hw"][1].get<int64_t>());
      Image resized;
      Result<Patches> p = PreprocessImage(*img, budget, Rescale::kMultiply, &resized);
      ASSERT_TRUE(p.ok()) << p.status().ToString();
      EXPECT_EQ(p->grid_h, b["grid_hw"][0].get<int64_t>());
      EXPECT_EQ(p->grid_w, b["grid_hw"][1].get<int64_t>());
      EXPECT_EQ(p->n, b["num_soft_tokens"].get<int64_t>());
      EXPECT_EQ(resized.height == img->height && resized.width == img->width,
                b["resize_skipped"].get<bool>());
      EXPECT_EQ(Sha256Hex(resized.rgb), b["resized_u8_hwc_sha256"].get<std::string>());
      EXPECT_EQ(Sha256OfFloats(p->values), b["pixel_values_f32_sha256"].get<std::string>());
      const nlohmann::json& pos = b["positions_xy"];
      ASSERT_EQ(static_cast<int64_t>(pos.size()), p->n);
      for (int64_t i = 0; i < p->n; ++i) {
        ASSERT_EQ(p->pos_x[static_cast<size_t>(i)], pos[static_cast<size_t>(i)][0].get<int>());
        ASSERT_EQ(p->pos_y[static_cast<size_t>(i)], pos[static_cast<size_t>(i)][1].get<int>());
      }
      ExpectRowsEqual(*p, tensors.at("b" + budget_str + ".pixel_values_rows"));
      ExpectPositions(*p, tensors.at("b" + budget_str + ".positions_xy"));
      ++checked;
    }
  }
  EXPECT_EQ(checked, 18);
}

TEST(ImagePatches, PilObjectRoute) {
  const nlohmann::json index = LoadJson(Fixture("goldens/image/index.json"));
  for (const char* name : {"rgba.png", "exif_rot6.jpg"}) {
    SCOPED_TRACE(name);
    const nlohmann::json& alt = index["images"][name]["pil_object_input"];
    Result<Image> img = LoadImageFile(Fixture(std::string("media/") + name), MediaLimits{},
                                      {AlphaMode::kCompositeWhite, false});
    ASSERT_TRUE(img.ok()) << img.status().ToString();
    Result<Patches> p = PreprocessImage(*img, 70, Rescale::kMultiply);
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    EXPECT_EQ(p->n, alt["b70_num_soft_tokens"].get<int64_t>());
    EXPECT_EQ(Sha256OfFloats(p->values), alt["b70_pixel_values_f32_sha256"].get<std::string>());
  }
}

TEST(ImagePatches, VideoFramesDivideBy255) {
  const nlohmann::json index = LoadJson(Fixture("goldens/video/index.json"));
  const auto tensors = LoadSafetensors(Fixture("goldens/video/video.safetensors"));
  const testing::RawTensor& frames = tensors.at("default.decoded_frames_nhwc_u8");
  const int64_t n = frames.shape[0];
  const nlohmann::json& recs = index["cases"]["default"]["frames"];
  for (int64_t f = 0; f < n; ++f) {
    SCOPED_TRACE(f);
    const Image frame = testing::FrameOf(frames, f);
    Result<Patches> p = PreprocessImage(frame, kDefaultVideoFrameBudget, Rescale::kDivide);
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    const nlohmann::json& r = recs[static_cast<size_t>(f)];
    EXPECT_EQ(p->n, r["num_soft_tokens"].get<int64_t>());
    EXPECT_EQ(p->grid_h * kPatchSide, r["resized_hw"][0].get<int64_t>());
    EXPECT_EQ(p->grid_w * kPatchSide, r["resized_hw"][1].get<int64_t>());
    EXPECT_EQ(Sha256OfFloats(p->values), r["pixel_values_f32_sha256"].get<std::string>());
    if (f == 0) {
      ExpectRowsEqual(*p, tensors.at("frame0.pixel_values_rows"));
      ExpectPositions(*p, tensors.at("positions_xy"));
      // The image path's multiply is 1 ulp off for some values: it must not match.
      Result<Patches> mul = PreprocessImage(frame, 70, Rescale::kMultiply);
      ASSERT_TRUE(mul.ok());
      EXPECT_NE(Sha256OfFloats(mul->values), r["pixel_values_f32_sha256"].get<std::string>());
    }
  }
}

TEST(ImagePatches, RescaleModesDifferOnHalfTheByteValues) {
  // MEDIA.md: x / 255.0f and x * f32(1/255) differ by 1 ulp for 126 of the 256 values.
  int differ = 0;
  for (int v = 0; v < 256; ++v) {
    const float mul = static_cast<float>(v) * static_cast<float>(1.0 / 255.0);
    const float div = static_cast<float>(v) / 255.0f;
    differ += mul != div;
  }
  EXPECT_EQ(differ, 126);
}

TEST(ImagePatches, TargetSizeRule) {
  struct Case {
    int64_t h, w, budget, th, tw;
  };
  const Case cases[] = {
      {1080, 1920, 280, 576, 1056},  // SPEC §3.1: 12 x 22 = 264 tokens
      {512, 512, 280, 768, 768},     // upscaled to fill the budget
      {20, 30, 70, 288, 480},        // tiny.png
      {10, 800, 70, 48, 3360},       // strip.png: target_height == 0 branch, capped at 70 blocks
      {10, 800, 280, 48, 7152},      // same branch, floor(80) * 48
      {800, 10, 70, 3360, 48},       // the transposed branch
      {336, 480, 70, 336, 480},      // exact fit: identity
      {1, 1, 70, 384, 384},          // a single pixel upscales to 8 x 8 blocks
      {1, 1, 1120, 1584, 1584},      // 33 x 33 = 1089 <= 1120
      {1, 16384, 70, 48, 3360},      // extreme aspect ratio
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::to_string(c.w) + "x" + std::to_string(c.h) + " @ " +
                 std::to_string(c.budget));
    Result<TargetSize> t = ImageTargetSize(c.h, c.w, c.budget);
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    EXPECT_EQ(t->height, c.th);
    EXPECT_EQ(t->width, c.tw);
    EXPECT_LE((t->height / 48) * (t->width / 48), c.budget);
  }
  // Every budget, a sweep of shapes: multiples of 48 and within the budget.
  for (int64_t budget : kImageBudgets) {
    for (int64_t h : {1, 7, 48, 99, 480, 1080, 4000}) {
      for (int64_t w : {1, 13, 48, 640, 1920, 16384}) {
        Result<TargetSize> t = ImageTargetSize(h, w, budget);
        ASSERT_TRUE(t.ok()) << h << "x" << w << ": " << t.status().ToString();
        EXPECT_EQ(t->height % 48, 0);
        EXPECT_EQ(t->width % 48, 0);
        EXPECT_GE(t->height, 48);
        EXPECT_LE((t->height / 48) * (t->width / 48), budget);
      }
    }
  }
}

TEST(ImagePatches, Errors) {
  Result<TargetSize> b = ImageTargetSize(100, 100, 100);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(b.status().message().find("budget 100 is not supported"), std::string::npos);
  EXPECT_FALSE(ImageTargetSize(0, 100, 70).ok());
  EXPECT_FALSE(ImageTargetSize(100, -1, 70).ok());
  EXPECT_FALSE(ImageTargetSize(int64_t{1} << 40, 1, 70).ok());

  Image bad;
  bad.width = 4;
  bad.height = 4;
  bad.rgb.resize(10);
  Result<Patches> p = PreprocessImage(bad, 70, Rescale::kMultiply);
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("not a valid RGB image"), std::string::npos);
  EXPECT_FALSE(PreprocessImage(Image{}, 70, Rescale::kMultiply).ok());
  Image ok;
  ok.width = ok.height = 1;
  ok.rgb = {1, 2, 3};
  EXPECT_FALSE(PreprocessImage(ok, 71, Rescale::kMultiply).ok());
}

TEST(ImagePatches, OneByOneImageUpscalesToPatches) {
  Image one;
  one.width = one.height = 1;
  one.rgb = {255, 0, 51};
  Image resized;
  Result<Patches> p = PreprocessImage(one, 70, Rescale::kMultiply, &resized);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->n, 64);
  EXPECT_EQ(resized.width, 384);
  EXPECT_EQ(p->values[0], 1.0f);
  EXPECT_EQ(p->values[1], 0.0f);
  EXPECT_EQ(p->values[2], 51.0f * static_cast<float>(1.0 / 255.0));
  EXPECT_EQ(p->pos_x.back(), 7);
  EXPECT_EQ(p->pos_y.back(), 7);
}

}  // namespace
}  // namespace loom::media
