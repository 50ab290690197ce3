#include "model/config.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "base/mapped_file.h"
#include "formats/json.h"
#include "model/config_test_util.h"

namespace loom::model {
namespace {

using json::Json;
using testing::ExpectGemma3_270mShape;
using testing::ExpectSameConfig;
using testing::FullAt;
using testing::Pattern;
using testing::SharedPath;

constexpr const char* kIt = "reference/gemma-4-12B-it/config.json";
constexpr const char* kBase = "reference/gemma-4-12B/config.json";
constexpr const char* kAssistant = "reference/gemma-4-12B-it-assistant/config.json";

ModelConfig Load(const char* rel) {
  auto c = LoadHfConfig(SharedPath(rel));
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return c.ok() ? *c : ModelConfig{};
}

Json LoadJson(const char* rel) {
  auto text = ReadFileToString(SharedPath(rel), 1 << 20);
  EXPECT_TRUE(text.ok()) << text.status().ToString();
  auto j = json::ParseStrict(*text, rel);
  EXPECT_TRUE(j.ok()) << j.status().ToString();
  return *j;
}

// The 12B's full layers: every sixth, SPEC §1.1.
const std::string k12bPattern = FullAt({5, 11, 17, 23, 29, 35, 41, 47}, 48);

TEST(ConfigTest, Gemma4Unified12BMatchesSpec) {
  ModelConfig c = Load(kIt);
  ASSERT_TRUE(c.Validate().ok()) << c.Validate().ToString();
  EXPECT_EQ(c.architecture, "gemma4_unified");
  EXPECT_FALSE(c.is_drafter);
  EXPECT_EQ(c.vocab_size, 262144);
  EXPECT_EQ(c.hidden_size, 3840);
  EXPECT_EQ(c.num_layers, 48);
  EXPECT_EQ(c.intermediate_size, 15360);
  EXPECT_EQ(c.num_heads, 16);
  EXPECT_EQ(c.max_position_embeddings, 262144);
  EXPECT_EQ(c.sliding_window, 1024);
  EXPECT_EQ(Pattern(c), k12bPattern);
  EXPECT_EQ(c.num_layers_of(AttentionType::kSliding), 40);
  EXPECT_EQ(c.num_layers_of(AttentionType::kFull), 8);
  for (size_t l = 0; l < 48; ++l) {
    const bool full = k12bPattern[l] == 'f';
    EXPECT_EQ(c.head_dim[l], full ? 512 : 256) << l;
    EXPECT_EQ(c.num_kv_heads[l], full ? 1 : 8) << l;
    EXPECT_EQ(c.k_eq_v[l], full) << l;
    EXPECT_FALSE(c.kv_shared[l]) << l;
  }
  EXPECT_EQ(c.rope_sliding.type, RopeType::kDefault);
  EXPECT_EQ(c.rope_sliding.theta, 10000.0);
  EXPECT_EQ(c.rope_sliding.partial_rotary_factor, 1.0);
  EXPECT_EQ(c.rope_full.type, RopeType::kProportional);
  EXPECT_EQ(c.rope_full.theta, 1e6);
  EXPECT_EQ(c.rope_full.partial_rotary_factor, 0.25);
  EXPECT_EQ(c.rope_full.scaling_factor, 1.0);
  EXPECT_EQ(c.rms_norm_eps, 1e-6);
  EXPECT_EQ(c.norm_weight, NormWeightMode::kW);
  EXPECT_TRUE(c.qk_norm);
  EXPECT_TRUE(c.v_norm);
  EXPECT_TRUE(c.layer_scalar);
  EXPECT_EQ(c.attention_scale, 1.0);
  EXPECT_EQ(c.attn_logit_softcap, 0.0);
  EXPECT_EQ(c.final_logit_softcap, 30.0);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_EQ(c.activation, Activation::kGeluTanh);
  EXPECT_EQ(c.bidirectional, Bidirectional::kVision);
  EXPECT_EQ(c.hidden_size_per_layer_input, 0);
  EXPECT_FALSE(c.enable_moe);
  EXPECT_EQ(c.backbone_hidden_size, 0);
  EXPECT_EQ(c.pad_token_id, 0);
  EXPECT_EQ(c.bos_token_id, 2);
  EXPECT_EQ(c.eos_token_ids, (std::vector<int64_t>{1, 106}));
  EXPECT_EQ(c.image_token_id, 258880);
  EXPECT_EQ(c.audio_token_id, 258881);
  EXPECT_EQ(c.video_token_id, 258884);
  EXPECT_EQ(c.boi_token_id, 255999);
  EXPECT_EQ(c.eoi_token_id, 258882);
  EXPECT_EQ(c.boa_token_id, 256000);
  EXPECT_EQ(c.eoa_token_id, 258883);  // spelled eoa_token_index in the file
  ASSERT_TRUE(c.vision.present);
  EXPECT_EQ(c.vision.patch_size, 16);
  EXPECT_EQ(c.vision.pooling_kernel_size, 3);
  EXPECT_EQ(c.vision.model_patch_size, 48);
  EXPECT_EQ(c.vision.patch_dim, 6912);
  EXPECT_EQ(c.vision.mm_embed_dim, 3840);
  EXPECT_EQ(c.vision.posemb_size, 1120);
  EXPECT_EQ(c.vision.default_soft_tokens, 280);
  EXPECT_EQ(c.vision.rms_norm_eps, 1e-6);
  EXPECT_EQ(c.vision.layer_norm_eps, 1e-5);
  ASSERT_TRUE(c.audio.present);
  EXPECT_EQ(c.audio.samples_per_token, 640);
  EXPECT_EQ(c.audio.rms_norm_eps, 1e-6);
}

TEST(ConfigTest, BaseConfigDiffersOnlyInEos) {
  ModelConfig base = Load(kBase);
  ASSERT_TRUE(base.Validate().ok()) << base.Validate().ToString();
  // The pretrained config has no top-level eos list: text_config's eos_token_id 1 applies.
  EXPECT_EQ(base.eos_token_ids, (std::vector<int64_t>{1}));
  ExpectSameConfig(base, Load(kIt), {"eos_token_ids"});
}

TEST(ConfigTest, AssistantMatchesSpec) {
  ModelConfig c = Load(kAssistant);
  ASSERT_TRUE(c.Validate().ok()) << c.Validate().ToString();
  EXPECT_EQ(c.architecture, "gemma4_unified_assistant");
  EXPECT_TRUE(c.is_drafter);
  EXPECT_EQ(c.backbone_hidden_size, 3840);
  EXPECT_EQ(c.hidden_size, 1024);
  EXPECT_EQ(c.num_layers, 4);
  EXPECT_EQ(c.intermediate_size, 8192);
  EXPECT_EQ(c.num_heads, 16);
  EXPECT_EQ(c.vocab_size, 262144);
  EXPECT_EQ(c.sliding_window, 1024);
  EXPECT_EQ(Pattern(c), "sssf");
  EXPECT_EQ(c.head_dim, (std::vector<int64_t>{256, 256, 256, 512}));
  EXPECT_EQ(c.num_kv_heads, (std::vector<int64_t>{8, 8, 8, 1}));
  EXPECT_EQ(c.kv_shared, (std::vector<bool>{true, true, true, true}));  // num_kv_shared_layers 4
  EXPECT_EQ(c.k_eq_v, (std::vector<bool>{false, false, false, true}));
  EXPECT_EQ(c.rope_full.type, RopeType::kProportional);
  EXPECT_EQ(c.rope_full.partial_rotary_factor, 0.25);
  EXPECT_EQ(c.final_logit_softcap, 0.0);  // null: no softcap in the drafter (SPEC §11.17)
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_FALSE(c.vision.present);
  EXPECT_FALSE(c.audio.present);
  EXPECT_EQ(c.eos_token_ids, (std::vector<int64_t>{1}));
  EXPECT_EQ(c.eoa_token_id, 258883);
  EXPECT_EQ(c.video_token_id, -1);  // not in the assistant's file, and no default for it
}

TEST(ConfigTest, CountParams12B) {
  ParamCount p = CountParams(Load(kIt));
  EXPECT_EQ(p.total(), 11959730224ull);
  EXPECT_EQ(p.text, 11907350320ull);
  EXPECT_EQ(p.embedding, 1006632960ull);
  EXPECT_EQ(p.vision, 6912ull * 2 + 3840ull * 6912 + 3840 + 3840 * 2 + 1120ull * 2 * 3840 +
                          3840 * 2 + 3840ull * 3840);
  EXPECT_EQ(p.audio, 3840ull * 640);
}

TEST(ConfigTest, CountParamsAssistant) {
  ParamCount p = CountParams(Load(kAssistant));
  const uint64_t h = 1024, ffn = 8192, b = 3840;
  // No k/v projections and no k_norm: the drafter reads the target's KV (SPEC §8.3).
  const uint64_t sliding = 4 * h + 2 * 16 * 256 * h + 256 + 3 * h * ffn + 1;
  const uint64_t full = 4 * h + 2 * 16 * 512 * h + 512 + 3 * h * ffn + 1;
  const uint64_t want = 262144 * h + 3 * sliding + full + h + 2 * b * h + b * h;
  EXPECT_EQ(p.total(), want);
  EXPECT_EQ(p.total(), 422856964ull);
  EXPECT_EQ(p.vision + p.audio, 0u);
}

TEST(ConfigTest, PlanKvCache12B) {
  ModelConfig c = Load(kIt);
  KvPlan plan = PlanKvCache(c, 262144, 2);
  EXPECT_EQ(plan.sliding_bytes, 335544320ull);  // 320 MiB
  EXPECT_EQ(plan.full_bytes, 4294967296ull);    // 4 GiB
  EXPECT_EQ(plan.total(), 335544320ull + 4294967296ull);
  // Below the window the sliding layers grow with the context too.
  KvPlan small = PlanKvCache(c, 100, 2);
  EXPECT_EQ(small.sliding_bytes, 40ull * 100 * 8 * 256 * 2 * 2);
  EXPECT_EQ(small.full_bytes, 8ull * 100 * 512 * 2 * 2);
  // The drafter stores no KV of its own.
  KvPlan drafter = PlanKvCache(Load(kAssistant), 262144, 2);
  EXPECT_EQ(drafter.total(), 0u);
}

TEST(ConfigTest, PlanAndCountSaturateInsteadOfWrapping) {
  ModelConfig c = Load(kIt);
  KvPlan plan = PlanKvCache(c, std::numeric_limits<uint64_t>::max(), 1u << 20);
  EXPECT_EQ(plan.full_bytes, std::numeric_limits<uint64_t>::max());
  // An unvalidated config with absurd sizes and short per-layer vectors must not crash either.
  ModelConfig bad;
  bad.num_layers = 3;
  bad.vocab_size = std::numeric_limits<int64_t>::max();
  bad.hidden_size = std::numeric_limits<int64_t>::max();
  bad.head_dim = {1};
  EXPECT_EQ(CountParams(bad).text, std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(PlanKvCache(bad, 10, 2).total(), 0u);
}

TEST(ConfigTest, AttentionTypeNames) {
  EXPECT_STREQ(AttentionTypeName(AttentionType::kSliding), "sliding");
  EXPECT_STREQ(AttentionTypeName(AttentionType::kFull), "full");
  EXPECT_STREQ(AttentionTypeName(AttentionType::kSentinel), "invalid");
}

// google/gemma-3-270m config.json as published (transformers 4.55 export).
constexpr const char* kGemma3_270m = R"({
  "_sliding_window_pattern": 6,
  "architectures": ["Gemma3ForCausalLM"],
  "attention_bias": false,
  "attention_dropout": 0.0,
  "attn_logit_softcapping": null,
  "bos_token_id": 2,
  "eos_token_id": 1,
  "final_logit_softcapping": null,
  "head_dim": 256,
  "hidden_activation": "gelu_pytorch_tanh",
  "hidden_size": 640,
  "initializer_range": 0.02,
  "intermediate_size": 2048,
  "layer_types": [
    "sliding_attention", "sliding_attention", "sliding_attention", "sliding_attention",
    "sliding_attention", "full_attention", "sliding_attention", "sliding_attention",
    "sliding_attention", "sliding_attention", "sliding_attention", "full_attention",
    "sliding_attention", "sliding_attention", "sliding_attention", "sliding_attention",
    "sliding_attention", "full_attention"
  ],
  "max_position_embeddings": 32768,
  "model_type": "gemma3_text",
  "num_attention_heads": 4,
  "num_hidden_layers": 18,
  "num_key_value_heads": 1,
  "pad_token_id": 0,
  "query_pre_attn_scalar": 256,
  "rms_norm_eps": 1e-06,
  "rope_local_base_freq": 10000.0,
  "rope_scaling": null,
  "rope_theta": 1000000.0,
  "sliding_window": 512,
  "torch_dtype": "bfloat16",
  "transformers_version": "4.55.0.dev0",
  "use_bidirectional_attention": false,
  "use_cache": true,
  "vocab_size": 262144
})";

Result<ModelConfig> FromText(std::string_view text) {
  auto j = json::ParseStrict(text, "test.json");
  if (!j.ok()) return j.status();
  return ConfigFromHfJson(*j, "test.json");
}

TEST(ConfigTest, Gemma3_270m) {
  auto r = FromText(kGemma3_270m);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const ModelConfig& c = *r;
  ASSERT_TRUE(c.Validate().ok()) << c.Validate().ToString();
  EXPECT_EQ(c.architecture, "gemma3_text");
  ExpectGemma3_270mShape(c);
  EXPECT_EQ(c.k_eq_v, std::vector<bool>(18, false));
  EXPECT_EQ(c.kv_shared, std::vector<bool>(18, false));
  EXPECT_EQ(c.rope_sliding.type, RopeType::kDefault);
  EXPECT_EQ(c.rope_sliding.theta, 10000.0);
  EXPECT_EQ(c.rope_full.type, RopeType::kDefault);
  EXPECT_EQ(c.rope_full.theta, 1e6);
  EXPECT_EQ(c.attention_scale, 1.0 / 16.0);  // query_pre_attn_scalar 256 ^ -0.5
  EXPECT_EQ(c.norm_weight, NormWeightMode::kOnePlusW);
  EXPECT_TRUE(c.qk_norm);
  EXPECT_FALSE(c.v_norm);
  EXPECT_FALSE(c.layer_scalar);
  EXPECT_EQ(c.final_logit_softcap, 0.0);
  EXPECT_EQ(c.attn_logit_softcap, 0.0);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_EQ(c.bidirectional, Bidirectional::kNone);
  EXPECT_EQ(c.pad_token_id, 0);
  EXPECT_EQ(c.bos_token_id, 2);
  EXPECT_EQ(c.eos_token_ids, (std::vector<int64_t>{1}));
  EXPECT_EQ(c.image_token_id, -1);
  EXPECT_FALSE(c.vision.present);
  // The published parameter count of gemma-3-270m.
  EXPECT_EQ(CountParams(c).total(), 268098176ull);
}

Json Gemma3Json() { return *json::ParseStrict(kGemma3_270m, "t"); }

TEST(ConfigTest, Gemma3PatternFromPeriod) {
  for (const char* key : {"sliding_window_pattern", "_sliding_window_pattern"}) {
    Json j = Gemma3Json();
    j.erase("layer_types");
    j.erase("_sliding_window_pattern");
    j[key] = 3;
    auto c = ConfigFromHfJson(j);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    EXPECT_EQ(Pattern(*c), FullAt({2, 5, 8, 11, 14, 17}, 18)) << key;
  }
  Json j = Gemma3Json();
  j.erase("layer_types");
  j.erase("_sliding_window_pattern");
  auto c = ConfigFromHfJson(j);  // transformers' default period is 6
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(Pattern(*c), FullAt({5, 11, 17}, 18));
}

TEST(ConfigTest, Gemma3DefaultsAndRopeScaling) {
  // gemma-3-4b-it style: a composite config whose text part leans on transformers' defaults.
  Json j = Json::parse(R"({
    "model_type": "gemma3",
    "eos_token_id": [1, 106],
    "image_token_index": 262144,
    "text_config": {"hidden_size": 2560, "intermediate_size": 10240, "model_type": "gemma3_text",
                    "num_hidden_layers": 34, "sliding_window": 1024,
                    "rope_scaling": {"factor": 8.0, "rope_type": "linear"}},
    "vision_config": {"model_type": "siglip_vision_model"}
  })");
  auto r = ConfigFromHfJson(j);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const ModelConfig& c = *r;
  ASSERT_TRUE(c.Validate().ok()) << c.Validate().ToString();
  EXPECT_EQ(c.vocab_size, 262208);
  EXPECT_EQ(c.num_heads, 8);
  EXPECT_EQ(c.num_kv_heads[0], 4);
  EXPECT_EQ(c.head_dim[0], 256);
  EXPECT_EQ(c.max_position_embeddings, 131072);
  EXPECT_EQ(c.attention_scale, 1.0 / 16.0);
  EXPECT_EQ(c.rope_full.type, RopeType::kLinear);
  EXPECT_EQ(c.rope_full.scaling_factor, 8.0);
  EXPECT_EQ(c.rope_full.theta, 1e6);
  EXPECT_EQ(c.rope_sliding.type, RopeType::kDefault);  // scaling is for the full layers only
  EXPECT_EQ(c.eos_token_ids, (std::vector<int64_t>{1, 106}));
  EXPECT_EQ(c.boi_token_id, 255999);
  EXPECT_EQ(c.eoi_token_id, 256000);
  EXPECT_EQ(c.image_token_id, 262144);
  EXPECT_FALSE(c.vision.present);  // the SigLIP tower is not loom's
  EXPECT_EQ(Pattern(c).substr(0, 12), "sssssfsssssf");
}

TEST(ConfigTest, Gemma3RopeParametersTransformers5) {
  Json j = Gemma3Json();
  j["rope_parameters"] = Json::parse(R"({
    "full_attention": {"rope_type": "linear", "factor": 8.0},
    "sliding_attention": {"rope_type": "default", "rope_theta": 20000.0}})");
  auto c = ConfigFromHfJson(j);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->rope_full.type, RopeType::kLinear);
  EXPECT_EQ(c->rope_full.theta, 1e6);  // from rope_theta: the entry does not restate it
  EXPECT_EQ(c->rope_full.scaling_factor, 8.0);
  EXPECT_EQ(c->rope_sliding.theta, 20000.0);
}

TEST(ConfigTest, Gemma4TextBareAndDefaults) {
  // gemma4_unified_text at the top level, leaning on Gemma4UnifiedTextConfig's defaults.
  Json j = Json::parse(R"({"model_type": "gemma4_unified_text", "hidden_size": 256,
                           "intermediate_size": 512, "num_hidden_layers": 8})");
  auto r = ConfigFromHfJson(j);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const ModelConfig& c = *r;
  ASSERT_TRUE(c.Validate().ok()) << c.Validate().ToString();
  // Default period 6, last layer forced to full as transformers does.
  EXPECT_EQ(Pattern(c), "sssssfsf");
  EXPECT_EQ(c.num_heads, 8);
  EXPECT_EQ(c.num_kv_heads, std::vector<int64_t>(8, 4));  // no k_eq_v: no global kv override
  EXPECT_EQ(c.head_dim[5], 512);
  EXPECT_EQ(c.k_eq_v, std::vector<bool>(8, false));
  EXPECT_EQ(c.max_position_embeddings, 262144);
  EXPECT_EQ(c.sliding_window, 1024);
  EXPECT_EQ(c.bidirectional, Bidirectional::kVision);
  EXPECT_EQ(c.rope_full.partial_rotary_factor, 0.25);
  EXPECT_FALSE(c.vision.present);

  j["use_bidirectional_attention"] = nullptr;
  EXPECT_EQ(ConfigFromHfJson(j)->bidirectional, Bidirectional::kNone);
  j["use_bidirectional_attention"] = "all";
  EXPECT_EQ(ConfigFromHfJson(j)->bidirectional, Bidirectional::kAll);
}

TEST(ConfigTest, EoaTokenIdSpellings) {
  Json j = LoadJson(kIt);
  j.erase("eoa_token_index");
  j["eoa_token_id"] = 258883;
  EXPECT_EQ(ConfigFromHfJson(j)->eoa_token_id, 258883);
  j["eoa_token_index"] = 258883;  // both, agreeing
  EXPECT_EQ(ConfigFromHfJson(j)->eoa_token_id, 258883);
}

TEST(ConfigTest, LoadHfConfigErrorsNameThePath) {
  auto r = LoadHfConfig(SharedPath("reference/no-such-model/config.json"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("no-such-model"), std::string::npos) << r.status().ToString();
}

// One bad config: a mutation of a valid file, the code and a substring of the message. The
// error may come from the reader or from Validate().
struct BadCase {
  const char* name;
  const char* base;  // kIt, kAssistant, or nullptr for the Gemma 3 270M text
  std::function<void(Json&)> mutate;
  StatusCode code;
  const char* needle;
};

Status ReadAndValidate(const Json& j) {
  auto c = ConfigFromHfJson(j, "bad.json");
  if (!c.ok()) return c.status();
  return c->Validate();
}

TEST(ConfigTest, BadConfigs) {
  auto t = [](Json& j) -> Json& { return j["text_config"]; };
  const std::vector<BadCase> cases = {
      {"top level not an object", kIt,
       [](Json& j) {
         j = Json::array({1, 2});
       },
       StatusCode::kInvalidArgument, "expected a JSON object at the top level, got array"},
      {"model_type missing", kIt, [](Json& j) { j.erase("model_type"); }, StatusCode::kNotFound,
       "model_type: missing"},
      {"model_type wrong type", kIt, [](Json& j) { j["model_type"] = 7; },
       StatusCode::kInvalidArgument, "model_type: expected a string, got integer"},
      {"unknown model_type", kIt, [](Json& j) { j["model_type"] = "llama"; },
       StatusCode::kUnimplemented, "model_type 'llama' is not supported"},
      {"text_config missing", kIt, [](Json& j) { j.erase("text_config"); }, StatusCode::kNotFound,
       "text_config: missing"},
      {"text_config not an object", kIt, [](Json& j) { j["text_config"] = "x"; },
       StatusCode::kInvalidArgument, "text_config: expected an object, got string"},
      {"hidden_size missing", kIt, [&](Json& j) { t(j).erase("hidden_size"); },
       StatusCode::kNotFound, "text_config.hidden_size: missing"},
      {"hidden_size wrong type", kIt, [&](Json& j) { t(j)["hidden_size"] = "3840"; },
       StatusCode::kInvalidArgument, "text_config.hidden_size: expected an integer, got string"},
      {"hidden_size fractional", kIt, [&](Json& j) { t(j)["hidden_size"] = 3840.5; },
       StatusCode::kInvalidArgument, "text_config.hidden_size: expected an integer, got 3840.5"},
      {"hidden_size zero", kAssistant, [&](Json& j) { t(j)["hidden_size"] = 0; },
       StatusCode::kInvalidArgument, "hidden_size: 0 must be positive"},
      {"huge layer count", kIt, [&](Json& j) { t(j)["num_hidden_layers"] = 100000; },
       StatusCode::kOutOfRange, "num_hidden_layers: 100000 exceeds the limit of 512"},
      {"negative layer count", kIt, [&](Json& j) { t(j)["num_hidden_layers"] = -4; },
       StatusCode::kInvalidArgument, "num_hidden_layers: -4 must be positive"},
      {"huge vocab", kIt, [&](Json& j) { t(j)["vocab_size"] = 99999999; }, StatusCode::kOutOfRange,
       "vocab_size: 99999999 exceeds the limit of 4194304"},
      {"huge intermediate", kIt, [&](Json& j) { t(j)["intermediate_size"] = 1 << 21; },
       StatusCode::kOutOfRange, "intermediate_size: 2097152 exceeds the limit of 1048576"},
      {"layer_types too short", kIt, [&](Json& j) { t(j)["layer_types"].erase(0); },
       StatusCode::kInvalidArgument, "layer_types: has 47 entries, num_hidden_layers is 48"},
      {"unknown layer type", kIt, [&](Json& j) { t(j)["layer_types"][3] = "chunked_attention"; },
       StatusCode::kInvalidArgument, "layer_types[3]: unknown layer type 'chunked_attention'"},
      {"layer_types wrong element type", kIt, [&](Json& j) { t(j)["layer_types"][0] = 1; },
       StatusCode::kInvalidArgument, "layer_types[0]: expected a string, got integer"},
      {"heads not divisible", kIt, [&](Json& j) { t(j)["num_attention_heads"] = 12; },
       StatusCode::kInvalidArgument,
       "num_attention_heads: 12 is not divisible by num_key_value_heads[0] = 8"},
      {"last layer sliding", kIt, [&](Json& j) { t(j)["layer_types"][47] = "sliding_attention"; },
       StatusCode::kInvalidArgument, "layer_types[47]: the last layer is sliding"},
      {"eps overflows to infinity", kIt,
       [&](Json& j) { t(j)["rms_norm_eps"] = std::numeric_limits<double>::infinity(); },
       StatusCode::kInvalidArgument, "rms_norm_eps"},
      {"rope_theta negative", kIt,
       [&](Json& j) { t(j)["rope_parameters"]["full_attention"]["rope_theta"] = -1.0; },
       StatusCode::kInvalidArgument, "rope_parameters.full_attention.rope_theta: -1 must be"},
      {"partial rotary above 1", kIt,
       [&](Json& j) { t(j)["rope_parameters"]["full_attention"]["partial_rotary_factor"] = 1.5; },
       StatusCode::kInvalidArgument, "partial_rotary_factor: 1.5 must be in (0, 1]"},
      {"unknown rope type", kIt,
       [&](Json& j) { t(j)["rope_parameters"]["full_attention"]["rope_type"] = "yarn"; },
       StatusCode::kUnimplemented, "full_attention.rope_type: 'yarn' is not implemented"},
      {"rope_parameters without full_attention", kIt,
       [&](Json& j) { t(j)["rope_parameters"].erase("full_attention"); }, StatusCode::kNotFound,
       "text_config.rope_parameters.full_attention: missing"},
      {"negative final softcap", kIt, [&](Json& j) { t(j)["final_logit_softcapping"] = -1.0; },
       StatusCode::kInvalidArgument, "final_logit_softcapping: -1 must be finite and >= 0"},
      {"token id beyond vocab", kIt, [&](Json& j) { t(j)["bos_token_id"] = 300000; },
       StatusCode::kOutOfRange, "bos_token_id: 300000 is not below vocab_size 262144"},
      {"eos beyond vocab", kIt,
       [](Json& j) {
         j["eos_token_id"] = {1, 262144};
       },
       StatusCode::kOutOfRange, "eos_token_id[1]: 262144 is not below vocab_size"},
      {"eos wrong type", kIt, [](Json& j) { j["eos_token_id"] = "1"; },
       StatusCode::kInvalidArgument, "eos_token_id: expected an integer, got string"},
      {"enable_moe_block", kIt, [&](Json& j) { t(j)["enable_moe_block"] = true; },
       StatusCode::kUnimplemented, "text_config.enable_moe_block: true"},
      {"per-layer embeddings", kIt, [&](Json& j) { t(j)["hidden_size_per_layer_input"] = 256; },
       StatusCode::kUnimplemented, "text_config.hidden_size_per_layer_input: 256"},
      {"kv sharing on a target", kIt, [&](Json& j) { t(j)["num_kv_shared_layers"] = 2; },
       StatusCode::kUnimplemented, "text_config.num_kv_shared_layers: 2"},
      {"activation", kIt, [&](Json& j) { t(j)["hidden_activation"] = "silu"; },
       StatusCode::kUnimplemented, "text_config.hidden_activation: 'silu' is not implemented"},
      {"bidirectional mode", kIt,
       [&](Json& j) { t(j)["use_bidirectional_attention"] = "sometimes"; },
       StatusCode::kInvalidArgument, "use_bidirectional_attention: 'sometimes'"},
      {"sliding window beyond context", kIt,
       [&](Json& j) { t(j)["max_position_embeddings"] = 512; }, StatusCode::kOutOfRange,
       "sliding_window: 1024 exceeds max_position_embeddings = 512"},
      {"no sliding window with sliding layers", kIt, [&](Json& j) { t(j)["sliding_window"] = 0; },
       StatusCode::kInvalidArgument, "sliding_window: 0, but 40 layers are sliding_attention"},
      {"model_patch_size inconsistent", kIt,
       [](Json& j) { j["vision_config"]["model_patch_size"] = 50; }, StatusCode::kInvalidArgument,
       "vision_config.model_patch_size: 50 is not patch_size"},
      {"vision projection width", kIt, [](Json& j) { j["vision_config"]["output_proj_dims"] = 7; },
       StatusCode::kInvalidArgument, "vision_config.output_proj_dims: 7 differs"},
      {"audio aliases disagree", kIt,
       [](Json& j) { j["audio_config"]["audio_samples_per_token"] = 320; },
       StatusCode::kInvalidArgument, "audio_config.audio_samples_per_token: 320 differs"},
      {"eoa spellings disagree", kIt, [](Json& j) { j["eoa_token_id"] = 5; },
       StatusCode::kInvalidArgument, "eoa_token_id: 5 differs from eoa_token_index 258883"},
      {"ordered embeddings", kAssistant, [](Json& j) { j["use_ordered_embeddings"] = true; },
       StatusCode::kUnimplemented, "use_ordered_embeddings: true"},
      {"drafter backbone zero", kAssistant, [](Json& j) { j["backbone_hidden_size"] = 0; },
       StatusCode::kInvalidArgument, "backbone_hidden_size: 0 must be positive"},
      {"kv shared beyond layers", kAssistant, [&](Json& j) { t(j)["num_kv_shared_layers"] = 9; },
       StatusCode::kInvalidArgument,
       "num_kv_shared_layers: 9 is outside [0, num_hidden_layers = 4]"},
      {"gemma3 odd head dim", nullptr, [](Json& j) { j["head_dim"] = 255; },
       StatusCode::kInvalidArgument, "head_dim[0]: 255 must be even"},
      {"gemma3 zero query scalar", nullptr, [](Json& j) { j["query_pre_attn_scalar"] = 0; },
       StatusCode::kInvalidArgument, "query_pre_attn_scalar: 0 must be > 0"},
      {"gemma3 kv heads zero", nullptr, [](Json& j) { j["num_key_value_heads"] = 0; },
       StatusCode::kInvalidArgument, "num_key_value_heads[0]: 0 must be positive"},
      {"gemma3 pattern zero", nullptr,
       [](Json& j) {
         j.erase("layer_types");
         j["sliding_window_pattern"] = 0;
       },
       StatusCode::kInvalidArgument, "sliding_window_pattern: 0 must be >= 1"},
      {"gemma3 rope_scaling without factor", nullptr,
       [](Json& j) {
         j["rope_scaling"] = {{"rope_type", "linear"}};
       },
       StatusCode::kNotFound, "rope_scaling.factor: missing"},
      {"gemma3 head dim huge", nullptr, [](Json& j) { j["head_dim"] = 8192; },
       StatusCode::kOutOfRange, "head_dim[0]: 8192 exceeds the limit of 4096"},
  };
  for (const BadCase& bc : cases) {
    Json j = bc.base != nullptr ? LoadJson(bc.base) : Gemma3Json();
    bc.mutate(j);
    Status s = ReadAndValidate(j);
    EXPECT_EQ(s.code(), bc.code) << bc.name << ": " << s.ToString();
    EXPECT_NE(s.message().find(bc.needle), std::string::npos)
        << bc.name << ": '" << s.message() << "' lacks '" << bc.needle << "'";
  }
}

// kGemma3_270m with `field`'s value replaced by the literal `value`.
std::string WithValue(const char* field, const char* value) {
  std::string text = kGemma3_270m;
  const std::string key = StrCat("\"", field, "\": ");
  const size_t at = text.find(key);
  EXPECT_NE(at, std::string::npos) << field;
  const size_t end = text.find(',', at);
  text.replace(at + key.size(), end - at - key.size(), value);
  return text;
}

TEST(ConfigTest, HugeExponentsAreRejected) {
  // Past double range: the strict parser refuses the number outright.
  for (const char* field : {"rms_norm_eps", "rope_theta", "query_pre_attn_scalar"}) {
    auto r = FromText(WithValue(field, "1e999"));
    EXPECT_EQ(r.status().code(), StatusCode::kDataLoss) << field;
    EXPECT_NE(r.status().message().find("number overflow"), std::string::npos)
        << r.status().ToString();
  }
  // Below it: the value underflows to 0, which the checks on the field refuse.
  for (const char* field : {"rms_norm_eps", "rope_theta", "query_pre_attn_scalar"}) {
    auto r = FromText(WithValue(field, "1e-400"));
    Status s = r.ok() ? r->Validate() : r.status();
    EXPECT_FALSE(s.ok()) << field;
    EXPECT_NE(s.message().find(field), std::string::npos) << s.ToString();
  }
}

TEST(ConfigTest, ValidateCatchesInconsistentStructs) {
  ModelConfig good = Load(kIt);
  {
    ModelConfig c = good;
    c.head_dim.pop_back();
    Status s = c.Validate();
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(s.message().find("head_dim: has 47 per-layer entries"), std::string::npos)
        << s.ToString();
  }
  {
    ModelConfig c = good;
    c.layer_types[0] = AttentionType::kSentinel;
    EXPECT_NE(c.Validate().message().find("layer_types[0]: invalid value"), std::string::npos);
  }
  {
    ModelConfig c = good;
    c.vision.patch_dim = 6911;
    EXPECT_NE(c.Validate().message().find("vision_config.patch_dim: 6911"), std::string::npos);
  }
  {
    ModelConfig c = good;
    c.kv_shared[3] = true;  // only a drafter may share KV
    EXPECT_EQ(c.Validate().code(), StatusCode::kUnimplemented);
  }
  {
    ModelConfig c = good;
    c.rope_full.theta = std::nan("");
    EXPECT_NE(c.Validate().message().find("rope_parameters.full_attention.rope_theta"),
              std::string::npos);
  }
  {
    ModelConfig c = good;
    c.eos_token_ids.assign(65, 1);
    EXPECT_EQ(c.Validate().code(), StatusCode::kOutOfRange);
  }
  {
    ModelConfig c = good;
    c.pad_token_id = -7;
    EXPECT_NE(c.Validate().message().find("pad_token_id: -7 is negative"), std::string::npos);
  }
  {
    // A projector-only config (clip file): embedders and their target width, no decoder.
    ModelConfig c;
    c.vision = good.vision;
    c.audio = good.audio;
    c.hidden_size = 3840;
    EXPECT_TRUE(c.Validate().ok()) << c.Validate().ToString();
    EXPECT_EQ(CountParams(c).total(), CountParams(good).vision + CountParams(good).audio);
    c.hidden_size = 0;
    EXPECT_FALSE(c.Validate().ok());
  }
}

}  // namespace
}  // namespace loom::model
