// Scalar reference for Attention (kernels/attention.h): per query and head, every slot's score
// under the mask, a softmax in double and the weighted sum of V. Slow and plain on purpose.
#ifndef LOOM_KERNELS_REF_ATTENTION_REF_H_
#define LOOM_KERNELS_REF_ATTENTION_REF_H_

#include <cstdint>

#include "kernels/attention.h"

namespace loom::kernels {

// Same contract as Attention (without the pool).
void AttentionRef(const AttentionParams& p, const float* q, int64_t num_queries,
                  const int32_t* q_pos, const int32_t* q_block, const KvView& kv, float* out);

// The mask of attention.h for one (query, key) pair; block ids are -1 when absent.
bool AttentionVisible(const AttentionParams& p, int32_t q_pos, int32_t q_block, int32_t k_pos,
                      int32_t k_block);

}  // namespace loom::kernels

#endif  // LOOM_KERNELS_REF_ATTENTION_REF_H_
