// The encoder-free media embedders of Gemma 4 Unified (SPEC §3.3, §4.2): small projections that
// turn 48x48 pixel blocks and 640-sample audio frames into decoder-width vectors. They are
// scattered into the soft-token slots of a prompt unscaled (no sqrt(d)).
#ifndef LOOM_MODEL_EMBEDDER_H_
#define LOOM_MODEL_EMBEDDER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/thread_pool.h"
#include "kernels/matmul.h"
#include "model/config.h"

namespace loom::model {

// Bound weights; matrices point into a file mapping kept alive by `owner`.
struct VisionEmbedderWeights {
  std::vector<float> ln1_w, ln1_b;  // [patch_dim]
  kernels::Matrix patch_dense;      // [mm_embed_dim][patch_dim]
  std::vector<float> patch_bias;    // [mm_embed_dim]
  std::vector<float> ln2_w, ln2_b;  // [mm_embed_dim]
  // The x (column) and y (row) position tables as rows of one matrix: the x row of index i is
  // i * pos_stride + pos_x_offset, the y row i * pos_stride + pos_y_offset. HF stores
  // [posemb][2][width] (stride 2, offsets 0/1); llama.cpp [2][posemb][width] (stride 1,
  // offsets 0/posemb).
  kernels::Matrix pos_table;
  int64_t pos_stride = 2, pos_x_offset = 0, pos_y_offset = 1;
  std::vector<float> pos_norm_w, pos_norm_b;  // [mm_embed_dim]
  kernels::Matrix projection;                 // [hidden][mm_embed_dim]
  // llama.cpp's mmproj orders the 6912 patch inputs (and patch_ln1) channel-major (c, y, x)
  // where HF uses (y, x, c); patches arrive in HF order and are permuted to match.
  bool chw = false;
};

struct AudioEmbedderWeights {
  kernels::Matrix projection;  // [hidden][samples_per_token]
};

// Optional intermediates of EmbedImage, for comparison with the reference ([n][mm_embed_dim]).
struct VisionTrace {
  std::vector<float> patch_dense;  // after patch_dense + bias
  std::vector<float> patch_ln2;    // after LN2
  std::vector<float> pos_norm;     // after + positions and pos_norm
};

class MediaEmbedder {
 public:
  // `config` gives the widths and epsilons (config.vision / config.audio / hidden_size).
  MediaEmbedder(const ModelConfig& config, std::shared_ptr<const void> owner,
                std::unique_ptr<VisionEmbedderWeights> vision,
                std::unique_ptr<AudioEmbedderWeights> audio, std::string source);

  bool has_vision() const { return vision_ != nullptr; }
  bool has_audio() const { return audio_ != nullptr; }
  int64_t hidden_size() const { return hidden_; }
  int64_t patch_dim() const { return vcfg_.patch_dim; }
  int64_t samples_per_token() const { return acfg_.samples_per_token; }
  int64_t max_position() const { return vcfg_.posemb_size; }
  const std::string& source() const { return source_; }

  // patches: [n][patch_dim] in HF (y, x, c) order; pos_x/pos_y: the block's column and row.
  // out: [n][hidden]. Errors: no vision weights, a position outside the tables.
  Status EmbedImage(const float* patches, const int32_t* pos_x, const int32_t* pos_y, int64_t n,
                    float* out, ThreadPool* pool, VisionTrace* trace = nullptr) const;
  // frames: [n][samples_per_token]. out: [n][hidden].
  Status EmbedAudio(const float* frames, int64_t n, float* out, ThreadPool* pool) const;

 private:
  int64_t hidden_;
  VisionConfig vcfg_;
  AudioConfig acfg_;
  std::shared_ptr<const void> owner_;
  std::unique_ptr<VisionEmbedderWeights> vision_;
  std::unique_ptr<AudioEmbedderWeights> audio_;
  std::string source_;
};

}  // namespace loom::model

#endif  // LOOM_MODEL_EMBEDDER_H_
