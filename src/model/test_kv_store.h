// Test-only KvStore: a growing f32 cache that keeps every position of every layer, in
// position order (enough for the goldens; runtime::KvCache has the rings and narrower types).
// With `round` other than F32, stored values are rounded through that type, so a test can
// compare KvCache against exactly the values it holds. Header-only, so it is not part of any
// library.
#ifndef LOOM_MODEL_TEST_KV_STORE_H_
#define LOOM_MODEL_TEST_KV_STORE_H_

#include <cstdint>
#include <vector>

#include "base/status.h"
#include "kernels/attention.h"
#include "model/config.h"
#include "model/kv.h"
#include "tensor/quant.h"

namespace loom::model {

class TestKvStore : public KvStore {
 public:
  explicit TestKvStore(const ModelConfig& c, tensor::GgmlType round = tensor::GgmlType::kF32)
      : layers_(static_cast<size_t>(c.num_layers)), round_(round) {
    for (size_t l = 0; l < layers_.size(); ++l) {
      layers_[l].head_dim = c.head_dim[l];
      layers_[l].width = c.num_kv_heads[l] * c.head_dim[l];
    }
  }

  Status Store(int layer, int64_t n, const int32_t* pos, const int32_t* block, const float* k,
               const float* v) override {
    if (layer < 0 || static_cast<size_t>(layer) >= layers_.size()) {
      return InvalidArgument("layer ", layer, " out of range");
    }
    Layer& L = layers_[static_cast<size_t>(layer)];
    if (!L.pos.empty() && pos[0] <= L.pos.back()) {
      return InvalidArgument("position ", pos[0], " not after ", L.pos.back());
    }
    const size_t at = L.k.size();
    L.k.insert(L.k.end(), k, k + n * L.width);
    L.v.insert(L.v.end(), v, v + n * L.width);
    for (int64_t i = 0; i < n; ++i) {
      L.pos.push_back(pos[i]);
      L.block.push_back(block != nullptr ? block[i] : -1);
    }
    if (round_ != tensor::GgmlType::kF32) {
      std::vector<uint8_t> q(tensor::RowBytes(round_, L.width));
      for (float* x : {L.k.data() + at, L.v.data() + at}) {
        for (int64_t i = 0; i < n; ++i) {
          tensor::QuantizeRow(round_, x + i * L.width, q.data(), L.width);
          tensor::DequantizeRow(round_, q.data(), x + i * L.width, L.width);
        }
      }
    }
    return Status::Ok();
  }

  kernels::KvView View(int layer) const override {
    const Layer& L = layers_[static_cast<size_t>(layer)];
    kernels::KvView view;
    view.type = tensor::GgmlType::kF32;
    view.k = L.k.data();
    view.v = L.v.data();
    view.num_slots = static_cast<int64_t>(L.pos.size());
    view.slot_stride = static_cast<size_t>(L.width) * sizeof(float);
    view.head_stride = static_cast<size_t>(L.head_dim) * sizeof(float);
    view.pos = L.pos.data();
    view.block = L.block.data();
    return view;
  }

 private:
  struct Layer {
    int64_t head_dim = 0, width = 0;
    std::vector<float> k, v;
    std::vector<int32_t> pos, block;
  };
  std::vector<Layer> layers_;
  tensor::GgmlType round_;
};

}  // namespace loom::model

#endif  // LOOM_MODEL_TEST_KV_STORE_H_
