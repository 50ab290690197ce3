// The reference's image resize, bit for bit: torch's CPU uint8 antialiased bicubic
// (torch.nn.functional.interpolate(mode="bicubic", antialias=True, align_corners=False) on a
// uint8 tensor), which is Pillow-SIMD's int16 fixed-point filter with Keys' a = -0.5.
// tests/fixtures/MEDIA.md "Image resize" spells the algorithm out; Pillow's own resize and any
// float path differ from it.
#ifndef LOOM_MEDIA_IMAGE_RESIZE_H_
#define LOOM_MEDIA_IMAGE_RESIZE_H_

#include <cstdint>

#include "media/image.h"

namespace loom {
class ThreadPool;
}

namespace loom::media {

// Horizontal pass first, rounded to uint8, then the vertical pass; an axis whose size does not
// change is copied. Preconditions (checked, programmer errors): src holds width*height*3 bytes,
// every size >= 1. `pool` (optional) splits rows across threads; the result does not depend on
// it.
Image ResizeBicubicAntialias(const Image& src, int64_t out_height, int64_t out_width,
                             ThreadPool* pool = nullptr);

}  // namespace loom::media

#endif  // LOOM_MEDIA_IMAGE_RESIZE_H_
