// BPE over one "word" (a piece of normalized text between added tokens), exactly as HF
// `tokenizers` does it (models/bpe/word.rs, merge_all):
//   1. one symbol per character: its token, else its bytes as <0xHH> tokens (byte fallback),
//      else <unk> (consecutive unknowns fused into one when fuse_unk is set);
//   2. repeatedly merge the adjacent pair with the lowest merge rank, the leftmost on ties,
//      until no adjacent pair has a merge.
// Step 2 uses a min-heap of (rank, position) and a doubly linked list of symbols, so a word of
// n characters costs O(n log n); stale heap entries are skipped when popped.
#ifndef LOOM_TOKENIZER_BPE_H_
#define LOOM_TOKENIZER_BPE_H_

#include <array>
#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "tokenizer/vocab.h"

namespace loom::tokenizer {

// Which adjacent token pairs merge, into what, and in which order.
class MergeRules {
 public:
  struct Hit {
    uint32_t rank;   // lower merges first; unique per pair
    int32_t result;  // the merged token
  };

  // The merges a file lists, best first (tokenizer.json `model.merges`, GGUF
  // `tokenizer.ggml.merges`). A pair listed twice keeps its last rank, as in HF's merge map.
  // Every result must be a token.
  static Result<MergeRules> Explicit(const Vocab& vocab,
                                     const std::vector<std::pair<int32_t, int32_t>>& pairs,
                                     std::string_view what);

  // No merge list: every split of a token into two tokens is a merge, ranked by the position of
  // the merged token in the file, then by the longer left part. This is what transformers'
  // GGUF loader builds for Gemma (gguf_tokenizer_mapping.gemma_tokenizer: generate_merges with
  // the scores -index), whose file scores do not follow the merge order. Nothing is
  // precomputed: a pair is a merge when the concatenation of its spellings is a token.
  static Result<MergeRules> FromVocabOrder(const Vocab& vocab, std::string_view what);

  // No merge list, ranked by score (transformers' generate_merges with the file's scores, used
  // for the GGUF tokenizer model "gemma4"): by the merged token's score, higher first, then the
  // longer left part, then the longer right part, then the merged token's position.
  static Result<MergeRules> FromScores(const Vocab& vocab, const std::vector<float>& scores,
                                       std::string_view what);

  bool Find(const Vocab& vocab, int32_t a, int32_t b, Hit* hit) const {
    if (derived_) {
      const int32_t t = vocab.FindConcat(a, b);
      if (t < 0) return false;
      hit->rank = static_cast<uint32_t>(t) * stride_ + (stride_ - 1 - vocab.CodePoints(a));
      hit->result = t;
      return true;
    }
    return FindExplicit(a, b, hit);
  }

  size_t explicit_count() const { return count_; }
  bool derived() const { return derived_; }

 private:
  struct Slot {
    uint64_t key;  // (a << 32) | b; kEmpty when unused
    uint32_t rank;
    int32_t result;
  };
  static constexpr uint64_t kEmpty = ~uint64_t{0};
  static uint64_t Key(int32_t a, int32_t b) {
    return (uint64_t{static_cast<uint32_t>(a)} << 32) | static_cast<uint32_t>(b);
  }
  size_t SlotOf(uint64_t key) const { return (key * 0x9E3779B97F4A7C15ull) >> shift_; }
  bool FindExplicit(int32_t a, int32_t b, Hit* hit) const;
  void Insert(int32_t a, int32_t b, uint32_t rank, int32_t result);
  void Reserve(size_t n);

  bool derived_ = false;
  uint32_t stride_ = 0;  // derived: max code points + 1
  std::vector<Slot> slots_;
  int shift_ = 64;
  size_t count_ = 0;
};

struct BpeOptions {
  bool byte_fallback = true;
  bool fuse_unk = true;
  bool ignore_merges = false;  // a word that is a token as a whole is not split (HF option)
  int32_t unk_id = -1;         // -1: characters with no token and no bytes are dropped, as HF
};

class Bpe {
 public:
  Bpe(const Vocab* vocab, MergeRules rules, BpeOptions options);

  // Appends the tokens of `word`, which must be valid UTF-8.
  void EncodeWord(std::string_view word, std::vector<int32_t>* out) const;

  const MergeRules& rules() const { return rules_; }
  const BpeOptions& options() const { return options_; }

 private:
  struct Symbol {
    int32_t id;    // -1 once merged into its left neighbour
    int32_t prev;  // -1 at the start
    int32_t next;  // -1 at the end
  };
  void InitialSymbols(std::string_view word, std::vector<Symbol>* syms) const;
  // rules_.Find through a small per-thread cache: text repeats the same pairs ("▁t" + "he")
  // and a hit saves a probe of the large vocabulary index, which is a cache miss.
  bool FindMerge(int32_t a, int32_t b, MergeRules::Hit* hit) const;

  const Vocab* vocab_;
  MergeRules rules_;
  BpeOptions options_;
  std::array<int32_t, 128> ascii_;     // token of each ASCII character, or -1
  std::array<int32_t, 256> byte_ids_;  // token "<0xHH>" of each byte, or -1
  bool all_bytes_ = false;             // every byte has a token
  uint64_t instance_;                  // tags this Bpe's entries in the per-thread cache
};

}  // namespace loom::tokenizer

#endif  // LOOM_TOKENIZER_BPE_H_
