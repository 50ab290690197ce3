// Finds added tokens (control and user-defined pieces such as <start_of_turn>, "\n\n", "\t\t")
// in text before BPE runs, with HF's rule: the leftmost match, and of the matches starting
// there the longest; then the search goes on after it (aho-corasick MatchKind::LeftmostLongest,
// non-overlapping).
//
// A byte trie walked from each position: O(text bytes x longest token) in the worst case, and
// close to one table lookup per byte on ordinary text, since few bytes can start a token.
#ifndef LOOM_TOKENIZER_ADDED_TOKENS_H_
#define LOOM_TOKENIZER_ADDED_TOKENS_H_

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace loom::tokenizer {

class AddedTokenMatcher {
 public:
  struct Pattern {
    std::string text;  // non-empty
    int32_t id;
    bool special;
  };
  struct Match {
    size_t begin, end;
    int32_t id;
    bool special;
  };

  AddedTokenMatcher();
  // Patterns with equal text: the last one wins.
  explicit AddedTokenMatcher(const std::vector<Pattern>& patterns);

  bool empty() const { return num_patterns_ == 0; }
  bool has_non_special() const { return has_non_special_; }

  // The leftmost-longest match starting at or after `from`; false when there is none.
  bool Next(std::string_view text, size_t from, Match* match) const;

 private:
  struct Node {
    int32_t token = -1;  // pattern ending here, -1 if none
    bool special = false;
    uint32_t first_edge = 0;
    uint32_t num_edges = 0;
  };
  int32_t Child(int32_t node, unsigned char byte) const;

  std::vector<Node> nodes_;               // nodes_[0] is the root
  std::vector<unsigned char> edge_byte_;  // per node, sorted by byte
  std::vector<int32_t> edge_child_;
  std::array<int32_t, 256> root_child_;  // the root's children, direct
  size_t num_patterns_ = 0;
  bool has_non_special_ = false;
};

}  // namespace loom::tokenizer

#endif  // LOOM_TOKENIZER_ADDED_TOKENS_H_
