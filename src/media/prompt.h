// From media files to a decoder prompt, the way the reference processor does it (SPEC §3.4,
// §4.3, §5; tests/fixtures/MEDIA.md): each <|image|>, <|audio|> or <|video|> placeholder of the
// text takes the next media item of its kind and becomes
//   image:  <|image> N x <|image|> <image|>
//   audio:  <|audio> N x <|audio|> <audio|>
//   video:  "mm:ss " <|image> N x <|video|> <image|>, frames joined by " "
//           (and, with the video's audio track, " " + the audio layout after the last frame)
// with the soft tokens' embeddings computed by the model's embedders and scattered in unscaled,
// and one vision block per image or video frame (audio stays causal).
#ifndef LOOM_MEDIA_PROMPT_H_
#define LOOM_MEDIA_PROMPT_H_

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "base/thread_pool.h"
#include "media/audio.h"
#include "media/image_patches.h"
#include "media/limits.h"
#include "model/model.h"
#include "runtime/session.h"
#include "tokenizer/tokenizer.h"

namespace loom::media {

enum class MediaKind { kImage, kAudio, kVideo };
const char* MediaKindName(MediaKind k);  // "image", "audio", "video"

struct MediaOptions {
  int64_t image_budget = kDefaultImageBudget;  // soft tokens per image: 70/140/280/560/1120
  int video_frames = kDefaultVideoFrames;
  int64_t video_frame_budget = kDefaultVideoFrameBudget;
  bool video_audio = false;  // also take the video's audio track
  MediaLimits limits;
};

// One preprocessed item: what the embedders need, and what the prompt layout needs.
struct MediaItem {
  MediaKind kind = MediaKind::kImage;
  std::vector<Patches> frames;          // image: one; video: one per sampled frame
  std::vector<std::string> timestamps;  // video: "mm:ss" per frame
  AudioFrames audio;                    // audio, or a video's audio track
  bool has_audio = false;
  double decode_seconds = 0;    // decode + resample/resize + patchify
  int64_t soft_tokens() const;  // every soft token the item adds
};

// Decodes and preprocesses one file (or the bytes of one) of `kind`.
Result<MediaItem> PrepareMedia(MediaKind kind, std::span<const uint8_t> bytes,
                               const MediaOptions& options);
Result<MediaItem> PrepareMediaFile(MediaKind kind, const std::string& path,
                                   const MediaOptions& options);

// Builds a runtime::PromptInput piece by piece.
class PromptAssembler {
 public:
  // `model` must have the embedders the media needs (else a clear error at AddMedia).
  PromptAssembler(const model::Model& model, const tokenizer::Tokenizer& tokenizer,
                  ThreadPool* pool);

  // Text; `special` lets control-token strings in it match (trusted markup only).
  Status AddText(std::string_view text, bool special);
  // Text whose placeholders take items from `items`: the k-th placeholder of a kind takes the
  // k-th item of that kind (cursor: the items of each kind used so far, advanced). Errors: a
  // placeholder with no item of its kind left.
  struct Cursor {
    size_t used[3] = {0, 0, 0};  // by MediaKind
  };
  Status AddTextWithMedia(std::string_view text, bool special, std::span<const MediaItem> items,
                          Cursor* cursor);
  // An error naming the first kind with items no placeholder took.
  static Status CheckAllUsed(std::span<const MediaItem> items, const Cursor& cursor);
  Status AddMedia(const MediaItem& item);
  Status AddToken(int32_t id);

  int64_t size() const { return static_cast<int64_t>(prompt_.tokens.size()); }
  int64_t soft_tokens() const { return soft_tokens_; }
  int64_t longest_block() const { return longest_block_; }
  double embed_seconds() const { return embed_seconds_; }
  // The prompt; replace/embeddings/blocks stay empty when no media was added.
  Result<runtime::PromptInput> Take();

 private:
  Status AddSoft(int32_t begin, int32_t soft, int32_t end, int64_t n, bool block,
                 const std::function<Status(float*)>& embed);
  // Text between special tokens is encoded as one run, as the reference tokenizes the
  // expanded string: layout text (timestamps) joins the pending run.
  Status Flush();

  const model::Model& model_;
  const tokenizer::Tokenizer& tok_;
  ThreadPool* pool_;
  runtime::PromptInput prompt_;
  std::vector<int64_t> soft_row_;  // per token: row of soft_rows_, or -1
  std::vector<float> soft_rows_;   // [soft tokens][hidden]
  std::string pending_;
  bool pending_special_ = false;
  bool has_media_ = false;
  int32_t next_block_ = 0;
  int64_t soft_tokens_ = 0;
  int64_t longest_block_ = 0;
  double embed_seconds_ = 0;
};

// The placeholder strings, in the order MediaKind lists them.
inline constexpr std::string_view kPlaceholders[] = {"<|image|>", "<|audio|>", "<|video|>"};

}  // namespace loom::media

#endif  // LOOM_MEDIA_PROMPT_H_
