// UTF-8 helpers for the tokenizer: character lengths, the offset of the first invalid byte and
// replacement of invalid sequences with U+FFFD.
#ifndef LOOM_TOKENIZER_UTF8_H_
#define LOOM_TOKENIZER_UTF8_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace loom::tokenizer {

inline constexpr std::string_view kReplacementChar = "\xEF\xBF\xBD";  // U+FFFD

// Length of the character whose lead byte is `c`, assuming valid UTF-8 (1 for ASCII and for
// bytes that cannot lead, so a caller walking valid text always advances).
inline size_t Utf8CharLen(unsigned char c) {
  if (c < 0xC0) return 1;
  if (c < 0xE0) return 2;
  if (c < 0xF0) return 3;
  return 4;
}

// Number of code points in valid UTF-8 text (continuation bytes are not counted).
size_t Utf8CodePoints(std::string_view s);

// Length of the well-formed character at the start of `s`, or 0 when `s` does not start with
// one (ill-formed or truncated). Rules of Unicode Table 3-7: no overlongs, no surrogates,
// nothing above U+10FFFF.
size_t Utf8ValidCharLen(std::string_view s);

// Offset of the first byte that is not part of a well-formed character, or npos for valid text.
size_t FindInvalidUtf8(std::string_view s);

// Appends `s` with every maximal ill-formed subpart replaced by one U+FFFD, the practice that
// Unicode recommends (§3.9, "U+FFFD Substitution of Maximal Subparts") and that Python's
// errors="replace" and the WHATWG decoder follow.
void AppendUtf8Sanitized(std::string_view s, std::string* out);

}  // namespace loom::tokenizer

#endif  // LOOM_TOKENIZER_UTF8_H_
