// Fuzz target for the safetensors parser: Parse must refuse or accept any bytes without a crash,
// every accepted span must lie inside the input, and what Parse accepts must survive a
// Serialize/Parse round trip unchanged.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "formats/safetensors/safetensors.h"

namespace {

void Require(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "safetensors_fuzz: invariant failed: %s\n", what);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace st = loom::safetensors;
  std::span<const uint8_t> bytes(data, size);
  auto file = st::Parse(bytes);
  auto header_only = st::ParseHeaderOnly(bytes, size);
  Require(file.ok() == header_only.ok(), "Parse and ParseHeaderOnly agree");
  if (!file.ok()) return 0;

  // Touch every byte of every span: ASan reports any span reaching outside the input.
  volatile uint8_t sink = 0;
  std::vector<st::TensorToWrite> rewrite;
  for (const st::TensorInfo& t : file->tensors()) {
    for (uint8_t b : t.data) sink = sink ^ b;
    Require(t.data.size() == t.end - t.begin, "span size matches offsets");
    Require(t.data.size() == t.n_elements * st::DTypeSize(t.dtype), "size = elements x width");
    Require(file->Find(t.name) == &t, "Find returns the tensor");
    rewrite.push_back({t.name, t.dtype, t.shape, t.data});
  }

  // Tensors come sorted by offset, so writing them back in that order reproduces the layout.
  auto again = st::Serialize(rewrite, file->metadata());
  Require(again.ok(), "Serialize accepts what Parse accepted");
  auto reparsed = st::Parse(*again);
  Require(reparsed.ok(), "Parse accepts what Serialize wrote");
  Require(reparsed->metadata() == file->metadata(), "metadata round trip");
  Require(reparsed->tensors().size() == file->tensors().size(), "tensor count round trip");
  for (size_t i = 0; i < file->tensors().size(); ++i) {
    const st::TensorInfo& a = file->tensors()[i];
    const st::TensorInfo& b = reparsed->tensors()[i];
    Require(a.name == b.name && a.dtype == b.dtype && a.shape == b.shape && a.begin == b.begin &&
                a.end == b.end,
            "tensor round trip");
  }
  return 0;
}
