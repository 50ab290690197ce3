// The model's view of a KV cache. The decoder computes K and V for new tokens and hands them to
// the cache, then attends over what the cache exposes; how positions are kept (a ring for
// sliding layers, a growing array for full layers), in which element type, and how positions
// are rolled back is the cache's business (runtime::KvCache implements this).
#ifndef LOOM_MODEL_KV_H_
#define LOOM_MODEL_KV_H_

#include <cstdint>

#include "base/status.h"
#include "kernels/attention.h"

namespace loom::model {

class KvStore {
 public:
  virtual ~KvStore() = default;

  // Stores the K and V of `n` new tokens of `layer`: k and v are f32, token i at
  // k + i * kv_width (kv_width = num_kv_heads(layer) * head_dim(layer)), K after norm and RoPE,
  // V after its norm. pos[i] are the tokens' positions (increasing); block[i] their vision
  // block ids (-1: none) or block == nullptr. Fails (without storing anything) when the cache
  // is full or `n` exceeds what one call may store.
  virtual Status Store(int layer, int64_t n, const int32_t* pos, const int32_t* block,
                       const float* k, const float* v) = 0;

  // What Attention reads for `layer`, including everything stored so far.
  virtual kernels::KvView View(int layer) const = 0;
};

}  // namespace loom::model

#endif  // LOOM_MODEL_KV_H_
