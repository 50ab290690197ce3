// The GGUF corruption catalogue (../shared/RELIABILITY.md §3 "test-gguf.cpp", §5.1 items 1-7):
// each case is a hand-made bad file, either patched from a valid file written by the Writer or
// built byte by byte, and must fail with the expected StatusCode and a message that names the
// problem. Plus every prefix of a valid file and every single-byte mutation of its header must
// fail cleanly or parse, never crash (run under ASan/UBSan).
#include <gtest/gtest.h>

#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "formats/gguf/gguf.h"
#include "formats/gguf/gguf_test_util.h"

namespace loom::gguf {
namespace {

using ::loom::gguf::testing::Bytes;
using ::loom::gguf::testing::Filled;
using ::loom::gguf::testing::LocateKey;
using ::loom::gguf::testing::LocateTensor;
using ::loom::gguf::testing::PatchAt;

constexpr uint32_t kTypeU32 = static_cast<uint32_t>(ValueType::kUint32);
constexpr uint32_t kTypeArray = static_cast<uint32_t>(ValueType::kArray);
constexpr uint32_t kTypeString = static_cast<uint32_t>(ValueType::kString);
constexpr uint32_t kF32 = static_cast<uint32_t>(GgmlType::kF32);
constexpr uint32_t kF64 = static_cast<uint32_t>(GgmlType::kF64);
constexpr uint32_t kI32 = static_cast<uint32_t>(GgmlType::kI32);

// A valid file with string, uint32 and string-array keys and three tensors of different types.
std::vector<uint8_t> BaseFile() {
  Writer w;
  w.AddString("general.architecture", "test");
  w.AddUint32("test.block_count", 2);
  w.AddStringArray("tokenizer.ggml.tokens", {"a", "bc"});
  EXPECT_TRUE(w.AddTensor("blk.0.attn_k.weight", GgmlType::kF32, {8, 2}, Filled(64, 1)).ok());
  EXPECT_TRUE(w.AddTensor("blk.0.attn_q.weight", GgmlType::kQ8_0, {32, 2}, Filled(68, 2)).ok());
  EXPECT_TRUE(w.AddTensor("output.weight", GgmlType::kI8, {5}, Filled(5, 3)).ok());
  return w.Serialize();
}

// BaseFile with one patch applied.
std::vector<uint8_t> Patched(const std::function<void(std::vector<uint8_t>*)>& patch) {
  std::vector<uint8_t> bytes = BaseFile();
  patch(&bytes);
  return bytes;
}

// Writes one key (written by `add`) and nothing else.
std::vector<uint8_t> OneKey(const std::function<void(Writer*)>& add) {
  Writer w;
  add(&w);
  return w.Serialize();
}

// A file whose only key has the given encoded value.
std::vector<uint8_t> RawKey(uint32_t type, const std::vector<uint8_t>& value) {
  return Bytes().Header(0, 1).Str("k").U32(type).Append(value).Pad(32).take();
}

// A file with one tensor info given field by field, followed by `data_bytes` of data.
std::vector<uint8_t> OneTensor(std::string_view name, std::vector<uint64_t> ne, uint32_t type,
                               uint64_t offset, size_t data_bytes) {
  Bytes b;
  b.Header(1, 0).Str(name).U32(static_cast<uint32_t>(ne.size()));
  for (uint64_t d : ne) b.U64(d);
  b.U32(type).U64(offset).Pad(32).Zeros(data_bytes);
  return b.take();
}

std::vector<uint8_t> NestedArrays(int levels) {
  Bytes value;
  for (int level = 1; level < levels; ++level) value.U32(kTypeArray).U64(1);
  value.U32(kTypeU32).U64(1).U32(7);
  return RawKey(kTypeArray, value.get());
}

struct Case {
  std::string name;
  std::function<std::vector<uint8_t>()> make;
  StatusCode code;
  std::string substring;
  bool require_tensor_data = true;
};

std::vector<Case> Catalogue() {
  using B = std::vector<uint8_t>;
  const auto k = [](std::string_view key) { return [key](B* b) { return LocateKey(*b, key); }; };
  const auto t = [](std::string_view name) {
    return [name](B* b) { return LocateTensor(*b, name); };
  };
  const auto arch = k("general.architecture");
  const auto blocks = k("test.block_count");
  const auto tokens = k("tokenizer.ggml.tokens");
  const auto t0 = t("blk.0.attn_k.weight");
  const auto t1 = t("blk.0.attn_q.weight");
  const auto t2 = t("output.weight");
  const auto dl = StatusCode::kDataLoss;
  const auto oor = StatusCode::kOutOfRange;
  const auto unimpl = StatusCode::kUnimplemented;
  return {
      // --- Header ---
      {"Empty", [] { return B{}; }, dl, "file is empty"},
      {"ThreeBytes",
       [] {
         return B{'G', 'G', 'U'};
       },
       dl, "shorter than the 24-byte GGUF header"},
      {"WrongMagic", [] { return Patched([](B* b) { (*b)[3] = 'L'; }); }, dl,
       "bad magic 'GGUL', expected 'GGUF'"},
      {"SafetensorsFile", [] { return B{8, 0, 0, 0, 0, 0, 0, 0, '{', '}', ' ', ' '}; }, dl,
       "bad magic"},
      {"MagicOnly", [] { return Bytes().U32(kMagic).U32(3).take(); }, dl,
       "file is 8 bytes, shorter than the 24-byte"},
      {"Version0", [] { return Bytes().Header(0, 0, 0).take(); }, dl, "GGUF version 0 is invalid"},
      {"Version1", [] { return Bytes().Header(0, 0, 1).take(); }, unimpl,
       "GGUF version 1 is no longer supported"},
      {"Version4", [] { return Bytes().Header(0, 0, 4).take(); }, unimpl,
       "GGUF version 4 is newer than the newest supported version 3"},
      {"VersionByteSwapped", [] { return Bytes().Header(0, 0, 0x03000000).take(); }, unimpl,
       "probably big-endian"},
      {"HugeTensorCount", [] { return Patched([](B* b) { PatchAt<uint64_t>(b, 8, 1ull << 63); }); },
       dl, "tensor count 9223372036854775808 cannot fit"},
      {"HugeKvCount", [] { return Patched([](B* b) { PatchAt<uint64_t>(b, 16, ~0ull); }); }, dl,
       "key-value count 18446744073709551615 cannot fit"},
      {"KvCountLie", [] { return Patched([](B* b) { PatchAt<uint64_t>(b, 16, 1000); }); }, dl,
       "key-value count 1000 cannot fit"},
      {"CountsTogetherTooLarge", [] { return Bytes().Header(2, 2).Zeros(2 * 14 + 25).take(); }, dl,
       "key-value count 2 and tensor count 2 cannot fit"},

      // --- Key-value pairs ---
      {"KeyLengthHuge",
       [=] { return Patched([&](B* b) { PatchAt<uint64_t>(b, arch(b).length, 1ull << 40); }); },
       oor, "key #0: key length 1099511627776 is more than the limit of 1073741824 bytes"},
      {"KeyLengthBeyondFile",
       [=] { return Patched([&](B* b) { PatchAt<uint64_t>(b, blocks(b).length, 100000); }); }, dl,
       "key #1: key length 100000 is more than the"},
      {"StringValueTooLong",
       [=] { return Patched([&](B* b) { PatchAt<uint64_t>(b, arch(b).value, 1ull << 31); }); }, oor,
       "key 'general.architecture': string length 2147483648 is more than the limit"},
      {"StringValueBeyondFile",
       [=] { return Patched([&](B* b) { PatchAt<uint64_t>(b, arch(b).value, 5000); }); }, dl,
       "truncated file?"},
      {"ArrayCountTooLarge",
       [=] {
         return Patched([&](B* b) { PatchAt<uint64_t>(b, tokens(b).value + 4, 1ull << 31); });
       },
       oor, "array length 2147483648 is more than the limit of 1073741824 elements"},
      {"ArrayBytesBeyondFile",
       [] { return RawKey(kTypeArray, Bytes().U32(kTypeU32).U64(1000).U32(1).U32(2).take()); }, dl,
       "array of 1000 uint32 elements needs at least 4000 bytes"},
      {"StringArrayCountBeyondFile",
       [=] { return Patched([&](B* b) { PatchAt<uint64_t>(b, tokens(b).value + 4, 1000); }); }, dl,
       "array of 1000 string elements needs at least 8000 bytes"},
      {"StringArrayElementTooLong",
       [=] {
         return Patched([&](B* b) { PatchAt<uint64_t>(b, tokens(b).value + 12, 1ull << 33); });
       },
       oor, "key 'tokenizer.ggml.tokens': element 0: string length 8589934592"},
      {"UnknownValueType",
       [=] { return Patched([&](B* b) { PatchAt<uint32_t>(b, blocks(b).type, 13); }); }, dl,
       "key 'test.block_count': value type 13 is not a GGUF value type (valid: 0 to 12)"},
      {"UnknownValueTypeHuge",
       [=] { return Patched([&](B* b) { PatchAt<uint32_t>(b, blocks(b).type, ~0u); }); }, dl,
       "value type 4294967295 is not a GGUF value type"},
      {"UnknownArrayElementType",
       [=] { return Patched([&](B* b) { PatchAt<uint32_t>(b, tokens(b).value, 99); }); }, dl,
       "array element type 99 is not a GGUF value type"},
      {"NestedArrayTooDeep", [] { return NestedArrays(kMaxArrayNesting + 1); }, oor,
       "arrays are nested deeper than the limit of 8"},
      {"NestedArrayCountBeyondFile",
       [] { return RawKey(kTypeArray, Bytes().U32(kTypeArray).U64(1000).take()); }, dl,
       "array of 1000 array elements needs at least 12000 bytes"},
      {"EmptyKey", [] { return OneKey([](Writer* w) { w->AddUint32("", 1); }); }, dl,
       "key #0 is empty"},
      {"DuplicateKey",
       [] {
         B b = OneKey([](Writer* w) {
           w->AddUint32("test.aaaa", 1);
           w->AddString("test.aaab", "x");
         });
         b[LocateKey(b, "test.aaab").key + 8] = 'a';
         return b;
       },
       dl, "duplicate key 'test.aaaa' (entries #0 and #1)"},
      {"InvalidUtf8Key",
       [] { return OneKey([](Writer* w) { w->AddUint32("bad\xc0\xafkey", 1); }); }, dl,
       "key #0 'bad\\xc0\\xafkey' is not valid UTF-8"},

      // --- general.alignment ---
      {"AlignmentZero",
       [] { return OneKey([](Writer* w) { w->AddUint32("general.alignment", 0); }); }, dl,
       "key 'general.alignment' is 0 but the alignment must be a non-zero power of two"},
      {"Alignment13",
       [] { return OneKey([](Writer* w) { w->AddUint32("general.alignment", 13); }); }, dl,
       "is 13 but the alignment must be a non-zero power of two"},
      {"AlignmentTooLarge",
       [] { return OneKey([](Writer* w) { w->AddUint32("general.alignment", 1u << 20); }); }, oor,
       "key 'general.alignment' is 1048576, more than the limit of 65536"},
      {"AlignmentAsInt32",
       [] { return OneKey([](Writer* w) { w->AddInt32("general.alignment", 32); }); }, dl,
       "key 'general.alignment' must be of type uint32 but is int32"},
      {"AlignmentAsString",
       [] { return OneKey([](Writer* w) { w->AddString("general.alignment", "32"); }); }, dl,
       "must be of type uint32 but is string"},
      {"AlignmentAsArray",
       [] { return OneKey([](Writer* w) { w->AddUint32Array("general.alignment", {32}); }); }, dl,
       "must be of type uint32 but is array of uint32"},

      // --- Tensor infos ---
      {"TensorNameEmpty", [] { return OneTensor("", {4}, kF32, 0, 16); }, dl,
       "tensor #0 has an empty name"},
      {"TensorNameTooLong", [] { return OneTensor(std::string(64, 'n'), {4}, kF32, 0, 16); }, oor,
       "tensor #0: name length 64 is more than the limit of 63 bytes"},
      {"TensorNameLengthHuge",
       [=] { return Patched([&](B* b) { PatchAt<uint64_t>(b, t0(b).name_length, ~0ull); }); }, oor,
       "tensor #0: name length 18446744073709551615"},
      {"TensorNameDuplicate", [=] { return Patched([&](B* b) { (*b)[t1(b).name + 11] = 'k'; }); },
       dl, "duplicate tensor name 'blk.0.attn_k.weight' (tensors #0 and #1)"},
      {"TensorNameInvalidUtf8", [=] { return Patched([&](B* b) { (*b)[t2(b).name] = 0xff; }); }, dl,
       "tensor #2 name '\\xffutput.weight' is not valid UTF-8"},
      {"NDims5", [=] { return Patched([&](B* b) { PatchAt<uint32_t>(b, t0(b).n_dims, 5); }); }, oor,
       "tensor 'blk.0.attn_k.weight': n_dims 5 is more than the limit of 4"},
      {"NDimsHuge", [=] { return Patched([&](B* b) { PatchAt<uint32_t>(b, t1(b).n_dims, ~0u); }); },
       oor, "n_dims 4294967295 is more than the limit of 4"},
      {"DimNegative",
       [=] { return Patched([&](B* b) { PatchAt<uint64_t>(b, t0(b).ne + 8, ~0ull); }); }, dl,
       "dimension 1 is 18446744073709551615 (-1 as int64), more than the int64 maximum"},
      {"ElementCountOverflow",
       [] {
         return OneTensor("t", {(1ull << 42) + 1, 1ull << 42}, kF32, 0, 0);
       },
       dl, "tensor 't': shape [4398046511105, 4398046511104] has more elements than fit in int64"},
      {"ElementCountOverflow4D",
       [] {
         return OneTensor("t", {1 << 16, 1 << 16, 1 << 16, 1 << 16}, kF32, 0, 0);
       },
       dl, "more elements than fit in int64"},
      {"GgmlType4Removed",
       [=] { return Patched([&](B* b) { PatchAt<uint32_t>(b, t0(b).type, 4); }); }, unimpl,
       "tensor 'blk.0.attn_k.weight': ggml type 4 (Q4_2) has been removed from ggml"},
      {"GgmlType36Removed",
       [=] { return Patched([&](B* b) { PatchAt<uint32_t>(b, t0(b).type, 36); }); }, unimpl,
       "ggml type 36 (IQ4_NL_4_4) has been removed"},
      {"GgmlType99Unknown",
       [=] { return Patched([&](B* b) { PatchAt<uint32_t>(b, t2(b).type, 99); }); }, unimpl,
       "tensor 'output.weight': unknown ggml type 99"},
      {"RowNotMultipleOfBlockSize",
       [=] { return Patched([&](B* b) { PatchAt<uint64_t>(b, t1(b).ne, 16); }); }, dl,
       "type Q8_0 needs rows that are a multiple of its block size 32 but ne[0] is 16"},
      {"ByteSizeOverflow", [] { return OneTensor("t", {1ull << 62}, kF64, 0, 0); }, dl,
       "shape [4611686018427387904] of type F64 has a size in bytes that overflows uint64"},

      // --- Tensor layout and data ---
      {"OffsetNotAligned",
       [=] { return Patched([&](B* b) { PatchAt<uint64_t>(b, t1(b).offset, 65); }); }, dl,
       "tensor 'blk.0.attn_q.weight' has data offset 65, not a multiple of the alignment 32"},
      {"OffsetOverlap",
       [=] { return Patched([&](B* b) { PatchAt<uint64_t>(b, t1(b).offset, 0); }); }, dl,
       "has data offset 0 but 64 was expected (it overlaps the previous tensor)"},
      {"OffsetHole", [=] { return Patched([&](B* b) { PatchAt<uint64_t>(b, t1(b).offset, 96); }); },
       dl, "has data offset 96 but 64 was expected (it leaves a hole after the previous tensor)"},
      {"FirstOffsetNotZero",
       [=] { return Patched([&](B* b) { PatchAt<uint64_t>(b, t0(b).offset, 32); }); }, dl,
       "tensor 'blk.0.attn_k.weight' has data offset 32 but 0 was expected"},
      {"OffsetsSwapped",
       [=] {
         return Patched([&](B* b) {
           const size_t offset0 = t0(b).offset, offset1 = t1(b).offset;
           PatchAt<uint64_t>(b, offset0, 64);
           PatchAt<uint64_t>(b, offset1, 0);
         });
       },
       dl, "tensor data must be contiguous and in order"},
      {"OffsetHuge",
       [=] { return Patched([&](B* b) { PatchAt<uint64_t>(b, t2(b).offset, 0ull - 32); }); }, dl,
       "has data offset 18446744073709551584 but 160 was expected"},
      {"RunningSumOverflows",
       [] {
         // Two 2^63-byte tensors: the second starts at 2^63 and ends at 2^64.
         return Bytes()
             .Header(2, 0)
             .Str("a")
             .U32(1)
             .U64(1ull << 61)
             .U32(kI32)
             .U64(0)
             .Str("b")
             .U32(1)
             .U64(1ull << 61)
             .U32(kI32)
             .U64(1ull << 63)
             .Pad(32)
             .take();
       },
       dl, "tensor 'b': data offset 9223372036854775808 + size 9223372036854775808 overflows"},
      {"RunningSumOverflowsHeaderOnly",
       [] {
         return Bytes()
             .Header(2, 0)
             .Str("a")
             .U32(1)
             .U64(1ull << 61)
             .U32(kI32)
             .U64(0)
             .Str("b")
             .U32(1)
             .U64(1ull << 61)
             .U32(kI32)
             .U64(1ull << 63)
             .take();
       },
       dl, "overflows uint64", /*require_tensor_data=*/false},
      {"DataTruncatedByOneByte",
       [] {
         B b = BaseFile();
         auto file = Parse(b);
         const TensorInfo& last = file->tensors().back();
         b.resize(file->data_offset() + last.offset + last.n_bytes - 1);
         return b;
       },
       dl,
       "tensor 'output.weight' data [512, 517) extends beyond the file size 516 (truncated "
       "download?)"},
      {"DataOfFirstTensorMissing",
       [] {
         B b = BaseFile();
         b.resize(Parse(b)->data_offset() + 10);
         return b;
       },
       dl, "tensor 'blk.0.attn_k.weight' data [352, 416) extends beyond the file size 362"},
      {"DataSectionMissing",
       [] {
         B b = BaseFile();
         b.resize(LocateTensor(b, "output.weight").offset + 8);  // end of the tensor infos
         return b;
       },
       dl, "tensor data section starts at 352, beyond the file size 327"},

      // --- Truncation inside the header ---
      {"TruncatedInKeyValue",
       [=] {
         B b = BaseFile();
         b.resize(tokens(&b).value + 20);
         return b;
       },
       dl, "key 'tokenizer.ggml.tokens': array of 2 string elements needs at least 16 bytes"},
      {"TruncatedInTensorInfo",
       [=] {
         B b = BaseFile();
         b.resize(t1(&b).ne + 3);
         return b;
       },
       dl, "tensor 'blk.0.attn_q.weight': dimension: need 8 bytes"},
      {"TruncatedBeforeFirstKey", [] { return Bytes().Header(0, 1).take(); }, dl,
       "key-value count 1 cannot fit in the 0 bytes after the header"},
      {"TruncatedBeforeValueType", [] { return Bytes().Header(0, 1).Str("abcdefgh").take(); }, dl,
       "key 'abcdefgh': value type: need 4 bytes at offset 40 but only 0 remain"},
      {"TruncatedInStringElement",
       [=] {
         B b = BaseFile();
         const size_t value = tokens(&b).value;
         b.resize(value + 12 + 8 + 1 + 8 + 1);  // "a" whole, "bc" cut after "b"
         b.insert(b.end(), 200, 0);  // room for the counts in the header, not for the string
         PatchAt<uint64_t>(&b, value + 12 + 9, 1000);
         return b;
       },
       dl, "key 'tokenizer.ggml.tokens': element 1: string length 1000 is more than the"},
  };
}

// So gtest names a failing case instead of dumping its bytes.
void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

class GgufCorruptionTest : public ::testing::TestWithParam<Case> {};

TEST_P(GgufCorruptionTest, FailsWithCodeAndMessage) {
  const Case& c = GetParam();
  const std::vector<uint8_t> bytes = c.make();
  auto file = Parse(bytes, {.require_tensor_data = c.require_tensor_data});
  ASSERT_FALSE(file.ok()) << c.name << " parsed";
  // In --gtest_output=xml, so the catalogue's messages can be reviewed in one place.
  RecordProperty("error", file.status().ToString());
  EXPECT_EQ(file.status().code(), c.code) << file.status().ToString();
  EXPECT_NE(file.status().message().find(c.substring), std::string::npos)
      << "message: " << file.status().message() << "\nexpected substring: " << c.substring;
}

INSTANTIATE_TEST_SUITE_P(Catalogue, GgufCorruptionTest, ::testing::ValuesIn(Catalogue()),
                         [](const ::testing::TestParamInfo<Case>& p) { return p.param.name; });

TEST(GgufCorruptionCatalogueTest, HasAtLeastThirtyCasesWithUniqueNames) {
  const auto cases = Catalogue();
  EXPECT_GE(cases.size(), 30u);
}

// Positive controls for the catalogue: the base file parses, and so does the file without its
// final padding (llama.cpp only needs each tensor's own bytes).
TEST(GgufCorruptionCatalogueTest, BaseFileAndUnpaddedEndParse) {
  std::vector<uint8_t> b = BaseFile();
  auto file = Parse(b);
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  const TensorInfo& last = file->tensors().back();
  b.resize(file->data_offset() + last.offset + last.n_bytes);
  auto unpadded = Parse(b);
  ASSERT_TRUE(unpadded.ok()) << unpadded.status().ToString();
  EXPECT_EQ(unpadded->TensorData(unpadded->tensors().back()).size(), 5u);
  // And nesting up to the limit is fine.
  auto nested = NestedArrays(kMaxArrayNesting);
  EXPECT_TRUE(Parse(nested).ok());
}

// Every prefix of a valid file fails cleanly, except the ones that still hold all tensor data
// (or, with require_tensor_data = false, the whole header).
TEST(GgufCorruptionCatalogueTest, EveryPrefixFailsCleanlyOrParses) {
  const std::vector<uint8_t> full = BaseFile();
  auto file = Parse(full);
  ASSERT_TRUE(file.ok());
  const TensorInfo& last = file->tensors().back();
  const size_t data_end = file->data_offset() + last.offset + last.n_bytes;
  const size_t header_end = LocateTensor(full, "output.weight").offset + 8;
  for (size_t n = 0; n <= full.size(); ++n) {
    // A fresh heap copy of exactly n bytes, so ASan sees any read past the end.
    std::vector<uint8_t> prefix(full.begin(), full.begin() + n);
    auto with_data = Parse(prefix);
    EXPECT_EQ(with_data.ok(), n >= data_end) << n << ": " << with_data.status().ToString();
    if (!with_data.ok()) {
      EXPECT_EQ(with_data.status().code(), StatusCode::kDataLoss) << n;
    }
    auto header_only = Parse(prefix, {.require_tensor_data = false});
    EXPECT_EQ(header_only.ok(), n >= header_end) << n << ": " << header_only.status().ToString();
  }
}

// Every byte of the header region replaced by a few values: never a crash, a sanitizer report
// or an unexpected status code.
TEST(GgufCorruptionCatalogueTest, SingleByteMutationsNeverCrash) {
  const std::vector<uint8_t> full = BaseFile();
  const size_t header_end = LocateTensor(full, "output.weight").offset + 8;
  size_t ok = 0, failed = 0;
  for (size_t i = 0; i < header_end; ++i) {
    const uint8_t values[] = {0x00, 0x01, 0x7f, 0x80, 0xff, static_cast<uint8_t>(full[i] + 1)};
    for (uint8_t v : values) {
      std::vector<uint8_t> mutated = full;
      mutated[i] = v;
      auto file = Parse(mutated);
      if (!file.ok()) {
        ++failed;
        const StatusCode code = file.status().code();
        EXPECT_TRUE(code == StatusCode::kDataLoss || code == StatusCode::kOutOfRange ||
                    code == StatusCode::kUnimplemented)
            << i << " " << int{v} << ": " << file.status().ToString();
        EXPECT_FALSE(file.status().message().empty());
        continue;
      }
      ++ok;
      for (const TensorInfo& t : file->tensors()) {
        auto data = file->TensorData(t);
        EXPECT_EQ(data.size(), t.n_bytes);
        EXPECT_LE(data.data() + data.size(), mutated.data() + mutated.size());
      }
    }
  }
  EXPECT_GT(failed, 0u);
  EXPECT_GT(ok, 0u);  // e.g. bytes inside string values
}

}  // namespace
}  // namespace loom::gguf
