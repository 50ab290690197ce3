// Generation defaults shipped with a model: HF's generation_config.json (sampling settings, EOS
// ids, suppressed tokens), or for a GGUF the EOS ids of its metadata (ModelConfig).
#ifndef LOOM_RUNTIME_GENERATION_CONFIG_H_
#define LOOM_RUNTIME_GENERATION_CONFIG_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "formats/json.h"
#include "model/config.h"
#include "runtime/sampler.h"

namespace loom::runtime {

struct GenerationConfig {
  // Absent fields stay unset, so a user's explicit option is never overridden by a default.
  std::optional<bool> do_sample;  // false: greedy
  std::optional<float> temperature;
  std::optional<int64_t> top_k;
  std::optional<float> top_p;
  std::optional<float> min_p;
  std::optional<float> repetition_penalty;
  std::optional<int64_t> max_new_tokens;
  std::vector<int64_t> eos_token_ids;
  std::vector<int64_t> suppress_tokens;
  int64_t bos_token_id = -1;
  int64_t pad_token_id = -1;

  // The sampler settings this config implies, starting from `base` (do_sample false ->
  // temperature 0; suppress_tokens added).
  SamplerParams ApplyTo(SamplerParams base) const;
};

// From parsed generation_config.json; `what` names the source in messages. Ids are checked
// against vocab_size when it is > 0.
Result<GenerationConfig> GenerationConfigFromJson(const json::Json& root, std::string_view what,
                                                  int64_t vocab_size = 0);
// `path`: a generation_config.json file or an HF model directory holding one. A directory
// without the file gives NotFound.
Result<GenerationConfig> LoadGenerationConfig(const std::string& path, int64_t vocab_size = 0);
// For a model without generation_config.json (a GGUF): the EOS ids of its config.
GenerationConfig GenerationConfigFromModel(const model::ModelConfig& config);

// The defaults for a model at `model_path` (an HF dir / file beside config.json, or a GGUF):
// generation_config.json when there is one, else the model config's EOS ids; the EOS ids of
// `config` are added when the file lists none.
Result<GenerationConfig> DefaultGenerationConfig(const std::string& model_path,
                                                 const model::ModelConfig& config);

}  // namespace loom::runtime

#endif  // LOOM_RUNTIME_GENERATION_CONFIG_H_
