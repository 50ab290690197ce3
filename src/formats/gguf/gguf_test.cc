// GGUF reader/writer: round trips of every value type and tensor type, getters, writer checks,
// the gguf-py byte-for-byte comparison and the real Gemma 3 file (LOOM_TEST_GGUF). The
// corruption catalogue is in gguf_corruption_test.cc.
#include "formats/gguf/gguf.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "base/checked_math.h"
#include "formats/gguf/gguf_test_util.h"

namespace loom::gguf {
namespace {

using ::loom::gguf::testing::Bytes;
using ::loom::gguf::testing::Filled;

std::vector<uint8_t> ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Encoded value of an array of arrays: outer element type array, then each inner array as
// element type + count + elements.
std::vector<uint8_t> NestedInt32(const std::vector<std::vector<int32_t>>& rows) {
  Bytes b;
  b.U32(static_cast<uint32_t>(ValueType::kArray)).U64(rows.size());
  for (const auto& row : rows) {
    b.U32(static_cast<uint32_t>(ValueType::kInt32)).U64(row.size());
    for (int32_t v : row) b.I32(v);
  }
  return b.take();
}

TEST(GgufRoundTripTest, EveryScalarType) {
  Writer w;
  w.AddUint8("u8", 255);
  w.AddInt8("i8", -128);
  w.AddUint16("u16", 65535);
  w.AddInt16("i16", -32768);
  w.AddUint32("u32", 4294967295u);
  w.AddInt32("i32", std::numeric_limits<int32_t>::min());
  w.AddUint64("u64", std::numeric_limits<uint64_t>::max());
  w.AddInt64("i64", std::numeric_limits<int64_t>::min());
  w.AddFloat32("f32", -1.25f);
  w.AddFloat64("f64", 1e300);
  w.AddBool("t", true);
  w.AddBool("f", false);
  w.AddString("s", "h\xc3\xa9llo");
  w.AddString("empty", "");
  const std::vector<uint8_t> bytes = w.Serialize();
  auto file = Parse(bytes);
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  EXPECT_EQ(file->version(), 3u);
  EXPECT_EQ(file->alignment(), kDefaultAlignment);
  EXPECT_TRUE(file->tensors().empty());
  ASSERT_EQ(file->metadata().size(), 14u);
  // Insertion order is kept.
  const char* order[] = {"u8",  "i8",  "u16", "i16", "u32", "i32", "u64",
                         "i64", "f32", "f64", "t",   "f",   "s",   "empty"};
  for (size_t i = 0; i < 14; ++i) EXPECT_EQ(file->metadata()[i].key, order[i]);

  EXPECT_EQ(file->Find("u8")->type, ValueType::kUint8);
  EXPECT_EQ(file->Find("u8")->u64, 255u);
  EXPECT_EQ(file->Find("i8")->i64, -128);
  EXPECT_EQ(file->Find("u16")->u64, 65535u);
  EXPECT_EQ(file->Find("i16")->i64, -32768);
  EXPECT_EQ(file->Find("u32")->u64, 4294967295u);
  EXPECT_EQ(file->Find("i32")->i64, std::numeric_limits<int32_t>::min());
  EXPECT_EQ(file->Find("u64")->u64, std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(file->Find("i64")->i64, std::numeric_limits<int64_t>::min());
  EXPECT_EQ(file->Find("f32")->f64, -1.25);
  EXPECT_EQ(file->Find("f64")->f64, 1e300);
  EXPECT_EQ(file->Find("t")->u64, 1u);
  EXPECT_EQ(file->Find("f")->u64, 0u);
  EXPECT_EQ(file->Find("s")->str, "h\xc3\xa9llo");
  EXPECT_EQ(file->Find("empty")->str, "");
  EXPECT_EQ(file->Find("missing"), nullptr);
  for (const KeyValue& kv : file->metadata()) {
    EXPECT_EQ(kv.value.type, file->Find(kv.key)->type);
    EXPECT_NE(ValueTypeName(kv.value.type), std::string("invalid"));
  }
  // The header is padded even without tensors (as gguf-py does); the data section of a file
  // without tensors starts right after the header, as in gguf.cpp.
  EXPECT_EQ(bytes.size() % kDefaultAlignment, 0u);
  EXPECT_LE(file->data_offset(), bytes.size());
}

TEST(GgufRoundTripTest, ArraysIncludingNestedAndEmpty) {
  Writer w;
  w.AddUint32Array("u32s", {0, 1, 4294967295u});
  w.AddInt32Array("i32s", {-7, 0, 7});
  w.AddFloat32Array("f32s", {0.5f, -3.0f});
  w.AddBoolArray("bools", {true, false, true});
  w.AddStringArray("strs", {"a", "", "\xe2\x82\xac"});
  w.AddInt32Array("empty", {});
  w.AddStringArray("empty_strs", {});
  w.AddRaw("nested", ValueType::kArray, NestedInt32({{1, 2}, {}, {3}}));
  Bytes u64s;
  u64s.U32(static_cast<uint32_t>(ValueType::kUint64)).U64(2).U64(5).U64(~0ull);
  w.AddRaw("u64s", ValueType::kArray, u64s.take());
  Bytes f64s;
  f64s.U32(static_cast<uint32_t>(ValueType::kFloat64)).U64(1);
  double d = 2.75;
  uint64_t d_bits;
  std::memcpy(&d_bits, &d, 8);
  f64s.U64(d_bits);
  w.AddRaw("f64s", ValueType::kArray, f64s.take());
  Bytes i8s;
  i8s.U32(static_cast<uint32_t>(ValueType::kInt8)).U64(2).U8(0x80).U8(0x7f);
  w.AddRaw("i8s", ValueType::kArray, i8s.take());
  // Three levels: [[[1], []], []].
  Bytes deep;
  deep.U32(static_cast<uint32_t>(ValueType::kArray)).U64(2);
  deep.U32(static_cast<uint32_t>(ValueType::kArray)).U64(2);
  deep.U32(static_cast<uint32_t>(ValueType::kInt32)).U64(1).I32(1);
  deep.U32(static_cast<uint32_t>(ValueType::kUint8)).U64(0);
  deep.U32(static_cast<uint32_t>(ValueType::kString)).U64(0);
  w.AddRaw("deep", ValueType::kArray, deep.take());

  const std::vector<uint8_t> bytes = w.Serialize();
  auto file = Parse(bytes);
  ASSERT_TRUE(file.ok()) << file.status().ToString();

  const Value* v = file->Find("u32s");
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->type, ValueType::kArray);
  EXPECT_EQ(v->elem_type, ValueType::kUint32);
  EXPECT_EQ(v->count, 3u);
  EXPECT_EQ(v->packed.size(), 12u);
  EXPECT_EQ(v->IntAt(2), 4294967295);
  EXPECT_EQ(v->FloatAt(2), 4294967295.0);
  EXPECT_EQ(v->IntAt(3), 0);  // out of range reads as 0, never out of bounds

  std::vector<int64_t> ints;
  ASSERT_TRUE(file->GetIntArray("i32s", &ints).ok());
  EXPECT_EQ(ints, (std::vector<int64_t>{-7, 0, 7}));
  ASSERT_TRUE(file->GetIntArray("bools", &ints).ok());
  EXPECT_EQ(ints, (std::vector<int64_t>{1, 0, 1}));
  ASSERT_TRUE(file->GetIntArray("i8s", &ints).ok());
  EXPECT_EQ(ints, (std::vector<int64_t>{-128, 127}));
  ASSERT_TRUE(file->GetIntArray("empty", &ints).ok());
  EXPECT_TRUE(ints.empty());
  Status st = file->GetIntArray("u64s", &ints);
  EXPECT_EQ(st.code(), StatusCode::kOutOfRange) << st.ToString();
  EXPECT_NE(st.message().find("element 1"), std::string::npos) << st.message();

  std::vector<double> floats;
  ASSERT_TRUE(file->GetFloatArray("f32s", &floats).ok());
  EXPECT_EQ(floats, (std::vector<double>{0.5, -3.0}));
  ASSERT_TRUE(file->GetFloatArray("f64s", &floats).ok());
  EXPECT_EQ(floats, (std::vector<double>{2.75}));
  ASSERT_TRUE(file->GetFloatArray("i32s", &floats).ok());
  EXPECT_EQ(floats, (std::vector<double>{-7, 0, 7}));
  EXPECT_EQ(file->GetFloatArray("strs", &floats).code(), StatusCode::kInvalidArgument);

  std::vector<std::string_view> strs;
  ASSERT_TRUE(file->GetStringArray("strs", &strs).ok());
  EXPECT_EQ(strs, (std::vector<std::string_view>{"a", "", "\xe2\x82\xac"}));
  ASSERT_TRUE(file->GetStringArray("empty_strs", &strs).ok());
  EXPECT_TRUE(strs.empty());
  st = file->GetStringArray("i32s", &strs);
  EXPECT_EQ(st.message(), "key 'i32s' must be an array of strings but is array of int32");

  v = file->Find("nested");
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->elem_type, ValueType::kArray);
  ASSERT_EQ(v->arrays.size(), 3u);
  EXPECT_EQ(v->arrays[0].elem_type, ValueType::kInt32);
  EXPECT_EQ(v->arrays[0].count, 2u);
  EXPECT_EQ(v->arrays[0].IntAt(1), 2);
  EXPECT_EQ(v->arrays[1].count, 0u);
  EXPECT_EQ(v->arrays[2].IntAt(0), 3);
  EXPECT_EQ(file->GetIntArray("nested", &ints).code(), StatusCode::kInvalidArgument);

  v = file->Find("deep");
  ASSERT_NE(v, nullptr);
  ASSERT_EQ(v->arrays.size(), 2u);
  ASSERT_EQ(v->arrays[0].arrays.size(), 2u);
  EXPECT_EQ(v->arrays[0].arrays[0].IntAt(0), 1);
  EXPECT_EQ(v->arrays[0].arrays[1].elem_type, ValueType::kUint8);
  EXPECT_EQ(v->arrays[1].elem_type, ValueType::kString);
}

TEST(GgufRoundTripTest, NestingUpToTheLimitParses) {
  Bytes value;
  for (int level = 1; level < kMaxArrayNesting; ++level) {
    value.U32(static_cast<uint32_t>(ValueType::kArray)).U64(1);
  }
  value.U32(static_cast<uint32_t>(ValueType::kUint8)).U64(1).U8(42);
  Writer w;
  w.AddRaw("deep", ValueType::kArray, value.take());
  const auto bytes = w.Serialize();
  auto file = Parse(bytes);
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  const Value* v = file->Find("deep");
  for (int level = 1; level < kMaxArrayNesting; ++level) {
    ASSERT_EQ(v->arrays.size(), 1u);
    v = &v->arrays[0];
  }
  EXPECT_EQ(v->IntAt(0), 42);
}

TEST(GgufGetterTest, TypeChecksAndMessages) {
  Writer w;
  w.AddUint32("gemma3.block_count", 18);
  w.AddInt32("neg", -3);
  w.AddInt8("small", 5);
  w.AddUint64("huge", ~0ull);
  w.AddString("name", "gemma");
  w.AddFloat32("eps", 1e-6f);
  w.AddFloat64("base", 10000.0);
  w.AddBool("flag", true);
  w.AddInt32Array("arr", {1});
  const auto bytes = w.Serialize();
  auto file = Parse(bytes);
  ASSERT_TRUE(file.ok()) << file.status().ToString();

  uint64_t u = 0;
  int64_t i = 0;
  double d = 0;
  bool b = false;
  std::string s;
  EXPECT_TRUE(file->GetUint("gemma3.block_count", &u).ok());
  EXPECT_EQ(u, 18u);
  EXPECT_TRUE(file->GetUint("small", &u).ok());
  EXPECT_EQ(u, 5u);
  EXPECT_TRUE(file->GetUint("huge", &u).ok());
  EXPECT_EQ(u, ~0ull);
  Status st = file->GetUint("neg", &u);
  EXPECT_EQ(st.code(), StatusCode::kOutOfRange);
  EXPECT_EQ(st.message(), "key 'neg' is -3 but must be non-negative");
  EXPECT_TRUE(file->GetInt("neg", &i).ok());
  EXPECT_EQ(i, -3);
  EXPECT_TRUE(file->GetInt("gemma3.block_count", &i).ok());
  EXPECT_EQ(i, 18);
  EXPECT_EQ(file->GetInt("huge", &i).code(), StatusCode::kOutOfRange);
  st = file->GetUint("name", &u);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(st.message(), "key 'name' must be of an integer type but is string");
  st = file->GetString("gemma3.block_count", &s);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(st.message(), "key 'gemma3.block_count' must be of type string but is uint32");
  EXPECT_TRUE(file->GetString("name", &s).ok());
  EXPECT_EQ(s, "gemma");
  EXPECT_TRUE(file->GetFloat("eps", &d).ok());
  EXPECT_EQ(d, static_cast<double>(1e-6f));
  EXPECT_TRUE(file->GetFloat("base", &d).ok());
  EXPECT_EQ(d, 10000.0);
  st = file->GetFloat("flag", &d);
  EXPECT_EQ(st.message(), "key 'flag' must be of type float32 or float64 but is bool");
  EXPECT_TRUE(file->GetBool("flag", &b).ok());
  EXPECT_TRUE(b);
  st = file->GetBool("small", &b);
  EXPECT_EQ(st.message(), "key 'small' must be of type bool but is int8");
  st = file->GetUint("arr", &u);
  EXPECT_EQ(st.message(), "key 'arr' must be of an integer type but is array of int32");
  std::vector<int64_t> ints;
  st = file->GetIntArray("small", &ints);
  EXPECT_EQ(st.message(), "key 'small' must be an array of integers but is int8");
  for (Status missing :
       {file->GetUint("nope", &u), file->GetInt("nope", &i), file->GetFloat("nope", &d),
        file->GetBool("nope", &b), file->GetString("nope", &s), file->GetIntArray("nope", &ints)}) {
    EXPECT_EQ(missing.code(), StatusCode::kNotFound);
    EXPECT_EQ(missing.message(), "key 'nope' not found");
  }
}

// Every tensor type: the size arithmetic, the layout (offsets, padding, data section) and the
// bytes themselves survive a round trip.
TEST(GgufRoundTripTest, EveryTensorType) {
  for (uint32_t alignment : {1u, 8u, 32u, 64u, 4096u}) {
    SCOPED_TRACE(alignment);
    Writer w;
    w.AddString("general.architecture", "test");
    if (alignment != kDefaultAlignment) w.SetAlignment(alignment);
    std::map<std::string, std::vector<uint8_t>> data;
    std::map<std::string, uint64_t> elements;
    uint64_t expected_offset = 0;
    std::vector<std::pair<std::string, uint64_t>> offsets;
    for (uint32_t id = 0; id < 64; ++id) {
      const GgmlTypeInfo* info = GetGgmlTypeInfo(id);
      if (info == nullptr) continue;
      const std::string name = StrCat("t.", info->name);
      const std::vector<uint64_t> ne = {2ull * info->block_size, 3};
      const size_t n_bytes = 2 * 3 * info->type_size;
      data[name] = Filled(n_bytes, static_cast<uint8_t>(id));
      elements[name] = 6ull * info->block_size;
      ASSERT_TRUE(w.AddTensor(name, info->type, ne, data[name]).ok()) << name;
      offsets.emplace_back(name, expected_offset);
      expected_offset += *CheckedAlignUp(n_bytes, alignment);
    }
    const auto bytes = w.Serialize();
    auto file = Parse(bytes);
    ASSERT_TRUE(file.ok()) << file.status().ToString();
    EXPECT_EQ(file->alignment(), alignment);
    EXPECT_EQ(file->data_offset() % alignment, 0u);
    EXPECT_EQ(file->data_offset() + expected_offset, bytes.size());
    ASSERT_EQ(file->tensors().size(), 32u);
    for (size_t k = 0; k < offsets.size(); ++k) {
      const TensorInfo& t = file->tensors()[k];
      EXPECT_EQ(t.name, offsets[k].first);
      EXPECT_EQ(t.offset, offsets[k].second);
      EXPECT_EQ(t.n_dims, 2u);
      const GgmlTypeInfo& info = GetGgmlTypeInfo(t.type);
      EXPECT_EQ(t.ne[0], 2ull * info.block_size);
      EXPECT_EQ(t.ne[1], 3u);
      EXPECT_EQ(t.ne[2], 1u);
      EXPECT_EQ(t.ne[3], 1u);
      EXPECT_EQ(t.n_elements, elements[std::string(t.name)]);
      EXPECT_EQ(t.n_bytes, data[std::string(t.name)].size());
      auto got = file->TensorData(t);
      EXPECT_EQ(std::vector<uint8_t>(got.begin(), got.end()), data[std::string(t.name)]);
      EXPECT_EQ(file->FindTensor(t.name), &t);
    }
    // Padding bytes are zeros.
    const TensorInfo& first = file->tensors()[0];
    for (uint64_t p = file->data_offset() + first.n_bytes;
         p < file->data_offset() + file->tensors()[1].offset; ++p) {
      ASSERT_EQ(bytes[p], 0) << p;
    }
  }
}

TEST(GgufRoundTripTest, ShapesFromScalarToFourDims) {
  Writer w;
  ASSERT_TRUE(w.AddTensor("scalar", GgmlType::kF32, {}, Filled(4, 1)).ok());
  ASSERT_TRUE(w.AddTensor("v", GgmlType::kF16, {5}, Filled(10, 2)).ok());
  ASSERT_TRUE(w.AddTensor("m4", GgmlType::kI8, {2, 3, 4, 5}, Filled(120, 3)).ok());
  ASSERT_TRUE(w.AddTensor("zero", GgmlType::kQ4_K, {256, 0}, {}).ok());
  ASSERT_TRUE(w.AddTensor("after_zero", GgmlType::kBF16, {1, 1, 1}, Filled(2, 4)).ok());
  const auto bytes = w.Serialize();
  auto file = Parse(bytes);
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  const TensorInfo* t = file->FindTensor("scalar");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->n_dims, 0u);
  EXPECT_EQ(t->n_elements, 1u);
  EXPECT_EQ(t->n_bytes, 4u);
  t = file->FindTensor("m4");
  EXPECT_EQ(t->n_dims, 4u);
  EXPECT_EQ(t->ne, (std::array<uint64_t, 4>{2, 3, 4, 5}));
  EXPECT_EQ(t->n_elements, 120u);
  t = file->FindTensor("zero");
  EXPECT_EQ(t->n_elements, 0u);
  EXPECT_EQ(t->n_bytes, 0u);
  EXPECT_TRUE(file->TensorData(*t).empty());
  t = file->FindTensor("after_zero");
  EXPECT_EQ(t->offset, file->FindTensor("zero")->offset);  // a zero-byte tensor takes no room
  EXPECT_EQ(file->TensorData(*t)[0], Filled(2, 4)[0]);
  EXPECT_EQ(file->FindTensor("nope"), nullptr);
}

TEST(GgufRoundTripTest, Version2AndHeaderOnlyParse) {
  Writer w(2);
  w.AddString("general.architecture", "test");
  ASSERT_TRUE(w.AddTensor("a", GgmlType::kF32, {4, 4}, Filled(64, 9)).ok());
  auto bytes = w.Serialize();
  auto file = Parse(bytes);
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  EXPECT_EQ(file->version(), 2u);

  // Only the header: fails with require_tensor_data, parses without, and TensorData is empty.
  const size_t header_only = file->data_offset();
  bytes.resize(header_only - 5);
  EXPECT_FALSE(Parse(bytes).ok());
  auto header = Parse(bytes, {.require_tensor_data = false});
  ASSERT_TRUE(header.ok()) << header.status().ToString();
  EXPECT_EQ(header->tensors().size(), 1u);
  EXPECT_TRUE(header->TensorData(header->tensors()[0]).empty());
}

TEST(GgufWriterTest, RejectsBadTensors) {
  Writer w;
  const auto data = Filled(64, 0);
  ASSERT_TRUE(w.AddTensor("ok", GgmlType::kF32, {16}, data).ok());
  struct Case {
    std::string name;
    GgmlType type;
    std::vector<uint64_t> ne;
    size_t bytes;
    const char* expect;
  };
  const Case cases[] = {
      {"ok", GgmlType::kF32, {16}, 64, "duplicate tensor name 'ok'"},
      {"", GgmlType::kF32, {16}, 64, "tensor name is empty"},
      {std::string(64, 'x'), GgmlType::kF32, {16}, 64, "more than the limit of 63"},
      {"bad\xff", GgmlType::kF32, {16}, 64, "not valid UTF-8"},
      {"t", static_cast<GgmlType>(4), {16}, 64, "unknown ggml type 4"},
      {"t", GgmlType::kF32, {1, 1, 1, 1, 16}, 64, "5 dimensions"},
      {"t", GgmlType::kF32, {1ull << 63, 0}, 0, "more than the int64 maximum"},
      {"t", GgmlType::kF32, {1ull << 40, 1ull << 40}, 0, "overflows int64"},
      {"t", GgmlType::kQ8_0, {16}, 17, "not a multiple of the block size 32"},
      {"t", GgmlType::kF32, {15}, 64, "needs 60 bytes for its shape but 64 were given"},
      {"t", GgmlType::kF64, {1ull << 62}, 0, "needs too many bytes"},
  };
  for (const Case& c : cases) {
    std::vector<uint8_t> buf(c.bytes);
    Status st = w.AddTensor(c.name, c.type, c.ne, buf);
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << c.expect;
    EXPECT_NE(st.message().find(c.expect), std::string::npos) << st.message();
  }
  // Nothing but the first tensor was added.
  const auto bytes = w.Serialize();
  auto file = Parse(bytes);
  ASSERT_TRUE(file.ok());
  EXPECT_EQ(file->tensors().size(), 1u);
}

TEST(GgufWriterTest, RepeatedKeyIsReplacedInPlace) {
  Writer w;
  w.AddUint32("a", 1);
  w.AddString("b", "x");
  w.AddString("a", "now a string");
  w.SetAlignment(128);
  w.SetAlignment(16);
  const auto bytes = w.Serialize();
  auto file = Parse(bytes);
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  ASSERT_EQ(file->metadata().size(), 3u);
  EXPECT_EQ(file->metadata()[0].key, "a");
  EXPECT_EQ(file->metadata()[0].value.str, "now a string");
  EXPECT_EQ(file->metadata()[2].key, "general.alignment");
  EXPECT_EQ(file->alignment(), 16u);
  EXPECT_EQ(bytes.size() % 16, 0u);
}

TEST(GgufWriterTest, MatchesGgufPyByteForByte) {
  // fuzz/make_gguf_py_reference.py wrote this file with gguf-py; write the same content here.
  const std::string path =
      std::string(LOOM_SOURCE_DIR) + "/fuzz/corpus/gguf/gguf_py_reference.gguf";
  const std::vector<uint8_t> reference = ReadAll(path);
  ASSERT_FALSE(reference.empty()) << path;

  Writer w;
  w.AddString("general.architecture", "test");
  w.SetAlignment(64);
  w.AddUint8("test.u8", 200);
  w.AddInt8("test.i8", -5);
  w.AddUint16("test.u16", 65000);
  w.AddInt16("test.i16", -32000);
  w.AddUint32("test.u32", 4000000000u);
  w.AddInt32("test.i32", -2000000000);
  w.AddFloat32("test.f32", 1.5f);
  w.AddUint64("test.u64", ~0ull);
  w.AddInt64("test.i64", std::numeric_limits<int64_t>::min());
  w.AddFloat64("test.f64", -0.25);
  w.AddBool("test.bool", true);
  w.AddString("test.str", "h\xc3\xa9llo");
  w.AddUint32Array("test.u32s", {1, 2, 3});
  w.AddInt32Array("test.i32s", {-1, 0, 7});
  w.AddFloat32Array("test.f32s", {0.5f, -2.0f});
  w.AddBoolArray("test.bools", {true, false, true});
  w.AddStringArray("test.strs", {"a", "bc", ""});
  w.AddRaw("test.nested", ValueType::kArray, NestedInt32({{1, 2}, {3}}));
  std::vector<float> f32(16);
  for (int i = 0; i < 16; ++i) f32[i] = static_cast<float>(i) - 3.0f;
  std::vector<uint8_t> q8(68), i8(5);
  for (int i = 0; i < 68; ++i) q8[i] = static_cast<uint8_t>((i * 7 + 1) % 256);
  for (int i = 0; i < 5; ++i) i8[i] = static_cast<uint8_t>(i);
  ASSERT_TRUE(w.AddTensor("a.weight", GgmlType::kF32, {8, 2},
                          {reinterpret_cast<const uint8_t*>(f32.data()), 64})
                  .ok());
  ASSERT_TRUE(w.AddTensor("b.weight", GgmlType::kQ8_0, {32, 2}, q8).ok());
  ASSERT_TRUE(w.AddTensor("c.bias", GgmlType::kI8, {5}, i8).ok());
  EXPECT_EQ(w.Serialize(), reference);

  // And the reader reads gguf-py's file.
  auto file = Parse(reference);
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  EXPECT_EQ(file->metadata().size(), 20u);
  EXPECT_EQ(file->alignment(), 64u);
  std::string s;
  ASSERT_TRUE(file->GetString("test.str", &s).ok());
  EXPECT_EQ(s, "h\xc3\xa9llo");
  const TensorInfo* b = file->FindTensor("b.weight");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->type, GgmlType::kQ8_0);
  EXPECT_EQ(b->ne[0], 32u);
  EXPECT_EQ(b->ne[1], 2u);
  auto bd = file->TensorData(*b);
  EXPECT_EQ(std::vector<uint8_t>(bd.begin(), bd.end()), q8);
}

TEST(GgufFileTest, WriteFileAndOpen) {
  const std::string path = ::testing::TempDir() + "/gguf_test_open.gguf";
  Writer w;
  w.AddString("general.architecture", "test");
  ASSERT_TRUE(w.AddTensor("a", GgmlType::kF32, {2}, Filled(8, 5)).ok());
  ASSERT_TRUE(w.WriteFile(path).ok());
  {
    auto file = Open(path);
    ASSERT_TRUE(file.ok()) << file.status().ToString();
    // The File keeps the mapping alive after Open returns and after copies.
    File copy = *file;
    auto data = copy.TensorData(copy.tensors()[0]);
    EXPECT_EQ(std::vector<uint8_t>(data.begin(), data.end()), Filled(8, 5));
    EXPECT_EQ(copy.file_size(), w.Serialize().size());
  }
  // Errors name the path.
  std::vector<uint8_t> bad = w.Serialize();
  bad.resize(bad.size() - 32 + 8 - 1);  // one byte of the only tensor's data missing
  {
    std::FILE* f = std::fopen(path.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    std::fwrite(bad.data(), 1, bad.size(), f);
    std::fclose(f);
  }
  auto file = Open(path);
  ASSERT_FALSE(file.ok());
  EXPECT_EQ(file.status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(file.status().message().rfind(path + ": tensor 'a' data [", 0), 0u)
      << file.status().message();
  std::remove(path.c_str());
  EXPECT_EQ(Open(path).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(w.WriteFile("/nonexistent-dir/x.gguf").code(), StatusCode::kIoError);
}

// The real Gemma 3 270M file (LOOM_TEST_GGUF=/path/model.gguf).
TEST(GgufRealFileTest, Gemma3) {
  const char* path = std::getenv("LOOM_TEST_GGUF");
  if (path == nullptr || *path == '\0') GTEST_SKIP() << "LOOM_TEST_GGUF not set";
  auto file = Open(path);
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  EXPECT_EQ(file->version(), 3u);
  EXPECT_EQ(file->metadata().size(), 33u);
  EXPECT_EQ(file->tensors().size(), 236u);
  std::string arch;
  ASSERT_TRUE(file->GetString("general.architecture", &arch).ok());
  EXPECT_EQ(arch, "gemma3");
  uint64_t blocks = 0;
  ASSERT_TRUE(file->GetUint("gemma3.block_count", &blocks).ok());
  EXPECT_EQ(blocks, 18u);
  std::vector<std::string_view> tokens;
  ASSERT_TRUE(file->GetStringArray("tokenizer.ggml.tokens", &tokens).ok());
  EXPECT_GT(tokens.size(), 200000u);
  std::vector<double> scores;
  ASSERT_TRUE(file->GetFloatArray("tokenizer.ggml.scores", &scores).ok());
  EXPECT_EQ(scores.size(), tokens.size());
  std::set<std::string> types;
  uint64_t total = 0;
  for (const TensorInfo& t : file->tensors()) {
    types.insert(GetGgmlTypeInfo(t.type).name);
    EXPECT_EQ(file->TensorData(t).size(), t.n_bytes) << t.name;
    total += *CheckedAlignUp(t.n_bytes, file->alignment());
  }
  EXPECT_EQ(types, (std::set<std::string>{"F32", "Q5_0", "Q4_K", "Q8_0", "Q6_K"}));
  EXPECT_LE(file->data_offset() + total, file->file_size());
  const TensorInfo* embd = file->FindTensor("token_embd.weight");
  ASSERT_NE(embd, nullptr);
  EXPECT_EQ(embd->ne[1], tokens.size());
}

// Writes the fuzz seed corpus (run by hand: --gtest_also_run_disabled_tests
// --gtest_filter='*WriteFuzzSeeds*'), next to the gguf-py reference file.
TEST(GgufFuzzSeeds, DISABLED_WriteFuzzSeeds) {
  const std::string dir = std::string(LOOM_SOURCE_DIR) + "/fuzz/corpus/gguf/";
  auto write = [&](const std::string& name, const Writer& w) {
    ASSERT_TRUE(Parse(w.Serialize()).ok()) << name;
    ASSERT_TRUE(w.WriteFile(dir + name).ok()) << name;
  };
  {
    Writer w;
    write("empty.gguf", w);
  }
  {
    Writer w;
    w.AddString("general.architecture", "llama");
    w.AddUint32("llama.block_count", 2);
    w.AddFloat32("llama.rope.freq_base", 10000.0f);
    w.AddStringArray("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>", "a", "b"});
    w.AddFloat32Array("tokenizer.ggml.scores", {0, 0, 0, -1, -2});
    w.AddInt32Array("tokenizer.ggml.token_type", {2, 3, 3, 1, 1});
    write("kv_only.gguf", w);
  }
  {
    Writer w(2);
    w.AddString("general.architecture", "test");
    w.AddBoolArray("flags", {true, false});
    w.AddRaw("nested", ValueType::kArray, NestedInt32({{1}, {2, 3}}));
    EXPECT_TRUE(w.AddTensor("w", GgmlType::kF16, {4, 2}, Filled(16, 1)).ok());
    write("v2_f16.gguf", w);
  }
  {
    Writer w;
    w.SetAlignment(1);
    w.AddUint64("u64", 7);
    EXPECT_TRUE(w.AddTensor("a", GgmlType::kI8, {3}, Filled(3, 2)).ok());
    EXPECT_TRUE(w.AddTensor("b", GgmlType::kI16, {3}, Filled(6, 3)).ok());
    write("align1.gguf", w);
  }
  {
    Writer w;
    w.SetAlignment(256);
    EXPECT_TRUE(w.AddTensor("q4k", GgmlType::kQ4_K, {256, 2}, Filled(288, 4)).ok());
    EXPECT_TRUE(w.AddTensor("q6k", GgmlType::kQ6_K, {256}, Filled(210, 5)).ok());
    EXPECT_TRUE(w.AddTensor("norm", GgmlType::kF32, {8}, Filled(32, 6)).ok());
    write("align256_kquants.gguf", w);
  }
  {
    Writer w;
    w.AddString("general.architecture", "gemma3");
    w.AddUint32("gemma3.block_count", 1);
    EXPECT_TRUE(w.AddTensor("token_embd.weight", GgmlType::kQ8_0, {64, 4}, Filled(272, 7)).ok());
    EXPECT_TRUE(w.AddTensor("blk.0.attn_q.weight", GgmlType::kQ5_0, {32, 2}, Filled(44, 8)).ok());
    EXPECT_TRUE(w.AddTensor("blk.0.attn_k.weight", GgmlType::kQ4_0, {32, 2}, Filled(36, 9)).ok());
    EXPECT_TRUE(w.AddTensor("output_norm.weight", GgmlType::kF32, {64}, Filled(256, 10)).ok());
    write("gemma_like.gguf", w);
  }
  {
    Writer w;
    for (uint32_t id = 0; id < 64; ++id) {
      const GgmlTypeInfo* info = GetGgmlTypeInfo(id);
      if (info == nullptr) continue;
      EXPECT_TRUE(w.AddTensor(info->name, info->type, {info->block_size},
                              Filled(info->type_size, static_cast<uint8_t>(id)))
                      .ok());
    }
    write("all_types.gguf", w);
  }
  {
    Writer w;
    EXPECT_TRUE(w.AddTensor("scalar", GgmlType::kF32, {}, Filled(4, 11)).ok());
    EXPECT_TRUE(w.AddTensor("zero", GgmlType::kF32, {0, 3}, {}).ok());
    EXPECT_TRUE(w.AddTensor("4d", GgmlType::kBF16, {1, 2, 1, 2}, Filled(8, 12)).ok());
    write("shapes.gguf", w);
  }
  {
    Writer w;
    Bytes value;
    for (int level = 1; level < kMaxArrayNesting; ++level) {
      value.U32(static_cast<uint32_t>(ValueType::kArray)).U64(1);
    }
    value.U32(static_cast<uint32_t>(ValueType::kString)).U64(2).Str("x").Str("");
    w.AddRaw("deep", ValueType::kArray, value.take());
    w.AddRaw("nested", ValueType::kArray, NestedInt32({{1, 2}, {}, {3}}));
    write("nested_arrays.gguf", w);
  }
}

}  // namespace
}  // namespace loom::gguf
