// Named limits for untrusted media (../shared/RELIABILITY.md §5.6, §7.4): every decoder checks
// them before it allocates, and every message names the limit. The server exposes each as a flag.
#ifndef LOOM_MEDIA_LIMITS_H_
#define LOOM_MEDIA_LIMITS_H_

#include <cstdint>

namespace loom::media {

struct MediaLimits {
  // Images: encoded size, then the header's dimensions, read before any pixel is decoded
  // (decompression bombs).
  int64_t max_image_bytes = int64_t{32} << 20;
  int64_t max_image_side = 16384;                // pixels, width or height
  int64_t max_image_pixels = int64_t{33554432};  // width * height (32 Mi pixels)
  // Audio: encoded size and decoded duration (the model card advises <= 30 s).
  int64_t max_audio_bytes = int64_t{25} << 20;
  double max_audio_seconds = 30.0;
  int max_audio_channels = 8;
  // Video: encoded size, frames sampled, per-frame pixels, container duration.
  int64_t max_video_bytes = int64_t{256} << 20;
  int max_video_frames = 64;                          // sampled frames per video
  int64_t max_video_frame_pixels = int64_t{8294400};  // 3840 x 2160
  double max_video_seconds = 3600.0;
  // Frames in the whole stream, counted by the packet scan before decoding (an hour at 240
  // fps): a stream of millions of tiny packets is a bomb even within the byte limit.
  int64_t max_video_total_frames = int64_t{1} << 20;
};

// The soft-token budgets an image may use (SPEC §3.1); 280 is the default.
inline constexpr int64_t kImageBudgets[] = {70, 140, 280, 560, 1120};
inline constexpr int64_t kDefaultImageBudget = 280;
inline constexpr int64_t kDefaultVideoFrameBudget = 70;
inline constexpr int kDefaultVideoFrames = 32;
inline constexpr int kAudioSampleRate = 16000;
inline constexpr int64_t kAudioSamplesPerToken = 640;  // 40 ms at 16 kHz

inline bool IsImageBudget(int64_t b) {
  for (int64_t v : kImageBudgets) {
    if (v == b) return true;
  }
  return false;
}

}  // namespace loom::media

#endif  // LOOM_MEDIA_LIMITS_H_
