// Image decoding against the reference goldens (tests/fixtures/goldens/image/index.json:
// decoded HWC sha256 for every source, both input routes) and a table of format variants and
// bad inputs, each either decoded correctly or rejected with a clear message.
#include "media/image.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "media/media_test_util.h"

namespace loom::media {
namespace {

using testing::EncodeBmp;
using testing::EncodeGif;
using testing::EncodeJpeg;
using testing::EncodePng;
using testing::EncodeWebp;
using testing::ExifWithOrientation;
using testing::Fixture;
using testing::GifSpec;
using testing::JpegSpec;
using testing::LoadJson;
using testing::PngSpec;
using testing::ReadBytes;
using testing::Sha256Hex;

int MaxAbsDiff(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  if (a.size() != b.size()) return 256;
  int m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(int{a[i]} - int{b[i]}));
  return m;
}

void ExpectError(const Result<Image>& r, StatusCode code, const std::string& substr,
                 const std::string& what) {
  ASSERT_FALSE(r.ok()) << what << ": decoded " << r->width << "x" << r->height;
  EXPECT_EQ(r.status().code(), code) << what << ": " << r.status().ToString();
  EXPECT_NE(r.status().message().find(substr), std::string::npos)
      << what << ": '" << substr << "' not in: " << r.status().ToString();
}

Image MustDecode(const std::vector<uint8_t>& bytes, const ImageDecodeOptions& opt = {}) {
  Result<Image> r = DecodeImage(bytes, MediaLimits{}, opt);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? std::move(r).value() : Image{};
}

std::vector<uint8_t> Noise(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> v(n);
  for (uint8_t& b : v) b = static_cast<uint8_t>(rng());
  return v;
}

// A smooth picture: survives lossy coding closely, unlike noise.
std::vector<uint8_t> Gradient(int w, int h, int channels) {
  std::vector<uint8_t> v(static_cast<size_t>(w * h * channels));
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      for (int c = 0; c < channels; ++c) {
        v[static_cast<size_t>((y * w + x) * channels + c)] =
            static_cast<uint8_t>(x * 150 / w + y * 60 / h + c * 20);
      }
    }
  }
  return v;
}

std::vector<uint8_t> RgbPng(int w, int h, const std::vector<uint8_t>& px) {
  PngSpec s;
  s.width = w;
  s.height = h;
  s.pixels = px;
  return EncodePng(s);
}

// ---- goldens ------------------------------------------------------------------------------

TEST(ImageGolden, DecodesEveryFixtureLikeTheReference) {
  const nlohmann::json index = LoadJson(Fixture("goldens/image/index.json"));
  ASSERT_TRUE(index.contains("images"));
  int checked = 0;
  for (const auto& [name, rec] : index["images"].items()) {
    SCOPED_TRACE(name);
    Result<Image> img = LoadImageFile(Fixture("media/" + name), MediaLimits{});
    ASSERT_TRUE(img.ok()) << img.status().ToString();
    EXPECT_EQ(img->height, rec["decoded_hw"][0].get<int64_t>());
    EXPECT_EQ(img->width, rec["decoded_hw"][1].get<int64_t>());
    const std::string sha = Sha256Hex(img->rgb);
    EXPECT_EQ(sha, rec["decoded_rgb_sha256"].get<std::string>());
    if (rec.contains("decoded_png")) {
      // The reference's decode stored losslessly: the max difference says how far off we are.
      Result<Image> ref = LoadImageFile(
          Fixture("goldens/image/" + rec["decoded_png"].get<std::string>()), MediaLimits{});
      ASSERT_TRUE(ref.ok()) << ref.status().ToString();
      EXPECT_EQ(MaxAbsDiff(img->rgb, ref->rgb), 0);
    }
    ++checked;
  }
  EXPECT_EQ(checked, 9);
}

TEST(ImageGolden, PilObjectRouteCompositesOnWhiteWithoutExif) {
  const nlohmann::json index = LoadJson(Fixture("goldens/image/index.json"));
  const ImageDecodeOptions pil{AlphaMode::kCompositeWhite, /*apply_exif_orientation=*/false};
  for (const char* name : {"rgba.png", "exif_rot6.jpg"}) {
    SCOPED_TRACE(name);
    const nlohmann::json& alt = index["images"][name]["pil_object_input"];
    Result<Image> img = LoadImageFile(Fixture(std::string("media/") + name), MediaLimits{}, pil);
    ASSERT_TRUE(img.ok()) << img.status().ToString();
    EXPECT_EQ(img->height, alt["decoded_hw"][0].get<int64_t>());
    EXPECT_EQ(img->width, alt["decoded_hw"][1].get<int64_t>());
    EXPECT_EQ(Sha256Hex(img->rgb), alt["decoded_rgb_sha256"].get<std::string>());
    Result<Image> ref = LoadImageFile(
        Fixture("goldens/image/" + alt["decoded_png"].get<std::string>()), MediaLimits{});
    ASSERT_TRUE(ref.ok());
    EXPECT_EQ(MaxAbsDiff(img->rgb, ref->rgb), 0);
  }
}

// The fuzz seeds (tiny files of every format and variant) against the reference, computed
// once with .cache/venv-reference: `path` is torchcodec decode_image(mode=RGB) (frame 0 for
// animations; PIL convert("RGB") for BMP, which torchcodec cannot read) and `pil` is the
// PIL-object route, transformers' convert_to_rgb without EXIF transpose. gray16.png has no
// `pil` entry: PIL clips 16-bit gray to 255 there, which loom does not copy.
TEST(ImageGolden, FuzzSeedsDecodeLikeTorchcodecAndPil) {
  struct Seed {
    const char* file;
    const char* path;
    const char* pil;
  };
  const Seed seeds[] = {
      {"alpha.webp", "ca06c7df6dd3d0dbe135f3c405869b04a3620bb9789832f53569238f84f17d5f",
       "9e05973ea86d8e4f1b20274acc3798f0922aa0fe7176291d54dbb913b6dae609"},
      {"anim.gif", "baf9b4d697c5a57afe652d8d683138cf22e6e9b8a2498bdf4234b208c173aa51",
       "baf9b4d697c5a57afe652d8d683138cf22e6e9b8a2498bdf4234b208c173aa51"},
      {"anim.webp", "5d6e2b55cc1d4666c06e4cf56c9d88b2cba4444046234dd2734236bbb1e3d8e5",
       "5473e52594df1845cb475b5ffad0b7775d2b4b81c3f51fca7619bb0ec93da72a"},
      {"baseline.jpg", "b2fca85a2ea84b28a98971d3112c43e44ca1af4f5271eb33ef8691f26ea72c94",
       "b2fca85a2ea84b28a98971d3112c43e44ca1af4f5271eb33ef8691f26ea72c94"},
      {"cmyk.jpg", "1f04993a4fc140a7092967da9480027f25b3abe6b7738753a5aae3ff363a64e6",
       "1f04993a4fc140a7092967da9480027f25b3abe6b7738753a5aae3ff363a64e6"},
      {"exif6.jpg", "e89284b2684b181829bcd75e80da5fa5244cbc8b7528d5097609e303bcb56a25",
       "cb2fd3ea86419b7d32982d58fc5d2f77bc87517e50cda545575058db08392a4b"},
      {"exif6.png", "eed8dae433714eeeaa61fa7118b3776a69096da4a7ce72eead68a2d522abe91b",
       "4c7357805bbd51e384d059dd0791f749bc88771ff5447ffa597f3f635c1c82ad"},
      {"exif8.webp", "9eccfd36a49ea720dbbc88aa35f4304762d49f3bbd87c4ae19663bf6045987cc",
       "4c7357805bbd51e384d059dd0791f749bc88771ff5447ffa597f3f635c1c82ad"},
      {"gray.jpg", "0119c4200ea832eb85e3a337bffffdbec1f4241736d6062eaed7cd5c3f361410",
       "0119c4200ea832eb85e3a337bffffdbec1f4241736d6062eaed7cd5c3f361410"},
      {"gray.png", "ad6c0c8dbf18cb82560f9e381eeed186825fd4df9b30d152a757b272a28bae82",
       "ad6c0c8dbf18cb82560f9e381eeed186825fd4df9b30d152a757b272a28bae82"},
      {"gray16.png", "ad6c0c8dbf18cb82560f9e381eeed186825fd4df9b30d152a757b272a28bae82", ""},
      {"gray_alpha.png", "ed1f3dd8afa7ca9be0f7d2976211a2f4b124b92a7522af471656a2cb2585adcf",
       "7815cedac67d42be064537b2ce1bdda9579f1d1a8053f2d5216b845eecd19c12"},
      {"interlaced.gif", "983d244486ddf0821d8834f1067190031938085cc1f9ab29c480195c48a88976",
       "983d244486ddf0821d8834f1067190031938085cc1f9ab29c480195c48a88976"},
      {"lossless.webp", "4c7357805bbd51e384d059dd0791f749bc88771ff5447ffa597f3f635c1c82ad",
       "4c7357805bbd51e384d059dd0791f749bc88771ff5447ffa597f3f635c1c82ad"},
      {"lossy.webp", "9200fa32b2ac1ac9d22562c376b7eadb759ff345b97d67e5402a1e34c1475528",
       "9200fa32b2ac1ac9d22562c376b7eadb759ff345b97d67e5402a1e34c1475528"},
      {"mono1.bmp", "a1a4f5721c1c4610af7f71078f3a68c330536d679803b0e0507ee8dc10c5dfca",
       "a1a4f5721c1c4610af7f71078f3a68c330536d679803b0e0507ee8dc10c5dfca"},
      {"palette.gif", "28dbcd5c677901553fbde0ec3e859420fb2d6925cd63ff8d5d79020d9e323379",
       "07877e59c191c3f655cbbd994ad46edce8bf211d26de368ee1ef1d1660bd723c"},
      {"palette8.bmp", "924d28f40109c964d32ff8cd08abe07ef18f4342dd161f964803e2b28bda7f5e",
       "924d28f40109c964d32ff8cd08abe07ef18f4342dd161f964803e2b28bda7f5e"},
      {"palette_trns.png", "baf9b4d697c5a57afe652d8d683138cf22e6e9b8a2498bdf4234b208c173aa51",
       "07877e59c191c3f655cbbd994ad46edce8bf211d26de368ee1ef1d1660bd723c"},
      {"progressive.jpg", "b2fca85a2ea84b28a98971d3112c43e44ca1af4f5271eb33ef8691f26ea72c94",
       "b2fca85a2ea84b28a98971d3112c43e44ca1af4f5271eb33ef8691f26ea72c94"},
      {"rgb.png", "4c7357805bbd51e384d059dd0791f749bc88771ff5447ffa597f3f635c1c82ad",
       "4c7357805bbd51e384d059dd0791f749bc88771ff5447ffa597f3f635c1c82ad"},
      {"rgb24.bmp", "4c7357805bbd51e384d059dd0791f749bc88771ff5447ffa597f3f635c1c82ad",
       "4c7357805bbd51e384d059dd0791f749bc88771ff5447ffa597f3f635c1c82ad"},
      {"rgba.png", "ca06c7df6dd3d0dbe135f3c405869b04a3620bb9789832f53569238f84f17d5f",
       "9e05973ea86d8e4f1b20274acc3798f0922aa0fe7176291d54dbb913b6dae609"},
      {"rgba32.bmp", "ca06c7df6dd3d0dbe135f3c405869b04a3620bb9789832f53569238f84f17d5f",
       "ca06c7df6dd3d0dbe135f3c405869b04a3620bb9789832f53569238f84f17d5f"},
      {"tiny.png", "f91d2cb0646b3cbfc04ecdd83e9605edb4b244d71f45684a123228b419f94b8d",
       "f91d2cb0646b3cbfc04ecdd83e9605edb4b244d71f45684a123228b419f94b8d"},
      {"transparent_offset.gif", "40f3293b80bd38dbbee6ab99a4af069cad836223fb8e6f09cbe293e658e470b7",
       "402f8136adef49ff15b9eec4c8f2c3fd0d6d04ca95775c8ba2a98c071cf305ad"},
  };
  for (const Seed& s : seeds) {
    SCOPED_TRACE(s.file);
    const std::string file = std::string(LOOM_SOURCE_DIR) + "/fuzz/corpus/image/" + s.file;
    Result<Image> path = LoadImageFile(file, MediaLimits{});
    ASSERT_TRUE(path.ok()) << path.status().ToString();
    EXPECT_EQ(Sha256Hex(path->rgb), s.path);
    if (*s.pil == '\0') continue;
    Result<Image> pil = LoadImageFile(file, MediaLimits{}, {AlphaMode::kCompositeWhite, false});
    ASSERT_TRUE(pil.ok()) << pil.status().ToString();
    EXPECT_EQ(Sha256Hex(pil->rgb), s.pil);
  }
}

// ---- formats and variants -----------------------------------------------------------------

TEST(ImageDecode, SniffsMagicBytes) {
  auto sniff = [](std::string s) {
    return SniffImageFormat({reinterpret_cast<const uint8_t*>(s.data()), s.size()});
  };
  EXPECT_EQ(sniff(std::string("\x89PNG\r\n\x1a\n....", 12)), ImageFormat::kPng);
  EXPECT_EQ(sniff("\xff\xd8\xff\xe0"), ImageFormat::kJpeg);
  EXPECT_EQ(sniff(std::string("RIFF\x10\x00\x00\x00WEBPVP8 ", 16)), ImageFormat::kWebp);
  EXPECT_EQ(sniff(std::string("RIFF\x10\x00\x00\x00WAVEfmt ", 16)), ImageFormat::kUnknown);
  EXPECT_EQ(sniff("GIF89a"), ImageFormat::kGif);
  EXPECT_EQ(sniff("GIF87a"), ImageFormat::kGif);
  EXPECT_EQ(sniff("BM"), ImageFormat::kBmp);
  EXPECT_EQ(sniff("\x89PN"), ImageFormat::kUnknown);
  EXPECT_EQ(sniff(""), ImageFormat::kUnknown);
  EXPECT_STREQ(ImageFormatName(ImageFormat::kWebp), "WebP");
}

TEST(ImageDecode, PngPaletteGrayAlphaAndInterlace) {
  // Palette with a transparent entry: dropped on the path route, white on the PIL route.
  PngSpec pal;
  pal.width = 4;
  pal.height = 1;
  pal.color_type = PNG_COLOR_TYPE_PALETTE;
  pal.palette = {10, 20, 30, 200, 100, 50, 0, 255, 0};
  pal.trns = {255, 0, 128};
  pal.pixels = {0, 1, 2, 1};
  const std::vector<uint8_t> pal_png = EncodePng(pal);
  EXPECT_EQ(MustDecode(pal_png).rgb,
            (std::vector<uint8_t>{10, 20, 30, 200, 100, 50, 0, 255, 0, 200, 100, 50}));
  // alpha 128 over white: PIL's integer alpha_composite gives 127 + c * 128 / 255, rounded.
  EXPECT_EQ(MustDecode(pal_png, {AlphaMode::kCompositeWhite, true}).rgb,
            (std::vector<uint8_t>{10, 20, 30, 255, 255, 255, 127, 255, 127, 255, 255, 255}));

  // 2-bit gray expands to 0, 85, 170, 255 and is replicated.
  PngSpec g2;
  g2.width = 4;
  g2.height = 1;
  g2.color_type = PNG_COLOR_TYPE_GRAY;
  g2.bit_depth = 2;
  g2.pixels = {0b00011011};
  EXPECT_EQ(MustDecode(EncodePng(g2)).rgb,
            (std::vector<uint8_t>{0, 0, 0, 85, 85, 85, 170, 170, 170, 255, 255, 255}));

  PngSpec ga;
  ga.width = 2;
  ga.height = 1;
  ga.color_type = PNG_COLOR_TYPE_GRAY_ALPHA;
  ga.pixels = {100, 0, 100, 255};
  EXPECT_EQ(MustDecode(EncodePng(ga)).rgb, (std::vector<uint8_t>{100, 100, 100, 100, 100, 100}));
  EXPECT_EQ(MustDecode(EncodePng(ga), {AlphaMode::kCompositeWhite, true}).rgb,
            (std::vector<uint8_t>{255, 255, 255, 100, 100, 100}));

  // Adam7 gives the same pixels as a plain file.
  PngSpec plain;
  plain.width = 37;
  plain.height = 23;
  plain.pixels = Noise(37 * 23 * 3, 1);
  PngSpec interlaced = plain;
  interlaced.interlace = true;
  const Image a = MustDecode(EncodePng(plain));
  const Image b = MustDecode(EncodePng(interlaced));
  EXPECT_EQ(a.rgb, plain.pixels);
  EXPECT_EQ(b.rgb, plain.pixels);
}

TEST(ImageDecode, Png16BitScalesLikeTheReference) {
  const int w = 16, h = 8;
  const std::vector<uint8_t> px8 = Noise(w * h * 3, 2);
  PngSpec s16;
  s16.width = w;
  s16.height = h;
  s16.bit_depth = 16;
  // v * 257 is the exact 16-bit twin of v: it must decode to the 8-bit file's bytes.
  for (uint8_t v : px8) {
    s16.pixels.push_back(v);
    s16.pixels.push_back(v);
  }
  EXPECT_EQ(MustDecode(EncodePng(s16)).rgb, MustDecode(RgbPng(w, h, px8)).rgb);
  // Other values round, (v * 255 + 32895) >> 16, as torchcodec does (PIL truncates).
  PngSpec odd = s16;
  odd.width = 3;
  odd.height = 1;
  const uint16_t vals[9] = {0, 1000, 2000, 30000, 32896, 65535, 127, 128, 40000};
  odd.pixels.clear();
  std::vector<uint8_t> want;
  for (uint16_t v : vals) {
    odd.pixels.push_back(static_cast<uint8_t>(v >> 8));
    odd.pixels.push_back(static_cast<uint8_t>(v));
    want.push_back(static_cast<uint8_t>((uint32_t{v} * 255 + 32895) >> 16));
  }
  EXPECT_EQ(MustDecode(EncodePng(odd)).rgb, want);
}

// PIL's ImageOps.exif_transpose of a 3x2 image whose pixel values are y * 3 + x.
TEST(ImageDecode, AppliesAllEightExifOrientations) {
  const std::vector<std::vector<uint8_t>> want = {
      {0, 1, 2, 3, 4, 5}, {2, 1, 0, 5, 4, 3}, {5, 4, 3, 2, 1, 0}, {3, 4, 5, 0, 1, 2},
      {0, 3, 1, 4, 2, 5}, {3, 0, 4, 1, 5, 2}, {5, 2, 4, 1, 3, 0}, {2, 5, 1, 4, 0, 3}};
  std::vector<uint8_t> px;
  for (int i = 0; i < 6; ++i) px.insert(px.end(), {uint8_t(i), uint8_t(i), uint8_t(i)});
  for (int o = 1; o <= 8; ++o) {
    SCOPED_TRACE(o);
    PngSpec s;
    s.width = 3;
    s.height = 2;
    s.pixels = px;
    s.exif = ExifWithOrientation(o, false);
    const Image img = MustDecode(EncodePng(s));
    EXPECT_EQ(img.width, o >= 5 ? 2 : 3);
    EXPECT_EQ(img.height, o >= 5 ? 3 : 2);
    std::vector<uint8_t> got;
    for (size_t i = 0; i < img.rgb.size(); i += 3) got.push_back(img.rgb[i]);
    EXPECT_EQ(got, want[static_cast<size_t>(o - 1)]);
    // The PIL-object route ignores EXIF.
    EXPECT_EQ(MustDecode(EncodePng(s), {AlphaMode::kDrop, false}).rgb, px);
  }
}

TEST(ImageDecode, JpegGrayProgressiveExifAndCmyk) {
  JpegSpec base;
  base.width = 40;
  base.height = 24;
  base.pixels = Gradient(40, 24, 3);
  const Image baseline = MustDecode(EncodeJpeg(base));
  ASSERT_EQ(baseline.width, 40);
  EXPECT_LE(MaxAbsDiff(baseline.rgb, base.pixels), 12);
  // Progressive coding reorders the same quantized coefficients: identical pixels.
  JpegSpec prog = base;
  prog.progressive = true;
  EXPECT_EQ(MustDecode(EncodeJpeg(prog)).rgb, baseline.rgb);

  JpegSpec gray = base;
  gray.components = 1;
  gray.pixels = Gradient(40, 24, 1);
  const Image g = MustDecode(EncodeJpeg(gray));
  for (size_t i = 0; i < g.rgb.size(); i += 3) {
    ASSERT_EQ(g.rgb[i], g.rgb[i + 1]);
    ASSERT_EQ(g.rgb[i], g.rgb[i + 2]);
  }

  // APP1 Exif orientation 6 (rotate 90 clockwise): out(x, y) = in(y, h - 1 - x).
  JpegSpec rot = base;
  rot.app1 = ExifWithOrientation(6, true);
  const Image r = MustDecode(EncodeJpeg(rot));
  ASSERT_EQ(r.width, 24);
  ASSERT_EQ(r.height, 40);
  const Image upright = MustDecode(EncodeJpeg(rot), {AlphaMode::kDrop, false});
  EXPECT_EQ(upright.rgb, baseline.rgb);
  for (int y = 0; y < 40; ++y) {
    for (int x = 0; x < 24; ++x) {
      for (int c = 0; c < 3; ++c) {
        ASSERT_EQ(r.rgb[static_cast<size_t>((y * 24 + x) * 3 + c)],
                  baseline.rgb[static_cast<size_t>(((23 - x) * 40 + y) * 3 + c)]);
      }
    }
  }

  // CMYK with an Adobe marker is read as inverted CMYK and converted like PIL's cmyk2rgb.
  const uint8_t cmyk[4] = {10, 100, 200, 50};
  JpegSpec cm;
  cm.width = 16;
  cm.height = 16;
  cm.components = 4;
  cm.quality = 100;
  for (int i = 0; i < 256; ++i) {
    for (uint8_t v : cmyk) cm.pixels.push_back(static_cast<uint8_t>(255 - v));  // stored inverted
  }
  const Image c = MustDecode(EncodeJpeg(cm));
  ASSERT_EQ(c.width, 16);
  const int nk = 255 - cmyk[3];
  for (int ch = 0; ch < 3; ++ch) {
    const int want = nk - (cmyk[ch] * nk + 127) / 255;  // 197, 125, 44 with PIL
    EXPECT_NEAR(c.rgb[static_cast<size_t>(ch)], want, 2) << ch;
  }
}

TEST(ImageDecode, WebpLossyLosslessAlphaAndAnimation) {
  const std::vector<uint8_t> px = Noise(20 * 10 * 3, 3);
  EXPECT_EQ(MustDecode(EncodeWebp(20, 10, 3, px)).rgb, px);
  const Image lossy = MustDecode(EncodeWebp(20, 10, 3, Gradient(20, 10, 3), 90));
  EXPECT_LE(MaxAbsDiff(lossy.rgb, Gradient(20, 10, 3)), 40);

  std::vector<uint8_t> rgba = {50, 100, 150, 255, 50, 100, 150, 0};
  const std::vector<uint8_t> webp = EncodeWebp(2, 1, 4, rgba);
  const Image drop = MustDecode(webp);
  EXPECT_EQ(std::vector<uint8_t>(drop.rgb.begin(), drop.rgb.begin() + 3),
            (std::vector<uint8_t>{50, 100, 150}));
  EXPECT_EQ(MustDecode(webp, {AlphaMode::kCompositeWhite, true}).rgb,
            (std::vector<uint8_t>{50, 100, 150, 255, 255, 255}));

  // An animated file (fuzz/corpus/image/anim.webp, two 4x4 frames written by PIL): the first
  // frame, as PIL shows it (transparent rows read as black).
  const std::vector<uint8_t> anim =
      ReadBytes(std::string(LOOM_SOURCE_DIR) + "/fuzz/corpus/image/anim.webp");
  ASSERT_FALSE(anim.empty());
  const Image a = MustDecode(anim);
  ASSERT_EQ(a.width, 4);
  ASSERT_EQ(a.height, 4);
  for (int i = 0; i < 16; ++i) {
    const std::vector<uint8_t> want =
        i < 8 ? std::vector<uint8_t>{0, 0, 0} : std::vector<uint8_t>{50, 100, 150};
    EXPECT_EQ(std::vector<uint8_t>(a.rgb.begin() + 3 * i, a.rgb.begin() + 3 * i + 3), want) << i;
  }
}

TEST(ImageDecode, WebpExifChunk) {
  // Wrap a lossless VP8L bitstream in an extended (VP8X) container with an EXIF chunk.
  const std::vector<uint8_t> px = Noise(3 * 2 * 3, 4);
  const std::vector<uint8_t> simple = EncodeWebp(3, 2, 3, px);
  ASSERT_GT(simple.size(), 20u);
  const std::vector<uint8_t> vp8l(simple.begin() + 12, simple.end());
  std::vector<uint8_t> exif = ExifWithOrientation(8, false);
  std::vector<uint8_t> body = {'W',  'E', 'B', 'P', 'V', 'P', '8', 'X', 10, 0, 0, 0,
                               0x08, 0,   0,   0,   2,   0,   0,   1,   0,  0};  // EXIF flag, 3x2
  body.insert(body.end(), vp8l.begin(), vp8l.end());
  body.insert(body.end(), {'E', 'X', 'I', 'F'});
  testing::Put32(&body, static_cast<uint32_t>(exif.size()));
  body.insert(body.end(), exif.begin(), exif.end());
  if (exif.size() % 2) body.push_back(0);
  std::vector<uint8_t> file = {'R', 'I', 'F', 'F'};
  testing::Put32(&file, static_cast<uint32_t>(body.size()));
  file.insert(file.end(), body.begin(), body.end());
  const Image img = MustDecode(file);
  EXPECT_EQ(img.width, 2);
  EXPECT_EQ(img.height, 3);
  // Orientation 8 (rotate 90 counter-clockwise): out(x, y) = in(w - 1 - y, x).
  for (int y = 0; y < 3; ++y) {
    for (int x = 0; x < 2; ++x) {
      EXPECT_EQ(img.rgb[static_cast<size_t>((y * 2 + x) * 3)],
                px[static_cast<size_t>((x * 3 + (2 - y)) * 3)]);
    }
  }
}

TEST(ImageDecode, GifFirstFrameTransparencyAndInterlace) {
  GifSpec s;
  s.screen_w = 6;
  s.screen_h = 4;
  s.background = 3;
  s.palette = {10, 20, 30, 200, 100, 50, 0, 255, 0, 7, 7, 7};
  s.left = 2;
  s.top = 1;
  s.frame_w = 3;
  s.frame_h = 2;
  s.indices = {0, 1, 2, 1, 1, 2};
  s.transparent = 1;
  const std::vector<uint8_t> gif = EncodeGif(s);
  auto px = [](const Image& im, int x, int y) {
    const uint8_t* p = &im.rgb[static_cast<size_t>((y * im.width + x) * 3)];
    return std::vector<uint8_t>{p[0], p[1], p[2]};
  };
  // Path route (torchcodec): background colour everywhere the frame does not paint.
  const Image d = MustDecode(gif);
  ASSERT_EQ(d.width, 6);
  ASSERT_EQ(d.height, 4);
  EXPECT_EQ(px(d, 0, 0), (std::vector<uint8_t>{7, 7, 7}));
  EXPECT_EQ(px(d, 2, 1), (std::vector<uint8_t>{10, 20, 30}));
  EXPECT_EQ(px(d, 3, 1), (std::vector<uint8_t>{7, 7, 7}));  // transparent
  EXPECT_EQ(px(d, 4, 2), (std::vector<uint8_t>{0, 255, 0}));
  // PIL route: transparent and uncovered pixels are white.
  const Image w = MustDecode(gif, {AlphaMode::kCompositeWhite, true});
  EXPECT_EQ(px(w, 0, 0), (std::vector<uint8_t>{255, 255, 255}));
  EXPECT_EQ(px(w, 3, 1), (std::vector<uint8_t>{255, 255, 255}));
  EXPECT_EQ(px(w, 2, 1), (std::vector<uint8_t>{10, 20, 30}));
  // Without transparency PIL fills the uncovered area with palette entry 0.
  s.transparent = -1;
  const Image o = MustDecode(EncodeGif(s), {AlphaMode::kCompositeWhite, true});
  EXPECT_EQ(px(o, 0, 0), (std::vector<uint8_t>{10, 20, 30}));
  EXPECT_EQ(px(o, 3, 1), (std::vector<uint8_t>{200, 100, 50}));

  // Interlaced rows arrive in the order 0, 8 | 4 | 2, 6 | 1, 3, 5, 7.
  GifSpec p;
  p.screen_w = p.frame_w = 2;
  p.screen_h = p.frame_h = 9;
  for (int i = 0; i < 9; ++i) p.palette.insert(p.palette.end(), {uint8_t(i * 20), 0, 0});
  for (int y = 0; y < 9; ++y) p.indices.insert(p.indices.end(), {uint8_t(y), uint8_t(y)});
  const Image plain = MustDecode(EncodeGif(p));
  p.interlace = true;
  p.indices.clear();
  for (int y : {0, 8, 4, 2, 6, 1, 3, 5, 7})
    p.indices.insert(p.indices.end(), {uint8_t(y), uint8_t(y)});
  EXPECT_EQ(MustDecode(EncodeGif(p)).rgb, plain.rgb);
  EXPECT_EQ(px(plain, 1, 5), (std::vector<uint8_t>{100, 0, 0}));
}

TEST(ImageDecode, BmpDepthsAndRowOrder) {
  const int w = 3, h = 2;
  const std::vector<uint8_t> rgb = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18};
  // 24-bit: BGR rows padded to 4 bytes; bottom-up by default.
  auto rows24 = [&](bool top_down) {
    std::vector<uint8_t> r;
    for (int i = 0; i < h; ++i) {
      const int y = top_down ? i : h - 1 - i;
      for (int x = 0; x < w; ++x) {
        const uint8_t* p = &rgb[static_cast<size_t>((y * w + x) * 3)];
        r.insert(r.end(), {p[2], p[1], p[0]});
      }
      r.insert(r.end(), {0, 0, 0});  // 9 -> 12 bytes
    }
    return r;
  };
  EXPECT_EQ(MustDecode(EncodeBmp(w, h, 24, false, rows24(false))).rgb, rgb);
  EXPECT_EQ(MustDecode(EncodeBmp(w, h, 24, true, rows24(true))).rgb, rgb);
  // 32-bit BI_RGB: BGRX, the fourth byte ignored.
  std::vector<uint8_t> r32;
  for (int y = h - 1; y >= 0; --y) {
    for (int x = 0; x < w; ++x) {
      const uint8_t* p = &rgb[static_cast<size_t>((y * w + x) * 3)];
      r32.insert(r32.end(), {p[2], p[1], p[0], 0});
    }
  }
  EXPECT_EQ(MustDecode(EncodeBmp(w, h, 32, false, r32)).rgb, rgb);
  // 32-bit with an alpha mask: alpha 0 becomes white on the PIL route.
  std::vector<uint8_t> r32a = r32;
  for (size_t i = 3; i < r32a.size(); i += 4) r32a[i] = 255;
  r32a[3] = 0;  // bottom row first: pixel (0, 1)
  const std::vector<uint32_t> masks = {0x00ff0000, 0x0000ff00, 0x000000ff, 0xff000000};
  EXPECT_EQ(MustDecode(EncodeBmp(w, h, 32, false, r32a, {}, masks)).rgb, rgb);
  const Image white =
      MustDecode(EncodeBmp(w, h, 32, false, r32a, {}, masks), {AlphaMode::kCompositeWhite, true});
  EXPECT_EQ(std::vector<uint8_t>(white.rgb.begin() + 9, white.rgb.begin() + 12),
            (std::vector<uint8_t>{255, 255, 255}));
  // 16-bit 5-6-5 bit fields.
  std::vector<uint8_t> r16 = {0x00, 0xf8, 0xe0, 0x07};  // red, green
  EXPECT_EQ(MustDecode(EncodeBmp(2, 1, 16, false, r16, {}, {0xf800, 0x07e0, 0x001f})).rgb,
            (std::vector<uint8_t>{255, 0, 0, 0, 255, 0}));
  // 1, 4 and 8 bits through a palette (BGRX quads).
  const std::vector<uint8_t> pal = {30, 20, 10, 0, 60, 50, 40, 0};
  const std::vector<uint8_t> want = {10, 20, 30, 40, 50, 60, 10, 20, 30};
  EXPECT_EQ(MustDecode(EncodeBmp(3, 1, 1, false, {0b01000000, 0, 0, 0}, pal)).rgb, want);
  EXPECT_EQ(MustDecode(EncodeBmp(3, 1, 4, false, {0x01, 0x00, 0, 0}, pal)).rgb, want);
  EXPECT_EQ(MustDecode(EncodeBmp(3, 1, 8, false, {0, 1, 0, 0}, pal)).rgb, want);
  // RLE is rejected, not misread.
  std::vector<uint8_t> rle = EncodeBmp(3, 1, 8, false, {0, 1, 0, 0}, pal);
  rle[30] = 1;
  ExpectError(DecodeImage(rle, MediaLimits{}), StatusCode::kUnimplemented, "RLE", "rle");
}

TEST(ImageDecode, OneByOneDecodes) {
  const Image img = MustDecode(RgbPng(1, 1, {9, 8, 7}));
  EXPECT_EQ(img.width, 1);
  EXPECT_EQ(img.height, 1);
  EXPECT_EQ(img.rgb, (std::vector<uint8_t>{9, 8, 7}));
}

// ---- bad inputs ---------------------------------------------------------------------------

TEST(ImageDecode, EmptyAndUnknownInput) {
  ExpectError(DecodeImage({}, MediaLimits{}), StatusCode::kInvalidArgument, "empty", "empty");
  const std::string html = "<html><body>404</body></html>";
  ExpectError(
      DecodeImage({reinterpret_cast<const uint8_t*>(html.data()), html.size()}, MediaLimits{}),
      StatusCode::kInvalidArgument, "supported formats: PNG, JPEG, WebP, GIF, BMP", "html");
  Result<Image> missing = LoadImageFile("/nonexistent/loom.png", MediaLimits{});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  Result<Image> dir = LoadImageFile(Fixture("media"), MediaLimits{});
  ASSERT_FALSE(dir.ok());
  EXPECT_NE(dir.status().message().find("not a regular file"), std::string::npos);
}

TEST(ImageDecode, RejectsZeroSizes) {
  std::vector<uint8_t> png = RgbPng(1, 1, {1, 2, 3});
  png[16] = png[17] = png[18] = png[19] = 0;  // IHDR width = 0
  ExpectError(DecodeImage(png, MediaLimits{}), StatusCode::kDataLoss, "PNG: image width 0",
              "png w0");
  ExpectError(DecodeImage(EncodeBmp(0, 1, 24, false, {}), MediaLimits{}), StatusCode::kDataLoss,
              "BMP: image width 0", "bmp w0");
  GifSpec g;
  g.screen_w = 4;
  g.screen_h = 0;
  g.palette = {0, 0, 0, 255, 255, 255};
  g.frame_w = 1;
  g.frame_h = 1;
  g.indices = {1};
  ExpectError(DecodeImage(EncodeGif(g), MediaLimits{}), StatusCode::kDataLoss,
              "GIF: image height 0", "gif h0");
}

// Oversized headers fail before any pixel buffer exists (ASan would flag a 40 GB malloc).
TEST(ImageDecode, RejectsDecompressionBombsFromTheHeader) {
  std::vector<uint8_t> png = RgbPng(1, 1, {1, 2, 3});
  auto set_be32 = [&](size_t at, uint32_t v) {
    for (int i = 0; i < 4; ++i) png[at + i] = static_cast<uint8_t>(v >> (24 - 8 * i));
  };
  set_be32(16, 100000);
  ExpectError(DecodeImage(png, MediaLimits{}), StatusCode::kOutOfRange,
              "image width 100000 exceeds the limit of 16384 pixels (max_image_side)", "png wide");
  set_be32(16, 16000);
  set_be32(20, 16000);
  ExpectError(DecodeImage(png, MediaLimits{}), StatusCode::kOutOfRange,
              "16000x16000 = 256000000 pixels exceeds the limit of 33554432 pixels "
              "(max_image_pixels)",
              "png pixels");
  ExpectError(DecodeImage(EncodeBmp(100000, 1, 24, false, {}), MediaLimits{}),
              StatusCode::kOutOfRange, "BMP: image width 100000 exceeds", "bmp wide");

  // Every format against a small side limit.
  MediaLimits small;
  small.max_image_side = 64;
  const std::vector<uint8_t> px = Gradient(100, 8, 3);
  JpegSpec j;
  j.width = 100;
  j.height = 8;
  j.pixels = px;
  GifSpec g;
  g.screen_w = g.frame_w = 100;
  g.screen_h = g.frame_h = 1;
  g.palette = {0, 0, 0, 255, 255, 255};
  g.indices.assign(100, 1);
  const std::vector<std::pair<const char*, std::vector<uint8_t>>> files = {
      {"PNG", RgbPng(100, 8, px)},
      {"JPEG", EncodeJpeg(j)},
      {"WebP", EncodeWebp(100, 8, 3, px)},
      {"GIF", EncodeGif(g)},
      {"BMP", EncodeBmp(100, 1, 24, false, std::vector<uint8_t>(300))}};
  for (const auto& [fmt, bytes] : files) {
    ExpectError(DecodeImage(bytes, small), StatusCode::kOutOfRange,
                std::string(fmt) + ": image width 100 exceeds the limit of 64 pixels", fmt);
  }
  MediaLimits tiny_bytes;
  tiny_bytes.max_image_bytes = 10;
  ExpectError(DecodeImage(files[0].second, tiny_bytes), StatusCode::kOutOfRange,
              "bytes exceeds the limit of 10 bytes (max_image_bytes)", "bytes");
}

std::vector<std::pair<std::string, std::vector<uint8_t>>> ValidFiles() {
  const int w = 40, h = 30;
  const std::vector<uint8_t> px = Noise(w * h * 3, 5);
  JpegSpec j;
  j.width = w;
  j.height = h;
  j.pixels = px;
  JpegSpec jp = j;
  jp.progressive = true;
  GifSpec g;
  g.screen_w = g.frame_w = w;
  g.screen_h = g.frame_h = h;
  for (int i = 0; i < 16; ++i) g.palette.insert(g.palette.end(), {uint8_t(i * 16), 0, 0});
  for (int i = 0; i < w * h; ++i) g.indices.push_back(static_cast<uint8_t>(px[i] % 16));
  std::vector<uint8_t> rows;
  for (int y = 0; y < h; ++y) {
    rows.insert(rows.end(), px.begin() + y * w * 3, px.begin() + (y + 1) * w * 3);
  }
  return {{"PNG", RgbPng(w, h, px)},
          {"JPEG", EncodeJpeg(j)},
          {"JPEG", EncodeJpeg(jp)},
          {"WebP", EncodeWebp(w, h, 3, px)},
          {"WebP", EncodeWebp(w, h, 3, px, 80)},
          {"GIF", EncodeGif(g)},
          {"BMP", EncodeBmp(w, h, 24, false, rows)}};
}

TEST(ImageDecode, TruncatedFilesFailCleanly) {
  for (const auto& [fmt, bytes] : ValidFiles()) {
    ASSERT_TRUE(DecodeImage(bytes, MediaLimits{}).ok()) << fmt;
    for (size_t cut : {size_t{1}, size_t{5}, size_t{12}, size_t{30}, bytes.size() / 4,
                       bytes.size() / 2, bytes.size() * 3 / 4}) {
      const std::vector<uint8_t> part(bytes.begin(), bytes.begin() + static_cast<long>(cut));
      Result<Image> r = DecodeImage(part, MediaLimits{});
      ASSERT_FALSE(r.ok()) << fmt << " cut at " << cut << " of " << bytes.size();
      // Very short cuts may not even carry the magic; the rest must name the format.
      if (SniffImageFormat(part) != ImageFormat::kUnknown) {
        EXPECT_NE(r.status().message().find(fmt), std::string::npos) << r.status().ToString();
        EXPECT_NE(r.status().code(), StatusCode::kInternal) << r.status().ToString();
      }
    }
  }
}

// Bit flips and random cuts: any outcome but a crash, a hang or an ASan report; errors name
// the format.
TEST(ImageDecode, CorruptFilesNeverCrash) {
  std::mt19937 rng(7);
  int errors = 0;
  for (const auto& [fmt, bytes] : ValidFiles()) {
    for (int trial = 0; trial < 150; ++trial) {
      std::vector<uint8_t> b = bytes;
      const int flips = 1 + static_cast<int>(rng() % 8);
      for (int f = 0; f < flips; ++f) {
        const size_t at = 8 + rng() % (b.size() - 8);  // keep the magic
        b[at] ^= static_cast<uint8_t>(1u << (rng() % 8));
      }
      if (trial % 3 == 0) b.resize(8 + rng() % (b.size() - 8));
      Result<Image> r = DecodeImage(b, MediaLimits{});
      if (r.ok()) {
        EXPECT_EQ(r->rgb.size(), static_cast<size_t>(r->width * r->height * 3));
        continue;
      }
      ++errors;
      EXPECT_NE(r.status().message().find(fmt), std::string::npos) << r.status().ToString();
    }
  }
  EXPECT_GT(errors, 100);
}

}  // namespace
}  // namespace loom::media
