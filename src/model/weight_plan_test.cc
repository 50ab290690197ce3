#include "model/weight_plan.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace loom::model {
namespace {

std::string SharedPath(const std::string& rel) { return std::string(LOOM_SHARED_DIR) + "/" + rel; }

uint64_t SumElements(const std::vector<WeightSpec>& w) {
  uint64_t n = 0;
  for (const auto& s : w) n += s.elements();
  return n;
}

TEST(WeightPlanTest, Gemma4UnifiedMatchesSpecTensorList) {
  auto config = LoadHfConfig(SharedPath("reference/gemma-4-12B-it/config.json"));
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  std::vector<WeightSpec> w = ExpectedWeights(*config);
  // The weight list and the parameter count are computed independently; they must agree.
  EXPECT_EQ(SumElements(w), CountParams(*config).total());
  EXPECT_EQ(SumElements(w), 11959730224ull);

  std::set<std::string> names;
  for (const auto& s : w) EXPECT_TRUE(names.insert(s.name).second) << "duplicate " << s.name;
  // SPEC §9: 14 tensors per sliding layer, 13 per full layer (no v_proj), embed + final norm;
  // SPEC §3.5: 11 non-text tensors.
  EXPECT_EQ(w.size(), 40u * 14 + 8u * 13 + 2 + 11);
  auto find = [&](const std::string& n) -> const WeightSpec* {
    for (const auto& s : w) {
      if (s.name == n) return &s;
    }
    return nullptr;
  };
  const std::string p = "model.language_model.";
  ASSERT_NE(find(p + "layers.0.self_attn.v_proj.weight"), nullptr);
  EXPECT_EQ(find(p + "layers.5.self_attn.v_proj.weight"), nullptr);  // k_eq_v on full layers
  EXPECT_EQ(find(p + "layers.5.self_attn.q_proj.weight")->shape,
            (std::vector<uint64_t>{8192, 3840}));
  EXPECT_EQ(find(p + "layers.5.self_attn.k_proj.weight")->shape,
            (std::vector<uint64_t>{512, 3840}));
  EXPECT_EQ(find(p + "layers.0.self_attn.k_proj.weight")->shape,
            (std::vector<uint64_t>{2048, 3840}));
  EXPECT_EQ(find(p + "layers.47.self_attn.o_proj.weight")->shape,
            (std::vector<uint64_t>{3840, 8192}));
  EXPECT_EQ(find(p + "layers.3.layer_scalar")->shape, (std::vector<uint64_t>{1}));
  EXPECT_EQ(find("model.vision_embedder.patch_dense.weight")->shape,
            (std::vector<uint64_t>{3840, 6912}));
  EXPECT_EQ(find("model.vision_embedder.pos_embedding")->shape,
            (std::vector<uint64_t>{1120, 2, 3840}));
  EXPECT_EQ(find("model.embed_audio.embedding_projection.weight")->shape,
            (std::vector<uint64_t>{3840, 640}));
  EXPECT_EQ(find("lm_head.weight"), nullptr);  // tied
}

TEST(WeightPlanTest, DrafterMatchesSpec) {
  auto config = LoadHfConfig(SharedPath("reference/gemma-4-12B-it-assistant/config.json"));
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  std::vector<WeightSpec> w = ExpectedWeights(*config);
  EXPECT_EQ(SumElements(w), CountParams(*config).total());
  bool has_pre = false, has_kv = false;
  for (const auto& s : w) {
    if (s.name == "pre_projection.weight") {
      has_pre = true;
      EXPECT_EQ(s.shape, (std::vector<uint64_t>{1024, 7680}));
    }
    if (s.name.find("k_proj") != std::string::npos || s.name.find("k_norm") != std::string::npos) {
      has_kv = true;
    }
  }
  EXPECT_TRUE(has_pre);
  EXPECT_FALSE(has_kv);  // SPEC §8.3: the drafter has no K/V projections or k_norm
}

TEST(WeightPlanTest, QuantizedSizes) {
  std::vector<WeightSpec> w = {
      {"m", {4096, 3840}, WeightRole::kMatrix},
      {"a", {3840, 640}, WeightRole::kMatrix},  // 640 is not a multiple of 256: Q8_0 fallback
      {"n", {3840}, WeightRole::kVector},
  };
  EXPECT_EQ(WeightBytesAs(w, gguf::GgmlType::kQ8_0),
            4096ull * 3840 / 32 * 34 + 3840ull * 640 / 32 * 34 + 3840 * 4);
  EXPECT_EQ(WeightBytesAs(w, gguf::GgmlType::kQ4_K),
            4096ull * 3840 / 256 * 144 + 3840ull * 640 / 32 * 34 + 3840 * 4);
}

}  // namespace
}  // namespace loom::model
