// Helpers shared by the tokenizer tests: small in-process vocabularies, file reading, SHA-256.
#ifndef LOOM_TOKENIZER_TOKENIZER_TEST_UTIL_H_
#define LOOM_TOKENIZER_TOKENIZER_TEST_UTIL_H_

#include <array>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "base/sha256.h"
#include "tokenizer/tokenizer.h"

namespace loom::tokenizer::testing {

using ::loom::Sha256Hex;

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline bool FileExists(const std::string& path) { return std::ifstream(path).good(); }

// The ids as consecutive little-endian uint32 (the goldens' definition of an id hash).
inline std::string IdBytes(const std::vector<int32_t>& ids) {
  std::string s;
  s.reserve(ids.size() * 4);
  for (int32_t id : ids) {
    const auto u = static_cast<uint32_t>(id);
    for (int i = 0; i < 4; ++i) s.push_back(static_cast<char>(u >> (8 * i)));
  }
  return s;
}

// A small Gemma-like vocabulary, built in-process: control tokens, byte tokens, user-defined
// newline runs and a few merges. Spaces are U+2581 as in Gemma.
struct TinyVocab {
  TokenizerSpec spec;
  TinyVocab();
};

inline TinyVocab::TinyVocab() {
  const std::string m = "\xE2\x96\x81";  // U+2581
  std::vector<std::string> t = {"<pad>",   "<eos>", "<bos>", "<unk>", "<mask>", "<|turn>",
                                "<turn|>", "\n",    "\n\n",  "\t",    "<table>"};
  std::vector<TokenType> types = {
      TokenType::kControl,     TokenType::kControl,     TokenType::kControl,
      TokenType::kControl,     TokenType::kControl,     TokenType::kControl,
      TokenType::kControl,     TokenType::kUserDefined, TokenType::kUserDefined,
      TokenType::kUserDefined, TokenType::kUserDefined};
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof(name), "<0x%02X>", b);
    t.push_back(name);
    types.push_back(TokenType::kByte);
  }
  for (std::string s :
       std::vector<std::string>{"h", "e", "l", "o", "w", "r", "d", "a", "b", "c", "<",  ">", "|",
                                "t", "u", "n", "x", "y", "z", "!", ".", ",", "é", "日", "本"}) {
    t.push_back(s);
    types.push_back(TokenType::kNormal);
  }
  for (std::string s :
       std::vector<std::string>{m, m + m, "he", "ll", "llo", "hello", m + "w", m + "wo", "or", "ld",
                                "orld", m + "world", "ab", "bc", "abc", "日本"}) {
    t.push_back(s);
    types.push_back(TokenType::kNormal);
  }
  spec.source = "tiny";
  spec.tokens = t;
  spec.types = types;
  spec.merges_kind = TokenizerSpec::Merges::kVocabOrder;
  spec.bpe.unk_id = 3;
  for (int32_t id = 0; id < 11; ++id) {
    spec.added.push_back({id, types[id] == TokenType::kControl, false});
  }
  spec.normalizer.push_back({NormalizerStep::Kind::kReplace, " ", m});
  spec.decode_replace.emplace_back(m, " ");
  spec.prefix = {2};
  spec.roles = {{"pad", 0}, {"eos", 1}, {"bos", 2}, {"unk", 3}, {"mask", 4}};
}

// The tokenizer built from TinyVocab, shared by the unit tests.
inline const Tokenizer& TinyTokenizer() {
  static const Tokenizer tok = [] {
    auto t = Tokenizer::FromSpec(TinyVocab().spec);
    if (!t.ok()) std::abort();
    return std::move(t).value();
  }();
  return tok;
}

}  // namespace loom::tokenizer::testing

#endif  // LOOM_TOKENIZER_TOKENIZER_TEST_UTIL_H_
