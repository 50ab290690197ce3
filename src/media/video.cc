// Mirrors torchcodec 0.17: SingleStreamDecoder::scan_file_and_update_metadata_and_index (frame
// count, key frames, begin/end pts), StreamMetadata::get_average_fps, get_frames_at_indices with
// can_we_avoid_seeking (when to seek back to a key frame, which frame is returned), SwScale with
// create_sws_context (flags 0, the frame's colorspace and range) and rotate_hwc_tensor for the
// container's display matrix. torchcodec converts widths that are not a multiple of 32 through
// a filter graph instead of swscale; its output was compared equal to this path on widths 90,
// 95 and 100, and on rotated streams.
#include "media/video.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "base/mapped_file.h"
#include "base/strings.h"
#include "media/ffmpeg_io.h"

extern "C" {
#include <libavutil/display.h>
#include <libavutil/pixdesc.h>
}

namespace loom::media {
namespace {

// A stream with millions of packets in other streams (data, subtitles) is still bounded.
constexpr int64_t kMaxScannedPacketsPerFrame = 16;

// Python's float divmod (CPython float_divmod), so FormatTimestamp agrees with the processor on
// every double, including the ones just below a minute boundary.
void PyDivmod(double vx, double wx, double* floordiv, double* mod) {
  double m = std::fmod(vx, wx);
  double div = (vx - m) / wx;
  if (m != 0) {
    if ((wx < 0) != (m < 0)) {
      m += wx;
      div -= 1.0;
    }
  } else {
    m = std::copysign(0.0, wx);
  }
  double fd;
  if (div != 0) {
    fd = std::floor(div);
    if (div - fd > 0.5) fd += 1.0;
  } else {
    fd = std::copysign(0.0, vx / wx);
  }
  *floordiv = fd;
  *mod = m;
}

// The container's rotation in quarter turns counter-clockwise (torch.rot90's k), from the
// display matrix as torchcodec reads it; 0 when there is none or it is invalid.
int RotationQuarterTurns(const AVStream* st) {
  size_t size = 0;
  const uint8_t* side = av_stream_get_side_data(st, AV_PKT_DATA_DISPLAYMATRIX, &size);
  if (side == nullptr || size < 9 * sizeof(int32_t)) return 0;
  int32_t matrix[9];
  std::memcpy(matrix, side, sizeof(matrix));
  const double degrees = av_display_rotation_get(matrix);
  if (std::isnan(degrees)) return 0;
  switch (static_cast<int>(std::round(degrees / 90.0)) * 90) {
    case 90:
      return 1;
    case 180:
    case -180:
      return 2;
    case -90:
      return 3;
    default:
      return 0;
  }
}

// torch.rot90(hwc, k, dims=(0, 1)) of an RGB24 image.
std::vector<uint8_t> Rotate(const std::vector<uint8_t>& in, int64_t h, int64_t w, int k) {
  std::vector<uint8_t> out(in.size());
  const int64_t oh = (k % 2 == 1) ? w : h, ow = (k % 2 == 1) ? h : w;
  for (int64_t i = 0; i < oh; ++i) {
    for (int64_t j = 0; j < ow; ++j) {
      int64_t si = 0, sj = 0;
      if (k == 1) {
        si = j, sj = w - 1 - i;
      } else if (k == 2) {
        si = h - 1 - i, sj = w - 1 - j;
      } else {
        si = h - 1 - j, sj = i;
      }
      std::memcpy(&out[static_cast<size_t>((i * ow + j) * 3)],
                  &in[static_cast<size_t>((si * w + sj) * 3)], 3);
    }
  }
  return out;
}

struct ScanResult {
  std::vector<int64_t> pts;      // sorted
  std::vector<int64_t> key_pts;  // sorted
  int64_t begin = 0, end = 0;    // min pts, max pts + duration
};

class VideoDecoder {
 public:
  VideoDecoder(const VideoOptions& options, const MediaLimits& limits)
      : options_(options), limits_(limits) {}

  Result<Video> Run(std::span<const uint8_t> bytes) {
    LOOM_ASSIGN_OR_RETURN(input_, MemoryInput::Open(bytes, "video"));
    AVFormatContext* fc = input_->format();
    LOOM_RETURN_IF_ERROR(FindStream(fc));
    LOOM_ASSIGN_OR_RETURN(ScanResult scan, Scan(fc));
    LOOM_RETURN_IF_ERROR(Metadata(scan));
    LOOM_ASSIGN_OR_RETURN(std::vector<int64_t> indices,
                          SampleFrameIndices(video_.total_frames, options_.num_frames));
    // The scan leaves the demuxer at the end; torchcodec rewinds with stream 0's timestamp 0.
    if (int err = avformat_seek_file(fc, 0, INT64_MIN, 0, 0, 0); err < 0) {
      return AvStatus(err, "video", "seeking back to the start");
    }
    LOOM_RETURN_IF_ERROR(OpenCodec(fc));
    LOOM_RETURN_IF_ERROR(DecodeFrames(fc, indices, scan));
    if (options_.with_audio && has_audio_) {
      input_.reset();  // the audio pass opens its own demuxer
      LOOM_ASSIGN_OR_RETURN(video_.audio, DecodeAudioTrack(bytes, limits_));
    }
    return std::move(video_);
  }

 private:
  Status FindStream(AVFormatContext* fc) {
    const AVCodec* codec = nullptr;
    LOOM_ASSIGN_OR_RETURN(
        stream_, FindBestStream(fc, AVMEDIA_TYPE_VIDEO, "video", input_->format_name(), &codec));
    codec_def_ = codec;
    has_audio_ =
        av_find_best_stream(fc, AVMEDIA_TYPE_AUDIO, -1, -1, nullptr, 0) != AVERROR_STREAM_NOT_FOUND;
    const AVCodecParameters* par = stream_->codecpar;
    LOOM_RETURN_IF_ERROR(CheckSize(par->width, par->height));
    if (stream_->time_base.num <= 0 || stream_->time_base.den <= 0) {
      return DataLoss("video: the video stream has an invalid time base");
    }
    if (const double seconds = KnownDurationSeconds(fc, stream_);
        seconds > limits_.max_video_seconds) {
      return OutOfRange("video: ", seconds,
                        " s long, more than max_video_seconds = ", limits_.max_video_seconds);
    }
    rotation_ = RotationQuarterTurns(stream_);
    const bool swap = rotation_ % 2 == 1;
    video_.width = swap ? par->height : par->width;
    video_.height = swap ? par->width : par->height;
    return Status::Ok();
  }

  Status CheckSize(int64_t w, int64_t h) const {
    if (w <= 0 || h <= 0) return DataLoss("video: invalid frame size ", w, "x", h);
    if (w * h > limits_.max_video_frame_pixels) {
      return OutOfRange(
          "video: frames are ", w, "x", h, " = ", w * h,
          " pixels, more than max_video_frame_pixels = ", limits_.max_video_frame_pixels);
    }
    return Status::Ok();
  }

  // Every packet of the stream, as torchcodec's exact mode counts them: the frame count, the
  // pts of each frame in presentation order, and the time span that gives the average fps.
  Result<ScanResult> Scan(AVFormatContext* fc) {
    ScanResult scan;
    LOOM_ASSIGN_OR_RETURN(PacketPtr packet, AllocPacket());
    const int64_t max_frames = limits_.max_video_total_frames;
    const int64_t max_packets = max_frames > INT64_MAX / kMaxScannedPacketsPerFrame
                                    ? INT64_MAX
                                    : std::max<int64_t>(max_frames, 1) * kMaxScannedPacketsPerFrame;
    const AVRational tb = stream_->time_base;
    int64_t packets = 0;
    while (true) {
      const int err = av_read_frame(fc, packet.get());
      if (err == AVERROR_EOF) break;
      if (err < 0) return AvStatus(err, "video", "reading packets (corrupt or truncated file?)");
      const bool mine =
          packet->stream_index == stream_->index && (packet->flags & AV_PKT_FLAG_DISCARD) == 0;
      const int64_t pts = packet->pts == AV_NOPTS_VALUE ? packet->dts : packet->pts;
      const int64_t duration = packet->duration;
      const bool key = (packet->flags & AV_PKT_FLAG_KEY) != 0;
      av_packet_unref(packet.get());
      if (++packets > max_packets) {
        return OutOfRange("video: more than ", max_packets, " packets (",
                          kMaxScannedPacketsPerFrame,
                          " per frame of max_video_total_frames = ", max_frames, ")");
      }
      if (!mine) continue;
      if (pts == AV_NOPTS_VALUE) return DataLoss("video: a video packet has no timestamp");
      if (static_cast<int64_t>(scan.pts.size()) >= max_frames) {
        return OutOfRange("video: more than max_video_total_frames = ", max_frames,
                          " frames in the stream");
      }
      const int64_t end = SaturatingAdd(pts, duration);
      if (scan.pts.empty()) {
        scan.begin = pts;
        scan.end = end;
      } else {
        scan.begin = std::min(scan.begin, pts);
        scan.end = std::max(scan.end, end);
      }
      scan.pts.push_back(pts);
      if (key) scan.key_pts.push_back(pts);
      if (PtsToSeconds(scan.end, tb) - PtsToSeconds(scan.begin, tb) > limits_.max_video_seconds) {
        return OutOfRange("video: longer than max_video_seconds = ", limits_.max_video_seconds);
      }
    }
    std::sort(scan.pts.begin(), scan.pts.end());
    std::sort(scan.key_pts.begin(), scan.key_pts.end());
    return scan;
  }

  // get_num_frames and get_average_fps in exact mode; the processor's default of 24 fps.
  Status Metadata(const ScanResult& scan) {
    video_.total_frames = static_cast<int64_t>(scan.pts.size());
    if (video_.total_frames == 0) return DataLoss("video: the video stream has no frames");
    const double duration =
        PtsToSeconds(scan.end, stream_->time_base) - PtsToSeconds(scan.begin, stream_->time_base);
    std::optional<double> fps;
    if (duration != 0.0) {
      fps = static_cast<double>(video_.total_frames) / duration;
    } else if (const double header = av_q2d(stream_->r_frame_rate); header > 0) {
      fps = header;
    }
    // A negative or non-finite rate can only come from hostile timestamps; the reference would
    // print nonsense timestamps, loom falls back to the processor's default.
    video_.fps = (fps.has_value() && std::isfinite(*fps) && *fps > 0) ? *fps : kDefaultVideoFps;
    return Status::Ok();
  }

  Status OpenCodec(AVFormatContext* fc) {
    DiscardOtherStreams(fc, stream_->index);
    // The reference decodes with FFmpeg's own thread count (num_ffmpeg_threads=0); threading
    // does not change the decoded pixels.
    LOOM_ASSIGN_OR_RETURN(
        codec_, OpenDecoder(stream_, codec_def_, 0, "video", limits_.max_video_frame_pixels));
    return Status::Ok();
  }

  // Which key frame `pts` depends on: its position in scan.key_pts, -1 before the first.
  static int64_t KeyFrameId(const ScanResult& scan, int64_t pts) {
    auto it = std::upper_bound(scan.key_pts.begin(), scan.key_pts.end(), pts);
    return (it - scan.key_pts.begin()) - 1;
  }

  // torchcodec's can_we_avoid_seeking, negated, for a cursor moved to a non-consecutive index:
  // seek back to the target's key frame unless the target shares the last frame's key frame or
  // that key frame is within the frames the decoder already holds (reorder buffer and frame
  // threads). Seeking keeps the work per sampled frame at one GOP, not the whole video.
  bool ShouldSeek(const ScanResult& scan, int64_t cursor) const {
    if (cursor <= last_pts_) return true;
    const int64_t last_key = KeyFrameId(scan, last_pts_);
    const int64_t target_key = KeyFrameId(scan, cursor);
    if (last_key < 0 || target_key < 0) return true;
    if (last_key == target_key) return false;
    const auto& pts = scan.pts;
    const int64_t last_index = std::max<int64_t>(
        0, (std::upper_bound(pts.begin(), pts.end(), last_pts_) - pts.begin()) - 1);
    const int64_t key_index =
        std::lower_bound(pts.begin(), pts.end(), scan.key_pts[static_cast<size_t>(target_key)]) -
        pts.begin();
    const int64_t reorder = std::max(codec_->has_b_frames, 0);
    const int64_t in_flight = (codec_->active_thread_type & FF_THREAD_FRAME) != 0
                                  ? std::max(codec_->thread_count, 1) - 1
                                  : 0;
    return key_index - last_index > reorder + in_flight;
  }

  // maybe_seek_to_before_desired_pts: to the last key frame at or before the cursor, or to the
  // cursor itself when no scanned key frame precedes it (edit lists).
  Status SeekTo(AVFormatContext* fc, const ScanResult& scan, int64_t cursor) {
    const int64_t key = KeyFrameId(scan, cursor);
    const int64_t target = key >= 0 ? scan.key_pts[static_cast<size_t>(key)] : cursor;
    if (int err = avformat_seek_file(fc, stream_->index, INT64_MIN, target, target, 0); err < 0) {
      return AvStatus(err, "video", "seeking to a sampled frame");
    }
    avcodec_flush_buffers(codec_.get());
    return Status::Ok();
  }

  // get_frames_at_indices: for each index, a consecutive one keeps the cursor (the next frame),
  // any other moves it to the index's pts and maybe seeks; the frame is the first decoded one at
  // or after the cursor. Only the sampled frames are kept.
  Status DecodeFrames(AVFormatContext* fc, const std::vector<int64_t>& indices,
                      const ScanResult& scan) {
    LOOM_ASSIGN_OR_RETURN(PacketPtr packet, AllocPacket());
    LOOM_ASSIGN_OR_RETURN(FramePtr frame, AllocFrame());
    int64_t last_index = INT64_MIN;
    int64_t cursor = INT64_MIN;
    bool eof = false;
    for (const int64_t index : indices) {
      if (index != last_index + 1) {
        cursor = scan.pts[static_cast<size_t>(index)];
        if (ShouldSeek(scan, cursor)) {
          LOOM_RETURN_IF_ERROR(SeekTo(fc, scan, cursor));
          eof = false;
        }
      }
      while (true) {
        int err = avcodec_receive_frame(codec_.get(), frame.get());
        if (err >= 0) {
          const int64_t frame_pts = FramePts(*frame);
          if (frame_pts >= cursor) {
            Status added = AddFrame(*frame, index);
            av_frame_unref(frame.get());
            LOOM_RETURN_IF_ERROR(added);
            last_pts_ = frame_pts;
            break;
          }
          av_frame_unref(frame.get());
          continue;
        }
        if (err == AVERROR_EOF) {
          return DataLoss("video: the stream ended before frame ", index, " of ",
                          video_.total_frames, " (corrupt or truncated file?)");
        }
        if (err != AVERROR(EAGAIN)) return AvStatus(err, "video", "decoding");
        if (eof) return DataLoss("video: the decoder stalled at the end of the stream");
        err = ReadStreamPacket(fc, stream_->index, packet.get());
        if (err == AVERROR_EOF) {
          eof = true;
          err = avcodec_send_packet(codec_.get(), nullptr);
          if (err < 0 && err != AVERROR_EOF) {
            return AvStatus(err, "video", "flushing the decoder");
          }
          continue;
        }
        if (err < 0) {
          return AvStatus(err, "video", "reading packets (corrupt or truncated file?)");
        }
        err = avcodec_send_packet(codec_.get(), packet.get());
        av_packet_unref(packet.get());
        if (err < 0) return AvStatus(err, "video", "decoding (corrupt or truncated data?)");
      }
      last_index = index;
    }
    return Status::Ok();
  }

  Status AddFrame(const AVFrame& frame, int64_t index) {
    LOOM_RETURN_IF_ERROR(CheckSize(frame.width, frame.height));
    LOOM_RETURN_IF_ERROR(EnsureSws(frame));
    const int64_t w = frame.width, h = frame.height;
    // swscale's SIMD writes whole blocks; a padded, aligned destination keeps those writes
    // inside the buffer, and the visible pixels are the same as with torchcodec's tight one.
    const int64_t stride = (w * 3 + 63) / 64 * 64;
    std::vector<uint8_t> padded(static_cast<size_t>(stride * h + 64));
    uint8_t* dst[4] = {padded.data(), nullptr, nullptr, nullptr};
    int dst_stride[4] = {static_cast<int>(stride), 0, 0, 0};
    const int rows =
        sws_scale(sws_.get(), frame.data, frame.linesize, 0, frame.height, dst, dst_stride);
    if (rows != frame.height) {
      return DataLoss("video: colour conversion produced ", rows, " rows instead of ",
                      frame.height);
    }
    VideoFrame out;
    out.index = index;
    out.seconds = static_cast<double>(index) / video_.fps;
    out.timestamp = FormatTimestamp(out.seconds);
    out.rgb.resize(static_cast<size_t>(w * h * 3));
    for (int64_t y = 0; y < h; ++y) {
      std::memcpy(&out.rgb[static_cast<size_t>(y * w * 3)],
                  &padded[static_cast<size_t>(y * stride)], static_cast<size_t>(w * 3));
    }
    out.width = w;
    out.height = h;
    if (rotation_ != 0) {
      out.rgb = Rotate(out.rgb, h, w, rotation_);
      if (rotation_ % 2 == 1) std::swap(out.width, out.height);
    }
    video_.frames.push_back(std::move(out));
    return Status::Ok();
  }

  // create_sws_context with flags 0: the conversion tables follow the frame's colorspace, and
  // its range when the stream states one; otherwise swscale's defaults (BT.601 limited).
  Status EnsureSws(const AVFrame& frame) {
    if (sws_ != nullptr && frame.width == sws_w_ && frame.height == sws_h_ &&
        frame.format == sws_format_ && frame.colorspace == sws_space_ &&
        frame.color_range == sws_range_) {
      return Status::Ok();
    }
    const auto fmt = static_cast<AVPixelFormat>(frame.format);
    sws_.reset(sws_getContext(frame.width, frame.height, fmt, frame.width, frame.height,
                              AV_PIX_FMT_RGB24, 0, nullptr, nullptr, nullptr));
    if (sws_ == nullptr) {
      const char* name = av_get_pix_fmt_name(fmt);
      return Unimplemented("video: cannot convert pixel format '", name ? name : "unknown",
                           "' to RGB");
    }
    int* inv_table = nullptr;
    int* table = nullptr;
    int src_range = 0, dst_range = 0, brightness = 0, contrast = 0, saturation = 0;
    if (sws_getColorspaceDetails(sws_.get(), &inv_table, &src_range, &table, &dst_range,
                                 &brightness, &contrast, &saturation) == -1) {
      return Internal("video: sws_getColorspaceDetails failed");
    }
    if (frame.color_range != AVCOL_RANGE_UNSPECIFIED) {
      src_range = frame.color_range == AVCOL_RANGE_JPEG;
    }
    const int* coefficients = sws_getCoefficients(frame.colorspace);
    if (sws_setColorspaceDetails(sws_.get(), coefficients, src_range, coefficients, dst_range,
                                 brightness, contrast, saturation) == -1) {
      return Unimplemented("video: sws_setColorspaceDetails failed for this colour space");
    }
    sws_w_ = frame.width;
    sws_h_ = frame.height;
    sws_format_ = frame.format;
    sws_space_ = frame.colorspace;
    sws_range_ = frame.color_range;
    return Status::Ok();
  }

  const VideoOptions& options_;
  const MediaLimits& limits_;
  std::unique_ptr<MemoryInput> input_;
  AVStream* stream_ = nullptr;
  const AVCodec* codec_def_ = nullptr;
  CodecContextPtr codec_;
  bool has_audio_ = false;
  int64_t last_pts_ = INT64_MIN;  // pts of the last frame kept (torchcodec's last decoded)
  int rotation_ = 0;
  SwsPtr sws_;
  int sws_w_ = 0, sws_h_ = 0, sws_format_ = -1;
  AVColorSpace sws_space_ = AVCOL_SPC_UNSPECIFIED;
  AVColorRange sws_range_ = AVCOL_RANGE_UNSPECIFIED;
  Video video_;
};

}  // namespace

Result<std::vector<int64_t>> SampleFrameIndices(int64_t total_frames, int64_t num_frames) {
  if (num_frames < 1) return InvalidArgument("video: num_frames must be >= 1, got ", num_frames);
  if (num_frames > total_frames) {
    return InvalidArgument("video: num_frames = ", num_frames, " but the video has only ",
                           total_frames, " frames; request at most ", total_frames, " frames");
  }
  std::vector<int64_t> out(static_cast<size_t>(num_frames));
  // In 128 bits: callers other than DecodeVideo may pass totals the limits never would.
  for (int64_t i = 0; i < num_frames; ++i) {
    out[static_cast<size_t>(i)] =
        static_cast<int64_t>(static_cast<__int128>(i) * total_frames / num_frames);
  }
  return out;
}

std::string FormatTimestamp(double seconds) {
  if (!std::isfinite(seconds)) return "00:00";
  double minutes = 0, rest = 0, unused = 0;
  PyDivmod(seconds, 60.0, &minutes, &unused);
  PyDivmod(seconds, 60.0, &unused, &rest);
  // Printed from doubles: int() of a huge quotient has no int64 equivalent. Both values are
  // whole after trunc; + 0.0 turns -0 into 0 as int() does.
  char buf[400];
  std::snprintf(buf, sizeof(buf), "%02.0f:%02.0f", std::trunc(minutes) + 0.0,
                std::trunc(rest) + 0.0);
  return buf;
}

Result<Video> DecodeVideo(std::span<const uint8_t> bytes, const VideoOptions& options,
                          const MediaLimits& limits) {
  if (bytes.empty()) return InvalidArgument("video: the input is empty (0 bytes)");
  if (static_cast<int64_t>(bytes.size()) > limits.max_video_bytes) {
    return OutOfRange("video: ", bytes.size(),
                      " bytes, more than max_video_bytes = ", limits.max_video_bytes);
  }
  if (options.num_frames < 1) {
    return InvalidArgument("video: num_frames must be >= 1, got ", options.num_frames);
  }
  if (options.num_frames > limits.max_video_frames) {
    return InvalidArgument("video: num_frames = ", options.num_frames,
                           " is more than max_video_frames = ", limits.max_video_frames);
  }
  VideoDecoder decoder(options, limits);
  return decoder.Run(bytes);
}

Result<Video> LoadVideoFile(const std::string& path, const VideoOptions& options,
                            const MediaLimits& limits) {
  const uint64_t max_bytes = limits.max_video_bytes > 0 ? uint64_t(limits.max_video_bytes) : 0;
  auto data = ReadFileToString(path, max_bytes);
  if (!data.ok()) return data.status().WithContext("video (max_video_bytes)");
  const auto* p = reinterpret_cast<const uint8_t*>(data->data());
  auto video = DecodeVideo(std::span<const uint8_t>(p, data->size()), options, limits);
  if (!video.ok()) return video.status().WithContext(QuoteForMessage(path, 4096));
  return video;
}

}  // namespace loom::media
