// loom perplexity -m MODEL -f TEXT [--ctx 512] [-t THREADS] [--chunks N] [--json]
//
// llama.cpp's perplexity method, so the numbers compare: the text is tokenized with BOS, cut
// into non-overlapping windows of --ctx tokens (a tail that does not fill one is dropped), each
// window is evaluated from an empty cache with its first token replaced by BOS, and the
// negative log-likelihood of the tokens in the second half of each window is averaged.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "base/mapped_file.h"
#include "base/strings.h"
#include "base/thread_pool.h"
#include "formats/json.h"
#include "runtime/kv_cache.h"
#include "tools/loom/engine.h"
#include "tools/loom/flags.h"

namespace loom::tools {
namespace {

constexpr char kPerplexityUsage[] =
    "usage: loom perplexity -m MODEL -f TEXT [--ctx N] [-t THREADS] [--chunks N]\n"
    "                       [--cache-type TYPE] [--json]\n"
    "  --ctx N       window length in tokens (default 512)\n"
    "  --chunks N    evaluate only the first N windows (default: all)\n"
    "  --json        print the result as JSON\n";

// Logits are needed for the second half of each window; they are computed this many rows at a
// time so a 262,144-token vocabulary costs 64 MiB, not 512 MiB.
constexpr int64_t kLogitRows = 64;

double LogSoftmaxAt(const float* row, int64_t n, int32_t tok) {
  float m = row[0];
  for (int64_t i = 1; i < n; ++i) m = std::max(m, row[i]);
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += std::exp(static_cast<double>(row[i] - m));
  return static_cast<double>(row[tok] - m) - std::log(sum);
}

}  // namespace

int PerplexityMain(int argc, char** argv) {
  FlagParser flags("perplexity", kPerplexityUsage);
  std::string model_path, file;
  uint64_t max_chunks = 0;
  bool as_json = false;
  EngineFlags ef;
  ef.ctx = 512;
  ef.Register(&flags);
  flags.AddString("-m", &model_path);
  flags.AddString("--model", &model_path);
  flags.AddString("-f", &file);
  flags.AddUint("--chunks", &max_chunks, 0, 1 << 24);
  flags.AddBool("--json", &as_json);
  std::vector<std::string> positional;
  if (int rc = flags.Parse(argc, argv, &positional); rc >= 0) return rc;
  if (model_path.empty() || file.empty() || !positional.empty()) {
    std::fprintf(stderr, "loom perplexity: expected -m MODEL and -f TEXT\n%s", kPerplexityUsage);
    return 2;
  }
  if (ef.ctx < 4) {
    std::fprintf(stderr, "loom perplexity: --ctx %llu is too small (at least 4)\n",
                 static_cast<unsigned long long>(ef.ctx));
    return 2;
  }
  auto text = ReadFileToString(file, uint64_t{1} << 31);
  if (!text.ok()) {
    std::fprintf(stderr, "loom perplexity: %s\n", text.status().ToString().c_str());
    return 1;
  }
  auto engine = LoadEngine(model_path);
  if (!engine.ok()) {
    std::fprintf(stderr, "loom perplexity: %s\n", engine.status().ToString().c_str());
    return 1;
  }
  std::vector<int32_t> tokens;
  const auto bos = engine->tokenizer->RoleId("bos");
  if (bos) tokens.push_back(*bos);
  if (auto st = engine->tokenizer->Encode(*text, {}, &tokens); !st.ok()) {
    std::fprintf(stderr, "loom perplexity: %s: %s\n", file.c_str(), st.ToString().c_str());
    return 1;
  }
  const int64_t n_ctx = static_cast<int64_t>(ef.ctx);
  int64_t chunks = static_cast<int64_t>(tokens.size()) / n_ctx;
  if (max_chunks > 0) chunks = std::min<int64_t>(chunks, static_cast<int64_t>(max_chunks));
  if (chunks == 0) {
    std::fprintf(stderr,
                 "loom perplexity: %s has %zu tokens, fewer than one window of --ctx %lld\n",
                 file.c_str(), tokens.size(), static_cast<long long>(n_ctx));
    return 1;
  }
  auto options = MakeSessionOptions(ef, *engine);
  if (!options.ok()) {
    std::fprintf(stderr, "loom perplexity: %s\n", options.status().ToString().c_str());
    return 2;
  }
  auto kv = runtime::KvCache::Create(engine->model->config(), options->kv);
  if (!kv.ok()) {
    std::fprintf(stderr, "loom perplexity: %s\n", kv.status().ToString().c_str());
    return 2;
  }
  ThreadPool pool(ef.num_threads());
  const int64_t vocab = engine->model->config().vocab_size;
  const int64_t chunk = options->kv.max_batch;
  std::vector<int32_t> window(static_cast<size_t>(n_ctx)), pos(static_cast<size_t>(n_ctx));
  for (int64_t i = 0; i < n_ctx; ++i) pos[static_cast<size_t>(i)] = static_cast<int32_t>(i);
  model::ForwardOutput out;
  double nll = 0;
  int64_t count = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (int64_t c = 0; c < chunks; ++c) {
    std::copy(tokens.begin() + c * n_ctx, tokens.begin() + (c + 1) * n_ctx, window.begin());
    if (bos) window[0] = *bos;
    (*kv)->Clear();
    const int64_t first = n_ctx / 2;
    // Tokens whose logits are not scored go in big chunks; the scored half in kLogitRows.
    for (int64_t b = 0; b < n_ctx;) {
      const int64_t step = b < first ? std::min(chunk, first - b) : std::min(chunk, kLogitRows);
      const int64_t e = std::min(n_ctx, b + step);
      model::Batch batch;
      batch.tokens = window.data() + b;
      batch.positions = pos.data() + b;
      batch.n = e - b;
      out.logits_rows = b < first ? 0 : e - b;
      if (auto st = engine->model->Forward(batch, kv->get(), &pool, &out); !st.ok()) {
        std::fprintf(stderr, "loom perplexity: window %lld: %s\n", static_cast<long long>(c),
                     st.ToString().c_str());
        return 1;
      }
      for (int64_t j = b; j < e && b >= first; ++j) {
        if (j >= n_ctx - 1) break;
        const int32_t next = tokens[static_cast<size_t>(c * n_ctx + j + 1)];
        nll -= LogSoftmaxAt(out.logits.data() + (j - b) * vocab, vocab, next);
        ++count;
      }
      b = e;
    }
    if (!as_json) {
      std::fprintf(stderr, "[%lld/%lld] %.4f\n", static_cast<long long>(c + 1),
                   static_cast<long long>(chunks), std::exp(nll / static_cast<double>(count)));
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double ppl = std::exp(nll / static_cast<double>(count));
  if (as_json) {
    json::Json j;
    j["model"] = model_path;
    j["file"] = file;
    j["tokens"] = tokens.size();
    j["ctx"] = n_ctx;
    j["chunks"] = chunks;
    j["scored_tokens"] = count;
    j["ppl"] = ppl;
    j["seconds"] = seconds;
    j["threads"] = ef.num_threads();
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    std::printf("perplexity: %.4f over %lld windows of %lld tokens (%lld scored) in %.1f s\n", ppl,
                static_cast<long long>(chunks), static_cast<long long>(n_ctx),
                static_cast<long long>(count), seconds);
  }
  return 0;
}

}  // namespace loom::tools
