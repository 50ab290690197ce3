#include "tokenizer/vocab.h"

#include <cstring>

#include "base/strings.h"
#include "tokenizer/utf8.h"

namespace loom::tokenizer {
namespace {

constexpr uint64_t kBase = 0x100000001B3ull * 0x2545F4914F6CDD1Dull | 1;  // odd

}  // namespace

uint64_t Vocab::HashOf(std::string_view s) const {
  uint64_t h = 0;
  for (char c : s) h = h * kBase + static_cast<unsigned char>(c) + 1;
  return h;
}

Result<Vocab> Vocab::Build(const std::vector<std::string>& tokens, std::string_view what) {
  if (tokens.empty()) return DataLoss(what, ": the vocabulary is empty");
  if (static_cast<int64_t>(tokens.size()) > kMaxVocabSize) {
    return OutOfRange(what, ": ", tokens.size(), " tokens, more than the limit of ", kMaxVocabSize);
  }
  Vocab v;
  const size_t n = tokens.size();
  size_t total = 0;
  for (size_t i = 0; i < n; ++i) {
    const std::string& t = tokens[i];
    if (t.size() > kMaxTokenBytes) {
      return OutOfRange(what, ": token ", i, " is ", t.size(),
                        " bytes long, more than the limit of ", kMaxTokenBytes);
    }
    if (!IsValidUtf8(t)) {
      return DataLoss(what, ": token ", i, " (", QuoteForMessage(t), ") is not valid UTF-8");
    }
    total += t.size();
  }
  if (total > kMaxVocabBytes) {
    return OutOfRange(what, ": the tokens hold ", total, " bytes, more than the limit of ",
                      kMaxVocabBytes);
  }
  v.blob_.reserve(total);
  v.offsets_.resize(n + 1);
  v.hash_.resize(n);
  v.cp_len_.resize(n);
  for (size_t i = 0; i < n; ++i) {
    v.offsets_[i] = static_cast<uint32_t>(v.blob_.size());
    v.blob_.append(tokens[i]);
    v.hash_[i] = v.HashOf(tokens[i]);
    v.cp_len_[i] = static_cast<uint32_t>(Utf8CodePoints(tokens[i]));
    if (v.cp_len_[i] > v.max_cp_len_) v.max_cp_len_ = v.cp_len_[i];
    if (tokens[i].size() > v.max_len_) v.max_len_ = static_cast<uint32_t>(tokens[i].size());
  }
  v.offsets_[n] = static_cast<uint32_t>(v.blob_.size());
  v.pow_.resize(kMaxTokenBytes + 1);
  v.pow_[0] = 1;
  for (size_t k = 1; k < v.pow_.size(); ++k) v.pow_[k] = v.pow_[k - 1] * kBase;

  int bits = 4;
  while ((size_t{1} << bits) < 2 * n) ++bits;
  v.slots_.assign(size_t{1} << bits, Slot{-1, 0});
  v.shift_ = 64 - bits;
  const size_t mask = v.slots_.size() - 1;
  for (size_t i = 0; i < n; ++i) {
    const uint32_t len = v.ByteLen(static_cast<int32_t>(i));
    if (len == 0) continue;
    std::string_view s = v.Text(static_cast<int32_t>(i));
    for (size_t slot = v.Mix(v.hash_[i]) >> v.shift_;; slot = (slot + 1) & mask) {
      const int32_t other = v.slots_[slot].id;
      if (other < 0) {
        v.slots_[slot] = Slot{static_cast<int32_t>(i), static_cast<uint32_t>(v.hash_[i] >> 32)};
        break;
      }
      if (v.hash_[other] == v.hash_[i] && v.Text(other) == s) {
        return DataLoss(what, ": token ", i, " (", QuoteForMessage(s),
                        ") has the same spelling as token ", other);
      }
    }
  }
  return v;
}

int32_t Vocab::Probe(uint64_t h, uint32_t len, std::string_view a, std::string_view b) const {
  const size_t mask = slots_.size() - 1;
  const auto tag = static_cast<uint32_t>(h >> 32);
  for (size_t slot = Mix(h) >> shift_;; slot = (slot + 1) & mask) {
    const Slot& s = slots_[slot];
    if (s.id < 0) return -1;
    // The tag is 32 bits of the hash; a tag collision is rare enough for memcmp to settle it
    // (reading hash_[s.id] as well would cost a cache miss on every hit).
    if (s.tag != tag || ByteLen(s.id) != len) continue;
    const char* p = blob_.data() + offsets_[s.id];
    if (std::memcmp(p, a.data(), a.size()) == 0 &&
        (b.empty() || std::memcmp(p + a.size(), b.data(), b.size()) == 0)) {
      return s.id;
    }
  }
}

int32_t Vocab::Find(std::string_view s) const {
  if (s.empty() || s.size() > max_len_) return -1;
  return Probe(HashOf(s), static_cast<uint32_t>(s.size()), s, {});
}

int32_t Vocab::FindConcat(int32_t a, int32_t b) const {
  const uint32_t la = ByteLen(a), lb = ByteLen(b);
  if (la + lb > max_len_) return -1;
  const uint64_t h = hash_[a] * pow_[lb] + hash_[b];
  return Probe(h, la + lb, Text(a), Text(b));
}

}  // namespace loom::tokenizer
