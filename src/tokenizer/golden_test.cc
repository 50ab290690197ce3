// Golden test: loom's ids must equal the HF reference's on every line of the tokenizer corpus
// (tests/fixtures/tokenizer, made by scripts/reference/make_tokenizer_goldens.py), loaded from
// the real Gemma 3 270M GGUF (env LOOM_TEST_GGUF) and from the tokenizer.json that script
// regenerates in .cache/fixtures/gemma3-270m-tokenizer/. Both modes are checked: special-token
// parsing on (HF's default) and off (split_special_tokens=True), plus decoding and the long
// input (the whole corpus as one text).
#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "base/strings.h"
#include "formats/json.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_test_util.h"

namespace loom::tokenizer {
namespace {

using testing::FileExists;
using testing::IdBytes;
using testing::ReadFile;
using testing::Sha256Hex;

const std::string kFixtures = std::string(LOOM_SOURCE_DIR) + "/tests/fixtures/tokenizer";
const std::string kHfDir = std::string(LOOM_SOURCE_DIR) + "/.cache/fixtures/gemma3-270m-tokenizer";

struct GoldenLine {
  std::string text;
  std::vector<int32_t> ids;
  std::vector<int32_t> ids_split_special;
  std::string decoded;                // decode(ids)
  std::string decoded_split_special;  // decode(ids_split_special)
};

struct Goldens {
  std::vector<GoldenLine> lines;
  json::Json meta;
};

std::vector<std::string> SplitLines(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < s.size()) {
    size_t nl = s.find('\n', start);
    if (nl == std::string::npos) nl = s.size();
    out.push_back(s.substr(start, nl - start));
    start = nl + 1;
  }
  return out;
}

std::vector<int32_t> Ids(const json::Json& j) {
  std::vector<int32_t> ids;
  for (const auto& v : j) ids.push_back(v.get<int32_t>());
  return ids;
}

const Goldens* LoadGoldens() {
  static std::unique_ptr<Goldens> g = [] {
    auto out = std::make_unique<Goldens>();
    const std::vector<std::string> corpus = SplitLines(ReadFile(kFixtures + "/corpus.jsonl"));
    const std::vector<std::string> ids = SplitLines(ReadFile(kFixtures + "/gemma3_ids.jsonl"));
    if (corpus.empty() || corpus.size() != ids.size()) return std::unique_ptr<Goldens>();
    for (size_t i = 0; i < corpus.size(); ++i) {
      GoldenLine line;
      line.text = json::Json::parse(corpus[i]).get<std::string>();
      const json::Json rec = json::Json::parse(ids[i]);
      line.ids = Ids(rec["ids"]);
      line.ids_split_special =
          rec["ids_split_special"].is_null() ? line.ids : Ids(rec["ids_split_special"]);
      line.decoded = rec.contains("decoded") ? rec["decoded"].get<std::string>() : line.text;
      line.decoded_split_special = rec.contains("decoded_split_special")
                                       ? rec["decoded_split_special"].get<std::string>()
                                       : line.decoded;
      if (rec["roundtrip_split_special"].get<bool>()) line.decoded_split_special = line.text;
      out->lines.push_back(std::move(line));
    }
    out->meta = json::Json::parse(ReadFile(kFixtures + "/gemma3_meta.json"));
    return out;
  }();
  return g.get();
}

std::string Show(const std::vector<int32_t>& ids) {
  std::string s = "[";
  for (size_t i = 0; i < ids.size(); ++i) s += StrCat(i ? "," : "", ids[i]);
  return s + "]";
}

void CheckCorpus(const Tokenizer& tok, const Goldens& g) {
  size_t match = 0, match_split = 0, decode_ok = 0, failures = 0;
  for (size_t i = 0; i < g.lines.size(); ++i) {
    const GoldenLine& line = g.lines[i];
    EncodeOptions parse;
    parse.parse_special = true;
    auto ids = tok.Encode(line.text, parse);
    auto split = tok.Encode(line.text);
    ASSERT_TRUE(ids.ok()) << ids.status().ToString();
    ASSERT_TRUE(split.ok()) << split.status().ToString();
    auto decoded = tok.Decode(*ids);
    auto decoded_split = tok.Decode(*split);
    ASSERT_TRUE(decoded.ok() && decoded_split.ok());
    const bool ok1 = *ids == line.ids, ok2 = *split == line.ids_split_special;
    const bool ok3 = *decoded == line.decoded && *decoded_split == line.decoded_split_special;
    match += ok1;
    match_split += ok2;
    decode_ok += ok3;
    if ((!ok1 || !ok2 || !ok3) && ++failures <= 10) {
      ADD_FAILURE() << "line " << i << " " << QuoteForMessage(line.text, 200)
                    << "\n  parse on:  " << Show(*ids) << "\n  expected:  " << Show(line.ids)
                    << "\n  parse off: " << Show(*split)
                    << "\n  expected:  " << Show(line.ids_split_special) << "\n  decoded "
                    << QuoteForMessage(*decoded, 200) << " expected "
                    << QuoteForMessage(line.decoded, 200);
    }
  }
  std::printf(
      "[%s] ids (special parsed): %zu/%zu, ids (special not parsed): %zu/%zu, "
      "decode: %zu/%zu\n",
      tok.source().c_str(), match, g.lines.size(), match_split, g.lines.size(), decode_ok,
      g.lines.size());
  EXPECT_EQ(match, g.lines.size());
  EXPECT_EQ(match_split, g.lines.size());
  EXPECT_EQ(decode_ok, g.lines.size());
}

void CheckLongInput(const Tokenizer& tok, const Goldens& g) {
  std::string text;
  for (size_t i = 0; i < g.lines.size(); ++i) {
    if (i) text += '\n';
    text += g.lines[i].text;
  }
  const json::Json& li = g.meta["long_input"];
  ASSERT_EQ(Sha256Hex(text), li["text_sha256"].get<std::string>());
  EncodeOptions parse;
  parse.parse_special = true;
  auto ids = tok.Encode(text, parse);
  auto split = tok.Encode(text);
  ASSERT_TRUE(ids.ok() && split.ok());
  EXPECT_EQ(ids->size(), li["ids_len"].get<size_t>());
  EXPECT_EQ(Sha256Hex(IdBytes(*ids)), li["ids_sha256"].get<std::string>());
  EXPECT_EQ(split->size(), li["ids_split_special_len"].get<size_t>());
  EXPECT_EQ(Sha256Hex(IdBytes(*split)), li["ids_split_special_sha256"].get<std::string>());
}

class TokenizerGoldenTest : public ::testing::Test {
 protected:
  static const Tokenizer* Gguf() {
    static std::unique_ptr<Tokenizer> tok = []() -> std::unique_ptr<Tokenizer> {
      const char* path = std::getenv("LOOM_TEST_GGUF");
      if (path == nullptr || *path == '\0') return nullptr;
      auto t = Tokenizer::Load(path);
      if (!t.ok()) {
        ADD_FAILURE() << t.status().ToString();
        return nullptr;
      }
      return std::make_unique<Tokenizer>(std::move(t).value());
    }();
    return tok.get();
  }
  static const Tokenizer* HfJson() {
    static std::unique_ptr<Tokenizer> tok = []() -> std::unique_ptr<Tokenizer> {
      if (!FileExists(kHfDir + "/tokenizer.json")) return nullptr;
      auto t = Tokenizer::Load(kHfDir);
      if (!t.ok()) {
        ADD_FAILURE() << t.status().ToString();
        return nullptr;
      }
      return std::make_unique<Tokenizer>(std::move(t).value());
    }();
    return tok.get();
  }
  void SetUp() override {
    if (LoadGoldens() == nullptr) GTEST_SKIP() << "goldens missing in " << kFixtures;
  }
};

// One test per load path: under ctest every test is its own process, and loading the 33 MB
// tokenizer.json dominates a sanitizer run.
TEST_F(TokenizerGoldenTest, GgufMatchesHf) {
  if (Gguf() == nullptr) GTEST_SKIP() << "LOOM_TEST_GGUF is not set";
  CheckCorpus(*Gguf(), *LoadGoldens());
  CheckLongInput(*Gguf(), *LoadGoldens());
}

TEST_F(TokenizerGoldenTest, TokenizerJsonMatchesHf) {
  if (HfJson() == nullptr) GTEST_SKIP() << kHfDir << "/tokenizer.json is missing (make fixtures)";
  CheckCorpus(*HfJson(), *LoadGoldens());
  CheckLongInput(*HfJson(), *LoadGoldens());
}

}  // namespace
}  // namespace loom::tokenizer
