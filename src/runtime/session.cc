#include "runtime/session.h"

#include <algorithm>
#include <chrono>

#include "base/strings.h"

namespace loom::runtime {
namespace {

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

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

Status Session::ForwardPending(bool count_as_prefill) {
  const int64_t start = kv_->length();
  const int64_t end = static_cast<int64_t>(tokens_.size());
  const double t0 = Now();
  for (int64_t at = start; at < end;) {
    const int64_t n = std::min(options_.prefill_chunk, end - at);
    positions_.resize(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i)
      positions_[static_cast<size_t>(i)] = static_cast<int32_t>(at + i);
    model::Batch batch;
    batch.tokens = tokens_.data() + at;
    batch.positions = positions_.data();
    batch.n = n;
    out_.logits_rows = at + n == end ? 1 : 0;
    Status st = model_->Forward(batch, kv_.get(), pool_, &out_);
    if (!st.ok()) {
      // Undo the partial sequence; when the ring cannot restore it, start over.
      tokens_.resize(static_cast<size_t>(start));
      have_logits_ = false;
      if (!kv_->Truncate(start).ok()) {
        kv_->Clear();
        tokens_.clear();
        return st.WithContext(
            "forward failed and the cache could not be rolled back; session reset");
      }
      return st;
    }
    at += n;
  }
  logits_.swap(out_.logits);
  have_logits_ = true;
  const double dt = Now() - t0;
  if (count_as_prefill) {
    timings_.prompt_tokens += end - start;
    timings_.prefill_seconds += dt;
  } else {
    timings_.decode_tokens += end - start;
    timings_.decode_seconds += dt;
  }
  return Status::Ok();
}

Status Session::Prefill(std::span<const int32_t> tokens) {
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
  // A sampled token not yet forwarded (tokens_ is one ahead of the cache) goes along with the
  // new ones.
  if (!ttft_pending_ && generated_ == 0 && timings_.time_to_first_token == 0) {
    ttft_pending_ = true;
    ttft_start_ = Now();
  }
  tokens_.insert(tokens_.end(), tokens.begin(), tokens.end());
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
  const double t0 = Now();
  LOOM_ASSIGN_OR_RETURN(int32_t token, sampler_->Sample(logits_.data(), tokens_));
  const double t1 = Now();
  timings_.sample_seconds += t1 - t0;
  timings_.decode_seconds += t1 - t0;
  if (ttft_pending_) {
    timings_.time_to_first_token = t1 - ttft_start_;
    ttft_pending_ = false;
  }
  tokens_.push_back(token);
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
  LOOM_RETURN_IF_ERROR(kv_->Truncate(target).WithContext("session rollback"));
  tokens_.resize(static_cast<size_t>(new_size));
  have_logits_ = false;
  generated_ = std::max<int64_t>(0, generated_ - k);
  stop_ = StopReason::kNone;
  return Status::Ok();
}

void Session::Reset() {
  kv_->Clear();
  tokens_.clear();
  logits_.clear();
  have_logits_ = false;
  generated_ = 0;
  stop_ = StopReason::kNone;
  timings_ = SessionTimings{};
  ttft_pending_ = false;
}

}  // namespace loom::runtime
