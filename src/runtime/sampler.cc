#include "runtime/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "base/strings.h"
#include "kernels/ops.h"

namespace loom::runtime {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

bool Finite(float x) { return std::isfinite(x); }

}  // namespace

double UniformDouble(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

Status SamplerParams::Validate(int64_t vocab_size) const {
  if (!Finite(temperature) || temperature < 0.0f) {
    return InvalidArgument("sampler temperature ", temperature,
                           ": expected a finite value >= 0 (0 = greedy)");
  }
  if (top_k < 0) return InvalidArgument("sampler top_k ", top_k, ": expected >= 0 (0 = off)");
  if (!(top_p > 0.0f && top_p <= 1.0f)) {
    return InvalidArgument("sampler top_p ", top_p, ": expected a value in (0, 1] (1 = off)");
  }
  if (!(min_p >= 0.0f && min_p <= 1.0f)) {
    return InvalidArgument("sampler min_p ", min_p, ": expected a value in [0, 1] (0 = off)");
  }
  if (!Finite(repetition_penalty) || repetition_penalty <= 0.0f) {
    return InvalidArgument("sampler repetition_penalty ", repetition_penalty,
                           ": expected a finite value > 0 (1 = off)");
  }
  if (!Finite(presence_penalty)) {
    return InvalidArgument("sampler presence_penalty ", presence_penalty,
                           ": expected a finite value (0 = off)");
  }
  if (!Finite(frequency_penalty)) {
    return InvalidArgument("sampler frequency_penalty ", frequency_penalty,
                           ": expected a finite value (0 = off)");
  }
  if (penalty_last_n < -1) {
    return InvalidArgument("sampler penalty_last_n ", penalty_last_n,
                           ": expected >= -1 (-1 = whole history, 0 = off)");
  }
  for (const auto& [id, bias] : logit_bias) {
    if (id < 0 || id >= vocab_size) {
      return InvalidArgument("sampler logit_bias token id ", id, ": outside the vocabulary [0, ",
                             vocab_size, ")");
    }
    if (std::isnan(bias) || bias == std::numeric_limits<float>::infinity()) {
      return InvalidArgument("sampler logit_bias for token ", id, ": ", bias,
                             ", expected a finite value or -inf (ban)");
    }
  }
  for (int32_t id : suppress_tokens) {
    if (id < 0 || id >= vocab_size) {
      return InvalidArgument("sampler suppress_tokens id ", id, ": outside the vocabulary [0, ",
                             vocab_size, ")");
    }
  }
  return Status::Ok();
}

Sampler::Sampler(const SamplerParams& params, int64_t vocab_size)
    : params_(params), vocab_size_(vocab_size), rng_(params.seed) {
  valid_ = vocab_size < 1 ? InvalidArgument("sampler vocab_size ", vocab_size, ": expected >= 1")
                          : params_.Validate(vocab_size);
}

void Sampler::Reseed(uint64_t seed) {
  params_.seed = seed;
  rng_.seed(seed);
}

Result<int32_t> Sampler::Sample(const float* logits, std::span<const int32_t> history) {
  if (!valid_.ok()) return valid_;
  const int64_t V = vocab_size_;
  work_.assign(logits, logits + V);
  for (int32_t id : params_.suppress_tokens) work_[static_cast<size_t>(id)] = kNegInf;
  for (const auto& [id, bias] : params_.logit_bias) work_[static_cast<size_t>(id)] += bias;

  const bool penalize = params_.penalty_last_n != 0 &&
                        (params_.repetition_penalty != 1.0f || params_.presence_penalty != 0.0f ||
                         params_.frequency_penalty != 0.0f);
  if (penalize && !history.empty()) {
    size_t n = history.size();
    if (params_.penalty_last_n > 0) n = std::min(n, static_cast<size_t>(params_.penalty_last_n));
    idx_.assign(history.end() - static_cast<ptrdiff_t>(n), history.end());
    std::sort(idx_.begin(), idx_.end());
    if (idx_.front() < 0 || idx_.back() >= V) {
      const int32_t bad = idx_.front() < 0 ? idx_.front() : idx_.back();
      return InvalidArgument("sampler history token id ", bad, ": outside the vocabulary [0, ", V,
                             ")");
    }
    for (size_t i = 0; i < idx_.size();) {
      size_t j = i;
      while (j < idx_.size() && idx_[j] == idx_[i]) ++j;
      float& l = work_[static_cast<size_t>(idx_[i])];
      l = l > 0.0f ? l / params_.repetition_penalty : l * params_.repetition_penalty;
      l -= params_.presence_penalty + static_cast<float>(j - i) * params_.frequency_penalty;
      i = j;
    }
  }
  for (float& l : work_) {
    if (std::isnan(l)) l = kNegInf;
  }
  const int64_t best = kernels::ArgMax(work_.data(), V);
  if (best < 0 || best >= V || !Finite(work_[static_cast<size_t>(best)])) {
    return FailedPrecondition("sampler: no token of the ", V,
                              " has a finite logit after suppression, bias and penalties");
  }
  if (params_.temperature == 0.0f) return static_cast<int32_t>(best);
  return Draw();
}

// Temperature, top-k, top-p and min-p over work_ (whose maximum is finite), then one draw.
// Probabilities are relative to the maximum logit m: p_i = exp((l_i - m) / T), so the best
// token has p = 1 and min-p keeps p_i >= min_p.
Result<int32_t> Sampler::Draw() {
  const int64_t V = vocab_size_;
  const double inv_t = 1.0 / static_cast<double>(params_.temperature);
  const float m = work_[static_cast<size_t>(kernels::ArgMax(work_.data(), V))];
  const double top_p = params_.top_p;
  const double min_p = params_.min_p;
  const auto rel = [&](float l) { return std::exp((static_cast<double>(l) - m) * inv_t); };

  int64_t count = 0;  // candidates in idx_/val_, best first
  double z = 0.0;     // normalizer of the distribution top-p is taken over
  if (params_.top_k > 0) {
    const int64_t k = std::min(params_.top_k, V);
    idx_.resize(static_cast<size_t>(k));
    val_.resize(static_cast<size_t>(k));
    count = kernels::TopK(work_.data(), V, k, idx_.data(), val_.data());
    while (count > 0 && !Finite(val_[static_cast<size_t>(count - 1)])) --count;
    for (int64_t i = 0; i < count; ++i) z += rel(val_[static_cast<size_t>(i)]);
  } else if (top_p >= 1.0) {
    // No ordering needed: min-p is a threshold, and the draw walks token ids in order.
    prob_.resize(static_cast<size_t>(V));
    double total = 0.0;
    for (int64_t i = 0; i < V; ++i) {
      const float l = work_[static_cast<size_t>(i)];
      double p = Finite(l) ? rel(l) : 0.0;
      if (p < min_p) p = 0.0;
      prob_[static_cast<size_t>(i)] = p;
      total += p;
    }
    const double target = UniformDouble(rng_) * total;
    double cum = 0.0;
    int64_t last = -1;
    for (int64_t i = 0; i < V; ++i) {
      const double p = prob_[static_cast<size_t>(i)];
      if (p <= 0.0) continue;
      cum += p;
      last = i;
      if (cum > target) return static_cast<int32_t>(i);
    }
    return static_cast<int32_t>(last);
  } else {
    // Top-p over the full softmax: find the nucleus among the best candidates, growing the
    // candidate set until its mass reaches top_p (exact: the same prefix a full sort gives).
    for (int64_t i = 0; i < V; ++i) {
      const float l = work_[static_cast<size_t>(i)];
      if (Finite(l)) z += rel(l);
    }
    int64_t c = std::min(kTopPCandidates, V);
    for (;;) {
      idx_.resize(static_cast<size_t>(c));
      val_.resize(static_cast<size_t>(c));
      count = kernels::TopK(work_.data(), V, c, idx_.data(), val_.data());
      double mass = 0.0;
      for (int64_t i = 0; i < count && Finite(val_[static_cast<size_t>(i)]); ++i) {
        mass += rel(val_[static_cast<size_t>(i)]);
      }
      if (mass >= top_p * z || c == V || !Finite(val_[static_cast<size_t>(count - 1)])) break;
      c = std::min(2 * c, V);
    }
    while (count > 0 && !Finite(val_[static_cast<size_t>(count - 1)])) --count;
  }

  // Top-p: keep token i while the mass before it is below top_p; then min-p.
  prob_.resize(static_cast<size_t>(count));
  double before = 0.0;
  int64_t kept = 0;
  for (int64_t i = 0; i < count; ++i) {
    const double p = rel(val_[static_cast<size_t>(i)]);
    if (top_p < 1.0 && before >= top_p * z) break;
    if (p < min_p) break;  // sorted: every later token is below too
    before += p;
    prob_[static_cast<size_t>(i)] = p;
    kept = i + 1;
  }
  if (kept == 0) return FailedPrecondition("sampler: no candidate left after top-k/top-p/min-p");
  double total = 0.0;
  for (int64_t i = 0; i < kept; ++i) total += prob_[static_cast<size_t>(i)];
  const double target = UniformDouble(rng_) * total;
  double cum = 0.0;
  for (int64_t i = 0; i < kept; ++i) {
    cum += prob_[static_cast<size_t>(i)];
    if (cum > target) return idx_[static_cast<size_t>(i)];
  }
  return idx_[static_cast<size_t>(kept - 1)];
}

}  // namespace loom::runtime
