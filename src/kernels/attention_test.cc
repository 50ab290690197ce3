#include "kernels/attention.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "base/thread_pool.h"
#include "kernels/ref/attention_ref.h"
#include "kernels/targets.h"
#include "tensor/fp16.h"
#include "tensor/quant.h"

namespace loom::kernels {
namespace {

using tensor::GgmlType;

#ifdef NDEBUG
constexpr bool kDebug = false;
#else
constexpr bool kDebug = true;
#endif

size_t HeadBytes(GgmlType type, int d) {
  switch (type) {
    case GgmlType::kF32:
      return 4 * static_cast<size_t>(d);
    case GgmlType::kF16:
    case GgmlType::kBF16:
      return 2 * static_cast<size_t>(d);
    case GgmlType::kQ8_0:
      return static_cast<size_t>(d / tensor::kQK) * sizeof(tensor::BlockQ8_0);
    default:
      return 0;
  }
}

// Stores one head row as `type` (Q8_0 as ggml's quantize_row_q8_0_ref).
void StoreRow(GgmlType type, const float* x, int d, uint8_t* dst) {
  switch (type) {
    case GgmlType::kF32:
      std::memcpy(dst, x, 4 * static_cast<size_t>(d));
      return;
    case GgmlType::kF16:
    case GgmlType::kBF16:
      for (int i = 0; i < d; ++i) {
        const uint16_t h =
            type == GgmlType::kF16 ? tensor::F32ToF16(x[i]) : tensor::F32ToBF16(x[i]);
        std::memcpy(dst + 2 * i, &h, 2);
      }
      return;
    case GgmlType::kQ8_0:
      for (int b = 0; b < d / tensor::kQK; ++b) {
        tensor::BlockQ8_0 blk;
        float amax = 0;
        for (int j = 0; j < tensor::kQK; ++j)
          amax = std::max(amax, std::fabs(x[b * tensor::kQK + j]));
        const float scale = amax / 127.0f;
        const float inv = scale != 0.0f ? 1.0f / scale : 0.0f;
        blk.d = tensor::F32ToF16(scale);
        for (int j = 0; j < tensor::kQK; ++j) {
          blk.qs[j] = static_cast<int8_t>(std::lround(x[b * tensor::kQK + j] * inv));
        }
        std::memcpy(dst + b * sizeof(blk), &blk, sizeof(blk));
      }
      return;
    default:
      FAIL();
  }
}

std::string TypeName(GgmlType type) {
  switch (type) {
    case GgmlType::kF32:
      return "F32";
    case GgmlType::kF16:
      return "F16";
    case GgmlType::kBF16:
      return "BF16";
    case GgmlType::kQ8_0:
      return "Q8_0";
    default:
      return "?";
  }
}

// A cache with random K/V and the given slot positions / blocks. Heads and slots are padded
// (4-byte aligned, not vector aligned) so the kernel must honour the strides.
struct Cache {
  std::vector<uint8_t> k, v;
  std::vector<int32_t> pos, block;
  KvView view;

  Cache(GgmlType type, int num_kv_heads, int d, std::vector<int32_t> slot_pos,
        std::vector<int32_t> slot_block, std::mt19937& rng)
      : pos(std::move(slot_pos)), block(std::move(slot_block)) {
    const int64_t slots = static_cast<int64_t>(pos.size());
    const size_t head_stride = HeadBytes(type, d) + 8;
    const size_t slot_stride = head_stride * num_kv_heads + 12;
    k.assign(slot_stride * slots + 16, 0);
    v.assign(slot_stride * slots + 16, 0);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    std::vector<float> row(d);
    for (int64_t s = 0; s < slots; ++s) {
      for (int h = 0; h < num_kv_heads; ++h) {
        const size_t off = 4 + s * slot_stride + h * head_stride;
        for (float& x : row) x = u(rng);
        StoreRow(type, row.data(), d, k.data() + off);
        for (float& x : row) x = u(rng);
        StoreRow(type, row.data(), d, v.data() + off);
      }
    }
    view.type = type;
    view.k = k.data() + 4;
    view.v = v.data() + 4;
    view.num_slots = slots;
    view.slot_stride = slot_stride;
    view.head_stride = head_stride;
    view.pos = pos.data();
    view.block = block.empty() ? nullptr : block.data();
  }
};

double Nmse(const std::vector<float>& a, const std::vector<float>& b) {
  double err = 0, ref = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    err += (static_cast<double>(a[i]) - b[i]) * (static_cast<double>(a[i]) - b[i]);
    ref += static_cast<double>(b[i]) * b[i];
  }
  return ref > 0 ? err / ref : err;
}

ThreadPool& Pool2() {
  static ThreadPool pool(2);
  return pool;
}

// Runs Attention on every target with no pool and a 2-thread pool; compares with AttentionRef.
void CheckAgainstRef(const AttentionParams& p, const Cache& cache,
                     const std::vector<int32_t>& q_pos, const std::vector<int32_t>& q_block,
                     std::mt19937& rng, float q_range = 1.0f) {
  const int64_t nq = static_cast<int64_t>(q_pos.size());
  std::vector<float> q(nq * p.num_q_heads * p.head_dim);
  std::uniform_real_distribution<float> u(-q_range, q_range);
  for (float& x : q) x = u(rng);
  const int32_t* qb = q_block.empty() ? nullptr : q_block.data();
  std::vector<float> want(q.size()), got(q.size());
  AttentionRef(p, q.data(), nq, q_pos.data(), qb, cache.view, want.data());
  for (int64_t target : AvailableTargets()) {
    ScopedTarget st(target);
    SCOPED_TRACE(TargetName(target));
    for (ThreadPool* pool : {static_cast<ThreadPool*>(nullptr), &Pool2()}) {
      SCOPED_TRACE(pool ? "pool2" : "no pool");
      std::fill(got.begin(), got.end(), 12345.0f);
      Attention(p, q.data(), nq, q_pos.data(), qb, cache.view, got.data(), pool);
      EXPECT_LT(Nmse(got, want), 1e-7);
      // Queries that see nothing must give exact zeros.
      for (size_t i = 0; i < want.size(); i += p.head_dim) {
        bool zero = true;
        for (int j = 0; j < p.head_dim; ++j) zero &= want[i + j] == 0.0f;
        if (!zero) continue;
        for (int j = 0; j < p.head_dim; ++j)
          ASSERT_EQ(got[i + j], 0.0f) << "row " << i / p.head_dim;
      }
    }
  }
}

std::vector<int32_t> Iota(int32_t begin, int32_t end) {
  std::vector<int32_t> v(end - begin);
  std::iota(v.begin(), v.end(), begin);
  return v;
}

constexpr GgmlType kTypes[] = {GgmlType::kF32, GgmlType::kF16, GgmlType::kBF16, GgmlType::kQ8_0};

TEST(AttentionMask, FollowsTheHeaderRule) {
  AttentionParams p;
  p.window = 4;
  EXPECT_TRUE(AttentionVisible(p, 10, -1, 10, -1));
  EXPECT_TRUE(AttentionVisible(p, 10, -1, 7, -1));    // window - 1 back
  EXPECT_FALSE(AttentionVisible(p, 10, -1, 6, -1));   // window back
  EXPECT_FALSE(AttentionVisible(p, 10, -1, 11, -1));  // future
  EXPECT_FALSE(AttentionVisible(p, 10, -1, -1, -1));  // empty slot
  EXPECT_FALSE(AttentionVisible(p, 10, 2, 12, 2));    // blocks off
  p.bidirectional_blocks = true;
  EXPECT_TRUE(AttentionVisible(p, 10, 2, 12, 2));
  EXPECT_TRUE(AttentionVisible(p, 10, 2, 30, 2));  // one-sided window: later block keys stay
  EXPECT_FALSE(AttentionVisible(p, 10, 2, 6, 2));  // earlier ones are still windowed
  EXPECT_FALSE(AttentionVisible(p, 10, 2, 12, 3));
  EXPECT_FALSE(AttentionVisible(p, 10, -1, 12, -1));
  EXPECT_FALSE(AttentionVisible(p, 10, 2, -1, 2));
}

// Causal prefill of a chunk after earlier tokens: every head dim, GQA ratio and KV type.
TEST(Attention, CausalAllShapesAndTypes) {
  std::mt19937 rng(1);
  const int dims[] = {64, 128, 256, 512};
  const int heads[][2] = {{2, 2}, {4, 2}, {16, 1}};
  const int past = kDebug ? 3 : 13, chunk = kDebug ? 5 : 21;  // odd: row remainders
  for (GgmlType type : kTypes) {
    for (int d : dims) {
      for (const auto& h : heads) {
        SCOPED_TRACE(TypeName(type) + " d=" + std::to_string(d) + " heads=" + std::to_string(h[0]) +
                     "/" + std::to_string(h[1]));
        AttentionParams p;
        p.num_q_heads = h[0];
        p.num_kv_heads = h[1];
        p.head_dim = d;
        p.scale = d == 512 ? 1.0f : 1.0f / std::sqrt(static_cast<float>(d));
        Cache cache(type, h[1], d, Iota(0, past + chunk), {}, rng);
        CheckAgainstRef(p, cache, Iota(past, past + chunk), {}, rng, d == 512 ? 0.2f : 1.0f);
      }
    }
  }
}

// Head dims that are not a multiple of the vector width (scalar tails), float caches only.
TEST(Attention, OddHeadDims) {
  std::mt19937 rng(7);
  for (GgmlType type : {GgmlType::kF32, GgmlType::kF16, GgmlType::kBF16}) {
    for (int d : {8, 40, 100}) {
      SCOPED_TRACE(TypeName(type) + " d=" + std::to_string(d));
      AttentionParams p;
      p.num_q_heads = 6;
      p.num_kv_heads = 2;
      p.head_dim = d;
      p.window = 5;
      p.scale = 0.3f;
      Cache cache(type, 2, d, Iota(0, 23), {}, rng);
      CheckAgainstRef(p, cache, Iota(10, 23), {}, rng);
    }
  }
}

TEST(Attention, SlidingWindow) {
  std::mt19937 rng(2);
  for (GgmlType type : {GgmlType::kF16, GgmlType::kQ8_0}) {
    SCOPED_TRACE(TypeName(type));
    AttentionParams p;
    p.num_q_heads = 4;
    p.num_kv_heads = 2;
    p.head_dim = 64;
    p.window = 8;
    p.scale = 0.125f;
    const int n = kDebug ? 40 : 150;
    Cache cache(type, 2, 64, Iota(0, n), {}, rng);
    CheckAgainstRef(p, cache, Iota(0, n), {}, rng);
  }
}

// The one-sided window boundary checked directly: one key at position 5, its V row returned
// exactly for a query window-1 after it and not at all for window or window+1 after it.
TEST(Attention, WindowBoundary) {
  std::mt19937 rng(3);
  AttentionParams p;
  p.num_q_heads = 2;
  p.num_kv_heads = 1;
  p.head_dim = 64;
  p.window = 16;
  std::vector<int32_t> pos(20, -1);
  pos[7] = 5;
  Cache cache(GgmlType::kF32, 1, 64, pos, {}, rng);
  const float* v = reinterpret_cast<const float*>(static_cast<const uint8_t*>(cache.view.v) +
                                                  7 * cache.view.slot_stride);
  const std::vector<int32_t> q_pos = {5 + 15, 5 + 16, 5 + 17};
  std::vector<float> q(3 * 2 * 64, 0.5f), out(q.size());
  for (int64_t target : AvailableTargets()) {
    ScopedTarget st(target);
    SCOPED_TRACE(TargetName(target));
    Attention(p, q.data(), 3, q_pos.data(), nullptr, cache.view, out.data(), nullptr);
    for (int h = 0; h < 2; ++h) {
      for (int j = 0; j < 64; ++j) {
        EXPECT_NEAR(out[h * 64 + j], v[j], 1e-6f);
        EXPECT_EQ(out[(2 + h) * 64 + j], 0.0f);
        EXPECT_EQ(out[(4 + h) * 64 + j], 0.0f);
      }
    }
  }
  // And against the reference with keys all around the boundary.
  Cache full(GgmlType::kF16, 1, 64, Iota(0, 40), {}, rng);
  CheckAgainstRef(p, full, {20, 21, 22, 35, 36, 37}, {}, rng);
}

// Vision blocks on a sliding layer: one block longer than the window, blocks next to text,
// queries inside and outside blocks; also the same blocks with bidirectional_blocks off.
TEST(Attention, VisionBlocks) {
  std::mt19937 rng(4);
  const int n = 40;
  std::vector<int32_t> block(n, -1);
  for (int i = 3; i < 7; ++i) block[i] = 0;
  for (int i = 10; i < 23; ++i) block[i] = 1;  // 13 tokens, window 8
  for (int i = 25; i < 28; ++i) block[i] = 2;
  for (int i = 30; i < 32; ++i) block[i] = 3;
  for (bool bidir : {true, false}) {
    for (GgmlType type : {GgmlType::kF32, GgmlType::kBF16}) {
      SCOPED_TRACE(TypeName(type) + (bidir ? " bidirectional" : " causal"));
      AttentionParams p;
      p.num_q_heads = 4;
      p.num_kv_heads = 2;
      p.head_dim = 128;
      p.window = 8;
      p.scale = 0.1f;
      p.bidirectional_blocks = bidir;
      Cache cache(type, 2, 128, Iota(0, n), block, rng);
      CheckAgainstRef(p, cache, Iota(0, n), block, rng);
      // A chunk that starts inside the long block (possible only if a caller splits it).
      const std::vector<int32_t> qp = Iota(15, 26);
      CheckAgainstRef(p, cache, qp, std::vector<int32_t>(block.begin() + 15, block.begin() + 26),
                      rng);
    }
  }
}

// A ring buffer: shuffled slot order, empty slots, a prefill chunk and a decode query, plus a
// query that sees nothing (all keys in its future).
TEST(Attention, RingBufferAndEmptySlots) {
  std::mt19937 rng(5);
  std::vector<int32_t> pos = Iota(30, 50);
  pos.insert(pos.end(), 6, -1);
  std::shuffle(pos.begin(), pos.end(), rng);
  for (GgmlType type : kTypes) {
    for (int window : {0, 16}) {
      SCOPED_TRACE(TypeName(type) + " window " + std::to_string(window));
      AttentionParams p;
      p.num_q_heads = 16;
      p.num_kv_heads = 8;
      p.head_dim = 64;
      p.window = window;
      p.scale = 0.125f;
      Cache cache(type, 8, 64, pos, {}, rng);
      CheckAgainstRef(p, cache, {45, 46, 47, 48, 49}, {}, rng);
      CheckAgainstRef(p, cache, {49}, {}, rng);
      CheckAgainstRef(p, cache, {10, 47}, {}, rng);
    }
  }
}

// Prefill N queries into a cache, then decode one query at N. The decode cache is long enough
// that the 2-thread pool splits its slots (MQA); the prefill skips fully masked key tiles.
TEST(Attention, DecodeAfterPrefill) {
  std::mt19937 rng(6);
  struct Shape {
    int hq, hkv, d, window, n;
  };
  const Shape shapes[] = {{4, 4, 128, 0, kDebug ? 60 : 300},
                          {16, 1, 512, 0, kDebug ? 520 : 1100},
                          {16, 8, 256, 256, kDebug ? 150 : 1100}};
  for (const Shape& s : shapes) {
    for (GgmlType type : {GgmlType::kF16, GgmlType::kQ8_0}) {
      SCOPED_TRACE(TypeName(type) + " " + std::to_string(s.hq) + "/" + std::to_string(s.hkv) +
                   " d=" + std::to_string(s.d));
      AttentionParams p;
      p.num_q_heads = s.hq;
      p.num_kv_heads = s.hkv;
      p.head_dim = s.d;
      p.window = s.window;
      p.scale = 1.0f;
      const float qr = 4.0f / std::sqrt(static_cast<float>(s.d));
      const int n = s.n;
      std::vector<int32_t> pos = Iota(0, n + 1);
      pos.resize(n + 40, -1);  // unused tail of the cache
      Cache cache(type, s.hkv, s.d, pos, {}, rng);
      // Prefill (slot n holds a later position: invisible to these queries). The whole
      // sequence on the small shape; the last chunk on the large ones.
      if (s.hq * s.d <= 512) {
        CheckAgainstRef(p, cache, Iota(0, n), {}, rng, qr);
      } else if (!kDebug) {
        CheckAgainstRef(p, cache, Iota(n - 3, n), {}, rng, qr);
      }
      CheckAgainstRef(p, cache, {n}, {}, rng, qr);
    }
  }
}

TEST(Attention, NoSlotsAndNoQueries) {
  AttentionParams p;
  p.num_q_heads = 2;
  p.num_kv_heads = 1;
  p.head_dim = 64;
  KvView kv;
  kv.type = GgmlType::kF32;
  const int32_t qpos = 0;
  std::vector<float> q(128, 1.0f), out(128, 7.0f);
  Attention(p, q.data(), 1, &qpos, nullptr, kv, out.data(), &Pool2());
  for (float x : out) EXPECT_EQ(x, 0.0f);
  Attention(p, q.data(), 0, &qpos, nullptr, kv, out.data(), nullptr);
}

}  // namespace
}  // namespace loom::kernels
