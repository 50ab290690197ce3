// loom run: generate text from a prompt, streamed to stdout; speeds to stderr.
//
//   loom run -m MODEL -p PROMPT [-n N] [--temp T] [--top-k K] [--top-p P] [--min-p P]
//            [--repeat-penalty R] [--presence-penalty P] [--frequency-penalty F] [--seed S]
//            [--stop STR]... [--raw] [-t THREADS] [--ctx N] [--chunk N] [--cache-type TYPE]
//            [--ignore-eos] [-v]
#include <chrono>
#include <cstdio>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include "base/strings.h"
#include "base/thread_pool.h"
#include "runtime/session.h"
#include "runtime/stop.h"
#include "tokenizer/tokenizer.h"
#include "tools/loom/engine.h"
#include "tools/loom/flags.h"

namespace loom::tools {
namespace {

constexpr char kRunUsage[] =
    "usage: loom run -m MODEL -p PROMPT [options]\n"
    "  -m MODEL             a .gguf file or an HF model directory\n"
    "  -p PROMPT            the prompt ('-' reads standard input)\n"
    "  -n N                 tokens to generate (default 256)\n"
    "  --temp T             temperature (0: greedy; default: the model's generation config,\n"
    "                       else 0.8)\n"
    "  --top-k K, --top-p P, --min-p P\n"
    "  --repeat-penalty R, --presence-penalty P, --frequency-penalty F, --repeat-last-n N\n"
    "  --seed S             random seed (same seed, same output)\n"
    "  --stop STR           stop when STR is generated (repeatable; STR is not printed)\n"
    "  --raw                send the prompt as is (no chat wrapper for instruction-tuned "
    "models)\n"
    "  --ignore-eos         keep generating after an end-of-sequence token\n"
    "  -t THREADS           threads (default: all cores)\n"
    "  --ctx N              context size in tokens (default 4096)\n"
    "  --chunk N            prefill chunk in tokens (default 512)\n"
    "  --cache-type TYPE    KV cache element type: f16 (default), bf16, q8_0, f32\n"
    "  -v                   print the prompt ids and the stop reason to stderr\n";

}  // namespace

int RunMain(int argc, char** argv) {
  FlagParser flags("run", kRunUsage);
  std::string model_path, prompt;
  uint64_t n = 256, top_k = 0, seed = 0, repeat_last_n = 64;
  double temp = 0.8, top_p = 1.0, min_p = 0.0, repeat_penalty = 1.0, presence = 0, frequency = 0;
  bool temp_set = false, top_k_set_flag = false, top_p_set = false, raw = false, ignore_eos = false,
       verbose = false;
  std::vector<std::string> stops;
  EngineFlags ef;
  ef.Register(&flags);
  flags.AddString("-m", &model_path);
  flags.AddString("--model", &model_path);
  flags.AddString("-p", &prompt);
  flags.AddString("--prompt", &prompt);
  flags.AddUint("-n", &n, 0, 1 << 24);
  flags.AddDouble("--temp", &temp, 0, 100, &temp_set);
  flags.AddUint("--top-k", &top_k, 0, 1 << 22);
  flags.AddDouble("--top-p", &top_p, 1e-9, 1, &top_p_set);
  flags.AddDouble("--min-p", &min_p, 0, 1);
  flags.AddDouble("--repeat-penalty", &repeat_penalty, 1e-6, 100);
  flags.AddDouble("--presence-penalty", &presence, -100, 100);
  flags.AddDouble("--frequency-penalty", &frequency, -100, 100);
  flags.AddUint("--repeat-last-n", &repeat_last_n, 0, 1 << 24);
  flags.AddUint("--seed", &seed, 0, UINT64_MAX);
  flags.AddStringList("--stop", &stops);
  flags.AddBool("--raw", &raw);
  flags.AddBool("--ignore-eos", &ignore_eos);
  flags.AddBool("-v", &verbose);
  std::vector<std::string> positional;
  if (int rc = flags.Parse(argc, argv, &positional); rc >= 0) return rc;
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--top-k") top_k_set_flag = true;
  }
  if (model_path.empty() || !positional.empty()) {
    std::fprintf(stderr, "loom run: expected -m MODEL and -p PROMPT\n%s", kRunUsage);
    return 2;
  }
  if (prompt == "-") {
    prompt.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  }
  if (prompt.empty()) {
    std::fprintf(stderr, "loom run: the prompt is empty (-p PROMPT)\n");
    return 2;
  }
  auto engine = LoadEngine(model_path);
  if (!engine.ok()) {
    std::fprintf(stderr, "loom run: %s\n", engine.status().ToString().c_str());
    return 1;
  }
  auto options = MakeSessionOptions(ef, *engine);
  if (!options.ok()) {
    std::fprintf(stderr, "loom run: %s\n", options.status().ToString().c_str());
    return 2;
  }
  // Sampling: the model's generation config, then the flags the user gave.
  runtime::SamplerParams sp;
  sp.temperature = static_cast<float>(temp);
  sp = engine->generation.ApplyTo(sp);
  if (temp_set) sp.temperature = static_cast<float>(temp);
  if (top_k_set_flag) sp.top_k = static_cast<int64_t>(top_k);
  if (top_p_set) sp.top_p = static_cast<float>(top_p);
  if (min_p > 0) sp.min_p = static_cast<float>(min_p);
  sp.repetition_penalty = static_cast<float>(repeat_penalty);
  sp.presence_penalty = static_cast<float>(presence);
  sp.frequency_penalty = static_cast<float>(frequency);
  sp.penalty_last_n = static_cast<int64_t>(repeat_last_n);
  sp.seed = seed;
  options->sampler = sp;
  options->max_new_tokens = static_cast<int64_t>(n);
  if (ignore_eos) options->eos_token_ids.clear();

  auto matcher = runtime::StopMatcher::Create(stops);
  if (!matcher.ok()) {
    std::fprintf(stderr, "loom run: --stop: %s\n", matcher.status().ToString().c_str());
    return 2;
  }
  auto ids = PromptIds(*engine, prompt, engine->has_chat_template && !raw);
  if (!ids.ok()) {
    std::fprintf(stderr, "loom run: %s\n", ids.status().ToString().c_str());
    return 1;
  }
  if (verbose) {
    std::vector<std::string> parts;
    for (int32_t id : *ids) parts.push_back(std::to_string(id));
    std::fprintf(stderr, "model: %s\nprompt ids (%zu): %s\n", engine->model->Describe().c_str(),
                 ids->size(), Join(parts, " ").c_str());
  }
  ThreadPool pool(ef.num_threads());
  auto session = runtime::Session::Create(engine->model.get(), *options, &pool);
  if (!session.ok()) {
    std::fprintf(stderr, "loom run: %s\n", session.status().ToString().c_str());
    return 2;
  }
  runtime::Session& s = **session;
  if (auto st = s.Prefill(*ids); !st.ok()) {
    std::fprintf(stderr, "loom run: %s\n", st.ToString().c_str());
    return 1;
  }
  tokenizer::DecodeOptions dopt;
  dopt.skip_special = true;
  tokenizer::StreamDecoder decoder(*engine->tokenizer, dopt);
  std::string piece;
  const char* reason = "length";
  while (n > 0) {
    auto step = s.Step();
    if (!step.ok()) {
      std::fprintf(stderr, "\nloom run: %s\n", step.status().ToString().c_str());
      return 1;
    }
    const bool is_eos = step->stop == runtime::StopReason::kEos;
    piece.clear();
    if (!is_eos) (void)decoder.Push(step->token, &piece);
    auto out = matcher->Feed(piece);
    std::fwrite(out.text.data(), 1, out.text.size(), stdout);
    std::fflush(stdout);
    if (out.stopped) {
      reason = "stop string";
      break;
    }
    if (step->stop != runtime::StopReason::kNone) {
      reason = runtime::StopReasonName(step->stop);
      break;
    }
  }
  if (!matcher->stopped()) {
    piece.clear();
    decoder.Finish(&piece);
    std::string tail = matcher->Feed(piece).text;
    if (!matcher->stopped()) tail += matcher->Flush();
    std::fwrite(tail.data(), 1, tail.size(), stdout);
  }
  std::printf("\n");
  const runtime::SessionTimings& t = s.timings();
  std::fprintf(stderr,
               "\nprompt: %lld tokens, %.1f tok/s | generation: %lld tokens, %.1f tok/s | "
               "first token after %.0f ms | load %.2f s | %d threads%s%s\n",
               static_cast<long long>(t.prompt_tokens), t.prefill_tokens_per_second(),
               static_cast<long long>(s.generated()), t.decode_tokens_per_second(),
               t.time_to_first_token * 1e3, engine->load_seconds, ef.num_threads(),
               verbose ? " | stop: " : "", verbose ? reason : "");
  return 0;
}

}  // namespace loom::tools
