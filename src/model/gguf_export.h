// `loom convert`: writes a llama.cpp-compatible GGUF of a Gemma text decoder, from an HF
// checkpoint or with random weights for a config (benchmarks of a model nobody has at hand).
//
// The file is what llama.cpp's convert_hf_to_gguf.py (conversion/gemma.py: Gemma3Model,
// Gemma4Model, Gemma4UnifiedModel) writes, so llama.cpp loads it and loom reads it back with
// ConfigFromGguf and the GGUF tokenizer:
//   - arch "gemma4" (Gemma 4 Unified and its text model) or "gemma3" (Gemma 3 text), the same
//     metadata keys and value types, tensor names (token_embd, blk.N.attn_q, ...,
//     blk.N.layer_output_scale, output_norm, rope_freqs for Gemma 4's proportional RoPE), ggml
//     dimension order;
//   - Gemma 3 norm weights are stored as 1 + w (Gemma3RMSNorm), Gemma 4 ones as is;
//   - token_embd keeps at most as many rows as the tokenizer has tokens (llama.cpp drops the
//     out-of-vocabulary rows of Gemma 3);
//   - 1-D tensors and every *_norm.weight stay F32; the other tensors take the requested type.
//     A row length that is not a multiple of the type's block falls back to Q8_0, then F16 (the
//     same rule as WeightBytesAs). For Q4_K, token_embd (also the tied output matrix) is Q6_K,
//     as llama-quantize's Q4_K_M stores the output matrix; every other matrix is plain Q4_K
//     (llama-quantize's Q4_K_M also lifts some attn_v/ffn_down to Q6_K; loom does not).
//   - the multimodal embedders (vision_embedder, embed_vision, embed_audio) are not written:
//     they belong in an mmproj file (a later issue).
// Differences from llama.cpp, on purpose:
//   - token types follow tokenizer.json's added_tokens (special: CONTROL, else USER_DEFINED;
//     <0xHH>: BYTE) instead of transformers' all_special_ids, so loom's GGUF tokenizer encodes
//     like tokenizer.json; Gemma 4's channel/tool tokens are USER_DEFINED as llama.cpp has them.
//   - tokenizer.ggml.eot_token_id is the second config eos id (Gemma 4: <turn|>), so a config
//     read back from the GGUF stops on the same ids;
//   - a Gemma 3 vocabulary read from tokenizer.json is written as tokenizer.ggml.model "llama"
//     with the merges and scores -id (llama.cpp would write a "gpt2" vocabulary without
//     tokenizer.model, which is not Gemma's tokenizer);
//   - the generation_config suppress_tokens are not written (no key loom or this llama.cpp
//     version reads).
//
// Writing streams: the header first, then one tensor at a time in row chunks, converted on the
// thread pool; nothing holds a whole model. The output goes to PATH.tmp and is renamed when
// complete.
#ifndef LOOM_MODEL_GGUF_EXPORT_H_
#define LOOM_MODEL_GGUF_EXPORT_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "base/thread_pool.h"
#include "formats/gguf/ggml_types.h"
#include "model/config.h"

namespace loom::model {

// The --type values: F32, F16, BF16, Q8_0, Q4_K, Q6_K (case-insensitive).
Result<gguf::GgmlType> ParseExportType(std::string_view name);

// The ggml type a tensor gets when the file is written as `requested` (the rules above).
// `gguf_name` is the GGUF name, `ne` its ggml shape.
gguf::GgmlType ExportTensorType(std::string_view gguf_name, const std::vector<uint64_t>& ne,
                                gguf::GgmlType requested);

// The llama.cpp name of an HF text-decoder tensor ("model.language_model.layers.3.mlp.up_proj
// .weight" -> "blk.3.ffn_up.weight"); empty for a name that is not part of the text decoder.
std::string GgufTensorName(std::string_view hf_name);

struct ExportOptions {
  gguf::GgmlType type = gguf::GgmlType::kF16;
  ThreadPool* pool = nullptr;  // may be null: one thread
  // Called once per tensor written ("blk.3.ffn_up.weight Q8_0 [64, 96]"); may be empty.
  std::function<void(const std::string&)> progress;
};

struct ExportReport {
  std::string architecture;  // "gemma4", "gemma3"
  uint64_t tensors = 0;
  uint64_t file_bytes = 0;
  uint64_t parameters = 0;
  std::vector<std::string> skipped;  // HF tensors not written (multimodal embedders)
  std::vector<std::string> notes;    // one line each: fallbacks, truncations
};

// HF model directory (config.json, *.safetensors, tokenizer.json [+ tokenizer_config.json,
// chat_template.jinja]) -> GGUF at `out_path`.
Status ExportHfToGguf(const std::string& hf_dir, const std::string& out_path,
                      const ExportOptions& options, ExportReport* report);

// The vision/audio embedders of an HF Gemma 4 Unified directory -> a llama.cpp mmproj GGUF
// (arch "clip", projectors gemma4uv / gemma4ua; tensor names and layouts of llama.cpp's
// models/gemma4uv.cpp: v.patch_embd as a conv kernel ne [48, 48, 3, width] and
// v.patch_norm.1 with the 6912 patch inputs in CHW order, v.position_embd ne [width, posemb,
// 2], mm.input_projection, mm.a.input_projection). Vectors stay F32; v.patch_embd is F16 or
// F32 (its 48-element rows have no quantized block format); the projections take `type`.
Status ExportHfMmproj(const std::string& hf_dir, const std::string& out_path,
                      const ExportOptions& options, ExportReport* report);

struct RandomExportOptions {
  ExportOptions base;
  uint64_t seed = 0;
  // tokenizer.json, an HF directory holding one, or a .gguf whose tokenizer.* keys are copied.
  // Empty: a synthetic vocabulary (SyntheticVocab below).
  std::string tokenizer;
  // > 0: each matrix repeats its first `repeat_rows` random rows. For speed and memory
  // measurements only (the values do not matter there); quantizing 12B values takes ~15 min
  // on 2 cores, this takes the time of writing the file.
  uint64_t repeat_rows = 0;
};

// A random-weight model for the config at `config_path` (an HF config.json or a directory
// holding one). Weights: projections N(0, 1/fan_in), the embedding N(0, 1/hidden) (so the
// scaled embedding has unit variance), norm weights 1 + N(0, 0.01^2) (the value the file
// stores, whatever the family's norm mode), layer scalars 1. Normals are drawn from a
// counter-based generator seeded by (seed, tensor, row): the same seed gives the same file
// whatever the thread count.
//
// The synthetic vocabulary has exactly vocab_size tokens: <pad> <eos> <bos> <unk> <mask> at
// the config's ids (defaults 0 1 2 3 4), Gemma 4's control tokens at their SPEC §6 ids
// (<|turn>, <turn|>, channel, tool and media tokens; only those inside the vocabulary and not
// taken), the 256 byte tokens <0x00>..<0xFF>, the space pieces "▁" and "▁▁" (with the one
// merge "▁ ▁": llama.cpp's gemma4 tokenizer needs merges), and "▁wN" filler words for the rest
// (NORMAL, unreachable by encoding: every other character goes through byte fallback).
Status ExportRandomGguf(const std::string& config_path, const std::string& out_path,
                        const RandomExportOptions& options, ExportReport* report);

}  // namespace loom::model

#endif  // LOOM_MODEL_GGUF_EXPORT_H_
