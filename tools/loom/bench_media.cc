// loom bench media --config CONFIG.json [--image FILE] [--audio FILE] [--image-tokens N]
//                  [-m MODEL] [-t THREADS] [--reps R] [--json]
// The cost of media input next to the decoder's: decode + preprocess and embed one image and
// one audio clip with the embedders of CONFIG (random BF16 weights of the real shapes, e.g. the
// 12B's), and, with -m, the prefill time of as many tokens as the media's soft tokens on MODEL.
// Best of R repetitions.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "base/mapped_file.h"
#include "base/strings.h"
#include "base/thread_pool.h"
#include "media/audio.h"
#include "media/image.h"
#include "media/image_patches.h"
#include "media/limits.h"
#include "model/config.h"
#include "model/embedder.h"
#include "runtime/session.h"
#include "tensor/fp16.h"
#include "tools/loom/engine.h"
#include "tools/loom/flags.h"

namespace loom::tools {
namespace {

constexpr char kUsage[] =
    "usage: loom bench media --config CONFIG.json [--image FILE] [--audio FILE]\n"
    "                        [--image-tokens N] [-m MODEL] [-t THREADS] [--reps R] [--json]\n"
    "  --config PATH     config.json of a Gemma 4 Unified model (embedders get random BF16\n"
    "                    weights of its shapes)\n"
    "  --image FILE      an image to decode, resize, patchify and embed\n"
    "  --audio FILE      an audio file to decode, resample, frame and embed\n"
    "  --image-tokens N  image budget (default 280)\n"
    "  -m MODEL          also time the prefill of the same number of tokens on MODEL\n"
    "  --reps R          repetitions, best reported (default 3)\n";

using Clock = std::chrono::steady_clock;
double Since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Random BF16 rows N(0, 1/cols), owned by `store`.
kernels::Matrix RandomMatrix(int64_t rows, int64_t cols, std::mt19937* rng,
                             std::vector<std::vector<uint16_t>>* store) {
  std::normal_distribution<float> nd(0.0f, 1.0f / std::sqrt(static_cast<float>(cols)));
  store->emplace_back(static_cast<size_t>(rows * cols));
  for (uint16_t& v : store->back()) v = tensor::F32ToBF16(nd(*rng));
  return kernels::MakeMatrix(tensor::GgmlType::kBF16, store->back().data(), rows, cols);
}

struct Owner {
  std::vector<std::vector<uint16_t>> bf16;
};

std::unique_ptr<model::MediaEmbedder> RandomEmbedder(const model::ModelConfig& c) {
  auto owner = std::make_shared<Owner>();
  std::mt19937 rng(1);
  auto v = std::make_unique<model::VisionEmbedderWeights>();
  const int64_t pd = c.vision.patch_dim, e = c.vision.mm_embed_dim, h = c.hidden_size;
  v->ln1_w.assign(static_cast<size_t>(pd), 1.0f);
  v->ln1_b.assign(static_cast<size_t>(pd), 0.0f);
  v->patch_dense = RandomMatrix(e, pd, &rng, &owner->bf16);
  v->patch_bias.assign(static_cast<size_t>(e), 0.0f);
  v->ln2_w.assign(static_cast<size_t>(e), 1.0f);
  v->ln2_b.assign(static_cast<size_t>(e), 0.0f);
  v->pos_table = RandomMatrix(2 * c.vision.posemb_size, e, &rng, &owner->bf16);
  v->pos_norm_w.assign(static_cast<size_t>(e), 1.0f);
  v->pos_norm_b.assign(static_cast<size_t>(e), 0.0f);
  v->projection = RandomMatrix(h, e, &rng, &owner->bf16);
  auto a = std::make_unique<model::AudioEmbedderWeights>();
  a->projection = RandomMatrix(h, c.audio.samples_per_token, &rng, &owner->bf16);
  return std::make_unique<model::MediaEmbedder>(c, owner, std::move(v), std::move(a), "random");
}

template <typename F>
double Best(uint64_t reps, F&& f) {
  double best = 1e30;
  for (uint64_t r = 0; r < reps; ++r) {
    const auto t0 = Clock::now();
    if (!f()) return -1;
    best = std::min(best, Since(t0));
  }
  return best;
}

}  // namespace

int BenchMedia(int argc, char** argv) {
  FlagParser flags("bench media", kUsage);
  std::string config_path, image_path, audio_path, model_path;
  uint64_t budget = media::kDefaultImageBudget, threads = 0, reps = 3;
  bool as_json = false;
  flags.AddString("--config", &config_path);
  flags.AddString("--image", &image_path);
  flags.AddString("--audio", &audio_path);
  flags.AddString("-m", &model_path);
  flags.AddUint("--image-tokens", &budget, 1, 1 << 20);
  flags.AddUint("-t", &threads, 0, 1024);
  flags.AddUint("--reps", &reps, 1, 1000);
  flags.AddBool("--json", &as_json);
  std::vector<std::string> positional;
  if (int rc = flags.Parse(argc, argv, &positional); rc >= 0) return rc;
  if (config_path.empty() || !positional.empty() || (image_path.empty() && audio_path.empty())) {
    std::fprintf(stderr, "loom bench media: expected --config and --image and/or --audio\n%s",
                 kUsage);
    return 2;
  }
  auto fail = [](const Status& s) {
    std::fprintf(stderr, "loom bench media: %s\n", s.ToString().c_str());
    return 1;
  };
  auto config = model::LoadHfConfig(config_path);
  if (!config.ok()) return fail(config.status());
  if (!config->vision.present || !config->audio.present) {
    return fail(InvalidArgument(config_path, ": the config has no vision and audio embedders"));
  }
  const int nt = threads > 0 ? static_cast<int>(threads)
                             : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  ThreadPool pool(nt);
  auto embedder = RandomEmbedder(*config);
  const int64_t h = config->hidden_size;
  media::MediaLimits limits;
  std::string json = "{";
  int64_t soft_total = 0;
  double media_total = 0;
  if (!image_path.empty()) {
    auto bytes = ReadFileToString(image_path, static_cast<uint64_t>(limits.max_image_bytes));
    if (!bytes.ok()) return fail(bytes.status());
    std::span<const uint8_t> span(reinterpret_cast<const uint8_t*>(bytes->data()), bytes->size());
    media::Image image;
    media::Patches patches;
    Status err = Status::Ok();
    const double decode = Best(reps, [&] {
      auto r = media::DecodeImage(span, limits);
      if (!r.ok())
        err = r.status();
      else
        image = std::move(r).value();
      return r.ok();
    });
    const double prep = Best(reps, [&] {
      auto r =
          media::PreprocessImage(image, static_cast<int64_t>(budget), media::Rescale::kMultiply);
      if (!r.ok())
        err = r.status();
      else
        patches = std::move(r).value();
      return r.ok();
    });
    if (!err.ok()) return fail(err);
    std::vector<float> out(static_cast<size_t>(patches.n * h));
    const double embed = Best(reps, [&] {
      err = embedder->EmbedImage(patches.values.data(), patches.pos_x.data(), patches.pos_y.data(),
                                 patches.n, out.data(), &pool);
      return err.ok();
    });
    if (!err.ok()) return fail(err);
    soft_total += patches.n;
    media_total += decode + prep + embed;
    std::printf(
        "image %lldx%lld -> %lldx%lld, %lld soft tokens: decode %.1f ms, resize+patchify "
        "%.1f ms, embed %.1f ms\n",
        static_cast<long long>(image.width), static_cast<long long>(image.height),
        static_cast<long long>(patches.grid_w * 48), static_cast<long long>(patches.grid_h * 48),
        static_cast<long long>(patches.n), decode * 1e3, prep * 1e3, embed * 1e3);
    json += StrCat("\"image\":{\"soft_tokens\":", patches.n, ",\"decode_ms\":", decode * 1e3,
                   ",\"preprocess_ms\":", prep * 1e3, ",\"embed_ms\":", embed * 1e3, "},");
  }
  if (!audio_path.empty()) {
    auto bytes = ReadFileToString(audio_path, static_cast<uint64_t>(limits.max_audio_bytes));
    if (!bytes.ok()) return fail(bytes.status());
    std::span<const uint8_t> span(reinterpret_cast<const uint8_t*>(bytes->data()), bytes->size());
    media::AudioFrames frames;
    Status err = Status::Ok();
    const double decode = Best(reps, [&] {
      auto r = media::DecodeAudio(span, limits);
      if (!r.ok()) {
        err = r.status();
        return false;
      }
      frames = media::FrameAudio(r->samples);
      return true;
    });
    if (!err.ok()) return fail(err);
    std::vector<float> out(static_cast<size_t>(frames.n * h));
    const double embed = Best(reps, [&] {
      err = embedder->EmbedAudio(frames.values.data(), frames.n, out.data(), &pool);
      return err.ok();
    });
    if (!err.ok()) return fail(err);
    soft_total += frames.n;
    media_total += decode + embed;
    std::printf("audio %.1f s, %lld soft tokens: decode+resample+frame %.1f ms, embed %.1f ms\n",
                static_cast<double>(frames.n) * 0.04, static_cast<long long>(frames.n),
                decode * 1e3, embed * 1e3);
    json += StrCat("\"audio\":{\"soft_tokens\":", frames.n, ",\"decode_ms\":", decode * 1e3,
                   ",\"embed_ms\":", embed * 1e3, "},");
  }
  if (!model_path.empty()) {
    auto engine = LoadEngine(model_path);
    if (!engine.ok()) return fail(engine.status());
    EngineFlags ef;
    ef.ctx = static_cast<uint64_t>(soft_total + 8);
    ef.threads = static_cast<uint64_t>(nt);
    auto so = MakeSessionOptions(ef, *engine);
    if (!so.ok()) return fail(so.status());
    std::vector<int32_t> ids(static_cast<size_t>(soft_total));
    std::mt19937 rng(7);
    for (int32_t& id : ids) {
      id = static_cast<int32_t>(rng() % static_cast<uint32_t>(engine->model->config().vocab_size));
    }
    Status err = Status::Ok();
    const double prefill = Best(reps, [&] {
      auto s = runtime::Session::Create(engine->model.get(), *so, &pool);
      if (!s.ok()) {
        err = s.status();
        return false;
      }
      err = s.value()->Prefill(ids);
      return err.ok();
    });
    if (!err.ok()) return fail(err);
    std::printf("prefill of %lld tokens on %s: %.1f ms; media cost %.1f ms = %.2f%% of it\n",
                static_cast<long long>(soft_total), model_path.c_str(), prefill * 1e3,
                media_total * 1e3, 100.0 * media_total / prefill);
    json += StrCat("\"prefill_ms\":", prefill * 1e3, ",");
  }
  json += StrCat("\"threads\":", nt, "}");
  if (as_json) std::printf("%s\n", json.c_str());
  return 0;
}

}  // namespace loom::tools
