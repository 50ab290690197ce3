#include "kernels/ops.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "kernels/ref/ops_ref.h"
#include "kernels/targets.h"
#include "tensor/quant.h"

namespace loom::kernels {
namespace {

using tensor::GgmlType;

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

const std::vector<int64_t> kSizes = {1, 7, 16, 17, 255, 256, 3840};

double Nmse(const float* got, const float* want, int64_t n) {
  double err = 0, ref = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double diff = static_cast<double>(got[i]) - want[i];
    err += diff * diff;
    ref += static_cast<double>(want[i]) * want[i];
  }
  return ref > 0 ? err / ref : err;
}

std::vector<float> Gaussian(int64_t n, float mean, float stddev, std::mt19937& rng) {
  std::normal_distribution<float> dist(mean, stddev);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = dist(rng);
  return v;
}

bool SameBits(float a, float b) { return std::memcmp(&a, &b, sizeof(float)) == 0; }

// The largest error seen per kernel, printed once so the tolerances can be checked against what
// the kernels actually achieve.
struct Worst {
  const char* what;
  double value = 0;
  explicit Worst(const char* w) : what(w) {}
  void Add(double v) { value = std::max(value, v); }
  ~Worst() { std::printf("[ measured ] %s: %.3g\n", what, value); }
};

// NMSE < 1e-7 is the bound for every f32 kernel. Measured maxima over these tests (AVX3, AVX2,
// SSE4, SCALAR): RmsNorm 1e-13, LayerNorm 9e-13, GeluTanhGlu 1e-14, SoftCap 8e-15; the
// references differ only by f32 rounding. The per-element bounds below are the tighter checks.
constexpr double kNmseTol = 1e-7;

TEST(OpsNorm, RmsNormMatchesReference) {
  std::mt19937 rng(1);
  Worst worst("RmsNorm NMSE");
  for (int64_t t : AvailableTargets()) {
    ScopedTarget st(t);
    SCOPED_TRACE(TargetName(t));
    for (NormWeight mode : {NormWeight::kW, NormWeight::kOnePlusW, NormWeight::kNone}) {
      for (int64_t n : kSizes) {
        for (int64_t rows : {1, 3}) {
          SCOPED_TRACE(testing::Message()
                       << "mode " << static_cast<int>(mode) << " n " << n << " rows " << rows);
          const std::vector<float> x = Gaussian(rows * n, 0.5f, 3.0f, rng);
          const std::vector<float> w = Gaussian(n, 1.0f, 0.3f, rng);
          const float* wp = mode == NormWeight::kNone ? nullptr : w.data();
          std::vector<float> got(x.size()), want(x.size());
          RmsNorm(x.data(), wp, mode, 1e-6f, rows, n, got.data());
          RmsNormRef(x.data(), wp, mode, 1e-6f, rows, n, want.data());
          const double nmse = Nmse(got.data(), want.data(), rows * n);
          worst.Add(nmse);
          EXPECT_LT(nmse, kNmseTol);
          // In place gives the same bits.
          std::vector<float> inplace = x;
          RmsNorm(inplace.data(), wp, mode, 1e-6f, rows, n, inplace.data());
          EXPECT_EQ(0, std::memcmp(inplace.data(), got.data(), got.size() * sizeof(float)));
        }
      }
    }
  }
}

TEST(OpsNorm, RmsNormOfZerosIsZero) {
  for (int64_t t : AvailableTargets()) {
    ScopedTarget st(t);
    SCOPED_TRACE(TargetName(t));
    const std::vector<float> x(300, 0.0f), w(300, 2.0f);
    std::vector<float> out(300, 1.0f);
    RmsNorm(x.data(), w.data(), NormWeight::kW, 1e-6f, 1, 300, out.data());
    for (float v : out) EXPECT_EQ(v, 0.0f);
  }
}

TEST(OpsNorm, LayerNormMatchesReference) {
  std::mt19937 rng(2);
  Worst worst("LayerNorm NMSE");
  for (int64_t t : AvailableTargets()) {
    ScopedTarget st(t);
    SCOPED_TRACE(TargetName(t));
    for (int64_t n : kSizes) {
      for (bool with_beta : {true, false}) {
        SCOPED_TRACE(testing::Message() << "n " << n << " beta " << with_beta);
        const int64_t rows = 2;
        // An offset mean checks the two-pass variance.
        const std::vector<float> x = Gaussian(rows * n, 4.0f, 1.5f, rng);
        const std::vector<float> gamma = Gaussian(n, 1.0f, 0.2f, rng);
        const std::vector<float> beta = Gaussian(n, 0.0f, 0.5f, rng);
        const float* bp = with_beta ? beta.data() : nullptr;
        std::vector<float> got(x.size()), want(x.size());
        LayerNorm(x.data(), gamma.data(), bp, 1e-6f, rows, n, got.data());
        LayerNormRef(x.data(), gamma.data(), bp, 1e-6f, rows, n, want.data());
        const double nmse = Nmse(got.data(), want.data(), rows * n);
        // n = 1 normalizes to exactly 0 (then + beta): NMSE against 0 is the raw error.
        worst.Add(nmse);
        EXPECT_LT(nmse, kNmseTol);
      }
    }
  }
}

std::vector<float> InvFreq(int head_dim, double theta, int rotated_pairs) {
  std::vector<float> inv(static_cast<size_t>(head_dim / 2), 0.0f);
  for (int i = 0; i < rotated_pairs; ++i) {
    inv[static_cast<size_t>(i)] = static_cast<float>(std::pow(theta, -2.0 * i / head_dim));
  }
  return inv;
}

// Each output pair against the exact rotation, relative to the pair's norm (rotation preserves
// it, so cancellation in one coordinate is not an error of the kernel). Measured max: 1.2e-7
// (f32 rounding of cos/sin and the products); the bound is 1e-6.
constexpr double kRopePairTol = 1e-6;

void CheckRope(int head_dim, int heads, const std::vector<float>& inv, Worst& worst,
               std::mt19937& rng) {
  const int half = head_dim / 2;
  for (int32_t pos : {0, 1, 1000, 131071, 262143}) {
    SCOPED_TRACE(testing::Message() << "head_dim " << head_dim << " pos " << pos);
    std::vector<float> x = Gaussian(static_cast<int64_t>(heads) * head_dim, 0.0f, 2.0f, rng);
    // Special values in pass-through pairs must survive bit for bit.
    for (int h = 0; h < heads; ++h) {
      for (int i = 0; i < half; ++i) {
        if (inv[static_cast<size_t>(i)] != 0.0f || i % 5 != 0) continue;
        float* xh = x.data() + static_cast<int64_t>(h) * head_dim;
        xh[i] = (i % 10 == 0) ? -0.0f : kNaN;
        xh[i + half] = (i % 10 == 0) ? -kInf : -0.0f;
      }
    }
    std::vector<float> got = x, want = x;
    Rope(got.data(), heads, head_dim, pos, inv.data());
    RopeRef(want.data(), heads, head_dim, pos, inv.data());
    for (int h = 0; h < heads; ++h) {
      const int64_t base = static_cast<int64_t>(h) * head_dim;
      for (int i = 0; i < half; ++i) {
        const int64_t a = base + i, b = base + i + half;
        if (pos == 0 || inv[static_cast<size_t>(i)] == 0.0f) {
          ASSERT_TRUE(SameBits(got[a], x[a]) && SameBits(got[b], x[b]))
              << "pass-through pair " << i << " of head " << h;
          continue;
        }
        const double norm = std::hypot(static_cast<double>(x[a]), x[b]);
        const double err = std::hypot(static_cast<double>(got[a]) - want[a],
                                      static_cast<double>(got[b]) - want[b]);
        worst.Add(err / norm);
        ASSERT_LE(err, kRopePairTol * norm) << "pair " << i << " of head " << h;
      }
    }
  }
}

TEST(OpsRope, DefaultMatchesReference) {
  std::mt19937 rng(3);
  Worst worst("Rope pair error / pair norm");
  for (int64_t t : AvailableTargets()) {
    ScopedTarget st(t);
    SCOPED_TRACE(TargetName(t));
    CheckRope(256, 3, InvFreq(256, 1e4, 128), worst, rng);
    // Remainders of the vector width and of the 128-pair chunk.
    for (int head_dim : {2, 14, 34, 300}) {
      CheckRope(head_dim, 2, InvFreq(head_dim, 1e4, head_dim / 2), worst, rng);
    }
  }
}

TEST(OpsRope, ProportionalPassesThroughUnrotatedDims) {
  std::mt19937 rng(4);
  Worst worst("Rope (proportional) pair error / pair norm");
  for (int64_t t : AvailableTargets()) {
    ScopedTarget st(t);
    SCOPED_TRACE(TargetName(t));
    // Gemma 4 full layers: 64 rotated pairs with exponent over 512, the other 192 pass through.
    CheckRope(512, 2, InvFreq(512, 1e6, 64), worst, rng);
  }
}

TEST(OpsActivation, GeluTanhGluMatchesReference) {
  std::mt19937 rng(5);
  Worst worst_nmse("GeluTanhGlu NMSE");
  Worst worst_rel("GeluTanhGlu |error| / |gate * up|");
  for (int64_t t : AvailableTargets()) {
    ScopedTarget st(t);
    SCOPED_TRACE(TargetName(t));
    for (int64_t n : kSizes) {
      SCOPED_TRACE(testing::Message() << "n " << n);
      std::vector<float> gate = Gaussian(n, 0.0f, 3.0f, rng);
      const std::vector<float> up = Gaussian(n, 0.0f, 1.0f, rng);
      if (n > 8) {
        gate[1] = 0.0f;
        gate[2] = -30.0f;
        gate[3] = 30.0f;
        gate[4] = 1e20f;
        gate[5] = -1e20f;
      }
      std::vector<float> got(static_cast<size_t>(n)), want(static_cast<size_t>(n));
      GeluTanhGlu(gate.data(), up.data(), n, got.data());
      GeluTanhGluRef(gate.data(), up.data(), n, want.data());
      const double nmse = Nmse(got.data(), want.data(), n);
      worst_nmse.Add(nmse);
      EXPECT_LT(nmse, kNmseTol);
      for (int64_t i = 0; i < n; ++i) {
        // Relative to gate * up, not to the output: for negative gates the output is the tiny
        // tail g * sigmoid(2u), whose relative error grows with |u| in any f32 evaluation.
        // Measured max 1.7e-7.
        const double scale = std::fabs(static_cast<double>(gate[i]) * up[i]);
        const double err = std::fabs(static_cast<double>(got[i]) - want[i]);
        if (scale > 0) worst_rel.Add(err / scale);
        ASSERT_LE(err, 2e-6 * scale) << "gate " << gate[i] << " up " << up[i];
      }
      // out may alias gate.
      std::vector<float> inplace = gate;
      GeluTanhGlu(inplace.data(), up.data(), n, inplace.data());
      EXPECT_EQ(0, std::memcmp(inplace.data(), got.data(), got.size() * sizeof(float)));
    }
  }
}

TEST(OpsActivation, SoftCapMatchesReference) {
  std::mt19937 rng(6);
  Worst worst_nmse("SoftCap NMSE");
  Worst worst_rel("SoftCap relative error");
  for (int64_t t : AvailableTargets()) {
    ScopedTarget st(t);
    SCOPED_TRACE(TargetName(t));
    for (int64_t n : kSizes) {
      SCOPED_TRACE(testing::Message() << "n " << n);
      std::vector<float> x = Gaussian(n, 0.0f, 25.0f, rng);
      if (n > 8) {
        x[1] = 0.0f;
        x[2] = 1e-20f;
        x[3] = 1e6f;
        x[4] = -kInf;
      }
      std::vector<float> got = x, want = x;
      SoftCap(got.data(), n, 30.0f);
      SoftCapRef(want.data(), n, 30.0f);
      const double nmse = Nmse(got.data(), want.data(), n);
      worst_nmse.Add(nmse);
      EXPECT_LT(nmse, kNmseTol);
      // Measured max 2.8e-7 (hwy::Tanh is documented at 4 ulp, ~4.8e-7).
      for (int64_t i = 0; i < n; ++i) {
        const double rel = want[i] == 0
                               ? std::fabs(got[i])
                               : std::fabs((static_cast<double>(got[i]) - want[i]) / want[i]);
        worst_rel.Add(rel);
        ASSERT_LE(rel, 2e-6) << "x " << x[i];
      }
    }
  }
}

TEST(OpsEmbedding, EmbeddingRowMatchesReference) {
  std::mt19937 rng(7);
  for (GgmlType type :
       {GgmlType::kF32, GgmlType::kBF16, GgmlType::kQ8_0, GgmlType::kQ4_K, GgmlType::kQ6_K}) {
    for (int64_t cols : {256, 768}) {
      SCOPED_TRACE(testing::Message() << "type " << static_cast<int>(type) << " cols " << cols);
      const int64_t rows = 5;
      const size_t row_bytes = tensor::RowBytes(type, cols);
      std::vector<uint8_t> data(row_bytes * rows);
      const std::vector<float> values = Gaussian(rows * cols, 0.0f, 0.05f, rng);
      for (int64_t r = 0; r < rows; ++r) {
        tensor::QuantizeRow(type, values.data() + r * cols, data.data() + r * row_bytes, cols);
      }
      const Matrix table = MakeMatrix(type, data.data(), rows, cols);
      for (int64_t t : AvailableTargets()) {
        ScopedTarget st(t);
        SCOPED_TRACE(TargetName(t));
        for (int64_t row : {int64_t{0}, int64_t{3}, rows - 1}) {
          std::vector<float> got(static_cast<size_t>(cols)), want(static_cast<size_t>(cols));
          EmbeddingRow(table, row, 61.9677f, got.data());
          EmbeddingRowRef(table, row, 61.9677f, want.data());
          EXPECT_EQ(0, std::memcmp(got.data(), want.data(), got.size() * sizeof(float)));
          // And it is the right row: close to the scaled input (exact for F32; Q4_K, the
          // coarsest here, has NMSE ~2e-3 on Gaussian rows).
          std::vector<float> scaled(values.begin() + row * cols, values.begin() + (row + 1) * cols);
          for (auto& v : scaled) v *= 61.9677f;
          const double nmse = Nmse(got.data(), scaled.data(), cols);
          EXPECT_LT(nmse, type == GgmlType::kF32 ? 1e-30 : 1e-2);
        }
      }
    }
  }
}

// Inputs for ArgMax / TopK of size n with the property named by `kind`.
std::vector<float> SelectionInput(int kind, int64_t n, std::mt19937& rng) {
  std::vector<float> x = Gaussian(n, 0.0f, 5.0f, rng);
  std::uniform_int_distribution<int64_t> where(0, n - 1);
  switch (kind) {
    case 0:  // random
      break;
    case 1:  // few distinct values: ties everywhere, the max tied many times
      for (auto& v : x) v = std::round(v / 4.0f);
      break;
    case 2:  // all -inf
      std::fill(x.begin(), x.end(), -kInf);
      break;
    case 3:  // NaNs scattered, including at the front and the back
      for (int64_t i = 0; i < n; i += 3) x[static_cast<size_t>(i)] = kNaN;
      x[static_cast<size_t>(n - 1)] = kNaN;
      break;
    case 4:  // all NaN
      std::fill(x.begin(), x.end(), kNaN);
      break;
    case 5:  // -inf and NaN only
      for (int64_t i = 0; i < n; ++i) x[static_cast<size_t>(i)] = i % 2 ? -kInf : kNaN;
      break;
    case 6:  // ascending (every element beats the previous: worst case for TopK's threshold)
      std::sort(x.begin(), x.end());
      break;
    case 7:  // the max at the last element, tied with an earlier one
      x[static_cast<size_t>(n - 1)] = 100.0f;
      x[static_cast<size_t>(where(rng))] = 100.0f;
      break;
    case 8:  // +inf twice, -0 and +0 ties
      for (auto& v : x) v = (v > 0) ? 0.0f : -0.0f;
      x[static_cast<size_t>(where(rng))] = kInf;
      x[static_cast<size_t>(where(rng))] = kInf;
      break;
  }
  return x;
}
constexpr int kSelectionKinds = 9;

std::vector<int64_t> SelectionSizes() {
  std::vector<int64_t> sizes = kSizes;
#ifdef NDEBUG
  sizes.push_back(262144);  // the Gemma 4 vocabulary
#else
  sizes.push_back(20000);  // ASan builds: keep the reference sorts short
#endif
  return sizes;
}

TEST(OpsSelect, ArgMaxMatchesReference) {
  std::mt19937 rng(8);
  for (int64_t n : SelectionSizes()) {
    for (int kind = 0; kind < kSelectionKinds; ++kind) {
      SCOPED_TRACE(testing::Message() << "n " << n << " kind " << kind);
      const std::vector<float> x = SelectionInput(kind, n, rng);
      const int64_t want = ArgMaxRef(x.data(), n);
      for (int64_t t : AvailableTargets()) {
        ScopedTarget st(t);
        SCOPED_TRACE(TargetName(t));
        ASSERT_EQ(ArgMax(x.data(), n), want);
      }
    }
  }
}

TEST(OpsSelect, ArgMaxPicksTheLowestTiedIndexInEveryPosition) {
  for (int64_t t : AvailableTargets()) {
    ScopedTarget st(t);
    SCOPED_TRACE(TargetName(t));
    const int64_t n = 70;
    for (int64_t a = 0; a < n; ++a) {
      for (int64_t b = a; b < n; b += 7) {
        std::vector<float> x(static_cast<size_t>(n), -1.0f);
        x[static_cast<size_t>(a)] = 2.0f;
        x[static_cast<size_t>(b)] = 2.0f;
        ASSERT_EQ(ArgMax(x.data(), n), a) << "a " << a << " b " << b;
      }
    }
    const float one = 1.0f;
    EXPECT_EQ(ArgMax(&one, 1), 0);
  }
}

bool SameValue(float a, float b) { return (std::isnan(a) && std::isnan(b)) || SameBits(a, b); }

TEST(OpsSelect, TopKMatchesReference) {
  std::mt19937 rng(9);
  for (int64_t n : SelectionSizes()) {
    for (int kind = 0; kind < kSelectionKinds; ++kind) {
      const std::vector<float> x = SelectionInput(kind, n, rng);
      for (int64_t k : {int64_t{1}, int64_t{5}, int64_t{40}, int64_t{100}, n}) {
        if (k > n || (k == n && n > 4000)) continue;
        SCOPED_TRACE(testing::Message() << "n " << n << " kind " << kind << " k " << k);
        std::vector<int32_t> gi(static_cast<size_t>(k)), wi(static_cast<size_t>(k));
        std::vector<float> gv(static_cast<size_t>(k)), wv(static_cast<size_t>(k));
        TopKRef(x.data(), n, k, wi.data(), wv.data());
        for (int64_t t : AvailableTargets()) {
          ScopedTarget st(t);
          SCOPED_TRACE(TargetName(t));
          ASSERT_EQ(TopK(x.data(), n, k, gi.data(), gv.data()), k);
          for (int64_t j = 0; j < k; ++j) {
            ASSERT_EQ(gi[j], wi[j]) << "rank " << j;
            ASSERT_TRUE(SameValue(gv[j], wv[j])) << "rank " << j;
          }
        }
      }
    }
  }
}

TEST(OpsSelect, TopKOfZeroIsEmpty) {
  const float x[3] = {1, 2, 3};
  int32_t i = -7;
  float v = -7;
  EXPECT_EQ(TopK(x, 3, 0, &i, &v), 0);
  EXPECT_EQ(i, -7);
}

}  // namespace
}  // namespace loom::kernels
