// `loom convert`: HF checkpoint or random weights -> llama.cpp-compatible GGUF (see the header
// for what is written and why). The vocabulary metadata is built in gguf_export_vocab.cc.
#include "model/gguf_export.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <utility>

#include "base/checked_math.h"
#include "base/strings.h"
#include "formats/gguf/gguf.h"
#include "formats/safetensors/safetensors.h"
#include "io/path.h"
#include "model/gguf_export_internal.h"
#include "model/weight_plan.h"
#include "tensor/fp16.h"
#include "tensor/quant.h"

namespace loom::model {

using gguf::GgmlType;
using internal::MetaWriter;

namespace {

constexpr uint32_t kAlignment = 32;
// Rows converted per chunk: bounded so that a 262,144 x 3840 embedding never sits in memory.
constexpr uint64_t kChunkFloats = 8u << 20;  // 32 MiB of f32

// llama.cpp's LLAMA_FTYPE values (general.file_type) for the whole-file type.
uint32_t FileType(GgmlType t) {
  switch (t) {
    case GgmlType::kF32:
      return 0;
    case GgmlType::kF16:
      return 1;
    case GgmlType::kQ8_0:
      return 7;
    case GgmlType::kQ4_K:
      return 15;  // MOSTLY_Q4_K_M
    case GgmlType::kQ6_K:
      return 18;
    case GgmlType::kBF16:
      return 32;
    default:
      return 0;
  }
}

// One tensor of the output: its place in the file and where its rows come from.
struct OutTensor {
  std::string name;
  GgmlType type = GgmlType::kF32;
  std::vector<uint64_t> ne;  // ggml order
  uint64_t bytes = 0;
  uint64_t offset = 0;  // inside the data section
  // Fills rows [r0, r1) (ne[0] floats each) into dst. Called from several threads at once on
  // disjoint ranges.
  std::function<Status(uint64_t r0, uint64_t r1, float* dst)> rows;
  // > 0: only rows [0, period) are generated and converted; row r is a copy of row r % period.
  uint64_t period = 0;

  uint64_t row_len() const { return ne.empty() ? 1 : ne[0]; }
  uint64_t num_rows() const {
    uint64_t n = 1;
    for (size_t i = 1; i < ne.size(); ++i) n *= ne[i];
    return n;
  }
};

std::string ShapeString(const std::vector<uint64_t>& ne) {
  std::string s = "[";
  for (size_t i = 0; i < ne.size(); ++i) s += StrCat(i ? ", " : "", ne[i]);
  return s + "]";
}

// Converts `n` floats to `type` (a whole number of rows of `row_len`).
void ConvertRows(GgmlType type, const float* src, uint8_t* dst, uint64_t rows, uint64_t row_len) {
  const size_t row_bytes = tensor::RowBytes(type, static_cast<int64_t>(row_len));
  for (uint64_t r = 0; r < rows; ++r) {
    const float* s = src + r * row_len;
    uint8_t* d = dst + r * row_bytes;
    switch (type) {
      case GgmlType::kF32:
        std::memcpy(d, s, row_len * 4);
        break;
      case GgmlType::kF16:
        for (uint64_t i = 0; i < row_len; ++i) {
          const uint16_t h = tensor::F32ToF16(s[i]);
          std::memcpy(d + 2 * i, &h, 2);
        }
        break;
      case GgmlType::kBF16:
        for (uint64_t i = 0; i < row_len; ++i) {
          const uint16_t h = tensor::F32ToBF16(s[i]);
          std::memcpy(d + 2 * i, &h, 2);
        }
        break;
      default:
        tensor::QuantizeRow(type, s, d, static_cast<int64_t>(row_len));
        break;
    }
  }
}

// Splits [0, n) over the pool (or runs it inline) and returns the first error.
Status ParallelRows(ThreadPool* pool, uint64_t n,
                    const std::function<Status(uint64_t, uint64_t)>& fn) {
  if (pool == nullptr || n < 2) return fn(0, n);
  std::vector<Status> errors(static_cast<size_t>(pool->num_threads()));
  pool->ParallelFor(n, [&](size_t b, size_t e, int t) {
    Status s = fn(b, e);
    if (!s.ok()) errors[static_cast<size_t>(t)] = std::move(s);
  });
  for (Status& s : errors) {
    if (!s.ok()) return std::move(s);
  }
  return Status::Ok();
}

class FileOut {
 public:
  ~FileOut() {
    if (f_ != nullptr) {
      std::fclose(f_);
      std::remove(tmp_.c_str());
    }
  }
  Status Open(const std::string& path) {
    path_ = path;
    tmp_ = path + ".tmp";
    f_ = std::fopen(tmp_.c_str(), "wb");
    if (f_ == nullptr) {
      return IoError("open ", QuoteForMessage(tmp_, 4096), " for writing: ", std::strerror(errno));
    }
    return Status::Ok();
  }
  Status Write(const void* data, size_t n) {
    if (n != 0 && std::fwrite(data, 1, n, f_) != n) {
      return IoError("write ", QuoteForMessage(tmp_, 4096), " at byte ", written_, ": ",
                     std::strerror(errno));
    }
    written_ += n;
    return Status::Ok();
  }
  Status Pad() {
    static const uint8_t kZeros[kAlignment] = {};
    const uint64_t pad = (kAlignment - written_ % kAlignment) % kAlignment;
    return Write(kZeros, pad);
  }
  // Closes and renames over the final path.
  Status Commit() {
    const bool closed = std::fclose(f_) == 0;
    f_ = nullptr;
    if (!closed) {
      std::remove(tmp_.c_str());
      return IoError("close ", QuoteForMessage(tmp_, 4096), ": ", std::strerror(errno));
    }
    if (std::rename(tmp_.c_str(), path_.c_str()) != 0) {
      const int e = errno;
      std::remove(tmp_.c_str());
      return IoError("rename ", QuoteForMessage(tmp_, 4096), " to ", QuoteForMessage(path_, 4096),
                     ": ", std::strerror(e));
    }
    return Status::Ok();
  }
  uint64_t written() const { return written_; }

 private:
  std::FILE* f_ = nullptr;
  std::string path_, tmp_;
  uint64_t written_ = 0;
};

// Header, tensor infos, then every tensor in row chunks.
Status WriteGguf(const std::string& out_path, const MetaWriter& meta,
                 std::vector<OutTensor>* tensors, const ExportOptions& options,
                 ExportReport* report) {
  uint64_t offset = 0;
  for (OutTensor& t : *tensors) {
    auto rb = gguf::GgmlRowBytes(t.type, t.row_len());
    if (!rb) {
      return Internal("tensor ", t.name, ": row of ", t.row_len(), " is not a multiple of the ",
                      gguf::GetGgmlTypeInfo(t.type).name, " block");
    }
    t.bytes = *rb * t.num_rows();
    t.offset = offset;
    offset += *CheckedAlignUp(t.bytes, kAlignment);
  }
  std::vector<uint8_t> header;
  auto put = [&header](const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    header.insert(header.end(), b, b + n);
  };
  const uint32_t magic = gguf::kMagic, version = 3;
  const uint64_t n_tensors = tensors->size(), n_kv = meta.count();
  put(&magic, 4);
  put(&version, 4);
  put(&n_tensors, 8);
  put(&n_kv, 8);
  const std::vector<uint8_t> kv = meta.bytes();
  header.insert(header.end(), kv.begin(), kv.end());
  for (const OutTensor& t : *tensors) {
    const uint64_t len = t.name.size();
    const uint32_t n_dims = static_cast<uint32_t>(t.ne.size());
    const uint32_t type = static_cast<uint32_t>(t.type);
    put(&len, 8);
    put(t.name.data(), t.name.size());
    put(&n_dims, 4);
    for (uint64_t d : t.ne) put(&d, 8);
    put(&type, 4);
    put(&t.offset, 8);
  }

  FileOut out;
  LOOM_RETURN_IF_ERROR(out.Open(out_path));
  LOOM_RETURN_IF_ERROR(out.Write(header.data(), header.size()));
  LOOM_RETURN_IF_ERROR(out.Pad());
  std::vector<float> f32;
  std::vector<uint8_t> bytes;
  for (const OutTensor& t : *tensors) {
    const uint64_t row_len = t.row_len(), n_rows = t.num_rows();
    const size_t row_bytes = tensor::RowBytes(t.type, static_cast<int64_t>(row_len));
    const uint64_t chunk = std::max<uint64_t>(1, kChunkFloats / std::max<uint64_t>(row_len, 1));
    std::vector<uint8_t> tile;
    if (t.period > 0 && t.period < n_rows) {
      f32.resize(t.period * row_len);
      tile.resize(t.period * row_bytes);
      auto convert = [&](uint64_t b, uint64_t e) {
        Status s = t.rows(b, e, f32.data() + b * row_len);
        if (s.ok()) {
          ConvertRows(t.type, f32.data() + b * row_len, tile.data() + b * row_bytes, e - b,
                      row_len);
        }
        return s;
      };
      LOOM_RETURN_IF_ERROR(ParallelRows(options.pool, t.period, convert));
    }
    for (uint64_t r0 = 0; r0 < n_rows; r0 += chunk) {
      if (!tile.empty()) {
        const uint64_t r1 = std::min(n_rows, r0 + chunk);
        bytes.resize((r1 - r0) * row_bytes);
        for (uint64_t r = r0; r < r1; ++r) {
          std::memcpy(bytes.data() + (r - r0) * row_bytes, tile.data() + (r % t.period) * row_bytes,
                      row_bytes);
        }
        LOOM_RETURN_IF_ERROR(out.Write(bytes.data(), bytes.size()));
        continue;
      }
      const uint64_t r1 = std::min(n_rows, r0 + chunk);
      f32.resize((r1 - r0) * row_len);
      bytes.resize((r1 - r0) * row_bytes);
      auto convert = [&](uint64_t b, uint64_t e) {
        Status s = t.rows(r0 + b, r0 + e, f32.data() + b * row_len);
        if (s.ok()) {
          ConvertRows(t.type, f32.data() + b * row_len, bytes.data() + b * row_bytes, e - b,
                      row_len);
        }
        return s;
      };
      LOOM_RETURN_IF_ERROR(ParallelRows(options.pool, r1 - r0, convert));
      LOOM_RETURN_IF_ERROR(out.Write(bytes.data(), bytes.size()));
    }
    LOOM_RETURN_IF_ERROR(out.Pad());
    report->tensors++;
    report->parameters += row_len * n_rows;
    if (options.progress) {
      options.progress(
          StrCat(t.name, " ", gguf::GetGgmlTypeInfo(t.type).name, " ", ShapeString(t.ne)));
    }
  }
  report->file_bytes = out.written();
  return out.Commit();
}

// --- names -------------------------------------------------------------------------------

constexpr std::pair<std::string_view, std::string_view> kLayerNames[] = {
    {"input_layernorm.weight", "attn_norm.weight"},
    {"self_attn.q_proj.weight", "attn_q.weight"},
    {"self_attn.k_proj.weight", "attn_k.weight"},
    {"self_attn.v_proj.weight", "attn_v.weight"},
    {"self_attn.o_proj.weight", "attn_output.weight"},
    {"self_attn.q_norm.weight", "attn_q_norm.weight"},
    {"self_attn.k_norm.weight", "attn_k_norm.weight"},
    {"post_attention_layernorm.weight", "post_attention_norm.weight"},
    {"pre_feedforward_layernorm.weight", "ffn_norm.weight"},
    {"mlp.gate_proj.weight", "ffn_gate.weight"},
    {"mlp.up_proj.weight", "ffn_up.weight"},
    {"mlp.down_proj.weight", "ffn_down.weight"},
    {"post_feedforward_layernorm.weight", "post_ffw_norm.weight"},
    {"layer_scalar", "layer_output_scale.weight"},
};

// "model.language_model.", "model.", "language_model.model." ...: the part before "layers." /
// "embed_tokens" / "norm.weight".
std::string_view StripDecoderPrefix(std::string_view name) {
  for (std::string_view p : {"model.language_model.", "language_model.model.", "model."}) {
    if (StartsWith(name, p)) return name.substr(p.size());
  }
  return {};
}

bool IsMultimodalTensor(std::string_view name) {
  for (std::string_view p :
       {"model.vision_embedder.", "model.embed_vision.", "model.embed_audio.",
        "model.vision_tower.", "model.audio_tower.", "model.multi_modal_projector."}) {
    if (StartsWith(name, p)) return true;
  }
  return false;
}

bool IsGemma3(const ModelConfig& c) { return c.norm_weight == NormWeightMode::kOnePlusW; }

int64_t FirstLayerOf(const ModelConfig& c, AttentionType t) {
  for (int64_t l = 0; l < c.num_layers; ++l) {
    if (c.layer_types[static_cast<size_t>(l)] == t) return l;
  }
  return -1;
}

Status CheckSupported(const ModelConfig& c) {
  if (c.is_drafter) {
    return Unimplemented("config ", QuoteForMessage(c.architecture),
                         ": the MTP drafter (gemma4-assistant) cannot be converted yet");
  }
  if (c.num_layers == 0 || c.vocab_size == 0) {
    return InvalidArgument("config has no text decoder (num_layers ", c.num_layers, ", vocab_size ",
                           c.vocab_size, ")");
  }
  if (!IsGemma3(c) && FirstLayerOf(c, AttentionType::kFull) < 0) {
    return InvalidArgument("config: a Gemma 4 model needs at least one full-attention layer");
  }
  return Status::Ok();
}

// --- metadata ----------------------------------------------------------------------------

void AddModelMetadata(const ModelConfig& c, const std::string& name, GgmlType type, MetaWriter* m) {
  const bool g3 = IsGemma3(c);
  const std::string arch = g3 ? "gemma3" : "gemma4";
  auto k = [&arch](std::string_view key) { return StrCat(arch, ".", key); };
  auto u32 = [](int64_t v) { return static_cast<uint32_t>(v); };
  m->AddString("general.architecture", arch);
  m->AddString("general.type", "model");
  m->AddString("general.name", name);
  m->AddUint32(k("block_count"), u32(c.num_layers));
  m->AddUint32(k("context_length"), u32(c.max_position_embeddings));
  m->AddUint32(k("embedding_length"), u32(c.hidden_size));
  m->AddUint32(k("feed_forward_length"), u32(c.intermediate_size));
  m->AddUint32(k("attention.head_count"), u32(c.num_heads));

  const int64_t full = FirstLayerOf(c, AttentionType::kFull);
  const int64_t sliding = FirstLayerOf(c, AttentionType::kSliding);
  const int64_t any = full >= 0 ? full : sliding;
  if (g3) {
    m->AddUint32(k("attention.head_count_kv"), u32(c.num_kv_heads[static_cast<size_t>(any)]));
  } else {
    std::vector<int32_t> kv;
    for (int64_t h : c.num_kv_heads) kv.push_back(static_cast<int32_t>(h));
    m->AddInt32Array(k("attention.head_count_kv"), kv);
  }
  m->AddFloat32(k("rope.freq_base"), static_cast<float>(c.rope_full.theta));
  m->AddFloat32(k("rope.freq_base_swa"), static_cast<float>(c.rope_sliding.theta));
  if (c.rope_full.type == RopeType::kLinear) {
    m->AddString(k("rope.scaling.type"), "linear");
    m->AddFloat32(k("rope.scaling.factor"), static_cast<float>(c.rope_full.scaling_factor));
  }
  m->AddFloat32(k("attention.layer_norm_rms_epsilon"), static_cast<float>(c.rms_norm_eps));
  const int64_t hd_full = c.head_dim[static_cast<size_t>(any)];
  m->AddUint32(k("attention.key_length"), u32(hd_full));
  m->AddUint32(k("attention.value_length"), u32(hd_full));
  m->AddUint32("general.file_type", FileType(type));
  if (c.final_logit_softcap != 0.0) {
    m->AddFloat32(k("final_logit_softcapping"), static_cast<float>(c.final_logit_softcap));
  }
  if (c.attn_logit_softcap != 0.0) {
    m->AddFloat32(k("attn_logit_softcapping"), static_cast<float>(c.attn_logit_softcap));
  }
  m->AddUint32(k("attention.sliding_window"), u32(c.sliding_window));
  std::vector<bool> swa;
  for (AttentionType t : c.layer_types) swa.push_back(t == AttentionType::kSliding);
  if (g3) {
    // llama.cpp hard-codes Gemma 3's 5:1 pattern; the key is written only when the config
    // differs from it (loom's reader honours it).
    bool periodic = true;
    for (size_t l = 0; l < swa.size(); ++l) periodic &= swa[l] == ((l + 1) % 6 != 0);
    if (!periodic) m->AddBoolArray(k("attention.sliding_window_pattern"), swa);
  } else {
    m->AddUint32(k("attention.shared_kv_layers"), 0);
    m->AddUint32(k("embedding_length_per_layer_input"), 0);
    m->AddBoolArray(k("attention.sliding_window_pattern"), swa);
    const int64_t hd_swa = sliding >= 0 ? c.head_dim[static_cast<size_t>(sliding)] : hd_full;
    m->AddUint32(k("attention.key_length_swa"), u32(hd_swa));
    m->AddUint32(k("attention.value_length_swa"), u32(hd_swa));
    m->AddUint32(k("rope.dimension_count"), u32(hd_full));
    m->AddUint32(k("rope.dimension_count_swa"),
                 u32(static_cast<int64_t>(static_cast<double>(hd_swa) *
                                          c.rope_sliding.partial_rotary_factor)));
  }
  m->AddUint32("general.quantization_version", 2);
}

// The 1.0 / 1e30 frequency factors through which llama.cpp reproduces proportional RoPE.
std::vector<float> RopeFreqs(const ModelConfig& c) {
  const int64_t hd = c.head_dim[static_cast<size_t>(FirstLayerOf(c, AttentionType::kFull))];
  const int64_t rot =
      static_cast<int64_t>(static_cast<double>(hd) * c.rope_full.partial_rotary_factor / 2.0);
  std::vector<float> v(static_cast<size_t>(hd / 2), 1e30f);
  for (int64_t i = 0; i < rot && i < hd / 2; ++i) v[static_cast<size_t>(i)] = 1.0f;
  return v;
}

// The output tensors (without row sources) implied by the config, in llama.cpp's order:
// rope_freqs, token_embd, the blocks, output_norm (and output when untied). `hf` receives the
// HF name of each (empty for generated tensors).
struct PlannedTensor {
  OutTensor out;
  std::string hf;
  WeightRole role = WeightRole::kVector;
};

Result<std::vector<PlannedTensor>> PlanTensors(const ModelConfig& c, uint64_t embd_rows,
                                               GgmlType type, ExportReport* report) {
  std::vector<PlannedTensor> plan;
  if (!IsGemma3(c) && c.rope_full.type == RopeType::kProportional) {
    PlannedTensor p;
    p.out.name = "rope_freqs.weight";
    p.out.ne = {static_cast<uint64_t>(RopeFreqs(c).size())};
    plan.push_back(std::move(p));
  }
  for (const WeightSpec& w : ExpectedWeights(c)) {
    if (IsMultimodalTensor(w.name)) {
      report->skipped.push_back(w.name);
      continue;
    }
    PlannedTensor p;
    p.hf = w.name;
    p.role = w.role;
    p.out.name = GgufTensorName(w.name);
    if (p.out.name.empty()) {
      return Internal("no GGUF name for the expected tensor ", QuoteForMessage(w.name));
    }
    p.out.ne.assign(w.shape.rbegin(), w.shape.rend());
    if (p.out.name == "token_embd.weight" && embd_rows < p.out.ne[1]) {
      report->notes.push_back(StrCat("token_embd: ", p.out.ne[1] - embd_rows,
                                     " rows beyond the tokenizer's ", embd_rows,
                                     " tokens dropped"));
      p.out.ne[1] = embd_rows;
    }
    plan.push_back(std::move(p));
  }
  // Types, and a note for each matrix that had to fall back.
  for (PlannedTensor& p : plan) {
    p.out.type = ExportTensorType(p.out.name, p.out.ne, type);
    if (p.out.type != type && p.out.ne.size() >= 2 && !EndsWith(p.out.name, "_norm.weight") &&
        !(type == GgmlType::kQ4_K && p.out.type == GgmlType::kQ6_K)) {
      report->notes.push_back(StrCat(p.out.name, ": row of ", p.out.ne[0], " is not a multiple of ",
                                     gguf::GetGgmlTypeInfo(type).name, "'s block; written as ",
                                     gguf::GetGgmlTypeInfo(p.out.type).name));
    }
  }
  return plan;
}

// --- HF source ---------------------------------------------------------------------------

Status ReadRowsF32(const safetensors::TensorInfo& t, uint64_t row_len, uint64_t r0, uint64_t r1,
                   float add, float* dst) {
  const uint64_t n = (r1 - r0) * row_len, at = r0 * row_len;
  const uint8_t* p = t.data.data();
  switch (t.dtype) {
    case safetensors::DType::kF32:
      std::memcpy(dst, p + at * 4, n * 4);
      break;
    case safetensors::DType::kBF16:
      for (uint64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, p + (at + i) * 2, 2);
        dst[i] = tensor::BF16ToF32(h);
      }
      break;
    case safetensors::DType::kF16:
      for (uint64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, p + (at + i) * 2, 2);
        dst[i] = tensor::F16ToF32(h);
      }
      break;
    default:
      return Unimplemented("tensor ", QuoteForMessage(t.name), ": dtype ",
                           safetensors::DTypeName(t.dtype), " (loom converts F32, F16, BF16)");
  }
  if (add != 0.0f) {
    for (uint64_t i = 0; i < n; ++i) dst[i] += add;
  }
  return Status::Ok();
}

// Finds an expected tensor under the naming variants checkpoints use.
const safetensors::TensorInfo* FindHf(const safetensors::Checkpoint& ckpt, const std::string& n) {
  if (const auto* t = ckpt.Find(n)) return t;
  const std::string_view rest = StripDecoderPrefix(n);
  if (rest.empty()) return nullptr;
  for (std::string_view p : {"model.", "model.language_model.", "language_model.model."}) {
    if (const auto* t = ckpt.Find(StrCat(p, rest))) return t;
  }
  return nullptr;
}

// --- random source -----------------------------------------------------------------------

uint64_t SplitMix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

uint64_t HashName(std::string_view s) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (char ch : s) h = (h ^ static_cast<uint8_t>(ch)) * 1099511628211ull;
  return h;
}

// Approximately standard normal: the Irwin-Hall sum of four 16-bit uniforms, rescaled (one
// 64-bit draw per value; the tails stop at +-3.46, which keeps random activations tame).
void FillNormal(uint64_t key, float stddev, float mean, float* dst, uint64_t n) {
  constexpr float kScale = 1.7320508f / 65536.0f;  // sqrt(12 / 4) per unit of 2^16
  for (uint64_t i = 0; i < n; ++i) {
    const uint64_t r = SplitMix(key + i * 0xD1B54A32D192ED03ull);
    const float sum =
        static_cast<float>((r & 0xFFFF) + ((r >> 16) & 0xFFFF) + ((r >> 32) & 0xFFFF) + (r >> 48)) -
        2.0f * 65535.0f;
    dst[i] = mean + stddev * sum * kScale;
  }
}

// --- shared driver -----------------------------------------------------------------------

std::string BaseName(const std::string& path) {
  std::filesystem::path p(path);
  if (p.filename().empty()) p = p.parent_path();
  if (p.filename() == "config.json") p = p.parent_path();
  return p.filename().string();
}

}  // namespace

Result<GgmlType> ParseExportType(std::string_view name) {
  std::optional<GgmlType> t = gguf::GgmlTypeFromName(name);
  constexpr GgmlType kAllowed[] = {GgmlType::kF32,  GgmlType::kF16,  GgmlType::kBF16,
                                   GgmlType::kQ8_0, GgmlType::kQ4_K, GgmlType::kQ6_K};
  if (t && std::find(std::begin(kAllowed), std::end(kAllowed), *t) != std::end(kAllowed)) {
    return *t;
  }
  return InvalidArgument("--type ", QuoteForMessage(name),
                         " is not supported; use F32, F16, BF16, Q8_0, Q4_K or Q6_K");
}

GgmlType ExportTensorType(std::string_view gguf_name, const std::vector<uint64_t>& ne,
                          GgmlType requested) {
  if (ne.size() <= 1 || EndsWith(gguf_name, "_norm.weight")) return GgmlType::kF32;
  GgmlType want = requested;
  if (requested == GgmlType::kQ4_K && gguf_name == "token_embd.weight") want = GgmlType::kQ6_K;
  if (requested == GgmlType::kQ4_K && gguf_name == "output.weight") want = GgmlType::kQ6_K;
  for (GgmlType t : {want, GgmlType::kQ8_0, GgmlType::kF16}) {
    if (gguf::GgmlRowBytes(t, ne[0])) return t;
  }
  return GgmlType::kF32;
}

std::string GgufTensorName(std::string_view hf_name) {
  if (hf_name == "lm_head.weight") return "output.weight";
  const std::string_view rest = StripDecoderPrefix(hf_name);
  if (rest == "embed_tokens.weight") return "token_embd.weight";
  if (rest == "norm.weight") return "output_norm.weight";
  if (!StartsWith(rest, "layers.")) return {};
  std::string_view tail = rest.substr(7);
  const size_t dot = tail.find('.');
  if (dot == std::string_view::npos || dot == 0) return {};
  const std::string_view index = tail.substr(0, dot);
  if (index.find_first_not_of("0123456789") != std::string_view::npos) return {};
  tail = tail.substr(dot + 1);
  for (const auto& [hf, gg] : kLayerNames) {
    if (tail == hf) return StrCat("blk.", index, ".", gg);
  }
  return {};
}

Status ExportHfToGguf(const std::string& hf_dir, const std::string& out_path,
                      const ExportOptions& options, ExportReport* report) {
  *report = ExportReport{};
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(hf_dir, ec)) {
    return NotFound(QuoteForMessage(hf_dir, 4096),
                    " is not a directory (convert reads an HF model directory)");
  }
  const std::string config_path = (fs::path(hf_dir) / "config.json").string();
  if (!fs::exists(config_path, ec)) {
    return NotFound(QuoteForMessage(config_path, 4096), " not found");
  }
  LOOM_ASSIGN_OR_RETURN(ModelConfig config, LoadHfConfig(config_path));
  LOOM_RETURN_IF_ERROR(CheckSupported(config));
  const GgmlType type = options.type;
  LOOM_RETURN_IF_ERROR(ParseExportType(gguf::GetGgmlTypeInfo(type).name).status());

  internal::Vocab vocab;
  LOOM_RETURN_IF_ERROR(internal::VocabFromHf(hf_dir, config, &vocab));
  if (vocab.tokens.size() > static_cast<uint64_t>(config.vocab_size)) {
    return InvalidArgument(QuoteForMessage(hf_dir, 4096), ": tokenizer.json has ",
                           vocab.tokens.size(), " tokens, more than the config's vocab_size ",
                           config.vocab_size, " (rows of embed_tokens)");
  }
  LOOM_ASSIGN_OR_RETURN(safetensors::Checkpoint ckpt, safetensors::OpenCheckpoint(hf_dir));

  MetaWriter meta;
  AddModelMetadata(config, BaseName(hf_dir), type, &meta);
  internal::AddVocabMetadata(vocab, &meta);
  report->architecture = IsGemma3(config) ? "gemma3" : "gemma4";

  const uint64_t embd_rows =
      std::min<uint64_t>(static_cast<uint64_t>(config.vocab_size), vocab.tokens.size());
  LOOM_ASSIGN_OR_RETURN(std::vector<PlannedTensor> plan,
                        PlanTensors(config, embd_rows, type, report));
  const float norm_add = IsGemma3(config) ? 1.0f : 0.0f;
  std::vector<OutTensor> tensors;
  std::vector<std::string> used;
  for (PlannedTensor& p : plan) {
    OutTensor t = std::move(p.out);
    if (t.name == "rope_freqs.weight") {
      auto freqs = std::make_shared<std::vector<float>>(RopeFreqs(config));
      t.rows = [freqs](uint64_t, uint64_t, float* dst) {
        std::copy(freqs->begin(), freqs->end(), dst);
        return Status::Ok();
      };
      tensors.push_back(std::move(t));
      continue;
    }
    const safetensors::TensorInfo* src = FindHf(ckpt, p.hf);
    if (src == nullptr) {
      return NotFound(QuoteForMessage(hf_dir, 4096), ": tensor ", QuoteForMessage(p.hf), " (",
                      t.name, ") is missing from the checkpoint");
    }
    used.push_back(src->name);
    uint64_t n = 1;
    std::vector<uint64_t> want(t.ne.rbegin(), t.ne.rend());
    if (t.name == "token_embd.weight") want[0] = static_cast<uint64_t>(config.vocab_size);
    for (uint64_t d : want) n *= d;
    if (src->shape != want && !(want.size() == 1 && n == src->n_elements)) {
      return DataLoss("tensor ", QuoteForMessage(src->name), ": shape ", ShapeString(src->shape),
                      ", the config implies ", ShapeString(want));
    }
    const float add = EndsWith(t.name, "norm.weight") ? norm_add : 0.0f;
    const uint64_t row_len = t.row_len();
    t.rows = [src, row_len, add](uint64_t r0, uint64_t r1, float* dst) {
      return ReadRowsF32(*src, row_len, r0, r1, add, dst);
    };
    tensors.push_back(std::move(t));
  }
  // A tensor the plan does not know is an error, as in llama.cpp ("Can not map tensor"),
  // except the multimodal embedders and a duplicate lm_head of a tied model.
  for (const safetensors::TensorInfo* t : ckpt.tensors()) {
    if (std::find(used.begin(), used.end(), t->name) != used.end()) continue;
    if (IsMultimodalTensor(t->name)) {
      if (std::find(report->skipped.begin(), report->skipped.end(), t->name) ==
          report->skipped.end()) {
        report->skipped.push_back(t->name);
      }
      continue;
    }
    if (t->name == "lm_head.weight" && config.tie_word_embeddings) {
      report->skipped.push_back(t->name);
      continue;
    }
    return Unimplemented(QuoteForMessage(hf_dir, 4096), ": tensor ", QuoteForMessage(t->name),
                         " has no GGUF name (not part of a ", report->architecture,
                         " text decoder with this config)");
  }
  return WriteGguf(out_path, meta, &tensors, options, report);
}

Status ExportHfMmproj(const std::string& hf_dir, const std::string& out_path,
                      const ExportOptions& options, ExportReport* report) {
  *report = ExportReport{};
  const std::string config_path = PathJoin(hf_dir, "config.json");
  LOOM_ASSIGN_OR_RETURN(ModelConfig c, LoadHfConfig(config_path));
  if (!c.vision.present && !c.audio.present) {
    return InvalidArgument(QuoteForMessage(config_path, 4096),
                           ": the model has no vision or audio embedder to export");
  }
  LOOM_ASSIGN_OR_RETURN(safetensors::Checkpoint ckpt_value, safetensors::OpenCheckpoint(hf_dir));
  auto ckpt = std::make_shared<safetensors::Checkpoint>(std::move(ckpt_value));
  const GgmlType type = options.type;
  MetaWriter meta;
  meta.AddString("general.architecture", "clip");
  meta.AddString("general.type", "mmproj");
  meta.AddString("general.name", BaseName(hf_dir));
  meta.AddUint32("general.file_type", FileType(type));
  meta.AddBool("clip.has_vision_encoder", c.vision.present);
  meta.AddBool("clip.has_audio_encoder", c.audio.present);
  const uint32_t h = static_cast<uint32_t>(c.hidden_size);
  if (c.vision.present) {
    meta.AddString("clip.vision.projector_type", "gemma4uv");
    meta.AddUint32("clip.vision.image_size", 224);  // unused by the encoder-free embedder
    meta.AddUint32("clip.vision.patch_size", static_cast<uint32_t>(c.vision.patch_size));
    meta.AddUint32("clip.vision.projector.scale_factor",
                   static_cast<uint32_t>(c.vision.pooling_kernel_size));
    meta.AddUint32("clip.vision.embedding_length", static_cast<uint32_t>(c.vision.mm_embed_dim));
    meta.AddUint32("clip.vision.projection_dim", h);
    meta.AddUint32("clip.vision.feed_forward_length", 0);
    meta.AddUint32("clip.vision.block_count", 0);
    meta.AddUint32("clip.vision.attention.head_count", 0);
    meta.AddFloat32("clip.vision.attention.layer_norm_epsilon",
                    static_cast<float>(c.vision.rms_norm_eps));
    meta.AddFloat32Array("clip.vision.image_mean", {0.0f, 0.0f, 0.0f});
    meta.AddFloat32Array("clip.vision.image_std", {1.0f, 1.0f, 1.0f});
  }
  if (c.audio.present) {
    meta.AddString("clip.audio.projector_type", "gemma4ua");
    meta.AddUint32("clip.audio.embedding_length", static_cast<uint32_t>(c.audio.samples_per_token));
    meta.AddUint32("clip.audio.projection_dim", h);
    meta.AddFloat32("clip.audio.attention.layer_norm_epsilon",
                    static_cast<float>(c.audio.rms_norm_eps));
  }
  report->architecture = "clip";
  std::vector<OutTensor> tensors;
  Status missing = Status::Ok();
  auto find = [&](const char* name) -> const safetensors::TensorInfo* {
    const safetensors::TensorInfo* t = ckpt->Find(name);
    if (t == nullptr && missing.ok()) {
      missing = NotFound(QuoteForMessage(hf_dir, 4096), ": tensor ", QuoteForMessage(name),
                         " is missing from the checkpoint");
    }
    return t;
  };
  // Copies rows as they are (the HF and ggml layouts agree).
  auto plain = [&](const char* hf, std::string name, std::vector<uint64_t> ne, bool matrix) {
    const safetensors::TensorInfo* src = find(hf);
    if (src == nullptr) return;
    uint64_t n = 1;
    for (uint64_t d : ne) n *= d;
    if (src->n_elements != n) {
      missing = DataLoss("tensor ", QuoteForMessage(src->name), ": ", src->n_elements,
                         " elements, expected ", n);
      return;
    }
    OutTensor t;
    t.name = std::move(name);
    t.ne = std::move(ne);
    t.type = matrix ? ExportTensorType(t.name, t.ne, type) : GgmlType::kF32;
    const uint64_t row_len = t.row_len();
    t.rows = [ckpt, src, row_len](uint64_t r0, uint64_t r1, float* dst) {
      return ReadRowsF32(*src, row_len, r0, r1, 0.0f, dst);
    };
    tensors.push_back(std::move(t));
  };
  if (c.vision.present) {
    const uint64_t m = static_cast<uint64_t>(c.vision.model_patch_size);
    const uint64_t pd = static_cast<uint64_t>(c.vision.patch_dim);
    const uint64_t e = static_cast<uint64_t>(c.vision.mm_embed_dim);
    const uint64_t ps = static_cast<uint64_t>(c.vision.posemb_size);
    // HWC -> CHW: element (c, y, x) of a CHW row comes from (y, x, c) of the HF row.
    auto chw = [m](const float* hwc, uint64_t ch, uint64_t y, uint64_t x) {
      return hwc[(y * m + x) * 3 + ch];
    };
    for (const char* leaf : {"weight", "bias"}) {
      const safetensors::TensorInfo* src =
          find(StrCat("model.vision_embedder.patch_ln1.", leaf).c_str());
      if (src == nullptr) break;
      OutTensor t;
      t.name = StrCat("v.patch_norm.1.", leaf);
      t.ne = {pd};
      t.rows = [ckpt, src, pd, m, chw](uint64_t, uint64_t, float* dst) {
        std::vector<float> hwc(pd);
        LOOM_RETURN_IF_ERROR(ReadRowsF32(*src, pd, 0, 1, 0.0f, hwc.data()));
        for (uint64_t ch = 0; ch < 3; ++ch) {
          for (uint64_t y = 0; y < m; ++y) {
            for (uint64_t x = 0; x < m; ++x) dst[(ch * m + y) * m + x] = chw(hwc.data(), ch, y, x);
          }
        }
        return Status::Ok();
      };
      tensors.push_back(std::move(t));
    }
    if (const safetensors::TensorInfo* src = find("model.vision_embedder.patch_dense.weight")) {
      OutTensor t;
      t.name = "v.patch_embd.weight";
      t.ne = {m, m, 3, e};
      t.type = type == GgmlType::kF32 ? GgmlType::kF32 : GgmlType::kF16;
      // Row r of the kernel is (output o, channel ch, y): m values over x.
      t.rows = [ckpt, src, pd, m, chw](uint64_t r0, uint64_t r1, float* dst) {
        std::vector<float> hwc(pd);
        uint64_t loaded = ~uint64_t{0};
        for (uint64_t r = r0; r < r1; ++r) {
          const uint64_t o = r / (3 * m), ch = (r / m) % 3, y = r % m;
          if (o != loaded) {
            LOOM_RETURN_IF_ERROR(ReadRowsF32(*src, pd, o, o + 1, 0.0f, hwc.data()));
            loaded = o;
          }
          for (uint64_t x = 0; x < m; ++x) dst[(r - r0) * m + x] = chw(hwc.data(), ch, y, x);
        }
        return Status::Ok();
      };
      tensors.push_back(std::move(t));
    }
    plain("model.vision_embedder.patch_dense.bias", "v.patch_embd.bias", {e}, false);
    plain("model.vision_embedder.patch_ln2.weight", "v.patch_norm.2.weight", {e}, false);
    plain("model.vision_embedder.patch_ln2.bias", "v.patch_norm.2.bias", {e}, false);
    if (const safetensors::TensorInfo* src = find("model.vision_embedder.pos_embedding")) {
      // HF [posemb][2][width] -> ggml [2][posemb][width]: row r = table * posemb + i.
      OutTensor t;
      t.name = "v.position_embd.weight";
      t.ne = {e, ps, 2};
      t.type = GgmlType::kF32;
      t.rows = [ckpt, src, e, ps](uint64_t r0, uint64_t r1, float* dst) {
        for (uint64_t r = r0; r < r1; ++r) {
          const uint64_t table = r / ps, i = r % ps;
          LOOM_RETURN_IF_ERROR(
              ReadRowsF32(*src, e, i * 2 + table, i * 2 + table + 1, 0.0f, dst + (r - r0) * e));
        }
        return Status::Ok();
      };
      tensors.push_back(std::move(t));
    }
    plain("model.vision_embedder.pos_norm.weight", "v.patch_norm.3.weight", {e}, false);
    plain("model.vision_embedder.pos_norm.bias", "v.patch_norm.3.bias", {e}, false);
    plain("model.embed_vision.embedding_projection.weight", "mm.input_projection.weight", {e, h},
          true);
  }
  if (c.audio.present) {
    plain("model.embed_audio.embedding_projection.weight", "mm.a.input_projection.weight",
          {static_cast<uint64_t>(c.audio.samples_per_token), h}, true);
  }
  LOOM_RETURN_IF_ERROR(missing);
  return WriteGguf(out_path, meta, &tensors, options, report);
}

Status ExportRandomGguf(const std::string& config_path, const std::string& out_path,
                        const RandomExportOptions& options, ExportReport* report) {
  *report = ExportReport{};
  namespace fs = std::filesystem;
  std::error_code ec;
  std::string path = config_path;
  if (fs::is_directory(path, ec)) path = (fs::path(path) / "config.json").string();
  if (!fs::exists(path, ec)) return NotFound(QuoteForMessage(path, 4096), " not found");
  LOOM_ASSIGN_OR_RETURN(ModelConfig config, LoadHfConfig(path));
  LOOM_RETURN_IF_ERROR(CheckSupported(config));
  const GgmlType type = options.base.type;
  LOOM_RETURN_IF_ERROR(ParseExportType(gguf::GetGgmlTypeInfo(type).name).status());

  MetaWriter meta;
  AddModelMetadata(config, StrCat(BaseName(config_path), "-random"), type, &meta);
  meta.AddUint64("loom.random_seed", options.seed);
  uint64_t n_tokens = 0;
  if (options.tokenizer.empty()) {
    internal::Vocab vocab = internal::SyntheticVocab(config);
    n_tokens = vocab.tokens.size();
    internal::AddVocabMetadata(vocab, &meta);
    report->notes.push_back(StrCat("synthetic vocabulary of ", n_tokens, " tokens"));
  } else if (EndsWith(options.tokenizer, ".gguf")) {
    LOOM_ASSIGN_OR_RETURN(uint64_t n, internal::CopyGgufVocab(options.tokenizer, &meta));
    n_tokens = n;
  } else {
    internal::Vocab vocab;
    LOOM_RETURN_IF_ERROR(internal::VocabFromHf(options.tokenizer, config, &vocab));
    n_tokens = vocab.tokens.size();
    internal::AddVocabMetadata(vocab, &meta);
  }
  if (n_tokens > static_cast<uint64_t>(config.vocab_size)) {
    return InvalidArgument("--tokenizer ", QuoteForMessage(options.tokenizer, 4096), " has ",
                           n_tokens, " tokens, more than the config's vocab_size ",
                           config.vocab_size);
  }
  report->architecture = IsGemma3(config) ? "gemma3" : "gemma4";

  LOOM_ASSIGN_OR_RETURN(std::vector<PlannedTensor> plan,
                        PlanTensors(config, n_tokens, type, report));
  const float hidden = static_cast<float>(config.hidden_size);
  std::vector<OutTensor> tensors;
  for (size_t i = 0; i < plan.size(); ++i) {
    OutTensor t = std::move(plan[i].out);
    const uint64_t key = SplitMix(options.seed ^ HashName(t.name));
    const uint64_t row_len = t.row_len();
    float mean = 0.0f, stddev = 0.0f;
    if (t.name == "rope_freqs.weight") {
      auto freqs = std::make_shared<std::vector<float>>(RopeFreqs(config));
      t.rows = [freqs](uint64_t, uint64_t, float* dst) {
        std::copy(freqs->begin(), freqs->end(), dst);
        return Status::Ok();
      };
      tensors.push_back(std::move(t));
      continue;
    } else if (EndsWith(t.name, "layer_output_scale.weight")) {
      mean = 1.0f;
    } else if (t.ne.size() == 1) {
      mean = 1.0f;
      stddev = 0.01f;
    } else if (t.name == "token_embd.weight") {
      stddev = 1.0f / std::sqrt(hidden);
    } else {
      stddev = 1.0f / std::sqrt(static_cast<float>(row_len));  // fan_in = the row length
    }
    if (t.ne.size() >= 2) t.period = options.repeat_rows;
    t.rows = [key, row_len, mean, stddev](uint64_t r0, uint64_t r1, float* dst) {
      for (uint64_t r = r0; r < r1; ++r) {
        FillNormal(SplitMix(key + r), stddev, mean, dst + (r - r0) * row_len, row_len);
      }
      return Status::Ok();
    };
    tensors.push_back(std::move(t));
  }
  return WriteGguf(out_path, meta, &tensors, options.base, report);
}

}  // namespace loom::model
