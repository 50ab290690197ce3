// Helpers shared by the image tests: fixture paths, SHA-256, the golden index and tensors, and
// small in-memory encoders (libpng, libjpeg, libwebp, hand-written GIF and BMP) so bad-input
// cases need no committed binaries. Header-only because loom_module() puts every non-test .cc
// into the library.
#ifndef LOOM_MEDIA_MEDIA_TEST_UTIL_H_
#define LOOM_MEDIA_MEDIA_TEST_UTIL_H_

#include <jpeglib.h>
#include <png.h>
#include <webp/encode.h>

#include <algorithm>
#include <array>
#include <csetjmp>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "base/sha256.h"
#include "media/image.h"

namespace loom::media::testing {

using ::loom::Sha256Hex;

inline std::string Fixture(const std::string& rel) {
  return std::string(LOOM_SOURCE_DIR) + "/tests/fixtures/" + rel;
}

inline std::vector<uint8_t> ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline std::string Sha256OfFloats(std::span<const float> v) {
  return Sha256Hex({reinterpret_cast<const uint8_t*>(v.data()), v.size() * sizeof(float)});
}

inline nlohmann::json LoadJson(const std::string& path) {
  std::vector<uint8_t> b = ReadBytes(path);
  return nlohmann::json::parse(b.begin(), b.end(), nullptr, /*allow_exceptions=*/false);
}

// A .safetensors file as name -> raw little-endian bytes (the goldens are trusted fixtures;
// src/formats has the hardened reader).
struct RawTensor {
  std::string dtype;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;
};
inline std::map<std::string, RawTensor> LoadSafetensors(const std::string& path) {
  std::map<std::string, RawTensor> out;
  const std::vector<uint8_t> b = ReadBytes(path);
  if (b.size() < 8) return out;
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | b[static_cast<size_t>(i)];
  if (n > b.size() - 8) return out;
  const nlohmann::json h = nlohmann::json::parse(b.begin() + 8, b.begin() + 8 + n, nullptr, false);
  if (!h.is_object()) return out;
  for (const auto& [name, t] : h.items()) {
    if (name == "__metadata__") continue;
    RawTensor r;
    r.dtype = t["dtype"].get<std::string>();
    r.shape = t["shape"].get<std::vector<int64_t>>();
    const uint64_t begin = t["data_offsets"][0].get<uint64_t>();
    const uint64_t end = t["data_offsets"][1].get<uint64_t>();
    if (end < begin || 8 + n + end > b.size()) continue;
    r.bytes.assign(b.begin() + static_cast<std::ptrdiff_t>(8 + n + begin),
                   b.begin() + static_cast<std::ptrdiff_t>(8 + n + end));
    out[name] = std::move(r);
  }
  return out;
}

// ---- encoders -----------------------------------------------------------------------------

struct PngSpec {
  int width = 0, height = 0;
  int color_type = PNG_COLOR_TYPE_RGB;
  int bit_depth = 8;
  bool interlace = false;
  std::vector<uint8_t> pixels;   // packed rows as libpng expects (16-bit: big-endian)
  std::vector<uint8_t> palette;  // RGB triples for PNG_COLOR_TYPE_PALETTE
  std::vector<uint8_t> trns;     // palette alpha
  std::vector<uint8_t> exif;     // eXIf payload (TIFF)
};

inline void PngWriteToVector(png_structp png, png_bytep data, size_t n) {
  auto* out = static_cast<std::vector<uint8_t>*>(png_get_io_ptr(png));
  out->insert(out->end(), data, data + n);
}
inline void PngNoFlush(png_structp) {}

// Empty on failure. Locals are trivially destructible across the setjmp.
inline std::vector<uint8_t> EncodePng(const PngSpec& s) {
  std::vector<uint8_t> out;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  std::vector<png_bytep> rows(static_cast<size_t>(s.height));
  const size_t rowbytes = s.height > 0 ? s.pixels.size() / static_cast<size_t>(s.height) : 0;
  for (int y = 0; y < s.height; ++y) {
    rows[static_cast<size_t>(y)] = const_cast<png_bytep>(s.pixels.data()) + rowbytes * y;
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    out.clear();
    return out;
  }
  png_set_write_fn(png, &out, PngWriteToVector, PngNoFlush);
  png_set_IHDR(png, info, s.width, s.height, s.bit_depth, s.color_type,
               s.interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  std::vector<png_color> pal;
  for (size_t i = 0; i + 2 < s.palette.size(); i += 3) {
    pal.push_back({s.palette[i], s.palette[i + 1], s.palette[i + 2]});
  }
  if (!pal.empty()) png_set_PLTE(png, info, pal.data(), static_cast<int>(pal.size()));
  if (!s.trns.empty()) {
    png_set_tRNS(png, info, s.trns.data(), static_cast<int>(s.trns.size()), nullptr);
  }
  if (!s.exif.empty()) {
    png_set_eXIf_1(png, info, static_cast<png_uint_32>(s.exif.size()),
                   const_cast<png_bytep>(s.exif.data()));
  }
  png_write_info(png, info);
  png_write_image(png, rows.data());
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return out;
}

struct JpegSpec {
  int width = 0, height = 0;
  int components = 3;  // 1 gray, 3 RGB, 4 CMYK (written with an Adobe marker)
  int quality = 95;
  bool progressive = false;
  std::vector<uint8_t> pixels;
  std::vector<uint8_t> app1;  // raw APP1 payload ("Exif\0\0" + TIFF)
};

inline std::vector<uint8_t> EncodeJpeg(const JpegSpec& s) {
  jpeg_compress_struct c;
  jpeg_error_mgr err;
  c.err = jpeg_std_error(&err);
  jpeg_create_compress(&c);
  unsigned char* buf = nullptr;
  unsigned long size = 0;  // NOLINT(runtime/int): libjpeg's type
  jpeg_mem_dest(&c, &buf, &size);
  c.image_width = static_cast<JDIMENSION>(s.width);
  c.image_height = static_cast<JDIMENSION>(s.height);
  c.input_components = s.components;
  c.in_color_space = s.components == 1 ? JCS_GRAYSCALE : s.components == 4 ? JCS_CMYK : JCS_RGB;
  jpeg_set_defaults(&c);
  jpeg_set_quality(&c, s.quality, TRUE);
  if (s.progressive) jpeg_simple_progression(&c);
  jpeg_start_compress(&c, TRUE);
  if (!s.app1.empty()) {
    jpeg_write_marker(&c, JPEG_APP0 + 1, s.app1.data(), static_cast<unsigned>(s.app1.size()));
  }
  const size_t stride = static_cast<size_t>(s.width) * s.components;
  while (c.next_scanline < c.image_height) {
    JSAMPROW row = const_cast<JSAMPROW>(s.pixels.data()) + stride * c.next_scanline;
    jpeg_write_scanlines(&c, &row, 1);
  }
  jpeg_finish_compress(&c);
  jpeg_destroy_compress(&c);
  std::vector<uint8_t> out(buf, buf + size);
  std::free(buf);
  return out;
}

// Lossless unless quality < 100.
inline std::vector<uint8_t> EncodeWebp(int w, int h, int channels, const std::vector<uint8_t>& px,
                                       float quality = 100) {
  uint8_t* buf = nullptr;
  size_t n = 0;
  const int stride = w * channels;
  if (quality >= 100) {
    n = channels == 4 ? WebPEncodeLosslessRGBA(px.data(), w, h, stride, &buf)
                      : WebPEncodeLosslessRGB(px.data(), w, h, stride, &buf);
  } else {
    n = channels == 4 ? WebPEncodeRGBA(px.data(), w, h, stride, quality, &buf)
                      : WebPEncodeRGB(px.data(), w, h, stride, quality, &buf);
  }
  std::vector<uint8_t> out(buf, buf + n);
  WebPFree(buf);
  return out;
}

inline void Put16(std::vector<uint8_t>* b, uint32_t v) {
  b->push_back(static_cast<uint8_t>(v));
  b->push_back(static_cast<uint8_t>(v >> 8));
}
inline void Put32(std::vector<uint8_t>* b, uint32_t v) {
  Put16(b, v & 0xffff);
  Put16(b, v >> 16);
}

// A GIF89a with a global palette and one frame. The LZW stream sends a clear code before
// every index, so the code size never grows: valid, if not compact.
struct GifSpec {
  int screen_w = 0, screen_h = 0, background = 0;
  std::vector<uint8_t> palette;  // RGB triples; padded to a power of two
  int left = 0, top = 0, frame_w = 0, frame_h = 0;
  bool interlace = false;  // `indices` are then in stored (pass) order
  int transparent = -1;
  std::vector<uint8_t> indices;
};
inline std::vector<uint8_t> EncodeGif(const GifSpec& s) {
  std::vector<uint8_t> b = {'G', 'I', 'F', '8', '9', 'a'};
  int bits = 1;
  while ((1 << bits) * 3 < static_cast<int>(s.palette.size())) ++bits;
  Put16(&b, static_cast<uint32_t>(s.screen_w));
  Put16(&b, static_cast<uint32_t>(s.screen_h));
  b.push_back(static_cast<uint8_t>(0x80 | (bits - 1)));
  b.push_back(static_cast<uint8_t>(s.background));
  b.push_back(0);
  for (int i = 0; i < (1 << bits) * 3; ++i) {
    b.push_back(i < static_cast<int>(s.palette.size()) ? s.palette[static_cast<size_t>(i)] : 0);
  }
  if (s.transparent >= 0) {
    const uint8_t gce[] = {0x21, 0xf9, 4, 1, 0, 0, static_cast<uint8_t>(s.transparent), 0};
    b.insert(b.end(), gce, gce + sizeof(gce));
  }
  b.push_back(0x2c);
  Put16(&b, static_cast<uint32_t>(s.left));
  Put16(&b, static_cast<uint32_t>(s.top));
  Put16(&b, static_cast<uint32_t>(s.frame_w));
  Put16(&b, static_cast<uint32_t>(s.frame_h));
  b.push_back(s.interlace ? 0x40 : 0);
  const int mcs = std::max(bits, 2);
  const uint32_t clear = 1u << mcs, eoi = clear + 1;
  const int code_size = mcs + 1;
  std::vector<uint8_t> lzw;
  uint32_t acc = 0;
  int n = 0;
  auto emit = [&](uint32_t code) {
    acc |= code << n;
    n += code_size;
    while (n >= 8) {
      lzw.push_back(static_cast<uint8_t>(acc));
      acc >>= 8;
      n -= 8;
    }
  };
  for (uint8_t v : s.indices) {
    emit(clear);
    emit(v);
  }
  emit(eoi);
  if (n > 0) lzw.push_back(static_cast<uint8_t>(acc));
  b.push_back(static_cast<uint8_t>(mcs));
  for (size_t i = 0; i < lzw.size(); i += 255) {
    const size_t len = std::min<size_t>(255, lzw.size() - i);
    b.push_back(static_cast<uint8_t>(len));
    b.insert(b.end(), lzw.begin() + static_cast<std::ptrdiff_t>(i),
             lzw.begin() + static_cast<std::ptrdiff_t>(i + len));
  }
  b.push_back(0);
  b.push_back(0x3b);
  return b;
}

// A BITMAPINFOHEADER BMP. `rows` are the stored rows (bottom-up unless top_down), padding
// included; `palette` is BGRX quads; `masks` (3 or 4) selects BI_BITFIELDS.
inline std::vector<uint8_t> EncodeBmp(int w, int h, int bpp, bool top_down,
                                      const std::vector<uint8_t>& rows,
                                      const std::vector<uint8_t>& palette = {},
                                      const std::vector<uint32_t>& masks = {}) {
  std::vector<uint8_t> b = {'B', 'M'};
  const uint32_t header = 14 + 40 + static_cast<uint32_t>(masks.size() * 4);
  const uint32_t offset = header + static_cast<uint32_t>(palette.size());
  Put32(&b, offset + static_cast<uint32_t>(rows.size()));
  Put32(&b, 0);
  Put32(&b, offset);
  Put32(&b, 40);
  Put32(&b, static_cast<uint32_t>(w));
  Put32(&b, static_cast<uint32_t>(top_down ? -h : h));
  Put16(&b, 1);
  Put16(&b, static_cast<uint32_t>(bpp));
  Put32(&b, masks.empty() ? 0 : masks.size() == 4 ? 6 : 3);
  Put32(&b, static_cast<uint32_t>(rows.size()));
  Put32(&b, 2835);
  Put32(&b, 2835);
  Put32(&b, static_cast<uint32_t>(palette.size() / 4));
  Put32(&b, 0);
  for (uint32_t m : masks) Put32(&b, m);
  b.insert(b.end(), palette.begin(), palette.end());
  b.insert(b.end(), rows.begin(), rows.end());
  return b;
}

// A little-endian TIFF block with IFD0 = {Orientation}, prefixed for JPEG APP1 when asked.
inline std::vector<uint8_t> ExifWithOrientation(int orientation, bool app1_prefix) {
  std::vector<uint8_t> b;
  if (app1_prefix) b = {'E', 'x', 'i', 'f', 0, 0};
  const uint8_t tiff[] = {'I',
                          'I',
                          42,
                          0,
                          8,
                          0,
                          0,
                          0,  // header, IFD0 at 8
                          1,
                          0,  // one entry
                          0x12,
                          0x01,
                          3,
                          0,
                          1,
                          0,
                          0,
                          0,  // 0x0112 SHORT count 1
                          static_cast<uint8_t>(orientation),
                          0,
                          0,
                          0,
                          0,
                          0,
                          0,
                          0};  // no next IFD
  b.insert(b.end(), tiff, tiff + sizeof(tiff));
  return b;
}

// Frame f of an [n][h][w][3] uint8 tensor (the goldens' decoded video frames) as an Image.
inline Image FrameOf(const RawTensor& frames, int64_t f) {
  Image frame;
  frame.height = static_cast<int64_t>(frames.shape[1]);
  frame.width = static_cast<int64_t>(frames.shape[2]);
  const size_t bytes = static_cast<size_t>(frame.height * frame.width * 3);
  frame.rgb.assign(frames.bytes.begin() + static_cast<long>(static_cast<size_t>(f) * bytes),
                   frames.bytes.begin() + static_cast<long>(static_cast<size_t>(f + 1) * bytes));
  return frame;
}

}  // namespace loom::media::testing

#endif  // LOOM_MEDIA_MEDIA_TEST_UTIL_H_
