// Small string helpers. GCC 12 has no <format>, so messages are built with StrCat.
#ifndef LOOM_BASE_STRINGS_H_
#define LOOM_BASE_STRINGS_H_

#include <cstdint>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace loom {

template <typename... Args>
std::string StrCat(const Args&... args) {
  std::ostringstream os;
  os.precision(9);
  ((os << args), ...);
  return os.str();
}

// Quotes a name from a file for an error message: printable ASCII kept, the rest as \xHH,
// cut at `max_len` bytes so a hostile 1 GiB key cannot flood the log.
std::string QuoteForMessage(std::string_view s, size_t max_len = 80);

// True when `s` is well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF).
bool IsValidUtf8(std::string_view s);

// "1.50 GiB", "320.00 MiB", "12 B".
std::string HumanBytes(uint64_t bytes);

// "11.96B", "268.10M", "4.20K".
std::string HumanCount(uint64_t n);

std::string Join(const std::vector<std::string>& parts, std::string_view sep);

bool StartsWith(std::string_view s, std::string_view prefix);
bool EndsWith(std::string_view s, std::string_view suffix);

}  // namespace loom

#endif  // LOOM_BASE_STRINGS_H_
