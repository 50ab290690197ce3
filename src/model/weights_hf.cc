// HF safetensors checkpoints: config.json + model.safetensors (or a sharded index). Tensors are
// bound by the names ExpectedWeights(config) lists; matrices stay in the mapping (F32, F16 or
// BF16), norm vectors and layer scalars become f32.
#include <cmath>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/strings.h"
#include "formats/safetensors/safetensors.h"
#include "io/path.h"
#include "kernels/matmul.h"
#include "model/weight_plan.h"
#include "model/weights.h"
#include "tensor/fp16.h"

namespace loom::model {

namespace {

using tensor::GgmlType;

// Multimodal tensors beside the text stack: bound by the vision/audio embedders (later issues),
// or by no one (Gemma 3's SigLIP tower). Their presence is not an error.
constexpr const char* kMediaPrefixes[] = {
    "model.vision_embedder.", "model.embed_vision.",          "model.embed_audio.",
    "model.vision_tower.",    "model.multi_modal_projector.", "model.audio_tower.",
};

bool IsMediaTensor(const std::string& name) {
  for (const char* p : kMediaPrefixes) {
    if (StartsWith(name, p)) return true;
  }
  return false;
}

std::string ShapeString(const std::vector<uint64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += StrCat(i ? ", " : "", shape[i]);
  return s + "]";
}

std::optional<GgmlType> FloatType(safetensors::DType d) {
  switch (d) {
    case safetensors::DType::kF32:
      return GgmlType::kF32;
    case safetensors::DType::kF16:
      return GgmlType::kF16;
    case safetensors::DType::kBF16:
      return GgmlType::kBF16;
    default:
      return std::nullopt;
  }
}

class HfBinder {
 public:
  HfBinder(const ModelConfig& config, const safetensors::Checkpoint& ckpt, std::string what)
      : config_(config), ckpt_(ckpt), what_(std::move(what)) {}

  // Checks the checkpoint's tensor set against ExpectedWeights: every text tensor present with
  // its shape and a float dtype, nothing unknown besides media tensors (and a duplicate lm_head
  // when the embedding is tied).
  Status CheckTensorSet() {
    std::vector<WeightSpec> expected = ExpectedWeights(config_);
    // Gemma 3 multimodal checkpoints nest the decoder under model.language_model. although
    // their config describes it as a text model.
    const std::string plain = "model.embed_tokens.weight";
    if (ckpt_.Find(plain) == nullptr &&
        ckpt_.Find("model.language_model.embed_tokens.weight") != nullptr) {
      for (WeightSpec& s : expected) {
        if (StartsWith(s.name, "model.") && !StartsWith(s.name, "model.language_model.") &&
            !IsMediaTensor(s.name)) {
          s.name = "model.language_model." + s.name.substr(6);
        }
      }
      prefix_ = "model.language_model.";
    } else {
      prefix_ =
          (config_.vision.present || config_.audio.present) ? "model.language_model." : "model.";
    }
    for (WeightSpec& s : expected) {
      if (IsMediaTensor(s.name)) continue;
      specs_.emplace(s.name, std::move(s));
    }
    for (const auto& [name, spec] : specs_) {
      const safetensors::TensorInfo* t = ckpt_.Find(name);
      if (t == nullptr) {
        return NotFound(what_, ": tensor ", QuoteForMessage(name), " ", ShapeString(spec.shape),
                        " is missing (", config_.architecture, ", ", config_.num_layers,
                        " layers)");
      }
      if (t->shape != spec.shape) {
        return InvalidArgument(what_, ": tensor ", QuoteForMessage(name), " has shape ",
                               ShapeString(t->shape), " but the config implies ",
                               ShapeString(spec.shape));
      }
      if (!FloatType(t->dtype)) {
        return Unimplemented(what_, ": tensor ", QuoteForMessage(name), " has dtype ",
                             safetensors::DTypeName(t->dtype), "; supported: F32, F16, BF16");
      }
    }
    for (const safetensors::TensorInfo* t : ckpt_.tensors()) {
      if (specs_.count(t->name) != 0 || IsMediaTensor(t->name)) continue;
      if (t->name == "lm_head.weight" && config_.tie_word_embeddings &&
          t->shape == std::vector<uint64_t>{static_cast<uint64_t>(config_.vocab_size),
                                            static_cast<uint64_t>(config_.hidden_size)}) {
        continue;  // a duplicate of the tied embedding some converters write (SPEC §9)
      }
      return InvalidArgument(what_, ": unexpected tensor ", QuoteForMessage(t->name), " ",
                             ShapeString(t->shape), ": not part of a ", config_.architecture,
                             " text model with this config");
    }
    return Status::Ok();
  }

  Status Matrix(const std::string& name, kernels::Matrix* m) {
    const safetensors::TensorInfo* t = Get(name);
    const GgmlType type = *FloatType(t->dtype);
    *m = kernels::MakeMatrix(type, t->data.data(), static_cast<int64_t>(t->shape[0]),
                             static_cast<int64_t>(t->shape[1]));
    Count(t, type);
    return Status::Ok();
  }

  Status Vector(const std::string& name, bool norm, std::vector<float>* out) {
    const safetensors::TensorInfo* t = Get(name);
    const GgmlType type = *FloatType(t->dtype);
    Count(t, type);
    const bool add_one = norm && config_.norm_weight == NormWeightMode::kOnePlusW;
    return internal::VectorToF32(type, t->data.data(), static_cast<int64_t>(t->n_elements), add_one,
                                 name, out);
  }

  const safetensors::TensorInfo* Get(const std::string& name) {
    // CheckTensorSet() has made sure every name asked for exists with the expected shape.
    return ckpt_.Find(name);
  }

  const std::string& prefix() const { return prefix_; }
  uint64_t bytes() const { return bytes_; }
  const std::map<std::string, uint64_t>& type_count() const { return type_count_; }

 private:
  void Count(const safetensors::TensorInfo* t, GgmlType type) {
    bytes_ += t->data.size();
    ++type_count_[gguf::GetGgmlTypeInfo(type).name];
  }

  const ModelConfig& config_;
  const safetensors::Checkpoint& ckpt_;
  std::string what_;
  std::string prefix_;
  std::map<std::string, WeightSpec> specs_;
  uint64_t bytes_ = 0;
  std::map<std::string, uint64_t> type_count_;
};

Status BindHf(const ModelConfig& c, HfBinder* b, DecoderWeights* w) {
  const std::string& p = b->prefix();
  LOOM_RETURN_IF_ERROR(b->Matrix(p + "embed_tokens.weight", &w->embedding));
  w->embed_scale = internal::HfEmbedScale(c.hidden_size, w->embedding.type);
  if (c.tie_word_embeddings) {
    w->output = w->embedding;
  } else {
    LOOM_RETURN_IF_ERROR(b->Matrix("lm_head.weight", &w->output));
  }
  LOOM_RETURN_IF_ERROR(b->Vector(p + "norm.weight", true, &w->final_norm));
  w->layers.resize(static_cast<size_t>(c.num_layers));
  for (int64_t l = 0; l < c.num_layers; ++l) {
    const size_t li = static_cast<size_t>(l);
    LayerWeights& lw = w->layers[li];
    const std::string lp = StrCat(p, "layers.", l, ".");
    LOOM_RETURN_IF_ERROR(b->Vector(lp + "input_layernorm.weight", true, &lw.attn_norm));
    LOOM_RETURN_IF_ERROR(b->Matrix(lp + "self_attn.q_proj.weight", &lw.q));
    LOOM_RETURN_IF_ERROR(b->Matrix(lp + "self_attn.k_proj.weight", &lw.k));
    if (!c.k_eq_v[li]) LOOM_RETURN_IF_ERROR(b->Matrix(lp + "self_attn.v_proj.weight", &lw.v));
    LOOM_RETURN_IF_ERROR(b->Matrix(lp + "self_attn.o_proj.weight", &lw.o));
    if (c.qk_norm) {
      LOOM_RETURN_IF_ERROR(b->Vector(lp + "self_attn.q_norm.weight", true, &lw.q_norm));
      LOOM_RETURN_IF_ERROR(b->Vector(lp + "self_attn.k_norm.weight", true, &lw.k_norm));
    }
    LOOM_RETURN_IF_ERROR(
        b->Vector(lp + "post_attention_layernorm.weight", true, &lw.post_attn_norm));
    LOOM_RETURN_IF_ERROR(
        b->Vector(lp + "pre_feedforward_layernorm.weight", true, &lw.pre_ffn_norm));
    LOOM_RETURN_IF_ERROR(b->Matrix(lp + "mlp.gate_proj.weight", &lw.gate));
    LOOM_RETURN_IF_ERROR(b->Matrix(lp + "mlp.up_proj.weight", &lw.up));
    LOOM_RETURN_IF_ERROR(b->Matrix(lp + "mlp.down_proj.weight", &lw.down));
    LOOM_RETURN_IF_ERROR(
        b->Vector(lp + "post_feedforward_layernorm.weight", true, &lw.post_ffn_norm));
    if (c.layer_scalar) {
      std::vector<float> s;
      LOOM_RETURN_IF_ERROR(b->Vector(lp + "layer_scalar", false, &s));
      lw.layer_scalar = s[0];
    }
  }
  return Status::Ok();
}

// The embedders' tensors. Checkpoints use the converter's names (SPEC §3.5); a checkpoint saved
// from transformers' module tree uses the second spelling.
struct MediaName {
  const char* name;
  const char* alt;
};

const safetensors::TensorInfo* FindMedia(const safetensors::Checkpoint& ckpt, MediaName n) {
  const safetensors::TensorInfo* t = ckpt.Find(n.name);
  return t != nullptr ? t : ckpt.Find(n.alt);
}

Status MediaTensor(const safetensors::Checkpoint& ckpt, const std::string& what, MediaName n,
                   const std::vector<uint64_t>& shape, const safetensors::TensorInfo** out) {
  const safetensors::TensorInfo* t = FindMedia(ckpt, n);
  if (t == nullptr) {
    return NotFound(what, ": tensor ", QuoteForMessage(n.name), " ", ShapeString(shape),
                    " is missing (the config declares this modality)");
  }
  if (t->shape != shape) {
    return InvalidArgument(what, ": tensor ", QuoteForMessage(t->name), " has shape ",
                           ShapeString(t->shape), " but the config implies ", ShapeString(shape));
  }
  if (!FloatType(t->dtype)) {
    return Unimplemented(what, ": tensor ", QuoteForMessage(t->name), " has dtype ",
                         safetensors::DTypeName(t->dtype), "; supported: F32, F16, BF16");
  }
  *out = t;
  return Status::Ok();
}

Status MediaMatrix(const safetensors::Checkpoint& ckpt, const std::string& what, MediaName n,
                   uint64_t rows, uint64_t cols, kernels::Matrix* m) {
  const safetensors::TensorInfo* t;
  LOOM_RETURN_IF_ERROR(MediaTensor(ckpt, what, n, {rows, cols}, &t));
  *m = kernels::MakeMatrix(*FloatType(t->dtype), t->data.data(), static_cast<int64_t>(rows),
                           static_cast<int64_t>(cols));
  return Status::Ok();
}

Status MediaVector(const safetensors::Checkpoint& ckpt, const std::string& what, MediaName n,
                   uint64_t len, std::vector<float>* out) {
  const safetensors::TensorInfo* t;
  LOOM_RETURN_IF_ERROR(MediaTensor(ckpt, what, n, {len}, &t));
  return internal::VectorToF32(*FloatType(t->dtype), t->data.data(), static_cast<int64_t>(len),
                               false, t->name, out)
      .WithContext(what);
}

Result<std::unique_ptr<MediaEmbedder>> BindHfMedia(
    const ModelConfig& c, const std::shared_ptr<safetensors::Checkpoint>& ckpt,
    const std::string& what) {
  const safetensors::Checkpoint& k = *ckpt;
  std::unique_ptr<VisionEmbedderWeights> v;
  std::unique_ptr<AudioEmbedderWeights> a;
  const uint64_t h = static_cast<uint64_t>(c.hidden_size);
  if (c.vision.present) {
    v = std::make_unique<VisionEmbedderWeights>();
    const uint64_t pd = static_cast<uint64_t>(c.vision.patch_dim);
    const uint64_t e = static_cast<uint64_t>(c.vision.mm_embed_dim);
    const uint64_t ps = static_cast<uint64_t>(c.vision.posemb_size);
    auto vn = [](const char* leaf, const char* alt) { return MediaName{leaf, alt}; };
    LOOM_RETURN_IF_ERROR(MediaVector(
        k, what,
        vn("model.vision_embedder.patch_ln1.weight", "model.embed_vision.patch_ln1.weight"), pd,
        &v->ln1_w));
    LOOM_RETURN_IF_ERROR(MediaVector(
        k, what, vn("model.vision_embedder.patch_ln1.bias", "model.embed_vision.patch_ln1.bias"),
        pd, &v->ln1_b));
    LOOM_RETURN_IF_ERROR(MediaMatrix(
        k, what,
        vn("model.vision_embedder.patch_dense.weight", "model.embed_vision.patch_dense.weight"), e,
        pd, &v->patch_dense));
    LOOM_RETURN_IF_ERROR(MediaVector(
        k, what,
        vn("model.vision_embedder.patch_dense.bias", "model.embed_vision.patch_dense.bias"), e,
        &v->patch_bias));
    LOOM_RETURN_IF_ERROR(MediaVector(
        k, what,
        vn("model.vision_embedder.patch_ln2.weight", "model.embed_vision.patch_ln2.weight"), e,
        &v->ln2_w));
    LOOM_RETURN_IF_ERROR(MediaVector(
        k, what, vn("model.vision_embedder.patch_ln2.bias", "model.embed_vision.patch_ln2.bias"), e,
        &v->ln2_b));
    const safetensors::TensorInfo* pos;
    LOOM_RETURN_IF_ERROR(MediaTensor(
        k, what, vn("model.vision_embedder.pos_embedding", "model.embed_vision.pos_embedding"),
        {ps, 2, e}, &pos));
    v->pos_table = kernels::MakeMatrix(*FloatType(pos->dtype), pos->data.data(),
                                       static_cast<int64_t>(ps * 2), static_cast<int64_t>(e));
    v->pos_stride = 2;
    v->pos_x_offset = 0;
    v->pos_y_offset = 1;
    LOOM_RETURN_IF_ERROR(MediaVector(
        k, what, vn("model.vision_embedder.pos_norm.weight", "model.embed_vision.pos_norm.weight"),
        e, &v->pos_norm_w));
    LOOM_RETURN_IF_ERROR(MediaVector(
        k, what, vn("model.vision_embedder.pos_norm.bias", "model.embed_vision.pos_norm.bias"), e,
        &v->pos_norm_b));
    LOOM_RETURN_IF_ERROR(
        MediaMatrix(k, what,
                    vn("model.embed_vision.embedding_projection.weight",
                       "model.embed_vision.multimodal_embedder.embedding_projection.weight"),
                    h, e, &v->projection));
  }
  if (c.audio.present) {
    a = std::make_unique<AudioEmbedderWeights>();
    LOOM_RETURN_IF_ERROR(
        MediaMatrix(k, what,
                    {"model.embed_audio.embedding_projection.weight",
                     "model.embed_audio.multimodal_embedder.embedding_projection.weight"},
                    h, static_cast<uint64_t>(c.audio.samples_per_token), &a->projection));
  }
  if (v == nullptr && a == nullptr) return std::unique_ptr<MediaEmbedder>();
  return std::make_unique<MediaEmbedder>(c, ckpt, std::move(v), std::move(a), what);
}

}  // namespace

Result<LoadedWeights> LoadHfWeights(const std::string& path) {
  const std::string dir = IsDirectory(path) ? path : DirName(path);
  const std::string config_path = PathJoin(dir, "config.json");
  if (!IsRegularFile(config_path)) {
    return NotFound(path, ": no config.json ", IsDirectory(path) ? "in" : "beside",
                    " the checkpoint (looked for ", config_path, ")");
  }
  LoadedWeights out;
  LOOM_ASSIGN_OR_RETURN(out.config, LoadHfConfig(config_path));
  LOOM_RETURN_IF_ERROR(out.config.Validate().WithContext(config_path));
  LOOM_RETURN_IF_ERROR(internal::CheckSupported(out.config).WithContext(config_path));
  LOOM_ASSIGN_OR_RETURN(safetensors::Checkpoint ckpt, safetensors::OpenCheckpoint(path));
  auto owned = std::make_shared<safetensors::Checkpoint>(std::move(ckpt));
  HfBinder binder(out.config, *owned, path);
  LOOM_RETURN_IF_ERROR(binder.CheckTensorSet());
  LOOM_RETURN_IF_ERROR(BindHf(out.config, &binder, &out.weights));
  LOOM_ASSIGN_OR_RETURN(out.media, BindHfMedia(out.config, owned, path));
  out.owner = owned;
  out.format = "safetensors";
  out.text_bytes = binder.bytes();
  out.type_count = binder.type_count();
  return out;
}

namespace internal {

Status CheckSupported(const ModelConfig& c) {
  if (c.num_layers == 0 || c.vocab_size == 0) {
    return Unimplemented("the file has no text decoder (a projector file?)");
  }
  if (c.is_drafter) {
    return Unimplemented(c.architecture,
                         ": an MTP drafter is not a standalone model; load it with its target");
  }
  if (c.attn_logit_softcap != 0.0) {
    return Unimplemented("attn_logit_softcapping ", c.attn_logit_softcap,
                         ": attention score soft-capping is not implemented");
  }
  if (c.bidirectional == Bidirectional::kAll) {
    return Unimplemented("use_bidirectional_attention \"all\" is not implemented");
  }
  for (int64_t l = 0; l < c.num_layers; ++l) {
    if (c.kv_shared[static_cast<size_t>(l)]) {
      return Unimplemented("layer ", l, " reads shared KV (num_kv_shared_layers > 0): cross-layer",
                           " KV sharing is not implemented");
    }
  }
  return Status::Ok();
}

Status VectorToF32(GgmlType type, const void* data, int64_t n, bool add_one,
                   const std::string& name, std::vector<float>* out) {
  out->resize(static_cast<size_t>(n));
  switch (type) {
    case GgmlType::kF32:
    case GgmlType::kF16:
    case GgmlType::kBF16:
      break;
    default:
      return Unimplemented("tensor ", QuoteForMessage(name), ": type ",
                           gguf::GetGgmlTypeInfo(type).name,
                           " is not supported for a vector (F32, F16, BF16)");
  }
  tensor::DequantizeRow(type, data, out->data(), n);
  if (add_one) {
    for (float& v : *out) v = 1.0f + v;
  }
  for (int64_t i = 0; i < n; ++i) {
    if (!std::isfinite((*out)[static_cast<size_t>(i)])) {
      return InvalidArgument("tensor ", QuoteForMessage(name), ": value ", i, " is not finite");
    }
  }
  return Status::Ok();
}

float HfEmbedScale(int64_t hidden, GgmlType table_type) {
  const float s = static_cast<float>(std::sqrt(static_cast<double>(hidden)));
  switch (table_type) {
    case GgmlType::kBF16:
      return tensor::BF16ToF32(tensor::F32ToBF16(s));
    case GgmlType::kF16:
      return tensor::F16ToF32(tensor::F32ToF16(s));
    default:
      return s;
  }
}

}  // namespace internal

}  // namespace loom::model
