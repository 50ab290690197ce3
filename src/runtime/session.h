// Session: the generation loop of one sequence over a Model, its own KvCache and a ThreadPool.
// Prefill feeds the prompt in chunks; Step samples the next token from the current logits
// (forwarding the previous sampled token first), so a caller that stops early never pays for a
// forward whose logits it does not need.
#ifndef LOOM_RUNTIME_SESSION_H_
#define LOOM_RUNTIME_SESSION_H_

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "base/status.h"
#include "base/thread_pool.h"
#include "model/model.h"
#include "runtime/kv_cache.h"
#include "runtime/sampler.h"

namespace loom::runtime {

struct SessionOptions {
  KvCacheOptions kv;          // kv.max_batch bounds the prefill chunk
  int64_t prefill_chunk = 0;  // tokens per prefill forward; 0: kv.max_batch
  SamplerParams sampler;
  std::vector<int64_t> eos_token_ids;  // a sampled EOS ends generation (it is returned)
  int64_t max_new_tokens = -1;         // -1: until EOS or a full context
};

// A prompt with media soft tokens (SPEC §3.4, §4.3, §5): every token has an id; a soft token's
// embedding is replaced by a row of `embeddings`, and tokens of one image or video frame share
// a vision block. Empty `replace` and `blocks` make a plain text prompt.
struct PromptInput {
  std::vector<int32_t> tokens;
  std::vector<uint8_t> replace;   // empty, or one per token: 1 = use embeddings[i]
  std::vector<float> embeddings;  // [tokens][hidden] when replace is set (other rows unused)
  std::vector<int32_t> blocks;    // empty, or one per token: block id (any value), -1 = none
};

enum class StopReason { kNone = 0, kEos, kMaxTokens, kContextFull };
const char* StopReasonName(StopReason r);

struct StepResult {
  int32_t token = -1;
  // Set when this token ends generation (it is still part of the output).
  StopReason stop = StopReason::kNone;
};

struct SessionTimings {
  int64_t prompt_tokens = 0;
  double prefill_seconds = 0;
  int64_t decode_tokens = 0;  // forwards of one sampled token
  double decode_seconds = 0;  // those forwards plus sampling
  double sample_seconds = 0;
  double time_to_first_token = 0;  // from the first Prefill call to the first sampled token
  double prefill_tokens_per_second() const;
  double decode_tokens_per_second() const;
};

class Session {
 public:
  // `model` and `pool` (may be null) must outlive the session. Errors: bad KV or sampler
  // options, prefill_chunk outside 1 .. kv.max_batch.
  static Result<std::unique_ptr<Session>> Create(model::Model* model, const SessionOptions& options,
                                                 ThreadPool* pool);

  // Appends `tokens` to the sequence (the prompt, or a later user turn) and computes the logits
  // of the last one. Errors: no tokens, more tokens than fit in max_context (naming both), a
  // token outside the vocabulary, a forward error (the cache is then rolled back).
  Status Prefill(std::span<const int32_t> tokens);
  // The same with media: soft-token embeddings scattered in, each vision block kept whole in one
  // forward (a block longer than kv.max_batch is an error naming both). Errors as above, and
  // sizes of replace/embeddings/blocks that do not match the tokens.
  Status Prefill(const PromptInput& prompt);
  // Samples the next token (forwarding the previously sampled one first). Errors: no Prefill
  // yet, generation already stopped, a forward or sampling error.
  Result<StepResult> Step();
  // Generates until a stop; returns the generated tokens (including a final EOS).
  Result<std::vector<int32_t>> Generate(std::span<const int32_t> prompt);

  // Removes the last k tokens of the sequence (prompt or generated) from the history and the
  // cache; the next Step recomputes the logits of the new last token. Errors: k outside
  // [0, length - 1], or beyond what the sliding ring can restore.
  Status Rollback(int64_t k);
  // Forgets the sequence (cache, history, timings); keeps the sampler's random stream.
  void Reset();

  // Every token of the sequence: prompt(s) and sampled tokens.
  const std::vector<int32_t>& tokens() const { return tokens_; }
  int64_t generated() const { return generated_; }
  bool stopped() const { return stop_ != StopReason::kNone; }
  StopReason stop_reason() const { return stop_; }
  const SessionTimings& timings() const { return timings_; }
  const std::vector<float>& logits() const { return logits_; }
  KvCache& cache() { return *kv_; }
  Sampler& sampler() { return *sampler_; }
  const SessionOptions& options() const { return options_; }

 private:
  Session(model::Model* model, const SessionOptions& options, ThreadPool* pool);
  // Forwards tokens_[kv_->length() .. tokens_.size()) in chunks; logits of the last one.
  Status ForwardPending(bool count_as_prefill);
  Status CheckPrompt(std::span<const int32_t> tokens) const;
  void ClearPendingMedia();

  model::Model* model_;
  SessionOptions options_;
  ThreadPool* pool_;
  std::unique_ptr<KvCache> kv_;
  std::unique_ptr<Sampler> sampler_;
  std::vector<int32_t> tokens_;
  std::vector<int32_t> positions_;  // scratch
  // Media of the tokens not yet forwarded, from tokens_ index pending_base_ on; empty when the
  // pending tokens are text.
  int64_t pending_base_ = 0;
  std::vector<uint8_t> pending_replace_;
  std::vector<float> pending_embeddings_;
  std::vector<int32_t> pending_blocks_;
  // One per token of tokens_: 1 where the embedding came from media (such a token cannot be
  // re-forwarded after a rollback).
  std::vector<uint8_t> is_media_;
  std::vector<float> logits_;
  bool have_logits_ = false;  // logits_ belong to tokens_.back()
  int64_t generated_ = 0;
  StopReason stop_ = StopReason::kNone;
  SessionTimings timings_;
  bool ttft_pending_ = false;
  double ttft_start_ = 0;
  model::ForwardOutput out_;
};

}  // namespace loom::runtime

#endif  // LOOM_RUNTIME_SESSION_H_
