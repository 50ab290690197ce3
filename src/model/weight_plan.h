// The weights a ModelConfig implies: HF tensor names and shapes (PyTorch order). The loader
// binds checkpoints against this list (missing, extra or misshapen tensors are errors), and
// `loom inspect` sizes a checkpoint from it when only config.json is at hand.
#ifndef LOOM_MODEL_WEIGHT_PLAN_H_
#define LOOM_MODEL_WEIGHT_PLAN_H_

#include <cstdint>
#include <string>
#include <vector>

#include "model/config.h"

namespace loom::model {

enum class WeightRole {
  kMatrix,     // a projection, quantizable
  kEmbedding,  // a [rows, width] lookup table (also the tied output matrix)
  kVector,     // norms, biases, scalars: kept in float
};

struct WeightSpec {
  std::string name;
  std::vector<uint64_t> shape;  // PyTorch order
  WeightRole role;
  uint64_t elements() const;
};

// HF safetensors names: Gemma 4 Unified under model.language_model.* / model.vision_embedder.* /
// model.embed_vision.* / model.embed_audio.*, the drafter under model.* plus pre/post
// projections, Gemma 3 text under model.*.
std::vector<WeightSpec> ExpectedWeights(const ModelConfig& config);

// Weight bytes if every matrix and embedding were stored as `ggml_type` (GGUF layouts; a matrix
// whose row length is not a multiple of the block falls back to Q8_0, then F16, as llama.cpp's
// quantizer does) and every vector as F32.
uint64_t WeightBytesAs(const std::vector<WeightSpec>& weights, gguf::GgmlType type);

}  // namespace loom::model

#endif  // LOOM_MODEL_WEIGHT_PLAN_H_
