#include "runtime/stop.h"

#include <algorithm>

#include "base/strings.h"

namespace loom::runtime {
namespace {

// Length of an incomplete UTF-8 sequence at the end of `s` (0 when it ends on a boundary).
size_t IncompleteUtf8Tail(std::string_view s) {
  const size_t n = s.size();
  for (size_t back = 1; back <= 4 && back <= n; ++back) {
    const unsigned char c = static_cast<unsigned char>(s[n - back]);
    if ((c & 0xC0) == 0x80) continue;  // continuation byte: keep looking for the lead
    size_t need = 1;
    if ((c & 0xE0) == 0xC0) {
      need = 2;
    } else if ((c & 0xF0) == 0xE0) {
      need = 3;
    } else if ((c & 0xF8) == 0xF0) {
      need = 4;
    }
    return need > back ? back : 0;
  }
  return 0;  // only continuation bytes (invalid): nothing to wait for
}

}  // namespace

Result<StopMatcher> StopMatcher::Create(std::vector<std::string> stops) {
  for (size_t i = 0; i < stops.size(); ++i) {
    if (stops[i].empty()) return InvalidArgument("stop string ", i, " is empty");
  }
  StopMatcher m;
  m.stops_ = std::move(stops);
  return m;
}

StopMatcher::Output StopMatcher::Feed(std::string_view piece) {
  Output out;
  if (stopped_) {
    out.stopped = true;
    return out;
  }
  pending_.append(piece);
  // The earliest complete stop string wins (the text after it is never shown).
  size_t best = std::string::npos;
  int best_index = -1;
  for (size_t i = 0; i < stops_.size(); ++i) {
    const size_t at = pending_.find(stops_[i]);
    if (at < best) {
      best = at;
      best_index = static_cast<int>(i);
    }
  }
  if (best != std::string::npos) {
    out.text = pending_.substr(0, best);
    out.stopped = true;
    out.stop_index = best_index;
    stopped_ = true;
    pending_.clear();
    return out;
  }
  // Hold back the longest suffix that is a proper prefix of some stop string.
  size_t hold = 0;
  for (const std::string& s : stops_) {
    const size_t max_len = std::min(s.size() - 1, pending_.size());
    for (size_t len = max_len; len > hold; --len) {
      if (std::string_view(pending_).substr(pending_.size() - len) ==
          std::string_view(s).substr(0, len)) {
        hold = len;
        break;
      }
    }
  }
  const size_t emit_end = pending_.size() - hold;
  const size_t emit = emit_end - IncompleteUtf8Tail(std::string_view(pending_).substr(0, emit_end));
  out.text = pending_.substr(0, emit);
  pending_.erase(0, emit);
  return out;
}

std::string StopMatcher::Flush() {
  std::string rest = std::move(pending_);
  pending_.clear();
  return stopped_ ? std::string() : rest;
}

void StopMatcher::Reset() {
  pending_.clear();
  stopped_ = false;
}

}  // namespace loom::runtime
