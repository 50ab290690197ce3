// ModelConfig validation, parameter count and KV-cache plan. The readers live in config_hf.cc
// (config.json) and config_gguf.cc (GGUF metadata).
#include "model/config.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "base/checked_math.h"
#include "base/strings.h"
#include "model/config_internal.h"

namespace loom::model {
namespace {

// Bounds for the multimodal embedders; generous, but they keep every product below 2^63.
constexpr int64_t kMaxModelPatchSize = 1024;  // pixels per side of a merged patch
constexpr int64_t kMaxPosembSize = 1 << 16;
constexpr int64_t kMaxSoftTokens = 1 << 20;
constexpr int64_t kMaxAudioSamplesPerToken = 1 << 16;
constexpr size_t kMaxEosTokens = 64;

bool PositiveFinite(double x) { return std::isfinite(x) && x > 0.0; }

Status CheckPositive(std::string_view field, int64_t value, int64_t limit) {
  if (value <= 0) return InvalidArgument(field, ": ", value, " must be positive");
  if (value > limit) return OutOfRange(field, ": ", value, " exceeds the limit of ", limit);
  return Status::Ok();
}

Status CheckEps(std::string_view field, double eps) {
  if (!PositiveFinite(eps)) return InvalidArgument(field, ": ", eps, " must be finite and > 0");
  return Status::Ok();
}

Status CheckSoftcap(std::string_view field, double cap) {
  if (!std::isfinite(cap) || cap < 0.0) {
    return InvalidArgument(field, ": ", cap, " must be finite and >= 0 (0 means none)");
  }
  return Status::Ok();
}

Status CheckRope(std::string_view field, const RopeConfig& r) {
  if (r.type >= RopeType::kSentinel) {
    return InvalidArgument(field, ".rope_type: invalid value ", static_cast<int>(r.type));
  }
  if (!PositiveFinite(r.theta)) {
    return InvalidArgument(field, ".rope_theta: ", r.theta, " must be finite and > 0");
  }
  if (!(r.partial_rotary_factor > 0.0 && r.partial_rotary_factor <= 1.0)) {
    return InvalidArgument(field, ".partial_rotary_factor: ", r.partial_rotary_factor,
                           " must be in (0, 1]");
  }
  if (!PositiveFinite(r.scaling_factor)) {
    return InvalidArgument(field, ".factor: ", r.scaling_factor, " must be finite and > 0");
  }
  return Status::Ok();
}

Status CheckTokenId(std::string_view field, int64_t id, int64_t vocab_size) {
  if (id == -1) return Status::Ok();
  if (id < 0) return InvalidArgument(field, ": ", id, " is negative");
  if (id >= vocab_size) {
    return OutOfRange(field, ": ", id, " is not below vocab_size ", vocab_size);
  }
  return Status::Ok();
}

Status ValidateVision(const VisionConfig& v) {
  LOOM_RETURN_IF_ERROR(CheckPositive("vision_config.patch_size", v.patch_size, kMaxModelPatchSize));
  LOOM_RETURN_IF_ERROR(CheckPositive("vision_config.pooling_kernel_size", v.pooling_kernel_size,
                                     kMaxModelPatchSize));
  LOOM_RETURN_IF_ERROR(
      CheckPositive("vision_config.model_patch_size", v.model_patch_size, kMaxModelPatchSize));
  // Both factors are <= 1024 here, so the product cannot overflow.
  if (v.model_patch_size != v.patch_size * v.pooling_kernel_size) {
    return InvalidArgument(
        "vision_config.model_patch_size: ", v.model_patch_size,
        " is not patch_size * pooling_kernel_size = ", v.patch_size * v.pooling_kernel_size);
  }
  const int64_t want_dim = v.model_patch_size * v.model_patch_size * 3;
  if (v.patch_dim != want_dim) {
    return InvalidArgument("vision_config.patch_dim: ", v.patch_dim,
                           " is not model_patch_size^2 * 3 = ", want_dim);
  }
  LOOM_RETURN_IF_ERROR(CheckPositive("vision_config.mm_embed_dim", v.mm_embed_dim, kMaxHidden));
  LOOM_RETURN_IF_ERROR(
      CheckPositive("vision_config.mm_posemb_size", v.posemb_size, kMaxPosembSize));
  LOOM_RETURN_IF_ERROR(
      CheckPositive("vision_config.num_soft_tokens", v.default_soft_tokens, kMaxSoftTokens));
  LOOM_RETURN_IF_ERROR(CheckEps("vision_config.rms_norm_eps", v.rms_norm_eps));
  LOOM_RETURN_IF_ERROR(CheckEps("vision_config.layer_norm_eps", v.layer_norm_eps));
  return Status::Ok();
}

Status ValidateAudio(const AudioConfig& a) {
  LOOM_RETURN_IF_ERROR(
      CheckPositive("audio_config.audio_embed_dim", a.samples_per_token, kMaxAudioSamplesPerToken));
  LOOM_RETURN_IF_ERROR(CheckEps("audio_config.rms_norm_eps", a.rms_norm_eps));
  return Status::Ok();
}

Status ValidateMultimodal(const ModelConfig& c) {
  if (c.vision.present) LOOM_RETURN_IF_ERROR(ValidateVision(c.vision));
  if (c.audio.present) LOOM_RETURN_IF_ERROR(ValidateAudio(c.audio));
  return Status::Ok();
}

Status ValidateLayer(const ModelConfig& c, size_t l) {
  const std::string at = StrCat("[", l, "]");
  if (c.layer_types[l] >= AttentionType::kSentinel) {
    return InvalidArgument("layer_types", at, ": invalid value ",
                           static_cast<int>(c.layer_types[l]));
  }
  LOOM_RETURN_IF_ERROR(CheckPositive(StrCat("head_dim", at), c.head_dim[l], kMaxHeadDim));
  if (c.head_dim[l] % 2 != 0) {
    return InvalidArgument("head_dim", at, ": ", c.head_dim[l], " must be even (RoPE pairs)");
  }
  const int64_t kv = c.num_kv_heads[l];
  LOOM_RETURN_IF_ERROR(CheckPositive(StrCat("num_key_value_heads", at), kv, kMaxHeads));
  if (!c.kv_shared[l] && c.num_heads % kv != 0) {
    return InvalidArgument("num_attention_heads: ", c.num_heads,
                           " is not divisible by num_key_value_heads", at, " = ", kv);
  }
  return Status::Ok();
}

// A multiply-add that sticks at UINT64_MAX instead of wrapping: CountParams and PlanKvCache are
// also called on configs that were never validated, and must not overflow there either.
uint64_t SatMul(uint64_t a, uint64_t b) {
  auto r = CheckedMul(a, b);
  return r ? *r : std::numeric_limits<uint64_t>::max();
}
uint64_t SatAdd(uint64_t a, uint64_t b) {
  auto r = CheckedAdd(a, b);
  return r ? *r : std::numeric_limits<uint64_t>::max();
}
uint64_t U(int64_t v) { return v > 0 ? static_cast<uint64_t>(v) : 0; }

template <typename T>
T At(const std::vector<T>& v, int64_t l, T fallback) {
  return l >= 0 && static_cast<size_t>(l) < v.size() ? v[static_cast<size_t>(l)] : fallback;
}

uint64_t LayerParams(const ModelConfig& c, int64_t l) {
  const uint64_t h = U(c.hidden_size);
  const uint64_t hd = U(At(c.head_dim, l, int64_t{0}));
  const uint64_t q_rows = SatMul(U(c.num_heads), hd);
  const uint64_t kv_rows = SatMul(U(At(c.num_kv_heads, l, int64_t{0})), hd);
  const bool shared = At(c.kv_shared, l, false);
  uint64_t n = SatMul(4, h);                    // input, post-attention, pre/post-FFN norms
  n = SatAdd(n, SatMul(SatMul(2, q_rows), h));  // q_proj and o_proj
  if (!shared) {
    n = SatAdd(n, SatMul(kv_rows, h));                               // k_proj
    if (!At(c.k_eq_v, l, false)) n = SatAdd(n, SatMul(kv_rows, h));  // v_proj
  }
  if (c.qk_norm) n = SatAdd(n, shared ? hd : SatMul(2, hd));    // q_norm (+ k_norm)
  n = SatAdd(n, SatMul(SatMul(3, h), U(c.intermediate_size)));  // gate, up, down
  if (c.layer_scalar) n = SatAdd(n, 1);
  return n;
}

}  // namespace

namespace internal {

void ApplyFamilyFlags(Family family, ModelConfig* c) {
  c->activation = Activation::kGeluTanh;
  c->qk_norm = true;
  switch (family) {
    case Family::kGemma3:
      c->norm_weight = NormWeightMode::kOnePlusW;
      c->v_norm = false;
      c->layer_scalar = false;
      break;
    case Family::kGemma4:
      // SPEC §1.1/§11: RMSNorm scales by w, V gets a weightless norm, a learned scalar
      // multiplies the residual, and QK-norm replaces the 1/sqrt(d) scale.
      c->norm_weight = NormWeightMode::kW;
      c->v_norm = true;
      c->layer_scalar = true;
      c->attention_scale = 1.0;
      break;
  }
}

Status CheckCount(std::string_view field, int64_t value, int64_t limit) {
  return CheckPositive(field, value, limit);
}

void FillPeriodicLayerTypes(int64_t num_layers, int64_t period, ModelConfig* c) {
  c->layer_types.assign(static_cast<size_t>(num_layers), AttentionType::kSliding);
  for (int64_t l = 0; l < num_layers; ++l) {
    if ((l + 1) % period == 0) c->layer_types[static_cast<size_t>(l)] = AttentionType::kFull;
  }
}

void FillPerLayerShapes(int64_t head_dim_sliding, int64_t head_dim_full, int64_t kv_sliding,
                        int64_t kv_full, ModelConfig* c) {
  const size_t n = c->layer_types.size();
  c->head_dim.resize(n);
  c->num_kv_heads.resize(n);
  c->k_eq_v.assign(n, false);
  c->kv_shared.assign(n, false);
  for (size_t l = 0; l < n; ++l) {
    const bool full = c->layer_types[l] == AttentionType::kFull;
    c->head_dim[l] = full ? head_dim_full : head_dim_sliding;
    c->num_kv_heads[l] = full ? kv_full : kv_sliding;
  }
}

}  // namespace internal

const char* AttentionTypeName(AttentionType t) {
  switch (t) {
    case AttentionType::kSliding:
      return "sliding";
    case AttentionType::kFull:
      return "full";
    case AttentionType::kSentinel:
      break;
  }
  return "invalid";
}

int64_t ModelConfig::num_layers_of(AttentionType t) const {
  return static_cast<int64_t>(std::count(layer_types.begin(), layer_types.end(), t));
}

Status ModelConfig::Validate() const {
  if (norm_weight >= NormWeightMode::kSentinel) {
    return InvalidArgument("norm_weight: invalid value ", static_cast<int>(norm_weight));
  }
  if (activation >= Activation::kSentinel) {
    return InvalidArgument("hidden_activation: invalid value ", static_cast<int>(activation));
  }
  if (bidirectional >= Bidirectional::kSentinel) {
    return InvalidArgument("use_bidirectional_attention: invalid value ",
                           static_cast<int>(bidirectional));
  }

  // A clip projector file carries the multimodal embedders and the width they project to, but
  // no text decoder.
  if (num_layers == 0 && vocab_size == 0 && (vision.present || audio.present)) {
    LOOM_RETURN_IF_ERROR(CheckPositive("hidden_size (projection_dim)", hidden_size, kMaxHidden));
    return ValidateMultimodal(*this);
  }

  LOOM_RETURN_IF_ERROR(CheckPositive("vocab_size", vocab_size, kMaxVocab));
  LOOM_RETURN_IF_ERROR(CheckPositive("hidden_size", hidden_size, kMaxHidden));
  LOOM_RETURN_IF_ERROR(CheckPositive("num_hidden_layers", num_layers, kMaxLayers));
  LOOM_RETURN_IF_ERROR(CheckPositive("intermediate_size", intermediate_size, kMaxIntermediate));
  LOOM_RETURN_IF_ERROR(CheckPositive("num_attention_heads", num_heads, kMaxHeads));
  LOOM_RETURN_IF_ERROR(
      CheckPositive("max_position_embeddings", max_position_embeddings, kMaxContext));

  const size_t n = static_cast<size_t>(num_layers);
  struct Named {
    const char* name;
    size_t size;
  };
  for (const Named& v :
       {Named{"layer_types", layer_types.size()}, Named{"head_dim", head_dim.size()},
        Named{"num_key_value_heads", num_kv_heads.size()}, Named{"k_eq_v", k_eq_v.size()},
        Named{"kv_shared", kv_shared.size()}}) {
    if (v.size != n) {
      return InvalidArgument(v.name, ": has ", v.size, " per-layer entries, num_hidden_layers is ",
                             num_layers);
    }
  }
  for (size_t l = 0; l < n; ++l) LOOM_RETURN_IF_ERROR(ValidateLayer(*this, l));

  if (sliding_window < 0) {
    return InvalidArgument("sliding_window: ", sliding_window, " is negative");
  }
  if (num_layers_of(AttentionType::kSliding) > 0 && sliding_window == 0) {
    return InvalidArgument("sliding_window: 0, but ", num_layers_of(AttentionType::kSliding),
                           " layers are sliding_attention");
  }
  if (sliding_window > max_position_embeddings) {
    return OutOfRange("sliding_window: ", sliding_window,
                      " exceeds max_position_embeddings = ", max_position_embeddings);
  }

  LOOM_RETURN_IF_ERROR(CheckEps("rms_norm_eps", rms_norm_eps));
  LOOM_RETURN_IF_ERROR(CheckRope("rope_parameters.sliding_attention", rope_sliding));
  LOOM_RETURN_IF_ERROR(CheckRope("rope_parameters.full_attention", rope_full));
  if (!PositiveFinite(attention_scale)) {
    return InvalidArgument("attention_scale: ", attention_scale, " must be finite and > 0");
  }
  LOOM_RETURN_IF_ERROR(CheckSoftcap("attn_logit_softcapping", attn_logit_softcap));
  LOOM_RETURN_IF_ERROR(CheckSoftcap("final_logit_softcapping", final_logit_softcap));

  if (hidden_size_per_layer_input != 0) {
    return Unimplemented("hidden_size_per_layer_input: ", hidden_size_per_layer_input,
                         " (per-layer embeddings) is not implemented; loom needs 0");
  }
  if (enable_moe) {
    return Unimplemented("enable_moe_block: true (Mixture-of-Experts) is not implemented");
  }
  const auto shared = std::count(kv_shared.begin(), kv_shared.end(), true);
  if (!is_drafter && shared > 0) {
    return Unimplemented("num_kv_shared_layers: ", shared,
                         " (cross-layer KV sharing) is implemented only for an MTP drafter");
  }
  if (is_drafter) {
    LOOM_RETURN_IF_ERROR(CheckPositive("backbone_hidden_size", backbone_hidden_size, kMaxHidden));
  }

  // Gemma 4: the HF config validator requires a full last layer (SPEC §1.1); the drafter and
  // the KV-sharing rules depend on it.
  if (v_norm && layer_scalar && layer_types.back() != AttentionType::kFull) {
    return InvalidArgument("layer_types[", num_layers - 1, "]: the last layer is ",
                           AttentionTypeName(layer_types.back()), ", but must be full_attention");
  }

  struct Id {
    const char* name;
    int64_t id;
  };
  for (const Id& t : {Id{"pad_token_id", pad_token_id}, Id{"bos_token_id", bos_token_id},
                      Id{"image_token_id", image_token_id}, Id{"audio_token_id", audio_token_id},
                      Id{"video_token_id", video_token_id}, Id{"boi_token_id", boi_token_id},
                      Id{"eoi_token_id", eoi_token_id}, Id{"boa_token_id", boa_token_id},
                      Id{"eoa_token_id", eoa_token_id}}) {
    LOOM_RETURN_IF_ERROR(CheckTokenId(t.name, t.id, vocab_size));
  }
  if (eos_token_ids.size() > kMaxEosTokens) {
    return OutOfRange("eos_token_id: ", eos_token_ids.size(), " entries exceed the limit of ",
                      kMaxEosTokens);
  }
  for (size_t i = 0; i < eos_token_ids.size(); ++i) {
    LOOM_RETURN_IF_ERROR(
        CheckTokenId(StrCat("eos_token_id[", i, "]"), eos_token_ids[i], vocab_size));
  }
  return ValidateMultimodal(*this);
}

ParamCount CountParams(const ModelConfig& c) {
  ParamCount p;
  const uint64_t h = U(c.hidden_size);
  if (c.num_layers > 0 || c.vocab_size > 0) {
    p.embedding = SatMul(U(c.vocab_size), h);
    uint64_t text = p.embedding;
    for (int64_t l = 0; l < c.num_layers; ++l) text = SatAdd(text, LayerParams(c, l));
    text = SatAdd(text, h);                                        // final norm
    if (!c.tie_word_embeddings) text = SatAdd(text, p.embedding);  // lm_head
    if (c.is_drafter) {
      const uint64_t b = U(c.backbone_hidden_size);
      text = SatAdd(text, SatMul(SatMul(2, b), h));  // pre_projection [h, 2b]
      text = SatAdd(text, SatMul(b, h));             // post_projection [b, h]
    }
    p.text = text;
  }
  if (c.vision.present) {
    const uint64_t pd = U(c.vision.patch_dim);
    const uint64_t e = U(c.vision.mm_embed_dim);
    uint64_t v = SatMul(2, pd);                                    // patch_ln1 weight, bias
    v = SatAdd(v, SatAdd(SatMul(e, pd), e));                       // patch_dense
    v = SatAdd(v, SatMul(2, e));                                   // patch_ln2
    v = SatAdd(v, SatMul(SatMul(U(c.vision.posemb_size), 2), e));  // pos_embedding
    v = SatAdd(v, SatMul(2, e));                                   // pos_norm
    v = SatAdd(v, SatMul(h, e));                                   // embedding_projection
    p.vision = v;
  }
  if (c.audio.present) p.audio = SatMul(h, U(c.audio.samples_per_token));
  return p;
}

KvPlan PlanKvCache(const ModelConfig& c, uint64_t ctx, uint64_t bytes_per_element) {
  KvPlan plan;
  const uint64_t window = U(c.sliding_window);
  for (int64_t l = 0; l < c.num_layers; ++l) {
    if (At(c.kv_shared, l, false)) continue;  // reads K/V another layer (or the target) wrote
    const bool sliding = At(c.layer_types, l, AttentionType::kFull) == AttentionType::kSliding;
    const uint64_t positions = sliding ? std::min(ctx, window) : ctx;
    const uint64_t per_position = SatMul(
        SatMul(2, SatMul(U(At(c.num_kv_heads, l, int64_t{0})), U(At(c.head_dim, l, int64_t{0})))),
        bytes_per_element);  // K and V, kept apart also when k_eq_v (V has no RoPE)
    uint64_t& total = sliding ? plan.sliding_bytes : plan.full_bytes;
    total = SatAdd(total, SatMul(positions, per_position));
  }
  return plan;
}

}  // namespace loom::model
