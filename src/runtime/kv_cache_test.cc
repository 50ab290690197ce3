#include "runtime/kv_cache.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "tensor/quant.h"

namespace loom::runtime {
namespace {

using model::AttentionType;
using tensor::GgmlType;

// Two sliding layers (2 KV heads of 32), one full (1 head of 64), one kv_shared.
model::ModelConfig TinyConfig(int64_t window = 16) {
  model::ModelConfig c;
  c.vocab_size = 64;
  c.hidden_size = 32;
  c.num_layers = 4;
  c.num_heads = 2;
  c.sliding_window = window;
  c.layer_types = {AttentionType::kSliding, AttentionType::kFull, AttentionType::kSliding,
                   AttentionType::kFull};
  c.head_dim = {32, 64, 32, 64};
  c.num_kv_heads = {2, 1, 2, 1};
  c.k_eq_v = {false, false, false, false};
  c.kv_shared = {false, false, false, true};
  return c;
}

// Deterministic K/V values of (layer, position, element).
float KValue(int layer, int64_t pos, int64_t e) {
  return std::sin(0.37f * static_cast<float>(pos) + 0.11f * static_cast<float>(e) +
                  static_cast<float>(layer));
}
float VValue(int layer, int64_t pos, int64_t e) { return 0.5f * KValue(layer, pos + 1000, e); }

Status StoreRange(KvCache* kv, const model::ModelConfig& c, int layer, int64_t from, int64_t n) {
  const int64_t w = c.num_kv_heads[layer] * c.head_dim[layer];
  std::vector<float> k(n * w), v(n * w);
  std::vector<int32_t> pos(n);
  for (int64_t i = 0; i < n; ++i) {
    pos[i] = static_cast<int32_t>(from + i);
    for (int64_t e = 0; e < w; ++e) {
      k[i * w + e] = KValue(layer, from + i, e);
      v[i * w + e] = VValue(layer, from + i, e);
    }
  }
  return kv->Store(layer, n, pos.data(), nullptr, k.data(), v.data());
}

Status StoreAll(KvCache* kv, const model::ModelConfig& c, int64_t from, int64_t n) {
  for (int l = 0; l < c.num_layers; ++l) {
    if (c.kv_shared[l]) continue;
    Status st = StoreRange(kv, c, l, from, n);
    if (!st.ok()) return st;
  }
  return Status::Ok();
}

// Reads slot s of a view back as f32 (one row of kv_heads * head_dim).
std::vector<float> ReadRow(const kernels::KvView& view, const void* base, int64_t s,
                           int64_t kv_heads, int64_t head_dim) {
  std::vector<float> row(kv_heads * head_dim);
  for (int64_t h = 0; h < kv_heads; ++h) {
    const uint8_t* src =
        static_cast<const uint8_t*>(base) + s * view.slot_stride + h * view.head_stride;
    tensor::DequantizeRow(view.type, src, row.data() + h * head_dim, head_dim);
  }
  return row;
}

// Checks that every slot of `layer` with pos >= 0 holds that position's K and V, and returns
// the sorted positions present.
std::vector<int32_t> CheckLayer(const KvCache& kv, const model::ModelConfig& c, int layer,
                                float tol) {
  const kernels::KvView view = kv.View(layer);
  std::vector<int32_t> present;
  for (int64_t s = 0; s < view.num_slots; ++s) {
    const int32_t p = view.pos[s];
    if (p < 0) continue;
    present.push_back(p);
    const auto kr = ReadRow(view, view.k, s, c.num_kv_heads[layer], c.head_dim[layer]);
    const auto vr = ReadRow(view, view.v, s, c.num_kv_heads[layer], c.head_dim[layer]);
    for (size_t e = 0; e < kr.size(); ++e) {
      EXPECT_NEAR(kr[e], KValue(layer, p, e), tol) << "layer " << layer << " pos " << p;
      EXPECT_NEAR(vr[e], VValue(layer, p, e), tol) << "layer " << layer << " pos " << p;
    }
  }
  std::sort(present.begin(), present.end());
  return present;
}

std::vector<int32_t> Range(int32_t a, int32_t b) {
  std::vector<int32_t> r;
  for (int32_t i = a; i < b; ++i) r.push_back(i);
  return r;
}

class KvTypeTest : public ::testing::TestWithParam<GgmlType> {};

TEST_P(KvTypeTest, StoreViewRoundTrip) {
  const auto c = TinyConfig();
  KvCacheOptions o;
  o.type = GetParam();
  o.max_context = 100;
  o.max_batch = 8;
  auto kv = KvCache::Create(c, o);
  ASSERT_TRUE(kv.ok()) << kv.status().ToString();
  ASSERT_TRUE(StoreAll(kv->get(), c, 0, 8).ok());
  ASSERT_TRUE(StoreAll(kv->get(), c, 8, 3).ok());
  EXPECT_EQ((*kv)->length(), 11);
  const float tol = GetParam() == GgmlType::kF32    ? 0.0f
                    : GetParam() == GgmlType::kF16  ? 1e-3f
                    : GetParam() == GgmlType::kBF16 ? 8e-3f
                                                    : 1e-2f;
  for (int l = 0; l < 3; ++l) EXPECT_EQ(CheckLayer(**kv, c, l, tol), Range(0, 11));
  const auto view = (*kv)->View(1);
  EXPECT_EQ(view.type, GetParam());
  EXPECT_EQ(view.num_slots, 11);
  EXPECT_EQ(view.head_stride, tensor::RowBytes(GetParam(), 64));
  EXPECT_EQ(view.block, nullptr);
  EXPECT_EQ((*kv)->View(3).num_slots, 0);  // kv_shared
  EXPECT_GT((*kv)->bytes_used(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Types, KvTypeTest,
                         ::testing::Values(GgmlType::kF32, GgmlType::kF16, GgmlType::kBF16,
                                           GgmlType::kQ8_0));

TEST(KvCacheTest, RingKeepsWindowMinusOnePlusMaxBatch) {
  const auto c = TinyConfig(16);
  KvCacheOptions o;
  o.type = GgmlType::kF32;
  o.max_context = 1000;
  o.max_batch = 5;
  auto kv = KvCache::Create(c, o).value();
  EXPECT_EQ(kv->capacity(0), 16 - 1 + 5);
  EXPECT_EQ(kv->capacity(1), 1000);
  EXPECT_EQ(kv->capacity(3), 0);
  int64_t at = 0;
  std::mt19937 rng(3);
  while (at < 137) {
    const int64_t n = std::min<int64_t>(1 + rng() % 5, 137 - at);
    ASSERT_TRUE(StoreAll(kv.get(), c, at, n).ok());
    at += n;
    // The ring holds exactly the last window - 1 + max_batch positions.
    EXPECT_EQ(CheckLayer(*kv, c, 0, 0.0f), Range(std::max<int32_t>(0, at - 20), at));
  }
  EXPECT_EQ(CheckLayer(*kv, c, 1, 0.0f), Range(0, 137));
  EXPECT_EQ(kv->View(0).num_slots, 20);
}

TEST(KvCacheTest, TruncateThenStoreAgain) {
  const auto c = TinyConfig(16);
  KvCacheOptions o;
  o.type = GgmlType::kF16;
  o.max_context = 200;
  o.max_batch = 4;
  auto kv = KvCache::Create(c, o).value();
  ASSERT_TRUE(StoreAll(kv.get(), c, 0, 4).ok());
  // Before the ring wraps any rollback is fine.
  ASSERT_TRUE(kv->Truncate(1).ok());
  EXPECT_EQ(kv->length(), 1);
  EXPECT_EQ(CheckLayer(*kv, c, 0, 1e-3f), Range(0, 1));
  EXPECT_EQ(CheckLayer(*kv, c, 1, 1e-3f), Range(0, 1));
  for (int64_t at = 1; at < 60; at += 4) ASSERT_TRUE(StoreAll(kv.get(), c, at, 4).ok());
  EXPECT_EQ(kv->length(), 61);
  // Rolling back max_batch positions keeps the full window of the next query (position 57).
  ASSERT_TRUE(kv->Truncate(57).ok());
  EXPECT_EQ(CheckLayer(*kv, c, 0, 1e-3f), Range(42, 57));
  EXPECT_EQ(CheckLayer(*kv, c, 1, 1e-3f), Range(0, 57));
  ASSERT_TRUE(StoreAll(kv.get(), c, 57, 3).ok());
  // Position 41 went when 60 was stored (before the rollback).
  EXPECT_EQ(CheckLayer(*kv, c, 0, 1e-3f), Range(42, 60));
  EXPECT_EQ(CheckLayer(*kv, c, 2, 1e-3f), Range(42, 60));
  // Position 56 would attend to 41: gone.
  const Status st = kv->Truncate(56);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("max_batch = 4"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("position 41"), std::string::npos) << st.message();
  EXPECT_EQ(kv->length(), 60);
  EXPECT_TRUE(kv->Truncate(57).ok());
  EXPECT_FALSE(kv->Truncate(58).ok());  // beyond length
  EXPECT_FALSE(kv->Truncate(-1).ok());
  kv->Clear();
  EXPECT_EQ(kv->length(), 0);
  EXPECT_EQ(CheckLayer(*kv, c, 0, 0.0f).size(), 0u);
  ASSERT_TRUE(StoreAll(kv.get(), c, 0, 2).ok());
  EXPECT_EQ(CheckLayer(*kv, c, 0, 1e-3f), Range(0, 2));
}

TEST(KvCacheTest, Errors) {
  const auto c = TinyConfig();
  KvCacheOptions o;
  o.type = GgmlType::kF32;
  o.max_context = 10;
  o.max_batch = 4;
  auto kv = KvCache::Create(c, o).value();
  ASSERT_TRUE(StoreAll(kv.get(), c, 0, 4).ok());
  ASSERT_TRUE(StoreAll(kv.get(), c, 4, 4).ok());
  Status st = StoreRange(kv.get(), c, 0, 8, 3);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("position 10"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("max_context 10"), std::string::npos) << st.message();
  EXPECT_EQ(CheckLayer(*kv, c, 0, 0.0f), Range(0, 8));  // nothing stored
  st = StoreRange(kv.get(), c, 0, 8, 5);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("max_batch (4)"), std::string::npos) << st.message();
  EXPECT_FALSE(StoreRange(kv.get(), c, 0, 3, 1).ok());  // position already stored
  EXPECT_FALSE(StoreRange(kv.get(), c, 3, 0, 1).ok());  // kv_shared
  std::vector<float> row(64, 0.0f);
  const int32_t p0 = 8;
  EXPECT_FALSE(kv->Store(7, 1, &p0, nullptr, row.data(), row.data()).ok());  // no such layer

  o.type = GgmlType::kQ4_0;
  EXPECT_FALSE(KvCache::Create(c, o).ok());
  o.type = GgmlType::kF16;
  o.max_batch = 0;
  EXPECT_FALSE(KvCache::Create(c, o).ok());
  o.max_batch = 4;
  o.max_context = 0;
  EXPECT_FALSE(KvCache::Create(c, o).ok());
  o.max_context = 10;
  o.max_batch = 64;  // capped at max_context
  auto capped = KvCache::Create(c, o);
  ASSERT_TRUE(capped.ok());
  EXPECT_EQ((*capped)->options().max_batch, 10);
  EXPECT_EQ((*capped)->capacity(0), 10);
  auto c2 = TinyConfig();
  c2.head_dim = {48, 64, 48, 64};
  o.max_context = 10;
  o.type = GgmlType::kQ8_0;
  auto bad = KvCache::Create(c2, o);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("head_dim 48"), std::string::npos);
  EXPECT_TRUE(ParseKvType("q8_0").ok());
  EXPECT_FALSE(ParseKvType("q4").ok());
}

TEST(KvCacheTest, GapsAndBlocks) {
  const auto c = TinyConfig();
  KvCacheOptions o;
  o.type = GgmlType::kF32;
  o.max_context = 64;
  o.max_batch = 4;
  auto kv = KvCache::Create(c, o).value();
  const int64_t w = 64;
  std::vector<float> k(2 * w, 1.0f), v(2 * w, 2.0f);
  const int32_t pos[2] = {3, 6};
  const int32_t block[2] = {-1, 7};
  ASSERT_TRUE(kv->Store(1, 2, pos, block, k.data(), v.data()).ok());
  const auto view = kv->View(1);
  EXPECT_EQ(view.num_slots, 7);
  for (int s = 0; s < 7; ++s) EXPECT_EQ(view.pos[s], s == 3 || s == 6 ? s : -1) << s;
  ASSERT_NE(view.block, nullptr);
  EXPECT_EQ(view.block[6], 7);
  EXPECT_EQ(kv->length(), 7);
}

TEST(KvCacheTest, FullLayersReserveAddressSpaceNotMemory) {
  const auto c = TinyConfig();
  KvCacheOptions o;
  o.type = GgmlType::kF32;
  o.max_context = 1 << 20;
  o.max_batch = 8;
  auto kv = KvCache::Create(c, o).value();
  EXPECT_GT(kv->bytes_reserved(), uint64_t{1} << 29);
  ASSERT_TRUE(StoreAll(kv.get(), c, 0, 8).ok());
  EXPECT_LT(kv->bytes_used(), uint64_t{1} << 20);
}

}  // namespace
}  // namespace loom::runtime
