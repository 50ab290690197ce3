// StreamDecoder: text comes out in whole characters, byte-fallback runs split across tokens are
// held until they close, and the concatenated output always equals Tokenizer::Decode.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "base/strings.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_test_util.h"
#include "tokenizer/utf8.h"

namespace loom::tokenizer {
namespace {

using Ids = std::vector<int32_t>;

const Tokenizer& Tiny() { return testing::TinyTokenizer(); }

// Pushes `ids` one at a time; returns what each push emitted, then what Finish emitted.
std::vector<std::string> Stream(const Ids& ids, DecodeOptions options = {}) {
  StreamDecoder dec(Tiny(), options);
  std::vector<std::string> chunks;
  for (int32_t id : ids) {
    std::string out;
    EXPECT_TRUE(dec.Push(id, &out).ok());
    chunks.push_back(out);
  }
  std::string out;
  dec.Finish(&out);
  chunks.push_back(out);
  EXPECT_EQ(dec.pending_bytes(), 0u);
  return chunks;
}

std::string Join(const std::vector<std::string>& chunks) {
  std::string s;
  for (const auto& c : chunks) s += c;
  return s;
}

TEST(TokenizerStreamTest, ByteFallbackCharacterSplitAcrossTokens) {
  // z😀z: the emoji is four byte tokens; nothing comes out until the run closes.
  const Ids ids = *Tiny().Encode("z\xF0\x9F\x98\x80z");
  ASSERT_EQ(ids.size(), 6u);
  const auto chunks = Stream(ids);
  EXPECT_EQ(chunks[0], "z");
  EXPECT_EQ(chunks[1], "");
  EXPECT_EQ(chunks[2], "");
  EXPECT_EQ(chunks[3], "");
  EXPECT_EQ(chunks[4], "");
  EXPECT_EQ(chunks[5], "\xF0\x9F\x98\x80z");
  EXPECT_EQ(chunks[6], "");
}

TEST(TokenizerStreamTest, RunClosedByFinish) {
  const Ids ids = *Tiny().Encode("\xC3\xB1");  // ñ: two byte tokens
  const auto chunks = Stream(ids);
  EXPECT_EQ(chunks[0], "");
  EXPECT_EQ(chunks[1], "");
  EXPECT_EQ(chunks[2], "\xC3\xB1");
}

TEST(TokenizerStreamTest, EveryChunkIsWholeCharacters) {
  const std::string text =
      "hello world \xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E <|turn> \xC3\xB1\xC3\xB1 z\xF0\x9F\x98\x80";
  const Ids ids = *Tiny().Encode(text);
  const auto chunks = Stream(ids);
  for (const auto& c : chunks) EXPECT_TRUE(IsValidUtf8(c)) << QuoteForMessage(c);
  EXPECT_EQ(Join(chunks), text);
}

TEST(TokenizerStreamTest, InvalidRunsMatchDecode) {
  const std::string r(kReplacementChar);
  const Ids ids = {11 + 0x41, 11 + 0xE3, 297, 11 + 0xE3, 11 + 0x81, 11 + 0x82, 11 + 0xFF};
  EXPECT_EQ(Join(Stream(ids)), *Tiny().Decode(ids));
  // The second run, E3 81 82 FF, holds a whole character but is invalid as a whole.
  EXPECT_EQ(Join(Stream(ids)), r + r + "hello" + r + r + r + r);
}

TEST(TokenizerStreamTest, RandomSequencesEqualDecode) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int32_t> any(0, Tiny().vocab_size() - 1);
  std::uniform_int_distribution<int32_t> byte(11, 11 + 255);
  for (int trial = 0; trial < 500; ++trial) {
    Ids ids;
    const int len = trial % 17;
    for (int i = 0; i < len; ++i) ids.push_back(rng() % 3 ? byte(rng) : any(rng));
    for (bool skip : {false, true}) {
      DecodeOptions o;
      o.skip_special = skip;
      ASSERT_EQ(Join(Stream(ids, o)), *Tiny().Decode(ids, o)) << "trial " << trial;
    }
  }
}

TEST(TokenizerStreamTest, SkippedSpecialTokensDoNotSplitARun) {
  DecodeOptions o;
  o.skip_special = true;
  const Ids ids = {11 + 0xC3, 2, 11 + 0xB1};  // <0xC3> <bos> <0xB1>
  EXPECT_EQ(Join(Stream(ids, o)), "\xC3\xB1");
  EXPECT_EQ(*Tiny().Decode(ids, o), "\xC3\xB1");
}

TEST(TokenizerStreamTest, RejectsIdsOutsideTheVocabulary) {
  StreamDecoder dec(Tiny());
  std::string out;
  EXPECT_EQ(dec.Push(Tiny().vocab_size(), &out).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(dec.Push(-5, &out).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(out.empty());
}

}  // namespace
}  // namespace loom::tokenizer
