// A loaded decoder: weights bound to a ModelConfig (from HF safetensors or a llama.cpp GGUF,
// used in place from the file mapping), and the forward pass over a batch of tokens of one
// sequence. One generic transformer serves Gemma 4 Unified and Gemma 3 text; the differences
// are ModelConfig data.
#ifndef LOOM_MODEL_MODEL_H_
#define LOOM_MODEL_MODEL_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/thread_pool.h"
#include "model/config.h"
#include "model/embedder.h"
#include "model/kv.h"

namespace loom::model {

struct LoadOptions {
  // Read files with pread into memory instead of mapping them (also LOOM_NO_MMAP=1).
  bool no_mmap = false;
  // A llama.cpp mmproj GGUF with the vision/audio embedders of a GGUF text model (an HF
  // checkpoint carries them itself).
  std::string mmproj;
};

// The tokens of one forward call: n tokens of one sequence at consecutive or arbitrary
// (increasing) positions, already in the cache's past.
struct Batch {
  const int32_t* tokens = nullptr;
  const int32_t* positions = nullptr;
  int64_t n = 0;
  // Vision block id per token (-1: none); null when the batch has no media. Tokens of one block
  // see each other both ways on sliding layers (SPEC §2.6); ids must be unique in a sequence.
  const int32_t* blocks = nullptr;
  // Embeddings that replace the looked-up (and scaled) embedding of some tokens (multimodal
  // soft tokens): embeddings + i * hidden_size is used where replace[i] != 0.
  const float* embeddings = nullptr;
  const uint8_t* replace = nullptr;
};

struct ForwardOutput {
  // Logits (after the final soft-cap) for the last `logits_rows` tokens of the batch, row-major
  // [logits_rows][vocab]. 0: none (e.g. a prefill chunk that is not the last).
  int64_t logits_rows = 1;
  std::vector<float> logits;
  // When true, hidden_states gets num_layers + 2 entries of [n][hidden] as HF's
  // output_hidden_states: the scaled embedding, the output of each layer, and the final-norm
  // output (so the last entry is post-norm); plus last_prenorm = the last layer's raw output.
  bool want_hidden_states = false;
  std::vector<std::vector<float>> hidden_states;
  std::vector<float> last_prenorm;
};

class Model {
 public:
  virtual ~Model() = default;

  // `path`: a .gguf file, an HF model directory (config.json + *.safetensors [+ index]), or a
  // .safetensors file with config.json beside it.
  static Result<std::unique_ptr<Model>> Load(const std::string& path,
                                             const LoadOptions& options = {});

  virtual const ModelConfig& config() const = 0;
  // A one-line summary: architecture, layers, weight types and bytes.
  virtual std::string Describe() const = 0;
  // The media embedders (null: a text-only model, or a GGUF loaded without its mmproj).
  virtual const MediaEmbedder* media() const = 0;

  // Runs the decoder over `batch`, storing each layer's K/V into `kv` and attending over it.
  // `pool` may be null. Errors: a token id outside the vocabulary, a full cache, bad sizes.
  virtual Status Forward(const Batch& batch, KvStore* kv, ThreadPool* pool, ForwardOutput* out) = 0;
};

}  // namespace loom::model

#endif  // LOOM_MODEL_MODEL_H_
