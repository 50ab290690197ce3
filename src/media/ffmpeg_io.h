// FFmpeg plumbing shared by the audio and video decoders: owners for every FFmpeg object, a
// demuxer that reads from a byte span (requests carry media as base64, never as a path), and
// the translation of AVERROR codes into Status.
//
// The reference (torchcodec over Debian's FFmpeg 5.1) is matched bit for bit only by calling
// the same libraries the same way, so this header exposes FFmpeg types rather than hiding them.
#ifndef LOOM_MEDIA_FFMPEG_IO_H_
#define LOOM_MEDIA_FFMPEG_IO_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "base/status.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/frame.h>
#include <libswresample/swresample.h>
#include <libswscale/swscale.h>
}

namespace loom::media {

// FFmpeg logs to stderr by default; a server must not, and every failure already reaches the
// caller as a Status. Idempotent and thread-safe; every entry point below calls it.
void SilenceFfmpegLogs();

// "h264", or "unknown (tag ZZZZ)" when FFmpeg knows no codec for the stream's tag.
std::string CodecName(const AVCodecParameters* par);

// Reads the next packet of stream `stream_index` into `packet`, skipping other streams' packets;
// returns av_read_frame's error (AVERROR_EOF at the end).
int ReadStreamPacket(AVFormatContext* fc, int stream_index, AVPacket* packet);

// The best stream of `type` ("audio"/"video" in messages, prefixed with `what`) and its decoder.
// Errors: Unimplemented naming the codec when FFmpeg has no decoder for it, InvalidArgument when
// the container has no such stream.
Result<AVStream*> FindBestStream(AVFormatContext* fc, AVMediaType type, std::string_view what,
                                 std::string_view format_name, const AVCodec** codec);

// "Invalid data found when processing input" for an AVERROR code.
std::string AvErrorString(int err);

// A Status for FFmpeg error `err` from operation `op` ("avformat_open_input"), prefixed with
// `what` ("audio"). ENOMEM maps to ResourceExhausted, a missing decoder to Unimplemented, and
// everything else to DataLoss: the bytes came from a client, so a failure means bad input.
Status AvStatus(int err, std::string_view what, std::string_view op);

struct CodecContextDeleter {
  void operator()(AVCodecContext* c) const { avcodec_free_context(&c); }
};
struct FrameDeleter {
  void operator()(AVFrame* f) const { av_frame_free(&f); }
};
struct PacketDeleter {
  void operator()(AVPacket* p) const { av_packet_free(&p); }
};
struct SwrDeleter {
  void operator()(SwrContext* s) const { swr_free(&s); }
};
struct SwsDeleter {
  void operator()(SwsContext* s) const { sws_freeContext(s); }
};
using CodecContextPtr = std::unique_ptr<AVCodecContext, CodecContextDeleter>;
using FramePtr = std::unique_ptr<AVFrame, FrameDeleter>;
using PacketPtr = std::unique_ptr<AVPacket, PacketDeleter>;
using SwrPtr = std::unique_ptr<SwrContext, SwrDeleter>;
using SwsPtr = std::unique_ptr<SwsContext, SwsDeleter>;

// Allocation failures of these small objects are reported, not asserted.
Result<FramePtr> AllocFrame();
Result<PacketPtr> AllocPacket();

// An opened demuxer over bytes the caller keeps alive for the lifetime of this object.
// avformat_find_stream_info has run, so stream parameters are filled in.
class MemoryInput {
 public:
  // `what` names the input in messages ("audio", "video").
  static Result<std::unique_ptr<MemoryInput>> Open(std::span<const uint8_t> bytes,
                                                   std::string_view what);
  ~MemoryInput();
  MemoryInput(const MemoryInput&) = delete;
  MemoryInput& operator=(const MemoryInput&) = delete;

  AVFormatContext* format() const { return format_; }
  // The demuxer's name ("wav", "mov,mp4,m4a,3gp,3g2,mj2").
  std::string format_name() const;

 private:
  MemoryInput() = default;
  static int Read(void* opaque, uint8_t* buf, int size);
  static int64_t Seek(void* opaque, int64_t offset, int whence);

  std::span<const uint8_t> bytes_;
  int64_t pos_ = 0;
  AVIOContext* avio_ = nullptr;
  AVFormatContext* format_ = nullptr;
};

// Opens a decoder for `stream` as torchcodec's create_and_open_codec_context does: parameters
// copied from the stream, `thread_count` threads (0 = FFmpeg's choice), packet time base set.
// `max_pixels` > 0 makes video decoders refuse larger frames before allocating them.
Result<CodecContextPtr> OpenDecoder(const AVStream* stream, const AVCodec* codec, int thread_count,
                                    std::string_view what, int64_t max_pixels = 0);

// Sets every stream but `keep` to AVDISCARD_ALL so the demuxer skips their packets.
void DiscardOtherStreams(AVFormatContext* format, int keep);

// The duration the container states, in seconds, or -1 when it is unknown or only guessed from
// the bitrate (VBR MP3 without a Xing header): a guess must not reject a file that is short
// enough. Used to refuse over-long inputs before decoding them.
double KnownDurationSeconds(const AVFormatContext* fc, const AVStream* st);

// torchcodec's pts_to_seconds: the multiplication before the division, in double.
inline double PtsToSeconds(int64_t pts, AVRational time_base) {
  return static_cast<double>(pts) * time_base.num / time_base.den;
}
// Timestamps come from the file; sums of them must not overflow.
inline int64_t SaturatingAdd(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r)) return b > 0 ? INT64_MAX : INT64_MIN;
  return r;
}
// A frame's pts, or its packet dts when the stream has no pts (torchcodec get_pts_or_dts).
inline int64_t FramePts(const AVFrame& frame) {
  return frame.pts == AV_NOPTS_VALUE ? frame.pkt_dts : frame.pts;
}
// FFmpeg 6 renamed AVFrame.pkt_duration to duration.
inline int64_t FrameDuration(const AVFrame& frame) {
#if LIBAVUTIL_VERSION_MAJOR < 58
  return frame.pkt_duration;
#else
  return frame.duration;
#endif
}

}  // namespace loom::media

#endif  // LOOM_MEDIA_FFMPEG_IO_H_
