// Fuzz target for audio decoding: any bytes (WAV seeds, but FFmpeg probes every format it knows)
// through DecodeAudio with small limits, so each input stays fast, then FrameAudio. Decoding must
// refuse or accept without a crash; what it accepts must respect the limits and be finite.
// Seeds: fuzz/corpus/wav/ (tiny 8/16/24-bit PCM, float and stereo WAVs).
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>

#include "media/audio.h"

namespace {

void Require(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "wav_fuzz: invariant failed: %s\n", what);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  loom::media::MediaLimits limits;
  limits.max_audio_bytes = 1 << 20;
  limits.max_audio_seconds = 2.0;
  auto audio = loom::media::DecodeAudio(std::span<const uint8_t>(data, size), limits);
  if (!audio.ok()) {
    Require(!audio.status().message().empty(), "an error has a message");
    return 0;
  }
  const double seconds = static_cast<double>(audio->samples.size()) / loom::media::kAudioSampleRate;
  Require(!audio->samples.empty(), "accepted audio has samples");
  Require(seconds <= limits.max_audio_seconds + loom::media::kAudioDurationSlackSeconds,
          "accepted audio is within max_audio_seconds");
  Require(audio->source_channels >= 1 && audio->source_channels <= limits.max_audio_channels,
          "channel count within the limit");
  for (float s : audio->samples) Require(std::isfinite(s), "samples are finite");
  const loom::media::AudioFrames frames = loom::media::FrameAudio(audio->samples);
  Require(
      frames.n * loom::media::kAudioSamplesPerToken == static_cast<int64_t>(frames.values.size()),
      "frames are [n][640]");
  Require(
      static_cast<size_t>(frames.n * loom::media::kAudioSamplesPerToken) >= audio->samples.size(),
      "frames hold every sample");
  return 0;
}
