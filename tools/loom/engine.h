// What `loom run`, `loom bench -m` and `loom perplexity` share: loading a model with its
// tokenizer and generation defaults, the common flags (threads, context, chunk, cache type),
// and wrapping a prompt in the model's chat format.
#ifndef LOOM_TOOLS_LOOM_ENGINE_H_
#define LOOM_TOOLS_LOOM_ENGINE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "model/model.h"
#include "runtime/generation_config.h"
#include "runtime/session.h"
#include "tokenizer/tokenizer.h"
#include "tools/loom/flags.h"

namespace loom::tools {

struct Engine {
  std::unique_ptr<model::Model> model;
  std::optional<tokenizer::Tokenizer> tokenizer;
  runtime::GenerationConfig generation;
  bool has_chat_template = false;  // instruction-tuned: prompts get the chat wrapper
  double load_seconds = 0;
};

// `mmproj`: a llama.cpp mmproj GGUF with the media embedders of a GGUF model (may be empty).
Result<Engine> LoadEngine(const std::string& path, const std::string& mmproj = "");

// Flags every generating command takes.
struct EngineFlags {
  uint64_t threads = 0;  // 0: all cores
  uint64_t ctx = 4096;
  uint64_t chunk = 512;
  std::string cache_type = "f16";
  void Register(FlagParser* flags);
  int num_threads() const;
};

// Session options from the flags (KV cache sized for ctx, prefill chunk), greedy sampling.
Result<runtime::SessionOptions> MakeSessionOptions(const EngineFlags& f, const Engine& e);

// The ids of `prompt`: with the chat wrapper of the model's family (Gemma 4 `<|turn>`, Gemma 3
// `<start_of_turn>`) when `chat`, else BOS + the text. User text never matches control tokens.
Result<std::vector<int32_t>> PromptIds(const Engine& e, const std::string& prompt, bool chat);

// The markup around one user turn for the model's family: {"<|turn>user\n",
// "<turn|>\n<|turn>model\n"} for Gemma 4, <start_of_turn> for Gemma 3; empty when the
// vocabulary has neither.
struct ChatWrap {
  std::string before, after;
};
ChatWrap UserTurnWrap(const tokenizer::Tokenizer& tok);

// Peak resident set size of this process, bytes.
uint64_t PeakRssBytes();

}  // namespace loom::tools

#endif  // LOOM_TOOLS_LOOM_ENGINE_H_
