// loom inspect PATH [--ctx N] [--cache-type f16|bf16|q8_0|f32] [--json]
//
// Prints what a model is and what it needs in memory: weights plus a KV cache at --ctx tokens
// (default: the model's maximum context), computed per layer type.
#include <cstdio>
#include <string>

#include "base/strings.h"
#include "formats/json.h"
#include "model/model_info.h"
#include "tools/loom/flags.h"

namespace loom::tools {
namespace {

struct Plan {
  uint64_t ctx = 0;
  model::KvPlan kv;
  int64_t sliding_layers = 0, full_layers = 0;
  uint64_t weights = 0;
};

Plan MakePlan(const model::ModelInfo& info, uint64_t ctx, const model::CacheType& cache) {
  Plan p;
  p.ctx = ctx;
  const model::ModelConfig& c = *info.config;
  // PlanKvCache counts elements at a whole byte width; scale for fractional types (Q8_0).
  model::KvPlan elems = model::PlanKvCache(c, ctx, 1);
  p.kv.sliding_bytes = elems.sliding_bytes * cache.num / cache.den;
  p.kv.full_bytes = elems.full_bytes * cache.num / cache.den;
  p.sliding_layers = c.num_layers_of(model::AttentionType::kSliding);
  p.full_layers = c.num_layers_of(model::AttentionType::kFull);
  p.weights = info.has_weights ? info.weight_bytes : info.bytes_bf16;
  return p;
}

std::string LayerSummary(const model::ModelConfig& c) {
  std::string s = StrCat(c.num_layers, " layers (", c.num_layers_of(model::AttentionType::kSliding),
                         " sliding, ", c.num_layers_of(model::AttentionType::kFull), " full)");
  return s;
}

void PrintText(const model::ModelInfo& info, const Plan* plan, const model::CacheType& cache) {
  std::printf("model:         %s\n", info.path.c_str());
  std::printf("name:          %s\n", info.name.c_str());
  std::printf("format:        %s%s%s\n", info.format.c_str(),
              info.format_detail.empty() ? "" : " (",
              info.format_detail.empty() ? "" : (info.format_detail + ")").c_str());
  if (info.config) {
    const model::ModelConfig& c = *info.config;
    std::printf("architecture:  %s%s\n", c.architecture.c_str(),
                c.is_drafter ? " (MTP drafter)" : "");
    std::printf("layers:        %s\n", LayerSummary(c).c_str());
    // Per-layer-type shapes: first layer of each type.
    for (auto type : {model::AttentionType::kSliding, model::AttentionType::kFull}) {
      for (int64_t l = 0; l < c.num_layers; ++l) {
        if (c.layer_types[static_cast<size_t>(l)] != type) continue;
        size_t i = static_cast<size_t>(l);
        std::printf("  %-8s     %lld q heads x %lld, %lld kv heads%s%s\n",
                    model::AttentionTypeName(type), static_cast<long long>(c.num_heads),
                    static_cast<long long>(c.head_dim[i]),
                    static_cast<long long>(c.num_kv_heads[i]), c.k_eq_v[i] ? ", V = K" : "",
                    c.kv_shared[i] ? ", KV shared from the target" : "");
        break;
      }
    }
    std::printf("hidden:        %lld, ffn %lld, vocab %lld\n",
                static_cast<long long>(c.hidden_size), static_cast<long long>(c.intermediate_size),
                static_cast<long long>(c.vocab_size));
    std::printf("context:       %lld max, sliding window %lld\n",
                static_cast<long long>(c.max_position_embeddings),
                static_cast<long long>(c.sliding_window));
    if (c.vision.present || c.audio.present) {
      std::printf("media:         %s%s%s\n", c.vision.present ? "vision (48-px patches)" : "",
                  c.vision.present && c.audio.present ? ", " : "",
                  c.audio.present ? "audio (640-sample frames)" : "");
    }
  } else {
    std::printf("architecture:  unknown (%s)\n", info.config_error.c_str());
  }
  if (info.has_weights) {
    std::printf("parameters:    %s (%llu, from %llu tensors)\n",
                HumanCount(info.params_in_tensors).c_str(),
                static_cast<unsigned long long>(info.params_in_tensors),
                static_cast<unsigned long long>(info.tensor_count));
    std::printf("tensors by dtype:\n");
    for (const auto& d : info.by_dtype) {
      std::printf("  %-8s %6llu tensors %14llu elements %12s\n", d.dtype.c_str(),
                  static_cast<unsigned long long>(d.tensors),
                  static_cast<unsigned long long>(d.elements), HumanBytes(d.bytes).c_str());
    }
    std::printf("weights:       %s\n", HumanBytes(info.weight_bytes).c_str());
  } else if (info.config) {
    std::printf("parameters:    %s (%llu, from the config)\n",
                HumanCount(info.config_params.total()).c_str(),
                static_cast<unsigned long long>(info.config_params.total()));
    std::printf("weights:       %s as BF16, %s as Q8_0, %s as Q4_K (vectors in F32)\n",
                HumanBytes(info.bytes_bf16).c_str(), HumanBytes(info.bytes_q8_0).c_str(),
                HumanBytes(info.bytes_q4_k).c_str());
  }
  const model::TokenizerInfo& t = info.tokenizer;
  if (t.present) {
    if (t.vocab_size == 0) {
      std::printf("tokenizer:     %s (vocabulary not available)", t.source.c_str());
    } else {
      std::printf("tokenizer:     %s from %s, %llu tokens", t.model.empty() ? "?" : t.model.c_str(),
                  t.source.c_str(), static_cast<unsigned long long>(t.vocab_size));
    }
    if (t.merges) std::printf(", %llu merges", static_cast<unsigned long long>(t.merges));
    std::printf("\n");
    auto tok = [](const char* role, int64_t id, const std::string& s) {
      if (id < 0 && s.empty()) return;
      std::printf("  %-4s %s%s%s\n", role, id >= 0 ? std::to_string(id).c_str() : "",
                  id >= 0 && !s.empty() ? " " : "", s.empty() ? "" : QuoteForMessage(s).c_str());
    };
    tok("bos", t.bos_id, t.bos);
    tok("eos", t.eos_id, t.eos);
    tok("pad", t.pad_id, t.pad);
    tok("unk", t.unk_id, t.unk);
    if (t.add_bos) std::printf("  add_bos %s\n", *t.add_bos ? "true" : "false");
    std::printf("  chat template %s\n", t.has_chat_template ? "present" : "absent");
  } else {
    std::printf("tokenizer:     none found\n");
  }
  if (plan != nullptr) {
    std::printf("memory plan at %llu tokens of context, KV cache %s:\n",
                static_cast<unsigned long long>(plan->ctx), cache.name);
    if (info.has_weights) {
      std::printf("  weights                 %12s\n", HumanBytes(plan->weights).c_str());
    } else {
      std::printf("  weights (BF16)          %12s\n", HumanBytes(plan->weights).c_str());
    }
    std::printf("  KV sliding (%3lld layers) %12s   (window %lld positions each)\n",
                static_cast<long long>(plan->sliding_layers),
                HumanBytes(plan->kv.sliding_bytes).c_str(),
                static_cast<long long>(info.config->sliding_window));
    std::printf("  KV full    (%3lld layers) %12s   (grows with the context)\n",
                static_cast<long long>(plan->full_layers), HumanBytes(plan->kv.full_bytes).c_str());
    std::printf("  total                   %12s\n",
                HumanBytes(plan->weights + plan->kv.total()).c_str());
  }
}

json::Json ToJson(const model::ModelInfo& info, const Plan* plan, const model::CacheType& cache) {
  json::Json j;
  j["path"] = info.path;
  j["name"] = info.name;
  j["format"] = info.format;
  j["format_detail"] = info.format_detail;
  if (info.config) {
    const model::ModelConfig& c = *info.config;
    json::Json cj;
    cj["architecture"] = c.architecture;
    cj["is_drafter"] = c.is_drafter;
    cj["num_layers"] = c.num_layers;
    cj["sliding_layers"] = c.num_layers_of(model::AttentionType::kSliding);
    cj["full_layers"] = c.num_layers_of(model::AttentionType::kFull);
    cj["hidden_size"] = c.hidden_size;
    cj["intermediate_size"] = c.intermediate_size;
    cj["num_heads"] = c.num_heads;
    cj["vocab_size"] = c.vocab_size;
    cj["max_position_embeddings"] = c.max_position_embeddings;
    cj["sliding_window"] = c.sliding_window;
    json::Json layers = json::Json::array();
    for (size_t l = 0; l < c.layer_types.size(); ++l) {
      layers.push_back({{"type", model::AttentionTypeName(c.layer_types[l])},
                        {"head_dim", c.head_dim[l]},
                        {"num_kv_heads", c.num_kv_heads[l]},
                        {"k_eq_v", static_cast<bool>(c.k_eq_v[l])},
                        {"kv_shared", static_cast<bool>(c.kv_shared[l])}});
    }
    cj["layers"] = layers;
    cj["vision"] = c.vision.present;
    cj["audio"] = c.audio.present;
    j["config"] = cj;
    j["config_params"] = {{"total", info.config_params.total()},
                          {"text", info.config_params.text},
                          {"embedding", info.config_params.embedding},
                          {"vision", info.config_params.vision},
                          {"audio", info.config_params.audio}};
    j["weights_as"] = {
        {"bf16", info.bytes_bf16}, {"q8_0", info.bytes_q8_0}, {"q4_k", info.bytes_q4_k}};
  } else {
    j["config_error"] = info.config_error;
  }
  if (info.has_weights) {
    j["tensor_count"] = info.tensor_count;
    j["params"] = info.params_in_tensors;
    j["weight_bytes"] = info.weight_bytes;
    json::Json d = json::Json::array();
    for (const auto& s : info.by_dtype) {
      d.push_back({{"dtype", s.dtype},
                   {"tensors", s.tensors},
                   {"elements", s.elements},
                   {"bytes", s.bytes}});
    }
    j["dtypes"] = d;
  }
  const model::TokenizerInfo& t = info.tokenizer;
  if (t.present) {
    json::Json tj = {{"source", t.source},
                     {"model", t.model},
                     {"vocab_size", t.vocab_size},
                     {"merges", t.merges},
                     {"bos_id", t.bos_id},
                     {"eos_id", t.eos_id},
                     {"pad_id", t.pad_id},
                     {"unk_id", t.unk_id},
                     {"bos", t.bos},
                     {"eos", t.eos},
                     {"pad", t.pad},
                     {"unk", t.unk},
                     {"has_chat_template", t.has_chat_template}};
    if (t.add_bos) tj["add_bos"] = *t.add_bos;
    j["tokenizer"] = tj;
  } else {
    j["tokenizer"] = nullptr;
  }
  if (plan != nullptr) {
    j["memory_plan"] = {{"ctx", plan->ctx},
                        {"cache_type", cache.name},
                        {"weights_bytes", plan->weights},
                        {"kv_sliding_bytes", plan->kv.sliding_bytes},
                        {"kv_full_bytes", plan->kv.full_bytes},
                        {"total_bytes", plan->weights + plan->kv.total()}};
  }
  return j;
}

constexpr const char* kUsage =
    "usage: loom inspect PATH [--ctx N] [--cache-type f16|bf16|q8_0|f32] [--json]\n"
    "  PATH          a .gguf file, a .safetensors file, or an HF model directory\n"
    "                (a directory with only config.json is sized from the config)\n"
    "  --ctx N       context length for the KV-cache plan (default: the model's maximum)\n"
    "  --cache-type  KV cache element type (default f16)\n"
    "  --json        machine-readable output\n";

}  // namespace

int InspectMain(int argc, char** argv) {
  FlagParser flags("inspect", kUsage);
  uint64_t ctx = 0;
  std::string cache_name = "f16";
  bool as_json = false;
  flags.AddUint("--ctx", &ctx, 1, model::kMaxContext);
  flags.AddString("--cache-type", &cache_name);
  flags.AddBool("--json", &as_json);
  std::vector<std::string> positional;
  if (int rc = flags.Parse(argc, argv, &positional); rc >= 0) return rc;
  if (positional.size() != 1) {
    std::fprintf(stderr, "loom inspect: expected one PATH, got %zu\n%s", positional.size(), kUsage);
    return 2;
  }
  auto cache = model::CacheTypeFromName(cache_name);
  if (!cache) {
    std::fprintf(
        stderr,
        "loom inspect: --cache-type: unknown value '%s' (expected f16, bf16, q8_0 or f32)\n",
        cache_name.c_str());
    return 2;
  }
  auto info = model::InspectModel(positional[0]);
  if (!info.ok()) {
    std::fprintf(stderr, "loom inspect: %s\n", info.status().ToString().c_str());
    return 1;
  }
  Plan plan;
  bool has_plan = false;
  if (info->config) {
    uint64_t max_ctx = static_cast<uint64_t>(info->config->max_position_embeddings);
    plan = MakePlan(*info, ctx == 0 ? max_ctx : ctx, *cache);
    has_plan = true;
  }
  if (as_json) {
    std::printf("%s\n", ToJson(*info, has_plan ? &plan : nullptr, *cache).dump(2).c_str());
  } else {
    PrintText(*info, has_plan ? &plan : nullptr, *cache);
  }
  return 0;
}

}  // namespace loom::tools
