#include "tools/loom/engine.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "base/mapped_file.h"
#include "base/strings.h"
#include "formats/gguf/gguf.h"
#include "io/path.h"
#include "runtime/kv_cache.h"

namespace loom::tools {
namespace {

// Whether the model ships a chat template, i.e. is instruction-tuned (Gemma 3 270M base has
// none: its prompts go in raw).
bool HasChatTemplate(const std::string& path) {
  if (IsDirectory(path)) {
    if (IsRegularFile(PathJoin(path, "chat_template.jinja"))) return true;
    auto cfg = ReadFileToString(PathJoin(path, "tokenizer_config.json"), 64 << 20);
    return cfg.ok() && cfg->find("\"chat_template\"") != std::string::npos;
  }
  if (EndsWith(path, ".safetensors")) return HasChatTemplate(DirName(path));
  auto file = gguf::Open(path);
  return file.ok() && file->Find("tokenizer.chat_template") != nullptr;
}

}  // namespace

Result<Engine> LoadEngine(const std::string& path, const std::string& mmproj) {
  Engine e;
  const auto t0 = std::chrono::steady_clock::now();
  model::LoadOptions lo;
  lo.mmproj = mmproj;
  LOOM_ASSIGN_OR_RETURN(e.model, model::Model::Load(path, lo));
  const std::string tok_path =
      EndsWith(path, ".safetensors") ? DirName(path) : path;  // HF: the directory
  LOOM_ASSIGN_OR_RETURN(auto tok, tokenizer::Tokenizer::Load(tok_path));
  e.tokenizer.emplace(std::move(tok));
  LOOM_ASSIGN_OR_RETURN(e.generation, runtime::DefaultGenerationConfig(path, e.model->config()));
  e.has_chat_template = HasChatTemplate(path);
  e.load_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (e.tokenizer->vocab_size() > e.model->config().vocab_size) {
    return InvalidArgument(StrCat("the tokenizer has ", e.tokenizer->vocab_size(),
                                  " tokens but the model's vocab_size is ",
                                  e.model->config().vocab_size));
  }
  return e;
}

void EngineFlags::Register(FlagParser* flags) {
  flags->AddUint("-t", &threads, 0, 1024);
  flags->AddUint("--threads", &threads, 0, 1024);
  flags->AddUint("--ctx", &ctx, 1, 1 << 24);
  flags->AddUint("-c", &ctx, 1, 1 << 24);
  flags->AddUint("--chunk", &chunk, 1, 4096);
  flags->AddString("--cache-type", &cache_type);
}

int EngineFlags::num_threads() const {
  if (threads > 0) return static_cast<int>(threads);
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

Result<runtime::SessionOptions> MakeSessionOptions(const EngineFlags& f, const Engine& e) {
  runtime::SessionOptions o;
  LOOM_ASSIGN_OR_RETURN(o.kv.type, runtime::ParseKvType(f.cache_type));
  const int64_t max_pos = e.model->config().max_position_embeddings;
  if (max_pos > 0 && static_cast<int64_t>(f.ctx) > max_pos) {
    return InvalidArgument(StrCat("--ctx ", f.ctx, " exceeds the model's context of ", max_pos,
                                  " positions (max_position_embeddings)"));
  }
  o.kv.max_context = static_cast<int64_t>(f.ctx);
  o.kv.max_batch = std::min<int64_t>(static_cast<int64_t>(f.chunk), o.kv.max_context);
  o.prefill_chunk = o.kv.max_batch;
  o.sampler.temperature = 0;
  o.eos_token_ids = e.generation.eos_token_ids;
  return o;
}

ChatWrap UserTurnWrap(const tokenizer::Tokenizer& tok) {
  // A minimal one-turn wrapper (the full renderer comes with the chat issue).
  if (tok.TokenId("<|turn>")) return {"<|turn>user\n", "<turn|>\n<|turn>model\n"};
  if (tok.TokenId("<start_of_turn>")) {
    return {"<start_of_turn>user\n", "<end_of_turn>\n<start_of_turn>model\n"};
  }
  return {};
}

Result<std::vector<int32_t>> PromptIds(const Engine& e, const std::string& prompt, bool chat) {
  const tokenizer::Tokenizer& tok = *e.tokenizer;
  std::vector<int32_t> ids;
  if (auto bos = tok.RoleId("bos")) ids.push_back(*bos);
  tokenizer::EncodeOptions markup;
  markup.parse_special = true;
  const ChatWrap wrap = chat ? UserTurnWrap(tok) : ChatWrap{};
  LOOM_RETURN_IF_ERROR(tok.Encode(wrap.before, markup, &ids));
  LOOM_RETURN_IF_ERROR(tok.Encode(prompt, {}, &ids));
  LOOM_RETURN_IF_ERROR(tok.Encode(wrap.after, markup, &ids));
  return ids;
}

uint64_t PeakRssBytes() {
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<uint64_t>(ru.ru_maxrss) * 1024;
}

}  // namespace loom::tools
