#include "kernels/matmul.h"

#include <functional>
#include <vector>

#include "base/status.h"
#include "kernels/gemm.h"
#include "kernels/matvec.h"
#include "tensor/quant.h"

namespace loom::kernels {

Matrix MakeMatrix(tensor::GgmlType type, const void* data, int64_t rows, int64_t cols) {
  Matrix m;
  m.type = type;
  m.data = data;
  m.rows = rows;
  m.cols = cols;
  m.row_bytes = tensor::RowBytes(type, cols);
  return m;
}

void MatMul(const Matrix& w, const float* x, int64_t ldx, int64_t batch, float* y, int64_t ldy,
            ThreadPool* pool) {
  LOOM_CHECK(tensor::IsWeightType(w.type));
  LOOM_CHECK(w.rows >= 0 && w.cols > 0 && w.cols % tensor::BlockElements(w.type) == 0);
  LOOM_CHECK(w.row_bytes >= tensor::RowBytes(w.type, w.cols));
  LOOM_CHECK(batch >= 0);
  LOOM_CHECK(batch <= 1 || (ldx >= w.cols && ldy >= w.rows));
  if (batch == 0 || w.rows == 0) return;
  LOOM_CHECK(w.data != nullptr && x != nullptr && y != nullptr);

  // Handing a few microseconds of work to another thread costs more than it saves (and on a
  // busy machine the worker may not even be running), so small products stay on this thread.
  constexpr int64_t kMinParallelMacs = int64_t{1} << 18;
  const bool serial =
      pool == nullptr || pool->num_threads() == 1 || w.rows * w.cols * batch < kMinParallelMacs;
  const auto run = [&](const std::function<void(int64_t, int64_t)>& rows_fn) {
    if (serial) {
      rows_fn(0, w.rows);
      return;
    }
    pool->ParallelFor(static_cast<size_t>(w.rows), [&](size_t begin, size_t end, int) {
      rows_fn(static_cast<int64_t>(begin), static_cast<int64_t>(end));
    });
  };

  if (batch >= kGemmMinBatch) {
    run([&](int64_t r0, int64_t r1) { GemmRows(w, x, ldx, batch, y, ldy, r0, r1); });
    return;
  }

  // Activations are quantized once here, then shared read-only by every thread.
  QuantizedActs qa;
  const QuantizedActs* qa_ptr = nullptr;
  if (UsesQuantizedActs(w.type)) {
    thread_local std::vector<int16_t> q_buf;
    thread_local std::vector<float> f_buf;
    const size_t n = static_cast<size_t>(batch * w.cols);
    if (q_buf.size() < n) q_buf.resize(n);
    if (f_buf.size() < 2 * (n / 32) + n / 16) f_buf.resize(2 * (n / 32) + n / 16);
    qa.q = q_buf.data();
    qa.d = f_buf.data();
    qa.s32 = f_buf.data() + n / 32;
    qa.s16 = f_buf.data() + 2 * (n / 32);
    qa.cols = w.cols;
    QuantizeActs(x, ldx, batch, qa);
    qa_ptr = &qa;
  }
  run([&](int64_t r0, int64_t r1) { MatVecRows(w, x, ldx, qa_ptr, batch, y, ldy, r0, r1); });
}

}  // namespace loom::kernels
