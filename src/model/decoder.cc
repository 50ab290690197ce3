#include "model/decoder.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>

#include "base/strings.h"
#include "kernels/attention.h"
#include "kernels/ops.h"

namespace loom::model {

namespace {

// Row loops of the cheap per-token ops go to the pool only when there are enough rows to pay for
// waking it (a decode step has one row).
constexpr int64_t kMinParallelRows = 8;

template <typename Fn>
void ForRows(ThreadPool* pool, int64_t n, const Fn& fn) {
  if (pool == nullptr || n < kMinParallelRows || pool->num_threads() == 1) {
    fn(int64_t{0}, n);
    return;
  }
  pool->ParallelFor(static_cast<size_t>(n), [&](size_t begin, size_t end, int /*thread*/) {
    fn(static_cast<int64_t>(begin), static_cast<int64_t>(end));
  });
}

// HF's rope inverse frequencies, computed as torch does in f32:
// 1 / base^(float(2i) / dim). Proportional RoPE (Gemma 4 full layers) rotates only the first
// int(partial * dim / 2) pairs with the exponent still over the whole head dim and leaves the
// rest at 0 (pass-through); linear scaling divides every frequency by the factor
// (_compute_proportional_rope_parameters / _compute_linear_scaling_rope_parameters).
std::vector<float> InvFreq(const RopeConfig& rope, int64_t head_dim) {
  const int64_t pairs = head_dim / 2;
  int64_t rotated = pairs;
  if (rope.type == RopeType::kProportional) {
    rotated = std::min(pairs, static_cast<int64_t>(rope.partial_rotary_factor *
                                                   static_cast<double>(head_dim) / 2.0));
  }
  std::vector<float> inv(static_cast<size_t>(pairs), 0.0f);
  const float base = static_cast<float>(rope.theta);
  for (int64_t i = 0; i < rotated; ++i) {
    const float e = static_cast<float>(2 * i) / static_cast<float>(head_dim);
    inv[static_cast<size_t>(i)] = 1.0f / std::pow(base, e);
  }
  if (rope.type == RopeType::kLinear || rope.type == RopeType::kProportional) {
    const float factor = static_cast<float>(rope.scaling_factor);
    if (factor != 1.0f) {
      for (float& f : inv) f /= factor;
    }
  }
  return inv;
}

Status CheckMatrix(const kernels::Matrix& m, int64_t rows, int64_t cols, const std::string& what) {
  if (m.data == nullptr) return Internal(what, ": matrix not bound");
  if (m.rows != rows || m.cols != cols) {
    return Internal(what, ": bound as [", m.rows, ", ", m.cols, "], expected [", rows, ", ", cols,
                    "]");
  }
  return Status::Ok();
}

Status CheckVector(const std::vector<float>& v, int64_t n, const std::string& what) {
  if (static_cast<int64_t>(v.size()) != n) {
    return Internal(what, ": ", v.size(), " values bound, expected ", n);
  }
  return Status::Ok();
}

}  // namespace

Status CheckDecoderWeights(const ModelConfig& c, const DecoderWeights& w) {
  const int64_t h = c.hidden_size;
  LOOM_RETURN_IF_ERROR(CheckMatrix(w.embedding, c.vocab_size, h, "embedding"));
  LOOM_RETURN_IF_ERROR(CheckMatrix(w.output, c.vocab_size, h, "output"));
  LOOM_RETURN_IF_ERROR(CheckVector(w.final_norm, h, "final norm"));
  if (static_cast<int64_t>(w.layers.size()) != c.num_layers) {
    return Internal(w.layers.size(), " layers bound, config has ", c.num_layers);
  }
  for (int64_t l = 0; l < c.num_layers; ++l) {
    const LayerWeights& lw = w.layers[static_cast<size_t>(l)];
    const size_t li = static_cast<size_t>(l);
    const std::string p = StrCat("layer ", l, " ");
    const int64_t hd = c.head_dim[li];
    const int64_t qw = c.num_heads * hd;
    const int64_t kvw = c.num_kv_heads[li] * hd;
    LOOM_RETURN_IF_ERROR(CheckMatrix(lw.q, qw, h, p + "q"));
    LOOM_RETURN_IF_ERROR(CheckMatrix(lw.k, kvw, h, p + "k"));
    if (c.k_eq_v[li]) {
      if (lw.v.data != nullptr) return Internal(p, "v bound on a k_eq_v layer");
    } else {
      LOOM_RETURN_IF_ERROR(CheckMatrix(lw.v, kvw, h, p + "v"));
    }
    LOOM_RETURN_IF_ERROR(CheckMatrix(lw.o, h, qw, p + "o"));
    LOOM_RETURN_IF_ERROR(CheckMatrix(lw.gate, c.intermediate_size, h, p + "gate"));
    LOOM_RETURN_IF_ERROR(CheckMatrix(lw.up, c.intermediate_size, h, p + "up"));
    LOOM_RETURN_IF_ERROR(CheckMatrix(lw.down, h, c.intermediate_size, p + "down"));
    LOOM_RETURN_IF_ERROR(CheckVector(lw.attn_norm, h, p + "attn_norm"));
    LOOM_RETURN_IF_ERROR(CheckVector(lw.q_norm, c.qk_norm ? hd : 0, p + "q_norm"));
    LOOM_RETURN_IF_ERROR(CheckVector(lw.k_norm, c.qk_norm ? hd : 0, p + "k_norm"));
    LOOM_RETURN_IF_ERROR(CheckVector(lw.post_attn_norm, h, p + "post_attn_norm"));
    LOOM_RETURN_IF_ERROR(CheckVector(lw.pre_ffn_norm, h, p + "pre_ffn_norm"));
    LOOM_RETURN_IF_ERROR(CheckVector(lw.post_ffn_norm, h, p + "post_ffn_norm"));
  }
  return Status::Ok();
}

Decoder::Decoder(const ModelConfig& config, DecoderWeights weights)
    : config_(config), w_(std::move(weights)) {
  inv_freq_.resize(static_cast<size_t>(config_.num_layers));
  for (int64_t l = 0; l < config_.num_layers; ++l) {
    const size_t li = static_cast<size_t>(l);
    const bool sliding = config_.layer_types[li] == AttentionType::kSliding;
    inv_freq_[li] =
        InvFreq(sliding ? config_.rope_sliding : config_.rope_full, config_.head_dim[li]);
    max_q_width_ = std::max(max_q_width_, config_.num_heads * config_.head_dim[li]);
    max_kv_width_ = std::max(max_kv_width_, config_.num_kv_heads[li] * config_.head_dim[li]);
  }
}

void Decoder::Reserve(int64_t n) {
  if (n <= capacity_) return;
  const size_t rows = static_cast<size_t>(n);
  const size_t h = static_cast<size_t>(config_.hidden_size);
  x_.resize(rows * h);
  a_.resize(rows * h);
  t_.resize(rows * h);
  q_.resize(rows * static_cast<size_t>(max_q_width_));
  attn_.resize(rows * static_cast<size_t>(max_q_width_));
  k_.resize(rows * static_cast<size_t>(max_kv_width_));
  v_.resize(rows * static_cast<size_t>(max_kv_width_));
  gate_.resize(rows * static_cast<size_t>(config_.intermediate_size));
  up_.resize(rows * static_cast<size_t>(config_.intermediate_size));
  capacity_ = n;
}

Status Decoder::CheckBatch(const Batch& b, const ForwardOutput& out) const {
  if (b.n <= 0) return InvalidArgument("batch.n: ", b.n, " must be > 0");
  if (b.tokens == nullptr) return InvalidArgument("batch.tokens is null");
  if (b.positions == nullptr) return InvalidArgument("batch.positions is null");
  if (b.replace != nullptr && b.embeddings == nullptr) {
    return InvalidArgument("batch.replace is set but batch.embeddings is null");
  }
  if (out.logits_rows < 0 || out.logits_rows > b.n) {
    return InvalidArgument("logits_rows: ", out.logits_rows, " must be in [0, ", b.n, "]");
  }
  for (int64_t i = 0; i < b.n; ++i) {
    const bool replaced = b.replace != nullptr && b.replace[i] != 0;
    const int32_t t = b.tokens[i];
    if (!replaced && (t < 0 || t >= config_.vocab_size)) {
      return InvalidArgument("token ", i, " of the batch: id ", t,
                             " is outside the vocabulary [0, ", config_.vocab_size, ")");
    }
    const int32_t p = b.positions[i];
    if (p < 0) return InvalidArgument("position ", i, " of the batch: ", p, " must be >= 0");
    if (i > 0 && p <= b.positions[i - 1]) {
      return InvalidArgument("position ", i, " of the batch: ", p,
                             " must be greater than the previous one (", b.positions[i - 1], ")");
    }
  }
  return Status::Ok();
}

Status Decoder::Forward(const Batch& b, KvStore* kv, ThreadPool* pool, ForwardOutput* out) {
  if (kv == nullptr) return InvalidArgument("Forward: kv is null");
  if (out == nullptr) return InvalidArgument("Forward: out is null");
  LOOM_RETURN_IF_ERROR(CheckBatch(b, *out));
  const size_t h = static_cast<size_t>(config_.hidden_size);
  const size_t n = static_cast<size_t>(b.n);
  out->logits.resize(static_cast<size_t>(out->logits_rows) *
                     static_cast<size_t>(config_.vocab_size));
  if (out->want_hidden_states) {
    out->hidden_states.resize(static_cast<size_t>(config_.num_layers) + 2);
    for (auto& hs : out->hidden_states) hs.resize(n * h);
    out->last_prenorm.resize(n * h);
  } else {
    out->hidden_states.clear();
    out->last_prenorm.clear();
  }
  for (int64_t begin = 0; begin < b.n;) {
    int64_t end = std::min(b.n, begin + kMaxChunk);
    // A vision block sees itself both ways: its tokens must be in one chunk.
    if (b.blocks != nullptr) {
      while (end < b.n && b.blocks[end] >= 0 && b.blocks[end] == b.blocks[end - 1]) ++end;
    }
    LOOM_RETURN_IF_ERROR(RunChunk(b, begin, end - begin, kv, pool, out));
    begin = end;
  }
  return Status::Ok();
}

Status Decoder::RunChunk(const Batch& b, int64_t begin, int64_t n, KvStore* kv, ThreadPool* pool,
                         ForwardOutput* out) {
  using kernels::NormWeight;
  Reserve(n);
  const ModelConfig& c = config_;
  const int64_t h = c.hidden_size;
  const int64_t inter = c.intermediate_size;
  const float eps = static_cast<float>(c.rms_norm_eps);
  const size_t hs = static_cast<size_t>(h);
  float* x = x_.data();
  float* a = a_.data();
  float* t = t_.data();
  const int32_t* pos = b.positions + begin;
  const int32_t* blocks = b.blocks != nullptr ? b.blocks + begin : nullptr;
  const bool hidden = out->want_hidden_states;
  auto save_hidden = [&](size_t entry, const float* src) {
    std::memcpy(out->hidden_states[entry].data() + static_cast<size_t>(begin) * hs, src,
                static_cast<size_t>(n) * hs * sizeof(float));
  };

  ForRows(pool, n, [&](int64_t r0, int64_t r1) {
    for (int64_t i = r0; i < r1; ++i) {
      const int64_t bi = begin + i;
      float* row = x + i * h;
      if (b.replace != nullptr && b.replace[bi] != 0) {
        std::memcpy(row, b.embeddings + bi * h, hs * sizeof(float));
      } else {
        kernels::EmbeddingRow(w_.embedding, b.tokens[bi], w_.embed_scale, row);
      }
    }
  });
  if (hidden) save_hidden(0, x);

  for (int64_t l = 0; l < c.num_layers; ++l) {
    const size_t li = static_cast<size_t>(l);
    const LayerWeights& lw = w_.layers[li];
    const int hd = static_cast<int>(c.head_dim[li]);
    const int nh = static_cast<int>(c.num_heads);
    const int nkv = static_cast<int>(c.num_kv_heads[li]);
    const int64_t qw = int64_t{nh} * hd;
    const int64_t kvw = int64_t{nkv} * hd;
    const bool sliding = c.layer_types[li] == AttentionType::kSliding;
    float* q = q_.data();
    float* k = k_.data();
    float* v = v_.data();

    // Attention block.
    ForRows(pool, n, [&](int64_t r0, int64_t r1) {
      kernels::RmsNorm(x + r0 * h, lw.attn_norm.data(), NormWeight::kW, eps, r1 - r0, h,
                       a + r0 * h);
    });
    kernels::MatMul(lw.q, a, h, n, q, qw, pool);
    kernels::MatMul(lw.k, a, h, n, k, kvw, pool);
    if (lw.v.data != nullptr) {
      kernels::MatMul(lw.v, a, h, n, v, kvw, pool);
    } else {
      // k_eq_v: V is the raw K projection, taken before k_norm and RoPE.
      std::memcpy(v, k, static_cast<size_t>(n * kvw) * sizeof(float));
    }
    const float* inv_freq = inv_freq_[li].data();
    ForRows(pool, n, [&](int64_t r0, int64_t r1) {
      for (int64_t i = r0; i < r1; ++i) {
        float* qi = q + i * qw;
        float* ki = k + i * kvw;
        float* vi = v + i * kvw;
        if (c.qk_norm) {
          kernels::RmsNorm(qi, lw.q_norm.data(), NormWeight::kW, eps, nh, hd, qi);
          kernels::RmsNorm(ki, lw.k_norm.data(), NormWeight::kW, eps, nkv, hd, ki);
        }
        if (c.v_norm) kernels::RmsNorm(vi, nullptr, NormWeight::kNone, eps, nkv, hd, vi);
        kernels::Rope(qi, nh, hd, pos[i], inv_freq);
        kernels::Rope(ki, nkv, hd, pos[i], inv_freq);
      }
    });
    Status st = kv->Store(static_cast<int>(l), n, pos, blocks, k, v);
    if (!st.ok()) return st.WithContext(StrCat("layer ", l));
    kernels::AttentionParams ap;
    ap.num_q_heads = nh;
    ap.num_kv_heads = nkv;
    ap.head_dim = hd;
    ap.scale = static_cast<float>(c.attention_scale);
    ap.window = sliding ? static_cast<int>(c.sliding_window) : 0;
    ap.bidirectional_blocks =
        sliding && c.bidirectional == Bidirectional::kVision && blocks != nullptr;
    float* attn = attn_.data();
    kernels::Attention(ap, q, n, pos, blocks, kv->View(static_cast<int>(l)), attn, pool);
    kernels::MatMul(lw.o, attn, qw, n, t, h, pool);
    ForRows(pool, n, [&](int64_t r0, int64_t r1) {
      kernels::RmsNorm(t + r0 * h, lw.post_attn_norm.data(), NormWeight::kW, eps, r1 - r0, h,
                       t + r0 * h);
      for (int64_t j = r0 * h; j < r1 * h; ++j) x[j] += t[j];
      kernels::RmsNorm(x + r0 * h, lw.pre_ffn_norm.data(), NormWeight::kW, eps, r1 - r0, h,
                       a + r0 * h);
    });

    // Feed-forward block.
    float* gate = gate_.data();
    float* up = up_.data();
    kernels::MatMul(lw.gate, a, h, n, gate, inter, pool);
    kernels::MatMul(lw.up, a, h, n, up, inter, pool);
    ForRows(pool, n, [&](int64_t r0, int64_t r1) {
      kernels::GeluTanhGlu(gate + r0 * inter, up + r0 * inter, (r1 - r0) * inter,
                           gate + r0 * inter);
    });
    kernels::MatMul(lw.down, gate, inter, n, t, h, pool);
    const bool scale = c.layer_scalar;
    const float s = lw.layer_scalar;
    ForRows(pool, n, [&](int64_t r0, int64_t r1) {
      kernels::RmsNorm(t + r0 * h, lw.post_ffn_norm.data(), NormWeight::kW, eps, r1 - r0, h,
                       t + r0 * h);
      for (int64_t j = r0 * h; j < r1 * h; ++j) x[j] += t[j];
      // layer_scalar multiplies the whole residual stream, not just the branch (SPEC §2.3).
      if (scale) {
        for (int64_t j = r0 * h; j < r1 * h; ++j) x[j] *= s;
      }
    });
    if (hidden) save_hidden(li + 1, x);
  }

  if (hidden) {
    std::memcpy(out->last_prenorm.data() + static_cast<size_t>(begin) * hs, x,
                static_cast<size_t>(n) * hs * sizeof(float));
    ForRows(pool, n, [&](int64_t r0, int64_t r1) {
      kernels::RmsNorm(x + r0 * h, w_.final_norm.data(), NormWeight::kW, eps, r1 - r0, h,
                       a + r0 * h);
    });
    save_hidden(static_cast<size_t>(c.num_layers) + 1, a);
  }

  // Logits for the rows of this chunk that fall in the batch's last logits_rows.
  const int64_t first_logit = b.n - out->logits_rows;
  const int64_t lo = std::max(begin, first_logit);
  const int64_t hi = begin + n;
  if (lo < hi) {
    const int64_t rows = hi - lo;
    const int64_t vocab = c.vocab_size;
    const float* xr = x + (lo - begin) * h;
    float* ar = a + (lo - begin) * h;
    kernels::RmsNorm(xr, w_.final_norm.data(), NormWeight::kW, eps, rows, h, ar);
    float* logits = out->logits.data() + (lo - first_logit) * vocab;
    kernels::MatMul(w_.output, ar, h, rows, logits, vocab, pool);
    if (c.final_logit_softcap > 0.0) {
      const float cap = static_cast<float>(c.final_logit_softcap);
      ForRows(pool, rows, [&](int64_t r0, int64_t r1) {
        kernels::SoftCap(logits + r0 * vocab, (r1 - r0) * vocab, cap);
      });
    }
  }
  return Status::Ok();
}

}  // namespace loom::model
