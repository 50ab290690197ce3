// Video decoding and frame sampling (SPEC §5, tests/fixtures/MEDIA.md "Video").
//
// The reference is transformers' read_video_torchcodec: torchcodec VideoDecoder(seek_mode=
// "exact"), whose frame count and average fps come from a scan of every packet, then
// get_frames_at(arange(n) * total // n), converted to RGB24 by libswscale with flags 0. loom scans
// the same way, seeks and decodes as get_frames_at does, keeps only the sampled frames, and
// converts them with the same libswscale calls, so frames match bit for bit.
#ifndef LOOM_MEDIA_VIDEO_H_
#define LOOM_MEDIA_VIDEO_H_

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"
#include "media/audio.h"
#include "media/limits.h"

namespace loom::media {

// The fps the processor assumes when the container has none.
inline constexpr double kDefaultVideoFps = 24.0;

struct VideoOptions {
  int num_frames = kDefaultVideoFrames;
  // Also decode the audio track (as DecodeAudioTrack does). A video without one is not an
  // error: Video::audio stays empty.
  bool with_audio = false;
};

struct VideoFrame {
  int64_t index = 0;      // in the stream's frames, in presentation order
  double seconds = 0;     // index / fps, the processor's timestamp
  std::string timestamp;  // "mm:ss", FormatTimestamp(seconds)
  int64_t width = 0, height = 0;
  std::vector<uint8_t> rgb;  // HWC, height * width * 3
};

struct Video {
  double fps = 0;  // torchcodec average_fps (frames / scanned duration), kDefaultVideoFps if none
  int64_t total_frames = 0;       // video packets in the stream (torchcodec "exact" num_frames)
  int64_t width = 0, height = 0;  // as displayed (after the container's rotation)
  std::vector<VideoFrame> frames;
  std::optional<Audio> audio;
};

// default_sample_indices_fn: arange(num_frames) * total_frames // num_frames. The reference
// raises when num_frames > total_frames; so does this, suggesting a smaller num_frames.
Result<std::vector<int64_t>> SampleFrameIndices(int64_t total_frames, int64_t num_frames);

// The processor's f"{int(t // 60):02d}:{int(t % 60):02d}", with Python's float floor division
// and modulo (so 59.999 is "00:59"). Non-finite input gives "00:00".
std::string FormatTimestamp(double seconds);

// Errors: empty or corrupt input, no video stream, unsupported codec, num_frames outside
// [1, limits.max_video_frames] or above the video's frame count, frames over
// limits.max_video_frame_pixels, longer than limits.max_video_seconds, bigger than
// limits.max_video_bytes.
Result<Video> DecodeVideo(std::span<const uint8_t> bytes, const VideoOptions& options,
                          const MediaLimits& limits);

// Reads `path` (at most limits.max_video_bytes) and decodes it.
Result<Video> LoadVideoFile(const std::string& path, const VideoOptions& options,
                            const MediaLimits& limits);

}  // namespace loom::media

#endif  // LOOM_MEDIA_VIDEO_H_
