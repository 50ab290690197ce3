// Fuzz target for the config.json reader: the bytes are a config.json. Parsed strictly, read
// into a ModelConfig, validated, then counted and planned at a 1M-token context. CountParams and
// PlanKvCache run on every config the reader accepts (they must be safe on unvalidated ones);
// on a validated config they must not even saturate, since the kMax* limits bound every product.
// Seeds: fuzz/corpus/config/ (the published Gemma 4 12B configs and small variants).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <string_view>

#include "formats/json.h"
#include "model/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto root = loom::json::ParseStrict(text, "config.json");
  if (!root.ok()) return 0;
  auto config = loom::model::ConfigFromHfJson(*root);
  if (!config.ok()) {
    volatile size_t sink = config.status().ToString().size();
    (void)sink;
    return 0;
  }
  const bool valid = config->Validate().ok();
  const loom::model::ParamCount params = loom::model::CountParams(*config);
  const loom::model::KvPlan plan = loom::model::PlanKvCache(*config, uint64_t{1} << 20, 2);
  constexpr uint64_t kSaturated = std::numeric_limits<uint64_t>::max();
  if (valid &&
      (params.text == kSaturated || params.vision == kSaturated || params.audio == kSaturated ||
       plan.sliding_bytes == kSaturated || plan.full_bytes == kSaturated)) {
    std::abort();  // a validated config overflowed: a limit in Validate() is missing
  }
  if (valid) {
    volatile int64_t sink = config->num_layers_of(loom::model::AttentionType::kFull);
    for (loom::model::AttentionType t : config->layer_types) {
      sink = sink + loom::model::AttentionTypeName(t)[0];
    }
    (void)sink;
  }
  return 0;
}
