// Helpers shared by the config readers (config_hf.cc, config_gguf.cc). Not part of the public
// API of loom_model.
#ifndef LOOM_MODEL_CONFIG_INTERNAL_H_
#define LOOM_MODEL_CONFIG_INTERNAL_H_

#include <cstdint>
#include <string_view>

#include "base/status.h"
#include "model/config.h"

namespace loom::model::internal {

// The architecture families loom's generic decoder knows. A reader maps its model_type or
// general.architecture string to one of these and then fills the config from data only.
enum class Family { kGemma3, kGemma4 };

// Sets the per-family constants that no file states explicitly: norm placement, QK/V norms,
// the learned layer scalar, the attention scale of Gemma 4 and the activation.
void ApplyFamilyFlags(Family family, ModelConfig* config);

// Range check on a count read from a file before it sizes anything (per-layer vectors are
// allocated from num_hidden_layers). `field` names the count in the message.
Status CheckCount(std::string_view field, int64_t value, int64_t limit);

// Fills layer_types for "every `period`-th layer is full" (layer l is sliding unless
// (l + 1) % period == 0), the default of transformers' Gemma 3/4 configs. period 1: all full.
void FillPeriodicLayerTypes(int64_t num_layers, int64_t period, ModelConfig* config);

// Resizes the per-layer vectors to num_layers (after layer_types is filled): head_dim and
// num_kv_heads from the per-type values, k_eq_v false, kv_shared false.
void FillPerLayerShapes(int64_t head_dim_sliding, int64_t head_dim_full, int64_t kv_sliding,
                        int64_t kv_full, ModelConfig* config);

}  // namespace loom::model::internal

#endif  // LOOM_MODEL_CONFIG_INTERNAL_H_
