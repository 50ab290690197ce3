#include "tokenizer/utf8.h"

namespace loom::tokenizer {

size_t Utf8CodePoints(std::string_view s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

namespace {

// Length of the longest prefix of `s` that starts a well-formed character (the "maximal
// subpart"), and whether it is a complete character. A lead byte that can never start a
// character gives {1, false}.
struct Subpart {
  size_t len;
  bool complete;
};

Subpart MaximalSubpart(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  const unsigned char c = p[0];
  if (c < 0x80) return {1, true};
  size_t need;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    need = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    need = 3;
    if (c == 0xE0) lo = 0xA0;  // no overlongs
    if (c == 0xED) hi = 0x9F;  // no surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    need = 4;
    if (c == 0xF0) lo = 0x90;  // no overlongs
    if (c == 0xF4) hi = 0x8F;  // nothing above U+10FFFF
  } else {
    return {1, false};  // 0x80..0xC1, 0xF5..0xFF never lead
  }
  size_t i = 1;
  for (; i < need; ++i) {
    if (i >= n) return {i, false};
    const unsigned char b = p[i];
    const bool ok = i == 1 ? (b >= lo && b <= hi) : (b >= 0x80 && b <= 0xBF);
    if (!ok) return {i, false};
  }
  return {need, true};
}

}  // namespace

size_t Utf8ValidCharLen(std::string_view s) {
  if (s.empty()) return 0;
  Subpart sp = MaximalSubpart(s);
  return sp.complete ? sp.len : 0;
}

size_t FindInvalidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    Subpart sp = MaximalSubpart(s.substr(i));
    if (!sp.complete) return i;
    i += sp.len;
  }
  return std::string_view::npos;
}

void AppendUtf8Sanitized(std::string_view s, std::string* out) {
  size_t i = 0;
  while (i < s.size()) {
    size_t bad = FindInvalidUtf8(s.substr(i));
    if (bad == std::string_view::npos) {
      out->append(s.substr(i));
      return;
    }
    out->append(s.substr(i, bad));
    i += bad;
    out->append(kReplacementChar);
    i += MaximalSubpart(s.substr(i)).len;
  }
}

}  // namespace loom::tokenizer
