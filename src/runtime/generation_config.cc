#include "runtime/generation_config.h"

#include <algorithm>

#include "base/mapped_file.h"
#include "base/strings.h"
#include "io/path.h"

namespace loom::runtime {
namespace {

constexpr uint64_t kMaxGenerationConfigBytes = 1 << 20;

Status CheckIds(const std::vector<int64_t>& ids, std::string_view what, const char* field,
                int64_t vocab_size) {
  for (int64_t id : ids) {
    if (id < 0 || (vocab_size > 0 && id >= vocab_size)) {
      return InvalidArgument(what, ": ", field, " id ", id, " outside the vocabulary [0, ",
                             vocab_size > 0 ? vocab_size : INT64_MAX, ")");
    }
  }
  return Status::Ok();
}

// An id or a list of ids ("eos_token_id": 1 or [1, 106]).
Status GetIdOrIds(const json::Json& root, const char* key, std::vector<int64_t>* out) {
  out->clear();
  if (!json::Has(root, key)) return Status::Ok();
  if (root.at(key).is_array()) return json::GetIntArray(root, "", key, out, 1 << 16);
  int64_t id = 0;
  LOOM_RETURN_IF_ERROR(json::GetInt(root, "", key, &id));
  out->push_back(id);
  return Status::Ok();
}

}  // namespace

SamplerParams GenerationConfig::ApplyTo(SamplerParams base) const {
  if (temperature) base.temperature = *temperature;
  if (top_k) base.top_k = *top_k;
  if (top_p) base.top_p = *top_p;
  if (min_p) base.min_p = *min_p;
  if (repetition_penalty) base.repetition_penalty = *repetition_penalty;
  if (do_sample && !*do_sample) base.temperature = 0.0f;
  for (int64_t id : suppress_tokens) {
    const int32_t id32 = static_cast<int32_t>(id);
    if (std::find(base.suppress_tokens.begin(), base.suppress_tokens.end(), id32) ==
        base.suppress_tokens.end()) {
      base.suppress_tokens.push_back(id32);
    }
  }
  return base;
}

Result<GenerationConfig> GenerationConfigFromJson(const json::Json& root, std::string_view what,
                                                  int64_t vocab_size) {
  if (!root.is_object()) {
    return InvalidArgument(what, ": expected a JSON object, got ", json::TypeName(root));
  }
  GenerationConfig g;
  Status st;
  const auto wrap = [&](const Status& s) { return s.WithContext(std::string(what)); };
  if (json::Has(root, "do_sample")) {
    bool b = false;
    if (!(st = json::GetBool(root, "", "do_sample", &b)).ok()) return wrap(st);
    g.do_sample = b;
  }
  const auto get_float = [&](const char* key, std::optional<float>* out) -> Status {
    if (!json::Has(root, key)) return Status::Ok();
    double d = 0;
    LOOM_RETURN_IF_ERROR(json::GetDouble(root, "", key, &d));
    *out = static_cast<float>(d);
    return Status::Ok();
  };
  const auto get_int = [&](const char* key, std::optional<int64_t>* out) -> Status {
    if (!json::Has(root, key)) return Status::Ok();
    int64_t i = 0;
    LOOM_RETURN_IF_ERROR(json::GetInt(root, "", key, &i));
    *out = i;
    return Status::Ok();
  };
  if (!(st = get_float("temperature", &g.temperature)).ok()) return wrap(st);
  if (!(st = get_float("top_p", &g.top_p)).ok()) return wrap(st);
  if (!(st = get_float("min_p", &g.min_p)).ok()) return wrap(st);
  if (!(st = get_float("repetition_penalty", &g.repetition_penalty)).ok()) return wrap(st);
  if (!(st = get_int("top_k", &g.top_k)).ok()) return wrap(st);
  if (!(st = get_int("max_new_tokens", &g.max_new_tokens)).ok()) return wrap(st);
  std::optional<int64_t> bos, pad;
  if (!(st = get_int("bos_token_id", &bos)).ok()) return wrap(st);
  if (!(st = get_int("pad_token_id", &pad)).ok()) return wrap(st);
  g.bos_token_id = bos.value_or(-1);
  g.pad_token_id = pad.value_or(-1);
  if (!(st = GetIdOrIds(root, "eos_token_id", &g.eos_token_ids)).ok()) return wrap(st);
  if (!(st = GetIdOrIds(root, "suppress_tokens", &g.suppress_tokens)).ok()) return wrap(st);
  LOOM_RETURN_IF_ERROR(CheckIds(g.eos_token_ids, what, "eos_token_id", vocab_size));
  LOOM_RETURN_IF_ERROR(CheckIds(g.suppress_tokens, what, "suppress_tokens", vocab_size));

  // The sampling values must make sense on their own (the sampler validates them again).
  SamplerParams p = g.ApplyTo(SamplerParams{});
  p.suppress_tokens.clear();
  if (!(st = p.Validate(vocab_size > 0 ? vocab_size : 1)).ok()) return wrap(st);
  if (g.max_new_tokens && *g.max_new_tokens < 0) {
    return InvalidArgument(what, ": max_new_tokens ", *g.max_new_tokens, ": expected >= 0");
  }
  return g;
}

Result<GenerationConfig> LoadGenerationConfig(const std::string& path, int64_t vocab_size) {
  std::string file = path;
  if (IsDirectory(path)) {
    file = PathJoin(path, "generation_config.json");
    if (!IsRegularFile(file)) return NotFound(path, ": no generation_config.json");
  }
  LOOM_ASSIGN_OR_RETURN(std::string text, ReadFileToString(file, kMaxGenerationConfigBytes));
  LOOM_ASSIGN_OR_RETURN(json::Json root, json::ParseStrict(text, file));
  return GenerationConfigFromJson(root, file, vocab_size);
}

GenerationConfig GenerationConfigFromModel(const model::ModelConfig& config) {
  GenerationConfig g;
  g.eos_token_ids = config.eos_token_ids;
  g.bos_token_id = config.bos_token_id;
  g.pad_token_id = config.pad_token_id;
  return g;
}

Result<GenerationConfig> DefaultGenerationConfig(const std::string& model_path,
                                                 const model::ModelConfig& config) {
  const std::string dir = IsDirectory(model_path) ? model_path : DirName(model_path);
  const std::string file = PathJoin(dir, "generation_config.json");
  const bool gguf = model_path.size() >= 5 && model_path.ends_with(".gguf");
  if (gguf || !IsRegularFile(file)) return GenerationConfigFromModel(config);
  LOOM_ASSIGN_OR_RETURN(GenerationConfig g, LoadGenerationConfig(file, config.vocab_size));
  if (g.eos_token_ids.empty()) g.eos_token_ids = config.eos_token_ids;
  return g;
}

}  // namespace loom::runtime
