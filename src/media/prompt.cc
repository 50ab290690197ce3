#include "media/prompt.h"

#include <algorithm>
#include <utility>

#include "base/mapped_file.h"
#include "base/strings.h"
#include "base/timing.h"
#include "media/image.h"
#include "media/video.h"

namespace loom::media {

namespace {

// The id of a media token: the model config's, else the tokenizer's entry for its string (a
// GGUF text model's config carries no media ids).
Result<int32_t> MediaId(const model::ModelConfig& c, const tokenizer::Tokenizer& tok,
                        int64_t config_id, std::string_view text) {
  if (config_id >= 0) return static_cast<int32_t>(config_id);
  if (auto id = tok.TokenId(text)) return *id;
  return FailedPrecondition("the model's vocabulary has no ", text, " token (", c.architecture,
                            ")");
}

}  // namespace

const char* MediaKindName(MediaKind k) {
  switch (k) {
    case MediaKind::kImage:
      return "image";
    case MediaKind::kAudio:
      return "audio";
    case MediaKind::kVideo:
      return "video";
  }
  return "?";
}

int64_t MediaItem::soft_tokens() const {
  int64_t n = has_audio ? audio.n : 0;
  for (const Patches& p : frames) n += p.n;
  return n;
}

Result<MediaItem> PrepareMedia(MediaKind kind, std::span<const uint8_t> bytes,
                               const MediaOptions& o) {
  const double t0 = NowSeconds();
  MediaItem item;
  item.kind = kind;
  switch (kind) {
    case MediaKind::kImage: {
      if (!IsImageBudget(o.image_budget)) {
        return InvalidArgument("image budget ", o.image_budget,
                               " soft tokens: expected one of 70, 140, 280, 560, 1120");
      }
      LOOM_ASSIGN_OR_RETURN(Image image, DecodeImage(bytes, o.limits));
      LOOM_ASSIGN_OR_RETURN(Patches p, PreprocessImage(image, o.image_budget, Rescale::kMultiply));
      item.frames.push_back(std::move(p));
      break;
    }
    case MediaKind::kAudio: {
      LOOM_ASSIGN_OR_RETURN(Audio audio, DecodeAudio(bytes, o.limits));
      item.audio = FrameAudio(audio.samples);
      item.has_audio = true;
      break;
    }
    case MediaKind::kVideo: {
      if (!IsImageBudget(o.video_frame_budget)) {
        return InvalidArgument("video frame budget ", o.video_frame_budget,
                               " soft tokens: expected one of 70, 140, 280, 560, 1120");
      }
      VideoOptions vo;
      vo.num_frames = o.video_frames;
      vo.with_audio = o.video_audio;
      LOOM_ASSIGN_OR_RETURN(Video video, DecodeVideo(bytes, vo, o.limits));
      for (VideoFrame& f : video.frames) {
        Image image;
        image.width = f.width;
        image.height = f.height;
        image.rgb = std::move(f.rgb);
        // The video processor normalizes with mean 0 / std 1: a division, not the image
        // path's multiply (MEDIA.md "Video").
        LOOM_ASSIGN_OR_RETURN(Patches p,
                              PreprocessImage(image, o.video_frame_budget, Rescale::kDivide));
        item.frames.push_back(std::move(p));
        item.timestamps.push_back(f.timestamp);
      }
      if (o.video_audio && video.audio.has_value()) {
        item.audio = FrameAudio(video.audio->samples);
        item.has_audio = item.audio.n > 0;
      }
      break;
    }
  }
  item.decode_seconds = NowSeconds() - t0;
  return item;
}

Result<MediaItem> PrepareMediaFile(MediaKind kind, const std::string& path, const MediaOptions& o) {
  const int64_t cap = kind == MediaKind::kImage   ? o.limits.max_image_bytes
                      : kind == MediaKind::kAudio ? o.limits.max_audio_bytes
                                                  : o.limits.max_video_bytes;
  Result<std::string> bytes = ReadFileToString(path, static_cast<uint64_t>(cap));
  if (!bytes.ok()) return bytes.status().WithContext(StrCat(MediaKindName(kind), " file"));
  const std::string& b = bytes.value();
  Result<MediaItem> r = PrepareMedia(
      kind, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(b.data()), b.size()), o);
  if (!r.ok()) return r.status().WithContext(path);
  return r;
}

PromptAssembler::PromptAssembler(const model::Model& model, const tokenizer::Tokenizer& tokenizer,
                                 ThreadPool* pool)
    : model_(model), tok_(tokenizer), pool_(pool) {}

Status PromptAssembler::Flush() {
  if (pending_.empty()) return Status::Ok();
  tokenizer::EncodeOptions o;
  o.parse_special = pending_special_;
  LOOM_RETURN_IF_ERROR(tok_.Encode(pending_, o, &prompt_.tokens));
  soft_row_.resize(prompt_.tokens.size(), -1);
  prompt_.blocks.resize(prompt_.tokens.size(), -1);
  pending_.clear();
  return Status::Ok();
}

Status PromptAssembler::AddText(std::string_view text, bool special) {
  if (!pending_.empty() && special != pending_special_) LOOM_RETURN_IF_ERROR(Flush());
  pending_.append(text);
  pending_special_ = special;
  return Status::Ok();
}

Status PromptAssembler::AddToken(int32_t id) {
  LOOM_RETURN_IF_ERROR(Flush());
  prompt_.tokens.push_back(id);
  soft_row_.push_back(-1);
  prompt_.blocks.push_back(-1);
  return Status::Ok();
}

Status PromptAssembler::AddTextWithMedia(std::string_view text, bool special,
                                         std::span<const MediaItem> items, Cursor* cursor) {
  size_t at = 0;
  while (at < text.size()) {
    size_t best = std::string_view::npos;
    int kind = -1;
    for (int k = 0; k < 3; ++k) {
      const size_t p = text.find(kPlaceholders[k], at);
      if (p < best) {
        best = p;
        kind = k;
      }
    }
    if (kind < 0) break;
    LOOM_RETURN_IF_ERROR(AddText(text.substr(at, best - at), special));
    // The k-th placeholder of this kind takes the k-th item of this kind.
    size_t seen = 0;
    const MediaItem* item = nullptr;
    for (const MediaItem& m : items) {
      if (static_cast<int>(m.kind) != kind) continue;
      if (seen++ == cursor->used[kind]) {
        item = &m;
        break;
      }
    }
    if (item == nullptr) {
      return InvalidArgument("the prompt has more ", kPlaceholders[kind], " placeholders than ",
                             MediaKindName(static_cast<MediaKind>(kind)), " inputs (",
                             cursor->used[kind], ")");
    }
    ++cursor->used[kind];
    LOOM_RETURN_IF_ERROR(AddMedia(*item));
    at = best + kPlaceholders[kind].size();
  }
  return AddText(text.substr(at), special);
}

Status PromptAssembler::CheckAllUsed(std::span<const MediaItem> items, const Cursor& cursor) {
  size_t count[3] = {0, 0, 0};
  for (const MediaItem& m : items) ++count[static_cast<int>(m.kind)];
  for (int k = 0; k < 3; ++k) {
    if (count[k] != cursor.used[k]) {
      return InvalidArgument(count[k], " ", MediaKindName(static_cast<MediaKind>(k)),
                             " inputs but ", cursor.used[k], " ", kPlaceholders[k],
                             " placeholders in the prompt");
    }
  }
  return Status::Ok();
}

Status PromptAssembler::AddSoft(int32_t begin, int32_t soft, int32_t end, int64_t n, bool block,
                                const std::function<Status(float*)>& embed) {
  const int64_t hidden = model_.config().hidden_size;
  const int64_t row0 = static_cast<int64_t>(soft_rows_.size()) / hidden;
  soft_rows_.resize(soft_rows_.size() + static_cast<size_t>(n * hidden));
  const double t0 = NowSeconds();
  LOOM_RETURN_IF_ERROR(embed(soft_rows_.data() + row0 * hidden));
  embed_seconds_ += NowSeconds() - t0;
  LOOM_RETURN_IF_ERROR(AddToken(begin));
  const int32_t id = block ? next_block_++ : -1;
  for (int64_t i = 0; i < n; ++i) {
    prompt_.tokens.push_back(soft);
    soft_row_.push_back(row0 + i);
    prompt_.blocks.push_back(id);
  }
  LOOM_RETURN_IF_ERROR(AddToken(end));
  has_media_ = true;
  soft_tokens_ += n;
  if (block) longest_block_ = std::max(longest_block_, n);
  return Status::Ok();
}

Status PromptAssembler::AddMedia(const MediaItem& item) {
  const model::ModelConfig& c = model_.config();
  const model::MediaEmbedder* m = model_.media();
  const char* kind = MediaKindName(item.kind);
  const bool need_vision = item.kind != MediaKind::kAudio;
  const bool need_audio = item.has_audio;
  if ((need_vision && (m == nullptr || !m->has_vision())) ||
      (need_audio && (m == nullptr || !m->has_audio()))) {
    return FailedPrecondition(
        kind, " input is not supported by this model: it has no ",
        need_vision && (m == nullptr || !m->has_vision()) ? "vision" : "audio", " embedder",
        c.vision.present || c.audio.present || m != nullptr ? "" : " (a text-only model",
        c.vision.present || c.audio.present || m != nullptr ? "" : "; GGUF: pass --mmproj)");
  }
  auto embed_audio = [&](float* out) {
    return m->EmbedAudio(item.audio.values.data(), item.audio.n, out, pool_);
  };
  auto add_audio = [&]() -> Status {
    LOOM_ASSIGN_OR_RETURN(int32_t boa, MediaId(c, tok_, c.boa_token_id, "<|audio>"));
    LOOM_ASSIGN_OR_RETURN(int32_t aid, MediaId(c, tok_, c.audio_token_id, "<|audio|>"));
    LOOM_ASSIGN_OR_RETURN(int32_t eoa, MediaId(c, tok_, c.eoa_token_id, "<audio|>"));
    return AddSoft(boa, aid, eoa, item.audio.n, false, embed_audio);
  };
  if (item.kind == MediaKind::kAudio) return add_audio();
  LOOM_ASSIGN_OR_RETURN(int32_t boi, MediaId(c, tok_, c.boi_token_id, "<|image>"));
  LOOM_ASSIGN_OR_RETURN(int32_t eoi, MediaId(c, tok_, c.eoi_token_id, "<image|>"));
  const bool video = item.kind == MediaKind::kVideo;
  LOOM_ASSIGN_OR_RETURN(int32_t soft, video ? MediaId(c, tok_, c.video_token_id, "<|video|>")
                                            : MediaId(c, tok_, c.image_token_id, "<|image|>"));
  for (size_t f = 0; f < item.frames.size(); ++f) {
    const Patches& p = item.frames[f];
    if (video) {
      // Layout text joins the pending run: "user\n00:00 " is one run in the reference.
      if (pending_.empty()) pending_special_ = false;
      pending_ += StrCat(f == 0 ? "" : " ", item.timestamps[f], " ");
    }
    LOOM_RETURN_IF_ERROR(AddSoft(boi, soft, eoi, p.n, true, [&](float* out) {
      return m->EmbedImage(p.values.data(), p.pos_x.data(), p.pos_y.data(), p.n, out, pool_);
    }));
  }
  if (video && item.has_audio) {
    if (pending_.empty()) pending_special_ = false;
    pending_ += " ";
    LOOM_RETURN_IF_ERROR(add_audio());
  }
  return Status::Ok();
}

Result<runtime::PromptInput> PromptAssembler::Take() {
  LOOM_RETURN_IF_ERROR(Flush());
  runtime::PromptInput out = std::move(prompt_);
  if (!has_media_) {
    out.blocks.clear();
  } else {
    const int64_t hidden = model_.config().hidden_size;
    out.replace.assign(out.tokens.size(), 0);
    out.embeddings.assign(out.tokens.size() * static_cast<size_t>(hidden), 0.0f);
    for (size_t i = 0; i < out.tokens.size(); ++i) {
      const int64_t r = soft_row_[i];
      if (r < 0) continue;
      out.replace[i] = 1;
      std::copy(soft_rows_.begin() + r * hidden, soft_rows_.begin() + (r + 1) * hidden,
                out.embeddings.begin() + static_cast<int64_t>(i) * hidden);
    }
  }
  prompt_ = {};
  soft_row_.clear();
  soft_rows_.clear();
  has_media_ = false;
  return out;
}

}  // namespace loom::media
