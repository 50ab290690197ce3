// `loom convert` (gguf_export.h): the tiny fixtures round-trip through GGUF with their config,
// tensors and tokenizer intact; random models are deterministic and loadable; bad inputs fail
// with messages.
#include "model/gguf_export.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <vector>

#include "formats/gguf/gguf.h"
#include "formats/safetensors/safetensors.h"
#include "model/config.h"
#include "model/config_test_util.h"
#include "model/model.h"
#include "model/test_kv_store.h"
#include "model/weight_plan.h"
#include "tensor/fp16.h"
#include "tensor/quant.h"

namespace loom::model {
namespace {

namespace fs = std::filesystem;
using gguf::GgmlType;

std::string Fixture(const std::string& name) {
  return std::string(LOOM_SOURCE_DIR) + "/tests/fixtures/models/" + name;
}

class TempDir {
 public:
  TempDir() {
    path_ =
        fs::temp_directory_path() /
        ("loom_export_test_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
         "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

std::string ReadAll(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

TEST(ExportTypeTest, ParsesTheSupportedTypes) {
  EXPECT_EQ(*ParseExportType("q8_0"), GgmlType::kQ8_0);
  EXPECT_EQ(*ParseExportType("Q4_K"), GgmlType::kQ4_K);
  EXPECT_EQ(*ParseExportType("bf16"), GgmlType::kBF16);
  Result<GgmlType> bad = ParseExportType("Q3_K");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("'Q3_K'"), std::string::npos) << bad.status().message();
  EXPECT_FALSE(ParseExportType("int4").ok());
}

TEST(ExportTypeTest, LlamaCppRules) {
  // Norms and 1-D tensors stay F32 whatever the request.
  EXPECT_EQ(ExportTensorType("blk.0.attn_q_norm.weight", {256}, GgmlType::kQ8_0), GgmlType::kF32);
  EXPECT_EQ(ExportTensorType("blk.0.layer_output_scale.weight", {1}, GgmlType::kF16),
            GgmlType::kF32);
  EXPECT_EQ(ExportTensorType("blk.0.attn_q.weight", {3840, 4096}, GgmlType::kQ4_K),
            GgmlType::kQ4_K);
  EXPECT_EQ(ExportTensorType("token_embd.weight", {3840, 262144}, GgmlType::kQ4_K),
            GgmlType::kQ6_K);
  EXPECT_EQ(ExportTensorType("token_embd.weight", {3840, 262144}, GgmlType::kQ8_0),
            GgmlType::kQ8_0);
  // Rows that do not fit the block: Q8_0, then F16.
  EXPECT_EQ(ExportTensorType("blk.0.ffn_up.weight", {64, 96}, GgmlType::kQ4_K), GgmlType::kQ8_0);
  EXPECT_EQ(ExportTensorType("blk.0.ffn_up.weight", {48, 96}, GgmlType::kQ8_0), GgmlType::kF16);
  EXPECT_EQ(ExportTensorType("blk.0.ffn_up.weight", {48, 96}, GgmlType::kBF16), GgmlType::kBF16);
}

TEST(ExportNameTest, LlamaCppNames) {
  EXPECT_EQ(GgufTensorName("model.language_model.embed_tokens.weight"), "token_embd.weight");
  EXPECT_EQ(GgufTensorName("model.norm.weight"), "output_norm.weight");
  EXPECT_EQ(GgufTensorName("model.language_model.layers.11.self_attn.o_proj.weight"),
            "blk.11.attn_output.weight");
  EXPECT_EQ(GgufTensorName("model.layers.0.post_attention_layernorm.weight"),
            "blk.0.post_attention_norm.weight");
  EXPECT_EQ(GgufTensorName("model.layers.0.post_feedforward_layernorm.weight"),
            "blk.0.post_ffw_norm.weight");
  EXPECT_EQ(GgufTensorName("model.layers.0.pre_feedforward_layernorm.weight"),
            "blk.0.ffn_norm.weight");
  EXPECT_EQ(GgufTensorName("model.language_model.layers.3.layer_scalar"),
            "blk.3.layer_output_scale.weight");
  EXPECT_EQ(GgufTensorName("lm_head.weight"), "output.weight");
  EXPECT_EQ(GgufTensorName("model.vision_embedder.patch_dense.weight"), "");
  EXPECT_EQ(GgufTensorName("model.layers.x.mlp.up_proj.weight"), "");
}

struct Converted {
  ModelConfig hf;
  safetensors::Checkpoint ckpt;
};

// The source values of an HF tensor as floats.
std::vector<float> SourceFloats(const safetensors::TensorInfo& t) {
  std::vector<float> out(t.n_elements);
  for (uint64_t i = 0; i < t.n_elements; ++i) {
    if (t.dtype == safetensors::DType::kF32) {
      std::memcpy(&out[i], t.data.data() + 4 * i, 4);
    } else {
      uint16_t h;
      std::memcpy(&h, t.data.data() + 2 * i, 2);
      out[i] = t.dtype == safetensors::DType::kBF16 ? tensor::BF16ToF32(h) : tensor::F16ToF32(h);
    }
  }
  return out;
}

std::vector<float> GgufFloats(const gguf::File& f, const gguf::TensorInfo& t) {
  std::vector<float> out(t.n_elements);
  std::span<const uint8_t> data = f.TensorData(t);
  const int64_t row = static_cast<int64_t>(t.ne[0]);
  const size_t row_bytes = tensor::RowBytes(t.type, row);
  for (uint64_t r = 0; r < t.n_elements / t.ne[0]; ++r) {
    tensor::DequantizeRow(t.type, data.data() + r * row_bytes, out.data() + r * row, row);
  }
  return out;
}

class ExportFixtureTest : public ::testing::TestWithParam<const char*> {};

TEST_P(ExportFixtureTest, RoundTrip) {
  const std::string dir = Fixture(GetParam());
  const bool gemma3 = std::string(GetParam()).find("gemma3") != std::string::npos;
  TempDir tmp;
  Result<ModelConfig> hf = LoadHfConfig(dir + "/config.json");
  ASSERT_TRUE(hf.ok()) << hf.status().ToString();
  Result<safetensors::Checkpoint> ckpt = safetensors::OpenCheckpoint(dir);
  ASSERT_TRUE(ckpt.ok()) << ckpt.status().ToString();

  for (GgmlType type : {GgmlType::kF32, GgmlType::kF16, GgmlType::kQ8_0}) {
    SCOPED_TRACE(gguf::GetGgmlTypeInfo(type).name);
    const std::string out = tmp / "model.gguf";
    ExportOptions options;
    options.type = type;
    ExportReport report;
    Status s = ExportHfToGguf(dir, out, options, &report);
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(report.architecture, gemma3 ? "gemma3" : "gemma4");
    EXPECT_FALSE(fs::exists(out + ".tmp"));
    Result<gguf::File> f = gguf::Open(out);
    ASSERT_TRUE(f.ok()) << f.status().ToString();
    EXPECT_EQ(report.file_bytes, f->file_size());

    // The config read back equals the HF one, except what GGUF does not carry: the HF name,
    // the multimodal embedders (an mmproj file's business), and for Gemma 3 the norm mode
    // (the +1 is folded into the stored weights).
    Result<ModelConfig> back = ConfigFromGguf(*f);
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_TRUE(back->Validate().ok()) << back->Validate().ToString();
    std::set<std::string> skip = {"architecture", "vision.present", "audio.present"};
    if (gemma3) skip.insert("norm_weight");
    testing::ExpectSameConfig(*hf, *back, skip);
    if (gemma3) {
      EXPECT_EQ(back->norm_weight, NormWeightMode::kW);
    }

    // Every text tensor under its llama.cpp name and ggml shape; nothing else but rope_freqs.
    size_t expected = 0;
    for (const WeightSpec& w : ExpectedWeights(*hf)) {
      const std::string name = GgufTensorName(w.name);
      if (name.empty()) continue;  // multimodal
      ++expected;
      SCOPED_TRACE(name);
      const gguf::TensorInfo* t = f->FindTensor(name);
      ASSERT_NE(t, nullptr);
      ASSERT_EQ(t->n_dims, w.shape.size());
      for (size_t d = 0; d < w.shape.size(); ++d) {
        EXPECT_EQ(t->ne[d], w.shape[w.shape.size() - 1 - d]);
      }
      std::vector<uint64_t> ne(t->ne.begin(), t->ne.begin() + t->n_dims);
      EXPECT_EQ(t->type, ExportTensorType(name, ne, type));
      const safetensors::TensorInfo* src = ckpt->Find(w.name);
      ASSERT_NE(src, nullptr);
      std::vector<float> want = SourceFloats(*src);
      // Gemma3RMSNorm's 1 + w is stored folded, as llama.cpp does.
      if (gemma3 && name.find("norm.weight") != std::string::npos) {
        for (float& x : want) x += 1.0f;
      }
      std::vector<float> got = GgufFloats(*f, *t);
      ASSERT_EQ(got.size(), want.size());
      if (t->type == GgmlType::kF32) {
        EXPECT_EQ(got, want);  // exact
      } else {
        double err = 0, ref = 0;
        for (size_t i = 0; i < got.size(); ++i) {
          err += (got[i] - want[i]) * (got[i] - want[i]);
          ref += want[i] * want[i];
        }
        EXPECT_LT(err / ref, t->type == GgmlType::kF16 ? 1e-6 : 1e-4);
      }
    }
    if (!gemma3) {
      ++expected;
      const gguf::TensorInfo* rf = f->FindTensor("rope_freqs.weight");
      ASSERT_NE(rf, nullptr);
      std::vector<float> v = GgufFloats(*f, *rf);
      ASSERT_EQ(v.size(), 32u);  // global head dim 64 / 2; 8 rotated pairs (0.25)
      for (size_t i = 0; i < v.size(); ++i) EXPECT_EQ(v[i], i < 8 ? 1.0f : 1e30f) << i;
      EXPECT_EQ(report.skipped.size(), 11u);  // SPEC §3.5: the 11 multimodal tensors
    }
    EXPECT_EQ(f->tensors().size(), expected);

    // The vocabulary as llama.cpp stores it (loom's tokenizer encodes from it exactly as from
    // tokenizer.json: tests/cli/test_convert.py; the tokenizer module is not a dependency here).
    std::vector<std::string_view> tokens, merges;
    ASSERT_TRUE(f->GetStringArray("tokenizer.ggml.tokens", &tokens).ok());
    ASSERT_TRUE(f->GetStringArray("tokenizer.ggml.merges", &merges).ok());
    EXPECT_EQ(tokens.size(), 1024u);
    EXPECT_EQ(merges.size(), 554u);
    EXPECT_EQ(tokens[2], "<bos>");
    EXPECT_EQ(tokens[106], "<turn|>");
    std::string model;
    ASSERT_TRUE(f->GetString("tokenizer.ggml.model", &model).ok());
    EXPECT_EQ(model, gemma3 ? "llama" : "gemma4");
    std::vector<int64_t> types;
    ASSERT_TRUE(f->GetIntArray("tokenizer.ggml.token_type", &types).ok());
    EXPECT_EQ(types[106], 3);               // CONTROL (special in tokenizer.json)
    EXPECT_EQ(types[100], gemma3 ? 3 : 4);  // <|channel>: USER_DEFINED in llama.cpp's gemma4
    EXPECT_EQ(types[446], 1);               // NORMAL (the first merged piece)
  }
}

INSTANTIATE_TEST_SUITE_P(TinyModels, ExportFixtureTest,
                         ::testing::Values("tiny-gemma4", "tiny-gemma4-bf16", "tiny-gemma3"));

// A growing f32 cache (the runtime's KvCache is not a dependency of this module).
using TestKv = TestKvStore;

// Logits of every position of a 24-token prompt (longer than the fixtures' window of 16).
Result<std::vector<float>> Logits(const std::string& path) {
  LOOM_ASSIGN_OR_RETURN(std::unique_ptr<Model> m, Model::Load(path));
  std::vector<int32_t> tokens, pos;
  for (int32_t i = 0; i < 24; ++i) {
    tokens.push_back(i == 0 ? 2 : 200 + 37 * i % 800);
    pos.push_back(i);
  }
  TestKv kv(m->config());
  Batch b;
  b.tokens = tokens.data();
  b.positions = pos.data();
  b.n = static_cast<int64_t>(tokens.size());
  ForwardOutput out;
  out.logits_rows = b.n;
  LOOM_RETURN_IF_ERROR(m->Forward(b, &kv, nullptr, &out));
  return out.logits;
}

class ExportLogitsTest : public ::testing::TestWithParam<const char*> {};

// The converted file computes what the checkpoint computes: exactly (up to summation order)
// in F32, within Q8_0's rounding in Q8_0.
TEST_P(ExportLogitsTest, SameLogitsAsTheCheckpoint) {
  const std::string dir = Fixture(GetParam());
  TempDir tmp;
  Result<std::vector<float>> want = Logits(dir);
  ASSERT_TRUE(want.ok()) << want.status().ToString();
  for (GgmlType type : {GgmlType::kF32, GgmlType::kQ8_0}) {
    SCOPED_TRACE(gguf::GetGgmlTypeInfo(type).name);
    ExportOptions o;
    o.type = type;
    ExportReport report;
    ASSERT_TRUE(ExportHfToGguf(dir, tmp / "m.gguf", o, &report).ok());
    Result<std::vector<float>> got = Logits(tmp / "m.gguf");
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    ASSERT_EQ(got->size(), want->size());
    double err = 0, ref = 0;
    for (size_t i = 0; i < got->size(); ++i) {
      err += ((*got)[i] - (*want)[i]) * ((*got)[i] - (*want)[i]);
      ref += (*want)[i] * (*want)[i];
    }
    // Q8_0 weights (and the Q8_0 activations the matmul quantizes to) cost ~1e-3 on these
    // random-init 64-wide models; the greedy token must still agree nearly everywhere.
    EXPECT_LT(err / ref, type == GgmlType::kF32 ? 1e-10 : 5e-3) << "NMSE " << err / ref;
    const size_t vocab = got->size() / 24;
    int same = 0;
    for (size_t r = 0; r < 24; ++r) {
      auto row = [&](const std::vector<float>& v) {
        return std::max_element(v.begin() + r * vocab, v.begin() + (r + 1) * vocab) - v.begin();
      };
      same += row(*got) == row(*want);
    }
    EXPECT_GE(same, type == GgmlType::kF32 ? 24 : 21);
    std::printf("%s %s: logits NMSE %.3g, greedy agreement %d/24\n", GetParam(),
                gguf::GetGgmlTypeInfo(type).name, err / ref, same);
  }
}

INSTANTIATE_TEST_SUITE_P(TinyModels, ExportLogitsTest,
                         ::testing::Values("tiny-gemma4", "tiny-gemma3"));

TEST(ExportRandomTest, DeterministicLoadableAndFinite) {
  TempDir tmp;
  const std::string config = Fixture("tiny-gemma4") + "/config.json";
  RandomExportOptions o;
  o.base.type = GgmlType::kQ8_0;
  o.seed = 7;
  ExportReport report;
  ASSERT_TRUE(ExportRandomGguf(config, tmp / "a.gguf", o, &report).ok());
  ThreadPool pool(3);
  o.base.pool = &pool;  // the thread count must not change the bytes
  ASSERT_TRUE(ExportRandomGguf(config, tmp / "b.gguf", o, &report).ok());
  o.seed = 8;
  ASSERT_TRUE(ExportRandomGguf(config, tmp / "c.gguf", o, &report).ok());
  EXPECT_EQ(ReadAll(tmp / "a.gguf"), ReadAll(tmp / "b.gguf"));
  EXPECT_NE(ReadAll(tmp / "a.gguf"), ReadAll(tmp / "c.gguf"));

  Result<gguf::File> f = gguf::Open(tmp / "a.gguf");
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  Result<ModelConfig> back = ConfigFromGguf(*f);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  Result<ModelConfig> hf = LoadHfConfig(config);
  testing::ExpectSameConfig(*hf, *back, {"architecture", "vision.present", "audio.present"});
  for (const gguf::TensorInfo& t : f->tensors()) {
    std::vector<float> v = GgufFloats(*f, t);
    double sum2 = 0;
    for (float x : v) {
      ASSERT_TRUE(std::isfinite(x)) << t.name;
      sum2 += x * x;
    }
    const double rms = std::sqrt(sum2 / static_cast<double>(v.size()));
    const std::string name(t.name);
    if (name == "rope_freqs.weight") continue;
    if (t.n_dims == 1) {
      EXPECT_NEAR(rms, 1.0, 0.05) << name;  // norms and layer scalars ~1
    } else {
      const double want = name == "token_embd.weight"
                              ? 1.0 / std::sqrt(64.0)
                              : 1.0 / std::sqrt(static_cast<double>(t.ne[0]));
      EXPECT_NEAR(rms, want, 0.1 * want) << name;  // N(0, 1/fan_in)
    }
  }
  // The synthetic vocabulary: vocab_size tokens, the config's special ids, byte fallback.
  std::vector<std::string_view> tokens;
  ASSERT_TRUE(f->GetStringArray("tokenizer.ggml.tokens", &tokens).ok());
  ASSERT_EQ(tokens.size(), 1024u);
  EXPECT_EQ(tokens[2], "<bos>");
  EXPECT_EQ(tokens[106], "<turn|>");
  EXPECT_EQ(tokens[1000], "<|image>");  // the fixture's boi_token_id
  EXPECT_EQ(std::count_if(tokens.begin(), tokens.end(),
                          [](std::string_view t) { return t.substr(0, 3) == "<0x"; }),
            256);
}

TEST(ExportRandomTest, TokenizerFromGgufOrJson) {
  TempDir tmp;
  const std::string dir = Fixture("tiny-gemma3");
  ExportOptions base;
  base.type = GgmlType::kF16;
  ExportReport report;
  ASSERT_TRUE(ExportHfToGguf(dir, tmp / "src.gguf", base, &report).ok());
  for (const std::string& source : {tmp / "src.gguf", dir + "/tokenizer.json"}) {
    RandomExportOptions o;
    o.base = base;
    o.tokenizer = source;
    Status s = ExportRandomGguf(dir, tmp / "r.gguf", o, &report);
    ASSERT_TRUE(s.ok()) << s.ToString();
    Result<gguf::File> src = gguf::Open(tmp / "src.gguf");
    Result<gguf::File> got = gguf::Open(tmp / "r.gguf");
    ASSERT_TRUE(src.ok() && got.ok());
    std::vector<std::string_view> want_tokens, got_tokens;
    ASSERT_TRUE(src->GetStringArray("tokenizer.ggml.tokens", &want_tokens).ok());
    ASSERT_TRUE(got->GetStringArray("tokenizer.ggml.tokens", &got_tokens).ok());
    EXPECT_EQ(want_tokens, got_tokens) << source;
  }
}

TEST(ExportErrorTest, ClearMessages) {
  TempDir tmp;
  ExportOptions o;
  ExportReport report;
  Status s = ExportHfToGguf(tmp / "nothing", tmp / "x.gguf", o, &report);
  EXPECT_EQ(s.code(), StatusCode::kNotFound) << s.ToString();

  fs::create_directories(tmp / "empty");
  s = ExportHfToGguf(tmp / "empty", tmp / "x.gguf", o, &report);
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_NE(s.message().find("config.json"), std::string::npos) << s.ToString();

  fs::create_directories(tmp / "llama");
  std::ofstream(tmp / "llama/config.json") << R"({"model_type": "llama", "hidden_size": 64})";
  s = ExportHfToGguf(tmp / "llama", tmp / "x.gguf", o, &report);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("llama"), std::string::npos) << s.ToString();

  RandomExportOptions ro;
  s = ExportRandomGguf(tmp / "llama/config.json", tmp / "x.gguf", ro, &report);
  EXPECT_FALSE(s.ok());
  EXPECT_FALSE(fs::exists(tmp / "x.gguf"));

  // A tokenizer bigger than the config's vocabulary cannot serve it.
  ro.tokenizer = Fixture("tiny-gemma4") + "/tokenizer.json";
  std::string cfg = ReadAll(Fixture("tiny-gemma3") + "/config.json");
  cfg.replace(cfg.find("\"vocab_size\": 1024"), 18, "\"vocab_size\": 512");
  std::ofstream(tmp / "small.json") << cfg;
  s = ExportRandomGguf(tmp / "small.json", tmp / "x.gguf", ro, &report);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();

  // An output path that cannot be created leaves nothing behind.
  s = ExportHfToGguf(Fixture("tiny-gemma3"), tmp / "no/such/dir/x.gguf", o, &report);
  EXPECT_EQ(s.code(), StatusCode::kIoError) << s.ToString();
}

}  // namespace
}  // namespace loom::model
