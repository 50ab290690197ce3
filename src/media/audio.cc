// The decode loop mirrors torchcodec 0.17 SingleStreamDecoder::get_frames_played_in_range_audio
// with start 0 and no stop, CpuDeviceInterface::convert_audio_av_frame_to_frame_output and
// maybe_flush_audio_buffers, then AudioDecoder.get_samples_played_in_range's trim. Each step
// that changes which samples reach libswresample, or how, is kept: the pre-roll seek, the pts
// filter, the grid alignment of the first converted frame, one swr_convert per frame with the
// same output bound, the final flush and the trim of samples before t = 0.
#include "media/audio.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <optional>
#include <vector>

#include "base/mapped_file.h"
#include "base/strings.h"
#include "io/byte_reader.h"
#include "media/ffmpeg_io.h"

extern "C" {
#include <libavutil/channel_layout.h>
#include <libavutil/mathematics.h>
#include <libavutil/samplefmt.h>
}

namespace loom::media {
namespace {

constexpr AVSampleFormat kOutFormat = AV_SAMPLE_FMT_FLTP;

uint32_t Le32(const uint8_t* p) {
  return uint32_t{p[0]} | (uint32_t{p[1]} << 8) | (uint32_t{p[2]} << 16) | (uint32_t{p[3]} << 24);
}
uint16_t Le16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }

// FFmpeg's WAV demuxer is lenient: it reads a truncated data chunk up to EOF and reports a bad
// fmt chunk only as "Invalid data". A RIFF/WAVE header is checked here first so those inputs
// fail with a message naming the field (../shared/RELIABILITY.md §5.6 item 49). Non-RIFF input
// and anything this walk does not understand is left to FFmpeg.
Status CheckWavHeader(std::span<const uint8_t> bytes, const MediaLimits& limits) {
  if (bytes.size() < 12 || std::memcmp(bytes.data(), "RIFF", 4) != 0 ||
      std::memcmp(bytes.data() + 8, "WAVE", 4) != 0) {
    return Status::Ok();
  }
  ByteReader r(bytes);
  LOOM_RETURN_IF_ERROR(r.Skip(12, "WAV header"));
  bool have_fmt = false;
  while (r.remaining() >= 8) {
    const uint8_t* head = r.current();
    const std::string id(reinterpret_cast<const char*>(head), 4);
    const uint32_t size = Le32(head + 4);
    LOOM_RETURN_IF_ERROR(r.Skip(8, "WAV chunk header"));
    if (id == "fmt ") {
      if (have_fmt) return DataLoss("audio: WAV has two fmt chunks");
      have_fmt = true;
      if (size < 16) return DataLoss("audio: WAV fmt chunk has ", size, " bytes, need 16");
      if (size > r.remaining()) {
        return DataLoss("audio: WAV fmt chunk declares ", size, " bytes but only ", r.remaining(),
                        " remain (truncated file?)");
      }
      const uint8_t* f = r.current();
      const uint16_t tag = Le16(f);
      const uint16_t channels = Le16(f + 2);
      const uint32_t rate = Le32(f + 4);
      const uint16_t bits = Le16(f + 14);
      if (channels == 0) return InvalidArgument("audio: WAV declares 0 channels");
      if (channels > limits.max_audio_channels) {
        return InvalidArgument("audio: WAV has ", channels, " channels, more than ",
                               "max_audio_channels = ", limits.max_audio_channels);
      }
      if (rate < kMinAudioSourceRate || rate > kMaxAudioSourceRate) {
        return InvalidArgument("audio: WAV sample rate ", rate, " Hz is outside [",
                               kMinAudioSourceRate, ", ", kMaxAudioSourceRate, "]");
      }
      // FFmpeg's ff_get_pcm_codec_id: samples are whole bytes, so 12-bit PCM is read as s16.
      const uint32_t bytes_per_sample = (bits + 7u) / 8u;
      const bool pcm = tag == 1, ieee_float = tag == 3;
      if ((pcm && bytes_per_sample != 1 && bytes_per_sample != 2 && bytes_per_sample != 3 &&
           bytes_per_sample != 4 && bytes_per_sample != 8) ||
          (ieee_float && bytes_per_sample != 4 && bytes_per_sample != 8)) {
        return Unimplemented("audio: WAV ", pcm ? "PCM" : "float", " with ", bits,
                             " bits per sample is not supported");
      }
    } else if (id == "data") {
      if (!have_fmt) return DataLoss("audio: WAV data chunk comes before any fmt chunk");
      // Streaming writers that cannot seek back say "until the end of the file" with 0,
      // 0xFFFFFFFF (FFmpeg) or 0x7FFFFFFF-ish (arecord, sox); FFmpeg then reads to EOF.
      const bool unknown_length = size == 0 || size >= 0x7FFFF000u;
      if (!unknown_length && size > r.remaining()) {
        return DataLoss("audio: WAV data chunk declares ", size, " bytes but only ", r.remaining(),
                        " follow (truncated file?)");
      }
      return Status::Ok();
    }
    const uint64_t padded = uint64_t{size} + (size & 1);
    if (padded > r.remaining()) {
      if (id == "fmt ") break;
      return DataLoss("audio: WAV chunk '", QuoteForMessage(id), "' declares ", size,
                      " bytes but only ", r.remaining(), " remain (truncated file?)");
    }
    LOOM_RETURN_IF_ERROR(r.Skip(padded, "WAV chunk"));
  }
  if (!have_fmt) return DataLoss("audio: WAV has no fmt chunk");
  return DataLoss("audio: WAV has no data chunk (header only?)");
}

bool IsFloatFormat(AVSampleFormat f) {
  const AVSampleFormat packed = av_get_packed_sample_fmt(f);
  return packed == AV_SAMPLE_FMT_FLT || packed == AV_SAMPLE_FMT_DBL;
}

// Rejects NaN and Inf in a decoded float frame; `first_index` is the index of the frame's first
// sample in the stream, at the source rate.
Status CheckFiniteFrame(const AVFrame& frame, int channels, int64_t first_index,
                        std::string_view what) {
  const auto fmt = static_cast<AVSampleFormat>(frame.format);
  if (!IsFloatFormat(fmt)) return Status::Ok();
  const bool planar = av_sample_fmt_is_planar(fmt);
  const bool dbl = av_get_packed_sample_fmt(fmt) == AV_SAMPLE_FMT_DBL;
  const int planes = planar ? channels : 1;
  const int64_t per_plane = planar ? frame.nb_samples : int64_t{frame.nb_samples} * channels;
  for (int p = 0; p < planes; ++p) {
    const uint8_t* data = frame.extended_data[p];
    for (int64_t i = 0; i < per_plane; ++i) {
      double v;
      if (dbl) {
        v = reinterpret_cast<const double*>(data)[i];
      } else {
        v = reinterpret_cast<const float*>(data)[i];
      }
      if (!std::isfinite(v)) {
        const int64_t sample = planar ? i : i / channels;
        const int channel = planar ? p : static_cast<int>(i % channels);
        return DataLoss(what, ": sample ", first_index + sample, " (channel ", channel, ") is ",
                        std::isnan(v) ? "NaN" : "infinite", "; audio samples must be finite");
      }
    }
  }
  return Status::Ok();
}

// torchcodec's seconds_to_closest_pts, clamped so a hostile time base cannot overflow the cast.
int64_t SecondsToClosestPts(double seconds, AVRational tb) {
  const double pts = std::round(seconds * tb.den / tb.num);
  if (!(pts > -9.0e18)) return INT64_MIN;
  if (pts > 9.0e18) return INT64_MAX;
  return static_cast<int64_t>(pts);
}

class AudioDecodeLoop {
 public:
  AudioDecodeLoop(const MediaLimits& limits, std::string_view what)
      : limits_(limits), what_(what) {}
  ~AudioDecodeLoop() { av_channel_layout_uninit(&swr_layout_); }
  AudioDecodeLoop(const AudioDecodeLoop&) = delete;
  AudioDecodeLoop& operator=(const AudioDecodeLoop&) = delete;

  Result<Audio> Run(std::span<const uint8_t> bytes) {
    LOOM_ASSIGN_OR_RETURN(input_, MemoryInput::Open(bytes, what_));
    AVFormatContext* fc = input_->format();
    LOOM_RETURN_IF_ERROR(OpenStream(fc));
    LOOM_RETURN_IF_ERROR(Decode(fc));
    return Finish();
  }

 private:
  Status OpenStream(AVFormatContext* fc) {
    const AVCodec* codec = nullptr;
    LOOM_ASSIGN_OR_RETURN(
        stream_, FindBestStream(fc, AVMEDIA_TYPE_AUDIO, what_, input_->format_name(), &codec));
    const AVCodecParameters* par = stream_->codecpar;
    LOOM_RETURN_IF_ERROR(CheckChannelsAndRate(par->ch_layout.nb_channels, par->sample_rate));
    if (stream_->time_base.num <= 0 || stream_->time_base.den <= 0) {
      return DataLoss(what_, ": the audio stream has an invalid time base");
    }
    if (const double seconds = KnownDurationSeconds(fc, stream_);
        seconds > limits_.max_audio_seconds) {
      return OutOfRange(what_, ": ", seconds,
                        " s long, more than max_audio_seconds = ", limits_.max_audio_seconds);
    }
    // torchcodec decodes audio with one thread (torchcodec#1253).
    LOOM_ASSIGN_OR_RETURN(codec_, OpenDecoder(stream_, codec, 1, what_));
    // torchcodec sets this after avcodec_open2, where most decoders no longer read it; kept so
    // the few that do behave the same.
    codec_->request_sample_fmt = AV_SAMPLE_FMT_FLTP;
    LOOM_RETURN_IF_ERROR(CheckChannelsAndRate(codec_->ch_layout.nb_channels, codec_->sample_rate));
    channels_ = codec_->ch_layout.nb_channels;
    DiscardOtherStreams(fc, stream_->index);
    audio_.codec = CodecName(par);
    audio_.source_rate = codec_->sample_rate;
    audio_.source_channels = channels_;
    return Status::Ok();
  }

  Status CheckChannelsAndRate(int channels, int rate) const {
    if (channels <= 0) return InvalidArgument(what_, ": the audio stream has 0 channels");
    if (channels > limits_.max_audio_channels) {
      return InvalidArgument(what_, ": ", channels, " channels, more than max_audio_channels = ",
                             limits_.max_audio_channels);
    }
    if (rate < kMinAudioSourceRate || rate > kMaxAudioSourceRate) {
      return InvalidArgument(what_, ": sample rate ", rate, " Hz is outside [", kMinAudioSourceRate,
                             ", ", kMaxAudioSourceRate, "]");
    }
    return Status::Ok();
  }

  Status Decode(AVFormatContext* fc) {
    const AVRational tb = stream_->time_base;
    const int src_rate = codec_->sample_rate;
    // Codec and resampler pre-roll, as in get_frames_played_in_range_audio. For a start of 0
    // on a fresh decoder it only decides whether to seek and which frames the pts filter keeps.
    const AVCodecDescriptor* desc = avcodec_descriptor_get(codec_->codec_id);
    const bool lossless = desc != nullptr && (desc->props & AV_CODEC_PROP_LOSSLESS) != 0;
    double preroll = 0;
    if (!lossless) {
      preroll = codec_->frame_size > 0 ? 4.0 * codec_->frame_size / src_rate : 1.0;
    }
    const bool resampling = src_rate != kAudioSampleRate;
    if (resampling) {
      const double factor = std::min(1.0, kAudioSampleRate * 0.97 / src_rate);
      const double filter_length = std::ceil(32 / factor);
      const int64_t alignment = src_rate / std::gcd(src_rate, kAudioSampleRate);
      preroll = std::max(preroll, (alignment - 1 + 2 * filter_length) / src_rate);
    }
    const int64_t seek_pts = SecondsToClosestPts(0.0 - preroll, tb);
    const int64_t min_pts = stream_->start_time != AV_NOPTS_VALUE ? stream_->start_time : 0;
    if (seek_pts > min_pts) {
      const int err = avformat_seek_file(fc, stream_->index, INT64_MIN, seek_pts, seek_pts, 0);
      if (err < 0) return AvStatus(err, what_, "seeking to the start");
      avcodec_flush_buffers(codec_.get());
    }
    const int64_t output_start_pts = resampling ? std::min<int64_t>(0, seek_pts) : 0;
    stream_start_seconds_ =
        stream_->start_time != AV_NOPTS_VALUE ? PtsToSeconds(stream_->start_time, tb) : 0.0;

    LOOM_ASSIGN_OR_RETURN(PacketPtr packet, AllocPacket());
    LOOM_ASSIGN_OR_RETURN(FramePtr frame, AllocFrame());
    bool eof = false;
    while (true) {
      int err = avcodec_receive_frame(codec_.get(), frame.get());
      if (err >= 0) {
        const int64_t pts = FramePts(*frame);
        // torchcodec's filter: the frame ends after the pre-roll start (there is no stop).
        if (output_start_pts < SaturatingAdd(pts, FrameDuration(*frame))) {
          LOOM_RETURN_IF_ERROR(ConvertFrame(*frame, PtsToSeconds(pts, tb)));
        }
        av_frame_unref(frame.get());
        continue;
      }
      if (err == AVERROR_EOF) break;
      if (err != AVERROR(EAGAIN)) return AvStatus(err, what_, "decoding");
      if (eof) return DataLoss(what_, ": the decoder stalled at the end of the stream");
      err = ReadStreamPacket(fc, stream_->index, packet.get());
      if (err == AVERROR_EOF) {
        eof = true;
        err = avcodec_send_packet(codec_.get(), nullptr);
        if (err < 0 && err != AVERROR_EOF) return AvStatus(err, what_, "flushing the decoder");
        continue;
      }
      if (err < 0) return AvStatus(err, what_, "reading the input (corrupt or truncated?)");
      err = avcodec_send_packet(codec_.get(), packet.get());
      av_packet_unref(packet.get());
      if (err < 0) return AvStatus(err, what_, "decoding (corrupt or truncated data?)");
    }
    return Flush();
  }

  Status ConvertFrame(const AVFrame& frame, double pts_seconds) {
    const auto fmt = static_cast<AVSampleFormat>(frame.format);
    if (frame.ch_layout.nb_channels != channels_) {
      return DataLoss(what_, ": a frame has ", frame.ch_layout.nb_channels,
                      " channels but the stream has ", channels_);
    }
    if (frame.nb_samples < 0 || av_get_bytes_per_sample(fmt) <= 0) {
      return DataLoss(what_, ": the decoder returned an invalid frame");
    }
    if (frame.sample_rate < kMinAudioSourceRate || frame.sample_rate > kMaxAudioSourceRate) {
      return DataLoss(what_, ": a frame has sample rate ", frame.sample_rate, " Hz");
    }
    const int64_t first_index = input_samples_;
    input_samples_ += frame.nb_samples;
    LOOM_RETURN_IF_ERROR(CheckFiniteFrame(frame, channels_, first_index, what_));
    const double limit = limits_.max_audio_seconds + kAudioDurationSlackSeconds;
    if (static_cast<double>(input_samples_) / frame.sample_rate > limit) {
      return OutOfRange(what_, ": longer than max_audio_seconds = ", limits_.max_audio_seconds,
                        " (stopped decoding after ",
                        static_cast<double>(input_samples_) / frame.sample_rate, " s)");
    }

    const bool must_convert =
        fmt != kOutFormat || frame.sample_rate != kAudioSampleRate || channels_ != 1;
    if (!must_convert) {
      if (!first_pts_.has_value()) first_pts_ = pts_seconds;
      const auto* src = reinterpret_cast<const float*>(frame.extended_data[0]);
      audio_.samples.insert(audio_.samples.end(), src, src + frame.nb_samples);
      return Status::Ok();
    }

    int64_t skip = 0;
    if (swr_ == nullptr) {
      // [Audio resampling and frame alignment]: the resampler starts on a sample that lies on
      // both the input and the output grid.
      const int64_t src_rate = frame.sample_rate;
      const double position = (pts_seconds - stream_start_seconds_) * src_rate;
      // 2^53: beyond it the sample index is not even exact in double.
      if (!(std::fabs(position) < 9.0e15)) {
        return DataLoss(what_, ": the first frame's timestamp is out of range");
      }
      const int64_t index = std::llround(position);
      const int64_t alignment = src_rate / std::gcd(src_rate, int64_t{kAudioSampleRate});
      int64_t remainder = index % alignment;
      if (remainder < 0) remainder += alignment;
      const int64_t aligned = index + (remainder == 0 ? 0 : alignment - remainder);
      skip = aligned - index;
      pts_seconds = stream_start_seconds_ + static_cast<double>(aligned) / src_rate;
      if (!first_pts_.has_value()) first_pts_ = pts_seconds;
      if (skip >= frame.nb_samples) return Status::Ok();
      LOOM_RETURN_IF_ERROR(CreateResampler(frame));
    } else if (fmt != swr_format_ || frame.sample_rate != swr_rate_ ||
               av_channel_layout_compare(&frame.ch_layout, &swr_layout_) != 0) {
      // The resampler was built for the first frame; feeding it another layout would read the
      // planes wrongly (torchcodec does not check this and would return garbage).
      return DataLoss(what_, ": the sample format, rate or channel layout changes mid-stream");
    }
    if (!first_pts_.has_value()) first_pts_ = pts_seconds;

    const int in_count = static_cast<int>(frame.nb_samples - skip);
    int64_t bound = in_count;
    if (frame.sample_rate != kAudioSampleRate) {
      bound = av_rescale_rnd(swr_get_delay(swr_.get(), frame.sample_rate) + in_count,
                             kAudioSampleRate, frame.sample_rate, AV_ROUND_UP);
    }
    if (bound <= 0) return Status::Ok();
    const bool planar = av_sample_fmt_is_planar(fmt);
    const int bytes_per_sample = av_get_bytes_per_sample(fmt);
    const int planes = planar ? channels_ : 1;
    const int64_t offset = skip * bytes_per_sample * (planar ? 1 : channels_);
    std::vector<const uint8_t*> in(static_cast<size_t>(planes));
    for (int p = 0; p < planes; ++p) in[static_cast<size_t>(p)] = frame.extended_data[p] + offset;
    return Convert(in.data(), in_count, bound);
  }

  Status CreateResampler(const AVFrame& frame) {
    AVChannelLayout mono;
    av_channel_layout_default(&mono, 1);
    SwrContext* raw = nullptr;
    // FFmpeg 5.1 declares the layouts non-const but does not modify them.
    int err = swr_alloc_set_opts2(
        &raw, &mono, kOutFormat, kAudioSampleRate, const_cast<AVChannelLayout*>(&frame.ch_layout),
        static_cast<AVSampleFormat>(frame.format), frame.sample_rate, 0, nullptr);
    av_channel_layout_uninit(&mono);
    swr_.reset(raw);
    if (err < 0 || swr_ == nullptr) return AvStatus(err, what_, "swr_alloc_set_opts2");
    if (err = swr_init(swr_.get()); err < 0) {
      return AvStatus(err, what_, "setting up the resampler (unsupported channel layout?)");
    }
    swr_format_ = static_cast<AVSampleFormat>(frame.format);
    swr_rate_ = frame.sample_rate;
    if (err = av_channel_layout_copy(&swr_layout_, &frame.ch_layout); err < 0) {
      return AvStatus(err, what_, "av_channel_layout_copy");
    }
    return Status::Ok();
  }

  // One swr_convert into `bound` new output samples; the vector keeps what swr produced.
  Status Convert(const uint8_t** in, int in_count, int64_t bound) {
    const size_t old = audio_.samples.size();
    const double max_out =
        (limits_.max_audio_seconds + kAudioDurationSlackSeconds + 1.0) * kAudioSampleRate;
    if (static_cast<double>(old + static_cast<size_t>(bound)) > max_out) {
      return OutOfRange(what_, ": longer than max_audio_seconds = ", limits_.max_audio_seconds);
    }
    audio_.samples.resize(old + static_cast<size_t>(bound));
    auto* out = reinterpret_cast<uint8_t*>(audio_.samples.data() + old);
    const int n = swr_convert(swr_.get(), &out, static_cast<int>(bound), in, in_count);
    if (n < 0) {
      audio_.samples.resize(old);
      return AvStatus(n, what_, "resampling");
    }
    audio_.samples.resize(old + static_cast<size_t>(n));
    return Status::Ok();
  }

  Status Flush() {
    if (swr_ == nullptr) return Status::Ok();
    const int64_t remaining = swr_get_out_samples(swr_.get(), 0);
    if (remaining <= 0) return Status::Ok();
    return Convert(nullptr, 0, remaining);
  }

  Result<Audio> Finish() {
    if (!first_pts_.has_value()) {
      return InvalidArgument(what_, ": no audio samples in the input (empty data?)");
    }
    // AudioDecoder.get_samples_played_in_range drops what plays before t = 0 (AAC priming).
    if (*first_pts_ < 0) {
      const double offset = std::floor((0.0 - *first_pts_) * kAudioSampleRate + 0.5);
      const size_t n = offset >= static_cast<double>(audio_.samples.size())
                           ? audio_.samples.size()
                           : static_cast<size_t>(offset);
      audio_.samples.erase(audio_.samples.begin(), audio_.samples.begin() + n);
    }
    if (audio_.samples.empty()) {
      return InvalidArgument(what_, ": no audio samples in the input (empty data?)");
    }
    const double seconds = static_cast<double>(audio_.samples.size()) / kAudioSampleRate;
    if (seconds > limits_.max_audio_seconds + kAudioDurationSlackSeconds) {
      return OutOfRange(what_, ": ", seconds,
                        " s long, more than max_audio_seconds = ", limits_.max_audio_seconds);
    }
    // Finite input can still overflow in the resampling filter.
    for (size_t i = 0; i < audio_.samples.size(); ++i) {
      if (!std::isfinite(audio_.samples[i])) {
        return DataLoss(what_, ": resampled sample ", i, " is not finite");
      }
    }
    return std::move(audio_);
  }

  const MediaLimits& limits_;
  std::string_view what_;
  std::unique_ptr<MemoryInput> input_;
  AVStream* stream_ = nullptr;
  CodecContextPtr codec_;
  int channels_ = 0;
  double stream_start_seconds_ = 0;
  int64_t input_samples_ = 0;
  std::optional<double> first_pts_;
  SwrPtr swr_;
  AVSampleFormat swr_format_ = AV_SAMPLE_FMT_NONE;
  int swr_rate_ = 0;
  AVChannelLayout swr_layout_{};
  Audio audio_;
};

}  // namespace

Result<Audio> DecodeAudio(std::span<const uint8_t> bytes, const MediaLimits& limits) {
  if (bytes.empty()) return InvalidArgument("audio: the input is empty (0 bytes)");
  if (static_cast<int64_t>(bytes.size()) > limits.max_audio_bytes) {
    return OutOfRange("audio: ", bytes.size(),
                      " bytes, more than max_audio_bytes = ", limits.max_audio_bytes);
  }
  LOOM_RETURN_IF_ERROR(CheckWavHeader(bytes, limits));
  AudioDecodeLoop loop(limits, "audio");
  return loop.Run(bytes);
}

Result<Audio> DecodeAudioTrack(std::span<const uint8_t> bytes, const MediaLimits& limits) {
  if (bytes.empty()) return InvalidArgument("video audio track: the input is empty (0 bytes)");
  if (static_cast<int64_t>(bytes.size()) > limits.max_video_bytes) {
    return OutOfRange("video audio track: ", bytes.size(),
                      " bytes, more than max_video_bytes = ", limits.max_video_bytes);
  }
  AudioDecodeLoop loop(limits, "video audio track");
  return loop.Run(bytes);
}

Result<Audio> LoadAudioFile(const std::string& path, const MediaLimits& limits) {
  const uint64_t max_bytes = limits.max_audio_bytes > 0 ? uint64_t(limits.max_audio_bytes) : 0;
  auto data = ReadFileToString(path, max_bytes);
  if (!data.ok()) return data.status().WithContext("audio (max_audio_bytes)");
  const auto* p = reinterpret_cast<const uint8_t*>(data->data());
  auto audio = DecodeAudio(std::span<const uint8_t>(p, data->size()), limits);
  if (!audio.ok()) return audio.status().WithContext(QuoteForMessage(path, 4096));
  return audio;
}

AudioFrames FrameAudio(std::span<const float> samples, int64_t samples_per_token) {
  AudioFrames out;
  if (samples_per_token <= 0 || samples.empty()) return out;
  const auto count = static_cast<int64_t>(samples.size());
  out.n = (count + samples_per_token - 1) / samples_per_token;
  out.values.assign(static_cast<size_t>(out.n * samples_per_token), 0.0f);
  std::copy(samples.begin(), samples.end(), out.values.begin());
  return out;
}

}  // namespace loom::media
