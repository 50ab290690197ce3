// The small kernels of a Gemma decoder layer: norms, RoPE, gated activation, soft-cap,
// embedding lookup and logit selection. Each has a scalar reference in ref/ops_ref.h. All are
// single-threaded (they are cheap next to the matrix products); callers parallelize over rows.
#ifndef LOOM_KERNELS_OPS_H_
#define LOOM_KERNELS_OPS_H_

#include <cstdint>

#include "kernels/matmul.h"

namespace loom::kernels {

enum class NormWeight { kW, kOnePlusW, kNone };  // Gemma 4: w; Gemma 1-3: 1 + w; V-norm: none

// out = x * rsqrt(mean(x^2) + eps) * weight, for `rows` rows of n (x and out may alias;
// row stride n). `w` has n entries (ignored for kNone). Accumulation in f32 like HF.
void RmsNorm(const float* x, const float* w, NormWeight mode, float eps, int64_t rows, int64_t n,
             float* out);
// out = (x - mean) * rsqrt(var + eps) * gamma + beta (biased variance), rows of n; a null
// gamma or beta means no scale or no bias.
void LayerNorm(const float* x, const float* gamma, const float* beta, float eps, int64_t rows,
               int64_t n, float* out);

// NeoX rotary embedding in place on `num_heads` heads of `head_dim` (x[h * head_dim + i]):
// dim i pairs with i + head_dim/2, angle = pos * inv_freq[i] computed in f32, for
// i < head_dim/2. inv_freq[i] == 0 passes the pair through unchanged (proportional RoPE).
void Rope(float* x, int num_heads, int head_dim, int32_t pos, const float* inv_freq);

// out[i] = gelu_tanh(gate[i]) * up[i] (out may alias gate or up).
void GeluTanhGlu(const float* gate, const float* up, int64_t n, float* out);
// x[i] = cap * tanh(x[i] / cap).
void SoftCap(float* x, int64_t n, float cap);

// out = row `row` of `table` (any weight format) times `scale`.
void EmbeddingRow(const Matrix& table, int64_t row, float scale, float* out);

// Index of the largest x (the lowest index among ties; NaNs are never chosen unless all are;
// 0 when n == 0).
int64_t ArgMax(const float* x, int64_t n);
// The k largest values, descending (ties: lower index first; NaN ranks below every number);
// k <= n. Returns k.
int64_t TopK(const float* x, int64_t n, int64_t k, int32_t* indices, float* values);

}  // namespace loom::kernels

#endif  // LOOM_KERNELS_OPS_H_
