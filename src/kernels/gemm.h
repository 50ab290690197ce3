// Prefill matrix products (internal to kernels; callers use MatMul in matmul.h): weights are
// unpacked a panel at a time to f32 and multiplied with a register-blocked f32 micro-kernel,
// so every weight format runs at the f32 FMA rate and the unpacking is paid once per panel,
// not once per column.
#ifndef LOOM_KERNELS_GEMM_H_
#define LOOM_KERNELS_GEMM_H_

#include <cstdint>

#include "kernels/matmul.h"

namespace loom::kernels {

// From this batch size on MatMul uses GemmRows; below it the matrix-vector path.
constexpr int64_t kGemmMinBatch = 8;

// Rows [row_begin, row_end) of MatMul(w, x, ldx, batch, y, ldy): for b < batch and
// row_begin <= r < row_end, y[b * ldy + r] = sum_c W[r][c] * x[b * ldx + c]. Single-threaded
// (MatMul splits rows over the pool); uses a per-thread scratch buffer.
void GemmRows(const Matrix& w, const float* x, int64_t ldx, int64_t batch, float* y, int64_t ldy,
              int64_t row_begin, int64_t row_end);

}  // namespace loom::kernels

#endif  // LOOM_KERNELS_GEMM_H_
