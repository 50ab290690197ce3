#include "runtime/session.h"

#include <algorithm>

#include "base/strings.h"
#include "base/timing.h"

namespace loom::runtime {

const char* StopReasonName(StopReason r) {
  switch (r) {
    case StopReason::kNone:
      return "none";
    case StopReason::kEos:
      return "eos";
    case StopReason::kMaxTokens:
      return "max_tokens";
    case StopReason::kContextFull:
      return "context_full";
  }
  return "?";
}

double SessionTimings::prefill_tokens_per_second() const {
  return prefill_seconds > 0 ? static_cast<double>(prompt_tokens) / prefill_seconds : 0.0;
}
double SessionTimings::decode_tokens_per_second() const {
  return decode_seconds > 0 ? static_cast<double>(decode_tokens) / decode_seconds : 0.0;
}

Session::Session(model::Model* model, const SessionOptions& options, ThreadPool* pool)
    : model_(model), options_(options), pool_(pool) {}

Result<std::unique_ptr<Session>> Session::Create(model::Model* model, const SessionOptions& options,
                                                 ThreadPool* pool) {
  if (model == nullptr) return InvalidArgument("session: no model");
  const model::ModelConfig& c = model->config();
  SessionOptions o = options;
  if (o.prefill_chunk == 0) o.prefill_chunk = o.kv.max_batch;
  if (o.prefill_chunk < 1 || o.prefill_chunk > o.kv.max_batch) {
    return InvalidArgument("session prefill_chunk ", o.prefill_chunk, ": expected 1 .. max_batch (",
                           o.kv.max_batch, ")");
  }
  if (o.max_new_tokens < -1) {
    return InvalidArgument("session max_new_tokens ", o.max_new_tokens,
                           ": expected >= 0 (-1 = no limit)");
  }
  for (int64_t id : o.eos_token_ids) {
    if (id < 0 || id >= c.vocab_size) {
      return InvalidArgument("session eos token id ", id, ": outside the vocabulary [0, ",
                             c.vocab_size, ")");
    }
  }
  LOOM_RETURN_IF_ERROR(o.sampler.Validate(c.vocab_size));
  std::unique_ptr<Session> s(new Session(model, o, pool));
  LOOM_ASSIGN_OR_RETURN(s->kv_, KvCache::Create(c, o.kv));
  s->sampler_ = std::make_unique<Sampler>(o.sampler, c.vocab_size);
  return s;
}

void Session::ClearPendingMedia() {
  pending_replace_.clear();
  pending_embeddings_.clear();
  pending_blocks_.clear();
}

Status Session::ForwardPending(bool count_as_prefill) {
  const int64_t start = kv_->length();
  const int64_t end = static_cast<int64_t>(tokens_.size());
  const int64_t hidden = model_->config().hidden_size;
  const bool media = !pending_replace_.empty();
  const double t0 = NowSeconds();
  for (int64_t at = start; at < end;) {
    int64_t n = std::min(options_.prefill_chunk, end - at);
    if (media && at + n < end) {
      // Never split a vision block (SPEC §2.6): end the chunk before it, or after it when the
      // chunk starts inside it.
      auto b = [this](int64_t i) {
        return pending_blocks_[static_cast<size_t>(i - pending_base_)];
      };
      const int64_t cut = at + n;
      if (b(cut) >= 0 && b(cut) == b(cut - 1)) {
        int64_t first = cut;
        while (first > at && b(first - 1) == b(cut)) --first;
        if (first > at) {
          n = first - at;
        } else {
          int64_t last = cut;
          while (last < end && b(last) == b(cut)) ++last;
          n = last - at;
        }
      }
    }
    positions_.resize(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i)
      positions_[static_cast<size_t>(i)] = static_cast<int32_t>(at + i);
    model::Batch batch;
    batch.tokens = tokens_.data() + at;
    batch.positions = positions_.data();
    batch.n = n;
    if (media && at >= pending_base_) {
      const int64_t r = at - pending_base_;
      batch.replace = pending_replace_.data() + r;
      batch.embeddings = pending_embeddings_.data() + r * hidden;
      batch.blocks = pending_blocks_.data() + r;
    }
    out_.logits_rows = at + n == end ? 1 : 0;
    Status st = model_->Forward(batch, kv_.get(), pool_, &out_);
    if (!st.ok()) {
      // Undo the partial sequence; when the ring cannot restore it, start over.
      tokens_.resize(static_cast<size_t>(start));
      is_media_.resize(static_cast<size_t>(start));
      ClearPendingMedia();
      have_logits_ = false;
      if (!kv_->Truncate(start).ok()) {
        kv_->Clear();
        tokens_.clear();
        is_media_.clear();
        return st.WithContext(
            "forward failed and the cache could not be rolled back; session reset");
      }
      return st;
    }
    at += n;
  }
  ClearPendingMedia();
  logits_.swap(out_.logits);
  have_logits_ = true;
  const double dt = NowSeconds() - t0;
  if (count_as_prefill) {
    timings_.prompt_tokens += end - start;
    timings_.prefill_seconds += dt;
  } else {
    timings_.decode_tokens += end - start;
    timings_.decode_seconds += dt;
  }
  return Status::Ok();
}

Status Session::CheckPrompt(std::span<const int32_t> tokens) const {
  if (tokens.empty()) return InvalidArgument("session prefill: empty prompt");
  const model::ModelConfig& c = model_->config();
  const int64_t max_context = options_.kv.max_context;
  const int64_t total = static_cast<int64_t>(tokens_.size() + tokens.size());
  if (total > max_context) {
    return OutOfRange("session prefill: ", tokens.size(), " prompt tokens after ", tokens_.size(),
                      " in the sequence need ", total, " positions, more than max_context ",
                      max_context);
  }
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i] < 0 || tokens[i] >= c.vocab_size) {
      return InvalidArgument("session prefill: token ", i, " id ", tokens[i],
                             " outside the vocabulary [0, ", c.vocab_size, ")");
    }
  }
  return Status::Ok();
}

Status Session::Prefill(std::span<const int32_t> tokens) {
  LOOM_RETURN_IF_ERROR(CheckPrompt(tokens));
  // A sampled token not yet forwarded (tokens_ is one ahead of the cache) goes along with the
  // new ones.
  if (!ttft_pending_ && generated_ == 0 && timings_.time_to_first_token == 0) {
    ttft_pending_ = true;
    ttft_start_ = NowSeconds();
  }
  tokens_.insert(tokens_.end(), tokens.begin(), tokens.end());
  is_media_.resize(tokens_.size(), 0);
  stop_ = StopReason::kNone;
  generated_ = 0;
  return ForwardPending(/*count_as_prefill=*/true);
}

Status Session::Prefill(const PromptInput& p) {
  if (p.replace.empty() && p.blocks.empty()) return Prefill(std::span<const int32_t>(p.tokens));
  LOOM_RETURN_IF_ERROR(CheckPrompt(p.tokens));
  const size_t n = p.tokens.size();
  const int64_t hidden = model_->config().hidden_size;
  if (p.replace.size() != n) {
    return InvalidArgument("session prefill: replace has ", p.replace.size(), " entries for ", n,
                           " tokens");
  }
  if (p.embeddings.size() != n * static_cast<size_t>(hidden)) {
    return InvalidArgument("session prefill: embeddings has ", p.embeddings.size(),
                           " values; expected tokens (", n, ") x hidden (", hidden, ")");
  }
  if (!p.blocks.empty() && p.blocks.size() != n) {
    return InvalidArgument("session prefill: blocks has ", p.blocks.size(), " entries for ", n,
                           " tokens");
  }
  // A token sampled but not yet forwarded goes first, as text.
  const int64_t base = kv_->length();
  const size_t lead = tokens_.size() - static_cast<size_t>(base);
  const int64_t first_pos = static_cast<int64_t>(tokens_.size());
  pending_base_ = base;
  pending_replace_.assign(lead, 0);
  pending_replace_.insert(pending_replace_.end(), p.replace.begin(), p.replace.end());
  pending_embeddings_.assign(lead * static_cast<size_t>(hidden), 0.0f);
  pending_embeddings_.insert(pending_embeddings_.end(), p.embeddings.begin(), p.embeddings.end());
  pending_blocks_.assign(lead + n, -1);
  // Block ids become the position of the block's first token: unique in the sequence, so a
  // later image never joins an earlier one in the cache.
  int64_t longest = 0;
  for (size_t i = 0; i < p.blocks.size(); ++i) {
    if (p.blocks[i] < 0) continue;
    const bool starts = i == 0 || p.blocks[i - 1] != p.blocks[i];
    const int32_t id = starts ? static_cast<int32_t>(first_pos + static_cast<int64_t>(i))
                              : pending_blocks_[lead + i - 1];
    pending_blocks_[lead + i] = id;
    longest = std::max<int64_t>(longest, first_pos + static_cast<int64_t>(i) - id + 1);
  }
  if (longest > options_.kv.max_batch) {
    ClearPendingMedia();
    return InvalidArgument("session prefill: a vision block of ", longest,
                           " tokens is longer than the KV cache's max_batch of ",
                           options_.kv.max_batch, " (raise the prefill chunk)");
  }
  if (!ttft_pending_ && generated_ == 0 && timings_.time_to_first_token == 0) {
    ttft_pending_ = true;
    ttft_start_ = NowSeconds();
  }
  tokens_.insert(tokens_.end(), p.tokens.begin(), p.tokens.end());
  is_media_.insert(is_media_.end(), p.replace.begin(), p.replace.end());
  stop_ = StopReason::kNone;
  generated_ = 0;
  return ForwardPending(/*count_as_prefill=*/true);
}

Result<StepResult> Session::Step() {
  if (tokens_.empty()) return FailedPrecondition("session step: no Prefill yet");
  if (stop_ != StopReason::kNone) {
    return FailedPrecondition("session step: generation already stopped (", StopReasonName(stop_),
                              ")");
  }
  if (options_.max_new_tokens >= 0 && generated_ >= options_.max_new_tokens) {
    stop_ = StopReason::kMaxTokens;
    return FailedPrecondition("session step: max_new_tokens ", options_.max_new_tokens,
                              " already generated");
  }
  if (!have_logits_) LOOM_RETURN_IF_ERROR(ForwardPending(/*count_as_prefill=*/false));
  const double t0 = NowSeconds();
  LOOM_ASSIGN_OR_RETURN(int32_t token, sampler_->Sample(logits_.data(), tokens_));
  const double t1 = NowSeconds();
  timings_.sample_seconds += t1 - t0;
  timings_.decode_seconds += t1 - t0;
  if (ttft_pending_) {
    timings_.time_to_first_token = t1 - ttft_start_;
    ttft_pending_ = false;
  }
  tokens_.push_back(token);
  is_media_.push_back(0);
  have_logits_ = false;
  ++generated_;
  StepResult r;
  r.token = token;
  if (std::find(options_.eos_token_ids.begin(), options_.eos_token_ids.end(), token) !=
      options_.eos_token_ids.end()) {
    r.stop = StopReason::kEos;
  } else if (options_.max_new_tokens >= 0 && generated_ >= options_.max_new_tokens) {
    r.stop = StopReason::kMaxTokens;
  } else if (static_cast<int64_t>(tokens_.size()) >= options_.kv.max_context) {
    r.stop = StopReason::kContextFull;  // the token has no position left to be forwarded at
  }
  stop_ = r.stop;
  return r;
}

Result<std::vector<int32_t>> Session::Generate(std::span<const int32_t> prompt) {
  LOOM_RETURN_IF_ERROR(Prefill(prompt));
  std::vector<int32_t> out;
  if (options_.max_new_tokens == 0) {
    stop_ = StopReason::kMaxTokens;
    return out;
  }
  while (!stopped()) {
    LOOM_ASSIGN_OR_RETURN(StepResult r, Step());
    out.push_back(r.token);
  }
  return out;
}

Status Session::Rollback(int64_t k) {
  const int64_t size = static_cast<int64_t>(tokens_.size());
  if (k < 0 || k > size - 1) {
    return InvalidArgument("session rollback of ", k, " tokens: expected 0 .. ", size - 1,
                           " (the sequence has ", size, ")");
  }
  if (k == 0) return Status::Ok();
  const int64_t new_size = size - k;
  // Keep the cache one short so the next Step recomputes the logits of the new last token.
  const int64_t target = std::min(kv_->length(), new_size - 1);
  if (target < kv_->length() && is_media_[static_cast<size_t>(target)] != 0) {
    return FailedPrecondition("session rollback of ", k, " tokens: the new last token (", target,
                              ") is a media soft token, which cannot be forwarded again");
  }
  LOOM_RETURN_IF_ERROR(kv_->Truncate(target).WithContext("session rollback"));
  tokens_.resize(static_cast<size_t>(new_size));
  is_media_.resize(static_cast<size_t>(new_size));
  have_logits_ = false;
  generated_ = std::max<int64_t>(0, generated_ - k);
  stop_ = StopReason::kNone;
  return Status::Ok();
}

void Session::Reset() {
  kv_->Clear();
  tokens_.clear();
  is_media_.clear();
  ClearPendingMedia();
  logits_.clear();
  have_logits_ = false;
  generated_ = 0;
  stop_ = StopReason::kNone;
  timings_ = SessionTimings{};
  ttft_pending_ = false;
}

}  // namespace loom::runtime
