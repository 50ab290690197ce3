#include "kernels/ref/ops_ref.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "base/status.h"
#include "tensor/quant.h"

namespace loom::kernels {

void RmsNormRef(const float* x, const float* w, NormWeight mode, float eps, int64_t rows, int64_t n,
                float* out) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * n;
    float* outr = out + r * n;
    double ss = 0;
    for (int64_t i = 0; i < n; ++i) ss += static_cast<double>(xr[i]) * xr[i];
    const double inv = 1.0 / std::sqrt(ss / static_cast<double>(n) + eps);
    for (int64_t i = 0; i < n; ++i) {
      double scale = 1.0;
      if (mode == NormWeight::kW) scale = w[i];
      if (mode == NormWeight::kOnePlusW) scale = 1.0 + w[i];
      outr[i] = static_cast<float>(xr[i] * inv * scale);
    }
  }
}

void LayerNormRef(const float* x, const float* gamma, const float* beta, float eps, int64_t rows,
                  int64_t n, float* out) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * n;
    float* outr = out + r * n;
    double sum = 0;
    for (int64_t i = 0; i < n; ++i) sum += xr[i];
    const double mean = sum / static_cast<double>(n);
    double var = 0;
    for (int64_t i = 0; i < n; ++i) var += (xr[i] - mean) * (xr[i] - mean);
    const double inv = 1.0 / std::sqrt(var / static_cast<double>(n) + eps);
    for (int64_t i = 0; i < n; ++i) {
      double y = (xr[i] - mean) * inv;
      if (gamma != nullptr) y *= gamma[i];
      if (beta != nullptr) y += beta[i];
      outr[i] = static_cast<float>(y);
    }
  }
}

void RopeRef(float* x, int num_heads, int head_dim, int32_t pos, const float* inv_freq) {
  const int half = head_dim / 2;
  for (int h = 0; h < num_heads; ++h) {
    float* xh = x + static_cast<int64_t>(h) * head_dim;
    for (int i = 0; i < half; ++i) {
      // The angle is rounded to f32 like HF's `inv_freq @ position_ids` in float32.
      const float angle = static_cast<float>(pos) * inv_freq[i];
      if (angle == 0.0f) continue;  // cos 1, sin 0: the pair passes through unchanged
      const double c = std::cos(static_cast<double>(angle));
      const double s = std::sin(static_cast<double>(angle));
      const double x0 = xh[i], x1 = xh[i + half];
      xh[i] = static_cast<float>(x0 * c - x1 * s);
      xh[i + half] = static_cast<float>(x1 * c + x0 * s);
    }
  }
}

void GeluTanhGluRef(const float* gate, const float* up, int64_t n, float* out) {
  const double k = std::sqrt(2.0 / M_PI);
  for (int64_t i = 0; i < n; ++i) {
    const double g = gate[i];
    const double gelu = 0.5 * g * (1.0 + std::tanh(k * (g + 0.044715 * g * g * g)));
    out[i] = static_cast<float>(gelu * up[i]);
  }
}

void SoftCapRef(float* x, int64_t n, float cap) {
  for (int64_t i = 0; i < n; ++i) {
    x[i] = static_cast<float>(cap * std::tanh(static_cast<double>(x[i]) / cap));
  }
}

void EmbeddingRowRef(const Matrix& table, int64_t row, float scale, float* out) {
  LOOM_CHECK(row >= 0 && row < table.rows);
  tensor::DequantizeRow(table.type, static_cast<const uint8_t*>(table.data) + row * table.row_bytes,
                        out, table.cols);
  for (int64_t i = 0; i < table.cols; ++i) out[i] *= scale;
}

int64_t ArgMaxRef(const float* x, int64_t n) {
  int64_t best = -1;
  for (int64_t i = 0; i < n; ++i) {
    if (std::isnan(x[i])) continue;
    if (best < 0 || x[i] > x[best]) best = i;
  }
  return best < 0 ? 0 : best;
}

int64_t TopKRef(const float* x, int64_t n, int64_t k, int32_t* indices, float* values) {
  LOOM_CHECK(k >= 0 && k <= n);
  std::vector<int32_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  // NaNs rank below every number; equal values rank by index.
  std::partial_sort(order.begin(), order.begin() + k, order.end(), [x](int32_t a, int32_t b) {
    const bool na = std::isnan(x[a]), nb = std::isnan(x[b]);
    if (na != nb) return nb;
    if (!na && x[a] != x[b]) return x[a] > x[b];
    return a < b;
  });
  for (int64_t j = 0; j < k; ++j) {
    indices[j] = order[static_cast<size_t>(j)];
    values[j] = x[order[static_cast<size_t>(j)]];
  }
  return k;
}

}  // namespace loom::kernels
