// Loading: GGUF metadata and tokenizer.json (+ tokenizer_config.json) built in memory, the
// conversions transformers applies (respelled whitespace pieces, merges derived from positions
// or scores), and every way a hostile file is refused.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "formats/gguf/gguf.h"
#include "formats/json.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_test_util.h"
#include "tokenizer/vocab.h"

namespace loom::tokenizer {
namespace {

using Ids = std::vector<int32_t>;
using json::Json;

const std::vector<std::string> kTexts = {
    "hello world",
    "  hello  ",
    "abc ab c",
    "<|turn>user\n<turn|>",
    "\xE6\x97\xA5\xE6\x9C\xAC",
    "z\xF0\x9F\x98\x80z\n\n\n",
    "a<table>b\t",
};

Tokenizer TinyFromSpec() {
  auto t = Tokenizer::FromSpec(testing::TinyVocab().spec);
  if (!t.ok()) std::abort();
  return std::move(t).value();
}

// The tiny vocabulary as llama.cpp writes a Gemma 3 GGUF: the whitespace piece "▁▁" stored as
// two real spaces and typed USER_DEFINED, scores that are not in merge order.
struct GgufVocab {
  std::vector<std::string> tokens;
  std::vector<float> scores;
  std::vector<int32_t> types;
  std::string model = "llama";
  std::string arch = "gemma3";
  std::vector<std::string> merges;
  int64_t bos = 2, eos = 1, unk = 3, pad = 0;
  bool add_bos = true;

  GgufVocab() {
    const testing::TinyVocab tiny;
    tokens = tiny.spec.tokens;
    for (size_t i = 0; i < tokens.size(); ++i) {
      types.push_back(static_cast<int32_t>(tiny.spec.types[i]));
      scores.push_back(static_cast<float>(i % 7));  // deliberately not the merge order
    }
    tokens[293] = "  ";
    types[293] = static_cast<int32_t>(TokenType::kUserDefined);
  }

  std::vector<uint8_t> Bytes() const {
    gguf::Writer w;
    w.AddString("general.architecture", arch);
    w.AddString("tokenizer.ggml.model", model);
    w.AddStringArray("tokenizer.ggml.tokens", tokens);
    if (!scores.empty()) w.AddFloat32Array("tokenizer.ggml.scores", scores);
    if (!types.empty()) w.AddInt32Array("tokenizer.ggml.token_type", types);
    if (!merges.empty()) w.AddStringArray("tokenizer.ggml.merges", merges);
    if (bos >= 0) w.AddUint32("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(bos));
    if (eos >= 0) w.AddUint32("tokenizer.ggml.eos_token_id", static_cast<uint32_t>(eos));
    if (unk >= 0) w.AddUint32("tokenizer.ggml.unknown_token_id", static_cast<uint32_t>(unk));
    if (pad >= 0) w.AddUint32("tokenizer.ggml.padding_token_id", static_cast<uint32_t>(pad));
    w.AddBool("tokenizer.ggml.add_bos_token", add_bos);
    w.AddBool("tokenizer.ggml.add_space_prefix", false);
    return w.Serialize();
  }

  Result<Tokenizer> Load() const {
    const std::vector<uint8_t> bytes = Bytes();
    auto file = gguf::Parse(bytes);
    if (!file.ok()) return file.status();
    return Tokenizer::FromGguf(*file);
  }
};

void ExpectSameEncodings(const Tokenizer& a, const Tokenizer& b) {
  for (const std::string& text : kTexts) {
    for (bool parse : {false, true}) {
      EncodeOptions o;
      o.parse_special = parse;
      EXPECT_EQ(*a.Encode(text, o), *b.Encode(text, o)) << text << " parse=" << parse;
    }
  }
}

Status LoadError(const GgufVocab& v) {
  auto t = v.Load();
  return t.ok() ? Status::Ok() : t.status();
}

void ExpectError(const Status& s, StatusCode code, const std::string& needle) {
  EXPECT_EQ(s.code(), code) << s.ToString();
  EXPECT_NE(s.message().find(needle), std::string::npos) << s.ToString();
}

TEST(TokenizerGgufTest, GemmaGgufEncodesLikeTheReference) {
  auto tok = GgufVocab().Load();
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  ExpectSameEncodings(*tok, TinyFromSpec());
  EXPECT_EQ(tok->source(), "GGUF");
  EXPECT_EQ(tok->RoleId("bos"), 2);
  EXPECT_EQ(tok->RoleId("pad"), 0);
  EXPECT_EQ(Ids(tok->prefix_ids().begin(), tok->prefix_ids().end()), Ids{2});
  EXPECT_NE(tok->Describe().find("vocabulary order"), std::string::npos);
}

TEST(TokenizerGgufTest, WhitespacePiecesAreRespelledAndReachedByMerges) {
  auto tok = GgufVocab().Load();
  ASSERT_TRUE(tok.ok());
  EXPECT_EQ(tok->TokenText(293), "\xE2\x96\x81\xE2\x96\x81");
  EXPECT_FALSE(tok->IsAdded(293));
  EXPECT_EQ(tok->Type(293), TokenType::kUserDefined);
  EXPECT_EQ(*tok->Encode("  "), Ids{293});
  EXPECT_EQ(*tok->Decode(Ids{293}), "  ");
}

TEST(TokenizerGgufTest, Gemma4UsesScoresAndAddsNoBos) {
  GgufVocab v;
  v.model = "gemma4";
  v.arch = "gemma4";
  v.tokens[293] = "\xE2\x96\x81\xE2\x96\x81";  // no respelling for gemma4
  for (size_t i = 0; i < v.scores.size(); ++i) v.scores[i] = -static_cast<float>(i);
  auto tok = v.Load();
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  ExpectSameEncodings(*tok, TinyFromSpec());
  EXPECT_TRUE(tok->prefix_ids().empty());  // add_bos_token=true is overridden, as in HF
  EXPECT_NE(tok->Describe().find("scores"), std::string::npos);
}

TEST(TokenizerGgufTest, MergesFromTheFile) {
  GgufVocab v;
  v.merges = {"a b", "ab c"};
  auto tok = v.Load();
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  EXPECT_EQ(*tok->Encode("abc"), Ids{306});
  EXPECT_EQ(*tok->Encode("hello"), (Ids{267, 268, 269, 269, 270}));  // no merges for it
  EXPECT_NE(tok->Describe().find("merges from the file (2)"), std::string::npos);
}

TEST(TokenizerGgufTest, HostileFiles) {
  {
    GgufVocab v;
    v.scores.pop_back();
    ExpectError(LoadError(v), StatusCode::kDataLoss, "tokenizer.ggml.scores has 307 entries");
  }
  {
    GgufVocab v;
    v.types.resize(5);
    ExpectError(LoadError(v), StatusCode::kDataLoss, "tokenizer.ggml.token_type has 5 entries");
  }
  {
    GgufVocab v;
    v.types[40] = 9;
    ExpectError(LoadError(v), StatusCode::kDataLoss, "token_type[40] is 9");
  }
  {
    GgufVocab v;
    v.bos = 308;
    ExpectError(LoadError(v), StatusCode::kDataLoss,
                "tokenizer.ggml.bos_token_id: token id 308 is outside the vocabulary of 308");
  }
  {
    GgufVocab v;
    v.unk = 100000;
    ExpectError(LoadError(v), StatusCode::kDataLoss, "unknown_token_id");
  }
  {
    GgufVocab v;
    v.tokens[11] = "<0xzz>";
    ExpectError(LoadError(v), StatusCode::kDataLoss, "byte token 11 is spelled '<0xzz>'");
  }
  {
    GgufVocab v;
    v.tokens[11] = "<0x0a>";  // lower case: byte fallback looks up "<0x0A>"
    ExpectError(LoadError(v), StatusCode::kDataLoss, "not <0xHH>");
  }
  {
    GgufVocab v;
    v.tokens[300] = std::string(5000, 'x');
    ExpectError(LoadError(v), StatusCode::kOutOfRange, "token 300 is 5000 bytes long");
  }
  {
    GgufVocab v;
    v.tokens[301] = v.tokens[300];
    ExpectError(LoadError(v), StatusCode::kDataLoss, "has the same spelling as token 300");
  }
  {
    GgufVocab v;  // "  " respelled collides with a real "▁▁"
    v.tokens[307] = "\xE2\x96\x81\xE2\x96\x81";
    ExpectError(LoadError(v), StatusCode::kDataLoss, "same spelling");
  }
  {
    GgufVocab v;
    v.tokens[300] = "bad\xFF";
    ExpectError(LoadError(v), StatusCode::kDataLoss, "not valid UTF-8");
  }
  {
    GgufVocab v;
    v.model = "gpt2";
    ExpectError(LoadError(v), StatusCode::kUnimplemented, "'gpt2'");
  }
  {
    GgufVocab v;
    v.arch = "llama";
    ExpectError(LoadError(v), StatusCode::kUnimplemented, "architecture 'llama'");
  }
  {
    GgufVocab v;
    v.tokens.clear();
    v.scores.clear();
    v.types.clear();
    ExpectError(LoadError(v), StatusCode::kDataLoss, "tokenizer.ggml.tokens is empty");
  }
  {
    GgufVocab v;
    v.merges = {"ab"};
    ExpectError(LoadError(v), StatusCode::kDataLoss, "not two tokens separated by one space");
  }
  {
    GgufVocab v;
    v.merges = {"a qq"};
    ExpectError(LoadError(v), StatusCode::kDataLoss, "not in the vocabulary");
  }
  {
    GgufVocab v;
    v.merges = {"x y"};  // "xy" is no token
    ExpectError(LoadError(v), StatusCode::kDataLoss, "does not make a token");
  }
  {
    GgufVocab v;
    v.model = "gemma4";
    v.scores.clear();
    ExpectError(LoadError(v), StatusCode::kDataLoss, "cannot be derived");
  }
  {
    GgufVocab v;
    v.model = "gemma4";
    v.scores[5] = std::nanf("");
    ExpectError(LoadError(v), StatusCode::kDataLoss, "scores[5] is NaN");
  }
  {
    gguf::Writer w;  // no tokenizer at all
    w.AddString("general.architecture", "gemma3");
    const auto bytes = w.Serialize();
    auto file = gguf::Parse(bytes);
    ASSERT_TRUE(file.ok());
    ExpectError(Tokenizer::FromGguf(*file).status(), StatusCode::kNotFound,
                "tokenizer.ggml.model is missing");
  }
  {
    gguf::Writer w;  // tokens of the wrong type
    w.AddString("general.architecture", "gemma3");
    w.AddString("tokenizer.ggml.model", "llama");
    w.AddInt32Array("tokenizer.ggml.tokens", {1, 2, 3});
    const auto bytes = w.Serialize();
    auto file = gguf::Parse(bytes);
    ASSERT_TRUE(file.ok());
    EXPECT_FALSE(Tokenizer::FromGguf(*file).ok());
  }
}

// The tiny vocabulary as a tokenizer.json, the way transformers saves a Gemma tokenizer.
Json TinyJson() {
  const testing::TinyVocab tiny;
  Json j;
  j["version"] = "1.0";
  Json vocab = Json::object();
  for (size_t i = 0; i < tiny.spec.tokens.size(); ++i) vocab[tiny.spec.tokens[i]] = i;
  Json merges = Json::array();  // what generate_merges gives, by position
  for (size_t t = 0; t < tiny.spec.tokens.size(); ++t) {
    const std::string& s = tiny.spec.tokens[t];
    for (size_t k = s.size(); k-- > 1;) {
      if ((static_cast<unsigned char>(s[k]) & 0xC0) == 0x80) continue;
      if (vocab.contains(s.substr(0, k)) && vocab.contains(s.substr(k))) {
        merges.push_back({s.substr(0, k), s.substr(k)});
      }
    }
  }
  j["model"] = {{"type", "BPE"},
                {"dropout", nullptr},
                {"unk_token", "<unk>"},
                {"fuse_unk", true},
                {"byte_fallback", true},
                {"ignore_merges", false},
                {"vocab", vocab},
                {"merges", merges},
                {"continuing_subword_prefix", nullptr},
                {"end_of_word_suffix", nullptr}};
  Json added = Json::array();
  for (const auto& a : tiny.spec.added) {
    added.push_back({{"id", a.id},
                     {"content", tiny.spec.tokens[a.id]},
                     {"single_word", false},
                     {"lstrip", false},
                     {"rstrip", false},
                     {"normalized", false},
                     {"special", a.special}});
  }
  j["added_tokens"] = added;
  j["normalizer"] = {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "\u2581"}};
  j["pre_tokenizer"] = {{"type", "Split"},
                        {"pattern", {{"String", " "}}},
                        {"behavior", "MergedWithPrevious"},
                        {"invert", false}};
  j["post_processor"] = {
      {"type", "TemplateProcessing"},
      {"single",
       {{{"SpecialToken", {{"id", "<bos>"}, {"type_id", 0}}}},
        {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
      {"special_tokens", {{"<bos>", {{"id", "<bos>"}, {"ids", {2}}, {"tokens", {"<bos>"}}}}}}};
  j["decoder"] = {{"type", "Sequence"},
                  {"decoders",
                   {{{"type", "Replace"}, {"pattern", {{"String", "\u2581"}}}, {"content", " "}},
                    {{"type", "ByteFallback"}},
                    {{"type", "Fuse"}}}}};
  return j;
}

Status JsonError(const Json& j, const std::string& config = "") {
  auto t = Tokenizer::FromHfJson(j.dump(), config, "tokenizer.json");
  return t.ok() ? Status::Ok() : t.status();
}

TEST(TokenizerHfJsonTest, LoadsLikeTheReference) {
  auto tok = Tokenizer::FromHfJson(TinyJson().dump(), "", "tokenizer.json");
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  ExpectSameEncodings(*tok, TinyFromSpec());
  EXPECT_EQ(Ids(tok->prefix_ids().begin(), tok->prefix_ids().end()), Ids{2});
  EXPECT_EQ(tok->RoleId("unk"), 3);
  EXPECT_EQ(tok->Type(11), TokenType::kByte);
  EXPECT_EQ(tok->Type(5), TokenType::kControl);
  EXPECT_EQ(tok->Type(7), TokenType::kUserDefined);
}

TEST(TokenizerHfJsonTest, ConfigNamesRolesAndBosFlag) {
  Json config = {
      {"bos_token", "<bos>"},       {"eos_token", {{"content", "<eos>"}, {"special", true}}},
      {"sot_token", "<|turn>"},     {"eot_token", "<turn|>"},
      {"image_token", "<|image|>"},  // not in this vocabulary: ignored
      {"add_bos_token", false},     {"extra_special_tokens", {"abc"}}};
  auto tok = Tokenizer::FromHfJson(TinyJson().dump(), config.dump(), "tokenizer.json");
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  EXPECT_EQ(tok->RoleId("sot"), 5);
  EXPECT_EQ(tok->RoleId("eot"), 6);
  EXPECT_EQ(tok->RoleId("eos"), 1);
  EXPECT_EQ(tok->RoleId("image"), std::nullopt);
  EXPECT_TRUE(tok->prefix_ids().empty());
  // "abc" became a special added token: matched only with parse_special.
  EXPECT_TRUE(tok->IsSpecial(306));
  EncodeOptions parse;
  parse.parse_special = true;
  EXPECT_EQ(*tok->Encode("xabcx", parse), (Ids{283, 306, 283}));
  EXPECT_EQ(*tok->Encode("xabcx"), (Ids{283, 306, 283}));  // and by merges otherwise
}

TEST(TokenizerHfJsonTest, Gemma4ConfigRoles) {
  // The published Gemma 4 tokenizer_config.json over a vocabulary holding its named tokens.
  const std::string path =
      std::string(LOOM_SHARED_DIR) + "/reference/gemma-4-12B-it/tokenizer_config.json";
  if (!testing::FileExists(path)) GTEST_SKIP() << path << " is missing";
  Json j = TinyJson();
  const std::vector<std::string> named = {
      "<|turn>",   "<turn|>",      "<|channel>",   "<channel|>",       "<|tool>",
      "<tool|>",   "<|tool_call>", "<tool_call|>", "<|tool_response>", "<tool_response|>",
      "<|\"|>",    "<|think|>",    "<|image>",     "<|audio>",         "<|image|>",
      "<|audio|>", "<image|>",     "<audio|>",     "<|video|>"};
  int32_t next = static_cast<int32_t>(j["model"]["vocab"].size());
  std::map<std::string, int32_t> ids;
  for (const std::string& t : named) {
    if (j["model"]["vocab"].contains(t)) {
      ids[t] = j["model"]["vocab"][t].get<int32_t>();
      continue;
    }
    j["model"]["vocab"][t] = next;
    ids[t] = next++;
  }
  auto tok = Tokenizer::FromHfJson(j.dump(), testing::ReadFile(path), "tokenizer.json");
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  EXPECT_EQ(tok->RoleId("sot"), ids["<|turn>"]);
  EXPECT_EQ(tok->RoleId("eot"), ids["<turn|>"]);
  EXPECT_EQ(tok->RoleId("soc"), ids["<|channel>"]);
  EXPECT_EQ(tok->RoleId("escape"), ids["<|\"|>"]);
  EXPECT_EQ(tok->RoleId("image"), ids["<|image|>"]);
  EXPECT_EQ(tok->RoleId("boa"), ids["<|audio>"]);
  EXPECT_EQ(tok->RoleId("think"), ids["<|think|>"]);
  for (const std::string& t : named) {
    EXPECT_TRUE(tok->IsSpecial(ids[t])) << t;
    EncodeOptions parse;
    parse.parse_special = true;
    EXPECT_EQ(*tok->Encode(t, parse), Ids{ids[t]}) << t;
    EXPECT_NE(*tok->Encode(t), Ids{ids[t]}) << t;  // user text: plain characters
  }
}

// Hostile text that a DOM cannot express: model.vocab and model.merges are streamed, not kept
// as a DOM, and must still get json::ParseStrict's checks.
TEST(TokenizerHfJsonTest, HostileJsonText) {
  const std::string good = TinyJson().dump();
  auto error = [](const std::string& text) {
    auto t = Tokenizer::FromHfJson(text, "", "tokenizer.json");
    return t.ok() ? Status::Ok() : t.status();
  };
  ASSERT_TRUE(error(good).ok());
  auto replace = [&good](const std::string& from, const std::string& to) {
    const size_t at = good.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    std::string text = good;
    return text.replace(at, from.size(), to);
  };
  // Duplicate keys: in the streamed vocabulary (same and different ids), in model, at the root.
  ExpectError(error(replace("\"vocab\":{", "\"vocab\":{\"x\":5,")), StatusCode::kDataLoss,
              "duplicate key 'x'");
  ExpectError(error(replace("\"vocab\":{", "\"vocab\":{\"x\":900,")), StatusCode::kDataLoss,
              "duplicate key 'x'");
  ExpectError(error(replace("\"vocab\":{", "\"vocab\":{},\"vocab\":{")), StatusCode::kDataLoss,
              "duplicate key 'vocab'");
  ExpectError(error(replace("\"merges\":[", "\"merges\":[],\"merges\":[")), StatusCode::kDataLoss,
              "duplicate key 'merges'");
  ExpectError(error(replace("\"version\":", "\"version\":1,\"version\":")), StatusCode::kDataLoss,
              "duplicate key 'version'");
  ExpectError(error(replace("\"merges\":[", "\"merges\":[[{\"a\":1,\"a\":2}],")),
              StatusCode::kDataLoss, "duplicate key 'a'");
  // Bytes: bad UTF-8, a raw NUL, trailing data, nesting.
  ExpectError(error(replace("\"vocab\":{", "\"vocab\":{\"\xC0\xAF\":0,")), StatusCode::kDataLoss,
              "not valid UTF-8");
  ExpectError(error(good + std::string(1, '\0')), StatusCode::kDataLoss, "NUL byte");
  ExpectError(error(good + "{}"), StatusCode::kDataLoss, "invalid JSON");
  ExpectError(error(replace("\"vocab\":{", "\"vocab\":{\"x\":")), StatusCode::kDataLoss,
              "invalid JSON");
  ExpectError(error(replace("\"merges\":[",
                            "\"merges\":[" + std::string(100, '[') + std::string(100, ']') + ",")),
              StatusCode::kDataLoss, "nesting deeper than the limit of 64");
  // Types, named by field.
  ExpectError(error(replace("\"vocab\":{", "\"vocab\":{\"qq9\":\"1\",")), StatusCode::kDataLoss,
              "model.vocab['qq9']: expected an integer");
  ExpectError(error(replace("\"vocab\":{", "\"vocab\":{\"qq9\":[1],")), StatusCode::kDataLoss,
              "model.vocab['qq9']: expected an integer");
  ExpectError(error(replace("\"vocab\":{", "\"vocab\":{\"qq9\":1.5,")), StatusCode::kDataLoss,
              "model.vocab['qq9']: expected an integer");
  ExpectError(error(replace("\"vocab\":{", "\"vocab\":[],\"x\":{")), StatusCode::kInvalidArgument,
              "model.vocab: expected an object");
  ExpectError(error(replace("\"merges\":[", "\"merges\":{},\"x\":[")), StatusCode::kDataLoss,
              "model.merges: expected an array");
  ExpectError(error(replace("\"merges\":[", "\"merges\":[7,")), StatusCode::kDataLoss,
              "model.merges[0]: expected");
  ExpectError(error(replace("\"merges\":[", "\"merges\":[[\"a\"],")), StatusCode::kDataLoss,
              "model.merges[0]: expected");
  ExpectError(error(replace("\"merges\":[", "\"merges\":[[\"a\",\"b\",\"c\"],")),
              StatusCode::kDataLoss, "model.merges[0]: expected");
  ExpectError(error(replace("\"merges\":[", "\"merges\":[[\"a\",1],")), StatusCode::kDataLoss,
              "model.merges[0]: expected");
}

TEST(TokenizerHfJsonTest, HostileFiles) {
  {
    Json j = TinyJson();
    j["model"]["vocab"]["hello"] = 5000;
    ExpectError(JsonError(j), StatusCode::kDataLoss, "ids must be dense");
  }
  {
    Json j = TinyJson();
    j["model"]["vocab"]["hello"] = 296;
    ExpectError(JsonError(j), StatusCode::kDataLoss, "gives id 296 to both");
  }
  {
    Json j = TinyJson();
    j["model"]["merges"].push_back({"x", "qq"});
    ExpectError(JsonError(j), StatusCode::kDataLoss, "which is not in the vocabulary");
  }
  {
    Json j = TinyJson();
    j["model"]["merges"].push_back({"x", "y"});
    ExpectError(JsonError(j), StatusCode::kDataLoss, "does not make a token");
  }
  {
    Json j = TinyJson();
    j["model"]["merges"].push_back("a b c");
    ExpectError(JsonError(j), StatusCode::kDataLoss, "separated by one space");
  }
  {
    Json j = TinyJson();
    j["model"]["type"] = "Unigram";
    ExpectError(JsonError(j), StatusCode::kUnimplemented, "model.type 'Unigram'");
  }
  {
    Json j = TinyJson();
    j["model"]["unk_token"] = "<nope>";
    ExpectError(JsonError(j), StatusCode::kDataLoss, "unk_token '<nope>'");
  }
  {
    Json j = TinyJson();
    j["normalizer"] = {{"type", "NFKC"}};
    ExpectError(JsonError(j), StatusCode::kUnimplemented, "normalizer type 'NFKC'");
  }
  {
    Json j = TinyJson();
    j["normalizer"]["pattern"] = {{"Regex", " +"}};
    ExpectError(JsonError(j), StatusCode::kUnimplemented, "literal");
  }
  {
    Json j = TinyJson();
    j["pre_tokenizer"] = {{"type", "Metaspace"}};
    ExpectError(JsonError(j), StatusCode::kUnimplemented, "pre-tokenizer type 'Metaspace'");
  }
  {
    Json j = TinyJson();
    j["decoder"] = {{"type", "Metaspace"}};
    ExpectError(JsonError(j), StatusCode::kUnimplemented, "decoder type 'Metaspace'");
  }
  {
    Json j = TinyJson();
    j.erase("decoder");
    ExpectError(JsonError(j), StatusCode::kUnimplemented, "decoder is missing");
  }
  {
    Json j = TinyJson();
    j["added_tokens"][0]["lstrip"] = true;
    ExpectError(JsonError(j), StatusCode::kUnimplemented, "lstrip = true");
  }
  {
    Json j = TinyJson();
    j["added_tokens"][0]["content"] = "<other>";
    ExpectError(JsonError(j), StatusCode::kDataLoss, "differs from '<pad>'");
  }
  {
    Json j = TinyJson();
    j["model"]["dropout"] = 0.1;
    ExpectError(JsonError(j), StatusCode::kUnimplemented, "dropout");
  }
  {
    Json j = TinyJson();
    j["model"]["vocab"][std::string(2000, 'q')] = j["model"]["vocab"].size();
    ExpectError(JsonError(j), StatusCode::kOutOfRange, "2000 bytes long");
  }
  ExpectError(Tokenizer::FromHfJson("{\"model\": ", "", "tokenizer.json").status(),
              StatusCode::kDataLoss, "invalid JSON");
  ExpectError(Tokenizer::FromHfJson("[]", "", "tokenizer.json").status(), StatusCode::kDataLoss,
              "expected a JSON object");
  ExpectError(JsonError(TinyJson(), "{\"add_bos_token\": 1}"), StatusCode::kInvalidArgument,
              "add_bos_token");
}

TEST(TokenizerHfJsonTest, AddedTokensMayExtendTheVocabulary) {
  Json j = TinyJson();
  j["added_tokens"].push_back(
      {{"id", 308}, {"content", "<new>"}, {"special", true}, {"normalized", false}});
  auto tok = Tokenizer::FromHfJson(j.dump(), "", "tokenizer.json");
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  EXPECT_EQ(tok->vocab_size(), 309);
  EncodeOptions parse;
  parse.parse_special = true;
  EXPECT_EQ(*tok->Encode("a<new>", parse), (Ids{274, 308}));
  j["added_tokens"].push_back({{"id", 310}, {"content", "<newer>"}, {"special", true}});
  ExpectError(JsonError(j), StatusCode::kDataLoss, "no token has id 309");
}

TEST(TokenizerHfJsonTest, NormalizedAddedTokensMatchTheNormalizedText) {
  // An added token with normalized=true is matched after ' ' -> U+2581 (checked against HF).
  Json j = TinyJson();
  j["added_tokens"].push_back(
      {{"id", 308}, {"content", "x y"}, {"special", false}, {"normalized", true}});
  auto tok = Tokenizer::FromHfJson(j.dump(), "", "tokenizer.json");
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  EXPECT_EQ(*tok->Encode("ax yb"), (Ids{274, 308, 275}));
  EXPECT_EQ(*tok->Encode("ax\xE2\x96\x81yb"), (Ids{274, 308, 275}));
  EXPECT_EQ(*tok->Encode("x  y"), (Ids{283, 293, 284}));
  EncodeOptions parse;
  parse.parse_special = true;
  EXPECT_EQ(*tok->Encode("<|turn>x y", parse), (Ids{5, 308}));
}

TEST(TokenizerLoadTest, VocabularySizeLimits) {
  std::vector<std::string> tokens;
  for (int i = 0; tokens.size() * kMaxTokenBytes <= kMaxVocabBytes; ++i) {
    std::string t(kMaxTokenBytes, 'a');
    std::snprintf(t.data(), 16, "%015d", i);
    tokens.push_back(t);
  }
  ExpectError(Vocab::Build(tokens, "test").status(), StatusCode::kOutOfRange,
              "more than the limit of 33554432");
}

TEST(TokenizerLoadTest, PathDispatch) {
  const std::string dir = ::testing::TempDir() + "/loom_tokenizer_load";
  std::filesystem::create_directories(dir + "/model");
  {
    std::ofstream(dir + "/model/tokenizer.json") << TinyJson().dump();
    std::ofstream(dir + "/model/tokenizer_config.json") << R"({"eot_token": "<turn|>"})";
    const auto bytes = GgufVocab().Bytes();
    std::ofstream(dir + "/tiny.gguf", std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()),
               static_cast<std::streamsize>(bytes.size()));
    std::ofstream(dir + "/notes.txt") << "hello";
  }
  auto from_dir = Tokenizer::Load(dir + "/model");
  ASSERT_TRUE(from_dir.ok()) << from_dir.status().ToString();
  EXPECT_EQ(from_dir->RoleId("eot"), 6);
  auto from_file = Tokenizer::Load(dir + "/model/tokenizer.json");
  ASSERT_TRUE(from_file.ok());
  EXPECT_EQ(from_file->RoleId("eot"), 6);
  auto from_gguf = Tokenizer::Load(dir + "/tiny.gguf");
  ASSERT_TRUE(from_gguf.ok()) << from_gguf.status().ToString();
  ExpectSameEncodings(*from_gguf, *from_dir);
  ExpectError(Tokenizer::Load(dir).status(), StatusCode::kNotFound, "no tokenizer.json");
  ExpectError(Tokenizer::Load(dir + "/missing").status(), StatusCode::kNotFound, "no such file");
  ExpectError(Tokenizer::Load(dir + "/notes.txt").status(), StatusCode::kInvalidArgument,
              "not a GGUF file");
}

}  // namespace
}  // namespace loom::tokenizer
