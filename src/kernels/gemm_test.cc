#include "kernels/gemm.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "formats/gguf/ggml_types.h"
#include "kernels/matmul.h"
#include "kernels/targets.h"
#include "tensor/quant.h"

namespace loom::kernels {
namespace {

using tensor::GgmlType;

struct Shape {
  int64_t rows;
  int cols_kind;  // 0: one block, 1: several blocks, 2: more than one K slice, ragged
  int64_t batch;
  int64_t row_begin;
  int64_t row_end_gap;  // rows left out at the end of the range
};

int64_t ColsFor(GgmlType type, int kind) {
  const int64_t blk = tensor::BlockElements(type);
  if (blk == 1) {
    // F32/F16/BF16 have no block: odd counts and a ragged last slice.
    const int64_t cols[] = {1, 37, 300};
    return cols[kind];
  }
  // 32-element formats: 1, 3 and 9 blocks (9 x 32 = 288 ends in a partial 256-wide slice);
  // K formats: 1, 2 and 3 super-blocks.
  const int64_t blocks32[] = {1, 3, 9};
  const int64_t blocks256[] = {1, 2, 3};
  return blk * (blk == 32 ? blocks32[kind] : blocks256[kind]);
}

// y_ref[b][r] for the dequantized weights, accumulated in double.
std::vector<double> Reference(const std::vector<float>& wd, int64_t rows, int64_t cols,
                              const std::vector<float>& x, int64_t ldx, int64_t batch) {
  std::vector<double> out(static_cast<size_t>(batch * rows));
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t r = 0; r < rows; ++r) {
      double s = 0;
      for (int64_t c = 0; c < cols; ++c) {
        s += static_cast<double>(wd[r * cols + c]) * static_cast<double>(x[b * ldx + c]);
      }
      out[b * rows + r] = s;
    }
  }
  return out;
}

void RunCase(GgmlType type, const Shape& s, std::mt19937& rng) {
  const int64_t rows = s.rows;
  const int64_t cols = ColsFor(type, s.cols_kind);
  const int64_t batch = s.batch;
  const int64_t row_begin = s.row_begin;
  const int64_t row_end = rows - s.row_end_gap;
  ASSERT_LT(row_begin, row_end);
  const int64_t ldx = cols + 3;
  const int64_t ldy = rows + 5;
  SCOPED_TRACE(std::string("rows=") + std::to_string(rows) + " cols=" + std::to_string(cols) +
               " batch=" + std::to_string(batch) + " range=[" + std::to_string(row_begin) + "," +
               std::to_string(row_end) + ")");

  std::normal_distribution<float> normal(0.0f, 1.0f);
  const size_t row_bytes = tensor::RowBytes(type, cols);
  std::vector<uint8_t> wq(row_bytes * rows);
  std::vector<float> wd(static_cast<size_t>(rows * cols));
  std::vector<float> tmp(static_cast<size_t>(cols));
  for (int64_t r = 0; r < rows; ++r) {
    for (auto& v : tmp) v = normal(rng);
    tensor::QuantizeRow(type, tmp.data(), wq.data() + r * row_bytes, cols);
    tensor::DequantizeRow(type, wq.data() + r * row_bytes, wd.data() + r * cols, cols);
  }
  std::vector<float> x(static_cast<size_t>(batch * ldx));
  for (auto& v : x) v = normal(rng);

  constexpr float kSentinel = -12345.0f;
  std::vector<float> y(static_cast<size_t>(batch * ldy), kSentinel);
  const Matrix w = MakeMatrix(type, wq.data(), rows, cols);
  GemmRows(w, x.data(), ldx, batch, y.data(), ldy, row_begin, row_end);

  const std::vector<double> ref = Reference(wd, rows, cols, x, ldx, batch);
  double err = 0, norm = 0;
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t r = 0; r < ldy; ++r) {
      const float got = y[b * ldy + r];
      if (r < row_begin || r >= row_end) {
        // Outside the range (and the ldy padding) stays untouched.
        ASSERT_EQ(got, kSentinel) << "b=" << b << " r=" << r;
        continue;
      }
      const double want = ref[b * rows + r];
      err += (got - want) * (got - want);
      norm += want * want;
    }
  }
  ASSERT_GT(norm, 0.0);
  EXPECT_LT(err / norm, 1e-7);
}

TEST(GemmTest, MatchesDoubleReferenceForEveryTypeAndTarget) {
  // Batches 8, 9, 17, 67 leave every remainder of the batch tile; 33 rows leaves a partial
  // row micro-tile; ranges start past 0 and end before the last row.
  const Shape shapes[] = {
      {1, 0, 8, 0, 0},   {5, 1, 9, 2, 0},   {33, 2, 17, 7, 3},
#ifdef NDEBUG
      {33, 1, 67, 0, 0},  // too slow on the scalar target under ASan
#endif
      {5, 2, 67, 1, 1},  {33, 0, 9, 32, 0},
  };
  std::mt19937 rng(1234);
  for (int64_t target : AvailableTargets()) {
    ScopedTarget st(target);
    SCOPED_TRACE(TargetName(target));
    for (GgmlType type : tensor::WeightTypes()) {
      SCOPED_TRACE(gguf::GetGgmlTypeInfo(type).name);
      for (const Shape& s : shapes) RunCase(type, s, rng);
    }
  }
}

TEST(GemmTest, LargeBatchAndRowsCrossBlocks) {
  // Past the 512-column batch chunk with a ragged last chunk, on the best target only.
  std::mt19937 rng(99);
  RunCase(GgmlType::kQ4_K, {13, 1, 515, 0, 0}, rng);
  RunCase(GgmlType::kF32, {7, 2, 530, 1, 0}, rng);
  // Past the row block (384 micro-tiles of 6 rows).
  RunCase(GgmlType::kQ8_0, {2311, 0, 9, 3, 2}, rng);
}

}  // namespace
}  // namespace loom::kernels
