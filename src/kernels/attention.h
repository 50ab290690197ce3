// Attention over a KV cache: tiled online-softmax ("flash") for one query (decode) or many
// (prefill), grouped/multi-query KV heads, causal + sliding-window masks and Gemma 4's
// bidirectional vision blocks (../shared/SPEC.md §2.6). Softmax in f32; no score softcap.
#ifndef LOOM_KERNELS_ATTENTION_H_
#define LOOM_KERNELS_ATTENTION_H_

#include <cstddef>
#include <cstdint>

#include "base/thread_pool.h"
#include "tensor/quant.h"

namespace loom::kernels {

// The cache of one layer: `num_slots` slots, each holding K (and V) for every KV head of one
// position. Slots need not be in position order (sliding layers use a ring): `pos[s]` is the
// position held by slot s, or -1 for an empty slot (never attended).
struct KvView {
  tensor::GgmlType type = tensor::GgmlType::kF16;  // F32, F16, BF16 or Q8_0
  const void* k = nullptr;
  const void* v = nullptr;
  int64_t num_slots = 0;
  size_t slot_stride = 0;  // bytes from slot s to s+1 (same for K and V)
  size_t head_stride = 0;  // bytes from KV head h to h+1 within a slot
  const int32_t* pos = nullptr;
  // Vision block id of each slot's token (-1: not in a block); null when there are none.
  const int32_t* block = nullptr;
};

struct AttentionParams {
  int num_q_heads = 0;
  int num_kv_heads = 0;  // divides num_q_heads; query head h reads KV head h / (q/kv)
  int head_dim = 0;      // a multiple of 32 when the cache is Q8_0
  float scale = 1.0f;    // multiplies q·k (Gemma 4: 1.0; Gemma 3: query_pre_attn_scalar^-0.5)
  int window = 0;        // > 0: sliding window, key allowed when pos_k > pos_q - window
  // Queries and keys in the same vision block (block id >= 0) see each other both ways
  // (sliding layers of Gemma 4); otherwise strictly causal.
  bool bidirectional_blocks = false;
};

// Key k is visible to query q when
//   pos[k] >= 0 AND (pos[k] <= q_pos OR (bidirectional_blocks AND q_block >= 0 AND
//   q_block == block[k])) AND (window == 0 OR pos[k] > q_pos - window).
// q:   [num_queries][num_q_heads][head_dim] f32, query i at position q_pos[i] with vision block
//      q_block[i] (q_block may be null: no blocks).
// out: same layout as q; a query that sees no key gets zeros.
void Attention(const AttentionParams& p, const float* q, int64_t num_queries, const int32_t* q_pos,
               const int32_t* q_block, const KvView& kv, float* out, ThreadPool* pool);

}  // namespace loom::kernels

#endif  // LOOM_KERNELS_ATTENTION_H_
