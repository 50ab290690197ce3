#include "tokenizer/bpe.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <functional>

#include "base/strings.h"
#include "tokenizer/utf8.h"

namespace loom::tokenizer {

void MergeRules::Reserve(size_t n) {
  int bits = 4;
  while ((size_t{1} << bits) < 2 * n + 2) ++bits;
  slots_.assign(size_t{1} << bits, Slot{kEmpty, 0, 0});
  shift_ = 64 - bits;
}

void MergeRules::Insert(int32_t a, int32_t b, uint32_t rank, int32_t result) {
  const uint64_t key = Key(a, b);
  const size_t mask = slots_.size() - 1;
  for (size_t s = SlotOf(key);; s = (s + 1) & mask) {
    if (slots_[s].key == kEmpty) {
      slots_[s] = Slot{key, rank, result};
      ++count_;
      return;
    }
    if (slots_[s].key == key) {
      slots_[s].rank = rank;  // listed again: the later rank wins, as in HF's merge map
      return;
    }
  }
}

bool MergeRules::FindExplicit(int32_t a, int32_t b, Hit* hit) const {
  const uint64_t key = Key(a, b);
  const size_t mask = slots_.size() - 1;
  for (size_t s = SlotOf(key);; s = (s + 1) & mask) {
    const Slot& slot = slots_[s];
    if (slot.key == key) {
      *hit = Hit{slot.rank, slot.result};
      return true;
    }
    if (slot.key == kEmpty) return false;
  }
}

Result<MergeRules> MergeRules::Explicit(const Vocab& vocab,
                                        const std::vector<std::pair<int32_t, int32_t>>& pairs,
                                        std::string_view what) {
  if (static_cast<int64_t>(pairs.size()) > kMaxMerges) {
    return OutOfRange(what, ": ", pairs.size(), " merges, more than the limit of ", kMaxMerges);
  }
  MergeRules rules;
  rules.Reserve(pairs.size());
  for (size_t i = 0; i < pairs.size(); ++i) {
    const auto [a, b] = pairs[i];
    if (a < 0 || b < 0 || a >= vocab.size() || b >= vocab.size()) {
      return DataLoss(what, ": merge ", i, " names token ", a < 0 || a >= vocab.size() ? a : b,
                      ", outside the vocabulary of ", vocab.size());
    }
    const int32_t result = vocab.FindConcat(a, b);
    if (result < 0) {
      return DataLoss(what, ": merge ", i, " (", QuoteForMessage(vocab.Text(a)), " + ",
                      QuoteForMessage(vocab.Text(b)), ") does not make a token of the vocabulary");
    }
    rules.Insert(a, b, static_cast<uint32_t>(i), result);
  }
  return rules;
}

Result<MergeRules> MergeRules::FromVocabOrder(const Vocab& vocab, std::string_view what) {
  MergeRules rules;
  rules.derived_ = true;
  rules.stride_ = vocab.max_code_points() + 1;
  // rank = token * stride + (stride - 1 - left code points) must fit in 32 bits.
  if (static_cast<uint64_t>(vocab.size()) * rules.stride_ > uint64_t{UINT32_MAX}) {
    return OutOfRange(what, ": ", vocab.size(), " tokens of up to ", vocab.max_code_points(),
                      " code points are too many to rank merges derived from the vocabulary");
  }
  return rules;
}

Result<MergeRules> MergeRules::FromScores(const Vocab& vocab, const std::vector<float>& scores,
                                          std::string_view what) {
  if (scores.size() != static_cast<size_t>(vocab.size())) {
    return DataLoss(what, ": ", scores.size(), " scores for ", vocab.size(), " tokens");
  }
  struct Candidate {
    float score;
    uint32_t left_cp, right_cp;
    int32_t token, a, b;
  };
  std::vector<Candidate> cands;
  for (int32_t t = 0; t < vocab.size(); ++t) {
    if (std::isnan(scores[t])) return DataLoss(what, ": the score of token ", t, " is NaN");
    std::string_view s = vocab.Text(t);
    uint32_t left_cp = 0;
    for (size_t k = 0; k < s.size();) {
      k += Utf8CharLen(static_cast<unsigned char>(s[k]));
      ++left_cp;
      if (k >= s.size()) break;
      const int32_t a = vocab.Find(s.substr(0, k));
      if (a < 0) continue;
      const int32_t b = vocab.Find(s.substr(k));
      if (b < 0) continue;
      cands.push_back({scores[t], left_cp, vocab.CodePoints(t) - left_cp, t, a, b});
    }
  }
  // transformers sorts (score, len(left), len(right)) descending with a stable sort over the
  // tokens in file order.
  std::sort(cands.begin(), cands.end(), [](const Candidate& x, const Candidate& y) {
    if (x.score != y.score) return x.score > y.score;
    if (x.left_cp != y.left_cp) return x.left_cp > y.left_cp;
    if (x.right_cp != y.right_cp) return x.right_cp > y.right_cp;
    return x.token < y.token;
  });
  MergeRules rules;
  rules.Reserve(cands.size());
  for (size_t i = 0; i < cands.size(); ++i) {
    rules.Insert(cands[i].a, cands[i].b, static_cast<uint32_t>(i), cands[i].token);
  }
  return rules;
}

namespace {
std::atomic<uint64_t> next_bpe_instance{1};
}  // namespace

Bpe::Bpe(const Vocab* vocab, MergeRules rules, BpeOptions options)
    : vocab_(vocab),
      rules_(std::move(rules)),
      options_(options),
      instance_(next_bpe_instance.fetch_add(1)) {
  for (int c = 0; c < 128; ++c) {
    const char ch = static_cast<char>(c);
    ascii_[c] = vocab_->Find(std::string_view(&ch, 1));
  }
  all_bytes_ = true;
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof(name), "<0x%02X>", b);
    byte_ids_[b] = vocab_->Find(name);
    if (byte_ids_[b] < 0) all_bytes_ = false;
  }
}

void Bpe::InitialSymbols(std::string_view word, std::vector<Symbol>* syms) const {
  const auto* p = reinterpret_cast<const unsigned char*>(word.data());
  const size_t n = word.size();
  bool pending_unk = false;
  auto add = [syms](int32_t id) {
    const int32_t i = static_cast<int32_t>(syms->size());
    syms->push_back(Symbol{id, i - 1, i + 1});
  };
  for (size_t i = 0; i < n;) {
    int32_t id;
    size_t len;
    if (p[i] < 0x80) {
      id = ascii_[p[i]];
      len = 1;
    } else {
      len = std::min(Utf8CharLen(p[i]), n - i);
      id = vocab_->Find(word.substr(i, len));
    }
    if (id >= 0) {
      if (pending_unk) add(options_.unk_id);
      pending_unk = false;
      add(id);
    } else if (options_.byte_fallback &&
               (all_bytes_ || std::all_of(p + i, p + i + len,
                                          [this](unsigned char b) { return byte_ids_[b] >= 0; }))) {
      if (pending_unk) add(options_.unk_id);
      pending_unk = false;
      for (size_t k = 0; k < len; ++k) add(byte_ids_[p[i + k]]);
    } else if (options_.unk_id >= 0) {
      if (pending_unk && !options_.fuse_unk) add(options_.unk_id);
      pending_unk = true;
    }
    i += len;
  }
  if (pending_unk) add(options_.unk_id);
  if (!syms->empty()) syms->back().next = -1;
}

bool Bpe::FindMerge(int32_t a, int32_t b, MergeRules::Hit* hit) const {
  struct Line {
    uint64_t instance = 0;  // 0: empty; instance ids start at 1
    uint64_t key = 0;
    uint32_t rank = 0;
    int32_t result = -1;  // -1: the pair does not merge
  };
  constexpr size_t kLines = 4096;
  thread_local std::vector<Line> cache(kLines);
  const uint64_t key = (uint64_t{static_cast<uint32_t>(a)} << 32) | static_cast<uint32_t>(b);
  Line& line = cache[(key * 0x9E3779B97F4A7C15ull) >> 52];
  if (line.instance != instance_ || line.key != key) {
    line.instance = instance_;
    line.key = key;
    line.result = -1;
    if (rules_.Find(*vocab_, a, b, hit)) {
      line.rank = hit->rank;
      line.result = hit->result;
    }
  }
  if (line.result < 0) return false;
  *hit = MergeRules::Hit{line.rank, line.result};
  return true;
}

void Bpe::EncodeWord(std::string_view word, std::vector<int32_t>* out) const {
  if (word.empty()) return;
  if (options_.ignore_merges) {
    const int32_t whole = vocab_->Find(word);
    if (whole >= 0) {
      out->push_back(whole);
      return;
    }
  }
  // A heap entry: the pair starting at symbol `pos`, which covers the initial symbols
  // [pos, end). Keys are rank << 32 | pos, so the smallest key is the lowest rank and, on equal
  // ranks, the leftmost position: HF's Merge ordering.
  struct Entry {
    uint64_t key;
    int32_t end;
    int32_t result;
    bool operator>(const Entry& o) const { return key > o.key; }
  };
  // Scratch buffers reused across calls on this thread: a long document is thousands of words.
  thread_local std::vector<Symbol> syms;
  thread_local std::vector<Entry> heap;
  syms.clear();
  heap.clear();
  InitialSymbols(word, &syms);
  const int32_t n = static_cast<int32_t>(syms.size());
  if (n == 0) return;  // only characters without a token, no bytes and no <unk>
  if (n == 1) {
    out->push_back(syms[0].id);
    return;
  }
  // The symbol at i covers the initial symbols [i, next); a pair's span ends where the right
  // symbol ends.
  auto end_of = [n](const Symbol& s) { return s.next < 0 ? n : s.next; };
  auto push = [](uint32_t rank, int32_t pos, int32_t end, int32_t result) {
    heap.push_back(Entry{(uint64_t{rank} << 32) | static_cast<uint32_t>(pos), end, result});
    std::push_heap(heap.begin(), heap.end(), std::greater<>());
  };
  MergeRules::Hit hit;
  for (int32_t i = 0; i + 1 < n; ++i) {
    if (FindMerge(syms[i].id, syms[i + 1].id, &hit)) {
      heap.push_back(Entry{(uint64_t{hit.rank} << 32) | static_cast<uint32_t>(i),
                           end_of(syms[i + 1]), hit.result});
    }
  }
  std::make_heap(heap.begin(), heap.end(), std::greater<>());
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), std::greater<>());
    const Entry top = heap.back();
    heap.pop_back();
    const int32_t pos = static_cast<int32_t>(top.key & 0xFFFFFFFFu);
    Symbol& s = syms[pos];
    if (s.id < 0 || s.next < 0) continue;
    const int32_t right = s.next;
    // Stale entry: the pair at `pos` changed since it was pushed. A pair's span only grows
    // (the left symbol grows only by absorbing the whole right one), so an unchanged end means
    // an unchanged pair. This is HF's check (same merged token) without a lookup.
    if (end_of(syms[right]) != top.end) continue;
    s.id = top.result;
    s.next = syms[right].next;
    syms[right].id = -1;
    if (s.next >= 0) syms[s.next].prev = pos;
    if (s.prev >= 0 && FindMerge(syms[s.prev].id, s.id, &hit)) {
      push(hit.rank, s.prev, end_of(s), hit.result);
    }
    if (s.next >= 0 && FindMerge(s.id, syms[s.next].id, &hit)) {
      push(hit.rank, pos, end_of(syms[s.next]), hit.result);
    }
  }
  for (int32_t i = 0; i >= 0; i = syms[i].next) out->push_back(syms[i].id);
}

}  // namespace loom::tokenizer
