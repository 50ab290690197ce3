// The generic Gemma decoder: the text stack's weights, bound in place to a checkpoint's bytes,
// and its forward pass (SPEC §2). Gemma 4 Unified and Gemma 3 differ only in ModelConfig data
// (norm mode folded at load, attention scale, RoPE tables, v_norm, layer_scalar, soft-cap).
#ifndef LOOM_MODEL_DECODER_H_
#define LOOM_MODEL_DECODER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/thread_pool.h"
#include "kernels/matmul.h"
#include "model/config.h"
#include "model/kv.h"
#include "model/model.h"

namespace loom::model {

// One decoder layer. Matrices point into the checkpoint; vectors are f32 copies with Gemma 3's
// "1 + w" already added, so every norm runs in mode w.
struct LayerWeights {
  kernels::Matrix q, k, v, o;  // v.data == nullptr when the layer has k_eq_v
  kernels::Matrix gate, up, down;
  std::vector<float> attn_norm;       // input_layernorm / blk.N.attn_norm
  std::vector<float> q_norm, k_norm;  // empty when the config has no QK-norm
  std::vector<float> post_attn_norm;
  std::vector<float> pre_ffn_norm;
  std::vector<float> post_ffn_norm;
  float layer_scalar = 1.0f;
};

struct DecoderWeights {
  kernels::Matrix embedding;  // [vocab][hidden]
  kernels::Matrix output;     // [vocab][hidden]: the embedding again when tied
  std::vector<float> final_norm;
  // sqrt(hidden) as the reference multiplies it (rounded to the table's dtype for HF F16/BF16).
  float embed_scale = 1.0f;
  std::vector<LayerWeights> layers;
};

// Checks every matrix and vector of `w` against `config` (a programmer-facing check of what the
// binders produced; the binders give the per-tensor messages).
Status CheckDecoderWeights(const ModelConfig& config, const DecoderWeights& w);

// Holds a scratch workspace: one Forward at a time per Decoder (not reentrant).
class Decoder {
 public:
  // `config` must have passed Validate() and `weights` CheckDecoderWeights().
  Decoder(const ModelConfig& config, DecoderWeights weights);

  const ModelConfig& config() const { return config_; }
  const DecoderWeights& weights() const { return w_; }

  // Model::Forward. Long batches run as consecutive sub-batches of at most kMaxChunk tokens
  // (never splitting a vision block), so scratch memory stays bounded.
  Status Forward(const Batch& batch, KvStore* kv, ThreadPool* pool, ForwardOutput* out);

  static constexpr int64_t kMaxChunk = 512;

 private:
  Status CheckBatch(const Batch& batch, const ForwardOutput& out) const;
  // Runs tokens [begin, begin + n) of `batch` through every layer, leaving the residual stream
  // in x_. `hidden` (when wanted) gets rows begin.. of each layer's output.
  Status RunChunk(const Batch& batch, int64_t begin, int64_t n, KvStore* kv, ThreadPool* pool,
                  ForwardOutput* out);
  void Reserve(int64_t n);

  ModelConfig config_;
  DecoderWeights w_;
  // RoPE inverse frequencies of each layer (head_dim / 2 entries; 0 = pair not rotated).
  std::vector<std::vector<float>> inv_freq_;
  int64_t max_q_width_ = 0;   // max over layers of num_heads * head_dim
  int64_t max_kv_width_ = 0;  // max over layers of num_kv_heads * head_dim

  // Workspace, grown to the largest chunk seen and reused.
  int64_t capacity_ = 0;
  std::vector<float> x_;     // [n][hidden] residual stream
  std::vector<float> a_;     // [n][hidden] normed input of a sub-block
  std::vector<float> t_;     // [n][hidden] sub-block output
  std::vector<float> q_;     // [n][q_width]
  std::vector<float> k_;     // [n][kv_width]
  std::vector<float> v_;     // [n][kv_width]
  std::vector<float> attn_;  // [n][q_width]
  std::vector<float> gate_;  // [n][intermediate]
  std::vector<float> up_;    // [n][intermediate]
  std::vector<int32_t> no_blocks_;
};

}  // namespace loom::model

#endif  // LOOM_MODEL_DECODER_H_
