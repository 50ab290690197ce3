// loom bench -m MODEL [-p 512] [-n 128] [-t THREADS] [--reps R] [--json]: prefill and decode
// speed of a model, the way llama-bench measures them: a prompt of -p random tokens (after
// BOS), then -n greedy tokens with end-of-sequence ignored; best of R repetitions, each from an
// empty cache.
#include <algorithm>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "base/strings.h"
#include "base/thread_pool.h"
#include "formats/json.h"
#include "kernels/targets.h"
#include "runtime/session.h"
#include "tools/loom/engine.h"
#include "tools/loom/flags.h"

namespace loom::tools {
namespace {

constexpr char kModelBenchUsage[] =
    "usage: loom bench -m MODEL [-p N] [-n N] [-t THREADS] [--reps R] [--ctx N] [--chunk N]\n"
    "                  [--cache-type TYPE] [--json]\n"
    "  -p N          prompt tokens (default 512; random ids after BOS)\n"
    "  -n N          generated tokens (default 128; greedy, end-of-sequence ignored)\n"
    "  --reps R      repetitions, best reported (default 3)\n"
    "  --json        print the results as JSON\n";

}  // namespace

int ModelBenchMain(int argc, char** argv) {
  FlagParser flags("bench", kModelBenchUsage);
  std::string model_path;
  uint64_t prompt_n = 512, gen_n = 128, reps = 3;
  bool as_json = false;
  EngineFlags ef;
  ef.ctx = 0;  // default: prompt + generation
  ef.Register(&flags);
  flags.AddString("-m", &model_path);
  flags.AddString("--model", &model_path);
  flags.AddUint("-p", &prompt_n, 1, 1 << 20);
  flags.AddUint("-n", &gen_n, 0, 1 << 20);
  flags.AddUint("--reps", &reps, 1, 1000);
  flags.AddBool("--json", &as_json);
  std::vector<std::string> positional;
  if (int rc = flags.Parse(argc, argv, &positional); rc >= 0) return rc;
  if (model_path.empty() || !positional.empty()) {
    std::fprintf(stderr, "loom bench: expected -m MODEL\n%s", kModelBenchUsage);
    return 2;
  }
  if (ef.ctx == 0) ef.ctx = prompt_n + gen_n + 1;
  auto engine = LoadEngine(model_path);
  if (!engine.ok()) {
    std::fprintf(stderr, "loom bench: %s\n", engine.status().ToString().c_str());
    return 1;
  }
  auto options = MakeSessionOptions(ef, *engine);
  if (!options.ok()) {
    std::fprintf(stderr, "loom bench: %s\n", options.status().ToString().c_str());
    return 2;
  }
  options->eos_token_ids.clear();
  options->max_new_tokens = static_cast<int64_t>(gen_n);
  if (prompt_n + gen_n > ef.ctx) {
    std::fprintf(stderr, "loom bench: -p %llu plus -n %llu exceeds --ctx %llu\n",
                 static_cast<unsigned long long>(prompt_n), static_cast<unsigned long long>(gen_n),
                 static_cast<unsigned long long>(ef.ctx));
    return 2;
  }
  std::vector<int32_t> prompt;
  if (auto bos = engine->tokenizer->RoleId("bos")) prompt.push_back(*bos);
  std::mt19937 rng(1234);
  // Ordinary tokens only: ids past the control tokens, below the vocabulary's end.
  const int32_t vocab = engine->tokenizer->vocab_size();
  std::uniform_int_distribution<int32_t> dist(std::min(1000, vocab / 4), vocab - 1);
  while (prompt.size() < prompt_n) prompt.push_back(dist(rng));

  ThreadPool pool(ef.num_threads());
  auto session = runtime::Session::Create(engine->model.get(), *options, &pool);
  if (!session.ok()) {
    std::fprintf(stderr, "loom bench: %s\n", session.status().ToString().c_str());
    return 2;
  }
  runtime::Session& s = **session;
  double best_prefill = 0, best_decode = 0, best_ttft = 1e300;
  for (uint64_t r = 0; r < reps; ++r) {
    s.Reset();
    if (auto st = s.Prefill(prompt); !st.ok()) {
      std::fprintf(stderr, "loom bench: %s\n", st.ToString().c_str());
      return 1;
    }
    for (uint64_t i = 0; i < gen_n; ++i) {
      auto step = s.Step();
      if (!step.ok()) {
        std::fprintf(stderr, "loom bench: %s\n", step.status().ToString().c_str());
        return 1;
      }
    }
    const runtime::SessionTimings& t = s.timings();
    best_prefill = std::max(best_prefill, t.prefill_tokens_per_second());
    best_decode = std::max(best_decode, t.decode_tokens_per_second());
    best_ttft = std::min(best_ttft, t.time_to_first_token);
  }
  const double rss_mib = static_cast<double>(PeakRssBytes()) / (1 << 20);
  const std::string target = kernels::TargetName(kernels::CurrentTarget());
  if (as_json) {
    json::Json j;
    j["model"] = model_path;
    j["description"] = engine->model->Describe();
    j["threads"] = ef.num_threads();
    j["target"] = target;
    j["prompt_tokens"] = prompt_n;
    j["gen_tokens"] = gen_n;
    j["cache_type"] = ef.cache_type;
    j["load_s"] = engine->load_seconds;
    j["prefill_tok_s"] = best_prefill;
    j["decode_tok_s"] = best_decode;
    j["ttft_ms"] = best_ttft * 1e3;
    j["peak_rss_mib"] = rss_mib;
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    std::printf("model:    %s\n", engine->model->Describe().c_str());
    std::printf("threads:  %d (SIMD %s), KV cache %s, load %.2f s\n", ef.num_threads(),
                target.c_str(), ef.cache_type.c_str(), engine->load_seconds);
    std::printf("%-10s %8s %12s\n", "test", "tokens", "tok/s");
    std::printf("%-10s %8llu %12.2f\n", "prefill", static_cast<unsigned long long>(prompt_n),
                best_prefill);
    std::printf("%-10s %8llu %12.2f\n", "decode", static_cast<unsigned long long>(gen_n),
                best_decode);
    std::printf("time to first token %.1f ms, peak RSS %.1f MiB (best of %llu)\n", best_ttft * 1e3,
                rss_mib, static_cast<unsigned long long>(reps));
  }
  return 0;
}

}  // namespace loom::tools
