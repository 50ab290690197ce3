// Token sampling from logits: suppression, logit bias, repetition penalties (llama.cpp
// semantics), then greedy or temperature -> top-k -> top-p -> min-p (HF's warper order) and a
// draw from a seeded std::mt19937_64, so one seed gives the same tokens on every platform.
#ifndef LOOM_RUNTIME_SAMPLER_H_
#define LOOM_RUNTIME_SAMPLER_H_

#include <cstdint>
#include <random>
#include <span>
#include <utility>
#include <vector>

#include "base/status.h"

namespace loom::runtime {

struct SamplerParams {
  float temperature = 1.0f;  // 0: greedy (argmax after suppress / bias / penalties)
  int64_t top_k = 0;         // 0: off
  float top_p = 1.0f;        // (0, 1]; 1: off
  float min_p = 0.0f;        // [0, 1]; 0: off
  // Tokens among the last penalty_last_n of the history (-1: all of it, 0: penalties off):
  // a positive logit is divided by repetition_penalty, a negative one multiplied; then
  // presence_penalty + count * frequency_penalty is subtracted.
  float repetition_penalty = 1.0f;
  float presence_penalty = 0.0f;
  float frequency_penalty = 0.0f;
  int64_t penalty_last_n = 64;
  std::vector<std::pair<int32_t, float>> logit_bias;  // added to the logit (-inf bans)
  std::vector<int32_t> suppress_tokens;               // logit set to -inf
  uint64_t seed = 0;

  // Errors name the field, the value and the limit: temperature negative or not finite, top_k
  // negative, top_p outside (0, 1], min_p outside [0, 1], repetition_penalty <= 0 or not
  // finite, penalties not finite, penalty_last_n < -1, a bias or suppressed id outside
  // [0, vocab_size), a bias that is NaN or +inf.
  Status Validate(int64_t vocab_size) const;
};

class Sampler {
 public:
  // `params` must pass Validate(vocab_size) (checked again here; errors come from Sample).
  Sampler(const SamplerParams& params, int64_t vocab_size);

  const SamplerParams& params() const { return params_; }
  // Restarts the random stream (same seed -> same draws).
  void Reseed(uint64_t seed);

  // One token from `logits` (vocab_size values; NaN counts as -inf), with `history` (the
  // prompt and the tokens generated so far) for the penalties. Errors: invalid params, a
  // history id outside the vocabulary, every token at -inf after suppression and bias.
  Result<int32_t> Sample(const float* logits, std::span<const int32_t> history);

  // Exactness of the candidate search: top-p without top-k looks at the best kTopPCandidates
  // first and doubles that set until it holds the nucleus (the probabilities come from a full
  // softmax, so the result is the same as sorting everything).
  static constexpr int64_t kTopPCandidates = 1024;

 private:
  Result<int32_t> Draw();

  SamplerParams params_;
  int64_t vocab_size_;
  Status valid_;
  std::mt19937_64 rng_;
  std::vector<float> work_;  // logits after suppress / bias / penalties
  std::vector<int32_t> idx_;
  std::vector<float> val_;
  std::vector<double> prob_;
};

// A uniform double in [0, 1) from the top 53 bits of one mt19937_64 output (std::uniform_*
// distributions differ between standard libraries).
double UniformDouble(std::mt19937_64& rng);

}  // namespace loom::runtime

#endif  // LOOM_RUNTIME_SAMPLER_H_
