// The token strings of a vocabulary and a hash index over them.
//
// The index uses a polynomial hash, h(s) = sum (s[i] + 1) * B^(n-1-i) mod 2^64, because it can
// be combined: h(a + b) = h(a) * B^|b| + h(b). The BPE encoder asks "is the concatenation of
// tokens a and b a token?" for every candidate pair; with per-token hashes that question costs
// one multiply and one probe, and no string is ever built.
#ifndef LOOM_TOKENIZER_VOCAB_H_
#define LOOM_TOKENIZER_VOCAB_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace loom::tokenizer {

// Limits on what a vocabulary file may declare. Real vocabularies are far below them (Gemma:
// 262,144 tokens of at most 48 bytes); they bound memory and keep the BPE rank of a derived
// merge, token_id * (longest token + 1), inside 32 bits.
inline constexpr int64_t kMaxVocabSize = int64_t{1} << 21;
inline constexpr size_t kMaxTokenBytes = 1024;
inline constexpr size_t kMaxVocabBytes = size_t{32} << 20;  // all spellings together
inline constexpr int64_t kMaxMerges = int64_t{1} << 25;

class Vocab {
 public:
  Vocab() = default;

  // Copies `tokens` (id = index). Every token must be valid UTF-8 of at most kMaxTokenBytes;
  // a non-empty spelling may occur once only (a second id could never be produced by
  // encoding, and SentencePiece refuses such models too). Empty spellings are kept for
  // decoding but are not indexed. `what` names the source in messages.
  static Result<Vocab> Build(const std::vector<std::string>& tokens, std::string_view what);

  int32_t size() const { return static_cast<int32_t>(offsets_.size()) - 1; }
  std::string_view Text(int32_t id) const {
    return std::string_view(blob_.data() + offsets_[id], offsets_[id + 1] - offsets_[id]);
  }
  uint32_t ByteLen(int32_t id) const { return offsets_[id + 1] - offsets_[id]; }
  uint32_t CodePoints(int32_t id) const { return cp_len_[id]; }
  uint32_t max_code_points() const { return max_cp_len_; }

  // The id of `s`, or -1.
  int32_t Find(std::string_view s) const;
  // The id of Text(a) + Text(b), or -1.
  int32_t FindConcat(int32_t a, int32_t b) const;

 private:
  uint64_t HashOf(std::string_view s) const;
  uint64_t Mix(uint64_t h) const { return h * 0x9E3779B97F4A7C15ull; }
  int32_t Probe(uint64_t h, uint32_t len, std::string_view a, std::string_view b) const;

  std::string blob_;               // every token's bytes, back to back
  std::vector<uint32_t> offsets_;  // [size + 1] start of token i in blob_
  std::vector<uint64_t> hash_;     // [size] h(Text(i))
  std::vector<uint32_t> cp_len_;   // [size] code points of Text(i)
  std::vector<uint64_t> pow_;      // [kMaxTokenBytes + 1] B^k
  struct Slot {
    int32_t id;    // -1 = empty
    uint32_t tag;  // high half of the token's hash: most misses end here, in one cache line
  };
  std::vector<Slot> slots_;  // open addressing; size is a power of two
  int shift_ = 64;           // 64 - log2(slots_.size())
  uint32_t max_cp_len_ = 0;
  uint32_t max_len_ = 0;
};

}  // namespace loom::tokenizer

#endif  // LOOM_TOKENIZER_VOCAB_H_
