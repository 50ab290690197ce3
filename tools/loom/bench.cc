// loom bench MODE ...: benchmarks, one mode per component; single thread unless a mode says
// otherwise.
//
//   loom bench tokenizer -m MODEL FILE [--json] [--seconds S]
//     Load time, then encode throughput of FILE line by line (split on '\n', the way chat
//     requests arrive) and as one text, and decode throughput, in MB/s (10^6 bytes of text per
//     second). Each figure is the best of repeated passes over at least S seconds (default 1).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "base/mapped_file.h"
#include "base/timing.h"
#include "formats/json.h"
#include "tokenizer/tokenizer.h"
#include "tools/loom/flags.h"

namespace loom::tools {
namespace {

constexpr char kBenchUsage[] =
    "usage: loom bench -m MODEL [-p N] [-n N] [-t THREADS] [--json]   (a model's speed)\n"
    "       loom bench MODE [ARGS]\n"
    "modes:\n"
    "  tokenizer -m MODEL FILE [--json] [--seconds S]\n"
    "      encode (line by line and whole) and decode MB/s of FILE, single thread\n"
    "  roofline [-t THREADS] [--json]\n"
    "      memory read bandwidth and f32 FMA peak of this machine\n"
    "  kernels [-t THREADS] [--formats LIST|all] [--only PARTS] [--json]\n"
    "      matrix products, attention and ops on the Gemma 4 12B shapes vs the roofline\n"
    "  media --config CONFIG.json [--image FILE] [--audio FILE] [-m MODEL] [--json]\n"
    "      media decode + preprocessing + embedding, next to the prefill of its soft tokens\n";

constexpr char kTokenizerUsage[] =
    "usage: loom bench tokenizer -m MODEL FILE [--json] [--seconds S]\n"
    "  MODEL      a .gguf file, a tokenizer.json or an HF model directory\n"
    "  FILE       UTF-8 text; encoded line by line and as one text\n"
    "  --seconds  minimum time per measurement (default 1)\n"
    "  --json     print the results as JSON\n";

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

int BenchTokenizer(int argc, char** argv) {
  FlagParser flags("bench tokenizer", kTokenizerUsage);
  std::string model;
  bool as_json = false;
  uint64_t seconds = 1;
  flags.AddString("-m", &model);
  flags.AddString("--model", &model);
  flags.AddBool("--json", &as_json);
  flags.AddUint("--seconds", &seconds, 0, 3600);
  std::vector<std::string> positional;
  if (int rc = flags.Parse(argc, argv, &positional); rc >= 0) return rc;
  if (model.empty() || positional.size() != 1) {
    std::fprintf(stderr, "loom bench tokenizer: expected -m MODEL and one FILE\n%s",
                 kTokenizerUsage);
    return 2;
  }
  auto text = ReadFileToString(positional[0], uint64_t{1} << 31);
  if (!text.ok()) {
    std::fprintf(stderr, "loom bench tokenizer: %s\n", text.status().ToString().c_str());
    return 1;
  }
  const auto t0 = Clock::now();
  auto tok = tokenizer::Tokenizer::Load(model);
  const double load_s = Seconds(t0, Clock::now());
  if (!tok.ok()) {
    std::fprintf(stderr, "loom bench tokenizer: %s\n", tok.status().ToString().c_str());
    return 1;
  }
  std::vector<std::string_view> lines;
  for (size_t start = 0; start < text->size();) {
    size_t nl = text->find('\n', start);
    if (nl == std::string::npos) nl = text->size();
    lines.emplace_back(text->data() + start, nl - start);
    start = nl + 1;
  }
  size_t line_bytes = 0;
  for (auto l : lines) line_bytes += l.size();

  // Check once, outside the timing, that the text encodes at all.
  std::vector<std::vector<int32_t>> line_ids(lines.size());
  for (size_t i = 0; i < lines.size(); ++i) {
    if (auto s = tok->Encode(lines[i], {}, &line_ids[i]); !s.ok()) {
      std::fprintf(stderr, "loom bench tokenizer: line %zu: %s\n", i + 1, s.ToString().c_str());
      return 1;
    }
  }
  size_t tokens = 0;
  for (const auto& ids : line_ids) tokens += ids.size();

  std::vector<int32_t> scratch;
  const double enc_lines_s = BestSeconds(static_cast<double>(seconds), [&] {
    for (auto line : lines) {
      scratch.clear();
      (void)tok->Encode(line, {}, &scratch);
    }
  });
  std::vector<int32_t> whole_ids;
  const double enc_whole_s = BestSeconds(static_cast<double>(seconds), [&] {
    whole_ids.clear();
    (void)tok->Encode(*text, {}, &whole_ids);
  });
  std::string out;
  size_t decoded_bytes = 0;
  const double dec_s = BestSeconds(static_cast<double>(seconds), [&] {
    decoded_bytes = 0;
    for (const auto& ids : line_ids) {
      out.clear();
      (void)tok->Decode(ids, {}, &out);
      decoded_bytes += out.size();
    }
  });

  const double mb = 1e6;
  const double enc_lines = line_bytes / mb / enc_lines_s;
  const double enc_whole = text->size() / mb / enc_whole_s;
  const double dec = decoded_bytes / mb / dec_s;
  if (as_json) {
    json::Json j;
    j["model"] = model;
    j["tokenizer"] = tok->Describe();
    j["file"] = positional[0];
    j["bytes"] = text->size();
    j["lines"] = lines.size();
    j["tokens"] = tokens;
    j["threads"] = 1;
    j["load_ms"] = load_s * 1e3;
    j["encode_lines_mb_s"] = enc_lines;
    j["encode_mb_s"] = enc_whole;
    j["encode_whole_tokens"] = whole_ids.size();
    j["decode_mb_s"] = dec;
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    std::printf("tokenizer:      %s\n", tok->Describe().c_str());
    std::printf("load:           %.1f ms\n", load_s * 1e3);
    std::printf("text:           %zu bytes, %zu lines, %zu tokens line by line\n", text->size(),
                lines.size(), tokens);
    std::printf("encode (lines): %.2f MB/s\n", enc_lines);
    std::printf("encode (whole): %.2f MB/s (%zu tokens)\n", enc_whole, whole_ids.size());
    std::printf("decode:         %.2f MB/s\n", dec);
  }
  return 0;
}

}  // namespace

int BenchRoofline(int argc, char** argv);   // bench_kernels.cc
int BenchKernels(int argc, char** argv);    // bench_kernels.cc
int ModelBenchMain(int argc, char** argv);  // bench_model.cc
int BenchMedia(int argc, char** argv);      // bench_media.cc

int BenchMain(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
    std::fprintf(argc < 2 ? stderr : stdout, "%s", kBenchUsage);
    return argc < 2 ? 2 : 0;
  }
  const std::string mode = argv[1];
  // `loom bench -m MODEL ...` (flags first) measures a model, like llama-bench.
  if (mode.size() > 1 && mode[0] == '-') return ModelBenchMain(argc, argv);
  if (mode == "tokenizer") return BenchTokenizer(argc - 1, argv + 1);
  if (mode == "roofline") return BenchRoofline(argc - 1, argv + 1);
  if (mode == "kernels") return BenchKernels(argc - 1, argv + 1);
  if (mode == "media") return BenchMedia(argc - 1, argv + 1);
  std::fprintf(stderr, "loom bench: unknown mode '%s'\n%s", mode.c_str(), kBenchUsage);
  return 2;
}

}  // namespace loom::tools
