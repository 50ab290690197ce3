#include "kernels/ref/matmul_ref.h"

#include <vector>

#include "base/status.h"
#include "tensor/quant.h"

namespace loom::kernels {

void MatMulRef(const Matrix& w, const float* x, int64_t ldx, int64_t batch, float* y, int64_t ldy) {
  LOOM_CHECK(w.rows >= 0 && w.cols > 0 && batch >= 0);
  LOOM_CHECK(batch <= 1 || (ldx >= w.cols && ldy >= w.rows));
  std::vector<float> row(static_cast<size_t>(w.cols));
  for (int64_t r = 0; r < w.rows; ++r) {
    tensor::DequantizeRow(w.type, static_cast<const uint8_t*>(w.data) + r * w.row_bytes, row.data(),
                          w.cols);
    for (int64_t b = 0; b < batch; ++b) {
      const float* xb = x + b * ldx;
      double sum = 0;
      for (int64_t c = 0; c < w.cols; ++c) sum += static_cast<double>(row[c]) * xb[c];
      y[b * ldy + r] = static_cast<float>(sum);
    }
  }
}

}  // namespace loom::kernels
