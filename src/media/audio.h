// Audio decoding and framing for the encoder-free audio path (SPEC §4.1).
//
// The reference loads audio with torchcodec AudioDecoder(sample_rate=16000, num_channels=1), i.e.
// libavcodec plus libswresample with default options (tests/fixtures/MEDIA.md, "Audio load and
// resample"). loom calls the same FFmpeg libraries in the same order, so samples match
// bit for bit: stereo becomes 0.70710678·(L+R), the length is what swr emits after flushing.
#ifndef LOOM_MEDIA_AUDIO_H_
#define LOOM_MEDIA_AUDIO_H_

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"
#include "media/limits.h"

namespace loom::media {

// Sanity bounds on a stream's sample rate; outside them a file is corrupt or hostile
// (../shared/RELIABILITY.md §5.6 item 49: "sample rate 0 or absurd").
inline constexpr int kMinAudioSourceRate = 1000;
inline constexpr int kMaxAudioSourceRate = 768000;

// The decoded-length check allows this much beyond max_audio_seconds, because lossy codecs
// emit encoder priming and padding that the container's duration does not count.
inline constexpr double kAudioDurationSlackSeconds = 0.5;

struct Audio {
  std::vector<float> samples;  // mono, kAudioSampleRate (16 kHz)
  int source_rate = 0;
  int source_channels = 0;
  std::string codec;  // FFmpeg's codec name: "pcm_s16le", "flac", "mp3", "vorbis", "aac", ...
};

// Decodes any container FFmpeg reads that has an audio stream (WAV with PCM 8/16/24/32 or float,
// FLAC, OGG/Vorbis, MP3, ...), down-mixed to mono and resampled to 16 kHz. Every problem is an
// error naming it: empty or truncated input, no audio stream, unsupported codec, channel count
// or sample rate out of bounds, NaN/Inf samples, more than limits.max_audio_bytes or
// limits.max_audio_seconds.
Result<Audio> DecodeAudio(std::span<const uint8_t> bytes, const MediaLimits& limits);

// Reads `path` (at most limits.max_audio_bytes) and decodes it.
Result<Audio> LoadAudioFile(const std::string& path, const MediaLimits& limits);

// The audio track of a video container, decoded exactly like DecodeAudio. The size limit is
// limits.max_video_bytes (the bytes are a video); the duration limit is max_audio_seconds.
Result<Audio> DecodeAudioTrack(std::span<const uint8_t> bytes, const MediaLimits& limits);

// The feature extractor's framing: zero-pad to a multiple of `samples_per_token` and cut into
// n = ceil(samples / samples_per_token) rows. values is [n][samples_per_token], row-major.
struct AudioFrames {
  int64_t n = 0;
  std::vector<float> values;
};
AudioFrames FrameAudio(std::span<const float> samples,
                       int64_t samples_per_token = kAudioSamplesPerToken);

}  // namespace loom::media

#endif  // LOOM_MEDIA_AUDIO_H_
