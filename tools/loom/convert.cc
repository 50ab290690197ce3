// loom convert -m HF_DIR -o OUT.gguf --type T
// loom convert --random --config CONFIG.json -o OUT.gguf --type T [--seed S] [--tokenizer PATH]
//
// Writes a llama.cpp-compatible GGUF of the text decoder (model/gguf_export.h says what and
// why). --random builds a model of the config with random weights, for benchmarks.
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "base/strings.h"
#include "base/thread_pool.h"
#include "model/gguf_export.h"
#include "tools/loom/flags.h"

namespace loom::tools {
namespace {

constexpr char kUsage[] =
    "usage: loom convert -m HF_DIR -o OUT.gguf --type TYPE [--mmproj MMPROJ.gguf] [--threads N]\n"
    "                    [--quiet]\n"
    "       loom convert --random --config CONFIG.json -o OUT.gguf --type TYPE [--seed S]\n"
    "                    [--tokenizer PATH] [--threads N] [--quiet]\n"
    "  -m HF_DIR        an HF model directory (config.json, *.safetensors, tokenizer.json)\n"
    "  -o OUT.gguf      the output file (written to OUT.gguf.tmp, renamed when complete)\n"
    "  --type TYPE      F32, F16, BF16, Q8_0, Q4_K or Q6_K; norms and 1-D tensors stay F32,\n"
    "                   rows that do not fit the block fall back to Q8_0, then F16; with Q4_K\n"
    "                   token_embd is Q6_K\n"
    "  --mmproj PATH    also write the vision/audio embedders of a Gemma 4 Unified model as a\n"
    "                   llama.cpp mmproj file (projectors gemma4uv/gemma4ua)\n"
    "  --random         random weights for --config (N(0, 1/fan_in) projections, norms ~1)\n"
    "  --config PATH    config.json (or its directory) of the random model\n"
    "  --seed S         random seed (default 0); the file depends only on the seed\n"
    "  --repeat-rows N  (--random) every matrix repeats its first N random rows: a file for\n"
    "                   speed and memory measurements written in the time it takes to write\n"
    "                   it (default 0: every row drawn)\n"
    "  --tokenizer PATH tokenizer.json, an HF directory or a .gguf for the random model;\n"
    "                   default: a synthetic byte-fallback vocabulary of vocab_size tokens\n"
    "  --threads N      conversion threads (default: all cores)\n"
    "  --quiet          no per-tensor lines\n"
    "the text decoder only: multimodal embedders are skipped (mmproj comes later)\n";

int Fail(const Status& s) {
  std::fprintf(stderr, "loom convert: %s\n", s.ToString().c_str());
  return 1;
}

}  // namespace

int ConvertMain(int argc, char** argv) {
  FlagParser flags("convert", kUsage);
  std::string model, out, type_name, config, tokenizer, mmproj;
  bool random = false, quiet = false;
  uint64_t seed = 0, threads = 0, repeat_rows = 0;
  flags.AddString("-m", &model);
  flags.AddString("--model", &model);
  flags.AddString("-o", &out);
  flags.AddString("--output", &out);
  flags.AddString("--type", &type_name);
  flags.AddBool("--random", &random);
  flags.AddString("--config", &config);
  flags.AddString("--tokenizer", &tokenizer);
  flags.AddString("--mmproj", &mmproj);
  flags.AddUint("--seed", &seed, 0, UINT64_MAX);
  flags.AddUint("--repeat-rows", &repeat_rows, 0, 1 << 20);
  flags.AddUint("--threads", &threads, 0, 1024);
  flags.AddBool("--quiet", &quiet);
  std::vector<std::string> positional;
  if (int rc = flags.Parse(argc, argv, &positional); rc >= 0) return rc;
  auto usage_error = [](const std::string& msg) {
    std::fprintf(stderr, "loom convert: %s\n%s", msg.c_str(), kUsage);
    return 2;
  };
  if (!positional.empty()) return usage_error("unexpected argument '" + positional[0] + "'");
  if (out.empty()) return usage_error("-o OUT.gguf is required");
  if (type_name.empty()) return usage_error("--type is required");
  if (random && config.empty()) return usage_error("--random needs --config CONFIG.json");
  if (random && !model.empty()) return usage_error("--random and -m exclude each other");
  if (random && !mmproj.empty()) return usage_error("--mmproj goes with -m HF_DIR");
  if (!random && model.empty()) return usage_error("-m HF_DIR is required (or --random)");
  if (!random && (!config.empty() || !tokenizer.empty())) {
    return usage_error("--config and --tokenizer go with --random");
  }
  Result<gguf::GgmlType> type = model::ParseExportType(type_name);
  if (!type.ok()) return usage_error(type.status().message());

  const int n_threads = threads > 0
                            ? static_cast<int>(threads)
                            : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  ThreadPool pool(n_threads);
  model::ExportOptions options;
  options.type = *type;
  options.pool = &pool;
  if (!quiet) {
    options.progress = [](const std::string& line) { std::printf("  %s\n", line.c_str()); };
  }
  model::ExportReport report;
  const auto start = std::chrono::steady_clock::now();
  Status s;
  if (random) {
    model::RandomExportOptions ro;
    ro.base = options;
    ro.seed = seed;
    ro.repeat_rows = repeat_rows;
    ro.tokenizer = tokenizer;
    s = model::ExportRandomGguf(config, out, ro, &report);
  } else {
    s = model::ExportHfToGguf(model, out, options, &report);
  }
  if (!s.ok()) return Fail(s);
  if (!mmproj.empty()) {
    model::ExportReport mr;
    s = model::ExportHfMmproj(model, mmproj, options, &mr);
    if (!s.ok()) return Fail(s);
    std::printf("wrote %s: arch clip, %llu tensors, %s\n", mmproj.c_str(),
                static_cast<unsigned long long>(mr.tensors), HumanBytes(mr.file_bytes).c_str());
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (const std::string& n : report.notes) std::printf("note: %s\n", n.c_str());
  if (!report.skipped.empty()) {
    std::printf("skipped %zu multimodal/duplicate tensors (--mmproj writes the embedders): %s%s\n",
                report.skipped.size(), report.skipped[0].c_str(),
                report.skipped.size() > 1 ? ", ..." : "");
  }
  std::printf("wrote %s: arch %s, %llu tensors, %s parameters, %s in %.1f s\n", out.c_str(),
              report.architecture.c_str(), static_cast<unsigned long long>(report.tensors),
              HumanCount(report.parameters).c_str(), HumanBytes(report.file_bytes).c_str(), secs);
  return 0;
}

}  // namespace loom::tools
