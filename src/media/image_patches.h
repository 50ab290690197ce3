// The reference image processor after decoding (SPEC §3.1-3.2, tests/fixtures/MEDIA.md): the
// aspect-ratio-preserving target size for a soft-token budget, the uint8 resize, the rescale
// and the 48x48 patchify. The padding rows HF appends up to the budget are not produced.
#ifndef LOOM_MEDIA_IMAGE_PATCHES_H_
#define LOOM_MEDIA_IMAGE_PATCHES_H_

#include <cstdint>
#include <vector>

#include "base/status.h"
#include "media/image.h"

namespace loom {
class ThreadPool;
}

namespace loom::media {

inline constexpr int64_t kPatchSide = 48;  // 16-px patches pooled 3x3: one soft token
inline constexpr int64_t kPatchValues = kPatchSide * kPatchSide * 3;  // 6912

struct TargetSize {
  int64_t height = 0, width = 0;
};

// get_aspect_ratio_preserving_size of the HF processor, in the same double arithmetic: the
// largest multiples of 48 within budget*48*48 pixels, upscaling small images, with the
// one-side-zero branches for extreme aspect ratios. Errors: a budget outside kImageBudgets,
// non-positive or absurd sizes, and a target that cannot be tiled.
Result<TargetSize> ImageTargetSize(int64_t height, int64_t width, int64_t budget);

enum class Rescale {
  kMultiply,  // images: float(u8) * float(1/255)
  kDivide,    // video frames: float(u8) / 255.0f (rescale and normalise fused; 1 ulp apart)
};

struct Patches {
  int64_t n = 0, grid_h = 0, grid_w = 0;
  std::vector<float> values;  // [n][6912]: each 48x48 block as (y, x, c); blocks in raster order
  std::vector<int32_t> pos_x, pos_y;  // block column and row
};

// Resize to the target (skipped when the target equals the source size), rescale, patchify.
// `resized_out`, when given, receives the resized uint8 image.
Result<Patches> PreprocessImage(const Image& image, int64_t budget, Rescale rescale,
                                Image* resized_out = nullptr, ThreadPool* pool = nullptr);

}  // namespace loom::media

#endif  // LOOM_MEDIA_IMAGE_PATCHES_H_
