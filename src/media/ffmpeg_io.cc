#include "media/ffmpeg_io.h"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <mutex>

#include "base/strings.h"

extern "C" {
#include <libavutil/error.h>
#include <libavutil/log.h>
#include <libavutil/mem.h>
#include <libavutil/opt.h>
}

namespace loom::media {
namespace {

// torchcodec reads in-memory input (AVIOContextHolder) through a buffer of this size; the same
// size keeps the demuxers' read pattern, and so any probing quirk, identical.
constexpr int kAvioBufferBytes = 64 * 1024;

}  // namespace

void SilenceFfmpegLogs() {
  static std::once_flag once;
  std::call_once(once, [] { av_log_set_level(AV_LOG_QUIET); });
}

std::string CodecName(const AVCodecParameters* par) {
  if (par->codec_id != AV_CODEC_ID_NONE) return avcodec_get_name(par->codec_id);
  char tag[AV_FOURCC_MAX_STRING_SIZE] = {0};
  av_fourcc_make_string(tag, par->codec_tag);
  return StrCat("unknown (tag ", tag, ")");
}

int ReadStreamPacket(AVFormatContext* fc, int stream_index, AVPacket* packet) {
  while (true) {
    av_packet_unref(packet);
    const int err = av_read_frame(fc, packet);
    if (err < 0) return err;
    if (packet->stream_index == stream_index) return 0;
  }
}

Result<AVStream*> FindBestStream(AVFormatContext* fc, AVMediaType type, std::string_view what,
                                 std::string_view format_name, const AVCodec** codec) {
  const char* kind = av_get_media_type_string(type);
  *codec = nullptr;
  const int index = av_find_best_stream(fc, type, -1, -1, codec, 0);
  if (index == AVERROR_DECODER_NOT_FOUND || (index >= 0 && *codec == nullptr)) {
    std::string name = "unknown";
    for (unsigned i = 0; i < fc->nb_streams; ++i) {
      if (fc->streams[i]->codecpar->codec_type == type) {
        name = CodecName(fc->streams[i]->codecpar);
        break;
      }
    }
    return Unimplemented(what, ": unsupported ", kind, " codec '", name, "'");
  }
  if (index < 0)
    return InvalidArgument(what, ": no ", kind, " stream in the ", format_name, " input");
  return fc->streams[index];
}

std::string AvErrorString(int err) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {0};
  if (av_strerror(err, buf, sizeof(buf)) < 0) return StrCat("FFmpeg error ", err);
  return buf;
}

Status AvStatus(int err, std::string_view what, std::string_view op) {
  std::string message = StrCat(what, ": ", op, " failed: ", AvErrorString(err));
  if (err == AVERROR(ENOMEM)) return ResourceExhausted(message);
  if (err == AVERROR_DECODER_NOT_FOUND) return Unimplemented(message);
  return DataLoss(message);
}

Result<FramePtr> AllocFrame() {
  FramePtr f(av_frame_alloc());
  if (f == nullptr) return ResourceExhausted("av_frame_alloc failed");
  return f;
}

Result<PacketPtr> AllocPacket() {
  PacketPtr p(av_packet_alloc());
  if (p == nullptr) return ResourceExhausted("av_packet_alloc failed");
  return p;
}

int MemoryInput::Read(void* opaque, uint8_t* buf, int size) {
  auto* self = static_cast<MemoryInput*>(opaque);
  const int64_t total = static_cast<int64_t>(self->bytes_.size());
  if (size <= 0 || self->pos_ >= total) return AVERROR_EOF;
  const int64_t n = std::min<int64_t>(size, total - self->pos_);
  std::memcpy(buf, self->bytes_.data() + self->pos_, static_cast<size_t>(n));
  self->pos_ += n;
  return static_cast<int>(n);
}

int64_t MemoryInput::Seek(void* opaque, int64_t offset, int whence) {
  auto* self = static_cast<MemoryInput*>(opaque);
  const int64_t total = static_cast<int64_t>(self->bytes_.size());
  // AVSEEK_FORCE is a hint for network protocols; a span seeks the same either way.
  whence &= ~AVSEEK_FORCE;
  if (whence == AVSEEK_SIZE) return total;
  int64_t base = 0;
  switch (whence) {
    case SEEK_SET:
      base = 0;
      break;
    case SEEK_CUR:
      base = self->pos_;
      break;
    case SEEK_END:
      base = total;
      break;
    default:
      return AVERROR(EINVAL);
  }
  // Offsets come from the file being parsed: refuse what would overflow or go negative. A
  // position past the end is allowed, like lseek; the next read reports EOF.
  if ((offset > 0 && base > INT64_MAX - offset) || base + offset < 0) return AVERROR(EINVAL);
  self->pos_ = base + offset;
  return self->pos_;
}

Result<std::unique_ptr<MemoryInput>> MemoryInput::Open(std::span<const uint8_t> bytes,
                                                       std::string_view what) {
  SilenceFfmpegLogs();
  if (bytes.empty()) return InvalidArgument(what, ": the input is empty (0 bytes)");
  std::unique_ptr<MemoryInput> in(new MemoryInput());
  in->bytes_ = bytes;

  auto* buffer = static_cast<uint8_t*>(av_malloc(kAvioBufferBytes));
  if (buffer == nullptr) return ResourceExhausted(what, ": cannot allocate the read buffer");
  in->avio_ = avio_alloc_context(buffer, kAvioBufferBytes, /*write_flag=*/0, in.get(),
                                 &MemoryInput::Read, nullptr, &MemoryInput::Seek);
  if (in->avio_ == nullptr) {
    av_free(buffer);
    return ResourceExhausted(what, ": cannot allocate the AVIOContext");
  }

  AVFormatContext* fc = avformat_alloc_context();
  if (fc == nullptr) return ResourceExhausted(what, ": cannot allocate the AVFormatContext");
  fc->pb = in->avio_;
  // Playlist and reference demuxers (hls, concat, dash, ...) open further URLs named inside
  // the file; client bytes must never make the server read a local file or the network.
  if (int err = av_opt_set(fc, "protocol_whitelist", "", 0); err < 0) {
    avformat_free_context(fc);
    return AvStatus(err, what, "setting protocol_whitelist");
  }
  // avformat_open_input frees the context on failure.
  if (int err = avformat_open_input(&fc, nullptr, nullptr, nullptr); err < 0) {
    return DataLoss(what, ": cannot read the input as a media file (", AvErrorString(err),
                    "); it is truncated, corrupt or in an unknown format");
  }
  in->format_ = fc;
  if (int err = avformat_find_stream_info(fc, nullptr); err < 0) {
    return DataLoss(what, ": cannot read the stream parameters (", AvErrorString(err),
                    "); the file is corrupt or truncated");
  }
  return in;
}

MemoryInput::~MemoryInput() {
  if (format_ != nullptr) avformat_close_input(&format_);
  if (avio_ != nullptr) {
    // The buffer may have been reallocated by avio, so free the one it holds now.
    av_freep(&avio_->buffer);
    avio_context_free(&avio_);
  }
}

std::string MemoryInput::format_name() const {
  if (format_ == nullptr || format_->iformat == nullptr || format_->iformat->name == nullptr) {
    return "unknown";
  }
  return format_->iformat->name;
}

Result<CodecContextPtr> OpenDecoder(const AVStream* stream, const AVCodec* codec, int thread_count,
                                    std::string_view what, int64_t max_pixels) {
  CodecContextPtr ctx(avcodec_alloc_context3(codec));
  if (ctx == nullptr) return ResourceExhausted(what, ": cannot allocate the codec context");
  if (int err = avcodec_parameters_to_context(ctx.get(), stream->codecpar); err < 0) {
    return AvStatus(err, what, "avcodec_parameters_to_context");
  }
  ctx->thread_count = thread_count;
  ctx->pkt_timebase = stream->time_base;
  if (max_pixels > 0) ctx->max_pixels = max_pixels;
  if (int err = avcodec_open2(ctx.get(), codec, nullptr); err < 0) {
    return DataLoss(what, ": cannot open the ", codec->name, " decoder (", AvErrorString(err), ")");
  }
  ctx->time_base = stream->time_base;
  return ctx;
}

double KnownDurationSeconds(const AVFormatContext* fc, const AVStream* st) {
  if (fc->duration_estimation_method == AVFMT_DURATION_FROM_BITRATE) return -1;
  if (st->duration > 0 && st->time_base.num > 0 && st->time_base.den > 0) {
    return PtsToSeconds(st->duration, st->time_base);
  }
  if (fc->duration > 0) return static_cast<double>(fc->duration) / AV_TIME_BASE;
  return -1;
}

void DiscardOtherStreams(AVFormatContext* format, int keep) {
  for (unsigned i = 0; i < format->nb_streams; ++i) {
    if (static_cast<int>(i) != keep) format->streams[i]->discard = AVDISCARD_ALL;
  }
}

}  // namespace loom::media
