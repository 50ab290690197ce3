// llama.cpp GGUF files (arch gemma3 / gemma4): tensors bound by llama.cpp's names
// (gguf-py constants.py: token_embd, blk.N.attn_q, ..., output_norm, output, rope_freqs).
// GGUF lists dims innermost first (ne[0] = row length), the reverse of PyTorch's order.
#include <cmath>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "base/strings.h"
#include "formats/gguf/gguf.h"
#include "kernels/matmul.h"
#include "model/weights.h"
#include "tensor/quant.h"

namespace loom::model {

namespace {

using tensor::GgmlType;

class GgufBinder {
 public:
  GgufBinder(const ModelConfig& config, const gguf::File& file, std::string what)
      : config_(config), file_(file), what_(std::move(what)) {}

  // A [rows][cols] matrix: ne = {cols, rows}, any weight type loom's MatMul reads.
  Status Matrix(const std::string& name, int64_t rows, int64_t cols, kernels::Matrix* m) {
    const gguf::TensorInfo* t;
    LOOM_RETURN_IF_ERROR(
        Find(name, {static_cast<uint64_t>(cols), static_cast<uint64_t>(rows)}, &t));
    return BindMatrix(name, *t, rows, cols, m);
  }

  Status Vector(const std::string& name, int64_t n, bool norm, std::vector<float>* out) {
    const gguf::TensorInfo* t;
    LOOM_RETURN_IF_ERROR(Find(name, {static_cast<uint64_t>(n)}, &t));
    const bool add_one = norm && config_.norm_weight == NormWeightMode::kOnePlusW;
    return internal::VectorToF32(t->type, file_.TensorData(*t).data(), n, add_one, name, out)
        .WithContext(what_);
  }

  bool Has(const std::string& name) const { return file_.FindTensor(name) != nullptr; }

  // A [rows][cols] matrix stored under another ggml shape with the same contiguous rows (e.g.
  // the mmproj's patch_embd, a conv kernel ne [48, 48, 3, rows]).
  Status MatrixAs(const std::string& name, const std::vector<uint64_t>& ne, int64_t rows,
                  int64_t cols, kernels::Matrix* m) {
    const gguf::TensorInfo* t = file_.FindTensor(name);
    if (t != nullptr && t->n_dims != ne.size()) return Matrix(name, rows, cols, m);
    LOOM_RETURN_IF_ERROR(Find(name, ne, &t));
    return BindMatrix(name, *t, rows, cols, m);
  }

  // Every tensor of the file must have been bound or be one of `ignored`.
  Status CheckNoExtra(const std::set<std::string>& ignored) const {
    for (const gguf::TensorInfo& t : file_.tensors()) {
      const std::string name(t.name);
      if (bound_.count(name) != 0 || ignored.count(name) != 0) continue;
      return InvalidArgument(what_, ": unexpected tensor ", QuoteForMessage(name), " ", NeString(t),
                             ": not part of a ", config_.architecture, " model with this metadata");
    }
    return Status::Ok();
  }

  uint64_t bytes() const { return bytes_; }
  const std::map<std::string, uint64_t>& type_count() const { return type_count_; }

 private:
  Status BindMatrix(const std::string& name, const gguf::TensorInfo& t, int64_t rows, int64_t cols,
                    kernels::Matrix* m) {
    if (!tensor::IsWeightType(t.type)) {
      return Unimplemented(what_, ": tensor ", QuoteForMessage(name), " has type ",
                           gguf::GetGgmlTypeInfo(t.type).name,
                           ", which loom's matrix kernels do not read");
    }
    LOOM_RETURN_IF_ERROR(tensor::CheckRow(t.type, cols, name.c_str()));
    *m = kernels::MakeMatrix(t.type, file_.TensorData(t).data(), rows, cols);
    return Status::Ok();
  }

  static std::string NeString(const gguf::TensorInfo& t) {
    std::string s = "ne [";
    for (uint32_t i = 0; i < t.n_dims; ++i) s += StrCat(i ? ", " : "", t.ne[i]);
    return s + "]";
  }

  Status Find(const std::string& name, const std::vector<uint64_t>& ne,
              const gguf::TensorInfo** out) {
    const gguf::TensorInfo* t = file_.FindTensor(name);
    std::string want = "ne [";
    for (size_t i = 0; i < ne.size(); ++i) want += StrCat(i ? ", " : "", ne[i]);
    want += "]";
    if (t == nullptr) {
      return NotFound(what_, ": tensor ", QuoteForMessage(name), " ", want, " is missing (",
                      config_.architecture, ", ", config_.num_layers, " layers)");
    }
    bool same = t->n_dims == ne.size();
    for (size_t i = 0; same && i < ne.size(); ++i) same = t->ne[i] == ne[i];
    if (!same) {
      return InvalidArgument(what_, ": tensor ", QuoteForMessage(name), " has ", NeString(*t),
                             " but the metadata implies ", want);
    }
    bound_.insert(name);
    bytes_ += t->n_bytes;
    ++type_count_[gguf::GetGgmlTypeInfo(t->type).name];
    *out = t;
    return Status::Ok();
  }

  const ModelConfig& config_;
  const gguf::File& file_;
  std::string what_;
  std::set<std::string> bound_;
  uint64_t bytes_ = 0;
  std::map<std::string, uint64_t> type_count_;
};

Status BindGguf(const ModelConfig& c, GgufBinder* b, DecoderWeights* w) {
  const int64_t h = c.hidden_size;
  const int64_t ffn = c.intermediate_size;
  LOOM_RETURN_IF_ERROR(b->Matrix("token_embd.weight", c.vocab_size, h, &w->embedding));
  // llama.cpp scales by sqrtf(n_embd) in f32 whatever the table's type.
  w->embed_scale = static_cast<float>(std::sqrt(static_cast<double>(h)));
  if (c.tie_word_embeddings) {
    w->output = w->embedding;
  } else {
    LOOM_RETURN_IF_ERROR(b->Matrix("output.weight", c.vocab_size, h, &w->output));
  }
  LOOM_RETURN_IF_ERROR(b->Vector("output_norm.weight", h, true, &w->final_norm));
  w->layers.resize(static_cast<size_t>(c.num_layers));
  for (int64_t l = 0; l < c.num_layers; ++l) {
    const size_t li = static_cast<size_t>(l);
    LayerWeights& lw = w->layers[li];
    const std::string p = StrCat("blk.", l, ".");
    const int64_t hd = c.head_dim[li];
    const int64_t qw = c.num_heads * hd;
    const int64_t kvw = c.num_kv_heads[li] * hd;
    LOOM_RETURN_IF_ERROR(b->Vector(p + "attn_norm.weight", h, true, &lw.attn_norm));
    LOOM_RETURN_IF_ERROR(b->Matrix(p + "attn_q.weight", qw, h, &lw.q));
    LOOM_RETURN_IF_ERROR(b->Matrix(p + "attn_k.weight", kvw, h, &lw.k));
    if (!c.k_eq_v[li]) LOOM_RETURN_IF_ERROR(b->Matrix(p + "attn_v.weight", kvw, h, &lw.v));
    LOOM_RETURN_IF_ERROR(b->Matrix(p + "attn_output.weight", h, qw, &lw.o));
    if (c.qk_norm) {
      LOOM_RETURN_IF_ERROR(b->Vector(p + "attn_q_norm.weight", hd, true, &lw.q_norm));
      LOOM_RETURN_IF_ERROR(b->Vector(p + "attn_k_norm.weight", hd, true, &lw.k_norm));
    }
    LOOM_RETURN_IF_ERROR(b->Vector(p + "post_attention_norm.weight", h, true, &lw.post_attn_norm));
    LOOM_RETURN_IF_ERROR(b->Vector(p + "ffn_norm.weight", h, true, &lw.pre_ffn_norm));
    LOOM_RETURN_IF_ERROR(b->Matrix(p + "ffn_gate.weight", ffn, h, &lw.gate));
    LOOM_RETURN_IF_ERROR(b->Matrix(p + "ffn_up.weight", ffn, h, &lw.up));
    LOOM_RETURN_IF_ERROR(b->Matrix(p + "ffn_down.weight", h, ffn, &lw.down));
    LOOM_RETURN_IF_ERROR(b->Vector(p + "post_ffw_norm.weight", h, true, &lw.post_ffn_norm));
    // llama.cpp loads layer_output_scale as optional (1 when absent); so does loom.
    const std::string scale = p + "layer_output_scale.weight";
    if (c.layer_scalar && b->Has(scale)) {
      std::vector<float> s;
      LOOM_RETURN_IF_ERROR(b->Vector(scale, 1, false, &s));
      lw.layer_scalar = s[0];
    }
  }
  // rope_freqs carries proportional RoPE as llama.cpp's frequency factors; the config already
  // has it (ConfigFromGguf reads the factor), so the tensor is not needed here.
  return b->CheckNoExtra({"rope_freqs.weight"});
}

// llama.cpp's mmproj layout (clip.cpp, models/gemma4uv.cpp): patch inputs in CHW order, the
// position tables as [2][posemb][width] (all x rows, then all y rows).
Status BindMmproj(const ModelConfig& c, GgufBinder* b, std::unique_ptr<VisionEmbedderWeights>* vo,
                  std::unique_ptr<AudioEmbedderWeights>* ao) {
  const int64_t h = c.hidden_size;
  if (c.vision.present) {
    auto v = std::make_unique<VisionEmbedderWeights>();
    const int64_t pd = c.vision.patch_dim;
    const int64_t e = c.vision.mm_embed_dim;
    const int64_t ps = c.vision.posemb_size;
    const uint64_t m = static_cast<uint64_t>(c.vision.model_patch_size);
    v->chw = true;
    LOOM_RETURN_IF_ERROR(b->Vector("v.patch_norm.1.weight", pd, false, &v->ln1_w));
    LOOM_RETURN_IF_ERROR(b->Vector("v.patch_norm.1.bias", pd, false, &v->ln1_b));
    LOOM_RETURN_IF_ERROR(b->MatrixAs("v.patch_embd.weight", {m, m, 3, static_cast<uint64_t>(e)}, e,
                                     pd, &v->patch_dense));
    LOOM_RETURN_IF_ERROR(b->Vector("v.patch_embd.bias", e, false, &v->patch_bias));
    LOOM_RETURN_IF_ERROR(b->Vector("v.patch_norm.2.weight", e, false, &v->ln2_w));
    LOOM_RETURN_IF_ERROR(b->Vector("v.patch_norm.2.bias", e, false, &v->ln2_b));
    LOOM_RETURN_IF_ERROR(b->MatrixAs("v.position_embd.weight",
                                     {static_cast<uint64_t>(e), static_cast<uint64_t>(ps), 2},
                                     2 * ps, e, &v->pos_table));
    v->pos_stride = 1;
    v->pos_x_offset = 0;
    v->pos_y_offset = ps;
    LOOM_RETURN_IF_ERROR(b->Vector("v.patch_norm.3.weight", e, false, &v->pos_norm_w));
    LOOM_RETURN_IF_ERROR(b->Vector("v.patch_norm.3.bias", e, false, &v->pos_norm_b));
    LOOM_RETURN_IF_ERROR(b->Matrix("mm.input_projection.weight", h, e, &v->projection));
    *vo = std::move(v);
  }
  if (c.audio.present) {
    auto a = std::make_unique<AudioEmbedderWeights>();
    LOOM_RETURN_IF_ERROR(
        b->Matrix("mm.a.input_projection.weight", h, c.audio.samples_per_token, &a->projection));
    *ao = std::move(a);
  }
  return b->CheckNoExtra({});
}

}  // namespace

Result<LoadedWeights> LoadGgufWeights(const std::string& path) {
  LOOM_ASSIGN_OR_RETURN(gguf::File file, gguf::Open(path));
  auto owned = std::make_shared<gguf::File>(std::move(file));
  LoadedWeights out;
  {
    Result<ModelConfig> config = ConfigFromGguf(*owned);
    if (!config.ok()) return config.status().WithContext(path);
    out.config = std::move(config).value();
  }
  LOOM_RETURN_IF_ERROR(out.config.Validate().WithContext(path));
  LOOM_RETURN_IF_ERROR(internal::CheckSupported(out.config).WithContext(path));
  GgufBinder binder(out.config, *owned, path);
  LOOM_RETURN_IF_ERROR(BindGguf(out.config, &binder, &out.weights));
  out.owner = owned;
  out.format = "gguf";
  out.text_bytes = binder.bytes();
  out.type_count = binder.type_count();
  return out;
}

Result<std::unique_ptr<MediaEmbedder>> LoadMmproj(const std::string& path,
                                                  const ModelConfig& text) {
  LOOM_ASSIGN_OR_RETURN(gguf::File file, gguf::Open(path));
  auto owned = std::make_shared<gguf::File>(std::move(file));
  ModelConfig c;
  {
    Result<ModelConfig> config = ConfigFromGguf(*owned);
    if (!config.ok()) return config.status().WithContext(path);
    c = std::move(config).value();
  }
  if (c.num_layers != 0 || (!c.vision.present && !c.audio.present)) {
    return InvalidArgument(path, ": not a multimodal projector (general.architecture ",
                           QuoteForMessage(c.architecture), "; expected \"clip\" with a gemma4uv",
                           " or gemma4ua projector)");
  }
  LOOM_RETURN_IF_ERROR(c.Validate().WithContext(path));
  if (c.hidden_size != text.hidden_size) {
    return InvalidArgument(path, ": the projector maps into width ", c.hidden_size,
                           " (clip.vision.projection_dim) but the model's hidden size is ",
                           text.hidden_size);
  }
  GgufBinder binder(c, *owned, path);
  std::unique_ptr<VisionEmbedderWeights> v;
  std::unique_ptr<AudioEmbedderWeights> a;
  LOOM_RETURN_IF_ERROR(BindMmproj(c, &binder, &v, &a));
  return std::make_unique<MediaEmbedder>(c, owned, std::move(v), std::move(a), path);
}

}  // namespace loom::model
