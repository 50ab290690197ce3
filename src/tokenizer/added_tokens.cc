#include "tokenizer/added_tokens.h"

#include <algorithm>
#include <utility>

namespace loom::tokenizer {

AddedTokenMatcher::AddedTokenMatcher() {
  nodes_.emplace_back();
  root_child_.fill(-1);
}

AddedTokenMatcher::AddedTokenMatcher(const std::vector<Pattern>& patterns) : AddedTokenMatcher() {
  // Build with per-node child lists, then flatten them into sorted edge arrays.
  std::vector<std::vector<std::pair<unsigned char, int32_t>>> children(1);
  for (const Pattern& p : patterns) {
    if (p.text.empty()) continue;
    int32_t node = 0;
    for (char ch : p.text) {
      const auto b = static_cast<unsigned char>(ch);
      int32_t next = -1;
      for (const auto& [byte, child] : children[node]) {
        if (byte == b) next = child;
      }
      if (next < 0) {
        next = static_cast<int32_t>(nodes_.size());
        nodes_.emplace_back();
        children.emplace_back();
        children[node].emplace_back(b, next);
      }
      node = next;
    }
    if (nodes_[node].token < 0) ++num_patterns_;
    nodes_[node].token = p.id;
    nodes_[node].special = p.special;
  }
  for (size_t n = 0; n < nodes_.size(); ++n) {
    auto& c = children[n];
    std::sort(c.begin(), c.end());
    nodes_[n].first_edge = static_cast<uint32_t>(edge_byte_.size());
    nodes_[n].num_edges = static_cast<uint32_t>(c.size());
    for (const auto& [byte, child] : c) {
      edge_byte_.push_back(byte);
      edge_child_.push_back(child);
      if (n == 0) root_child_[byte] = child;
    }
  }
  for (const Node& n : nodes_) {
    if (n.token >= 0 && !n.special) has_non_special_ = true;
  }
}

int32_t AddedTokenMatcher::Child(int32_t node, unsigned char byte) const {
  const Node& n = nodes_[node];
  const unsigned char* first = edge_byte_.data() + n.first_edge;
  const unsigned char* last = first + n.num_edges;
  const unsigned char* it = std::lower_bound(first, last, byte);
  if (it == last || *it != byte) return -1;
  return edge_child_[it - edge_byte_.data()];
}

bool AddedTokenMatcher::Next(std::string_view text, size_t from, Match* match) const {
  if (num_patterns_ == 0) return false;
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  for (size_t i = from; i < n; ++i) {
    int32_t node = root_child_[p[i]];
    if (node < 0) continue;
    int32_t best = -1;
    size_t best_end = 0;
    for (size_t j = i + 1;; ++j) {
      if (nodes_[node].token >= 0) {
        best = node;
        best_end = j;
      }
      if (j == n) break;
      node = Child(node, p[j]);
      if (node < 0) break;
    }
    if (best >= 0) {
      *match = Match{i, best_end, nodes_[best].token, nodes_[best].special};
      return true;
    }
  }
  return false;
}

}  // namespace loom::tokenizer
