// Media end to end against the oracle (tests/fixtures/MEDIA.md, "Model outputs"): files ->
// preprocessing -> embedders -> expanded prompt -> decoder, for the image, audio and video
// goldens of the tiny Gemma 4 Unified model; through its HF checkpoint and through a GGUF +
// mmproj pair converted from it. Checks the expanded ids and block layout exactly, the
// embedders' outputs and the logits at every position (NMSE < 1e-8), and the 16 greedy tokens.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "base/mapped_file.h"
#include "base/thread_pool.h"
#include "formats/json.h"
#include "formats/safetensors/safetensors.h"
#include "media/prompt.h"
#include "model/gguf_export.h"
#include "model/model.h"
#include "runtime/kv_cache.h"
#include "runtime/session.h"
#include "tokenizer/tokenizer.h"

namespace loom {
namespace {

std::string Fixture(const std::string& rel) {
  return std::string(LOOM_SOURCE_DIR) + "/tests/fixtures/" + rel;
}

struct Golden {
  std::map<std::string, std::vector<float>> f32;
  std::map<std::string, std::vector<int64_t>> i64;
  std::map<std::string, std::vector<uint64_t>> shape;
};

Golden ReadGolden(const std::string& path) {
  Golden g;
  auto f = safetensors::Open(path);
  EXPECT_TRUE(f.ok()) << f.status().ToString();
  if (!f.ok()) return g;
  for (const safetensors::TensorInfo& t : f->tensors()) {
    g.shape[t.name] = t.shape;
    if (t.dtype == safetensors::DType::kF32) {
      auto& v = g.f32[t.name];
      v.resize(t.n_elements);
      std::memcpy(v.data(), t.data.data(), t.data.size());
    } else if (t.dtype == safetensors::DType::kI64) {
      auto& v = g.i64[t.name];
      v.resize(t.n_elements);
      std::memcpy(v.data(), t.data.data(), t.data.size());
    } else if (t.dtype == safetensors::DType::kU8) {
      auto& v = g.i64[t.name];
      for (uint8_t b : t.data) v.push_back(b);
    }
  }
  return g;
}

double Nmse(const float* got, const float* want, size_t n) {
  double num = 0, den = 0;
  for (size_t i = 0; i < n; ++i) {
    const double d = static_cast<double>(got[i]) - want[i];
    num += d * d;
    den += static_cast<double>(want[i]) * want[i];
  }
  return den > 0 ? num / den : num;
}

struct Case {
  const char* kind;  // goldens/<kind>/
  media::MediaKind media_kind;
  const char* file;  // media/<file>
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.kind; }

const Case kCases[] = {
    {"image", media::MediaKind::kImage, "tiny.png"},
    {"audio", media::MediaKind::kAudio, "speech_16k.wav"},
    {"video", media::MediaKind::kVideo, "testsrc_96x64_10fps.mp4"},
};

struct Expect {
  std::string prompt;
  std::vector<int32_t> greedy;
  std::vector<int32_t> suppress;
  media::MediaOptions options;
};

Expect ReadExpect(const Case& c) {
  Expect e;
  auto text = ReadFileToString(Fixture(std::string("goldens/") + c.kind + "/index.json"), 1 << 24);
  EXPECT_TRUE(text.ok());
  auto root = json::ParseStrict(text.value(), "index.json");
  EXPECT_TRUE(root.ok()) << root.status().ToString();
  const json::Json& m = (*root)["model_tiny_fp32"];
  e.prompt = m["prompt"].get<std::string>();
  for (const auto& t : m["greedy_new_tokens"]) e.greedy.push_back(t.get<int32_t>());
  for (const auto& t : m["suppress_tokens"]) e.suppress.push_back(t.get<int32_t>());
  const json::Json& kw = m["processor_kwargs"];
  if (kw.contains("images_kwargs")) {
    e.options.image_budget = kw["images_kwargs"]["max_soft_tokens"].get<int64_t>();
  }
  if (kw.contains("videos_kwargs")) {
    e.options.video_frames = kw["videos_kwargs"]["num_frames"].get<int>();
  }
  return e;
}

class MultimodalTest : public ::testing::TestWithParam<Case> {
 protected:
  static void SetUpTestSuite() {
    pool_ = new ThreadPool(2);
    auto hf = model::Model::Load(Fixture("models/tiny-gemma4"));
    ASSERT_TRUE(hf.ok()) << hf.status().ToString();
    hf_ = hf.value().release();
    auto tok = tokenizer::Tokenizer::Load(Fixture("models/tiny-gemma4"));
    ASSERT_TRUE(tok.ok()) << tok.status().ToString();
    tok_ = new tokenizer::Tokenizer(std::move(tok).value());
    // The same model as GGUF + mmproj (F32, so the comparison stays at f32 precision).
    dir_ = new std::string(::testing::TempDir() + "/loom_mm_" + std::to_string(getpid()));
    std::filesystem::create_directories(*dir_);
    model::ExportOptions eo;
    eo.type = gguf::GgmlType::kF32;
    model::ExportReport report;
    ASSERT_TRUE(
        model::ExportHfToGguf(Fixture("models/tiny-gemma4"), *dir_ + "/m.gguf", eo, &report).ok());
    Status st =
        model::ExportHfMmproj(Fixture("models/tiny-gemma4"), *dir_ + "/mmproj.gguf", eo, &report);
    ASSERT_TRUE(st.ok()) << st.ToString();
    model::LoadOptions lo;
    lo.mmproj = *dir_ + "/mmproj.gguf";
    auto gg = model::Model::Load(*dir_ + "/m.gguf", lo);
    ASSERT_TRUE(gg.ok()) << gg.status().ToString();
    gguf_ = gg.value().release();
  }
  static void TearDownTestSuite() {
    delete hf_;
    delete gguf_;
    delete tok_;
    delete pool_;
    if (dir_ != nullptr) std::filesystem::remove_all(*dir_);
    delete dir_;
  }

  // Assembles the golden prompt with `model`'s embedders and checks it, the logits of one
  // forward over it and the greedy continuation.
  void Run(model::Model* model, const Case& c, double logits_bound) {
    const Expect e = ReadExpect(c);
    const Golden g =
        ReadGolden(Fixture(std::string("goldens/") + c.kind + "/model_tiny_fp32.safetensors"));
    auto item =
        media::PrepareMediaFile(c.media_kind, Fixture(std::string("media/") + c.file), e.options);
    ASSERT_TRUE(item.ok()) << item.status().ToString();
    std::vector<media::MediaItem> items;
    items.push_back(std::move(item).value());
    media::PromptAssembler pa(*model, *tok_, pool_);
    media::PromptAssembler::Cursor cursor;
    ASSERT_TRUE(pa.AddTextWithMedia(e.prompt, /*special=*/true, items, &cursor).ok());
    ASSERT_TRUE(media::PromptAssembler::CheckAllUsed(items, cursor).ok());
    auto prompt_r = pa.Take();
    ASSERT_TRUE(prompt_r.ok()) << prompt_r.status().ToString();
    const runtime::PromptInput prompt = std::move(prompt_r).value();

    // Expanded ids and the token types exactly.
    const std::vector<int64_t>& ids = g.i64.at("input_ids");
    ASSERT_EQ(prompt.tokens.size(), ids.size());
    for (size_t i = 0; i < ids.size(); ++i) ASSERT_EQ(prompt.tokens[i], ids[i]) << "token " << i;
    const std::vector<int64_t>& types = g.i64.at("mm_token_type_ids");
    for (size_t i = 0; i < ids.size(); ++i) {
      EXPECT_EQ(prompt.replace[i] != 0, types[i] != 0) << "token " << i;
      EXPECT_EQ(prompt.blocks[i] >= 0, types[i] == 1 || types[i] == 2) << "token " << i;
      if (i > 0 && prompt.blocks[i] >= 0 && prompt.blocks[i - 1] >= 0) {
        EXPECT_EQ(prompt.blocks[i], prompt.blocks[i - 1]) << "one frame is one block";
      }
    }
    // The scattered embeddings.
    const int64_t h = model->config().hidden_size;
    const std::vector<float>& want_embeds = g.f32.at("inputs_embeds");
    std::vector<float> got_soft, want_soft;
    for (size_t i = 0; i < ids.size(); ++i) {
      if (!prompt.replace[i]) continue;
      got_soft.insert(got_soft.end(), prompt.embeddings.begin() + i * h,
                      prompt.embeddings.begin() + (i + 1) * h);
      want_soft.insert(want_soft.end(), want_embeds.begin() + i * h,
                       want_embeds.begin() + (i + 1) * h);
    }
    EXPECT_LT(Nmse(got_soft.data(), want_soft.data(), got_soft.size()), logits_bound)
        << "mm_embeddings";

    // Logits at every position, one forward (the session's chunking keeps blocks whole).
    runtime::SessionOptions so;
    so.kv.type = tensor::GgmlType::kF32;
    so.kv.max_context = 512;
    so.kv.max_batch = 512;
    so.sampler.temperature = 0;
    so.sampler.suppress_tokens = e.suppress;
    so.max_new_tokens = static_cast<int64_t>(e.greedy.size());
    {
      auto kv = runtime::KvCache::Create(model->config(), so.kv);
      ASSERT_TRUE(kv.ok());
      model::Batch b;
      std::vector<int32_t> pos(ids.size());
      for (size_t i = 0; i < pos.size(); ++i) pos[i] = static_cast<int32_t>(i);
      b.tokens = prompt.tokens.data();
      b.positions = pos.data();
      b.n = static_cast<int64_t>(ids.size());
      b.replace = prompt.replace.data();
      b.embeddings = prompt.embeddings.data();
      b.blocks = prompt.blocks.data();
      model::ForwardOutput out;
      out.logits_rows = b.n;
      Status st = model->Forward(b, kv.value().get(), pool_, &out);
      ASSERT_TRUE(st.ok()) << st.ToString();
      const std::vector<float>& want = g.f32.at("logits");
      ASSERT_EQ(out.logits.size(), want.size());
      const int64_t v = model->config().vocab_size;
      double worst = 0;
      for (size_t t = 0; t < ids.size(); ++t) {
        worst = std::max(worst, Nmse(out.logits.data() + t * v, want.data() + t * v, v));
      }
      EXPECT_LT(worst, logits_bound) << "worst per-position logits NMSE";
    }
    // Greedy continuation through a session (chunk 16: the session must not split a block).
    for (int64_t chunk : {int64_t{512}, int64_t{16}}) {
      so.prefill_chunk = std::min<int64_t>(chunk, so.kv.max_batch);
      auto s = runtime::Session::Create(model, so, pool_);
      ASSERT_TRUE(s.ok()) << s.status().ToString();
      Status st = s.value()->Prefill(prompt);
      ASSERT_TRUE(st.ok()) << st.ToString();
      std::vector<int32_t> got;
      while (!s.value()->stopped()) {
        auto r = s.value()->Step();
        ASSERT_TRUE(r.ok()) << r.status().ToString();
        got.push_back(r->token);
      }
      EXPECT_EQ(got, e.greedy) << "chunk " << chunk;
    }
  }

  static ThreadPool* pool_;
  static model::Model* hf_;
  static model::Model* gguf_;
  static tokenizer::Tokenizer* tok_;
  static std::string* dir_;
};

ThreadPool* MultimodalTest::pool_ = nullptr;
model::Model* MultimodalTest::hf_ = nullptr;
model::Model* MultimodalTest::gguf_ = nullptr;
tokenizer::Tokenizer* MultimodalTest::tok_ = nullptr;
std::string* MultimodalTest::dir_ = nullptr;

TEST_P(MultimodalTest, HfCheckpointMatchesReference) { Run(hf_, GetParam(), 1e-8); }

TEST_P(MultimodalTest, GgufWithMmprojMatchesReference) { Run(gguf_, GetParam(), 1e-8); }

INSTANTIATE_TEST_SUITE_P(Goldens, MultimodalTest, ::testing::ValuesIn(kCases),
                         [](const auto& p) { return std::string(p.param.kind); });

// The vision embedder's intermediates (SPEC §3.3) for the image golden.
TEST_F(MultimodalTest, VisionEmbedderIntermediates) {
  const Expect e = ReadExpect(kCases[0]);
  const Golden g = ReadGolden(Fixture("goldens/image/model_tiny_fp32.safetensors"));
  auto item =
      media::PrepareMediaFile(media::MediaKind::kImage, Fixture("media/tiny.png"), e.options);
  ASSERT_TRUE(item.ok()) << item.status().ToString();
  const media::Patches& p = item->frames[0];
  for (model::Model* m : {hf_, gguf_}) {
    model::VisionTrace trace;
    std::vector<float> out(static_cast<size_t>(p.n * m->config().hidden_size));
    Status st = m->media()->EmbedImage(p.values.data(), p.pos_x.data(), p.pos_y.data(), p.n,
                                       out.data(), pool_, &trace);
    ASSERT_TRUE(st.ok()) << st.ToString();
    EXPECT_LT(Nmse(trace.patch_dense.data(), g.f32.at("vision.patch_dense").data(), out.size()),
              1e-8);
    EXPECT_LT(Nmse(trace.patch_ln2.data(), g.f32.at("vision.patch_ln2").data(), out.size()), 1e-8);
    EXPECT_LT(Nmse(trace.pos_norm.data(), g.f32.at("vision.pos_norm").data(), out.size()), 1e-8);
    EXPECT_LT(Nmse(out.data(), g.f32.at("mm_embeddings").data(), out.size()), 1e-8);
  }
}

// Media for a model without that modality is a clear error, not a crash.
TEST_F(MultimodalTest, TextOnlyModelRejectsMedia) {
  auto text_only = model::Model::Load(Fixture("models/tiny-gemma3"));
  ASSERT_TRUE(text_only.ok()) << text_only.status().ToString();
  auto tok = tokenizer::Tokenizer::Load(Fixture("models/tiny-gemma3"));
  ASSERT_TRUE(tok.ok());
  media::MediaOptions o;
  o.image_budget = 70;
  for (const Case& c : kCases) {
    if (c.media_kind == media::MediaKind::kVideo) o.video_frames = 4;
    auto item = media::PrepareMediaFile(c.media_kind, Fixture(std::string("media/") + c.file), o);
    ASSERT_TRUE(item.ok()) << item.status().ToString();
    media::PromptAssembler pa(*text_only.value(), tok.value(), nullptr);
    Status st = pa.AddMedia(item.value());
    ASSERT_FALSE(st.ok()) << c.kind;
    EXPECT_NE(st.message().find(std::string(c.kind) + " input is not supported"), std::string::npos)
        << st.ToString();
  }
  // And a GGUF loaded without its mmproj.
  auto bare = model::Model::Load(*dir_ + "/m.gguf");
  ASSERT_TRUE(bare.ok());
  auto item = media::PrepareMediaFile(media::MediaKind::kAudio, Fixture("media/speech_16k.wav"), o);
  ASSERT_TRUE(item.ok());
  media::PromptAssembler pa(*bare.value(), *tok_, nullptr);
  Status st = pa.AddMedia(item.value());
  EXPECT_NE(st.message().find("--mmproj"), std::string::npos) << st.ToString();
}

// Placeholders and items must pair up.
TEST_F(MultimodalTest, PlaceholderCountsMustMatch) {
  media::MediaOptions o;
  o.image_budget = 70;
  auto item = media::PrepareMediaFile(media::MediaKind::kImage, Fixture("media/tiny.png"), o);
  ASSERT_TRUE(item.ok());
  std::vector<media::MediaItem> items{item.value()};
  {
    media::PromptAssembler pa(*hf_, *tok_, nullptr);
    media::PromptAssembler::Cursor cur;
    Status st = pa.AddTextWithMedia("<|image|> and <|image|>", false, items, &cur);
    EXPECT_FALSE(st.ok());
    EXPECT_NE(st.message().find("more <|image|> placeholders than image inputs"), std::string::npos)
        << st.ToString();
  }
  {
    media::PromptAssembler pa(*hf_, *tok_, nullptr);
    media::PromptAssembler::Cursor cur;
    ASSERT_TRUE(pa.AddTextWithMedia("no placeholder", false, items, &cur).ok());
    Status st = media::PromptAssembler::CheckAllUsed(items, cur);
    EXPECT_NE(st.message().find("1 image inputs but 0 <|image|> placeholders"), std::string::npos)
        << st.ToString();
  }
}

}  // namespace
}  // namespace loom
