// Tokenizer behaviour on a small in-process vocabulary (testing::TinyVocab). The expected ids
// come from HF `tokenizers` 0.23.3 running the same vocabulary, with merges from transformers'
// generate_merges ranked by position, as for a Gemma GGUF.
#include "tokenizer/tokenizer.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "tokenizer/tokenizer_test_util.h"
#include "tokenizer/utf8.h"

namespace loom::tokenizer {
namespace {

using Ids = std::vector<int32_t>;

const Tokenizer& Tiny() { return testing::TinyTokenizer(); }

Ids Enc(std::string_view text, bool parse_special = false) {
  EncodeOptions o;
  o.parse_special = parse_special;
  auto ids = Tiny().Encode(text, o);
  EXPECT_TRUE(ids.ok()) << ids.status().ToString();
  return ids.ok() ? *ids : Ids{};
}

std::string Dec(const Ids& ids, bool skip_special = false) {
  DecodeOptions o;
  o.skip_special = skip_special;
  auto text = Tiny().Decode(ids, o);
  EXPECT_TRUE(text.ok()) << text.status().ToString();
  return text.ok() ? *text : std::string();
}

TEST(TokenizerTest, EmptyInput) {
  EXPECT_EQ(Enc(""), Ids{});
  EXPECT_EQ(Enc("", true), Ids{});
  EXPECT_EQ(Dec({}), "");
  EncodeOptions o;
  o.add_special_tokens = true;
  EXPECT_EQ(*Tiny().Encode("", o), Ids{2});  // BOS only
}

TEST(TokenizerTest, MergesFollowRankNotLength) {
  // "▁w" + "o" (rank of ▁wo) comes before "o" + "r", so "▁world" is never reached.
  EXPECT_EQ(Enc("hello world"), (Ids{297, 299, 272, 301}));
  EXPECT_EQ(Enc("hello"), Ids{297});
  EXPECT_EQ(Enc("abc"), Ids{306});
  EXPECT_EQ(Enc("ab c"), (Ids{304, 292, 276}));
  EXPECT_EQ(Dec({297, 299, 272, 301}), "hello world");
}

TEST(TokenizerTest, SpacesBecomeU2581WithoutDummyPrefix) {
  EXPECT_EQ(Enc("  "), Ids{293});
  EXPECT_EQ(Enc("   "), (Ids{293, 292}));
  EXPECT_EQ(Dec({293, 292}), "   ");
  // A literal U+2581 is the same as a space once normalized (transformers #46202).
  EXPECT_EQ(Enc("hello\xE2\x96\x81world"), Enc("hello world"));
}

TEST(TokenizerTest, ByteFallback) {
  EXPECT_EQ(Enc("\xC3\xB1"), (Ids{11 + 0xC3, 11 + 0xB1}));  // ñ is not a token
  EXPECT_EQ(Enc("Q"), Ids{11 + 'Q'});
  EXPECT_EQ(Enc("z\xF0\x9F\x98\x80z"), (Ids{285, 251, 170, 163, 139, 285}));  // z😀z
  EXPECT_EQ(Dec({285, 251, 170, 163, 139, 285}), "z\xF0\x9F\x98\x80z");
  EXPECT_EQ(Enc("\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E"), (Ids{307, 243, 181, 169}));  // 日本語
  // Byte-token spellings in text are ordinary characters.
  EXPECT_EQ(Enc("<0x41>"), (Ids{277, 59, 283, 63, 60, 278}));
  EXPECT_EQ(Dec({277, 59, 283, 63, 60, 278}), "<0x41>");
}

TEST(TokenizerTest, DecodeInvalidByteRunsLikeHf) {
  // A run that is not valid UTF-8 gives one U+FFFD per byte, even for its valid part.
  const std::string r(kReplacementChar);
  EXPECT_EQ(Dec({11 + 0x41, 11 + 0xFF}), r + r);
  EXPECT_EQ(Dec({11 + 0xE3, 11 + 0x81, 297}), r + r + "hello");
  EXPECT_EQ(Dec({11 + 0x41, 297, 11 + 0x42}), "AhelloB");
  EXPECT_EQ(Dec({11 + 0xF0}), r);
}

TEST(TokenizerTest, UserDefinedTokensMatchInBothModes) {
  for (bool parse : {false, true}) {
    EXPECT_EQ(Enc("x\n\ny", parse), (Ids{283, 8, 284}));
    EXPECT_EQ(Enc("\n\n\n", parse), (Ids{8, 7}));  // leftmost-longest
    EXPECT_EQ(Enc("a<table>b", parse), (Ids{274, 10, 275}));
    EXPECT_EQ(Enc("\t\t", parse), (Ids{9, 9}));
  }
}

TEST(TokenizerTest, ParseSpecialOnAndOff) {
  const std::string text = "<|turn>user\n<turn|>";
  EXPECT_EQ(Enc(text, true), (Ids{5, 281, 126, 268, 272, 7, 6}));
  const Ids off = Enc(text, false);
  EXPECT_EQ(off, (Ids{277, 279, 280, 281, 272, 282, 278, 281, 126, 268, 272, 7, 277, 280, 281, 272,
                      282, 279, 278}));
  EXPECT_EQ(Dec(off), text);
  // A special token inside other text, and a near miss.
  EXPECT_EQ(Enc("<<|turn>>", true), (Ids{277, 5, 278}));
  EXPECT_EQ(Enc("<|turn|>", true), (Ids{277, 279, 280, 281, 272, 282, 279, 278}));
  // With parsing off no control id can come out of user text.
  for (int32_t id : Enc("<bos><eos><pad><unk><mask><|turn><turn|>")) {
    EXPECT_NE(Tiny().Type(id), TokenType::kControl) << id;
  }
}

TEST(TokenizerTest, EverySpecialToken) {
  for (int32_t id : Tiny().added_ids()) {
    const std::string text(Tiny().TokenText(id));
    EXPECT_EQ(Enc(text, true), Ids{id}) << text;
    EXPECT_EQ(Dec({id}), text);
    if (Tiny().IsSpecial(id)) {
      EXPECT_NE(Enc(text, false), Ids{id}) << text;
      EXPECT_EQ(Dec(Enc(text, false)), text);
      EXPECT_EQ(Dec({id}, /*skip_special=*/true), "");
    } else {
      EXPECT_EQ(Enc(text, false), Ids{id}) << text;
      EXPECT_EQ(Dec({id}, true), text);
    }
  }
  EXPECT_EQ(Tiny().added_ids().size(), 11u);
}

TEST(TokenizerTest, TypesRolesAndLookup) {
  EXPECT_EQ(Tiny().vocab_size(), 308);
  EXPECT_EQ(Tiny().RoleId("bos"), 2);
  EXPECT_EQ(Tiny().RoleId("eos"), 1);
  EXPECT_EQ(Tiny().RoleId("image"), std::nullopt);
  EXPECT_EQ(Tiny().TokenId("<|turn>"), 5);
  EXPECT_EQ(Tiny().TokenId("\xE2\x96\x81world"), 303);
  EXPECT_EQ(Tiny().TokenId("nope"), std::nullopt);
  EXPECT_EQ(Tiny().Type(5), TokenType::kControl);
  EXPECT_EQ(Tiny().Type(7), TokenType::kUserDefined);
  EXPECT_EQ(Tiny().Type(11), TokenType::kByte);
  EXPECT_EQ(Tiny().Type(297), TokenType::kNormal);
  EXPECT_EQ(Tiny().Type(-1), TokenType::kUndefined);
  EXPECT_EQ(Tiny().TokenText(100000), "");
  EXPECT_TRUE(Tiny().IsSpecial(2));
  EXPECT_FALSE(Tiny().IsSpecial(7));
  EXPECT_TRUE(Tiny().IsAdded(7));
}

TEST(TokenizerTest, AddSpecialTokens) {
  EncodeOptions o;
  o.add_special_tokens = true;
  EXPECT_EQ(*Tiny().Encode("hello", o), (Ids{2, 297}));
}

TEST(TokenizerTest, DecodeRejectsIdsOutsideTheVocabulary) {
  std::string out = "kept";
  Status s = Tiny().Decode(Ids{297, 308}, {}, &out);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("308"), std::string::npos) << s.message();
  EXPECT_EQ(out, "kept");
  EXPECT_EQ(Tiny().Decode(Ids{-1}).status().code(), StatusCode::kInvalidArgument);
}

TEST(TokenizerTest, InvalidUtf8IsAnErrorByDefault) {
  for (std::string bad : {std::string("ab\xFF"), std::string("\xC3"), std::string("\xED\xA0\x80"),
                          std::string("\xC0\xAF"), std::string("x\xF4\x90\x80\x80")}) {
    Ids out = {42};
    Status s = Tiny().Encode(bad, {}, &out);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << QuoteForMessage(bad);
    EXPECT_NE(s.message().find("invalid UTF-8 at byte offset"), std::string::npos);
    EXPECT_EQ(out, Ids{42});  // untouched
  }
  EXPECT_NE(Tiny().Encode("ab\xFF").status().message().find("offset 2"), std::string::npos);
}

TEST(TokenizerTest, InvalidUtf8CanBeReplaced) {
  EncodeOptions o;
  o.invalid_utf8 = InvalidUtf8::kReplace;
  const std::string r(kReplacementChar);
  // Each maximal ill-formed subpart becomes one U+FFFD: "\xE3\x81" is one, "\xFF\xFE" two.
  auto ids = Tiny().Encode("a\xE3\x81z\xFF\xFE", o);
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(*ids, Enc("a" + r + "z" + r + r));
  EXPECT_EQ(Dec(*ids), "a" + r + "z" + r + r);
}

TEST(TokenizerUtf8Test, Sanitize) {
  auto s = [](std::string_view in) {
    std::string out;
    AppendUtf8Sanitized(in, &out);
    return out;
  };
  const std::string r(kReplacementChar);
  EXPECT_EQ(s("plain"), "plain");
  EXPECT_EQ(s("\xC0\xAF"), r + r);          // overlong: C0 never leads
  EXPECT_EQ(s("\xED\xA0\x80"), r + r + r);  // surrogate: ED A0 is no subpart
  EXPECT_EQ(s("\xF0\x9F\x98"), r);          // truncated 4-byte character
  EXPECT_EQ(s("\xF0\x9F\x98"
              "A"),
            r + "A");
  EXPECT_EQ(s("\xF4\x90\x80\x80"), r + r + r + r);  // above U+10FFFF
  EXPECT_EQ(FindInvalidUtf8("ok\xE2\x96"), 2u);
  EXPECT_EQ(FindInvalidUtf8("\xE2\x96\x81"), std::string_view::npos);
  EXPECT_EQ(Utf8CodePoints("a\xE2\x96\x81z"), 3u);
}

TEST(TokenizerTest, LongSingleWordIsNotQuadratic) {
  // One BPE word of 1 MB (no added token splits it): must finish, and since no merge crosses a
  // "hello world " boundary here, it is the repetition of one unit's tokens.
  const std::string unit = "hello world ";
  const Ids unit_ids = Enc(unit);
  std::string text;
  while (text.size() < (1u << 20)) text += unit;
  const Ids ids = Enc(text);
  ASSERT_EQ(ids.size() % unit_ids.size(), 0u);
  for (size_t i = 0; i < ids.size(); ++i) ASSERT_EQ(ids[i], unit_ids[i % unit_ids.size()]) << i;
  EXPECT_EQ(Dec(ids), text);
}

TEST(TokenizerTest, TenMegabytesEqualsConcatenatedLines) {
  // Newlines are added tokens, so each line is encoded on its own: the 10 MB text must give
  // exactly the concatenation of its lines' ids.
  const std::vector<std::string> lines = {"hello world, abc!", "\xE6\x97\xA5\xE6\x9C\xAC x",
                                          "<|turn>user", "z\xF0\x9F\x98\x80z  ab c"};
  std::string text;
  Ids expected;
  for (size_t i = 0; text.size() < 10u * 1000 * 1000; ++i) {
    const std::string& line = lines[i % lines.size()];
    text += line + "\n";
    const Ids ids = Enc(line);
    expected.insert(expected.end(), ids.begin(), ids.end());
    expected.push_back(7);
  }
  EXPECT_EQ(Enc(text), expected);
}

TEST(TokenizerTest, ScoreRanksEqualOrderRanksWhenScoresAreMinusIndex) {
  // transformers derives Gemma 3's merges from positions and "gemma4"'s from scores; with
  // score = -index the two orders are the same, so the two code paths must agree.
  TokenizerSpec spec = testing::TinyVocab().spec;
  spec.merges_kind = TokenizerSpec::Merges::kScores;
  for (size_t i = 0; i < spec.tokens.size(); ++i) spec.scores.push_back(-static_cast<float>(i));
  auto by_score = Tokenizer::FromSpec(spec);
  ASSERT_TRUE(by_score.ok()) << by_score.status().ToString();
  for (std::string text : {"hello world", "abc ab c", "  hello  ", "\xE6\x97\xA5\xE6\x9C\xAC"}) {
    EXPECT_EQ(*by_score->Encode(text), Enc(text)) << text;
  }
}

TEST(TokenizerTest, ExplicitMergesUseListOrderAndLastDuplicateWins) {
  TokenizerSpec spec = testing::TinyVocab().spec;
  spec.merges_kind = TokenizerSpec::Merges::kExplicit;
  const int32_t a = 274, b = 275, c = 276, ab = 304, bc = 305;
  // b+c before a+b: "abc" -> a, bc -> (a + bc = abc has no merge listed) -> [a, bc].
  spec.merges = {{b, c}, {a, b}};
  auto tok = Tokenizer::FromSpec(spec);
  ASSERT_TRUE(tok.ok());
  EXPECT_EQ(*tok->Encode("abc"), (Ids{a, bc}));
  // Listing b+c again at the end gives it the last rank: now a+b wins.
  spec.merges = {{b, c}, {a, b}, {b, c}};
  tok = Tokenizer::FromSpec(spec);
  ASSERT_TRUE(tok.ok());
  EXPECT_EQ(*tok->Encode("abc"), (Ids{ab, c}));
}

TEST(TokenizerTest, UnknownWithoutByteFallback) {
  TokenizerSpec spec = testing::TinyVocab().spec;
  spec.bpe.byte_fallback = false;
  auto tok = Tokenizer::FromSpec(spec);
  ASSERT_TRUE(tok.ok());
  // Consecutive unknown characters fuse into one <unk>.
  EXPECT_EQ(*tok->Encode("a\xC3\xB1\xC3\xB1"
                         "b"),
            (Ids{274, 3, 275}));
  spec.bpe.fuse_unk = false;
  tok = Tokenizer::FromSpec(spec);
  EXPECT_EQ(*tok->Encode("a\xC3\xB1\xC3\xB1"
                         "b"),
            (Ids{274, 3, 3, 275}));
  spec.bpe.unk_id = -1;  // HF drops the character when there is no <unk>...
  tok = Tokenizer::FromSpec(spec);
  EXPECT_EQ(*tok->Encode("a\xC3\xB1"
                         "c"),
            (Ids{274, 276}));
  EXPECT_EQ(*tok->Encode("a\xC3\xB1"
                         "b"),
            Ids{304});  // ...and its neighbours may merge
  EXPECT_EQ(*tok->Encode("\xC3\xB1"), Ids{});
}

TEST(TokenizerTest, CopiesShareTablesAndAreUsableAcrossThreads) {
  Tokenizer copy = Tiny();
  EXPECT_NE(copy.Describe().find("308 tokens"), std::string::npos) << copy.Describe();
  const Ids expected = Enc("hello world ab c \xC3\xB1");
  std::vector<std::thread> threads;
  std::vector<int> ok(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) ok[t] += *copy.Encode("hello world ab c \xC3\xB1") == expected;
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < 4; ++t) EXPECT_EQ(ok[t], 200);
}

}  // namespace
}  // namespace loom::tokenizer
