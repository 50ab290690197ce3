// ModelConfig from a Hugging Face config.json.
//
// Absent optional fields take the defaults transformers gives them (configuration_gemma3.py,
// configuration_gemma4_unified.py, configuration_gemma4_unified_assistant.py); published configs
// rely on them (gemma-3-4b-it states neither vocab_size nor num_attention_heads). Three sizes
// are required all the same: hidden_size, intermediate_size and num_hidden_layers. transformers'
// defaults for them describe some other model, and silently building that model from a
// truncated file is worse than an error.
#include <cmath>
#include <string>
#include <string_view>
#include <tuple>

#include "base/mapped_file.h"
#include "base/strings.h"
#include "model/config.h"
#include "model/config_internal.h"

namespace loom::model {
namespace {

using internal::Family;
using json::Json;

constexpr uint64_t kMaxConfigJsonBytes = 16ull << 20;

// How each supported model_type is laid out. Everything after this table is driven by data.
struct HfModelType {
  const char* model_type;
  Family family;
  bool text_nested;  // the decoder fields sit in "text_config"
  bool drafter;      // an MTP assistant (reads the target's KV, has pre/post projections)
  bool multimodal;   // top level carries vision_config/audio_config and the media token ids
};

constexpr HfModelType kHfModelTypes[] = {
    {"gemma4_unified", Family::kGemma4, true, false, true},
    {"gemma4_unified_assistant", Family::kGemma4, true, true, false},
    {"gemma4_unified_text", Family::kGemma4, false, false, false},
    {"gemma3_text", Family::kGemma3, false, false, false},
    // Gemma 3 multimodal: the text decoder only; its SigLIP vision tower is not read.
    {"gemma3", Family::kGemma3, true, false, false},
};

const HfModelType* FindModelType(std::string_view name) {
  for (const HfModelType& t : kHfModelTypes) {
    if (name == t.model_type) return &t;
  }
  return nullptr;
}

std::string SupportedModelTypes() {
  std::string s;
  for (const HfModelType& t : kHfModelTypes) s += StrCat(s.empty() ? "" : ", ", t.model_type);
  return s;
}

bool IsNull(const Json& obj, const char* key) {
  auto it = obj.find(key);
  return it != obj.end() && it->is_null();
}

// Optional fields: absent or null gives `def`.
Status OptInt(const Json& o, std::string_view path, const char* key, int64_t def, int64_t* out) {
  if (!json::Has(o, key)) {
    *out = def;
    return Status::Ok();
  }
  return json::GetInt(o, path, key, out);
}
Status OptDouble(const Json& o, std::string_view path, const char* key, double def, double* out) {
  if (!json::Has(o, key)) {
    *out = def;
    return Status::Ok();
  }
  return json::GetDouble(o, path, key, out);
}
Status OptBool(const Json& o, std::string_view path, const char* key, bool def, bool* out) {
  if (!json::Has(o, key)) {
    *out = def;
    return Status::Ok();
  }
  return json::GetBool(o, path, key, out);
}
Status OptString(const Json& o, std::string_view path, const char* key, const char* def,
                 std::string* out) {
  if (!json::Has(o, key)) {
    *out = def;
    return Status::Ok();
  }
  return json::GetString(o, path, key, out);
}

// A token id, or null for none.
Status OptTokenId(const Json& o, std::string_view path, const char* key, int64_t def,
                  int64_t* out) {
  if (IsNull(o, key)) {
    *out = -1;
    return Status::Ok();
  }
  return OptInt(o, path, key, def, out);
}

// eos_token_id is an integer or a list of integers.
Status ReadEos(const Json& o, std::string_view path, std::vector<int64_t>* out) {
  auto it = o.find("eos_token_id");
  if (it == o.end() || it->is_null()) return Status::Ok();
  if (it->is_array()) return json::GetIntArray(o, path, "eos_token_id", out, 64);
  int64_t id;
  LOOM_RETURN_IF_ERROR(json::GetInt(o, path, "eos_token_id", &id));
  *out = {id};
  return Status::Ok();
}

Status ReadActivation(const Json& t, std::string_view path, ModelConfig* c) {
  // Gemma 1 configs spelled it hidden_act; Gemma 2+ use hidden_activation.
  const char* key = json::Has(t, "hidden_activation") ? "hidden_activation" : "hidden_act";
  std::string act;
  LOOM_RETURN_IF_ERROR(OptString(t, path, key, "gelu_pytorch_tanh", &act));
  if (act != "gelu_pytorch_tanh") {
    return Unimplemented(json::JoinPath(path, key), ": ", QuoteForMessage(act),
                         " is not implemented (loom has gelu_pytorch_tanh)");
  }
  c->activation = Activation::kGeluTanh;
  return Status::Ok();
}

// layer_types, or the periodic default ("every `period`-th layer is full").
Status ReadLayerTypes(const Json& t, std::string_view path, int64_t n, int64_t period,
                      ModelConfig* c) {
  if (!json::Has(t, "layer_types")) {
    internal::FillPeriodicLayerTypes(n, period, c);
    return Status::Ok();
  }
  std::vector<std::string> names;
  LOOM_RETURN_IF_ERROR(
      json::GetStringArray(t, path, "layer_types", &names, static_cast<size_t>(kMaxLayers)));
  if (static_cast<int64_t>(names.size()) != n) {
    return InvalidArgument(json::JoinPath(path, "layer_types"), ": has ", names.size(),
                           " entries, num_hidden_layers is ", n);
  }
  c->layer_types.clear();
  for (size_t l = 0; l < names.size(); ++l) {
    if (names[l] == "sliding_attention") {
      c->layer_types.push_back(AttentionType::kSliding);
    } else if (names[l] == "full_attention") {
      c->layer_types.push_back(AttentionType::kFull);
    } else {
      return InvalidArgument(json::JoinPath(path, "layer_types"), "[", l, "]: unknown layer type ",
                             QuoteForMessage(names[l]),
                             " (expected sliding_attention or full_attention)");
    }
  }
  return Status::Ok();
}

// One rope dict: {"rope_type": ..., "rope_theta": ..., "partial_rotary_factor": ..., "factor":
// ...}. `r` holds the defaults on entry. Legacy rope_scaling dicts spell rope_type as "type".
Status ReadRope(const Json& o, std::string_view path, RopeConfig* r) {
  if (!o.is_object()) {
    return InvalidArgument(path, ": expected an object, got ", json::TypeName(o));
  }
  const char* type_key = json::Has(o, "rope_type") || !json::Has(o, "type") ? "rope_type" : "type";
  std::string type;
  LOOM_RETURN_IF_ERROR(OptString(o, path, type_key, "default", &type));
  LOOM_RETURN_IF_ERROR(OptDouble(o, path, "rope_theta", r->theta, &r->theta));
  LOOM_RETURN_IF_ERROR(OptDouble(o, path, "partial_rotary_factor", 1.0, &r->partial_rotary_factor));
  r->scaling_factor = 1.0;
  if (type == "default") {
    r->type = RopeType::kDefault;
  } else if (type == "proportional") {
    r->type = RopeType::kProportional;
  } else if (type == "linear") {
    r->type = RopeType::kLinear;
    LOOM_RETURN_IF_ERROR(json::GetDouble(o, path, "factor", &r->scaling_factor));
  } else {
    return Unimplemented(json::JoinPath(path, type_key), ": ", QuoteForMessage(type),
                         " is not implemented (loom has default, linear, proportional)");
  }
  if (r->type != RopeType::kProportional && r->partial_rotary_factor != 1.0) {
    return Unimplemented(json::JoinPath(path, "partial_rotary_factor"), ": ",
                         r->partial_rotary_factor, " with rope_type ", type,
                         " is not implemented (only proportional RoPE rotates part of a head)");
  }
  return Status::Ok();
}

// The sizes of the decoder; `default_vocab` is the family's transformers default.
Status ReadCoreSizes(const Json& t, std::string_view path, int64_t default_vocab, ModelConfig* c) {
  LOOM_RETURN_IF_ERROR(json::GetInt(t, path, "hidden_size", &c->hidden_size));
  LOOM_RETURN_IF_ERROR(json::GetInt(t, path, "intermediate_size", &c->intermediate_size));
  LOOM_RETURN_IF_ERROR(json::GetInt(t, path, "num_hidden_layers", &c->num_layers));
  LOOM_RETURN_IF_ERROR(OptInt(t, path, "vocab_size", default_vocab, &c->vocab_size));
  LOOM_RETURN_IF_ERROR(OptInt(t, path, "num_attention_heads", 8, &c->num_heads));
  // The layer count sizes every per-layer vector: bound it before anything is allocated.
  return internal::CheckCount(json::JoinPath(path, "num_hidden_layers"), c->num_layers, kMaxLayers);
}

Status ReadTextTokenIds(const Json& t, std::string_view path, ModelConfig* c) {
  LOOM_RETURN_IF_ERROR(OptTokenId(t, path, "pad_token_id", 0, &c->pad_token_id));
  LOOM_RETURN_IF_ERROR(OptTokenId(t, path, "bos_token_id", 2, &c->bos_token_id));
  c->eos_token_ids = {1};
  return ReadEos(t, path, &c->eos_token_ids);
}

// transformers' Gemma4UnifiedTextConfig (the 12B and its assistant).
Status ReadGemma4Text(const Json& t, std::string_view p, bool drafter, ModelConfig* c) {
  internal::ApplyFamilyFlags(Family::kGemma4, c);
  LOOM_RETURN_IF_ERROR(ReadCoreSizes(t, p, 262144, c));
  const int64_t n = c->num_layers;
  int64_t kv, head_dim, global_head_dim;
  LOOM_RETURN_IF_ERROR(OptInt(t, p, "num_key_value_heads", 4, &kv));
  LOOM_RETURN_IF_ERROR(OptInt(t, p, "head_dim", 256, &head_dim));
  LOOM_RETURN_IF_ERROR(OptInt(t, p, "global_head_dim", 512, &global_head_dim));
  int64_t global_kv = -1;  // null: full layers use num_key_value_heads
  if (json::Has(t, "num_global_key_value_heads")) {
    LOOM_RETURN_IF_ERROR(json::GetInt(t, p, "num_global_key_value_heads", &global_kv));
  }
  LOOM_RETURN_IF_ERROR(
      OptInt(t, p, "max_position_embeddings", 262144, &c->max_position_embeddings));
  LOOM_RETURN_IF_ERROR(OptDouble(t, p, "rms_norm_eps", 1e-6, &c->rms_norm_eps));
  LOOM_RETURN_IF_ERROR(OptInt(t, p, "sliding_window", 1024, &c->sliding_window));
  LOOM_RETURN_IF_ERROR(ReadActivation(t, p, c));

  const bool explicit_types = json::Has(t, "layer_types");
  LOOM_RETURN_IF_ERROR(ReadLayerTypes(t, p, n, 6, c));
  // transformers forces the last layer to full_attention; a default pattern gets the same
  // treatment, an explicit list that breaks the rule is rejected by Validate().
  if (!explicit_types) c->layer_types.back() = AttentionType::kFull;

  bool k_eq_v;
  LOOM_RETURN_IF_ERROR(OptBool(t, p, "attention_k_eq_v", false, &k_eq_v));
  // transformers applies num_global_key_value_heads to full layers only when attention_k_eq_v.
  const int64_t kv_full = k_eq_v && global_kv != -1 ? global_kv : kv;
  internal::FillPerLayerShapes(head_dim, global_head_dim, kv, kv_full, c);
  for (size_t l = 0; l < c->layer_types.size(); ++l) {
    c->k_eq_v[l] = k_eq_v && c->layer_types[l] == AttentionType::kFull;
  }

  c->rope_sliding = RopeConfig{RopeType::kDefault, 10000.0, 1.0, 1.0};
  c->rope_full = RopeConfig{RopeType::kProportional, 1e6, 0.25, 1.0};
  if (json::Has(t, "rope_parameters")) {
    const Json* rp;
    LOOM_RETURN_IF_ERROR(json::GetObject(t, p, "rope_parameters", &rp));
    const std::string rpath = json::JoinPath(p, "rope_parameters");
    const Json* sub;
    LOOM_RETURN_IF_ERROR(json::GetObject(*rp, rpath, "sliding_attention", &sub));
    LOOM_RETURN_IF_ERROR(
        ReadRope(*sub, json::JoinPath(rpath, "sliding_attention"), &c->rope_sliding));
    LOOM_RETURN_IF_ERROR(json::GetObject(*rp, rpath, "full_attention", &sub));
    LOOM_RETURN_IF_ERROR(ReadRope(*sub, json::JoinPath(rpath, "full_attention"), &c->rope_full));
  }

  // Absent means transformers' default "vision"; an explicit null means causal everywhere.
  c->bidirectional = Bidirectional::kVision;
  if (IsNull(t, "use_bidirectional_attention")) {
    c->bidirectional = Bidirectional::kNone;
  } else if (json::Has(t, "use_bidirectional_attention")) {
    std::string mode;
    LOOM_RETURN_IF_ERROR(json::GetString(t, p, "use_bidirectional_attention", &mode));
    if (mode == "vision") {
      c->bidirectional = Bidirectional::kVision;
    } else if (mode == "all") {
      // transformers also narrows sliding_window to window/2+1 here (an exclusive-bound detail
      // of its flash-attention masks); loom keeps the configured window and the mode.
      c->bidirectional = Bidirectional::kAll;
    } else {
      return InvalidArgument(json::JoinPath(p, "use_bidirectional_attention"), ": ",
                             QuoteForMessage(mode), " (expected \"vision\", \"all\" or null)");
    }
  }
  LOOM_RETURN_IF_ERROR(OptDouble(t, p, "final_logit_softcapping", 0.0, &c->final_logit_softcap));
  LOOM_RETURN_IF_ERROR(OptDouble(t, p, "attn_logit_softcapping", 0.0, &c->attn_logit_softcap));
  LOOM_RETURN_IF_ERROR(OptBool(t, p, "tie_word_embeddings", true, &c->tie_word_embeddings));

  LOOM_RETURN_IF_ERROR(OptBool(t, p, "enable_moe_block", false, &c->enable_moe));
  if (c->enable_moe) {
    return Unimplemented(json::JoinPath(p, "enable_moe_block"),
                         ": true (Mixture-of-Experts layers) is not implemented");
  }
  LOOM_RETURN_IF_ERROR(
      OptInt(t, p, "hidden_size_per_layer_input", 0, &c->hidden_size_per_layer_input));
  if (c->hidden_size_per_layer_input != 0) {
    return Unimplemented(json::JoinPath(p, "hidden_size_per_layer_input"), ": ",
                         c->hidden_size_per_layer_input,
                         " (per-layer embeddings) is not implemented; loom needs 0");
  }
  int64_t shared;
  LOOM_RETURN_IF_ERROR(OptInt(t, p, "num_kv_shared_layers", 0, &shared));
  if (shared < 0 || shared > n) {
    return InvalidArgument(json::JoinPath(p, "num_kv_shared_layers"), ": ", shared,
                           " is outside [0, num_hidden_layers = ", n, "]");
  }
  if (!drafter && shared > 0) {
    return Unimplemented(json::JoinPath(p, "num_kv_shared_layers"), ": ", shared,
                         " (cross-layer KV sharing) is not implemented for a target model");
  }
  // The assistant reads the target's K/V in every layer: transformers sets
  // num_kv_shared_layers = num_hidden_layers when the file says 0.
  if (drafter && shared == 0) shared = n;
  for (int64_t l = n - shared; l < n; ++l) c->kv_shared[static_cast<size_t>(l)] = true;
  bool double_wide;
  LOOM_RETURN_IF_ERROR(OptBool(t, p, "use_double_wide_mlp", false, &double_wide));
  if (double_wide && shared > 0) {
    return Unimplemented(json::JoinPath(p, "use_double_wide_mlp"),
                         ": true (2x FFN in KV-shared layers) is not implemented");
  }
  return ReadTextTokenIds(t, p, c);
}

// transformers' Gemma3TextConfig.
Status ReadGemma3Text(const Json& t, std::string_view p, ModelConfig* c) {
  internal::ApplyFamilyFlags(Family::kGemma3, c);
  LOOM_RETURN_IF_ERROR(ReadCoreSizes(t, p, 262208, c));
  const int64_t n = c->num_layers;
  int64_t kv, head_dim;
  LOOM_RETURN_IF_ERROR(OptInt(t, p, "num_key_value_heads", 4, &kv));
  LOOM_RETURN_IF_ERROR(OptInt(t, p, "head_dim", 256, &head_dim));
  LOOM_RETURN_IF_ERROR(
      OptInt(t, p, "max_position_embeddings", 131072, &c->max_position_embeddings));
  LOOM_RETURN_IF_ERROR(OptDouble(t, p, "rms_norm_eps", 1e-6, &c->rms_norm_eps));
  // Explicit null: a config without sliding layers.
  LOOM_RETURN_IF_ERROR(
      OptInt(t, p, "sliding_window", IsNull(t, "sliding_window") ? 0 : 4096, &c->sliding_window));
  LOOM_RETURN_IF_ERROR(ReadActivation(t, p, c));

  double qpas;
  LOOM_RETURN_IF_ERROR(OptDouble(t, p, "query_pre_attn_scalar", 256.0, &qpas));
  if (!(qpas > 0.0)) {
    return InvalidArgument(json::JoinPath(p, "query_pre_attn_scalar"), ": ", qpas, " must be > 0");
  }
  c->attention_scale = 1.0 / std::sqrt(qpas);

  // Older Hub configs give the pattern as a period (and some spell the key with a leading
  // underscore, the attribute transformers stores it in); layer_types wins when present.
  const char* pattern_key =
      json::Has(t, "sliding_window_pattern") ? "sliding_window_pattern" : "_sliding_window_pattern";
  int64_t period;
  LOOM_RETURN_IF_ERROR(OptInt(t, p, pattern_key, 6, &period));
  if (period < 1) {
    return InvalidArgument(json::JoinPath(p, pattern_key), ": ", period, " must be >= 1");
  }
  LOOM_RETURN_IF_ERROR(ReadLayerTypes(t, p, n, period, c));
  internal::FillPerLayerShapes(head_dim, head_dim, kv, kv, c);

  // transformers < 5: rope_theta (full layers), rope_local_base_freq (sliding layers) and an
  // optional rope_scaling for the full layers. transformers 5: rope_parameters per layer type,
  // whose entries may leave rope_theta to the legacy keys.
  double theta_full, theta_sliding;
  LOOM_RETURN_IF_ERROR(OptDouble(t, p, "rope_theta", 1e6, &theta_full));
  LOOM_RETURN_IF_ERROR(OptDouble(t, p, "rope_local_base_freq", 1e4, &theta_sliding));
  c->rope_sliding = RopeConfig{RopeType::kDefault, theta_sliding, 1.0, 1.0};
  c->rope_full = RopeConfig{RopeType::kDefault, theta_full, 1.0, 1.0};
  if (json::Has(t, "rope_scaling")) {
    const Json* rs;
    LOOM_RETURN_IF_ERROR(json::GetObject(t, p, "rope_scaling", &rs));
    LOOM_RETURN_IF_ERROR(ReadRope(*rs, json::JoinPath(p, "rope_scaling"), &c->rope_full));
  }
  if (json::Has(t, "rope_parameters")) {
    const Json* rp;
    LOOM_RETURN_IF_ERROR(json::GetObject(t, p, "rope_parameters", &rp));
    const std::string rpath = json::JoinPath(p, "rope_parameters");
    if (json::Has(*rp, "sliding_attention") || json::Has(*rp, "full_attention")) {
      if (json::Has(*rp, "sliding_attention")) {
        LOOM_RETURN_IF_ERROR(ReadRope(rp->at("sliding_attention"),
                                      json::JoinPath(rpath, "sliding_attention"),
                                      &c->rope_sliding));
      }
      if (json::Has(*rp, "full_attention")) {
        LOOM_RETURN_IF_ERROR(ReadRope(rp->at("full_attention"),
                                      json::JoinPath(rpath, "full_attention"), &c->rope_full));
      }
    } else {
      LOOM_RETURN_IF_ERROR(ReadRope(*rp, rpath, &c->rope_full));  // one dict: the full layers
    }
  }

  LOOM_RETURN_IF_ERROR(OptDouble(t, p, "final_logit_softcapping", 0.0, &c->final_logit_softcap));
  LOOM_RETURN_IF_ERROR(OptDouble(t, p, "attn_logit_softcapping", 0.0, &c->attn_logit_softcap));
  LOOM_RETURN_IF_ERROR(OptBool(t, p, "tie_word_embeddings", true, &c->tie_word_embeddings));
  bool bidirectional;  // EmbeddingGemma-style encoders set this
  LOOM_RETURN_IF_ERROR(OptBool(t, p, "use_bidirectional_attention", false, &bidirectional));
  c->bidirectional = bidirectional ? Bidirectional::kAll : Bidirectional::kNone;
  return ReadTextTokenIds(t, p, c);
}

Status ReadVision(const Json& v, int64_t text_hidden, VisionConfig* out) {
  constexpr std::string_view p = "vision_config";
  VisionConfig vc;
  vc.present = true;
  LOOM_RETURN_IF_ERROR(OptInt(v, p, "patch_size", 16, &vc.patch_size));
  LOOM_RETURN_IF_ERROR(OptInt(v, p, "pooling_kernel_size", 3, &vc.pooling_kernel_size));
  // Bounded before they are multiplied.
  LOOM_RETURN_IF_ERROR(internal::CheckCount("vision_config.patch_size", vc.patch_size, 1024));
  LOOM_RETURN_IF_ERROR(
      internal::CheckCount("vision_config.pooling_kernel_size", vc.pooling_kernel_size, 1024));
  vc.model_patch_size = vc.patch_size * vc.pooling_kernel_size;
  if (json::Has(v, "model_patch_size")) {
    int64_t mps;
    LOOM_RETURN_IF_ERROR(json::GetInt(v, p, "model_patch_size", &mps));
    if (mps != vc.model_patch_size) {
      return InvalidArgument("vision_config.model_patch_size: ", mps,
                             " is not patch_size * pooling_kernel_size = ", vc.model_patch_size);
    }
  }
  vc.patch_dim = vc.model_patch_size * vc.model_patch_size * 3;
  LOOM_RETURN_IF_ERROR(OptInt(v, p, "mm_embed_dim", 3840, &vc.mm_embed_dim));
  LOOM_RETURN_IF_ERROR(OptInt(v, p, "mm_posemb_size", 1120, &vc.posemb_size));
  LOOM_RETURN_IF_ERROR(OptInt(v, p, "num_soft_tokens", 280, &vc.default_soft_tokens));
  LOOM_RETURN_IF_ERROR(OptDouble(v, p, "rms_norm_eps", 1e-6, &vc.rms_norm_eps));
  // The embedding projection maps into the text stream, whatever the file claims.
  int64_t out_dims;
  LOOM_RETURN_IF_ERROR(OptInt(v, p, "output_proj_dims", text_hidden, &out_dims));
  if (out_dims != text_hidden) {
    return InvalidArgument("vision_config.output_proj_dims: ", out_dims,
                           " differs from text_config.hidden_size ", text_hidden);
  }
  *out = vc;
  return Status::Ok();
}

Status ReadAudio(const Json& a, AudioConfig* out) {
  constexpr std::string_view p = "audio_config";
  AudioConfig ac;
  ac.present = true;
  LOOM_RETURN_IF_ERROR(OptInt(a, p, "audio_embed_dim", 640, &ac.samples_per_token));
  // transformers derives these three from audio_embed_dim; a file that disagrees is corrupt.
  for (const char* alias : {"audio_samples_per_token", "hidden_size", "output_proj_dims"}) {
    int64_t v;
    LOOM_RETURN_IF_ERROR(OptInt(a, p, alias, ac.samples_per_token, &v));
    if (v != ac.samples_per_token) {
      return InvalidArgument("audio_config.", alias, ": ", v, " differs from audio_embed_dim ",
                             ac.samples_per_token);
    }
  }
  LOOM_RETURN_IF_ERROR(OptDouble(a, p, "rms_norm_eps", 1e-6, &ac.rms_norm_eps));
  *out = ac;
  return Status::Ok();
}

// The media token ids at the top level of a Gemma 4 Unified config (defaults: transformers'
// Gemma4UnifiedConfig). The published file spells the end-of-audio id eoa_token_index.
Status ReadGemma4MediaTokens(const Json& r, bool use_defaults, ModelConfig* c) {
  struct Tok {
    const char* key;
    int64_t def;
    int64_t* out;
  };
  for (const Tok& t : {Tok{"image_token_id", 258880, &c->image_token_id},
                       Tok{"audio_token_id", 258881, &c->audio_token_id},
                       Tok{"video_token_id", 258884, &c->video_token_id},
                       Tok{"boi_token_id", 255999, &c->boi_token_id},
                       Tok{"eoi_token_id", 258882, &c->eoi_token_id},
                       Tok{"boa_token_id", 256000, &c->boa_token_id}}) {
    LOOM_RETURN_IF_ERROR(OptTokenId(r, "", t.key, use_defaults ? t.def : -1, t.out));
  }
  int64_t by_index, by_id;
  LOOM_RETURN_IF_ERROR(OptTokenId(r, "", "eoa_token_index", use_defaults ? 258883 : -1, &by_index));
  LOOM_RETURN_IF_ERROR(OptTokenId(r, "", "eoa_token_id", by_index, &by_id));
  if (json::Has(r, "eoa_token_index") && json::Has(r, "eoa_token_id") && by_index != by_id) {
    return InvalidArgument("eoa_token_id: ", by_id, " differs from eoa_token_index ", by_index);
  }
  c->eoa_token_id = by_id;
  return Status::Ok();
}

Status ReadHf(const Json& root, ModelConfig* c) {
  if (!root.is_object()) {
    return InvalidArgument("expected a JSON object at the top level, got ", json::TypeName(root));
  }
  if (!json::Has(root, "model_type")) {
    return NotFound("model_type: missing (cannot tell which architecture this is)");
  }
  std::string model_type;
  LOOM_RETURN_IF_ERROR(json::GetString(root, "", "model_type", &model_type));
  const HfModelType* mt = FindModelType(model_type);
  if (mt == nullptr) {
    return Unimplemented("model_type ", QuoteForMessage(model_type),
                         " is not supported (loom reads ", SupportedModelTypes(), ")");
  }
  c->architecture = model_type;
  c->is_drafter = mt->drafter;

  const Json* text = &root;
  std::string_view tpath;
  if (mt->text_nested) {
    LOOM_RETURN_IF_ERROR(json::GetObject(root, "", "text_config", &text));
    tpath = "text_config";
  }
  switch (mt->family) {
    case Family::kGemma4:
      LOOM_RETURN_IF_ERROR(ReadGemma4Text(*text, tpath, mt->drafter, c));
      break;
    case Family::kGemma3:
      LOOM_RETURN_IF_ERROR(ReadGemma3Text(*text, tpath, c));
      break;
  }
  if (!mt->text_nested) return Status::Ok();

  // Top-level fields of a composite config override the text config's.
  LOOM_RETURN_IF_ERROR(
      OptBool(root, "", "tie_word_embeddings", c->tie_word_embeddings, &c->tie_word_embeddings));
  LOOM_RETURN_IF_ERROR(ReadEos(root, "", &c->eos_token_ids));
  if (mt->drafter) {
    LOOM_RETURN_IF_ERROR(OptInt(root, "", "backbone_hidden_size", 3840, &c->backbone_hidden_size));
    bool ordered;
    LOOM_RETURN_IF_ERROR(OptBool(root, "", "use_ordered_embeddings", false, &ordered));
    if (ordered) {
      return Unimplemented(
          "use_ordered_embeddings: true (centroid-ordered sparse LM head) is not implemented");
    }
    // The drafter has no media embedders; its file still names the media tokens.
    return ReadGemma4MediaTokens(root, /*use_defaults=*/false, c);
  }
  if (mt->family == Family::kGemma3) {
    // Gemma3Config: boi/eoi/image ids as *_token_index (aliased to *_token_id).
    for (auto [index_key, id_key, def, out] :
         {std::tuple{"boi_token_index", "boi_token_id", int64_t{255999}, &c->boi_token_id},
          std::tuple{"eoi_token_index", "eoi_token_id", int64_t{256000}, &c->eoi_token_id},
          std::tuple{"image_token_index", "image_token_id", int64_t{262144}, &c->image_token_id}}) {
      const char* key = json::Has(root, id_key) ? id_key : index_key;
      LOOM_RETURN_IF_ERROR(OptTokenId(root, "", key, def, out));
    }
    return Status::Ok();
  }
  if (mt->multimodal) {
    if (json::Has(root, "vision_config")) {
      const Json* v;
      LOOM_RETURN_IF_ERROR(json::GetObject(root, "", "vision_config", &v));
      LOOM_RETURN_IF_ERROR(ReadVision(*v, c->hidden_size, &c->vision));
    }
    if (json::Has(root, "audio_config")) {
      const Json* a;
      LOOM_RETURN_IF_ERROR(json::GetObject(root, "", "audio_config", &a));
      LOOM_RETURN_IF_ERROR(ReadAudio(*a, &c->audio));
    }
    return ReadGemma4MediaTokens(root, /*use_defaults=*/true, c);
  }
  return Status::Ok();
}

}  // namespace

Result<ModelConfig> ConfigFromHfJson(const json::Json& root, std::string_view what) {
  ModelConfig c;
  Status s = ReadHf(root, &c);
  if (!s.ok()) return s.WithContext(std::string(what));
  return c;
}

Result<ModelConfig> LoadHfConfig(const std::string& path) {
  LOOM_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path, kMaxConfigJsonBytes));
  LOOM_ASSIGN_OR_RETURN(json::Json root, json::ParseStrict(text, path));
  return ConfigFromHfJson(root, path);
}

}  // namespace loom::model
