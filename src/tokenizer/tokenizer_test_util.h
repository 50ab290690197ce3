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

#include "tokenizer/tokenizer.h"

namespace loom::tokenizer::testing {

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline bool FileExists(const std::string& path) { return std::ifstream(path).good(); }

// SHA-256 (FIPS 180-4) of `data`, as lowercase hex. The goldens record the SHA-256 of long id
// sequences instead of the ids.
inline std::string Sha256Hex(const std::string& data) {
  static constexpr uint32_t k[64] = {
      0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
      0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
      0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
      0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
      0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
      0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
      0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
      0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
      0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
      0xc67178f2};
  std::array<uint32_t, 8> h = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                               0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  std::string msg = data;
  const uint64_t bits = static_cast<uint64_t>(data.size()) * 8;
  msg.push_back(static_cast<char>(0x80));
  while (msg.size() % 64 != 56) msg.push_back('\0');
  for (int i = 7; i >= 0; --i) msg.push_back(static_cast<char>(bits >> (8 * i)));
  auto rotr = [](uint32_t x, int n) { return (x >> n) | (x << (32 - n)); };
  for (size_t off = 0; off < msg.size(); off += 64) {
    uint32_t w[64];
    for (int i = 0; i < 16; ++i) {
      const auto* p = reinterpret_cast<const unsigned char*>(msg.data() + off + 4 * i);
      w[i] = (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
    }
    for (int i = 16; i < 64; ++i) {
      uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
      uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
      w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (int i = 0; i < 64; ++i) {
      uint32_t t1 =
          hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + k[i] + w[i];
      uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
      hh = g;
      g = f;
      f = e;
      e = d + t1;
      d = c;
      c = b;
      b = a;
      a = t1 + t2;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
    h[5] += f;
    h[6] += g;
    h[7] += hh;
  }
  std::string hex;
  for (uint32_t v : h) {
    char buf[9];
    std::snprintf(buf, sizeof(buf), "%08x", v);
    hex += buf;
  }
  return hex;
}

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
