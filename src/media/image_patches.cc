#include "media/image_patches.h"

#include <cmath>
#include <limits>
#include <utility>

#include "media/image_resize.h"
#include "media/limits.h"

namespace loom::media {

Result<TargetSize> ImageTargetSize(int64_t height, int64_t width, int64_t budget) {
  if (!IsImageBudget(budget)) {
    return InvalidArgument("image token budget ", budget,
                           " is not supported (max_soft_tokens must be one of 70, 140, 280, "
                           "560, 1120)");
  }
  // Far above any decodable image; keeps h * w exact in int64 and in double.
  constexpr int64_t kMaxSide = int64_t{1} << 24;
  if (height < 1 || width < 1 || height > kMaxSide || width > kMaxSide) {
    return InvalidArgument("image size ", width, "x", height,
                           " is invalid (each side must be between 1 and ", kMaxSide, ")");
  }
  const int64_t m = kPatchSide;
  const int64_t max_patches = budget * 9;  // 16-px patches
  const int64_t target_px = max_patches * 16 * 16;
  const int64_t total_px = height * width;
  const double factor = std::sqrt(static_cast<double>(target_px) / static_cast<double>(total_px));
  const double ideal_h = factor * static_cast<double>(height);
  const double ideal_w = factor * static_cast<double>(width);
  int64_t th = static_cast<int64_t>(std::floor(ideal_h / static_cast<double>(m))) * m;
  int64_t tw = static_cast<int64_t>(std::floor(ideal_w / static_cast<double>(m))) * m;
  if (th == 0 && tw == 0) {
    return InvalidArgument("image ", width, "x", height,
                           " cannot be tiled: both sides round "
                           "to 0 blocks of ",
                           m, " pixels");
  }
  const int64_t max_side = (max_patches / 9) * m;
  if (th == 0) {
    th = m;
    tw = std::min(
        static_cast<int64_t>(std::floor(static_cast<double>(width) / static_cast<double>(height))) *
            m,
        max_side);
  } else if (tw == 0) {
    tw = m;
    th = std::min(
        static_cast<int64_t>(std::floor(static_cast<double>(height) / static_cast<double>(width))) *
            m,
        max_side);
  }
  if (th < m || tw < m || th * tw > target_px) {
    return InvalidArgument("image ", width, "x", height, " cannot be tiled at budget ", budget,
                           ": target ", tw, "x", th, " (must be at least ", m, "x", m,
                           " and at most ", max_patches, " patches of 16x16)");
  }
  return TargetSize{th, tw};
}

Result<Patches> PreprocessImage(const Image& image, int64_t budget, Rescale rescale,
                                Image* resized_out, ThreadPool* pool) {
  if (image.width < 1 || image.height < 1 ||
      image.rgb.size() != static_cast<size_t>(image.width * image.height * 3)) {
    return InvalidArgument("image of ", image.width, "x", image.height, " with ", image.rgb.size(),
                           " bytes is not a valid RGB image");
  }
  LOOM_ASSIGN_OR_RETURN(const TargetSize target,
                        ImageTargetSize(image.height, image.width, budget));
  Image resized_local;
  const Image* resized = &image;
  if (target.height != image.height || target.width != image.width) {
    resized_local = ResizeBicubicAntialias(image, target.height, target.width, pool);
    resized = &resized_local;
  }
  // The reference multiplies the uint8 tensor by the Python float 1/255 in float32; video
  // divides by 255.0f. Table both over the 256 byte values.
  float lut[256];
  const float inv = static_cast<float>(1.0 / 255.0);
  for (int v = 0; v < 256; ++v) {
    lut[v] = rescale == Rescale::kMultiply ? static_cast<float>(v) * inv
                                           : static_cast<float>(v) / 255.0f;
  }
  Patches p;
  p.grid_h = target.height / kPatchSide;
  p.grid_w = target.width / kPatchSide;
  p.n = p.grid_h * p.grid_w;
  p.values.resize(static_cast<size_t>(p.n * kPatchValues));
  p.pos_x.resize(static_cast<size_t>(p.n));
  p.pos_y.resize(static_cast<size_t>(p.n));
  const int64_t row = target.width * 3;
  const int64_t block_row = kPatchSide * 3;
  for (int64_t by = 0; by < p.grid_h; ++by) {
    for (int64_t bx = 0; bx < p.grid_w; ++bx) {
      const int64_t t = by * p.grid_w + bx;
      p.pos_x[static_cast<size_t>(t)] = static_cast<int32_t>(bx);
      p.pos_y[static_cast<size_t>(t)] = static_cast<int32_t>(by);
      float* dst = &p.values[static_cast<size_t>(t * kPatchValues)];
      for (int64_t y = 0; y < kPatchSide; ++y) {
        const uint8_t* src =
            &resized->rgb[static_cast<size_t>((by * kPatchSide + y) * row + bx * block_row)];
        for (int64_t k = 0; k < block_row; ++k) dst[y * block_row + k] = lut[src[k]];
      }
    }
  }
  if (resized_out != nullptr) {
    *resized_out = resized == &image ? image : std::move(resized_local);
  }
  return p;
}

}  // namespace loom::media
