// ConfigFromGguf: GGUF files built with gguf::Writer the way llama.cpp's converter writes them
// must give the config the HF file gives (the differences are listed per test), and the real
// Gemma 3 270M GGUF (env LOOM_TEST_GGUF) must read.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "formats/gguf/gguf.h"
#include "formats/json.h"
#include "model/config.h"
#include "model/config_test_util.h"

namespace loom::model {
namespace {

using gguf::GgmlType;
using testing::ExpectGemma3_270mShape;
using testing::ExpectSameConfig;
using testing::FullAt;
using testing::Pattern;
using testing::SharedPath;

const std::string k12bPattern = FullAt({5, 11, 17, 23, 29, 35, 41, 47}, 48);

// A 262144-entry vocabulary with Gemma 4's media tokens at their ids (SPEC §1.1).
const std::vector<std::string>& Gemma4Tokens() {
  static const std::vector<std::string> tokens = [] {
    std::vector<std::string> t(262144);
    for (size_t i = 0; i < t.size(); ++i) t[i] = "t" + std::to_string(i);
    t[0] = "<pad>";
    t[1] = "<eos>";
    t[2] = "<bos>";
    t[255999] = "<|image>";
    t[256000] = "<|audio>";
    t[258880] = "<|image|>";
    t[258881] = "<|audio|>";
    t[258882] = "<image|>";
    t[258883] = "<audio|>";
    t[258884] = "<|video|>";
    return t;
  }();
  return tokens;
}

// Writes metadata unless the key is listed in `omit` (the Writer cannot delete keys).
class Builder {
 public:
  explicit Builder(std::set<std::string> omit = {}) : omit_(std::move(omit)) {}
  gguf::Writer& w() { return w_; }
  bool Want(const std::string& k) const { return omit_.count(k) == 0; }
  void U32(const std::string& k, uint32_t v) {
    if (Want(k)) w_.AddUint32(k, v);
  }
  void F32(const std::string& k, float v) {
    if (Want(k)) w_.AddFloat32(k, v);
  }
  void Str(const std::string& k, const std::string& v) {
    if (Want(k)) w_.AddString(k, v);
  }
  void I32s(const std::string& k, const std::vector<int32_t>& v) {
    if (Want(k)) w_.AddInt32Array(k, v);
  }
  void Bools(const std::string& k, const std::vector<bool>& v) {
    if (Want(k)) w_.AddBoolArray(k, v);
  }
  void Tensor(const std::string& name, std::vector<float> values, std::vector<uint64_t> ne) {
    std::vector<uint8_t> bytes(values.size() * 4);
    std::memcpy(bytes.data(), values.data(), bytes.size());
    Status s = w_.AddTensor(name, GgmlType::kF32, std::move(ne), bytes);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }

 private:
  gguf::Writer w_;
  std::set<std::string> omit_;
};

Result<ModelConfig> ConfigOf(const gguf::Writer& w) {
  std::vector<uint8_t> bytes = w.Serialize();
  auto f = gguf::Parse(bytes);
  if (!f.ok()) return f.status();
  return ConfigFromGguf(*f);  // copies what it keeps: `bytes` may go away afterwards
}

ModelConfig LoadHf(const char* rel) {
  auto c = LoadHfConfig(SharedPath(rel));
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return c.ok() ? *c : ModelConfig{};
}

void AddTokenizer(Builder* b, const std::vector<std::string>& tokens) {
  b->Str("tokenizer.ggml.model", "gemma4");
  if (b->Want("tokenizer.ggml.tokens")) b->w().AddStringArray("tokenizer.ggml.tokens", tokens);
  b->U32("tokenizer.ggml.bos_token_id", 2);
  b->U32("tokenizer.ggml.eos_token_id", 1);
  b->U32("tokenizer.ggml.padding_token_id", 0);
}

// Proportional RoPE as the converter writes it: 64 rotated pairs, 192 parked (SPEC §2.4/§10).
std::vector<float> RopeFreqs(int rotated, int total) {
  std::vector<float> v(static_cast<size_t>(total), 1e30f);
  for (int i = 0; i < rotated; ++i) v[static_cast<size_t>(i)] = 1.0f;
  return v;
}

// The 12B's text GGUF, key for key per SPEC §10; tensors only where the reader looks at them.
void Write12B(Builder* b) {
  const std::string p = "gemma4.";
  b->Str("general.architecture", "gemma4");
  b->U32(p + "context_length", 262144);
  b->U32(p + "embedding_length", 3840);
  b->U32(p + "block_count", 48);
  b->U32(p + "feed_forward_length", 15360);
  b->U32(p + "attention.head_count", 16);
  std::vector<int32_t> kv;
  std::vector<bool> swa;
  for (char t : k12bPattern) {
    kv.push_back(t == 'f' ? 1 : 8);
    swa.push_back(t == 's');
  }
  b->I32s(p + "attention.head_count_kv", kv);
  b->U32(p + "attention.key_length", 512);
  b->U32(p + "attention.key_length_swa", 256);
  b->U32(p + "attention.value_length", 512);
  b->U32(p + "attention.value_length_swa", 256);
  b->U32(p + "attention.sliding_window", 1024);
  b->Bools(p + "attention.sliding_window_pattern", swa);
  b->F32(p + "attention.layer_norm_rms_epsilon", 1e-6f);
  b->F32(p + "rope.freq_base", 1e6f);
  b->F32(p + "rope.freq_base_swa", 1e4f);
  b->U32(p + "rope.dimension_count", 512);
  b->U32(p + "rope.dimension_count_swa", 256);
  b->F32(p + "final_logit_softcapping", 30.0f);
  b->U32(p + "embedding_length_per_layer_input", 0);
  b->U32(p + "attention.shared_kv_layers", 0);
  AddTokenizer(b, Gemma4Tokens());
  b->U32("tokenizer.ggml.eot_token_id", 106);  // IT's <turn|>: config.json's eos [1, 106]
  if (b->Want("rope_freqs.weight")) b->Tensor("rope_freqs.weight", RopeFreqs(64, 256), {256});
  for (int l = 0; l < 48; ++l) {
    b->Tensor(StrCat("blk.", l, ".attn_q.weight"), {0.0f}, {1});
    // Full layers have no attn_v: the graph uses K's raw projection as V.
    if (k12bPattern[static_cast<size_t>(l)] == 's') {
      b->Tensor(StrCat("blk.", l, ".attn_v.weight"), {0.0f}, {1});
    }
  }
}

TEST(ConfigGgufTest, Gemma4MatchesHf12B) {
  Builder b;
  Write12B(&b);
  auto r = ConfigOf(b.w());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const ModelConfig& c = *r;
  ASSERT_TRUE(c.Validate().ok()) << c.Validate().ToString();
  EXPECT_EQ(c.architecture, "gemma4");
  EXPECT_EQ(Pattern(c), k12bPattern);
  EXPECT_EQ(c.rope_full.partial_rotary_factor, 0.25);  // 64 of 256 pairs from rope_freqs
  // Legitimate differences: the architecture string names the file format's arch, and the
  // text GGUF has no media embedders (they live in the mmproj file, see ClipProjector).
  ExpectSameConfig(c, LoadHf("reference/gemma-4-12B-it/config.json"),
                   {"architecture", "vision.present", "audio.present"});
  EXPECT_EQ(CountParams(c).text, 11907350320ull);
  KvPlan plan = PlanKvCache(c, 262144, 2);
  EXPECT_EQ(plan.sliding_bytes, 335544320ull);
  EXPECT_EQ(plan.full_bytes, 4294967296ull);
}

TEST(ConfigGgufTest, Gemma4ProportionalFactorFromRopeFreqs) {
  {
    Builder b({"rope_freqs.weight"});
    Write12B(&b);
    auto c = ConfigOf(b.w());
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    EXPECT_EQ(c->rope_full.partial_rotary_factor, 0.25);  // no tensor: Gemma 4's value
  }
  {
    Builder b({"rope_freqs.weight"});
    Write12B(&b);
    b.Tensor("rope_freqs.weight", RopeFreqs(32, 256), {256});
    auto c = ConfigOf(b.w());
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    EXPECT_EQ(c->rope_full.partial_rotary_factor, 0.125);
  }
  {
    Builder b({"rope_freqs.weight"});
    Write12B(&b);
    std::vector<float> f = RopeFreqs(64, 256);
    f[3] = 2.0f;  // a llama3-style factor, not proportional RoPE
    b.Tensor("rope_freqs.weight", f, {256});
    auto c = ConfigOf(b.w());
    EXPECT_EQ(c.status().code(), StatusCode::kUnimplemented);
    EXPECT_NE(c.status().message().find("rope_freqs.weight'[3]: 2"), std::string::npos)
        << c.status().ToString();
  }
  {
    Builder b({"rope_freqs.weight"});
    Write12B(&b);
    b.Tensor("rope_freqs.weight", RopeFreqs(64, 128), {128});
    auto c = ConfigOf(b.w());
    EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(c.status().message().find("expected key_length / 2 = 256"), std::string::npos)
        << c.status().ToString();
  }
}

// google/gemma-3-270m as llama.cpp converts it (the keys of the published GGUF).
void WriteGemma3_270m(Builder* b) {
  const std::string p = "gemma3.";
  b->Str("general.architecture", "gemma3");
  b->U32(p + "context_length", 32768);
  b->U32(p + "embedding_length", 640);
  b->U32(p + "block_count", 18);
  b->U32(p + "feed_forward_length", 2048);
  b->U32(p + "attention.head_count", 4);
  b->F32(p + "attention.layer_norm_rms_epsilon", 1e-6f);
  b->U32(p + "attention.key_length", 256);
  b->U32(p + "attention.value_length", 256);
  b->F32(p + "rope.freq_base", 1e6f);
  b->U32(p + "attention.sliding_window", 512);
  b->U32(p + "attention.head_count_kv", 1);
  b->Str("tokenizer.ggml.model", "llama");
  if (b->Want("tokenizer.ggml.tokens")) {
    b->w().AddStringArray("tokenizer.ggml.tokens", Gemma4Tokens());
  }
  b->U32("tokenizer.ggml.bos_token_id", 2);
  b->U32("tokenizer.ggml.eos_token_id", 1);
  b->U32("tokenizer.ggml.unknown_token_id", 3);
  b->U32("tokenizer.ggml.padding_token_id", 0);
}

constexpr const char* kGemma3_270m = R"({
  "model_type": "gemma3_text", "hidden_size": 640, "intermediate_size": 2048,
  "num_hidden_layers": 18, "num_attention_heads": 4, "num_key_value_heads": 1, "head_dim": 256,
  "vocab_size": 262144, "max_position_embeddings": 32768, "sliding_window": 512,
  "query_pre_attn_scalar": 256, "rope_theta": 1000000.0, "rope_local_base_freq": 10000.0,
  "rms_norm_eps": 1e-06, "bos_token_id": 2, "eos_token_id": 1, "pad_token_id": 0,
  "final_logit_softcapping": null, "attn_logit_softcapping": null, "_sliding_window_pattern": 6
})";

TEST(ConfigGgufTest, Gemma3MatchesHf270m) {
  Builder b;
  WriteGemma3_270m(&b);
  auto r = ConfigOf(b.w());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const ModelConfig& c = *r;
  ASSERT_TRUE(c.Validate().ok()) << c.Validate().ToString();
  // llama.cpp stores 1 + w in the file: the GGUF config scales by the stored weight.
  EXPECT_EQ(c.norm_weight, NormWeightMode::kW);
  EXPECT_EQ(Pattern(c), FullAt({5, 11, 17}, 18));  // llama.cpp's fixed 5:1 pattern
  auto hf = ConfigFromHfJson(*json::ParseStrict(kGemma3_270m, "t"));
  ASSERT_TRUE(hf.ok()) << hf.status().ToString();
  ExpectSameConfig(c, *hf, {"architecture", "norm_weight"});
  EXPECT_EQ(CountParams(c).total(), 268098176ull);
}

TEST(ConfigGgufTest, Gemma3PatternAndScalingKeys) {
  {
    Builder b;
    WriteGemma3_270m(&b);
    b.U32("gemma3.attention.sliding_window_pattern", 3);  // a period, llama.cpp-style
    b.F32("gemma3.rope.scaling.factor", 8.0f);
    b.Str("gemma3.rope.scaling.type", "linear");
    b.U32("gemma3.vocab_size", 262144);
    auto c = ConfigOf(b.w());
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    EXPECT_EQ(Pattern(*c), FullAt({2, 5, 8, 11, 14, 17}, 18));
    EXPECT_EQ(c->rope_full.type, RopeType::kLinear);
    EXPECT_EQ(c->rope_full.scaling_factor, 8.0);
    EXPECT_EQ(c->rope_sliding.type, RopeType::kDefault);
  }
  {
    Builder b;
    WriteGemma3_270m(&b);
    std::vector<bool> swa(18, true);
    swa[17] = false;
    b.Bools("gemma3.attention.sliding_window_pattern", swa);  // per layer, true = sliding
    auto c = ConfigOf(b.w());
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    EXPECT_EQ(Pattern(*c), FullAt({17}, 18));
  }
}

TEST(ConfigGgufTest, VocabFromTokenEmbedding) {
  // No vocab_size key and no token list: token_embd's rows are the vocabulary.
  Builder b({"tokenizer.ggml.tokens", "gemma3.embedding_length"});
  WriteGemma3_270m(&b);
  b.w().AddUint32("gemma3.embedding_length", 8);
  b.Tensor("token_embd.weight", std::vector<float>(8 * 300, 0.0f), {8, 300});
  auto c = ConfigOf(b.w());
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->vocab_size, 300);
  EXPECT_TRUE(c->tie_word_embeddings);
  b.Tensor("output.weight", std::vector<float>(8 * 300, 0.0f), {8, 300});
  EXPECT_FALSE(ConfigOf(b.w())->tie_word_embeddings);
}

void WriteAssistant(Builder* b) {
  const std::string p = "gemma4-assistant.";
  b->Str("general.architecture", "gemma4-assistant");
  b->U32(p + "context_length", 262144);
  b->U32(p + "embedding_length", 1024);
  b->U32(p + "embedding_length_out", 3840);
  b->U32(p + "block_count", 4);
  b->U32(p + "nextn_predict_layers", 4);
  b->U32(p + "feed_forward_length", 8192);
  b->U32(p + "attention.head_count", 16);
  b->I32s(p + "attention.head_count_kv", {8, 8, 8, 1});
  b->U32(p + "attention.key_length", 512);
  b->U32(p + "attention.key_length_swa", 256);
  b->U32(p + "attention.value_length", 512);
  b->U32(p + "attention.value_length_swa", 256);
  b->U32(p + "attention.sliding_window", 1024);
  b->Bools(p + "attention.sliding_window_pattern", {true, true, true, false});
  b->F32(p + "attention.layer_norm_rms_epsilon", 1e-6f);
  b->F32(p + "rope.freq_base", 1e6f);
  b->F32(p + "rope.freq_base_swa", 1e4f);
  b->U32(p + "rope.dimension_count", 512);
  b->U32(p + "rope.dimension_count_swa", 256);
  b->U32(p + "embedding_length_per_layer_input", 0);
  b->U32(p + "attention.shared_kv_layers", 4);
  AddTokenizer(b, Gemma4Tokens());
  b->Tensor("rope_freqs.weight", RopeFreqs(64, 256), {256});
}

TEST(ConfigGgufTest, AssistantMatchesHf) {
  Builder b;
  WriteAssistant(&b);
  auto r = ConfigOf(b.w());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_TRUE(r->Validate().ok()) << r->Validate().ToString();
  EXPECT_TRUE(r->is_drafter);
  EXPECT_EQ(r->backbone_hidden_size, 3840);
  EXPECT_EQ(r->kv_shared, std::vector<bool>(4, true));
  // k_eq_v: the HF file says attention_k_eq_v, but a drafter has no K/V tensors of its own, so
  // GGUF cannot tell; it does not matter (the drafter reads the target's stored K and V).
  // video_token_id: the assistant's config.json does not name it, its vocabulary does.
  ExpectSameConfig(*r, LoadHf("reference/gemma-4-12B-it-assistant/config.json"),
                   {"architecture", "k_eq_v", "video_token_id"});
  EXPECT_EQ(CountParams(*r).total(),
            CountParams(LoadHf("reference/gemma-4-12B-it-assistant/config.json")).total());
}

void WriteClip(Builder* b, uint32_t width) {
  b->Str("general.architecture", "clip");
  b->w().AddBool("clip.has_vision_encoder", true);
  b->w().AddBool("clip.has_audio_encoder", true);
  b->Str("clip.vision.projector_type", "gemma4uv");
  b->Str("clip.audio.projector_type", "gemma4ua");
  b->U32("clip.vision.image_size", 224);  // unused by the encoder-free embedder
  b->U32("clip.vision.patch_size", 16);
  b->U32("clip.vision.embedding_length", width);
  b->U32("clip.vision.projection_dim", width);
  b->U32("clip.vision.feed_forward_length", 0);
  b->U32("clip.vision.block_count", 0);
  b->U32("clip.vision.attention.head_count", 0);
  b->F32("clip.vision.attention.layer_norm_epsilon", 1e-6f);
  b->U32("clip.audio.embedding_length", 640);
  b->U32("clip.audio.projection_dim", width);
  b->F32("clip.audio.attention.layer_norm_epsilon", 1e-6f);
}

TEST(ConfigGgufTest, ClipProjector) {
  Builder b;
  WriteClip(&b, 3840);
  auto r = ConfigOf(b.w());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_TRUE(r->Validate().ok()) << r->Validate().ToString();
  EXPECT_EQ(r->architecture, "clip");
  EXPECT_EQ(r->num_layers, 0);
  EXPECT_EQ(r->hidden_size, 3840);
  ModelConfig hf = LoadHf("reference/gemma-4-12B-it/config.json");
  ModelConfig want;  // the HF config's embedders alone
  want.architecture = "clip";
  want.hidden_size = hf.hidden_size;
  want.vision = hf.vision;
  want.audio = hf.audio;
  ExpectSameConfig(*r, want, {"bidirectional"});
  ParamCount p = CountParams(*r), hp = CountParams(hf);
  EXPECT_EQ(p.text, 0u);
  EXPECT_EQ(p.vision, hp.vision);
  EXPECT_EQ(p.audio, hp.audio);

  // The position table's rows come from the tensor when it is there ([e, posemb, 2] in ggml).
  Builder small;
  WriteClip(&small, 8);
  small.Tensor("v.position_embd.weight", std::vector<float>(8 * 560 * 2, 0.0f), {8, 560, 2});
  auto s = ConfigOf(small.w());
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->vision.posemb_size, 560);
}

struct GgufBadCase {
  const char* name;
  std::function<void(Builder*)> write;
  StatusCode code;
  const char* needle;
};

TEST(ConfigGgufTest, BadFiles) {
  const std::vector<GgufBadCase> cases = {
      {"no architecture", [](Builder* b) { b->U32("gemma4.block_count", 48); },
       StatusCode::kNotFound, "general.architecture"},
      {"unknown architecture", [](Builder* b) { b->Str("general.architecture", "llama"); },
       StatusCode::kUnimplemented, "general.architecture 'llama' is not supported"},
      {"block_count wrong type",
       [](Builder* b) {
         Write12B(b);
         b->Str("gemma4.block_count", "48");
       },
       StatusCode::kInvalidArgument, "'gemma4.block_count' must be of an integer type"},
      {"huge block_count",
       [](Builder* b) {
         Write12B(b);
         b->U32("gemma4.block_count", 100000);
       },
       StatusCode::kOutOfRange, "gemma4.block_count: 100000 exceeds the limit of 512"},
      {"head_count_kv short",
       [](Builder* b) {
         Write12B(b);
         b->I32s("gemma4.attention.head_count_kv", std::vector<int32_t>(47, 8));
       },
       StatusCode::kInvalidArgument, "has 47 per-layer entries, block_count is 48"},
      {"missing key_length_swa",
       [](Builder* b) {
         Builder inner({"gemma4.attention.key_length_swa", "gemma4.attention.value_length_swa"});
         Write12B(&inner);
         *b = std::move(inner);
       },
       StatusCode::kNotFound, "'gemma4.attention.key_length_swa' not found"},
      {"missing sliding pattern",
       [](Builder* b) {
         Builder inner({"gemma4.attention.sliding_window_pattern"});
         Write12B(&inner);
         *b = std::move(inner);
       },
       StatusCode::kNotFound, "'gemma4.attention.sliding_window_pattern' not found"},
      {"value length differs",
       [](Builder* b) {
         Write12B(b);
         b->U32("gemma4.attention.value_length", 256);
       },
       StatusCode::kUnimplemented, "different K and V head dims"},
      {"per-layer ffn",
       [](Builder* b) {
         Write12B(b);
         std::vector<int32_t> ffn(48, 15360);
         ffn[40] = 30720;
         b->I32s("gemma4.feed_forward_length", ffn);
       },
       StatusCode::kUnimplemented, "per-layer feed-forward width"},
      {"experts",
       [](Builder* b) {
         Write12B(b);
         b->U32("gemma4.expert_count", 128);
       },
       StatusCode::kUnimplemented, "'gemma4.expert_count': 128"},
      {"per-layer embeddings",
       [](Builder* b) {
         Write12B(b);
         b->U32("gemma4.embedding_length_per_layer_input", 256);
       },
       StatusCode::kUnimplemented, "'gemma4.embedding_length_per_layer_input': 256"},
      {"kv sharing on a target",
       [](Builder* b) {
         Write12B(b);
         b->U32("gemma4.attention.shared_kv_layers", 20);
       },
       StatusCode::kUnimplemented, "'gemma4.attention.shared_kv_layers': 20"},
      {"last layer sliding",
       [](Builder* b) {
         Write12B(b);
         std::vector<bool> swa(48, true);
         b->Bools("gemma4.attention.sliding_window_pattern", swa);
       },
       StatusCode::kInvalidArgument, "layer_types[47]: the last layer is sliding"},
      {"partial rotation on sliding layers",
       [](Builder* b) {
         Write12B(b);
         b->U32("gemma4.rope.dimension_count_swa", 128);
       },
       StatusCode::kUnimplemented, "'gemma4.rope.dimension_count_swa': 128"},
      {"gemma3 yarn",
       [](Builder* b) {
         WriteGemma3_270m(b);
         b->F32("gemma3.rope.scaling.factor", 4.0f);
         b->Str("gemma3.rope.scaling.type", "yarn");
       },
       StatusCode::kUnimplemented, "'gemma3.rope.scaling.type': 'yarn'"},
      {"gemma3 missing eps",
       [](Builder* b) {
         Builder inner({"gemma3.attention.layer_norm_rms_epsilon"});
         WriteGemma3_270m(&inner);
         *b = std::move(inner);
       },
       StatusCode::kNotFound, "'gemma3.attention.layer_norm_rms_epsilon' not found"},
      {"drafter without backbone width",
       [](Builder* b) {
         Builder inner({"gemma4-assistant.embedding_length_out"});
         WriteAssistant(&inner);
         *b = std::move(inner);
       },
       StatusCode::kNotFound, "'gemma4-assistant.embedding_length_out' not found"},
      {"clip with another projector",
       [](Builder* b) {
         WriteClip(b, 3840);
         b->Str("clip.vision.projector_type", "gemma3");
       },
       StatusCode::kUnimplemented, "clip.vision.projector_type 'gemma3' is not supported"},
  };
  for (const GgufBadCase& bc : cases) {
    Builder b;
    bc.write(&b);
    auto r = ConfigOf(b.w());
    Status s = r.ok() ? r->Validate() : r.status();
    EXPECT_EQ(s.code(), bc.code) << bc.name << ": " << s.ToString();
    EXPECT_NE(s.message().find(bc.needle), std::string::npos)
        << bc.name << ": '" << s.message() << "' lacks '" << bc.needle << "'";
  }
}

// The published Gemma 3 270M GGUF (scripts/models.sh gemma3-270m), when the environment has it.
TEST(ConfigGgufTest, RealGemma3_270m) {
  const char* path = std::getenv("LOOM_TEST_GGUF");
  if (path == nullptr || *path == '\0') GTEST_SKIP() << "LOOM_TEST_GGUF is not set";
  auto f = gguf::Open(path);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  auto r = ConfigFromGguf(*f);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const ModelConfig& c = *r;
  ASSERT_TRUE(c.Validate().ok()) << c.Validate().ToString();
  EXPECT_EQ(c.architecture, "gemma3");
  ExpectGemma3_270mShape(c);
  EXPECT_EQ(c.rope_full.theta, 1e6);
  EXPECT_EQ(c.rope_sliding.theta, 1e4);
  EXPECT_FLOAT_EQ(static_cast<float>(c.rms_norm_eps), 1e-6f);
  EXPECT_EQ(c.attention_scale, 1.0 / 16.0);
  EXPECT_EQ(c.norm_weight, NormWeightMode::kW);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_EQ(c.bos_token_id, 2);
  EXPECT_EQ(c.eos_token_ids, (std::vector<int64_t>{1}));
  EXPECT_EQ(c.pad_token_id, 0);
  // The config's parameter count equals the elements the file holds.
  uint64_t elements = 0;
  for (const auto& t : f->tensors()) elements += t.n_elements;
  EXPECT_EQ(CountParams(c).total(), elements);
  EXPECT_EQ(elements, 268098176ull);
}

}  // namespace
}  // namespace loom::model
