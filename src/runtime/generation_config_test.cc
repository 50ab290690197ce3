#include "runtime/generation_config.h"

#include <gtest/gtest.h>

#include <string>

#include "model/config.h"

namespace loom::runtime {
namespace {

const std::string kShared = LOOM_SHARED_DIR;
const std::string kSource = LOOM_SOURCE_DIR;

TEST(GenerationConfigTest, Gemma4_12B) {
  auto g =
      LoadGenerationConfig(kShared + "/reference/gemma-4-12B-it/generation_config.json", 262144);
  if (!g.ok() && g.status().code() == StatusCode::kIoError) GTEST_SKIP() << "no shared reference";
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_EQ(g->eos_token_ids, (std::vector<int64_t>{1, 106, 50}));
  EXPECT_EQ(g->suppress_tokens, (std::vector<int64_t>{258883, 258882}));
  EXPECT_EQ(g->do_sample, true);
  EXPECT_EQ(g->top_k, 64);
  EXPECT_FLOAT_EQ(*g->top_p, 0.95f);
  EXPECT_FLOAT_EQ(*g->temperature, 1.0f);
  EXPECT_EQ(g->bos_token_id, 2);
  EXPECT_EQ(g->pad_token_id, 0);
  const SamplerParams p = g->ApplyTo(SamplerParams{});
  EXPECT_EQ(p.top_k, 64);
  EXPECT_EQ(p.suppress_tokens, (std::vector<int32_t>{258883, 258882}));
  EXPECT_TRUE(p.Validate(262144).ok());
}

TEST(GenerationConfigTest, FixtureDirAndDefaults) {
  const std::string dir = kSource + "/tests/fixtures/models/tiny-gemma4";
  auto g = LoadGenerationConfig(dir, 1024);
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_EQ(g->suppress_tokens, (std::vector<int64_t>{1005, 1004}));
  auto config = model::LoadHfConfig(dir + "/config.json");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  auto d = DefaultGenerationConfig(dir, *config);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->eos_token_ids, (std::vector<int64_t>{1, 106, 50}));
  // A GGUF (or a dir without the file) takes the model's EOS ids.
  auto m = DefaultGenerationConfig("/nonexistent/model.gguf", *config);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->eos_token_ids, config->eos_token_ids);
  EXPECT_FALSE(m->temperature.has_value());
  EXPECT_EQ(LoadGenerationConfig("/").status().code(), StatusCode::kNotFound);
}

Result<GenerationConfig> Parse(const std::string& text, int64_t vocab = 100) {
  auto j = json::ParseStrict(text, "test");
  if (!j.ok()) return j.status();
  return GenerationConfigFromJson(*j, "gen.json", vocab);
}

TEST(GenerationConfigTest, ScalarEosGreedyAndNulls) {
  auto g = Parse(R"({"eos_token_id": 7, "do_sample": false, "temperature": 0.7,
                     "suppress_tokens": null, "top_k": 0})");
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_EQ(g->eos_token_ids, (std::vector<int64_t>{7}));
  EXPECT_TRUE(g->suppress_tokens.empty());
  EXPECT_EQ(g->ApplyTo(SamplerParams{}).temperature, 0.0f);  // do_sample false wins
}

TEST(GenerationConfigTest, Errors) {
  auto g = Parse(R"({"eos_token_id": [1, 200]})");
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.status().message().find("eos_token_id id 200"), std::string::npos)
      << g.status().message();
  g = Parse(R"({"top_p": 1.5})");
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.status().message().find("top_p 1.5"), std::string::npos) << g.status().message();
  g = Parse(R"({"temperature": "hot"})");
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.status().message().find("temperature"), std::string::npos);
  g = Parse(R"({"top_k": -1})");
  EXPECT_FALSE(g.ok());
  g = Parse(R"([1])");
  EXPECT_FALSE(g.ok());
}

}  // namespace
}  // namespace loom::runtime
