// ModelConfig: the architecture as plain data. One generic decoder is driven by these fields
// and per-layer vectors; nothing in loom branches on a model's name.
//
// Read from an HF config.json (model_type gemma4_unified, gemma4_unified_assistant,
// gemma3_text, gemma3) or from GGUF metadata as llama.cpp writes it (arch gemma4, gemma3,
// gemma4-assistant, and the clip projector file with gemma4uv/gemma4ua).
#ifndef LOOM_MODEL_CONFIG_H_
#define LOOM_MODEL_CONFIG_H_

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "formats/gguf/gguf.h"
#include "formats/json.h"

namespace loom::model {

// Upper bounds a config must respect (a hostile file must not size arrays or loops).
inline constexpr int64_t kMaxLayers = 512;
inline constexpr int64_t kMaxHidden = 1 << 16;
inline constexpr int64_t kMaxHeads = 1024;
inline constexpr int64_t kMaxHeadDim = 4096;
inline constexpr int64_t kMaxVocab = 1 << 22;
inline constexpr int64_t kMaxIntermediate = 1 << 20;
inline constexpr int64_t kMaxContext = 1 << 24;

enum class AttentionType { kSliding = 0, kFull = 1, kSentinel };
enum class NormWeightMode { kW = 0, kOnePlusW = 1, kSentinel };  // Gemma 4: w; Gemma 1-3: 1+w
enum class RopeType { kDefault = 0, kProportional = 1, kLinear = 2, kSentinel };
enum class Activation { kGeluTanh = 0, kSentinel };
enum class Bidirectional { kNone = 0, kVision = 1, kAll = 2, kSentinel };

const char* AttentionTypeName(AttentionType t);

struct RopeConfig {
  RopeType type = RopeType::kDefault;
  double theta = 10000.0;
  double partial_rotary_factor = 1.0;  // proportional: fraction of frequency pairs rotated
  double scaling_factor = 1.0;         // linear: positions divided by this
};

// The encoder-free vision embedder of Gemma 4 Unified (SPEC §3.3).
struct VisionConfig {
  bool present = false;
  int64_t patch_size = 16;
  int64_t pooling_kernel_size = 3;
  int64_t model_patch_size = 48;  // patch_size * pooling_kernel_size
  int64_t patch_dim = 6912;       // model_patch_size^2 * 3
  int64_t mm_embed_dim = 0;       // width after patch_dense (= text hidden size)
  int64_t posemb_size = 1120;     // rows of the x and y position tables
  int64_t default_soft_tokens = 280;
  double rms_norm_eps = 1e-6;
  double layer_norm_eps = 1e-5;  // PyTorch LayerNorm default, SPEC §3.3
};

// The raw-waveform audio embedder (SPEC §4.2).
struct AudioConfig {
  bool present = false;
  int64_t samples_per_token = 640;
  double rms_norm_eps = 1e-6;
};

struct ModelConfig {
  // What the file said it is ("gemma4_unified", "gemma3_text", "gemma4" ...); informational.
  std::string architecture;
  // True for an MTP drafter (gemma4_unified_assistant / gemma4-assistant).
  bool is_drafter = false;

  // --- text decoder ---
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t num_layers = 0;
  int64_t intermediate_size = 0;
  int64_t num_heads = 0;  // query heads, same on every layer
  int64_t max_position_embeddings = 0;
  int64_t sliding_window = 0;  // 0: no sliding layers

  // Per layer, each of length num_layers.
  std::vector<AttentionType> layer_types;
  std::vector<int64_t> head_dim;  // query/key head dim
  std::vector<int64_t> num_kv_heads;
  std::vector<bool> k_eq_v;     // V is the weightless norm of the raw K projection
  std::vector<bool> kv_shared;  // layer reads KV computed elsewhere (drafter: all)

  RopeConfig rope_sliding;
  RopeConfig rope_full;

  double rms_norm_eps = 1e-6;
  NormWeightMode norm_weight = NormWeightMode::kW;
  bool qk_norm = true;
  bool v_norm = false;               // weightless RMSNorm on V
  bool layer_scalar = false;         // learned per-layer scalar on the residual
  double attention_scale = 1.0;      // multiplies q.k (Gemma 4: 1.0; Gemma 3: 1/sqrt(qpas))
  double attn_logit_softcap = 0.0;   // 0: none
  double final_logit_softcap = 0.0;  // 0: none
  bool tie_word_embeddings = true;
  Activation activation = Activation::kGeluTanh;
  Bidirectional bidirectional = Bidirectional::kNone;

  // Features loom does not implement; Validate() rejects non-zero values with a clear message.
  int64_t hidden_size_per_layer_input = 0;
  bool enable_moe = false;

  // --- drafter (is_drafter) ---
  int64_t backbone_hidden_size = 0;  // the target's hidden size

  // --- token ids (-1: none) ---
  int64_t pad_token_id = -1;
  int64_t bos_token_id = -1;
  std::vector<int64_t> eos_token_ids;
  int64_t image_token_id = -1;  // soft-token placeholders
  int64_t audio_token_id = -1;
  int64_t video_token_id = -1;
  int64_t boi_token_id = -1;  // <|image>
  int64_t eoi_token_id = -1;  // <image|>
  int64_t boa_token_id = -1;  // <|audio>
  int64_t eoa_token_id = -1;  // <audio|>

  VisionConfig vision;
  AudioConfig audio;

  // Checks every field against its limit and the fields against each other (pattern lengths,
  // head counts dividing, full last layer for Gemma 4, token ids inside the vocabulary ...).
  // A config with no decoder (num_layers and vocab_size 0) but vision or audio present is a
  // projector file: only the embedders and hidden_size are checked.
  Status Validate() const;

  int64_t num_layers_of(AttentionType t) const;
};

// From a parsed config.json. `what` names the source in messages.
Result<ModelConfig> ConfigFromHfJson(const json::Json& root, std::string_view what = "config.json");
// Reads and parses `path` (a config.json file) with strict JSON.
Result<ModelConfig> LoadHfConfig(const std::string& path);

// From GGUF metadata (general.architecture selects the key prefix). For a clip projector file
// (general.architecture "clip") only the vision/audio parts are filled, plus hidden_size (the
// text width the projections map into, clip.*.projection_dim); num_layers stays 0.
Result<ModelConfig> ConfigFromGguf(const gguf::File& file);

// Parameters implied by the config alone (weights of the text stack, tied embedding counted
// once, plus the vision and audio embedders when present). Exact for Gemma 4 Unified: the 12B
// gives 11,959,730,224.
struct ParamCount {
  uint64_t text = 0;       // embedding + layers + final norm
  uint64_t embedding = 0;  // the [vocab, hidden] table
  uint64_t vision = 0;
  uint64_t audio = 0;
  uint64_t total() const { return text + vision + audio; }
};
ParamCount CountParams(const ModelConfig& config);

// KV-cache bytes at `ctx` tokens of context, computed the way the decoder uses it: sliding
// layers hold at most `sliding_window` positions, full layers grow with the context, K and V
// stored separately (also when k_eq_v: V has no RoPE), shared-KV layers store nothing.
struct KvPlan {
  uint64_t sliding_bytes = 0;
  uint64_t full_bytes = 0;
  uint64_t total() const { return sliding_bytes + full_bytes; }
};
KvPlan PlanKvCache(const ModelConfig& config, uint64_t ctx, uint64_t bytes_per_element);

}  // namespace loom::model

#endif  // LOOM_MODEL_CONFIG_H_
