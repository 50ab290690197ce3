// Decode matrix products (internal to kernels; callers use MatMul in matmul.h): y = W·x for a
// few columns at a time, memory bound, so the inner loops only have to keep up with the weight
// stream.
//
// Quantized weights are multiplied with activations quantized once per call to 14-bit
// integers (int16) with a float scale per 32 elements, in integer multiply-adds (int16 pairs
// into int32) and one float multiply-add per 32 weights. Storing the activation quants as int16
// costs nothing (the weights must be widened to int16 for the portable multiply-add anyway) and
// makes the activation rounding ~64x smaller than 8-bit quants. Limits: |w| <= 128 and
// |x_q| <= 8191 keep a 32-element sum below 2^25, and two 16-element sums times a 8-bit
// sub-scale below 2^31.
#ifndef LOOM_KERNELS_MATVEC_H_
#define LOOM_KERNELS_MATVEC_H_

#include <cstdint>

#include "kernels/matmul.h"

namespace loom::kernels {

constexpr int kActQuantMax = 8191;

// Activations of `batch` columns of `cols` elements (cols a multiple of 32), column b at
// q + b * cols (quants), d + b * cols / 32 (scale per 32), s16 + b * cols / 16 and
// s32 + b * cols / 32 (d * sum of each 16 or 32 quants, for weight formats with an offset).
struct QuantizedActs {
  int16_t* q = nullptr;
  float* d = nullptr;
  float* s16 = nullptr;
  float* s32 = nullptr;
  int64_t cols = 0;
};

// Whether MatVecRows needs QuantizedActs for weights of this type (all but F32/F16/BF16).
bool UsesQuantizedActs(tensor::GgmlType type);

// Quantizes column b < batch of x (x + b * ldx) into `out` (buffers sized by the caller).
void QuantizeActs(const float* x, int64_t ldx, int64_t batch, const QuantizedActs& out);

// Rows [row_begin, row_end) of MatMul(w, x, ldx, batch, y, ldy); `qa` holds x quantized when
// UsesQuantizedActs(w.type) (x is then not read), else may be null. Single-threaded, any batch
// (meant for batch < kGemmMinBatch).
void MatVecRows(const Matrix& w, const float* x, int64_t ldx, const QuantizedActs* qa,
                int64_t batch, float* y, int64_t ldy, int64_t row_begin, int64_t row_end);

// Per-family implementations behind MatVecRows (matvec_q32.cc, matvec_qk.cc).
void MatVecRowsQ32(const Matrix& w, const QuantizedActs& qa, int64_t batch, float* y, int64_t ldy,
                   int64_t row_begin, int64_t row_end);
void MatVecRowsQK(const Matrix& w, const QuantizedActs& qa, int64_t batch, float* y, int64_t ldy,
                  int64_t row_begin, int64_t row_end);

}  // namespace loom::kernels

#endif  // LOOM_KERNELS_MATVEC_H_
