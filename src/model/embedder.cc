#include "model/embedder.h"

#include <algorithm>
#include <utility>

#include "base/strings.h"
#include "kernels/ops.h"

namespace loom::model {

namespace {

// Rows embedded per pass: bounds the scratch (a 6912-wide f32 row is 27 KB) while keeping the
// projections in the batched GEMM path.
constexpr int64_t kRowsPerPass = 64;

void AddBias(float* x, const float* bias, int64_t rows, int64_t n) {
  for (int64_t r = 0; r < rows; ++r) {
    float* row = x + r * n;
    for (int64_t i = 0; i < n; ++i) row[i] += bias[i];
  }
}

}  // namespace

MediaEmbedder::MediaEmbedder(const ModelConfig& config, std::shared_ptr<const void> owner,
                             std::unique_ptr<VisionEmbedderWeights> vision,
                             std::unique_ptr<AudioEmbedderWeights> audio, std::string source)
    : hidden_(config.hidden_size),
      vcfg_(config.vision),
      acfg_(config.audio),
      owner_(std::move(owner)),
      vision_(std::move(vision)),
      audio_(std::move(audio)),
      source_(std::move(source)) {}

Status MediaEmbedder::EmbedImage(const float* patches, const int32_t* pos_x, const int32_t* pos_y,
                                 int64_t n, float* out, ThreadPool* pool,
                                 VisionTrace* trace) const {
  if (vision_ == nullptr) return FailedPrecondition("this model has no vision embedder");
  if (n < 0) return InvalidArgument("image patches: n = ", n, " is negative");
  for (int64_t i = 0; i < n; ++i) {
    if (pos_x[i] < 0 || pos_x[i] >= vcfg_.posemb_size || pos_y[i] < 0 ||
        pos_y[i] >= vcfg_.posemb_size) {
      return InvalidArgument("image patch ", i, ": position (x ", pos_x[i], ", y ", pos_y[i],
                             ") is outside the position tables of ", vcfg_.posemb_size, " entries");
    }
  }
  const VisionEmbedderWeights& w = *vision_;
  const int64_t pd = vcfg_.patch_dim;
  const int64_t e = vcfg_.mm_embed_dim;
  const int64_t m = vcfg_.model_patch_size;
  const float ln_eps = static_cast<float>(vcfg_.layer_norm_eps);
  const float rms_eps = static_cast<float>(vcfg_.rms_norm_eps);
  if (trace != nullptr) {
    trace->patch_dense.assign(static_cast<size_t>(n * e), 0.0f);
    trace->patch_ln2.assign(static_cast<size_t>(n * e), 0.0f);
    trace->pos_norm.assign(static_cast<size_t>(n * e), 0.0f);
  }
  std::vector<float> x(static_cast<size_t>(std::min(n, kRowsPerPass) * pd));
  std::vector<float> y(static_cast<size_t>(std::min(n, kRowsPerPass) * e));
  std::vector<float> pos(static_cast<size_t>(e));
  for (int64_t b = 0; b < n; b += kRowsPerPass) {
    const int64_t rows = std::min(kRowsPerPass, n - b);
    const float* src = patches + b * pd;
    if (w.chw) {
      for (int64_t r = 0; r < rows; ++r) {
        const float* s = src + r * pd;
        float* d = x.data() + r * pd;
        for (int64_t py = 0; py < m; ++py) {
          for (int64_t px = 0; px < m; ++px) {
            for (int64_t c = 0; c < 3; ++c) d[(c * m + py) * m + px] = s[(py * m + px) * 3 + c];
          }
        }
      }
    } else {
      std::copy(src, src + rows * pd, x.begin());
    }
    kernels::LayerNorm(x.data(), w.ln1_w.data(), w.ln1_b.data(), ln_eps, rows, pd, x.data());
    // SPEC §3.3: the 6912-wide product overflows f16 accumulation; MatMul accumulates in f32.
    kernels::MatMul(w.patch_dense, x.data(), pd, rows, y.data(), e, pool);
    AddBias(y.data(), w.patch_bias.data(), rows, e);
    if (trace != nullptr) std::copy(y.begin(), y.begin() + rows * e, &trace->patch_dense[b * e]);
    kernels::LayerNorm(y.data(), w.ln2_w.data(), w.ln2_b.data(), ln_eps, rows, e, y.data());
    if (trace != nullptr) std::copy(y.begin(), y.begin() + rows * e, &trace->patch_ln2[b * e]);
    for (int64_t r = 0; r < rows; ++r) {
      float* row = y.data() + r * e;
      kernels::EmbeddingRow(w.pos_table, pos_x[b + r] * w.pos_stride + w.pos_x_offset, 1.0f,
                            pos.data());
      for (int64_t i = 0; i < e; ++i) row[i] += pos[static_cast<size_t>(i)];
      kernels::EmbeddingRow(w.pos_table, pos_y[b + r] * w.pos_stride + w.pos_y_offset, 1.0f,
                            pos.data());
      for (int64_t i = 0; i < e; ++i) row[i] += pos[static_cast<size_t>(i)];
    }
    kernels::LayerNorm(y.data(), w.pos_norm_w.data(), w.pos_norm_b.data(), ln_eps, rows, e,
                       y.data());
    if (trace != nullptr) std::copy(y.begin(), y.begin() + rows * e, &trace->pos_norm[b * e]);
    kernels::RmsNorm(y.data(), nullptr, kernels::NormWeight::kNone, rms_eps, rows, e, y.data());
    kernels::MatMul(w.projection, y.data(), e, rows, out + b * hidden_, hidden_, pool);
  }
  return Status::Ok();
}

Status MediaEmbedder::EmbedAudio(const float* frames, int64_t n, float* out,
                                 ThreadPool* pool) const {
  if (audio_ == nullptr) return FailedPrecondition("this model has no audio embedder");
  if (n < 0) return InvalidArgument("audio frames: n = ", n, " is negative");
  const int64_t s = acfg_.samples_per_token;
  const float eps = static_cast<float>(acfg_.rms_norm_eps);
  std::vector<float> x(static_cast<size_t>(std::min(n, kRowsPerPass) * s));
  for (int64_t b = 0; b < n; b += kRowsPerPass) {
    const int64_t rows = std::min(kRowsPerPass, n - b);
    kernels::RmsNorm(frames + b * s, nullptr, kernels::NormWeight::kNone, eps, rows, s, x.data());
    kernels::MatMul(audio_->projection, x.data(), s, rows, out + b * hidden_, hidden_, pool);
  }
  return Status::Ok();
}

}  // namespace loom::model
