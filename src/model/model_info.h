// What `loom inspect` reports about a model path: format, architecture, parameters, tensors
// per dtype, tokenizer, and a memory plan. Works on a .gguf file, a .safetensors file, an HF
// model directory, or a directory holding only config.json (the plan then comes from the
// config alone).
#ifndef LOOM_MODEL_MODEL_INFO_H_
#define LOOM_MODEL_MODEL_INFO_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "model/config.h"

namespace loom::model {

struct DtypeSummary {
  std::string dtype;  // "Q4_K", "BF16", ...
  uint64_t tensors = 0;
  uint64_t elements = 0;
  uint64_t bytes = 0;
};

struct TokenizerInfo {
  bool present = false;
  std::string source;  // "gguf metadata", "tokenizer.json"
  std::string model;   // "llama" (SentencePiece), "gemma4", "BPE", ...
  uint64_t vocab_size = 0;
  uint64_t merges = 0;
  int64_t bos_id = -1, eos_id = -1, pad_id = -1, unk_id = -1;
  std::string bos, eos, pad, unk;  // the token strings, when known
  std::optional<bool> add_bos;
  bool has_chat_template = false;
};

struct ModelInfo {
  std::string path;
  std::string format;         // "gguf", "safetensors", "hf-directory", "hf-config"
  std::string format_detail;  // "GGUF v3, 33 metadata keys, alignment 32"
  std::string name;           // general.name or the directory name
  uint64_t file_bytes = 0;    // bytes on disk of the weight files

  bool has_weights = false;
  uint64_t tensor_count = 0;
  uint64_t weight_bytes = 0;       // tensor data bytes actually present
  uint64_t params_in_tensors = 0;  // elements of all tensors present
  std::vector<DtypeSummary> by_dtype;

  std::optional<ModelConfig> config;
  std::string config_error;  // why there is no config, when there is none
  ParamCount config_params;  // from the config (valid when config)

  // Weight bytes if the config's weights were stored in these formats (config only).
  uint64_t bytes_bf16 = 0, bytes_q8_0 = 0, bytes_q4_k = 0;

  TokenizerInfo tokenizer;
};

Result<ModelInfo> InspectModel(const std::string& path);

// The KV cache element types `--cache-type` accepts, with bytes per element as a fraction
// (Q8_0 stores 34 bytes per 32 values).
struct CacheType {
  const char* name;
  uint64_t num;
  uint64_t den;
};
std::optional<CacheType> CacheTypeFromName(const std::string& name);

}  // namespace loom::model

#endif  // LOOM_MODEL_MODEL_INFO_H_
