// The real Gemma 3 270M vocabulary (env LOOM_TEST_GGUF): every control and user-defined token,
// the special-token table read from the file, and 10 MB of text.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "formats/json.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_test_util.h"

namespace loom::tokenizer {
namespace {

using Ids = std::vector<int32_t>;

const Tokenizer* Gemma3() {
  static std::unique_ptr<Tokenizer> tok = []() -> std::unique_ptr<Tokenizer> {
    const char* path = std::getenv("LOOM_TEST_GGUF");
    if (path == nullptr || *path == '\0') return nullptr;
    const auto t0 = std::chrono::steady_clock::now();
    auto t = Tokenizer::Load(path);
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (!t.ok()) {
      ADD_FAILURE() << t.status().ToString();
      return nullptr;
    }
    std::printf("loaded %s in %.1f ms: %s\n", path, ms, t->Describe().c_str());
    return std::make_unique<Tokenizer>(std::move(t).value());
  }();
  return tok.get();
}

class TokenizerRealModelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::getenv("LOOM_TEST_GGUF") == nullptr) GTEST_SKIP() << "LOOM_TEST_GGUF is not set";
    ASSERT_NE(Gemma3(), nullptr);
  }
};

TEST_F(TokenizerRealModelTest, SpecialTokenTableComesFromTheFile) {
  const Tokenizer& tok = *Gemma3();
  EXPECT_EQ(tok.vocab_size(), 262144);
  EXPECT_EQ(tok.RoleId("pad"), 0);
  EXPECT_EQ(tok.RoleId("eos"), 1);
  EXPECT_EQ(tok.RoleId("bos"), 2);
  EXPECT_EQ(tok.RoleId("unk"), 3);
  EXPECT_EQ(Ids(tok.prefix_ids().begin(), tok.prefix_ids().end()), Ids{2});  // add_bos_token
  EXPECT_EQ(tok.TokenId("<start_of_turn>"), 105);
  EXPECT_EQ(tok.TokenId("<end_of_turn>"), 106);
  EXPECT_EQ(tok.TokenId("<start_of_image>"), 255999);
  std::map<TokenType, int> counts;
  for (int32_t id = 0; id < tok.vocab_size(); ++id) ++counts[tok.Type(id)];
  EXPECT_EQ(counts[TokenType::kControl], 6249);
  EXPECT_EQ(counts[TokenType::kUserDefined], 165);
  EXPECT_EQ(counts[TokenType::kByte], 256);
  // 6249 control tokens + 135 user-defined ones are matched whole; the 30 whitespace runs are
  // reached by merges (transformers respells them and cannot add them).
  EXPECT_EQ(tok.added_ids().size(), 6249u + 135u);
}

TEST_F(TokenizerRealModelTest, EveryControlAndUserDefinedToken) {
  const Tokenizer& tok = *Gemma3();
  EncodeOptions parse;
  parse.parse_special = true;
  DecodeOptions skip;
  skip.skip_special = true;
  int control = 0, user = 0;
  for (int32_t id = 0; id < tok.vocab_size(); ++id) {
    const TokenType type = tok.Type(id);
    if (type != TokenType::kControl && type != TokenType::kUserDefined) continue;
    const std::string text = *tok.Decode(Ids{id});
    ASSERT_FALSE(text.empty()) << id;
    const Ids on = *tok.Encode(text, parse);
    const Ids off = *tok.Encode(text);
    if (type == TokenType::kControl) {
      ++control;
      ASSERT_EQ(text, tok.TokenText(id));
      ASSERT_EQ(on, Ids{id}) << text;
      for (int32_t t : off) ASSERT_NE(tok.Type(t), TokenType::kControl) << text;  // plain text
      ASSERT_EQ(*tok.Decode(off), text);
      ASSERT_EQ(*tok.Decode(Ids{id}, skip), "");
    } else {
      ++user;
      ASSERT_EQ(on, Ids{id}) << QuoteForMessage(text);
      ASSERT_EQ(off, Ids{id}) << QuoteForMessage(text);
      ASSERT_EQ(*tok.Decode(Ids{id}, skip), text);
    }
  }
  EXPECT_EQ(control, 6249);
  EXPECT_EQ(user, 165);
}

TEST_F(TokenizerRealModelTest, TenMegabytesEqualsConcatenatedLines) {
  // Lines of the golden corpus that neither start nor end with a newline: joined with "\n" (an
  // added token), the whole must encode as the lines one by one with the "\n" id between.
  const Tokenizer& tok = *Gemma3();
  const std::string corpus =
      testing::ReadFile(std::string(LOOM_SOURCE_DIR) + "/tests/fixtures/tokenizer/corpus.jsonl");
  if (corpus.empty()) GTEST_SKIP() << "corpus.jsonl is missing";
  std::vector<std::string> lines;
  std::vector<Ids> line_ids;
  for (size_t start = 0; start < corpus.size();) {
    size_t nl = corpus.find('\n', start);
    if (nl == std::string::npos) nl = corpus.size();
    std::string line = json::Json::parse(corpus.substr(start, nl - start)).get<std::string>();
    start = nl + 1;
    if (line.empty() || line.front() == '\n' || line.back() == '\n') continue;
    line_ids.push_back(*tok.Encode(line));
    lines.push_back(std::move(line));
  }
  const int32_t newline = *tok.TokenId("\n");
  std::string text;
  Ids expected;
  for (size_t i = 0; text.size() < 10u * 1000 * 1000; ++i) {
    const size_t k = i % lines.size();
    text += lines[k];
    text += '\n';
    expected.insert(expected.end(), line_ids[k].begin(), line_ids[k].end());
    expected.push_back(newline);
  }
  const Ids ids = *tok.Encode(text);
  ASSERT_EQ(ids.size(), expected.size());
  EXPECT_TRUE(ids == expected);
}

}  // namespace
}  // namespace loom::tokenizer
