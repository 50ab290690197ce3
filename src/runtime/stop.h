// Stop strings over streamed text: the caller feeds each decoded piece and gets back the text
// that is safe to show now. A suffix that could still grow into a stop string is held back;
// when a stop string completes, the text before it is released and the stop string is not.
// Works on bytes of UTF-8 text and never releases a partial UTF-8 sequence.
#ifndef LOOM_RUNTIME_STOP_H_
#define LOOM_RUNTIME_STOP_H_

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace loom::runtime {

class StopMatcher {
 public:
  struct Output {
    std::string text;      // safe to emit now
    bool stopped = false;  // a stop string completed (generation should end)
    int stop_index = -1;   // which one (index into the constructor's list)
  };

  // Errors: an empty stop string.
  static Result<StopMatcher> Create(std::vector<std::string> stops);
  StopMatcher() = default;

  // Feeds one piece. After a stop, further pieces are ignored (empty output, stopped).
  Output Feed(std::string_view piece);
  // End of generation without a stop: releases what was held back.
  std::string Flush();
  void Reset();

  bool stopped() const { return stopped_; }
  // Bytes held back right now.
  size_t pending() const { return pending_.size(); }

 private:
  std::vector<std::string> stops_;
  std::string pending_;
  bool stopped_ = false;
};

}  // namespace loom::runtime

#endif  // LOOM_RUNTIME_STOP_H_
