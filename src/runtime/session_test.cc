// Session and KvCache on the tiny fixture models against the HF goldens
// (tests/fixtures/README.md "Text goldens").
#include "runtime/session.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/mapped_file.h"
#include "formats/json.h"
#include "formats/safetensors/safetensors.h"
#include "model/model.h"
#include "model/test_kv_store.h"
#include "runtime/generation_config.h"
#include "tensor/quant.h"

namespace loom::runtime {
namespace {

using tensor::GgmlType;

const std::string kFixtures = std::string(LOOM_SOURCE_DIR) + "/tests/fixtures";

struct Golden {
  std::vector<int32_t> prompt;       // 33 tokens
  std::vector<int32_t> greedy;       // 32 tokens
  std::vector<float> decode_logits;  // [32][vocab]
  double min_margin = 0;
};

Golden LoadGolden(const std::string& name) {
  Golden g;
  auto text = ReadFileToString(kFixtures + "/goldens/text/index.json", 1 << 26);
  EXPECT_TRUE(text.ok());
  auto j = json::ParseStrict(*text, "index.json");
  EXPECT_TRUE(j.ok());
  const auto& root = *j;
  for (int i = 0; i < 33; ++i) g.prompt.push_back(root["prompt"]["ids"][i].get<int32_t>());
  for (const auto& p : root["models"][name]["prompts"]) {
    if (p["length"].get<int>() != 33) continue;
    for (const auto& id : p["greedy_ids"]) g.greedy.push_back(id.get<int32_t>());
    g.min_margin = p["min_top1_margin_greedy_steps"].get<double>();
  }
  auto f = safetensors::Open(kFixtures + "/goldens/text/" + name + ".safetensors");
  EXPECT_TRUE(f.ok()) << f.status().ToString();
  if (f.ok()) {
    const auto* t = f->Find("decode_logits_p33");
    EXPECT_NE(t, nullptr);
    if (t != nullptr) {
      g.decode_logits.resize(t->n_elements);
      std::memcpy(g.decode_logits.data(), t->data.data(), t->data.size());
    }
  }
  return g;
}

std::unique_ptr<model::Model> LoadModel(const std::string& name) {
  auto m = model::Model::Load(kFixtures + "/models/" + name);
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  return m.ok() ? std::move(*m) : nullptr;
}

SessionOptions GreedyOptions(const model::Model& m, const std::string& name, GgmlType type,
                             int64_t max_batch) {
  SessionOptions o;
  o.kv.type = type;
  o.kv.max_context = 128;
  o.kv.max_batch = max_batch;
  auto gen = DefaultGenerationConfig(kFixtures + "/models/" + name, m.config());
  EXPECT_TRUE(gen.ok()) << gen.status().ToString();
  SamplerParams p;
  p.temperature = 0.0f;
  o.sampler = gen->ApplyTo(p);
  o.sampler.temperature = 0.0f;
  o.eos_token_ids = gen->eos_token_ids;
  o.max_new_tokens = 32;
  return o;
}

struct DecodeError {
  double nmse = 0;     // over all 32 steps
  double max_rel = 0;  // max |d| / max |golden| per row
};

class SessionGoldenTest : public ::testing::TestWithParam<std::string> {};

// Greedy 32 tokens after the 33-token prompt, for each KV type and prefill chunk (= max_batch,
// so chunk 1..3 also runs the sliding ring, window 16, through many wraps).
TEST_P(SessionGoldenTest, GreedyMatchesGolden) {
  const std::string name = GetParam();
  auto model = LoadModel(name);
  ASSERT_NE(model, nullptr);
  const Golden g = LoadGolden(name);
  ASSERT_EQ(g.greedy.size(), 32u);
  const int64_t vocab = model->config().vocab_size;
  ASSERT_EQ(g.decode_logits.size(), static_cast<size_t>(32 * vocab));
  ThreadPool pool(2);
  // Chunks 1..3 wrap the ring (16 - 1 + chunk slots) every few tokens.
  const std::vector<std::pair<GgmlType, std::vector<int64_t>>> cases = {
      {GgmlType::kF32, {1, 3, 7, 33}},
      {GgmlType::kF16, {2, 16}},
      {GgmlType::kBF16, {5}},
      {GgmlType::kQ8_0, {5}}};
  for (const auto& [type, chunks] : cases) {
    for (int64_t chunk : chunks) {
      auto s = Session::Create(model.get(), GreedyOptions(*model, name, type, chunk), &pool);
      ASSERT_TRUE(s.ok()) << s.status().ToString();
      Session& session = **s;
      ASSERT_TRUE(session.Prefill(g.prompt).ok());
      std::vector<int32_t> out;
      // Logit errors over the steps before the first greedy difference (after it the golden's
      // logits belong to another sequence).
      double err = 0, ref = 0, max_rel = 0, err0 = 0, ref0 = 0;
      bool same = true;
      while (!session.stopped()) {
        auto r = session.Step();
        ASSERT_TRUE(r.ok()) << r.status().ToString();
        const size_t step = out.size();
        const float* want = g.decode_logits.data() + step * vocab;
        if (same) {
          double row_max = 0, row_dev = 0;
          for (int64_t i = 0; i < vocab; ++i) {
            const double d = session.logits()[i] - want[i];
            err += d * d;
            ref += static_cast<double>(want[i]) * want[i];
            if (step == 0) {
              err0 += d * d;
              ref0 += static_cast<double>(want[i]) * want[i];
            }
            row_max = std::max(row_max, std::fabs(static_cast<double>(want[i])));
            row_dev = std::max(row_dev, std::fabs(d));
          }
          max_rel = std::max(max_rel, row_dev / row_max);
        }
        out.push_back(r->token);
        same = same && r->token == g.greedy[step];
      }
      size_t first_diff = 0;
      while (first_diff < out.size() && out[first_diff] == g.greedy[first_diff]) ++first_diff;
      EXPECT_EQ(session.stop_reason(), StopReason::kMaxTokens);
      const double nmse = err / ref;
      const char* tn = type == GgmlType::kF32    ? "F32"
                       : type == GgmlType::kF16  ? "F16"
                       : type == GgmlType::kBF16 ? "BF16"
                                                 : "Q8_0";
      std::printf(
          "%s kv %-4s chunk %2lld: step-0 NMSE %.3g, NMSE %.3g max-rel %.3g over %zu steps; "
          "greedy %s\n",
          name.c_str(), tn, static_cast<long long>(chunk), err0 / ref0, nmse, max_rel,
          std::min<size_t>(first_diff + 1, 32),
          first_diff == 32 ? "identical"
                           : ("differs at step " + std::to_string(first_diff)).c_str());
      if (type == GgmlType::kF32) {
        // The fp32 tolerance of the goldens.
        EXPECT_EQ(out, g.greedy) << tn << " chunk " << chunk;
        EXPECT_LT(nmse, 1e-8) << tn << " chunk " << chunk;
        EXPECT_LT(max_rel, 1e-4) << tn << " chunk " << chunk;
      } else if (type == GgmlType::kF16) {
        // F16 K/V keeps 11 bits: well inside every greedy margin of these goldens (>= 0.008).
        EXPECT_EQ(out, g.greedy) << tn << " chunk " << chunk;
        EXPECT_LT(nmse, 1e-5) << tn << " chunk " << chunk;
      } else {
        EXPECT_LT(err0 / ref0, 1e-2) << tn << " chunk " << chunk;  // greedy may differ
      }
      EXPECT_EQ(session.timings().prompt_tokens, 33);
      EXPECT_EQ(session.timings().decode_tokens, 31);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Tiny, SessionGoldenTest, ::testing::Values("tiny-gemma4", "tiny-gemma3"));

// A growing f32 cache keeping every position in order: the reference for KvCache.
using PlainKv = model::TestKvStore;

// Forward through KvCache equals forward through PlainKv holding the same rounded values in
// position order, chunk by chunk with logits for every token. Without wrapping the slots are
// in the same order: bit-identical. With a ring (16 - 1 + 4 slots) only the order of the
// softmax accumulation differs (~1e-7 relative), but a later layer may then round a K or V
// value to the neighbouring F16/BF16 number, so those types get one rounding step of slack.
TEST(KvCacheModelTest, ForwardMatchesPlainCache) {
  for (const char* name : {"tiny-gemma4", "tiny-gemma3"}) {
    auto model = LoadModel(name);
    ASSERT_NE(model, nullptr);
    const Golden g = LoadGolden(name);
    for (GgmlType type : {GgmlType::kF32, GgmlType::kF16, GgmlType::kBF16, GgmlType::kQ8_0}) {
      for (int64_t max_batch : {64, 4}) {
        KvCacheOptions o;
        o.type = type;
        o.max_context = 64;
        o.max_batch = max_batch;
        auto kv = KvCache::Create(model->config(), o);
        ASSERT_TRUE(kv.ok());
        PlainKv plain(model->config(), type);
        double max_dev = 0;
        for (int64_t at = 0; at < 33; at += 4) {
          const int64_t n = std::min<int64_t>(4, 33 - at);
          std::vector<int32_t> pos(n);
          for (int64_t i = 0; i < n; ++i) pos[i] = static_cast<int32_t>(at + i);
          model::Batch b;
          b.tokens = g.prompt.data() + at;
          b.positions = pos.data();
          b.n = n;
          model::ForwardOutput oa, ob;
          oa.logits_rows = ob.logits_rows = n;
          ASSERT_TRUE(model->Forward(b, kv->get(), nullptr, &oa).ok());
          ASSERT_TRUE(model->Forward(b, &plain, nullptr, &ob).ok());
          ASSERT_EQ(oa.logits.size(), ob.logits.size());
          for (size_t i = 0; i < oa.logits.size(); ++i) {
            max_dev =
                std::max(max_dev, std::fabs(static_cast<double>(oa.logits[i] - ob.logits[i])));
          }
        }
        const double tol = max_batch == 64           ? 0.0
                           : type == GgmlType::kF16  ? 5e-3
                           : type == GgmlType::kBF16 ? 3e-2
                                                     : 1e-4;
        EXPECT_LE(max_dev, tol) << name << " type " << static_cast<int>(type) << " max_batch "
                                << max_batch;
        EXPECT_EQ((*kv)->length(), 33);
      }
    }
  }
}

TEST(SessionTest, RollbackRegeneratesTheSameTokens) {
  auto model = LoadModel("tiny-gemma4");
  ASSERT_NE(model, nullptr);
  const Golden g = LoadGolden("tiny-gemma4");
  for (int64_t max_batch : {8, 64}) {
    auto o = GreedyOptions(*model, "tiny-gemma4", GgmlType::kF32, max_batch);
    o.max_new_tokens = -1;
    auto s = Session::Create(model.get(), o, nullptr).value();
    ASSERT_TRUE(s->Prefill(g.prompt).ok());
    std::vector<int32_t> out;
    for (int i = 0; i < 20; ++i) out.push_back(s->Step()->token);
    ASSERT_TRUE(s->Rollback(6).ok());
    EXPECT_EQ(s->tokens().size(), 33u + 14u);
    for (int i = 14; i < 20; ++i) EXPECT_EQ(s->Step()->token, out[i]) << i;
    // Back 7 tokens (the ring of window 16 + max_batch 8 allows it), or into the prompt.
    const int64_t back = max_batch == 8 ? 7 : 25;
    ASSERT_TRUE(s->Rollback(back).ok());
    const int64_t keep = static_cast<int64_t>(s->tokens().size());
    ASSERT_EQ(keep, 53 - back);
    if (keep < 33) {
      ASSERT_TRUE(s->Prefill(std::span<const int32_t>(g.prompt).subspan(keep)).ok());
    }
    std::vector<int32_t> again;
    while (s->tokens().size() < 33 + 32) again.push_back(s->Step()->token);
    EXPECT_EQ(again, std::vector<int32_t>(g.greedy.end() - static_cast<ptrdiff_t>(again.size()),
                                          g.greedy.end()));
    // Too far back for the ring (window 16, max_batch 8).
    if (max_batch == 8) {
      const Status st = s->Rollback(20);
      EXPECT_FALSE(st.ok());
      EXPECT_NE(st.message().find("max_batch = 8"), std::string::npos) << st.message();
    }
    EXPECT_FALSE(s->Rollback(1000).ok());
  }
}

TEST(SessionTest, SeededSamplingIsReproducible) {
  auto model = LoadModel("tiny-gemma4");
  ASSERT_NE(model, nullptr);
  const Golden g = LoadGolden("tiny-gemma4");
  auto o = GreedyOptions(*model, "tiny-gemma4", GgmlType::kF16, 16);
  o.sampler.temperature = 1.0f;
  o.sampler.top_k = 64;
  o.sampler.top_p = 0.95f;
  o.sampler.seed = 42;
  auto a = Session::Create(model.get(), o, nullptr).value()->Generate(g.prompt);
  auto b = Session::Create(model.get(), o, nullptr).value()->Generate(g.prompt);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, *b);
  o.sampler.seed = 43;
  auto c = Session::Create(model.get(), o, nullptr).value()->Generate(g.prompt);
  ASSERT_TRUE(c.ok());
  EXPECT_NE(*a, *c);
}

TEST(SessionTest, EosAndErrors) {
  auto model = LoadModel("tiny-gemma4");
  ASSERT_NE(model, nullptr);
  const Golden g = LoadGolden("tiny-gemma4");
  auto o = GreedyOptions(*model, "tiny-gemma4", GgmlType::kF16, 16);
  // Make the 3rd greedy token an EOS id: generation ends with it.
  o.eos_token_ids = {g.greedy[2]};
  auto s = Session::Create(model.get(), o, nullptr).value();
  auto out = s->Generate(g.prompt);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(*out, std::vector<int32_t>(g.greedy.begin(), g.greedy.begin() + 3));
  EXPECT_EQ(s->stop_reason(), StopReason::kEos);
  EXPECT_FALSE(s->Step().ok());
  // A new turn continues the sequence.
  ASSERT_TRUE(s->Prefill(std::vector<int32_t>{5, 6}).ok());
  EXPECT_TRUE(s->Step().ok());

  auto e = Session::Create(model.get(), o, nullptr).value();
  Status st = e->Prefill(std::span<const int32_t>());
  EXPECT_NE(st.message().find("empty prompt"), std::string::npos) << st.message();
  EXPECT_FALSE(e->Step().ok());  // no prefill
  o.kv.max_context = 20;
  auto small = Session::Create(model.get(), o, nullptr).value();
  st = small->Prefill(g.prompt);
  EXPECT_NE(st.message().find("need 33 positions, more than max_context 20"), std::string::npos)
      << st.message();
  st = small->Prefill(std::vector<int32_t>{1, 99999});
  EXPECT_NE(st.message().find("id 99999"), std::string::npos) << st.message();
  // The context fills: the last token gets no position to be forwarded at.
  ASSERT_TRUE(small->Prefill(std::vector<int32_t>(g.prompt.begin(), g.prompt.begin() + 18)).ok());
  auto r1 = small->Step();
  ASSERT_TRUE(r1.ok());
  EXPECT_EQ(r1->stop, StopReason::kNone);
  auto r2 = small->Step();
  ASSERT_TRUE(r2.ok()) << r2.status().ToString();
  EXPECT_EQ(r2->stop, StopReason::kContextFull);
  o.kv.max_context = 128;
  o.prefill_chunk = 17;
  EXPECT_FALSE(Session::Create(model.get(), o, nullptr).ok());
  o.prefill_chunk = 0;
  o.sampler.top_p = 0.0f;
  EXPECT_FALSE(Session::Create(model.get(), o, nullptr).ok());
}

}  // namespace
}  // namespace loom::runtime
