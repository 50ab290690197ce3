// Scalar references of the small kernels (kernels/ops.h): the same contracts, computed in
// double where it matters and written for clarity, not speed. For tests and benchmarks' checks.
#ifndef LOOM_KERNELS_REF_OPS_REF_H_
#define LOOM_KERNELS_REF_OPS_REF_H_

#include <cstdint>

#include "kernels/matmul.h"
#include "kernels/ops.h"

namespace loom::kernels {

void RmsNormRef(const float* x, const float* w, NormWeight mode, float eps, int64_t rows, int64_t n,
                float* out);
void LayerNormRef(const float* x, const float* gamma, const float* beta, float eps, int64_t rows,
                  int64_t n, float* out);
void RopeRef(float* x, int num_heads, int head_dim, int32_t pos, const float* inv_freq);
void GeluTanhGluRef(const float* gate, const float* up, int64_t n, float* out);
void SoftCapRef(float* x, int64_t n, float cap);
void EmbeddingRowRef(const Matrix& table, int64_t row, float scale, float* out);
int64_t ArgMaxRef(const float* x, int64_t n);
int64_t TopKRef(const float* x, int64_t n, int64_t k, int32_t* indices, float* values);

}  // namespace loom::kernels

#endif  // LOOM_KERNELS_REF_OPS_REF_H_
