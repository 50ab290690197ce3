// loom bench roofline | kernels: this machine's ceilings, and each compute kernel measured
// against them.
//
//   loom bench roofline [-t THREADS] [--mib M] [--seconds S] [--json]
//     Memory read bandwidth (GB/s over an M MiB buffer, default 1024) and f32 FMA peak
//     (GFLOP/s), with the best SIMD target and T threads (default: all cores).
//
//   loom bench kernels [-t THREADS] [--formats LIST|all] [--only decode,prefill,attention,ops]
//                      [--target NAME] [--seconds S] [--mib M] [--json]
//     Matrix products on the Gemma 4 12B shapes (decode: batch 1; prefill: batch 64 and 512),
//     attention decode over a 12B KV cache, and the small ops; GB/s, GFLOP/s and the share of
//     the roofline. Weights are random (their values do not change the speed).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "base/strings.h"
#include "base/thread_pool.h"
#include "base/timing.h"
#include "formats/json.h"
#include "kernels/attention.h"
#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "kernels/roofline.h"
#include "kernels/targets.h"
#include "tensor/fp16.h"
#include "tensor/quant.h"
#include "tools/loom/flags.h"

namespace loom::tools {
namespace {

using tensor::GgmlType;

constexpr char kRooflineUsage[] =
    "usage: loom bench roofline [-t THREADS] [--mib M] [--seconds S] [--json]\n"
    "  -t         threads (default: all cores)\n"
    "  --mib      size of the buffer read for the bandwidth (default 1024)\n"
    "  --seconds  minimum time per measurement (default 1)\n"
    "  --json     print the results as JSON\n";

constexpr char kKernelsUsage[] =
    "usage: loom bench kernels [-t THREADS] [--formats LIST|all] [--only PARTS] [--target NAME]\n"
    "                          [--seconds S] [--mib M] [--json]\n"
    "  -t         threads (default: all cores)\n"
    "  --formats  weight formats, comma-separated (default bf16,q8_0,q4_k; 'all': every one)\n"
    "  --only     parts to run, comma-separated: decode,prefill,attention,ops (default all)\n"
    "  --target   SIMD target to force (e.g. AVX2; default: the best this CPU runs)\n"
    "  --seconds  minimum time per measurement (default 0.5)\n"
    "  --mib      buffer size of the bandwidth measurement (default 1024)\n"
    "  --json     print the results as JSON\n";

struct Roofline {
  double bytes_per_s = 0;
  double flops = 0;
};

Roofline MeasureRoofline(ThreadPool* pool, size_t mib, double seconds) {
  Roofline r;
  r.bytes_per_s = kernels::MeasureReadBandwidth(pool, mib << 20, seconds);
  r.flops = kernels::MeasureFmaPeak(pool, seconds);
  return r;
}

std::vector<std::string> SplitComma(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t comma = s.find(',', start);
    if (comma == std::string::npos) comma = s.size();
    if (comma > start) out.push_back(s.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

// A rows x cols matrix of random weights in `type`: one 64-row tile quantized from Gaussian
// values, repeated (the matrix is far larger than any cache, so repetition cannot help).
struct RandomMatrix {
  std::unique_ptr<uint8_t[]> bytes;
  kernels::Matrix m;
};

RandomMatrix MakeRandomMatrix(GgmlType type, int64_t rows, int64_t cols, uint32_t seed) {
  RandomMatrix out;
  const size_t row_bytes = tensor::RowBytes(type, cols);
  const int64_t tile_rows = std::min<int64_t>(rows, 64);
  std::vector<uint8_t> tile(row_bytes * static_cast<size_t>(tile_rows));
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 0.05f);
  std::vector<float> row(static_cast<size_t>(cols));
  for (int64_t r = 0; r < tile_rows; ++r) {
    for (auto& v : row) v = normal(rng);
    tensor::QuantizeRow(type, row.data(), tile.data() + static_cast<size_t>(r) * row_bytes, cols);
  }
  const size_t total = row_bytes * static_cast<size_t>(rows);
  out.bytes.reset(new uint8_t[total]);
  for (size_t off = 0; off < total; off += tile.size()) {
    std::memcpy(out.bytes.get() + off, tile.data(), std::min(tile.size(), total - off));
  }
  out.m = kernels::MakeMatrix(type, out.bytes.get(), rows, cols);
  return out;
}

struct Result {
  std::string kernel, format, shape;
  int64_t batch = 0;
  double ms = 0, gb_s = 0, gflop_s = 0;
  double pct_bw = 0, pct_flops = 0;
};

void PrintRow(const Result& r) {
  std::printf("%-10s %-7s %-26s %5lld %10.3f %9.2f %9.2f %7.1f%% %7.1f%%\n", r.kernel.c_str(),
              r.format.c_str(), r.shape.c_str(), static_cast<long long>(r.batch), r.ms, r.gb_s,
              r.gflop_s, r.pct_bw, r.pct_flops);
  std::fflush(stdout);
}

struct Shape {
  int64_t cols, rows;
};
// Gemma 4 12B: q/k/v and o projections, the MLP, the output layer.
constexpr Shape kDecodeShapes[] = {{3840, 4096},  {3840, 2048},  {3840, 512},  {3840, 8192},
                                   {3840, 15360}, {15360, 3840}, {8192, 3840}, {3840, 262144}};
constexpr Shape kPrefillShapes[] = {{3840, 4096}, {3840, 15360}, {15360, 3840}};

class KernelBench {
 public:
  KernelBench(ThreadPool* pool, double seconds, Roofline roof, bool quiet)
      : pool_(pool), seconds_(seconds), roof_(roof), quiet_(quiet) {}

  void MatMul(GgmlType type, Shape s, int64_t batch) {
    // A real decode step streams gigabytes of weights, so no matrix is in cache when its turn
    // comes. Cycling through copies that together exceed the last-level cache reproduces that;
    // timing one small matrix over and over would measure the cache instead.
    const size_t bytes = tensor::RowBytes(type, s.cols) * static_cast<size_t>(s.rows);
    const size_t copies = std::clamp<size_t>((size_t{512} << 20) / bytes + 1, 1, 64);
    std::vector<RandomMatrix> w;
    for (size_t i = 0; i < copies; ++i) {
      w.push_back(MakeRandomMatrix(type, s.rows, s.cols, 1234 + static_cast<uint32_t>(i)));
    }
    std::vector<float> x(static_cast<size_t>(batch * s.cols));
    std::mt19937 rng(7);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (auto& v : x) v = normal(rng);
    std::vector<float> y(static_cast<size_t>(batch * s.rows));
    size_t next = 0;
    const double sec = BestSeconds(seconds_, [&] {
      kernels::MatMul(w[next].m, x.data(), s.cols, batch, y.data(), s.rows, pool_);
      next = (next + 1) % copies;
    });
    Result r;
    r.kernel = batch == 1 ? "decode" : "prefill";
    r.format = gguf::GetGgmlTypeInfo(type).name;
    r.shape = StrCat(s.cols, "->", s.rows);
    r.batch = batch;
    const double flops = 2.0 * static_cast<double>(s.rows * s.cols) * static_cast<double>(batch);
    Finish(&r, sec, static_cast<double>(bytes), flops);
  }

  // One decode query over a 12B layer's F16 cache of `ctx` positions.
  void AttentionDecode(const char* name, int q_heads, int kv_heads, int dim, int window,
                       int64_t ctx) {
    const int64_t slots = window > 0 ? std::min<int64_t>(ctx, window) : ctx;
    const size_t head_bytes = static_cast<size_t>(dim) * 2;
    const size_t slot_bytes = head_bytes * static_cast<size_t>(kv_heads);
    std::vector<uint16_t> k(static_cast<size_t>(slots) * slot_bytes / 2),
        v(static_cast<size_t>(slots) * slot_bytes / 2);
    std::mt19937 rng(3);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (auto& e : k) e = tensor::F32ToF16(normal(rng));
    for (auto& e : v) e = tensor::F32ToF16(normal(rng));
    std::vector<int32_t> pos(static_cast<size_t>(slots));
    for (int64_t i = 0; i < slots; ++i)
      pos[static_cast<size_t>(i)] = static_cast<int32_t>(ctx - slots + i);
    std::vector<float> q(static_cast<size_t>(q_heads * dim)), out(q.size());
    for (auto& e : q) e = normal(rng) * 0.05f;
    kernels::KvView kv;
    kv.type = GgmlType::kF16;
    kv.k = k.data();
    kv.v = v.data();
    kv.num_slots = slots;
    kv.slot_stride = slot_bytes;
    kv.head_stride = head_bytes;
    kv.pos = pos.data();
    kernels::AttentionParams p;
    p.num_q_heads = q_heads;
    p.num_kv_heads = kv_heads;
    p.head_dim = dim;
    p.window = window;
    const int32_t q_pos = static_cast<int32_t>(ctx - 1);
    const double sec = BestSeconds(seconds_, [&] {
      kernels::Attention(p, q.data(), 1, &q_pos, nullptr, kv, out.data(), pool_);
    });
    Result r;
    r.kernel = "attention";
    r.format = "F16";
    r.shape = StrCat(name, " ctx ", ctx);
    r.batch = 1;
    const double bytes = 2.0 * static_cast<double>(slots * static_cast<int64_t>(slot_bytes));
    const double flops = 4.0 * static_cast<double>(slots) * q_heads * dim;
    Finish(&r, sec, bytes, flops);
  }

  void Ops() {
    std::mt19937 rng(5);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    {
      std::vector<float> logits(262144);
      for (auto& e : logits) e = normal(rng);
      volatile int64_t sink = 0;
      const double sec = BestSeconds(seconds_,
                                     [&] {
                                       for (int i = 0; i < 100; ++i)
                                         sink = sink + kernels::ArgMax(logits.data(), 262144);
                                     }) /
                         100;
      Result r{"argmax", "F32", "262144"};
      r.batch = 1;
      Finish(&r, sec, 262144.0 * 4, 262144.0);
    }
    {
      std::vector<float> x(3840 * 64), w(3840), y(x.size());
      for (auto& e : x) e = normal(rng);
      for (auto& e : w) e = 1.0f + 0.1f * normal(rng);
      const double sec =
          BestSeconds(seconds_,
                      [&] {
                        for (int i = 0; i < 100; ++i) {
                          kernels::RmsNorm(x.data(), w.data(), kernels::NormWeight::kW, 1e-6f, 64,
                                           3840, y.data());
                        }
                      }) /
          100;
      Result r{"rmsnorm", "F32", "64x3840"};
      r.batch = 64;
      Finish(&r, sec, 2.0 * x.size() * 4, 4.0 * x.size());
    }
    {
      std::vector<float> g(15360 * 8), u(g.size()), o(g.size());
      for (auto& e : g) e = normal(rng);
      for (auto& e : u) e = normal(rng);
      const double sec =
          BestSeconds(seconds_,
                      [&] {
                        for (int i = 0; i < 100; ++i)
                          kernels::GeluTanhGlu(g.data(), u.data(), g.size(), o.data());
                      }) /
          100;
      Result r{"geglu", "F32", "8x15360"};
      r.batch = 8;
      Finish(&r, sec, 3.0 * g.size() * 4, 10.0 * g.size());
    }
  }

  const std::vector<Result>& results() const { return results_; }

 private:
  void Finish(Result* r, double sec, double bytes, double flops) {
    r->ms = sec * 1e3;
    r->gb_s = bytes / sec / 1e9;
    r->gflop_s = flops / sec / 1e9;
    r->pct_bw = 100.0 * (bytes / sec) / roof_.bytes_per_s;
    r->pct_flops = 100.0 * (flops / sec) / roof_.flops;
    if (!quiet_) PrintRow(*r);
    results_.push_back(*r);
  }

  ThreadPool* pool_;
  double seconds_;
  Roofline roof_;
  bool quiet_;
  std::vector<Result> results_;
};

struct CommonFlags {
  uint64_t threads = 0;
  bool as_json = false;
};

int ParseThreads(uint64_t t) {
  return t == 0 ? static_cast<int>(std::max(1u, std::thread::hardware_concurrency()))
                : static_cast<int>(t);
}

}  // namespace

int BenchRoofline(int argc, char** argv) {
  FlagParser flags("bench roofline", kRooflineUsage);
  uint64_t threads = 0, mib = 1024, seconds = 1;
  bool as_json = false;
  flags.AddUint("-t", &threads, 0, 1024);
  flags.AddUint("--threads", &threads, 0, 1024);
  flags.AddUint("--mib", &mib, 16, 1 << 16);
  flags.AddUint("--seconds", &seconds, 0, 3600);
  flags.AddBool("--json", &as_json);
  std::vector<std::string> positional;
  if (int rc = flags.Parse(argc, argv, &positional); rc >= 0) return rc;
  if (!positional.empty()) {
    std::fprintf(stderr, "loom bench roofline: unexpected argument '%s'\n%s", positional[0].c_str(),
                 kRooflineUsage);
    return 2;
  }
  const int t = ParseThreads(threads);
  ThreadPool pool(t);
  const Roofline r = MeasureRoofline(&pool, mib, static_cast<double>(seconds));
  const std::string target = kernels::TargetName(kernels::CurrentTarget());
  if (as_json) {
    json::Json j;
    j["threads"] = t;
    j["target"] = target;
    j["buffer_mib"] = mib;
    j["read_gb_s"] = r.bytes_per_s / 1e9;
    j["fma_gflop_s"] = r.flops / 1e9;
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    std::printf("threads:         %d (SIMD target %s)\n", t, target.c_str());
    std::printf("read bandwidth:  %.2f GB/s (%llu MiB buffer)\n", r.bytes_per_s / 1e9,
                static_cast<unsigned long long>(mib));
    std::printf("f32 FMA peak:    %.2f GFLOP/s\n", r.flops / 1e9);
  }
  return 0;
}

int BenchKernels(int argc, char** argv) {
  FlagParser flags("bench kernels", kKernelsUsage);
  uint64_t threads = 0, mib = 1024;
  std::string formats = "bf16,q8_0,q4_k", only = "decode,prefill,attention,ops", target;
  std::string seconds_text = "0.5";
  bool as_json = false;
  flags.AddUint("-t", &threads, 0, 1024);
  flags.AddUint("--threads", &threads, 0, 1024);
  flags.AddString("--formats", &formats);
  flags.AddString("--only", &only);
  flags.AddString("--target", &target);
  flags.AddString("--seconds", &seconds_text);
  flags.AddUint("--mib", &mib, 16, 1 << 16);
  flags.AddBool("--json", &as_json);
  std::vector<std::string> positional;
  if (int rc = flags.Parse(argc, argv, &positional); rc >= 0) return rc;
  if (!positional.empty()) {
    std::fprintf(stderr, "loom bench kernels: unexpected argument '%s'\n%s", positional[0].c_str(),
                 kKernelsUsage);
    return 2;
  }
  char* end = nullptr;
  const double seconds = std::strtod(seconds_text.c_str(), &end);
  if (end == seconds_text.c_str() || *end != '\0' || !(seconds >= 0 && seconds <= 3600)) {
    std::fprintf(stderr, "loom bench kernels: --seconds '%s' is not a number in [0, 3600]\n",
                 seconds_text.c_str());
    return 2;
  }
  std::vector<GgmlType> types;
  if (formats == "all") {
    for (GgmlType t : tensor::WeightTypes()) types.push_back(t);
  } else {
    for (const std::string& name : SplitComma(formats)) {
      auto t = gguf::GgmlTypeFromName(name);
      if (!t || !tensor::IsWeightType(*t)) {
        std::fprintf(stderr, "loom bench kernels: --formats: '%s' is not a weight format\n",
                     name.c_str());
        return 2;
      }
      types.push_back(*t);
    }
  }
  bool run_decode = false, run_prefill = false, run_attention = false, run_ops = false;
  for (const std::string& part : SplitComma(only)) {
    if (part == "decode") {
      run_decode = true;
    } else if (part == "prefill") {
      run_prefill = true;
    } else if (part == "attention") {
      run_attention = true;
    } else if (part == "ops") {
      run_ops = true;
    } else {
      std::fprintf(stderr,
                   "loom bench kernels: --only: '%s' is not one of decode, prefill, attention, "
                   "ops\n",
                   part.c_str());
      return 2;
    }
  }
  std::unique_ptr<kernels::ScopedTarget> forced;
  if (!target.empty()) {
    int64_t chosen = 0;
    std::vector<std::string> names;
    for (int64_t t : kernels::AvailableTargets()) {
      names.push_back(kernels::TargetName(t));
      if (names.back() == target) chosen = t;
    }
    if (chosen == 0) {
      std::fprintf(stderr, "loom bench kernels: --target '%s' is not available here (%s)\n",
                   target.c_str(), Join(names, ", ").c_str());
      return 2;
    }
    forced = std::make_unique<kernels::ScopedTarget>(chosen);
  }

  const int t = ParseThreads(threads);
  ThreadPool pool(t);
  const Roofline roof = MeasureRoofline(&pool, mib, std::max(seconds, 0.1));
  const std::string target_name = kernels::TargetName(kernels::CurrentTarget());
  if (!as_json) {
    std::printf("threads %d, SIMD target %s; roofline: read %.2f GB/s, f32 FMA %.2f GFLOP/s\n", t,
                target_name.c_str(), roof.bytes_per_s / 1e9, roof.flops / 1e9);
    std::printf("%-10s %-7s %-26s %5s %10s %9s %9s %8s %8s\n", "kernel", "format", "shape", "batch",
                "ms", "GB/s", "GFLOP/s", "%bw", "%fma");
  }
  KernelBench bench(&pool, seconds, roof, as_json);
  if (run_decode) {
    for (GgmlType type : types) {
      for (Shape s : kDecodeShapes) bench.MatMul(type, s, 1);
    }
  }
  if (run_prefill) {
    for (GgmlType type : types) {
      for (int64_t batch : {64, 512}) {
        for (Shape s : kPrefillShapes) bench.MatMul(type, s, batch);
      }
    }
  }
  if (run_attention) {
    for (int64_t ctx : {4096, 32768}) {
      bench.AttentionDecode("sliding 16/8x256", 16, 8, 256, 1024, ctx);
      bench.AttentionDecode("full 16/1x512", 16, 1, 512, 0, ctx);
    }
  }
  if (run_ops) bench.Ops();
  if (as_json) {
    json::Json j;
    j["threads"] = t;
    j["target"] = target_name;
    j["roofline"] = {{"read_gb_s", roof.bytes_per_s / 1e9}, {"fma_gflop_s", roof.flops / 1e9}};
    j["results"] = json::Json::array();
    for (const Result& r : bench.results()) {
      j["results"].push_back({{"kernel", r.kernel},
                              {"format", r.format},
                              {"shape", r.shape},
                              {"batch", r.batch},
                              {"ms", r.ms},
                              {"gb_s", r.gb_s},
                              {"gflop_s", r.gflop_s},
                              {"pct_bandwidth", r.pct_bw},
                              {"pct_fma_peak", r.pct_flops}});
    }
    std::printf("%s\n", j.dump(2).c_str());
  }
  return 0;
}

}  // namespace loom::tools
