#include "tensor/quant.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "tensor/fp16.h"

namespace loom::tensor {
namespace {

using gguf::GetGgmlTypeInfo;

const char* Name(GgmlType t) { return GetGgmlTypeInfo(t).name; }

std::vector<float> GaussianRow(int64_t n, uint32_t seed, float sigma = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, sigma);
  std::vector<float> x(static_cast<size_t>(n));
  for (float& v : x) v = dist(rng);
  return x;
}

std::vector<uint8_t> Quantize(GgmlType t, const std::vector<float>& x) {
  std::vector<uint8_t> q(RowBytes(t, static_cast<int64_t>(x.size())));
  QuantizeRow(t, x.data(), q.data(), static_cast<int64_t>(x.size()));
  return q;
}

std::vector<float> Dequantize(GgmlType t, const std::vector<uint8_t>& q, int64_t n) {
  std::vector<float> y(static_cast<size_t>(n));
  DequantizeRow(t, q.data(), y.data(), n);
  return y;
}

double Nmse(const std::vector<float>& a, const std::vector<float>& ref) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    num += (static_cast<double>(a[i]) - ref[i]) * (static_cast<double>(a[i]) - ref[i]);
    den += static_cast<double>(ref[i]) * ref[i];
  }
  return num / den;
}

// Index of the first element whose bits differ, or -1.
int64_t FirstBitMismatch(const float* a, const float* b, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    if (FloatBits(a[i]) != FloatBits(b[i])) return i;
  }
  return -1;
}

// ---- fixtures (layout documented in scripts/reference/make_quant_fixtures.py) ----------------

struct Record {
  bool has_input = false;
  int64_t n = 0;
  std::vector<float> input;
  std::vector<uint8_t> bytes;
  std::vector<float> dequant;
};

class Reader {
 public:
  explicit Reader(std::vector<uint8_t> data) : data_(std::move(data)) {}
  bool Read(void* dst, size_t size) {
    if (size > data_.size() - pos_) return false;
    std::memcpy(dst, data_.data() + pos_, size);
    pos_ += size;
    return true;
  }
  bool AtEnd() const { return pos_ == data_.size(); }

 private:
  std::vector<uint8_t> data_;
  size_t pos_ = 0;
};

bool ReadFloats(Reader& r, int64_t n, std::vector<float>* out) {
  out->resize(static_cast<size_t>(n));
  return r.Read(out->data(), static_cast<size_t>(n) * 4);
}

std::vector<Record> LoadFixture(GgmlType t) {
  const std::string path =
      std::string(LOOM_SOURCE_DIR) + "/tests/fixtures/quant/" + Name(t) + ".bin";
  std::ifstream f(path, std::ios::binary);
  EXPECT_TRUE(f.good()) << "missing fixture " << path;
  Reader r(std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {}));
  char magic[4];
  uint32_t version = 0, id = 0, count = 0;
  std::vector<Record> records;
  if (!r.Read(magic, 4) || std::memcmp(magic, "LQFX", 4) != 0 || !r.Read(&version, 4) ||
      version != 1 || !r.Read(&id, 4) || id != static_cast<uint32_t>(t) || !r.Read(&count, 4)) {
    ADD_FAILURE() << path << ": bad header";
    return records;
  }
  for (uint32_t i = 0; i < count; ++i) {
    Record rec;
    uint32_t flags = 0, n = 0;
    bool ok = r.Read(&flags, 4) && r.Read(&n, 4);
    rec.has_input = (flags & 1) != 0;
    rec.n = n;
    ok = ok && n % BlockElements(t) == 0;
    if (ok && rec.has_input) ok = ReadFloats(r, n, &rec.input);
    if (ok) {
      rec.bytes.resize(RowBytes(t, n));
      ok = r.Read(rec.bytes.data(), rec.bytes.size()) && ReadFloats(r, n, &rec.dequant);
    }
    if (!ok) {
      ADD_FAILURE() << path << ": truncated record " << i;
      return records;
    }
    records.push_back(std::move(rec));
  }
  EXPECT_TRUE(r.AtEnd()) << path << ": trailing bytes";
  return records;
}

bool GgufQuantizes(GgmlType t) {
  switch (t) {
    case GgmlType::kF32:
    case GgmlType::kF16:
    case GgmlType::kBF16:
    case GgmlType::kQ4_0:
    case GgmlType::kQ4_1:
    case GgmlType::kQ5_0:
    case GgmlType::kQ5_1:
    case GgmlType::kQ8_0:
      return true;
    default:
      return false;
  }
}

TEST(QuantFixtureTest, MatchesGgufBitForBit) {
  for (GgmlType t : WeightTypes()) {
    SCOPED_TRACE(Name(t));
    const std::vector<Record> records = LoadFixture(t);
    ASSERT_FALSE(records.empty());
    int quantized = 0, dequantized = 0;
    for (size_t r = 0; r < records.size(); ++r) {
      SCOPED_TRACE("record " + std::to_string(r));
      const Record& rec = records[r];
      if (rec.has_input) {
        EXPECT_TRUE(GgufQuantizes(t));
        const std::vector<uint8_t> q = Quantize(t, rec.input);
        EXPECT_EQ(q, rec.bytes);
        ++quantized;
      }
      const std::vector<float> y = Dequantize(t, rec.bytes, rec.n);
      const int64_t bad = FirstBitMismatch(y.data(), rec.dequant.data(), rec.n);
      EXPECT_EQ(bad, -1) << "element " << bad << ": " << (bad >= 0 ? y[bad] : 0.0f) << " vs "
                         << (bad >= 0 ? rec.dequant[bad] : 0.0f);
      ++dequantized;
    }
    EXPECT_GT(dequantized, 0);
    EXPECT_EQ(quantized > 0, GgufQuantizes(t));
  }
}

// ---- round trips
// ---------------------------------------------------------------------------------

struct Bound {
  GgmlType type;
  double nmse;  // bound on NMSE of dequantize(quantize(x)) for x ~ N(0, 1)
};

// Measured (Release, mean over 64 Gaussian rows of 4096, mt19937 seeds 1..64; the Debug run
// uses the first 8 rows), bounds set ~10% above. Each bit fewer costs ~4x.
constexpr Bound kBounds[] = {
    {GgmlType::kF32, 0.0},       {GgmlType::kF16, 5e-8},  // measured 4.34e-8
    {GgmlType::kBF16, 3.1e-6},                            // measured 2.77e-6
    {GgmlType::kQ8_0, 3.2e-5},                            // measured 2.84e-5
    {GgmlType::kQ8_1, 3.2e-5},                            // measured 2.84e-5 (same levels as Q8_0)
    {GgmlType::kQ8_K, 5.3e-5},                            // measured 4.78e-5 (one scale per 256)
    {GgmlType::kQ6_K, 3.5e-4},                            // measured 3.13e-4
    {GgmlType::kQ5_1, 1.6e-3},                            // measured 1.43e-3
    {GgmlType::kQ5_0, 2.0e-3},                            // measured 1.80e-3
    {GgmlType::kQ5_K, 1.45e-3},                           // measured 1.30e-3
    {GgmlType::kQ4_1, 6.8e-3},                            // measured 6.09e-3
    {GgmlType::kQ4_0, 8.1e-3},                            // measured 7.33e-3
    {GgmlType::kQ4_K, 5.6e-3},                            // measured 5.08e-3
    {GgmlType::kIQ4_NL, 6.8e-3},                          // measured 6.17e-3
    {GgmlType::kIQ4_XS, 6.5e-3},                          // measured 5.86e-3
    {GgmlType::kQ3_K, 2.5e-2},                            // measured 2.27e-2
    {GgmlType::kQ2_K, 9.7e-2},                            // measured 8.77e-2
};

TEST(QuantRoundTripTest, GaussianNmseWithinBound) {
#ifdef NDEBUG
  constexpr int kRows = 64;
#else
  constexpr int kRows = 8;
#endif
  constexpr int64_t kN = 4096;
  for (const Bound& b : kBounds) {
    SCOPED_TRACE(Name(b.type));
    double num = 0, den = 0;
    for (int r = 0; r < kRows; ++r) {
      const std::vector<float> x = GaussianRow(kN, 1 + r);
      const std::vector<float> y = Dequantize(b.type, Quantize(b.type, x), kN);
      const double e = Nmse(y, x);
      num += e;
      den += 1;
    }
    const double nmse = num / den;
    std::printf("round-trip NMSE %-7s %.3g\n", Name(b.type), nmse);
    EXPECT_LE(nmse, b.nmse);
  }
}

// Zeros stay zeros, and a row of one repeated value stays finite and near it, in every format.
TEST(QuantRoundTripTest, DegenerateRows) {
  for (GgmlType t : WeightTypes()) {
    SCOPED_TRACE(Name(t));
    const int64_t n = 512;
    const std::vector<float> zeros(n, 0.0f);
    for (float v : Dequantize(t, Quantize(t, zeros), n)) EXPECT_EQ(v, 0.0f);
    for (float c : {0.37f, -1.5f, 1e-3f}) {
      const std::vector<float> x(n, c);
      for (float v : Dequantize(t, Quantize(t, x), n)) {
        ASSERT_TRUE(std::isfinite(v));
        EXPECT_NEAR(v, c, std::fabs(c) * 0.2f) << c;
      }
    }
  }
}

// Which formats reproduce their own bytes when fed their own output: quantize(dequantize(q)) == q.
// F16, BF16 and the 32-element formats do: the extreme element comes back as an exact multiple of
// the fp16 scale, so the scale is recomputed unchanged (exactly for Q4_0/Q5_0/Q8_0, up to a
// rounding that fp16 absorbs for Q4_1/Q5_1). IQ4_NL did on every row tried (200 rows), though
// nothing forces it. The K formats and IQ4_XS do not: their scale searches see different data the
// second time (measured on 200 rows of 1024: Q2_K 4.0% of bytes differ, Q3_K 10%, Q4_K 0.3%,
// Q5_K 1.6%, Q6_K 3.4%, IQ4_XS 1.3%); for those the second pass must stay close to the first.
TEST(QuantRoundTripTest, RequantizingOwnOutput) {
  constexpr int64_t kN = 1024;
  for (GgmlType t : WeightTypes()) {
    SCOPED_TRACE(Name(t));
    const std::vector<float> x = GaussianRow(kN, 99);
    const std::vector<uint8_t> q1 = Quantize(t, x);
    const std::vector<float> y1 = Dequantize(t, q1, kN);
    const std::vector<uint8_t> q2 = Quantize(t, y1);
    const std::vector<float> y2 = Dequantize(t, q2, kN);
    const bool exact = t == GgmlType::kF32 || t == GgmlType::kF16 || t == GgmlType::kBF16 ||
                       t == GgmlType::kQ8_0 || t == GgmlType::kQ4_0 || t == GgmlType::kQ5_0 ||
                       t == GgmlType::kQ4_1 || t == GgmlType::kQ5_1 || t == GgmlType::kIQ4_NL;
    if (exact) {
      EXPECT_EQ(q1, q2);
    } else {
      EXPECT_LE(Nmse(y2, y1), 5e-3);
    }
  }
}

// Q8_1 is Q8_0 plus s = d * sum(qs), rounded to fp16.
TEST(QuantQ8Test, Q8_1MatchesQ8_0PlusSum) {
  const std::vector<float> x = GaussianRow(256, 5, 3.0f);
  const std::vector<uint8_t> q0 = Quantize(GgmlType::kQ8_0, x);
  const std::vector<uint8_t> q1 = Quantize(GgmlType::kQ8_1, x);
  for (int b = 0; b < 8; ++b) {
    BlockQ8_0 b0;
    BlockQ8_1 b1;
    std::memcpy(&b0, q0.data() + b * sizeof(b0), sizeof(b0));
    std::memcpy(&b1, q1.data() + b * sizeof(b1), sizeof(b1));
    EXPECT_EQ(b0.d, b1.d);
    EXPECT_EQ(0, std::memcmp(b0.qs, b1.qs, kQK));
    int sum = 0;
    for (int8_t q : b1.qs) sum += q;
    // ggml multiplies by the float scale, before its rounding to fp16.
    float amax = 0;
    for (int j = 0; j < kQK; ++j) amax = std::max(amax, std::fabs(x[b * kQK + j]));
    EXPECT_EQ(b1.s, F32ToF16(static_cast<float>(sum) * (amax / 127)));
  }
  EXPECT_EQ(Dequantize(GgmlType::kQ8_0, q0, 256), Dequantize(GgmlType::kQ8_1, q1, 256));
}

TEST(QuantQ8Test, Q8_KScaleAndBlockSums) {
  std::vector<float> x = GaussianRow(512, 6, 2.0f);
  x[300] = -9.0f;  // the largest magnitude maps to -127, so here d > 0
  const std::vector<uint8_t> q = Quantize(GgmlType::kQ8_K, x);
  ASSERT_EQ(q.size(), 2 * sizeof(BlockQ8_K));
  for (int b = 0; b < 2; ++b) {
    BlockQ8_K blk;
    std::memcpy(&blk, q.data() + b * sizeof(blk), sizeof(blk));
    int max_abs = 0;
    for (int j = 0; j < 16; ++j) {
      int sum = 0;
      for (int k = 0; k < 16; ++k) {
        sum += blk.qs[16 * j + k];
        max_abs = std::max(max_abs, std::abs(static_cast<int>(blk.qs[16 * j + k])));
      }
      EXPECT_EQ(blk.bsums[j], sum);
    }
    EXPECT_EQ(max_abs, 127);
    for (int j = 0; j < kQK_K; ++j) {
      EXPECT_NEAR(blk.d * blk.qs[j], x[b * kQK_K + j], std::fabs(blk.d) * 0.5001f);
    }
  }
  BlockQ8_K b1;
  std::memcpy(&b1, q.data() + sizeof(b1), sizeof(b1));
  EXPECT_GT(b1.d, 0.0f);
  EXPECT_EQ(b1.qs[300 - kQK_K], -127);
  EXPECT_EQ(b1.d, 1 / (-127.0f / -9.0f));
}

// The K quantizers end by re-quantizing every element against the stored (fp16) scales, so in
// each group of 16 (which shares one scale and min) no element may end further from its input
// than the group's smallest or largest output value is: a cheap check that the scale packing,
// the level packing and the dequantizer agree with each other.
TEST(QuantKTest, LevelsAreNearestUnderStoredScales) {
  const GgmlType types[] = {GgmlType::kQ2_K, GgmlType::kQ3_K, GgmlType::kQ4_K,
                            GgmlType::kQ5_K, GgmlType::kQ6_K, GgmlType::kIQ4_XS};
  constexpr int64_t kN = 2048;
  for (GgmlType t : types) {
    SCOPED_TRACE(Name(t));
    const std::vector<float> x = GaussianRow(kN, 7);
    const std::vector<float> y = Dequantize(t, Quantize(t, x), kN);
    // Each group of 16 shares one affine map level -> value; rebuild its level set from the
    // quantizable range and check y is the level nearest to x, unless x lies outside the range.
    int violations = 0;
    for (int64_t g = 0; g < kN; g += 16) {
      float lo = y[g], hi = y[g];
      for (int k = 1; k < 16; ++k) {
        lo = std::min(lo, y[g + k]);
        hi = std::max(hi, y[g + k]);
      }
      for (int k = 0; k < 16; ++k) {
        // y must be at least as close to x as the group's extreme values are.
        const float e = std::fabs(y[g + k] - x[g + k]);
        if (e > std::fabs(lo - x[g + k]) + 1e-6f || e > std::fabs(hi - x[g + k]) + 1e-6f) {
          ++violations;
        }
      }
    }
    EXPECT_EQ(violations, 0);
  }
}

// ---- types, sizes, checks
// ------------------------------------------------------------------------

TEST(QuantTypesTest, SizesMatchGgml) {
  const GgmlType all[] = {GgmlType::kF32,   GgmlType::kF16,  GgmlType::kBF16, GgmlType::kQ4_0,
                          GgmlType::kQ4_1,  GgmlType::kQ5_0, GgmlType::kQ5_1, GgmlType::kQ8_0,
                          GgmlType::kQ8_1,  GgmlType::kQ2_K, GgmlType::kQ3_K, GgmlType::kQ4_K,
                          GgmlType::kQ5_K,  GgmlType::kQ6_K, GgmlType::kQ8_K, GgmlType::kIQ4_NL,
                          GgmlType::kIQ4_XS};
  for (GgmlType t : all) {
    SCOPED_TRACE(Name(t));
    EXPECT_EQ(static_cast<uint32_t>(BlockElements(t)), GetGgmlTypeInfo(t).block_size);
    EXPECT_EQ(BlockBytes(t), GetGgmlTypeInfo(t).type_size);
    EXPECT_EQ(RowBytes(t, 4 * BlockElements(t)), 4 * BlockBytes(t));
  }
}

TEST(QuantTypesTest, WeightTypes) {
  EXPECT_EQ(WeightTypes().size(), 15u);
  for (GgmlType t : WeightTypes()) EXPECT_TRUE(IsWeightType(t)) << Name(t);
  EXPECT_FALSE(IsWeightType(GgmlType::kQ8_1));
  EXPECT_FALSE(IsWeightType(GgmlType::kQ8_K));
  EXPECT_FALSE(IsWeightType(GgmlType::kIQ2_XXS));
  EXPECT_FALSE(IsWeightType(GgmlType::kI32));
}

TEST(QuantTypesTest, IQ4Codebook) {
  const int8_t want[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                           1,    13,   25,  38,  53,  69,  89,  113};
  EXPECT_EQ(0, std::memcmp(kIQ4NLValues, want, 16));
}

TEST(QuantTypesTest, CheckRow) {
  EXPECT_TRUE(CheckRow(GgmlType::kQ4_K, 512, "w").ok());
  EXPECT_TRUE(CheckRow(GgmlType::kF32, 3, "w").ok());
  EXPECT_TRUE(CheckRow(GgmlType::kIQ4_NL, 32, "w").ok());

  const Status s = CheckRow(GgmlType::kQ4_K, 100, "tensor 'blk.0.ffn_up.weight'");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  for (const char* part : {"blk.0.ffn_up.weight", "Q4_K", "100", "256"}) {
    EXPECT_NE(s.message().find(part), std::string::npos) << s.message();
  }
  EXPECT_FALSE(CheckRow(GgmlType::kQ8_0, 0, "w").ok());
  EXPECT_FALSE(CheckRow(GgmlType::kQ8_0, -32, "w").ok());
  const Status u = CheckRow(GgmlType::kIQ2_XXS, 256, "tensor 'x'");
  ASSERT_FALSE(u.ok());
  EXPECT_NE(u.message().find("IQ2_XXS"), std::string::npos) << u.message();
  EXPECT_NE(u.message().find("tensor 'x'"), std::string::npos) << u.message();
  EXPECT_FALSE(CheckRow(GgmlType::kQ8_K, 256, "w").ok());
}

// Rows inside a mapped file need not be aligned for the block structs.
TEST(QuantTypesTest, UnalignedBuffers) {
  for (GgmlType t : WeightTypes()) {
    SCOPED_TRACE(Name(t));
    const int64_t n = 512;
    const std::vector<float> x = GaussianRow(n, 3);
    const std::vector<uint8_t> q = Quantize(t, x);
    std::vector<uint8_t> shifted(q.size() + 1);
    QuantizeRow(t, x.data(), shifted.data() + 1, n);
    EXPECT_EQ(0, std::memcmp(shifted.data() + 1, q.data(), q.size()));
    std::vector<float> y(n);
    DequantizeRow(t, shifted.data() + 1, y.data(), n);
    EXPECT_EQ(y, Dequantize(t, q, n));
  }
}

}  // namespace
}  // namespace loom::tensor
