// Matrix products with a weight matrix in any GGUF weight format (tensor/quant.h):
//   decode   y = W·x          (batch 1: matrix-vector, memory bound)
//   prefill  Y = W·X          (batch 2..512: matrix-matrix, compute bound)
// with f32 activations and outputs. Weights are used in place (e.g. from the file mapping).
#ifndef LOOM_KERNELS_MATMUL_H_
#define LOOM_KERNELS_MATMUL_H_

#include <cstddef>
#include <cstdint>

#include "base/thread_pool.h"
#include "tensor/quant.h"

namespace loom::kernels {

// A row-major weight matrix: `rows` rows of `cols` elements, each row `row_bytes` apart and
// encoded in `type` (cols a multiple of the type's block size).
struct Matrix {
  tensor::GgmlType type = tensor::GgmlType::kF32;
  const void* data = nullptr;
  int64_t rows = 0;
  int64_t cols = 0;
  size_t row_bytes = 0;
};

// A Matrix over contiguous rows, row_bytes = RowBytes(type, cols).
Matrix MakeMatrix(tensor::GgmlType type, const void* data, int64_t rows, int64_t cols);

// For b < batch, r < w.rows:  y[b * ldy + r] = sum_c W[r][c] * x[b * ldx + c].
// x and y must not overlap. `pool` may be null (single thread). The work is split over rows;
// allocation happens only when a per-thread scratch buffer must grow, never per row.
void MatMul(const Matrix& w, const float* x, int64_t ldx, int64_t batch, float* y, int64_t ldy,
            ThreadPool* pool);

}  // namespace loom::kernels

#endif  // LOOM_KERNELS_MATMUL_H_
