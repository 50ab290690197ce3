// Binding a checkpoint's tensors to DecoderWeights by name: HF safetensors (weights_hf.cc) and
// llama.cpp GGUF (weights_gguf.cc). Internal to the model module; Model::Load dispatches here.
#ifndef LOOM_MODEL_WEIGHTS_H_
#define LOOM_MODEL_WEIGHTS_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "base/status.h"
#include "model/config.h"
#include "model/decoder.h"
#include "model/embedder.h"
#include "tensor/quant.h"

namespace loom::model {

struct LoadedWeights {
  ModelConfig config;
  DecoderWeights weights;
  // Keeps the file mapping (safetensors::Checkpoint or gguf::File) that matrices point into.
  std::shared_ptr<const void> owner;
  std::string format;                          // "safetensors" or "gguf"
  uint64_t text_bytes = 0;                     // bytes of the bound text tensors
  std::map<std::string, uint64_t> type_count;  // tensors bound per type name ("BF16", "Q4_K")
  // The vision/audio embedders when the checkpoint has them (HF: in the same files).
  std::unique_ptr<MediaEmbedder> media;
};

Result<LoadedWeights> LoadHfWeights(const std::string& path);
Result<LoadedWeights> LoadGgufWeights(const std::string& path);
// A llama.cpp mmproj file (arch "clip", projector gemma4uv and/or gemma4ua) for a text model
// of `text` config.
Result<std::unique_ptr<MediaEmbedder>> LoadMmproj(const std::string& path, const ModelConfig& text);

namespace internal {

// The config checks shared by both formats: what the decoder implements.
Status CheckSupported(const ModelConfig& config);

// `n` values of `type` at `data` as f32; for Gemma 3 ("1 + w") norm weights, `add_one` folds
// the 1 in (f32 arithmetic, as HF's `1.0 + weight.float()`).
Status VectorToF32(tensor::GgmlType type, const void* data, int64_t n, bool add_one,
                   const std::string& name, std::vector<float>* out);

// sqrt(hidden) as HF multiplies the embedding: torch.tensor(sqrt(h)) (f32) cast to the table's
// dtype when that is F16 or BF16.
float HfEmbedScale(int64_t hidden, tensor::GgmlType table_type);

}  // namespace internal

}  // namespace loom::model

#endif  // LOOM_MODEL_WEIGHTS_H_
