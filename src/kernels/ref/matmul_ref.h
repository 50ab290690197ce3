// Scalar reference of MatMul (kernels/matmul.h): each weight row dequantized with the tensor
// reference conversion, products accumulated in double. Slow; for tests and benchmarks' checks.
#ifndef LOOM_KERNELS_REF_MATMUL_REF_H_
#define LOOM_KERNELS_REF_MATMUL_REF_H_

#include <cstdint>

#include "kernels/matmul.h"

namespace loom::kernels {

// Same contract as MatMul, single-threaded.
void MatMulRef(const Matrix& w, const float* x, int64_t ldx, int64_t batch, float* y, int64_t ldy);

}  // namespace loom::kernels

#endif  // LOOM_KERNELS_REF_MATMUL_REF_H_
