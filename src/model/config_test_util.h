// Shared by config_test.cc and config_gguf_test.cc.
#ifndef LOOM_MODEL_CONFIG_TEST_UTIL_H_
#define LOOM_MODEL_CONFIG_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "model/config.h"

namespace loom::model::testing {

inline std::string SharedPath(const std::string& rel) {
  return std::string(LOOM_SHARED_DIR) + "/" + rel;
}

inline std::string FullAt(std::initializer_list<int> full, int n) {
  std::string s(static_cast<size_t>(n), 's');
  for (int l : full) s[static_cast<size_t>(l)] = 'f';
  return s;
}

// "ssssf..." for a layer_types vector, so a mismatch prints readably.
inline std::string Pattern(const ModelConfig& c) {
  std::string s;
  for (AttentionType t : c.layer_types) s += t == AttentionType::kFull ? 'f' : 's';
  return s;
}

// Field-by-field comparison; `skip` names the fields that legitimately differ. Doubles compare
// as float: GGUF stores eps and thetas as float32.
inline void ExpectSameConfig(const ModelConfig& a, const ModelConfig& b,
                             const std::set<std::string>& skip) {
#define LOOM_CMP(f)              \
  do {                           \
    if (!skip.count(#f)) {       \
      EXPECT_EQ(a.f, b.f) << #f; \
    }                            \
  } while (0)
#define LOOM_CMPF(f)                                                           \
  do {                                                                         \
    if (!skip.count(#f)) {                                                     \
      EXPECT_FLOAT_EQ(static_cast<float>(a.f), static_cast<float>(b.f)) << #f; \
    }                                                                          \
  } while (0)
  LOOM_CMP(architecture);
  LOOM_CMP(is_drafter);
  LOOM_CMP(vocab_size);
  LOOM_CMP(hidden_size);
  LOOM_CMP(num_layers);
  LOOM_CMP(intermediate_size);
  LOOM_CMP(num_heads);
  LOOM_CMP(max_position_embeddings);
  LOOM_CMP(sliding_window);
  if (!skip.count("layer_types")) {
    EXPECT_EQ(Pattern(a), Pattern(b)) << "layer_types";
  }
  LOOM_CMP(head_dim);
  LOOM_CMP(num_kv_heads);
  LOOM_CMP(k_eq_v);
  LOOM_CMP(kv_shared);
  LOOM_CMP(rope_sliding.type);
  LOOM_CMPF(rope_sliding.theta);
  LOOM_CMPF(rope_sliding.partial_rotary_factor);
  LOOM_CMPF(rope_sliding.scaling_factor);
  LOOM_CMP(rope_full.type);
  LOOM_CMPF(rope_full.theta);
  LOOM_CMPF(rope_full.partial_rotary_factor);
  LOOM_CMPF(rope_full.scaling_factor);
  LOOM_CMPF(rms_norm_eps);
  LOOM_CMP(norm_weight);
  LOOM_CMP(qk_norm);
  LOOM_CMP(v_norm);
  LOOM_CMP(layer_scalar);
  LOOM_CMPF(attention_scale);
  LOOM_CMPF(attn_logit_softcap);
  LOOM_CMPF(final_logit_softcap);
  LOOM_CMP(tie_word_embeddings);
  LOOM_CMP(activation);
  LOOM_CMP(bidirectional);
  LOOM_CMP(hidden_size_per_layer_input);
  LOOM_CMP(enable_moe);
  LOOM_CMP(backbone_hidden_size);
  LOOM_CMP(pad_token_id);
  LOOM_CMP(bos_token_id);
  LOOM_CMP(eos_token_ids);
  LOOM_CMP(image_token_id);
  LOOM_CMP(audio_token_id);
  LOOM_CMP(video_token_id);
  LOOM_CMP(boi_token_id);
  LOOM_CMP(eoi_token_id);
  LOOM_CMP(boa_token_id);
  LOOM_CMP(eoa_token_id);
  LOOM_CMP(vision.present);
  LOOM_CMP(audio.present);
  if (a.vision.present && b.vision.present) {
    LOOM_CMP(vision.patch_size);
    LOOM_CMP(vision.pooling_kernel_size);
    LOOM_CMP(vision.model_patch_size);
    LOOM_CMP(vision.patch_dim);
    LOOM_CMP(vision.mm_embed_dim);
    LOOM_CMP(vision.posemb_size);
    LOOM_CMP(vision.default_soft_tokens);
    LOOM_CMPF(vision.rms_norm_eps);
    LOOM_CMPF(vision.layer_norm_eps);
  }
  if (a.audio.present && b.audio.present) {
    LOOM_CMP(audio.samples_per_token);
    LOOM_CMPF(audio.rms_norm_eps);
  }
#undef LOOM_CMP
#undef LOOM_CMPF
}

// The shape of gemma-3-270m, shared by the HF-config and GGUF tests (the two sources must agree).
inline void ExpectGemma3_270mShape(const ModelConfig& c) {
  EXPECT_EQ(c.hidden_size, 640);
  EXPECT_EQ(c.num_layers, 18);
  EXPECT_EQ(c.num_heads, 4);
  EXPECT_EQ(c.num_kv_heads, std::vector<int64_t>(18, 1));
  EXPECT_EQ(c.head_dim, std::vector<int64_t>(18, 256));
  EXPECT_EQ(c.intermediate_size, 2048);
  EXPECT_EQ(c.sliding_window, 512);
  EXPECT_EQ(c.vocab_size, 262144);
  EXPECT_EQ(c.max_position_embeddings, 32768);
  EXPECT_EQ(Pattern(c), FullAt({5, 11, 17}, 18));
}

}  // namespace loom::model::testing

#endif  // LOOM_MODEL_CONFIG_TEST_UTIL_H_
