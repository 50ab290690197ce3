#include "kernels/ref/attention_ref.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "base/status.h"
#include "tensor/fp16.h"
#include "tensor/quant.h"

namespace loom::kernels {
namespace {

// One KV head row of `n` elements as f32, exactly as stored (Q8_0: d * q in float, as ggml).
void ReadRow(tensor::GgmlType type, const uint8_t* src, float* dst, int n) {
  switch (type) {
    case tensor::GgmlType::kF32:
      std::memcpy(dst, src, sizeof(float) * static_cast<size_t>(n));
      return;
    case tensor::GgmlType::kF16:
    case tensor::GgmlType::kBF16:
      for (int i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, src + 2 * i, 2);
        dst[i] = type == tensor::GgmlType::kF16 ? tensor::F16ToF32(h) : tensor::BF16ToF32(h);
      }
      return;
    case tensor::GgmlType::kQ8_0:
      for (int b = 0; b < n / tensor::kQK; ++b) {
        tensor::BlockQ8_0 blk;
        std::memcpy(&blk, src + b * sizeof(blk), sizeof(blk));
        const float d = tensor::F16ToF32(blk.d);
        for (int j = 0; j < tensor::kQK; ++j) dst[b * tensor::kQK + j] = blk.qs[j] * d;
      }
      return;
    default:
      LOOM_CHECK(false);
  }
}

}  // namespace

bool AttentionVisible(const AttentionParams& p, int32_t q_pos, int32_t q_block, int32_t k_pos,
                      int32_t k_block) {
  if (k_pos < 0) return false;
  const bool same_block = p.bidirectional_blocks && q_block >= 0 && q_block == k_block;
  if (!(k_pos <= q_pos || same_block)) return false;
  return p.window == 0 || int64_t{k_pos} > int64_t{q_pos} - p.window;
}

void AttentionRef(const AttentionParams& p, const float* q, int64_t num_queries,
                  const int32_t* q_pos, const int32_t* q_block, const KvView& kv, float* out) {
  LOOM_CHECK(p.num_kv_heads > 0 && p.num_q_heads % p.num_kv_heads == 0);
  const int d = p.head_dim;
  const int group = p.num_q_heads / p.num_kv_heads;
  const auto* kbase = static_cast<const uint8_t*>(kv.k);
  const auto* vbase = static_cast<const uint8_t*>(kv.v);
  std::vector<float> krow(d), vrow(d);
  std::vector<double> scores(kv.num_slots), acc(d);
  for (int64_t i = 0; i < num_queries; ++i) {
    const int32_t qb = q_block ? q_block[i] : -1;
    for (int h = 0; h < p.num_q_heads; ++h) {
      const float* qr = q + (i * p.num_q_heads + h) * d;
      float* o = out + (i * p.num_q_heads + h) * d;
      const size_t head_off = static_cast<size_t>(h / group) * kv.head_stride;
      double max_score = -std::numeric_limits<double>::infinity();
      for (int64_t s = 0; s < kv.num_slots; ++s) {
        const int32_t kb = kv.block ? kv.block[s] : -1;
        if (!AttentionVisible(p, q_pos[i], qb, kv.pos[s], kb)) {
          scores[s] = -std::numeric_limits<double>::infinity();
          continue;
        }
        ReadRow(kv.type, kbase + s * kv.slot_stride + head_off, krow.data(), d);
        double dot = 0;
        for (int j = 0; j < d; ++j) dot += static_cast<double>(qr[j]) * krow[j];
        scores[s] = dot * p.scale;
        max_score = std::max(max_score, scores[s]);
      }
      std::fill(acc.begin(), acc.end(), 0.0);
      double sum = 0;
      if (max_score > -std::numeric_limits<double>::infinity()) {
        for (int64_t s = 0; s < kv.num_slots; ++s) {
          if (scores[s] == -std::numeric_limits<double>::infinity()) continue;
          const double w = std::exp(scores[s] - max_score);
          sum += w;
          ReadRow(kv.type, vbase + s * kv.slot_stride + head_off, vrow.data(), d);
          for (int j = 0; j < d; ++j) acc[j] += w * vrow[j];
        }
      }
      for (int j = 0; j < d; ++j) o[j] = sum > 0 ? static_cast<float>(acc[j] / sum) : 0.0f;
    }
  }
}

}  // namespace loom::kernels
