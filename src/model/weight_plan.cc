#include "model/weight_plan.h"

#include "base/strings.h"

namespace loom::model {

uint64_t WeightSpec::elements() const {
  uint64_t n = 1;
  for (uint64_t d : shape) n *= d;  // shapes come from a validated config: bounded by kMax*
  return n;
}

namespace {

void AddLayer(const ModelConfig& c, int64_t l, const std::string& prefix,
              std::vector<WeightSpec>* out) {
  const uint64_t h = static_cast<uint64_t>(c.hidden_size);
  const uint64_t hd = static_cast<uint64_t>(c.head_dim[l]);
  const uint64_t q_rows = static_cast<uint64_t>(c.num_heads) * hd;
  const uint64_t kv_rows = static_cast<uint64_t>(c.num_kv_heads[l]) * hd;
  const uint64_t ffn = static_cast<uint64_t>(c.intermediate_size);
  const std::string p = StrCat(prefix, "layers.", l, ".");
  auto add = [&](std::string name, std::vector<uint64_t> shape, WeightRole role) {
    out->push_back({p + name, std::move(shape), role});
  };
  add("input_layernorm.weight", {h}, WeightRole::kVector);
  add("self_attn.q_proj.weight", {q_rows, h}, WeightRole::kMatrix);
  if (!c.kv_shared[l]) {
    add("self_attn.k_proj.weight", {kv_rows, h}, WeightRole::kMatrix);
    if (!c.k_eq_v[l]) add("self_attn.v_proj.weight", {kv_rows, h}, WeightRole::kMatrix);
  }
  add("self_attn.o_proj.weight", {h, q_rows}, WeightRole::kMatrix);
  if (c.qk_norm) {
    add("self_attn.q_norm.weight", {hd}, WeightRole::kVector);
    if (!c.kv_shared[l]) add("self_attn.k_norm.weight", {hd}, WeightRole::kVector);
  }
  add("post_attention_layernorm.weight", {h}, WeightRole::kVector);
  add("pre_feedforward_layernorm.weight", {h}, WeightRole::kVector);
  add("mlp.gate_proj.weight", {ffn, h}, WeightRole::kMatrix);
  add("mlp.up_proj.weight", {ffn, h}, WeightRole::kMatrix);
  add("mlp.down_proj.weight", {h, ffn}, WeightRole::kMatrix);
  add("post_feedforward_layernorm.weight", {h}, WeightRole::kVector);
  if (c.layer_scalar) add("layer_scalar", {1}, WeightRole::kVector);
}

}  // namespace

std::vector<WeightSpec> ExpectedWeights(const ModelConfig& c) {
  std::vector<WeightSpec> out;
  const uint64_t h = static_cast<uint64_t>(c.hidden_size);
  const uint64_t v = static_cast<uint64_t>(c.vocab_size);
  // Gemma 4 Unified nests the decoder under language_model; the drafter and Gemma 3 text models
  // keep it directly under model.
  const bool multimodal = c.vision.present || c.audio.present;
  const std::string prefix = multimodal ? "model.language_model." : "model.";
  out.push_back({prefix + "embed_tokens.weight", {v, h}, WeightRole::kEmbedding});
  for (int64_t l = 0; l < c.num_layers; ++l) AddLayer(c, l, prefix, &out);
  out.push_back({prefix + "norm.weight", {h}, WeightRole::kVector});
  if (!c.tie_word_embeddings) out.push_back({"lm_head.weight", {v, h}, WeightRole::kMatrix});
  if (c.is_drafter) {
    const uint64_t b = static_cast<uint64_t>(c.backbone_hidden_size);
    out.push_back({"pre_projection.weight", {h, 2 * b}, WeightRole::kMatrix});
    out.push_back({"post_projection.weight", {b, h}, WeightRole::kMatrix});
  }
  if (c.vision.present) {
    const uint64_t pd = static_cast<uint64_t>(c.vision.patch_dim);
    const uint64_t e = static_cast<uint64_t>(c.vision.mm_embed_dim);
    const uint64_t ps = static_cast<uint64_t>(c.vision.posemb_size);
    const std::string vp = "model.vision_embedder.";
    out.push_back({vp + "patch_ln1.weight", {pd}, WeightRole::kVector});
    out.push_back({vp + "patch_ln1.bias", {pd}, WeightRole::kVector});
    out.push_back({vp + "patch_dense.weight", {e, pd}, WeightRole::kMatrix});
    out.push_back({vp + "patch_dense.bias", {e}, WeightRole::kVector});
    out.push_back({vp + "patch_ln2.weight", {e}, WeightRole::kVector});
    out.push_back({vp + "patch_ln2.bias", {e}, WeightRole::kVector});
    out.push_back({vp + "pos_embedding", {ps, 2, e}, WeightRole::kEmbedding});
    out.push_back({vp + "pos_norm.weight", {e}, WeightRole::kVector});
    out.push_back({vp + "pos_norm.bias", {e}, WeightRole::kVector});
    out.push_back({"model.embed_vision.embedding_projection.weight", {h, e}, WeightRole::kMatrix});
  }
  if (c.audio.present) {
    const uint64_t a = static_cast<uint64_t>(c.audio.samples_per_token);
    out.push_back({"model.embed_audio.embedding_projection.weight", {h, a}, WeightRole::kMatrix});
  }
  return out;
}

uint64_t WeightBytesAs(const std::vector<WeightSpec>& weights, gguf::GgmlType type) {
  uint64_t total = 0;
  for (const auto& w : weights) {
    const uint64_t n = w.elements();
    if (w.role == WeightRole::kVector || w.shape.size() < 2) {
      total += n * 4;
      continue;
    }
    const uint64_t row = w.shape.back();  // ggml's ne[0]: the innermost (input) dimension
    uint64_t bytes = 0;
    for (gguf::GgmlType t : {type, gguf::GgmlType::kQ8_0, gguf::GgmlType::kF16}) {
      if (auto rb = gguf::GgmlRowBytes(t, row)) {
        bytes = *rb * (n / row);
        break;
      }
    }
    total += bytes;
  }
  return total;
}

}  // namespace loom::model
