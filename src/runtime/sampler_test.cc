#include "runtime/sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <map>
#include <vector>

namespace loom::runtime {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

SamplerParams Greedy() {
  SamplerParams p;
  p.temperature = 0.0f;
  return p;
}

int32_t SampleOnce(const SamplerParams& p, const std::vector<float>& logits,
                   const std::vector<int32_t>& history = {}) {
  Sampler s(p, static_cast<int64_t>(logits.size()));
  auto r = s.Sample(logits.data(), history);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : -1;
}

// Empirical frequencies of n draws.
std::vector<double> Frequencies(const SamplerParams& p, const std::vector<float>& logits, int n) {
  Sampler s(p, static_cast<int64_t>(logits.size()));
  std::vector<double> f(logits.size(), 0.0);
  for (int i = 0; i < n; ++i) f[static_cast<size_t>(*s.Sample(logits.data(), {}))] += 1.0 / n;
  return f;
}

TEST(SamplerTest, GreedySuppressBias) {
  const std::vector<float> l = {1.0f, 3.0f, 2.0f, -1.0f};
  EXPECT_EQ(SampleOnce(Greedy(), l), 1);
  auto p = Greedy();
  p.suppress_tokens = {1};
  EXPECT_EQ(SampleOnce(p, l), 2);
  p.logit_bias = {{3, 5.0f}};
  EXPECT_EQ(SampleOnce(p, l), 3);
  p.logit_bias = {{2, -kInf}};
  EXPECT_EQ(SampleOnce(p, l), 0);
  // NaN never wins.
  EXPECT_EQ(SampleOnce(Greedy(), {std::nanf(""), 0.5f, 0.1f}), 1);
}

TEST(SamplerTest, RepetitionPenaltyLlamaCppSemantics) {
  // Token 0 positive: divided; token 1 negative: multiplied.
  const std::vector<float> l = {2.0f, -0.5f, 1.5f, -0.9f};
  auto p = Greedy();
  p.repetition_penalty = 2.0f;
  EXPECT_EQ(SampleOnce(p, l, {0}), 2);  // 2 / 2 = 1 < 1.5
  // Among negatives: -0.5 * 2 = -1 < -0.9.
  EXPECT_EQ(SampleOnce(p, {-0.5f, -0.9f}, {0}), 1);
  // Only the last N tokens count.
  p.penalty_last_n = 1;
  EXPECT_EQ(SampleOnce(p, l, {0, 3}), 0);
  p.penalty_last_n = 0;  // off
  EXPECT_EQ(SampleOnce(p, l, {0}), 0);
}

TEST(SamplerTest, PresenceAndFrequencyPenalties) {
  const std::vector<float> l = {2.0f, 1.6f, 0.0f};
  auto p = Greedy();
  p.presence_penalty = 0.3f;
  EXPECT_EQ(SampleOnce(p, l, {0, 0, 0}), 0);  // 1.7 > 1.6
  p.presence_penalty = 0.0f;
  p.frequency_penalty = 0.2f;
  EXPECT_EQ(SampleOnce(p, l, {0}), 0);        // 1.8
  EXPECT_EQ(SampleOnce(p, l, {0, 0, 0}), 1);  // 1.4
  p.penalty_last_n = 2;
  EXPECT_EQ(SampleOnce(p, l, {0, 0, 0}), 0);  // two counted: 1.6 tie -> lower id
  p.penalty_last_n = -1;
  EXPECT_EQ(SampleOnce(p, l, {0, 0, 0}), 1);
}

TEST(SamplerTest, TopKAndTopPAndMinP) {
  // Probabilities at T=1 proportional to e^l.
  const std::vector<float> l = {std::log(0.5f), std::log(0.3f), std::log(0.15f), std::log(0.05f)};
  SamplerParams p;
  p.seed = 7;
  p.top_k = 1;
  for (int i = 0; i < 20; ++i) EXPECT_EQ(SampleOnce(p, l), 0);
  p.top_k = 2;
  auto f = Frequencies(p, l, 4000);
  EXPECT_EQ(f[2] + f[3], 0.0);
  EXPECT_NEAR(f[0], 0.5 / 0.8, 0.03);
  // top_p 0.75: 0.5 + 0.3 reaches it, so {0, 1}; 0.81 needs token 2 as well.
  p.top_k = 0;
  p.top_p = 0.75f;
  f = Frequencies(p, l, 4000);
  EXPECT_EQ(f[2] + f[3], 0.0);
  p.top_p = 0.81f;
  f = Frequencies(p, l, 4000);
  EXPECT_GT(f[2], 0.1);
  EXPECT_EQ(f[3], 0.0);
  p.top_p = 0.1f;  // the best token alone
  f = Frequencies(p, l, 100);
  EXPECT_NEAR(f[0], 1.0, 1e-9);
  // min_p 0.2: keeps p >= 0.1 (tokens 0, 1, 2).
  p.top_p = 1.0f;
  p.min_p = 0.2f;
  f = Frequencies(p, l, 4000);
  EXPECT_EQ(f[3], 0.0);
  EXPECT_NEAR(f[2], 0.15 / 0.95, 0.03);
  // min_p with top_p: intersection.
  p.top_p = 0.75f;
  f = Frequencies(p, l, 2000);
  EXPECT_EQ(f[2] + f[3], 0.0);
}

TEST(SamplerTest, TemperatureSharpensAndFlattens) {
  const std::vector<float> l = {1.0f, 0.0f};
  SamplerParams p;
  p.temperature = 0.25f;  // p0 = 1 / (1 + e^-4)
  EXPECT_NEAR(Frequencies(p, l, 5000)[0], 1.0 / (1.0 + std::exp(-4.0)), 0.02);
  p.temperature = 4.0f;  // p0 = 1 / (1 + e^-0.25)
  EXPECT_NEAR(Frequencies(p, l, 5000)[0], 1.0 / (1.0 + std::exp(-0.25)), 0.02);
}

TEST(SamplerTest, SameSeedSameTokens) {
  std::vector<float> l(1000);
  for (size_t i = 0; i < l.size(); ++i) l[i] = std::sin(static_cast<float>(i) * 0.7f) * 3.0f;
  for (int mode = 0; mode < 3; ++mode) {
    SamplerParams p;
    p.seed = 1234;
    if (mode == 1) p.top_k = 40;
    if (mode == 2) p.top_p = 0.9f;
    Sampler a(p, 1000), b(p, 1000);
    std::vector<int32_t> ta, tb;
    for (int i = 0; i < 50; ++i) {
      ta.push_back(*a.Sample(l.data(), {}));
      tb.push_back(*b.Sample(l.data(), {}));
    }
    EXPECT_EQ(ta, tb);
    p.seed = 1235;
    Sampler c(p, 1000);
    std::vector<int32_t> tc;
    for (int i = 0; i < 50; ++i) tc.push_back(*c.Sample(l.data(), {}));
    EXPECT_NE(ta, tc);
    a.Reseed(1234);
    EXPECT_EQ(*a.Sample(l.data(), {}), ta[0]);
  }
}

// Pearson chi-square of 20,000 draws over 8 tokens against the softmax; the seed is fixed, so
// the statistic is a fixed number (not flaky); 7 degrees of freedom, 99.9% quantile 24.3.
TEST(SamplerTest, DistributionChiSquare) {
  const std::vector<float> l = {0.1f, 1.2f, -0.7f, 0.4f, 2.0f, -1.5f, 0.9f, 0.0f};
  double z = 0;
  for (float x : l) z += std::exp(x);
  for (int mode = 0; mode < 3; ++mode) {
    SamplerParams p;
    p.seed = 99;
    if (mode == 1) p.top_k = 8;  // sorted path, nothing cut
    if (mode == 2) p.top_p = 1.0f;
    const int n = 20000;
    const auto f = Frequencies(p, l, n);
    double chi2 = 0;
    for (size_t i = 0; i < l.size(); ++i) {
      const double e = n * std::exp(l[i]) / z;
      const double o = f[i] * n;
      chi2 += (o - e) * (o - e) / e;
    }
    EXPECT_LT(chi2, 24.3) << "mode " << mode;
  }
}

// The top-p candidate search grows past its first 1024 candidates when the nucleus is wider.
TEST(SamplerTest, TopPWideNucleusIsExact) {
  const int64_t V = 5000;
  std::vector<float> l(V, 0.0f);  // uniform: top_p 0.9 keeps 4500 tokens
  SamplerParams p;
  p.top_p = 0.9f;
  p.seed = 5;
  Sampler s(p, V);
  int64_t max_id = 0;
  for (int i = 0; i < 300; ++i) max_id = std::max<int64_t>(max_id, *s.Sample(l.data(), {}));
  EXPECT_GT(max_id, 4000);  // ties: lower ids first, so the nucleus is ids 0..4499
  EXPECT_LT(max_id, 4500);
}

TEST(SamplerTest, AllSuppressedIsAnError) {
  auto p = Greedy();
  p.suppress_tokens = {0, 1};
  Sampler s(p, 2);
  const float l[2] = {1.0f, 2.0f};
  EXPECT_FALSE(s.Sample(l, {}).ok());
  Sampler t(Greedy(), 2);
  const int32_t bad[1] = {7};
  p.repetition_penalty = 1.1f;
  p.suppress_tokens.clear();
  Sampler u(p, 2);
  auto r = u.Sample(l, bad);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("history token id 7"), std::string::npos);
}

TEST(SamplerTest, ValidateNamesFieldValueAndLimit) {
  const auto err = [](SamplerParams p) { return p.Validate(100).message(); };
  SamplerParams p;
  EXPECT_TRUE(p.Validate(100).ok());
  p.temperature = -1.0f;
  EXPECT_NE(err(p).find("temperature -1"), std::string::npos) << err(p);
  p = {};
  p.temperature = std::nanf("");
  EXPECT_NE(err(p).find("temperature"), std::string::npos);
  p = {};
  p.top_p = 0.0f;
  EXPECT_NE(err(p).find("top_p 0: expected a value in (0, 1]"), std::string::npos) << err(p);
  p = {};
  p.top_p = 1.5f;
  EXPECT_NE(err(p).find("top_p 1.5"), std::string::npos) << err(p);
  p = {};
  p.min_p = -0.1f;
  EXPECT_NE(err(p).find("min_p"), std::string::npos);
  p = {};
  p.top_k = -2;
  EXPECT_NE(err(p).find("top_k -2"), std::string::npos);
  p = {};
  p.repetition_penalty = 0.0f;
  EXPECT_NE(err(p).find("repetition_penalty 0"), std::string::npos);
  p = {};
  p.frequency_penalty = kInf;
  EXPECT_NE(err(p).find("frequency_penalty"), std::string::npos);
  p = {};
  p.penalty_last_n = -5;
  EXPECT_NE(err(p).find("penalty_last_n -5"), std::string::npos);
  p = {};
  p.logit_bias = {{100, 1.0f}};
  EXPECT_NE(err(p).find("token id 100: outside the vocabulary [0, 100)"), std::string::npos)
      << err(p);
  p = {};
  p.logit_bias = {{3, std::nanf("")}};
  EXPECT_NE(err(p).find("logit_bias for token 3"), std::string::npos);
  p = {};
  p.suppress_tokens = {-1};
  EXPECT_NE(err(p).find("suppress_tokens id -1"), std::string::npos);
  // An invalid sampler reports it from Sample.
  p = {};
  p.top_p = 2.0f;
  Sampler s(p, 100);
  std::vector<float> l(100, 0.0f);
  EXPECT_FALSE(s.Sample(l.data(), {}).ok());
}

TEST(SamplerTest, LargeVocabGreedyAndTopK) {
  const int64_t V = 262144;
  std::vector<float> l(V);
  for (int64_t i = 0; i < V; ++i) l[i] = std::sin(static_cast<float>(i) * 0.001f);
  l[123456] = 10.0f;
  EXPECT_EQ(SampleOnce(Greedy(), l), 123456);
  SamplerParams p;
  p.top_k = 64;
  p.top_p = 0.95f;
  p.temperature = 0.1f;
  EXPECT_EQ(SampleOnce(p, l), 123456);
}

}  // namespace
}  // namespace loom::runtime
