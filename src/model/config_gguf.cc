// ModelConfig from GGUF metadata as llama.cpp writes it (conversion/gemma.py) and reads it
// (src/models/gemma3.cpp, gemma4.cpp, gemma4-assistant.cpp; tools/mtmd/clip.cpp). Keys are
// "<general.architecture>.<name>"; where llama.cpp has a default for an absent key, so does
// this reader.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/strings.h"
#include "model/config.h"
#include "model/config_internal.h"

namespace loom::model {
namespace {

using internal::Family;

enum class GgufKind { kGemma3, kGemma4, kGemma4Assistant, kClip };

struct GgufArch {
  const char* name;
  GgufKind kind;
};

constexpr GgufArch kGgufArchs[] = {
    {"gemma3", GgufKind::kGemma3},
    {"gemma4", GgufKind::kGemma4},
    {"gemma4-assistant", GgufKind::kGemma4Assistant},
    {"clip", GgufKind::kClip},
};

// The projector a clip file must carry for each modality.
constexpr std::string_view kVisionProjector = "gemma4uv";
constexpr std::string_view kAudioProjector = "gemma4ua";

// Typed access to "<arch>.<name>" keys.
class Meta {
 public:
  Meta(const gguf::File& f, std::string arch) : f_(f), arch_(std::move(arch)) {}

  const gguf::File& file() const { return f_; }
  std::string Key(std::string_view name) const { return StrCat(arch_, ".", name); }
  const gguf::Value* Find(std::string_view name) const { return f_.Find(Key(name)); }

  Status Int(std::string_view name, int64_t* out) const { return f_.GetInt(Key(name), out); }
  Status OptInt(std::string_view name, int64_t def, int64_t* out) const {
    if (Find(name) == nullptr) {
      *out = def;
      return Status::Ok();
    }
    return Int(name, out);
  }
  Status Float(std::string_view name, double* out) const { return f_.GetFloat(Key(name), out); }
  Status OptFloat(std::string_view name, double def, double* out) const {
    if (Find(name) == nullptr) {
      *out = def;
      return Status::Ok();
    }
    return Float(name, out);
  }

  // A scalar for every layer or one entry per layer (llama.cpp's get_key_or_arr). `def` fills
  // an absent key; without one the key is required.
  Status PerLayer(std::string_view name, int64_t n, std::optional<int64_t> def,
                  std::vector<int64_t>* out) const {
    const gguf::Value* v = Find(name);
    if (v == nullptr) {
      if (!def) return NotFound("key ", QuoteForMessage(Key(name)), " not found");
      out->assign(static_cast<size_t>(n), *def);
      return Status::Ok();
    }
    if (v->type == gguf::ValueType::kArray) {
      // Checked before GetIntArray sizes a vector from the file's count.
      if (v->count != static_cast<uint64_t>(n)) {
        return InvalidArgument("key ", QuoteForMessage(Key(name)), ": has ", v->count,
                               " per-layer entries, block_count is ", n);
      }
      return f_.GetIntArray(Key(name), out);
    }
    int64_t x;
    LOOM_RETURN_IF_ERROR(Int(name, &x));
    out->assign(static_cast<size_t>(n), x);
    return Status::Ok();
  }

  // A value that may be written per layer but that loom needs equal on every layer.
  Status Uniform(std::string_view name, int64_t n, std::optional<int64_t> def, const char* what,
                 int64_t* out) const {
    std::vector<int64_t> v;
    LOOM_RETURN_IF_ERROR(PerLayer(name, n, def, &v));
    for (size_t l = 1; l < v.size(); ++l) {
      if (v[l] != v[0]) {
        return Unimplemented("key ", QuoteForMessage(Key(name)), ": layer ", l, " has ", v[l],
                             ", layer 0 has ", v[0], "; per-layer ", what, " is not implemented");
      }
    }
    *out = v.empty() ? def.value_or(0) : v[0];
    return Status::Ok();
  }

 private:
  const gguf::File& f_;
  std::string arch_;
};

Status OptFileInt(const gguf::File& f, std::string_view key, int64_t def, int64_t* out) {
  if (f.Find(key) == nullptr) {
    *out = def;
    return Status::Ok();
  }
  return f.GetInt(key, out);
}

// {arch}.vocab_size, else the tokenizer's token count, else token_embd's rows (llama.cpp's
// order).
Status ReadVocab(const Meta& m, ModelConfig* c) {
  if (m.Find("vocab_size") != nullptr) return m.Int("vocab_size", &c->vocab_size);
  if (const gguf::Value* t = m.file().Find("tokenizer.ggml.tokens")) {
    if (t->type != gguf::ValueType::kArray) {
      return InvalidArgument("key 'tokenizer.ggml.tokens' must be an array");
    }
    // Clamped so a hostile count still fits; Validate() reports it against kMaxVocab.
    c->vocab_size = static_cast<int64_t>(std::min<uint64_t>(t->count, uint64_t{1} << 62));
    return Status::Ok();
  }
  if (const gguf::TensorInfo* t = m.file().FindTensor("token_embd.weight")) {
    if (t->n_dims < 2) return InvalidArgument("tensor 'token_embd.weight' is not 2-D");
    c->vocab_size = static_cast<int64_t>(std::min<uint64_t>(t->ne[1], uint64_t{1} << 62));
    return Status::Ok();
  }
  return NotFound("vocabulary size: no key ", QuoteForMessage(m.Key("vocab_size")),
                  ", no tokenizer.ggml.tokens and no token_embd.weight tensor");
}

Status ReadTokenIds(const gguf::File& f, ModelConfig* c) {
  LOOM_RETURN_IF_ERROR(OptFileInt(f, "tokenizer.ggml.bos_token_id", -1, &c->bos_token_id));
  LOOM_RETURN_IF_ERROR(OptFileInt(f, "tokenizer.ggml.padding_token_id", -1, &c->pad_token_id));
  int64_t eos, eot;
  LOOM_RETURN_IF_ERROR(OptFileInt(f, "tokenizer.ggml.eos_token_id", -1, &eos));
  LOOM_RETURN_IF_ERROR(OptFileInt(f, "tokenizer.ggml.eot_token_id", -1, &eot));
  c->eos_token_ids.clear();
  if (eos != -1) c->eos_token_ids.push_back(eos);
  if (eot != -1 && eot != eos) c->eos_token_ids.push_back(eot);  // <end_of_turn> also stops
  return Status::Ok();
}

// GGUF carries no media token ids; the Gemma 4 vocabulary names them (SPEC §1.1, §6).
void FindMediaTokens(const gguf::File& f, ModelConfig* c) {
  const gguf::Value* v = f.Find("tokenizer.ggml.tokens");
  if (v == nullptr || v->type != gguf::ValueType::kArray ||
      v->elem_type != gguf::ValueType::kString) {
    return;
  }
  const struct {
    std::string_view text;
    int64_t* out;
  } want[] = {{"<|image>", &c->boi_token_id},    {"<image|>", &c->eoi_token_id},
              {"<|image|>", &c->image_token_id}, {"<|audio>", &c->boa_token_id},
              {"<audio|>", &c->eoa_token_id},    {"<|audio|>", &c->audio_token_id},
              {"<|video|>", &c->video_token_id}};
  for (size_t i = 0; i < v->strings.size(); ++i) {
    for (const auto& w : want) {
      if (*w.out == -1 && v->strings[i] == w.text) *w.out = static_cast<int64_t>(i);
    }
  }
}

// attention.sliding_window_pattern: a bool per layer (true = sliding), one bool for all layers,
// or an integer period (llama.cpp's set_swa_pattern: layer l is full when (l + 1) % p == 0; 0
// makes every layer sliding). Absent: `default_period`, or an error without one.
Status ReadSlidingPattern(const Meta& m, int64_t n, std::optional<int64_t> default_period,
                          ModelConfig* c) {
  const std::string name = "attention.sliding_window_pattern";
  const gguf::Value* v = m.Find(name);
  if (v == nullptr) {
    if (!default_period) return NotFound("key ", QuoteForMessage(m.Key(name)), " not found");
    internal::FillPeriodicLayerTypes(n, *default_period, c);
    return Status::Ok();
  }
  if (v->type == gguf::ValueType::kArray) {
    std::vector<int64_t> swa;
    LOOM_RETURN_IF_ERROR(m.PerLayer(name, n, std::nullopt, &swa));
    c->layer_types.clear();
    for (int64_t s : swa)
      c->layer_types.push_back(s ? AttentionType::kSliding : AttentionType::kFull);
    return Status::Ok();
  }
  if (v->type == gguf::ValueType::kBool) {
    c->layer_types.assign(static_cast<size_t>(n),
                          v->u64 ? AttentionType::kSliding : AttentionType::kFull);
    return Status::Ok();
  }
  int64_t period;
  LOOM_RETURN_IF_ERROR(m.Int(name, &period));
  if (period < 0) {
    return InvalidArgument("key ", QuoteForMessage(m.Key(name)), ": ", period, " is negative");
  }
  if (period == 0) {
    c->layer_types.assign(static_cast<size_t>(n), AttentionType::kSliding);
  } else {
    internal::FillPeriodicLayerTypes(n, period, c);
  }
  return Status::Ok();
}

// Keys every llama.cpp Gemma text architecture has.
Status ReadCommon(const Meta& m, ModelConfig* c) {
  LOOM_RETURN_IF_ERROR(m.Int("block_count", &c->num_layers));
  // The layer count sizes every per-layer vector: bound it before anything is allocated.
  LOOM_RETURN_IF_ERROR(internal::CheckCount(m.Key("block_count"), c->num_layers, kMaxLayers));
  const int64_t n = c->num_layers;
  LOOM_RETURN_IF_ERROR(m.Int("embedding_length", &c->hidden_size));
  LOOM_RETURN_IF_ERROR(m.Int("context_length", &c->max_position_embeddings));
  LOOM_RETURN_IF_ERROR(m.Uniform("feed_forward_length", n, std::nullopt,
                                 "feed-forward width (double-wide MLP)", &c->intermediate_size));
  LOOM_RETURN_IF_ERROR(
      m.Uniform("attention.head_count", n, std::nullopt, "query head count", &c->num_heads));
  LOOM_RETURN_IF_ERROR(m.Float("attention.layer_norm_rms_epsilon", &c->rms_norm_eps));
  LOOM_RETURN_IF_ERROR(m.OptFloat("final_logit_softcapping", 0.0, &c->final_logit_softcap));
  LOOM_RETURN_IF_ERROR(m.OptFloat("attn_logit_softcapping", 0.0, &c->attn_logit_softcap));
  LOOM_RETURN_IF_ERROR(ReadVocab(m, c));
  // llama.cpp ties the output to token_embd when no output tensor exists.
  c->tie_word_embeddings = m.file().FindTensor("output.weight") == nullptr;
  return ReadTokenIds(m.file(), c);
}

// Equal K and V head dims are all loom's attention handles.
Status ReadHeadDim(const Meta& m, const char* key_name, const char* value_name, int64_t def,
                   int64_t* out) {
  LOOM_RETURN_IF_ERROR(m.OptInt(key_name, def, out));
  int64_t v;
  LOOM_RETURN_IF_ERROR(m.OptInt(value_name, *out, &v));
  if (v != *out) {
    return Unimplemented("key ", QuoteForMessage(m.Key(value_name)), ": ", v, " differs from ",
                         QuoteForMessage(m.Key(key_name)), " ", *out,
                         "; different K and V head dims are not implemented");
  }
  return Status::Ok();
}

Status ReadGemma3(const Meta& m, ModelConfig* c) {
  internal::ApplyFamilyFlags(Family::kGemma3, c);
  // Gemma3RMSNorm computes x * (1 + w), and llama.cpp's converter adds the 1 to every norm
  // weight it writes (conversion/gemma.py, Gemma3Model.norm_shift): GGUF weights are already
  // 1 + w, so they are used as is.
  c->norm_weight = NormWeightMode::kW;
  LOOM_RETURN_IF_ERROR(ReadCommon(m, c));
  const int64_t n = c->num_layers;
  // llama.cpp's default head dim is embedding_length / head_count.
  int64_t head_dim;
  LOOM_RETURN_IF_ERROR(ReadHeadDim(m, "attention.key_length", "attention.value_length",
                                   c->num_heads > 0 ? c->hidden_size / c->num_heads : 0,
                                   &head_dim));
  LOOM_RETURN_IF_ERROR(m.Int("attention.sliding_window", &c->sliding_window));
  // llama.cpp hard-codes Gemma 3's 5:1 pattern; a file may still state one.
  LOOM_RETURN_IF_ERROR(ReadSlidingPattern(m, n, 6, c));
  internal::FillPerLayerShapes(head_dim, head_dim, 0, 0, c);
  LOOM_RETURN_IF_ERROR(m.PerLayer("attention.head_count_kv", n, c->num_heads, &c->num_kv_heads));

  double theta_full, theta_sliding, factor;
  LOOM_RETURN_IF_ERROR(m.OptFloat("rope.freq_base", 10000.0, &theta_full));
  // llama.cpp uses 10000 on Gemma 3's sliding layers whatever the file says; a
  // rope.freq_base_swa key, when present, is honoured.
  LOOM_RETURN_IF_ERROR(m.OptFloat("rope.freq_base_swa", 10000.0, &theta_sliding));
  c->rope_sliding = RopeConfig{RopeType::kDefault, theta_sliding, 1.0, 1.0};
  c->rope_full = RopeConfig{RopeType::kDefault, theta_full, 1.0, 1.0};
  // Linear scaling (Gemma 3 4B and up, full layers only). llama.cpp: type defaults to
  // "linear", a factor of 0 means none.
  LOOM_RETURN_IF_ERROR(m.OptFloat("rope.scaling.factor", 0.0, &factor));
  if (factor != 0.0 && factor != 1.0) {
    std::string type = "linear";
    if (m.Find("rope.scaling.type") != nullptr) {
      LOOM_RETURN_IF_ERROR(m.file().GetString(m.Key("rope.scaling.type"), &type));
    }
    if (type != "linear") {
      return Unimplemented("key ", QuoteForMessage(m.Key("rope.scaling.type")), ": ",
                           QuoteForMessage(type), " is not implemented (loom has linear)");
    }
    c->rope_full.type = RopeType::kLinear;
    c->rope_full.scaling_factor = factor;
  }

  // No GGUF key carries query_pre_attn_scalar. llama.cpp scales by 1/sqrt(key_length), except
  // for the 27B (recognised by its 62 layers) whose scalar is hidden / heads = 168.
  double qpas = static_cast<double>(head_dim);
  if (n == 62 && c->num_heads > 0) qpas = static_cast<double>(c->hidden_size / c->num_heads);
  c->attention_scale = qpas > 0.0 ? 1.0 / std::sqrt(qpas) : 0.0;
  c->bidirectional = Bidirectional::kNone;
  return Status::Ok();
}

// Proportional RoPE in GGUF: llama.cpp rotates the whole head and parks the pairs that HF leaves
// unrotated behind a frequency factor of 1e30 in the shared rope_freqs tensor (SPEC §2.4).
Status ReadProportionalFactor(const gguf::File& f, int64_t head_dim, double* factor) {
  // The tensor table was not parsed (or the file lacks it): Gemma 4's published value.
  *factor = 0.25;
  const gguf::TensorInfo* t = f.FindTensor("rope_freqs.weight");
  if (t == nullptr) return Status::Ok();
  const uint64_t half = static_cast<uint64_t>(head_dim / 2);
  if (t->n_elements != half) {
    return InvalidArgument("tensor 'rope_freqs.weight': ", t->n_elements,
                           " entries, expected key_length / 2 = ", half);
  }
  std::span<const uint8_t> data = f.TensorData(*t);
  if (data.empty()) return Status::Ok();
  if (t->type != gguf::GgmlType::kF32 || data.size() != half * 4) {
    return Unimplemented("tensor 'rope_freqs.weight': type ", gguf::GetGgmlTypeInfo(t->type).name,
                         ", loom reads F32");
  }
  uint64_t rotated = 0;
  bool parked = false;
  for (uint64_t i = 0; i < half; ++i) {
    float x;
    std::memcpy(&x, data.data() + i * 4, 4);
    if (x == 1.0f && !parked) {
      ++rotated;
    } else if (x >= 1e29f) {
      parked = true;
    } else {
      return Unimplemented("tensor 'rope_freqs.weight'[", i, "]: ", x,
                           "; loom implements only proportional RoPE (1.0 for the first pairs, "
                           ">= 1e29 for the rest)");
    }
  }
  *factor = static_cast<double>(rotated) / static_cast<double>(half);
  return Status::Ok();
}

Status ReadGemma4(const Meta& m, bool drafter, ModelConfig* c) {
  internal::ApplyFamilyFlags(Family::kGemma4, c);
  c->is_drafter = drafter;
  LOOM_RETURN_IF_ERROR(ReadCommon(m, c));
  const int64_t n = c->num_layers;
  int64_t hd_full, hd_sliding;
  LOOM_RETURN_IF_ERROR(
      ReadHeadDim(m, "attention.key_length", "attention.value_length", -1, &hd_full));
  LOOM_RETURN_IF_ERROR(
      ReadHeadDim(m, "attention.key_length_swa", "attention.value_length_swa", -1, &hd_sliding));
  if (hd_full == -1 || hd_sliding == -1) {
    return NotFound(
        "key ",
        QuoteForMessage(m.Key(hd_full == -1 ? "attention.key_length" : "attention.key_length_swa")),
        " not found");
  }
  LOOM_RETURN_IF_ERROR(m.Int("attention.sliding_window", &c->sliding_window));
  LOOM_RETURN_IF_ERROR(ReadSlidingPattern(m, n, std::nullopt, c));
  internal::FillPerLayerShapes(hd_sliding, hd_full, 0, 0, c);
  LOOM_RETURN_IF_ERROR(m.PerLayer("attention.head_count_kv", n, c->num_heads, &c->num_kv_heads));

  // Full layers rotate through rope_freqs over the whole head (n_rot = key_length); sliding
  // layers rotate the whole head.
  for (auto [rot_name, dim] : {std::pair{"rope.dimension_count", hd_full},
                               std::pair{"rope.dimension_count_swa", hd_sliding}}) {
    int64_t rot;
    LOOM_RETURN_IF_ERROR(m.OptInt(rot_name, dim, &rot));
    if (rot != dim) {
      return Unimplemented("key ", QuoteForMessage(m.Key(rot_name)), ": ", rot,
                           " differs from the head dim ", dim,
                           "; partial rotation of this kind is not implemented");
    }
  }
  double theta_full, theta_sliding, factor;
  LOOM_RETURN_IF_ERROR(m.OptFloat("rope.freq_base", 10000.0, &theta_full));
  LOOM_RETURN_IF_ERROR(m.OptFloat("rope.freq_base_swa", theta_full, &theta_sliding));
  LOOM_RETURN_IF_ERROR(ReadProportionalFactor(m.file(), hd_full, &factor));
  c->rope_sliding = RopeConfig{RopeType::kDefault, theta_sliding, 1.0, 1.0};
  c->rope_full = RopeConfig{RopeType::kProportional, theta_full, factor, 1.0};

  LOOM_RETURN_IF_ERROR(
      m.OptInt("embedding_length_per_layer_input", 0, &c->hidden_size_per_layer_input));
  if (c->hidden_size_per_layer_input != 0) {
    return Unimplemented("key ", QuoteForMessage(m.Key("embedding_length_per_layer_input")), ": ",
                         c->hidden_size_per_layer_input,
                         " (per-layer embeddings) is not implemented; loom needs 0");
  }
  int64_t experts;
  LOOM_RETURN_IF_ERROR(m.OptInt("expert_count", 0, &experts));
  if (experts != 0) {
    c->enable_moe = true;
    return Unimplemented("key ", QuoteForMessage(m.Key("expert_count")), ": ", experts,
                         " (Mixture-of-Experts layers) is not implemented");
  }
  int64_t shared;
  LOOM_RETURN_IF_ERROR(m.OptInt("attention.shared_kv_layers", 0, &shared));
  if (shared < 0 || shared > n) {
    return InvalidArgument("key ", QuoteForMessage(m.Key("attention.shared_kv_layers")), ": ",
                           shared, " is outside [0, block_count = ", n, "]");
  }
  if (!drafter && shared > 0) {
    return Unimplemented("key ", QuoteForMessage(m.Key("attention.shared_kv_layers")), ": ", shared,
                         " (cross-layer KV sharing) is not implemented for a target model");
  }
  if (drafter) shared = n;  // every drafter layer reads the target's K/V (SPEC §8.2)
  for (int64_t l = n - shared; l < n; ++l) c->kv_shared[static_cast<size_t>(l)] = true;

  // No key says which layers use K as V: llama.cpp's graph does it where attn_v is missing. A
  // file without a tensor table for the layer (metadata only) keeps k_eq_v false.
  for (int64_t l = 0; l < n; ++l) {
    const size_t i = static_cast<size_t>(l);
    const bool has_q = m.file().FindTensor(StrCat("blk.", l, ".attn_q.weight")) != nullptr;
    const bool has_v = m.file().FindTensor(StrCat("blk.", l, ".attn_v.weight")) != nullptr;
    c->k_eq_v[i] = !c->kv_shared[i] && has_q && !has_v;
  }

  if (drafter) {
    // conversion/gemma.py writes backbone_hidden_size as embedding_length_out.
    LOOM_RETURN_IF_ERROR(m.Int("embedding_length_out", &c->backbone_hidden_size));
    int64_t nextn;
    LOOM_RETURN_IF_ERROR(m.OptInt("nextn_predict_layers", n, &nextn));
    if (nextn != n) {
      return Unimplemented("key ", QuoteForMessage(m.Key("nextn_predict_layers")), ": ", nextn,
                           " differs from block_count ", n,
                           "; llama.cpp and loom need every layer to be a draft layer");
    }
  }
  // llama.cpp's mtmd runs Gemma 4 image blocks bidirectionally; HF says "vision" (SPEC §2.6).
  c->bidirectional = Bidirectional::kVision;
  FindMediaTokens(m.file(), c);
  return Status::Ok();
}

// A projector file (mmproj) of Gemma 4 Unified: the encoder-free embedders only.
Status ReadClip(const gguf::File& f, ModelConfig* c) {
  auto opt_string = [&](std::string_view key, std::string* out) -> Status {
    if (f.Find(key) == nullptr) return Status::Ok();
    return f.GetString(key, out);
  };
  auto has_encoder = [&](std::string_view key, bool* out) -> Status {
    *out = true;
    if (f.Find(key) == nullptr) return Status::Ok();
    return f.GetBool(key, out);
  };
  std::string vtype, atype;
  LOOM_RETURN_IF_ERROR(opt_string("clip.vision.projector_type", &vtype));
  if (vtype.empty()) LOOM_RETURN_IF_ERROR(opt_string("clip.projector_type", &vtype));
  LOOM_RETURN_IF_ERROR(opt_string("clip.audio.projector_type", &atype));
  bool has_vision, has_audio;
  LOOM_RETURN_IF_ERROR(has_encoder("clip.has_vision_encoder", &has_vision));
  LOOM_RETURN_IF_ERROR(has_encoder("clip.has_audio_encoder", &has_audio));
  if (!has_vision) vtype.clear();
  if (!has_audio) atype.clear();
  if (vtype.empty() && atype.empty()) {
    return NotFound("key 'clip.vision.projector_type' / 'clip.audio.projector_type' not found");
  }
  if (!vtype.empty() && vtype != kVisionProjector) {
    return Unimplemented("clip.vision.projector_type ", QuoteForMessage(vtype),
                         " is not supported (loom reads ", kVisionProjector, ")");
  }
  if (!atype.empty() && atype != kAudioProjector) {
    return Unimplemented("clip.audio.projector_type ", QuoteForMessage(atype),
                         " is not supported (loom reads ", kAudioProjector, ")");
  }
  c->norm_weight = NormWeightMode::kW;
  c->bidirectional = Bidirectional::kNone;

  // The text width both projections map into (the converter writes n_embd_text).
  int64_t proj_vision = -1, proj_audio = -1;
  if (!vtype.empty()) {
    VisionConfig& v = c->vision;
    v.present = true;
    LOOM_RETURN_IF_ERROR(OptFileInt(f, "clip.vision.patch_size", 16, &v.patch_size));
    // llama.cpp's n_merge for gemma4uv: 3 unless the file says otherwise.
    LOOM_RETURN_IF_ERROR(
        OptFileInt(f, "clip.vision.projector.scale_factor", 3, &v.pooling_kernel_size));
    LOOM_RETURN_IF_ERROR(internal::CheckCount("clip.vision.patch_size", v.patch_size, 1024));
    LOOM_RETURN_IF_ERROR(
        internal::CheckCount("clip.vision.projector.scale_factor", v.pooling_kernel_size, 1024));
    v.model_patch_size = v.patch_size * v.pooling_kernel_size;
    v.patch_dim = v.model_patch_size * v.model_patch_size * 3;
    LOOM_RETURN_IF_ERROR(f.GetInt("clip.vision.embedding_length", &v.mm_embed_dim));
    LOOM_RETURN_IF_ERROR(f.GetInt("clip.vision.projection_dim", &proj_vision));
    if (f.Find("clip.vision.attention.layer_norm_epsilon") != nullptr) {
      LOOM_RETURN_IF_ERROR(f.GetFloat("clip.vision.attention.layer_norm_epsilon", &v.rms_norm_eps));
    }
    // The x and y position tables: HF [posemb, 2, e] is written as ggml ne [e, posemb, 2].
    if (const gguf::TensorInfo* t = f.FindTensor("v.position_embd.weight")) {
      if (t->n_dims != 3) {
        return InvalidArgument("tensor 'v.position_embd.weight': ", t->n_dims, " dims, expected 3");
      }
      v.posemb_size = static_cast<int64_t>(std::min<uint64_t>(t->ne[1], uint64_t{1} << 62));
    }
  }
  if (!atype.empty()) {
    AudioConfig& a = c->audio;
    a.present = true;
    int64_t def = 640;
    if (const gguf::TensorInfo* t = f.FindTensor("mm.a.input_projection.weight")) {
      def = static_cast<int64_t>(std::min<uint64_t>(t->ne[0], uint64_t{1} << 62));
    }
    LOOM_RETURN_IF_ERROR(OptFileInt(f, "clip.audio.embedding_length", def, &a.samples_per_token));
    if (f.Find("clip.audio.attention.layer_norm_epsilon") != nullptr) {
      LOOM_RETURN_IF_ERROR(f.GetFloat("clip.audio.attention.layer_norm_epsilon", &a.rms_norm_eps));
    }
    LOOM_RETURN_IF_ERROR(OptFileInt(f, "clip.audio.projection_dim", proj_vision, &proj_audio));
    if (proj_audio == -1) {
      return NotFound("key 'clip.audio.projection_dim' not found");
    }
  }
  if (proj_vision != -1 && proj_audio != -1 && proj_vision != proj_audio) {
    return InvalidArgument("clip.audio.projection_dim ", proj_audio,
                           " differs from clip.vision.projection_dim ", proj_vision);
  }
  c->hidden_size = proj_vision != -1 ? proj_vision : proj_audio;
  return Status::Ok();
}

}  // namespace

Result<ModelConfig> ConfigFromGguf(const gguf::File& file) {
  std::string arch;
  LOOM_RETURN_IF_ERROR(file.GetString("general.architecture", &arch));
  const GgufArch* found = nullptr;
  for (const GgufArch& a : kGgufArchs) {
    if (arch == a.name) found = &a;
  }
  if (found == nullptr) {
    std::string names;
    for (const GgufArch& a : kGgufArchs) names += StrCat(names.empty() ? "" : ", ", a.name);
    return Unimplemented("general.architecture ", QuoteForMessage(arch),
                         " is not supported (loom reads ", names, ")");
  }
  ModelConfig c;
  c.architecture = arch;
  const Meta m(file, arch);
  switch (found->kind) {
    case GgufKind::kGemma3:
      LOOM_RETURN_IF_ERROR(ReadGemma3(m, &c));
      break;
    case GgufKind::kGemma4:
      LOOM_RETURN_IF_ERROR(ReadGemma4(m, /*drafter=*/false, &c));
      break;
    case GgufKind::kGemma4Assistant:
      LOOM_RETURN_IF_ERROR(ReadGemma4(m, /*drafter=*/true, &c));
      break;
    case GgufKind::kClip:
      LOOM_RETURN_IF_ERROR(ReadClip(file, &c));
      break;
  }
  return c;
}

}  // namespace loom::model
