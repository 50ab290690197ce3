#include "media/image.h"

#include <fcntl.h>
#include <gif_lib.h>
#include <jerror.h>
#include <jpeglib.h>
#include <png.h>
#include <sys/stat.h>
#include <unistd.h>
#include <webp/decode.h>
#include <webp/demux.h>

#include <algorithm>
#include <cerrno>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <utility>

#include "base/strings.h"

namespace loom::media {
namespace {

constexpr const char* kSupportedFormats = "PNG, JPEG, WebP, GIF, BMP";

// A progressive JPEG can hold thousands of tiny scans, each a pass over the whole coefficient
// buffer (a CPU bomb in a few KB). libjpeg-turbo's own tools suggest this bound; real encoders
// write about 10.
constexpr int kMaxJpegScans = 500;
// libjpeg-turbo has no backing store: a request past this fails cleanly instead of paging. The
// largest legal image (max_image_pixels, 4 components, progressive coefficients) stays below.
constexpr long kMaxJpegMemory = 1L << 30;  // NOLINT(runtime/int): libjpeg's type

// Pixels as a decoder produced them, before the conversion to RGB.
struct Raw {
  int64_t width = 0, height = 0;
  int channels = 0;  // 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA
  std::vector<uint8_t> px;
  int orientation = 1;  // EXIF, 1-8
};

Status CheckDims(const char* fmt, int64_t width, int64_t height, const MediaLimits& limits) {
  if (width <= 0) return DataLoss(fmt, ": image width ", width, " is invalid (must be >= 1)");
  if (height <= 0) return DataLoss(fmt, ": image height ", height, " is invalid (must be >= 1)");
  if (width > limits.max_image_side) {
    return OutOfRange(fmt, ": image width ", width, " exceeds the limit of ", limits.max_image_side,
                      " pixels (max_image_side)");
  }
  if (height > limits.max_image_side) {
    return OutOfRange(fmt, ": image height ", height, " exceeds the limit of ",
                      limits.max_image_side, " pixels (max_image_side)");
  }
  if (width * height > limits.max_image_pixels) {
    return OutOfRange(fmt, ": image size ", width, "x", height, " = ", width * height,
                      " pixels exceeds the limit of ", limits.max_image_pixels,
                      " pixels (max_image_pixels)");
  }
  return Status::Ok();
}

uint32_t Le16(const uint8_t* p) { return uint32_t{p[0]} | (uint32_t{p[1]} << 8); }
uint32_t Le32(const uint8_t* p) { return Le16(p) | (Le16(p + 2) << 16); }
uint32_t Be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

// The Orientation tag (0x0112) of IFD0 in a TIFF-structured EXIF block, 1 when absent or odd.
// `tiff` may carry the "Exif\0\0" prefix of JPEG APP1 (and of some WebP writers).
int ExifOrientation(std::span<const uint8_t> tiff) {
  if (tiff.size() >= 6 && std::memcmp(tiff.data(), "Exif\0\0", 6) == 0) tiff = tiff.subspan(6);
  const size_t n = tiff.size();
  if (n < 8) return 1;
  const uint8_t* p = tiff.data();
  bool le;
  if (p[0] == 'I' && p[1] == 'I') {
    le = true;
  } else if (p[0] == 'M' && p[1] == 'M') {
    le = false;
  } else {
    return 1;
  }
  auto u16 = [&](size_t off) -> uint32_t {
    return le ? Le16(p + off) : (uint32_t{p[off]} << 8) | p[off + 1];
  };
  auto u32 = [&](size_t off) -> uint32_t { return le ? Le32(p + off) : Be32(p + off); };
  if (u16(2) != 42) return 1;
  const uint64_t ifd = u32(4);
  if (ifd + 2 > n) return 1;
  const uint32_t entries = u16(ifd);
  for (uint32_t i = 0; i < entries; ++i) {
    const uint64_t e = ifd + 2 + uint64_t{12} * i;
    if (e + 12 > n) break;
    if (u16(e) != 0x0112) continue;
    const uint32_t type = u16(e + 2);
    uint32_t v = 0;
    if (type == 3) {  // SHORT, the type the standard prescribes
      v = u16(e + 8);
    } else if (type == 4) {  // LONG, written by a few tools
      v = u32(e + 8);
    }
    return (v >= 1 && v <= 8) ? static_cast<int>(v) : 1;
  }
  return 1;
}

// PIL's Image.alpha_composite of (c, a) over opaque white, channel by channel
// (libImaging/AlphaComposite.c, PRECISION_BITS 7), so the PIL-object route is bit-exact.
uint8_t OverWhite(uint32_t c, uint32_t a) {
  if (a == 0) return 255;
  const uint32_t blend = 255 * (255 - a);
  const uint32_t outa255 = a * 255 + blend;
  const uint32_t coef1 = a * 255 * 255 * 128 / outa255;
  const uint32_t coef2 = 255 * 128 - coef1;
  const uint32_t tmp = c * coef1 + 255 * coef2 + (0x80 << 7);
  return static_cast<uint8_t>(((((tmp >> 8) + tmp) >> 8)) >> 7);
}

Image ToRgb(Raw&& raw, AlphaMode alpha) {
  Image img;
  img.width = raw.width;
  img.height = raw.height;
  const size_t n = static_cast<size_t>(raw.width * raw.height);
  if (raw.channels == 3) {
    img.rgb = std::move(raw.px);
    return img;
  }
  img.rgb.resize(n * 3);
  const uint8_t* s = raw.px.data();
  uint8_t* d = img.rgb.data();
  const bool composite = alpha == AlphaMode::kCompositeWhite;
  switch (raw.channels) {
    case 1:
      for (size_t i = 0; i < n; ++i) d[3 * i] = d[3 * i + 1] = d[3 * i + 2] = s[i];
      break;
    case 2:
      for (size_t i = 0; i < n; ++i) {
        const uint8_t g = composite ? OverWhite(s[2 * i], s[2 * i + 1]) : s[2 * i];
        d[3 * i] = d[3 * i + 1] = d[3 * i + 2] = g;
      }
      break;
    default:  // 4
      for (size_t i = 0; i < n; ++i) {
        const uint8_t a = s[4 * i + 3];
        for (int c = 0; c < 3; ++c) {
          d[3 * i + c] = composite ? OverWhite(s[4 * i + c], a) : s[4 * i + c];
        }
      }
      break;
  }
  return img;
}

// PIL's ImageOps.exif_transpose: 2 mirror, 3 rotate 180, 4 flip, 5 transpose, 6 rotate 90
// clockwise, 7 transverse, 8 rotate 90 counter-clockwise.
Image Orient(Image src, int orientation) {
  if (orientation <= 1 || orientation > 8) return src;
  const int64_t w = src.width, h = src.height;
  const bool swap = orientation >= 5;
  Image out;
  out.width = swap ? h : w;
  out.height = swap ? w : h;
  out.rgb.resize(src.rgb.size());
  for (int64_t oy = 0; oy < out.height; ++oy) {
    for (int64_t ox = 0; ox < out.width; ++ox) {
      int64_t sx = 0, sy = 0;
      switch (orientation) {
        case 2:
          sx = w - 1 - ox;
          sy = oy;
          break;
        case 3:
          sx = w - 1 - ox;
          sy = h - 1 - oy;
          break;
        case 4:
          sx = ox;
          sy = h - 1 - oy;
          break;
        case 5:
          sx = oy;
          sy = ox;
          break;
        case 6:
          sx = oy;
          sy = h - 1 - ox;
          break;
        case 7:
          sx = w - 1 - oy;
          sy = h - 1 - ox;
          break;
        default:  // 8
          sx = w - 1 - oy;
          sy = ox;
          break;
      }
      const uint8_t* s = &src.rgb[static_cast<size_t>((sy * w + sx) * 3)];
      uint8_t* d = &out.rgb[static_cast<size_t>((oy * out.width + ox) * 3)];
      d[0] = s[0];
      d[1] = s[1];
      d[2] = s[2];
    }
  }
  return out;
}

// ---- PNG (libpng) -------------------------------------------------------------------------

struct PngCtx {
  const uint8_t* data = nullptr;
  size_t size = 0;
  size_t pos = 0;
  char msg[256] = {};
};

void PngRead(png_structp png, png_bytep out, size_t n) {
  auto* ctx = static_cast<PngCtx*>(png_get_io_ptr(png));
  if (n > ctx->size - ctx->pos) png_error(png, "data truncated");
  std::memcpy(out, ctx->data + ctx->pos, n);
  ctx->pos += n;
}

[[noreturn]] void PngError(png_structp png, png_const_charp msg) {
  auto* ctx = static_cast<PngCtx*>(png_get_error_ptr(png));
  std::snprintf(ctx->msg, sizeof(ctx->msg), "%s", msg);
  png_longjmp(png, 1);
}

void PngWarning(png_structp, png_const_charp) {}  // ancillary-chunk trouble is not fatal

// Everything libpng can longjmp out of runs here, with only trivially destructible locals (a
// longjmp must not skip a destructor). Returns false when libpng failed (message in ctx->msg).
bool PngDecodeInner(png_structp png, png_infop info, PngCtx* ctx, Raw* raw,
                    std::vector<png_bytep>* rows) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_set_read_fn(png, ctx, PngRead);
  // Our own CheckDims ran on the IHDR already; libpng's default cap (1e6) must not pre-empt it.
  png_set_user_limits(png, 0x7fffffff, 0x7fffffff);
  png_read_info(png, info);
  png_uint_32 w = 0, h = 0;
  int bit_depth = 0, color_type = 0, interlace = 0;
  png_get_IHDR(png, info, &w, &h, &bit_depth, &color_type, &interlace, nullptr, nullptr);
  if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8) png_set_expand_gray_1_2_4_to_8(png);
  // tRNS becomes a real alpha channel, which ToRgb then drops or composites per AlphaMode.
  if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
  // Rounded, (v * 255 + 32895) >> 16: what the reference decoder gives for 16-bit PNGs.
  if (bit_depth == 16) png_set_scale_16(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  const int channels = png_get_channels(png, info);
  const size_t rowbytes = png_get_rowbytes(png, info);
  if (channels < 1 || channels > 4 || rowbytes != size_t{w} * channels) {
    png_error(png, "unexpected pixel layout after conversion to 8 bits");
  }
  png_uint_32 exif_len = 0;
  png_bytep exif = nullptr;
  if (png_get_eXIf_1(png, info, &exif_len, &exif) != 0 && exif != nullptr) {
    raw->orientation = ExifOrientation({exif, exif_len});
  }
  raw->width = w;
  raw->height = h;
  raw->channels = channels;
  raw->px.resize(rowbytes * h);
  rows->resize(h);
  for (png_uint_32 y = 0; y < h; ++y) (*rows)[y] = raw->px.data() + rowbytes * y;
  png_read_image(png, rows->data());
  return true;
}

Result<Raw> DecodePng(std::span<const uint8_t> bytes, const MediaLimits& limits) {
  // IHDR must be the first chunk: read the size ourselves, before libpng allocates anything,
  // so zero and oversized dimensions get our message.
  if (bytes.size() < 8 + 8 + 13 || std::memcmp(bytes.data() + 12, "IHDR", 4) != 0) {
    return DataLoss("PNG: data truncated or IHDR chunk missing (", bytes.size(), " bytes)");
  }
  LOOM_RETURN_IF_ERROR(CheckDims("PNG", Be32(bytes.data() + 16), Be32(bytes.data() + 20), limits));
  PngCtx ctx;
  ctx.data = bytes.data();
  ctx.size = bytes.size();
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &ctx, PngError, PngWarning);
  if (png == nullptr) return ResourceExhausted("PNG: cannot create a decoder");
  png_infop info = png_create_info_struct(png);
  if (info == nullptr) {
    png_destroy_read_struct(&png, nullptr, nullptr);
    return ResourceExhausted("PNG: cannot create a decoder");
  }
  Raw raw;
  std::vector<png_bytep> rows;
  const bool ok = PngDecodeInner(png, info, &ctx, &raw, &rows);
  png_destroy_read_struct(&png, &info, nullptr);
  if (!ok) return DataLoss("PNG: corrupt or truncated data: ", ctx.msg);
  return raw;
}

// ---- JPEG (libjpeg-turbo) -----------------------------------------------------------------

struct JpegErr {
  jpeg_error_mgr pub;
  jpeg_progress_mgr progress;
  jmp_buf jump;
  char msg[JMSG_LENGTH_MAX + 64];
};

[[noreturn]] void JpegErrorExit(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<JpegErr*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->msg);
  std::longjmp(err->jump, 1);
}

// Warnings are silent, except the end of the data before the image is complete: libjpeg
// would pad with grey and return a partly invented picture.
void JpegEmitMessage(j_common_ptr cinfo, int level) {
  if (level >= 0 || cinfo->err->msg_code != JWRN_JPEG_EOF) return;
  JpegErrorExit(cinfo);
}

void JpegOutputMessage(j_common_ptr) {}

void JpegProgress(j_common_ptr cinfo) {
  if (!cinfo->is_decompressor) return;
  const int scans = reinterpret_cast<j_decompress_ptr>(cinfo)->input_scan_number;
  if (scans > kMaxJpegScans) {
    auto* err = reinterpret_cast<JpegErr*>(cinfo->err);
    std::snprintf(err->msg, sizeof(err->msg), "more than %d progressive scans", kMaxJpegScans);
    std::longjmp(err->jump, 1);
  }
}

enum class JpegStep { kFailed, kLimits, kDone };

JpegStep JpegDecodeInner(jpeg_decompress_struct* cinfo, JpegErr* err,
                         std::span<const uint8_t> bytes, const MediaLimits& limits, Raw* raw,
                         Status* status, bool* cmyk) {
  if (setjmp(err->jump)) return JpegStep::kFailed;
  jpeg_create_decompress(cinfo);
  cinfo->mem->max_memory_to_use = kMaxJpegMemory;
  err->progress.progress_monitor = JpegProgress;
  cinfo->progress = &err->progress;
  jpeg_mem_src(cinfo, bytes.data(), static_cast<unsigned long>(bytes.size()));  // NOLINT
  jpeg_save_markers(cinfo, JPEG_APP0 + 1, 0xFFFF);
  jpeg_read_header(cinfo, TRUE);
  *status = CheckDims("JPEG", cinfo->image_width, cinfo->image_height, limits);
  if (!status->ok()) return JpegStep::kLimits;
  for (jpeg_saved_marker_ptr m = cinfo->marker_list; m != nullptr; m = m->next) {
    if (m->marker == JPEG_APP0 + 1 && m->data_length >= 6 &&
        std::memcmp(m->data, "Exif\0\0", 6) == 0) {
      raw->orientation = ExifOrientation({m->data, m->data_length});
      break;
    }
  }
  switch (cinfo->jpeg_color_space) {
    case JCS_GRAYSCALE:
      cinfo->out_color_space = JCS_GRAYSCALE;
      break;
    case JCS_CMYK:
    case JCS_YCCK:
      cinfo->out_color_space = JCS_CMYK;
      *cmyk = true;
      break;
    default:
      cinfo->out_color_space = JCS_RGB;
      break;
  }
  // The reference decoders' defaults; any other choice changes the bytes.
  cinfo->dct_method = JDCT_ISLOW;
  cinfo->do_fancy_upsampling = TRUE;
  jpeg_start_decompress(cinfo);
  const int channels = cinfo->output_components;
  if (channels != (cinfo->out_color_space == JCS_GRAYSCALE ? 1 : *cmyk ? 4 : 3)) {
    std::snprintf(err->msg, sizeof(err->msg), "unexpected component count %d", channels);
    return JpegStep::kFailed;
  }
  raw->width = cinfo->output_width;
  raw->height = cinfo->output_height;
  raw->channels = channels;
  const size_t stride = size_t{cinfo->output_width} * channels;
  raw->px.resize(stride * cinfo->output_height);
  while (cinfo->output_scanline < cinfo->output_height) {
    JSAMPROW row = raw->px.data() + stride * cinfo->output_scanline;
    if (jpeg_read_scanlines(cinfo, &row, 1) != 1) {
      std::snprintf(err->msg, sizeof(err->msg), "decoder stalled");
      return JpegStep::kFailed;
    }
  }
  return JpegStep::kDone;
}

// PIL reads every 4-component JPEG as Adobe-inverted CMYK ("CMYK;I") and converts with
// libImaging's cmyk2rgb; torchcodec gives the same bytes.
void CmykToRgb(Raw* raw) {
  const size_t n = static_cast<size_t>(raw->width * raw->height);
  uint8_t* p = raw->px.data();
  for (size_t i = 0; i < n; ++i) {
    const int nk = p[4 * i + 3];  // 255 - (255 - K) after the inversion
    for (int c = 0; c < 3; ++c) {
      const int v = 255 - p[4 * i + c];
      const int tmp = v * nk + 128;
      const int out = nk - (((tmp >> 8) + tmp) >> 8);
      p[3 * i + c] = static_cast<uint8_t>(std::clamp(out, 0, 255));
    }
  }
  raw->px.resize(n * 3);
  raw->channels = 3;
}

Result<Raw> DecodeJpeg(std::span<const uint8_t> bytes, const MediaLimits& limits) {
  jpeg_decompress_struct cinfo;
  std::memset(&cinfo, 0, sizeof(cinfo));
  JpegErr err;
  std::memset(&err, 0, sizeof(err));
  cinfo.err = jpeg_std_error(&err.pub);
  err.pub.error_exit = JpegErrorExit;
  err.pub.emit_message = JpegEmitMessage;
  err.pub.output_message = JpegOutputMessage;
  Raw raw;
  Status status;
  bool cmyk = false;
  const JpegStep step = JpegDecodeInner(&cinfo, &err, bytes, limits, &raw, &status, &cmyk);
  jpeg_destroy_decompress(&cinfo);
  if (step == JpegStep::kLimits) return status;
  if (step == JpegStep::kFailed) return DataLoss("JPEG: corrupt or truncated data: ", err.msg);
  if (cmyk) CmykToRgb(&raw);
  return raw;
}

// ---- WebP (libwebp) -----------------------------------------------------------------------

const char* WebPStatusName(VP8StatusCode s) {
  switch (s) {
    case VP8_STATUS_OUT_OF_MEMORY:
      return "out of memory";
    case VP8_STATUS_INVALID_PARAM:
      return "invalid parameter";
    case VP8_STATUS_BITSTREAM_ERROR:
      return "bitstream error";
    case VP8_STATUS_UNSUPPORTED_FEATURE:
      return "unsupported feature";
    case VP8_STATUS_SUSPENDED:
      return "suspended";
    case VP8_STATUS_USER_ABORT:
      return "aborted";
    case VP8_STATUS_NOT_ENOUGH_DATA:
      return "data truncated";
    default:
      return "error";
  }
}

int WebpOrientation(std::span<const uint8_t> bytes) {
  WebPData data = {bytes.data(), bytes.size()};
  WebPDemuxer* demux = WebPDemux(&data);
  if (demux == nullptr) return 1;
  int orientation = 1;
  WebPChunkIterator it;
  if (WebPDemuxGetChunk(demux, "EXIF", 1, &it)) {
    orientation = ExifOrientation({it.chunk.bytes, it.chunk.size});
    WebPDemuxReleaseChunkIterator(&it);
  }
  WebPDemuxDelete(demux);
  return orientation;
}

Result<Raw> DecodeWebp(std::span<const uint8_t> bytes, const MediaLimits& limits, AlphaMode alpha) {
  WebPBitstreamFeatures f;
  const VP8StatusCode st = WebPGetFeatures(bytes.data(), bytes.size(), &f);
  if (st != VP8_STATUS_OK)
    return DataLoss("WebP: corrupt or truncated header: ", WebPStatusName(st));
  LOOM_RETURN_IF_ERROR(CheckDims("WebP", f.width, f.height, limits));
  Raw raw;
  raw.width = f.width;
  raw.height = f.height;
  if (f.has_animation) {
    // The first frame on the canvas, as PIL shows it (torchcodec returns a frame stack).
    WebPData data = {bytes.data(), bytes.size()};
    WebPAnimDecoderOptions opt;
    if (!WebPAnimDecoderOptionsInit(&opt)) return Internal("WebP: libwebp version mismatch");
    opt.color_mode = MODE_RGBA;
    opt.use_threads = 0;
    WebPAnimDecoder* dec = WebPAnimDecoderNew(&data, &opt);
    if (dec == nullptr) return DataLoss("WebP: corrupt or truncated animation");
    WebPAnimInfo info;
    uint8_t* frame = nullptr;
    int timestamp = 0;
    Status s;
    if (!WebPAnimDecoderGetInfo(dec, &info)) {
      s = DataLoss("WebP: corrupt animation header");
    } else {
      s = CheckDims("WebP", info.canvas_width, info.canvas_height, limits);
    }
    if (s.ok() && (info.frame_count < 1 || !WebPAnimDecoderGetNext(dec, &frame, &timestamp))) {
      s = DataLoss("WebP: corrupt or truncated first animation frame");
    }
    if (s.ok()) {
      raw.width = info.canvas_width;
      raw.height = info.canvas_height;
      raw.channels = 4;
      raw.px.assign(frame, frame + static_cast<size_t>(raw.width * raw.height * 4));
    }
    WebPAnimDecoderDelete(dec);
    if (!s.ok()) return s;
  } else {
    const bool rgba = f.has_alpha && alpha == AlphaMode::kCompositeWhite;
    raw.channels = rgba ? 4 : 3;
    const size_t stride = static_cast<size_t>(raw.width) * raw.channels;
    raw.px.resize(stride * static_cast<size_t>(raw.height));
    const uint8_t* ok = rgba ? WebPDecodeRGBAInto(bytes.data(), bytes.size(), raw.px.data(),
                                                  raw.px.size(), static_cast<int>(stride))
                             : WebPDecodeRGBInto(bytes.data(), bytes.size(), raw.px.data(),
                                                 raw.px.size(), static_cast<int>(stride));
    if (ok == nullptr) return DataLoss("WebP: corrupt or truncated image data");
  }
  raw.orientation = WebpOrientation(bytes);
  return raw;
}

// ---- GIF (giflib) -------------------------------------------------------------------------

struct GifCtx {
  const uint8_t* data = nullptr;
  size_t size = 0;
  size_t pos = 0;
};

int GifRead(GifFileType* gif, GifByteType* buf, int len) {
  auto* ctx = static_cast<GifCtx*>(gif->UserData);
  if (len <= 0) return 0;
  const size_t n = std::min(static_cast<size_t>(len), ctx->size - ctx->pos);
  std::memcpy(buf, ctx->data + ctx->pos, n);
  ctx->pos += n;
  return static_cast<int>(n);
}

Status GifError(const char* what, int code) {
  const char* s = GifErrorString(code);
  return DataLoss("GIF: ", what, ": ", s != nullptr ? s : "unknown error");
}

// Reads up to and including the first image descriptor; the first frame's pixels are then
// read line by line into `out`, so a many-frame file costs no more than its first frame.
Status GifDecodeFirstFrame(GifFileType* gif, const MediaLimits& limits, AlphaMode alpha, Raw* out) {
  const int64_t sw = gif->SWidth, sh = gif->SHeight;
  LOOM_RETURN_IF_ERROR(CheckDims("GIF", sw, sh, limits));
  int transparent = -1;
  for (;;) {
    GifRecordType type;
    if (DGifGetRecordType(gif, &type) == GIF_ERROR) return GifError("bad record", gif->Error);
    if (type == IMAGE_DESC_RECORD_TYPE) break;
    if (type == TERMINATE_RECORD_TYPE) return DataLoss("GIF: the file holds no image");
    if (type != EXTENSION_RECORD_TYPE) continue;
    int code = 0;
    GifByteType* ext = nullptr;
    if (DGifGetExtension(gif, &code, &ext) == GIF_ERROR) {
      return GifError("bad extension", gif->Error);
    }
    if (code == GRAPHICS_EXT_FUNC_CODE && ext != nullptr && ext[0] == 4) {
      GraphicsControlBlock gcb;
      if (DGifExtensionToGCB(4, ext + 1, &gcb) == GIF_OK) transparent = gcb.TransparentColor;
    }
    while (ext != nullptr) {
      if (DGifGetExtensionNext(gif, &ext) == GIF_ERROR) {
        return GifError("bad extension", gif->Error);
      }
    }
  }
  if (DGifGetImageDesc(gif) == GIF_ERROR) return GifError("bad image descriptor", gif->Error);
  const GifImageDesc& d = gif->Image;
  const int64_t fw = d.Width, fh = d.Height;
  if (fw > limits.max_image_side || fh > limits.max_image_side ||
      fw * fh > limits.max_image_pixels) {
    return OutOfRange("GIF: first frame of ", fw, "x", fh, " pixels exceeds the limits of ",
                      limits.max_image_side, " pixels a side (max_image_side) or ",
                      limits.max_image_pixels, " pixels (max_image_pixels)");
  }
  const ColorMapObject* cmap = d.ColorMap != nullptr ? d.ColorMap : gif->SColorMap;
  // No colour table at all: indices are grey levels, as PIL reads such a file ("L").
  auto color = [&](int idx, uint8_t* rgb) {
    if (cmap == nullptr) {
      rgb[0] = rgb[1] = rgb[2] = static_cast<uint8_t>(idx);
    } else if (idx < cmap->ColorCount) {
      rgb[0] = cmap->Colors[idx].Red;
      rgb[1] = cmap->Colors[idx].Green;
      rgb[2] = cmap->Colors[idx].Blue;
    } else {
      rgb[0] = rgb[1] = rgb[2] = 0;
    }
  };
  const bool white = alpha == AlphaMode::kCompositeWhite;
  uint8_t fill[3] = {0, 0, 0};
  if (white) {
    if (transparent >= 0) {
      fill[0] = fill[1] = fill[2] = 255;
    } else {
      color(0, fill);
    }
  } else if (gif->SColorMap != nullptr && gif->SBackGroundColor < gif->SColorMap->ColorCount) {
    const GifColorType& c = gif->SColorMap->Colors[gif->SBackGroundColor];
    fill[0] = c.Red;
    fill[1] = c.Green;
    fill[2] = c.Blue;
  }
  out->width = sw;
  out->height = sh;
  out->channels = 3;
  out->px.resize(static_cast<size_t>(sw * sh * 3));
  for (size_t i = 0; i < out->px.size(); i += 3) std::memcpy(&out->px[i], fill, 3);
  if (fw <= 0 || fh <= 0) return Status::Ok();
  std::vector<GifPixelType> line(static_cast<size_t>(fw));
  // Interlaced frames store rows in four passes.
  static constexpr int kStart[4] = {0, 4, 2, 1}, kStep[4] = {8, 8, 4, 2};
  const int passes = d.Interlace ? 4 : 1;
  for (int pass = 0; pass < passes; ++pass) {
    const int64_t start = d.Interlace ? kStart[pass] : 0, step = d.Interlace ? kStep[pass] : 1;
    for (int64_t y = start; y < fh; y += step) {
      if (DGifGetLine(gif, line.data(), static_cast<int>(fw)) == GIF_ERROR) {
        return GifError("corrupt or truncated image data", gif->Error);
      }
      const int64_t cy = d.Top + y;
      if (cy < 0 || cy >= sh) continue;  // frames outside the screen are clipped, as FFmpeg does
      for (int64_t x = 0; x < fw; ++x) {
        const int64_t cx = d.Left + x;
        if (cx < 0 || cx >= sw) continue;
        uint8_t* p = &out->px[static_cast<size_t>((cy * sw + cx) * 3)];
        const int idx = line[static_cast<size_t>(x)];
        if (idx == transparent) {
          if (white) p[0] = p[1] = p[2] = 255;
          continue;
        }
        color(idx, p);
      }
    }
  }
  return Status::Ok();
}

Result<Raw> DecodeGif(std::span<const uint8_t> bytes, const MediaLimits& limits, AlphaMode alpha) {
  GifCtx ctx;
  ctx.data = bytes.data();
  ctx.size = bytes.size();
  int code = D_GIF_SUCCEEDED;
  GifFileType* gif = DGifOpen(&ctx, GifRead, &code);
  if (gif == nullptr) return GifError("corrupt or truncated header", code);
  Raw raw;
  const Status s = GifDecodeFirstFrame(gif, limits, alpha, &raw);
  DGifCloseFile(gif, &code);
  if (!s.ok()) return s;
  return raw;
}

// ---- BMP ----------------------------------------------------------------------------------

// A channel of a BI_BITFIELDS mask: contiguous bits, scaled to 8 bits with rounding.
struct BitField {
  uint32_t mask = 0;
  int shift = 0;
  uint32_t max = 0;
  bool Init(uint32_t m) {
    mask = m;
    if (m == 0) return true;
    shift = 0;
    while (((m >> shift) & 1) == 0) ++shift;
    max = m >> shift;
    return (max & (max + 1)) == 0;  // contiguous
  }
  uint8_t Get(uint32_t px) const {
    if (mask == 0) return 255;
    const uint32_t v = (px & mask) >> shift;
    return max == 255 ? static_cast<uint8_t>(v)
                      : static_cast<uint8_t>((uint64_t{v} * 255 + max / 2) / max);
  }
};

Result<Raw> DecodeBmp(std::span<const uint8_t> bytes, const MediaLimits& limits) {
  const uint8_t* p = bytes.data();
  const size_t size = bytes.size();
  if (size < 14 + 12) return DataLoss("BMP: data truncated in the header (", size, " bytes)");
  const uint64_t data_offset = Le32(p + 10);
  const uint32_t dib = Le32(p + 14);
  int64_t width = 0, height = 0;
  uint32_t bpp = 0, compression = 0, colors_used = 0;
  size_t palette_entry = 4;
  if (dib == 12) {  // BITMAPCOREHEADER
    width = Le16(p + 18);
    height = Le16(p + 20);
    bpp = Le16(p + 24);
    palette_entry = 3;
  } else if (dib >= 40 && dib <= 124) {
    if (size < 14 + 40) return DataLoss("BMP: data truncated in the header (", size, " bytes)");
    width = static_cast<int32_t>(Le32(p + 18));
    height = static_cast<int32_t>(Le32(p + 22));
    bpp = Le16(p + 28);
    compression = Le32(p + 30);
    colors_used = Le32(p + 46);
  } else {
    return DataLoss("BMP: unsupported header size ", dib);
  }
  const bool top_down = height < 0;
  if (top_down) height = -height;
  LOOM_RETURN_IF_ERROR(CheckDims("BMP", width, height, limits));
  // Masks: inside V2+ headers, or right after a 40-byte header.
  const bool bitfields = compression == 3 || compression == 6;
  BitField fr, fg, fb, fa;
  size_t palette_at = 14 + size_t{dib};
  if (compression == 1 || compression == 2) {
    return Unimplemented("BMP: RLE compression is not supported (compression ", compression, ")");
  }
  if (compression != 0 && !bitfields) {
    return Unimplemented("BMP: compression ", compression, " is not supported");
  }
  if (bitfields) {
    if (bpp != 16 && bpp != 32) return DataLoss("BMP: bit fields with ", bpp, " bits per pixel");
    const size_t masks = 14 + 40;
    const int nmasks = (compression == 6 || dib >= 56) ? 4 : 3;
    if (dib == 40) palette_at += 4 * static_cast<size_t>(nmasks);
    if (masks + 4 * static_cast<size_t>(nmasks) > size) {
      return DataLoss("BMP: data truncated in the colour masks");
    }
    if (!fr.Init(Le32(p + masks)) || !fg.Init(Le32(p + masks + 4)) ||
        !fb.Init(Le32(p + masks + 8)) || (nmasks == 4 && !fa.Init(Le32(p + masks + 12)))) {
      return DataLoss("BMP: non-contiguous colour mask");
    }
  } else if (bpp == 16) {
    fr.Init(0x7C00);
    fg.Init(0x03E0);
    fb.Init(0x001F);
  }
  if (bpp != 1 && bpp != 4 && bpp != 8 && bpp != 16 && bpp != 24 && bpp != 32) {
    return DataLoss("BMP: unsupported bit depth ", bpp, " (supported: 1, 4, 8, 16, 24, 32)");
  }
  uint8_t palette[256][3] = {};
  if (bpp <= 8) {
    uint64_t n = colors_used != 0 ? colors_used : (uint64_t{1} << bpp);
    n = std::min<uint64_t>(n, 256);
    if (palette_at < size)
      n = std::min<uint64_t>(n, (size - palette_at) / palette_entry);
    else
      n = 0;
    for (uint64_t i = 0; i < n; ++i) {
      const uint8_t* e = p + palette_at + i * palette_entry;
      palette[i][0] = e[2];
      palette[i][1] = e[1];
      palette[i][2] = e[0];
    }
  }
  const uint64_t stride = (uint64_t{bpp} * static_cast<uint64_t>(width) + 31) / 32 * 4;
  const uint64_t row_bytes = (uint64_t{bpp} * static_cast<uint64_t>(width) + 7) / 8;
  // The last row's padding may be missing in files from lax writers.
  if (data_offset > size ||
      stride * static_cast<uint64_t>(height - 1) + row_bytes > size - data_offset) {
    return DataLoss("BMP: pixel data truncated: ", height, " rows of ", stride, " bytes at offset ",
                    data_offset, " exceed the file size ", size);
  }
  const bool has_alpha = bitfields && fa.mask != 0;
  Raw raw;
  raw.width = width;
  raw.height = height;
  raw.channels = has_alpha ? 4 : 3;
  const int ch = raw.channels;
  raw.px.resize(static_cast<size_t>(width * height * ch));
  for (int64_t y = 0; y < height; ++y) {
    const uint8_t* row =
        p + data_offset + stride * static_cast<uint64_t>(top_down ? y : height - 1 - y);
    uint8_t* d = &raw.px[static_cast<size_t>(y * width * ch)];
    for (int64_t x = 0; x < width; ++x, d += ch) {
      switch (bpp) {
        case 1:
        case 4:
        case 8: {
          const uint64_t bit = static_cast<uint64_t>(x) * bpp;
          const int idx = (row[bit / 8] >> (8 - bpp - bit % 8)) & ((1 << bpp) - 1);
          std::memcpy(d, palette[idx], 3);
          break;
        }
        case 24:
          d[0] = row[3 * x + 2];
          d[1] = row[3 * x + 1];
          d[2] = row[3 * x];
          break;
        case 32:
          if (!bitfields) {  // BGRX: the fourth byte is not alpha in a plain BI_RGB file
            d[0] = row[4 * x + 2];
            d[1] = row[4 * x + 1];
            d[2] = row[4 * x];
            break;
          }
          [[fallthrough]];
        default: {  // bit fields, 16 or 32 bits
          const uint32_t v = bpp == 16 ? Le16(row + 2 * x) : Le32(row + 4 * x);
          d[0] = fr.Get(v);
          d[1] = fg.Get(v);
          d[2] = fb.Get(v);
          if (has_alpha) d[3] = fa.Get(v);
          break;
        }
      }
    }
  }
  return raw;
}

}  // namespace

const char* ImageFormatName(ImageFormat f) {
  switch (f) {
    case ImageFormat::kPng:
      return "PNG";
    case ImageFormat::kJpeg:
      return "JPEG";
    case ImageFormat::kWebp:
      return "WebP";
    case ImageFormat::kBmp:
      return "BMP";
    case ImageFormat::kGif:
      return "GIF";
    default:
      return "unknown";
  }
}

ImageFormat SniffImageFormat(std::span<const uint8_t> b) {
  auto starts = [&](const char* magic, size_t n, size_t at = 0) {
    return b.size() >= at + n && std::memcmp(b.data() + at, magic, n) == 0;
  };
  if (starts("\x89PNG\r\n\x1a\n", 8)) return ImageFormat::kPng;
  if (starts("\xff\xd8\xff", 3)) return ImageFormat::kJpeg;
  if (starts("RIFF", 4) && starts("WEBP", 4, 8)) return ImageFormat::kWebp;
  if (starts("GIF87a", 6) || starts("GIF89a", 6)) return ImageFormat::kGif;
  if (starts("BM", 2)) return ImageFormat::kBmp;
  return ImageFormat::kUnknown;
}

Result<Image> DecodeImage(std::span<const uint8_t> bytes, const MediaLimits& limits,
                          const ImageDecodeOptions& opt) {
  if (bytes.empty()) return InvalidArgument("image data is empty");
  if (static_cast<int64_t>(bytes.size()) > limits.max_image_bytes) {
    return OutOfRange("image file of ", bytes.size(), " bytes exceeds the limit of ",
                      limits.max_image_bytes, " bytes (max_image_bytes)");
  }
  const ImageFormat format = SniffImageFormat(bytes);
  Result<Raw> raw = Status(StatusCode::kInternal, "no decoder ran");
  switch (format) {
    case ImageFormat::kPng:
      raw = DecodePng(bytes, limits);
      break;
    case ImageFormat::kJpeg:
      raw = DecodeJpeg(bytes, limits);
      break;
    case ImageFormat::kWebp:
      raw = DecodeWebp(bytes, limits, opt.alpha);
      break;
    case ImageFormat::kGif:
      raw = DecodeGif(bytes, limits, opt.alpha);
      break;
    case ImageFormat::kBmp:
      raw = DecodeBmp(bytes, limits);
      break;
    default: {
      std::string head;
      for (size_t i = 0; i < std::min<size_t>(bytes.size(), 8); ++i) {
        static constexpr char kHex[] = "0123456789abcdef";
        if (i > 0) head += ' ';
        head += kHex[bytes[i] >> 4];
        head += kHex[bytes[i] & 15];
      }
      return InvalidArgument("unrecognized image format (first bytes: ", head,
                             "); supported formats: ", kSupportedFormats);
    }
  }
  if (!raw.ok()) return raw.status();
  const int orientation = opt.apply_exif_orientation ? raw->orientation : 1;
  return Orient(ToRgb(std::move(raw).value(), opt.alpha), orientation);
}

Result<Image> LoadImageFile(const std::string& path, const MediaLimits& limits,
                            const ImageDecodeOptions& opt) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int e = errno;
    if (e == ENOENT) return NotFound(path, ": no such file");
    return IoError(path, ": cannot open: ", std::strerror(e));
  }
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return InvalidArgument(path, ": not a regular file");
  }
  if (st.st_size > limits.max_image_bytes) {
    ::close(fd);
    return OutOfRange(path, ": image file of ", st.st_size, " bytes exceeds the limit of ",
                      limits.max_image_bytes, " bytes (max_image_bytes)");
  }
  std::vector<uint8_t> bytes(static_cast<size_t>(st.st_size));
  size_t got = 0;
  while (got < bytes.size()) {
    const ssize_t n = ::read(fd, bytes.data() + got, bytes.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int e = errno;
      ::close(fd);
      return IoError(path, ": read failed: ", std::strerror(e));
    }
    if (n == 0) break;  // shrank while reading: decode what is there
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  bytes.resize(got);
  Result<Image> img = DecodeImage(bytes, limits, opt);
  if (!img.ok()) return img.status().WithContext(path);
  return img;
}

}  // namespace loom::media
