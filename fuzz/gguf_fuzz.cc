// Fuzz target for the GGUF reader: parses with require_tensor_data and, when the file is
// accepted, exercises every getter on every key and reads every tensor's bytes, so a view that
// points outside the input shows up under ASan. Seeds: fuzz/corpus/gguf/ (written by
// GgufFuzzSeeds.DISABLED_WriteFuzzSeeds and fuzz/make_gguf_py_reference.py).
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "formats/gguf/gguf.h"
#include "model/config.h"

namespace {

// Reads every element of an array value, nested arrays included.
uint64_t Walk(const loom::gguf::Value& v) {
  uint64_t sum = 0;
  if (v.type != loom::gguf::ValueType::kArray) return v.str.size();
  for (uint64_t i = 0; i < v.count && !v.packed.empty(); ++i) {
    sum += static_cast<uint64_t>(v.IntAt(i));
    sum += v.FloatAt(i) > 0 ? 1 : 0;
  }
  for (std::string_view s : v.strings) sum += s.empty() ? 0 : static_cast<uint8_t>(s.back());
  for (const loom::gguf::Value& inner : v.arrays) sum += Walk(inner);
  return sum;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto file =
      loom::gguf::Parse(std::span<const uint8_t>(data, size), {.require_tensor_data = true});
  if (!file.ok()) return 0;
  volatile uint64_t sink = 0;
  std::string s;
  uint64_t u;
  int64_t i;
  double d;
  bool b;
  std::vector<int64_t> ints;
  std::vector<double> floats;
  std::vector<std::string_view> strings;
  for (const loom::gguf::KeyValue& kv : file->metadata()) {
    // Each getter either succeeds or reports a Status; neither may read out of bounds.
    if (file->GetString(kv.key, &s).ok()) sink = sink + s.size();
    if (file->GetUint(kv.key, &u).ok()) sink = sink + u;
    if (file->GetInt(kv.key, &i).ok()) sink = sink + static_cast<uint64_t>(i);
    if (file->GetFloat(kv.key, &d).ok()) sink = sink + (d > 0);
    if (file->GetBool(kv.key, &b).ok()) sink = sink + b;
    if (file->GetIntArray(kv.key, &ints).ok()) sink = sink + ints.size();
    if (file->GetFloatArray(kv.key, &floats).ok()) sink = sink + floats.size();
    if (file->GetStringArray(kv.key, &strings).ok()) sink = sink + strings.size();
    sink = sink + Walk(kv.value);
    if (file->Find(kv.key) != &kv.value) __builtin_trap();
  }
  for (const loom::gguf::TensorInfo& t : file->tensors()) {
    std::span<const uint8_t> bytes = file->TensorData(t);
    // require_tensor_data promises every tensor's bytes are inside the input.
    if (bytes.size() != t.n_bytes) __builtin_trap();
    if (!bytes.empty()) sink = sink + bytes.front() + bytes.back();
    if (file->FindTensor(t.name) != &t) __builtin_trap();
  }
  // The config reader runs on every accepted file; a config it returns must validate or fail
  // cleanly, and the size arithmetic on a valid one must not overflow.
  auto config = loom::model::ConfigFromGguf(*file);
  if (config.ok() && config->Validate().ok()) {
    sink = sink + loom::model::CountParams(*config).total();
    sink = sink + loom::model::PlanKvCache(*config, 1 << 20, 2).total();
  }
  return 0;
}
