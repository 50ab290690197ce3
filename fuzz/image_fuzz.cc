// Fuzz target for the image decoders: the bytes are an image file of any supported format.
// Decoded with both alpha routes under small limits (so a header promising a huge image is
// rejected fast, and every accepted one decodes in microseconds), then preprocessed at budget 70.
// Seeds: fuzz/corpus/image/, tiny files of every format and variant (palette, tRNS, 16-bit,
// gray+alpha, EXIF, progressive, CMYK, animated WebP and GIF, BMP depths), written by PIL
// 13.0 from .cache/venv-reference, plus tests/fixtures/media/tiny.png.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "media/image.h"
#include "media/image_patches.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  loom::media::MediaLimits limits;
  limits.max_image_bytes = 1 << 20;
  limits.max_image_side = 1024;
  limits.max_image_pixels = 1 << 16;
  const std::span<const uint8_t> bytes(data, size);
  for (loom::media::AlphaMode alpha :
       {loom::media::AlphaMode::kDrop, loom::media::AlphaMode::kCompositeWhite}) {
    auto img = loom::media::DecodeImage(bytes, limits, {alpha, true});
    if (!img.ok()) {
      volatile size_t sink = img.status().ToString().size();
      (void)sink;
      continue;
    }
    if (img->width < 1 || img->height < 1 || img->width * img->height > limits.max_image_pixels ||
        img->rgb.size() != static_cast<size_t>(img->width * img->height * 3)) {
      std::abort();  // a decoder returned an image outside the limits or a short buffer
    }
    auto patches = loom::media::PreprocessImage(*img, 70, loom::media::Rescale::kMultiply);
    if (!patches.ok() || patches->n < 1 || patches->n > 70) std::abort();
  }
  return 0;
}
