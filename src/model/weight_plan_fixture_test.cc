// The weight plan against real HF checkpoints: the committed tiny models were saved by
// transformers itself (tests/fixtures, `make fixtures`), so every name and shape the plan
// derives from config.json must be exactly what the checkpoint holds.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "formats/safetensors/safetensors.h"
#include "model/weight_plan.h"

namespace loom::model {
namespace {

class WeightPlanFixtureTest : public testing::TestWithParam<const char*> {};

TEST_P(WeightPlanFixtureTest, PlanEqualsCheckpoint) {
  const std::string dir = std::string(LOOM_SOURCE_DIR) + "/tests/fixtures/models/" + GetParam();
  auto config = LoadHfConfig(dir + "/config.json");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  ASSERT_TRUE(config->Validate().ok()) << config->Validate().ToString();
  auto ckpt = safetensors::OpenCheckpoint(dir);
  ASSERT_TRUE(ckpt.ok()) << ckpt.status().ToString();

  std::map<std::string, std::vector<uint64_t>> stored;
  for (const safetensors::TensorInfo* t : ckpt->tensors()) stored[t->name] = t->shape;
  for (const WeightSpec& w : ExpectedWeights(*config)) {
    auto it = stored.find(w.name);
    if (it == stored.end()) {
      ADD_FAILURE() << "planned but not in the checkpoint: " << w.name;
      continue;
    }
    EXPECT_EQ(it->second, w.shape) << w.name;
    stored.erase(it);
  }
  for (const auto& [name, shape] : stored)
    ADD_FAILURE() << "in the checkpoint, not planned: " << name;
}

INSTANTIATE_TEST_SUITE_P(TinyModels, WeightPlanFixtureTest,
                         testing::Values("tiny-gemma4", "tiny-gemma4-bf16", "tiny-gemma4-assistant",
                                         "tiny-gemma3"),
                         [](const testing::TestParamInfo<const char*>& param) {
                           std::string s = param.param;
                           for (char& c : s) {
                             if (c == '-') c = '_';
                           }
                           return s;
                         });

}  // namespace
}  // namespace loom::model
