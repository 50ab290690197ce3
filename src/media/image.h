// Image decoding for untrusted bytes: PNG, JPEG, WebP, GIF and BMP to 8-bit RGB.
//
// The primary route reproduces what the reference processor does for a path or URL
// (tests/fixtures/MEDIA.md "Image decode"): EXIF orientation applied, alpha dropped (the stored
// colours are kept), gray replicated. AlphaMode::kCompositeWhite with apply_exif_orientation =
// false reproduces the other route, a PIL.Image object handed to the processor.
//
// Every decoder reads the header dimensions and checks them against MediaLimits before any
// pixel is decoded (decompression bombs); corrupt or truncated data is a DataLoss naming the
// format, never a crash, an abort or output on stderr.
#ifndef LOOM_MEDIA_IMAGE_H_
#define LOOM_MEDIA_IMAGE_H_

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"
#include "media/limits.h"

namespace loom::media {

// HWC, 3 channels, uint8, rows top to bottom.
struct Image {
  int64_t width = 0, height = 0;
  std::vector<uint8_t> rgb;
};

enum class ImageFormat { kUnknown, kPng, kJpeg, kWebp, kBmp, kGif };

const char* ImageFormatName(ImageFormat f);  // "PNG", "JPEG", ...

// By magic bytes only; the file name is not trusted.
ImageFormat SniffImageFormat(std::span<const uint8_t> bytes);

enum class AlphaMode {
  // Drop alpha and keep the stored colours (the reference's path/URL route; primary). GIF: the
  // canvas starts as the global palette's background colour and transparent pixels leave it
  // untouched, as torchcodec does.
  kDrop,
  // Composite on white with PIL's integer alpha_composite (the PIL.Image object route). GIF:
  // transparent pixels, and the area outside the first frame when the frame has a transparent
  // index, become white; elsewhere outside the frame is palette entry 0, as in PIL.
  kCompositeWhite,
};

struct ImageDecodeOptions {
  AlphaMode alpha = AlphaMode::kDrop;
  // EXIF Orientation (1-8) from JPEG APP1, PNG eXIf and WebP EXIF chunks.
  bool apply_exif_orientation = true;
};

Result<Image> DecodeImage(std::span<const uint8_t> bytes, const MediaLimits& limits,
                          const ImageDecodeOptions& opt = {});

// A regular file only (a FIFO or /dev/zero would never end), rejected by its size before it is
// read when over max_image_bytes; then DecodeImage. Errors are prefixed with the path.
Result<Image> LoadImageFile(const std::string& path, const MediaLimits& limits,
                            const ImageDecodeOptions& opt = {});

}  // namespace loom::media

#endif  // LOOM_MEDIA_IMAGE_H_
