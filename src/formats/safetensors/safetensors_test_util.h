// Test helpers shared by the safetensors tests: file builders, the corruption catalogue and the
// fuzz seed files. Header-only because loom_module() puts every non-test .cc into the library.
#ifndef LOOM_FORMATS_SAFETENSORS_SAFETENSORS_TEST_UTIL_H_
#define LOOM_FORMATS_SAFETENSORS_SAFETENSORS_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "formats/safetensors/safetensors.h"

namespace loom::safetensors::test {

inline std::string Le64(uint64_t n) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>(n >> (8 * i));
  return s;
}

inline std::string Zeros(size_t n) { return std::string(n, '\0'); }

// A file with the given header text and data bytes; the length prefix is always consistent.
inline std::string Build(std::string_view header, std::string_view data = "") {
  return Le64(header.size()) + std::string(header) + std::string(data);
}

inline testing::AssertionResult HasError(const Status& st, StatusCode code,
                                         std::string_view substring) {
  if (st.ok()) {
    return testing::AssertionFailure()
           << "expected " << StatusCodeName(code) << " with '" << substring << "', got OK";
  }
  if (st.code() != code || st.message().find(substring) == std::string::npos) {
    return testing::AssertionFailure() << "expected " << StatusCodeName(code) << " with '"
                                       << substring << "', got " << st.ToString();
  }
  return testing::AssertionSuccess();
}

inline void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

struct BadCase {
  const char* name;
  std::string bytes;
  StatusCode code;
  std::string substring;
};

// One entry of a header: {"name":{"dtype":..,"shape":..,"data_offsets":..}} without braces.
inline std::string Entry(std::string_view name, std::string_view dtype, std::string_view shape,
                         std::string_view offsets) {
  return StrCat("\"", name, "\":{\"dtype\":\"", dtype, "\",\"shape\":", shape,
                ",\"data_offsets\":", offsets, "}");
}

inline std::string One(std::string_view name, std::string_view dtype, std::string_view shape,
                       std::string_view offsets) {
  return StrCat("{", Entry(name, dtype, shape, offsets), "}");
}

// Bad files, each with the code and a message substring. The first group is the literal byte
// strings of the Rust reference's tests (safetensors/src/tensor.rs).
inline std::vector<BadCase> CorruptionCatalogue() {
  using S = StatusCode;
  const std::string ref = R"({"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}})";
  const std::string f32x4 = One("a", "F32", "[4]", "[0,16]");
  return {
      // --- the reference's literal cases ---
      {"header_too_large", std::string("<\0\0\0\0\xff\xff\xff", 8) + ref + Zeros(16),
       S::kOutOfRange, "more than the limit of 100000000"},
      {"empty_file", "", S::kDataLoss, "0 bytes, fewer than the 8-byte header length"},
      {"length_60_no_bytes", std::string("<\0\0\0\0\0\0\0", 8), S::kDataLoss,
       "header length 60 is beyond the end of the file: only 0 bytes follow"},
      {"header_not_utf8", Build("\xff"), S::kDataLoss, "header is not valid UTF-8"},
      {"header_not_json", Build("{"), S::kDataLoss, "header: invalid JSON"},
      {"polyglot_trailing_bytes", Build(ref, Zeros(16) + "extra_bogus_data_for_polyglot_file"),
       S::kDataLoss, "34 trailing bytes belong to no tensor (polyglot file?)"},
      {"two_bytes_missing", Build(ref, Zeros(14)), S::kDataLoss,
       "tensor 'test' ends at 16 but the data buffer has only 14 bytes (truncated file?)"},
      {"invalid_info", Build(One("test", "I32", "[2,2]", "[0,4]"), Zeros(4)), S::kDataLoss,
       "data_offsets [0, 4] span 4 bytes but shape [2, 2] of I32 needs 16 bytes"},
      {"shape_product_overflow",
       std::string("O\0\0\0\0\0\0\0", 8) +
           R"({"test":{"dtype":"I32","shape":[2,18446744073709551614],"data_offsets":[0,16]}})" +
           Zeros(16),
       S::kDataLoss, "shape [2, 18446744073709551614] has more than 2^64 - 1 elements"},
      {"byte_size_overflow",
       std::string("N\0\0\0\0\0\0\0", 8) +
           R"({"test":{"dtype":"I32","shape":[2,9223372036854775807],"data_offsets":[0,16]}})" +
           Zeros(16),
       S::kDataLoss, "shape [2, 9223372036854775807] of I32 needs more than 2^64 - 1 bytes"},
      // --- length prefix and header text ---
      {"seven_byte_file", Zeros(7), S::kDataLoss, "7 bytes, fewer than the 8-byte"},
      {"length_u64_max", std::string(8, '\xff'), S::kOutOfRange,
       "header length 18446744073709551615 is more than the limit"},
      {"length_one_past_end", Le64(3) + "{}", S::kDataLoss, "only 2 bytes follow the length"},
      {"empty_header", Build(""), S::kDataLoss, "starting with '{', but it is empty"},
      {"array_header", Build("[1,2]"), S::kDataLoss, "starting with '{', but it starts with '['"},
      {"string_header", Build(R"("abc")"), S::kDataLoss, "must be a JSON object"},
      {"leading_space", Build(" {}"), S::kDataLoss, "but it starts with ' '"},
      {"trailing_garbage", Build("{} x"), S::kDataLoss, "header: invalid JSON"},
      {"nul_padding", Build(std::string("{}\0\0\0\0\0\0", 8)), S::kDataLoss,
       "header has a NUL byte at offset 2"},
      // nlohmann alone would stop at the NUL and never see the second object.
      {"nul_hides_json",
       Build(One("a", "U8", "[1]", "[0,1]") + std::string("\0", 1) + One("b", "U8", "[1]", "[1,2]"),
             "xy"),
       S::kDataLoss, "header has a NUL byte at offset 53"},
      {"overlong_utf8_name", Build(One("\xc0\xaf", "U8", "[1]", "[0,1]"), "x"), S::kDataLoss,
       "not valid UTF-8"},
      {"lone_surrogate_name", Build(One(R"(\ud800)", "U8", "[1]", "[0,1]"), "x"), S::kDataLoss,
       "header: invalid JSON"},
      {"duplicate_key",
       Build(StrCat("{", Entry("a", "U8", "[1]", "[0,1]"), ",", Entry("a", "U8", "[1]", "[1,2]"),
                    "}"),
             "xy"),
       S::kDataLoss, "duplicate key 'a'"},
      {"duplicate_escaped_key",
       Build(StrCat("{", Entry("a", "U8", "[1]", "[0,1]"), ",",
                    Entry(R"(\u0061)", "U8", "[1]", "[1,2]"), "}"),
             "xy"),
       S::kDataLoss, "duplicate key 'a'"},
      {"nesting_in_shape", Build(One("a", "U8", "[[[[[1]]]]]", "[0,1]"), "x"), S::kDataLoss,
       "nesting deeper than the limit"},
      {"deep_nesting", Build("{\"a\":" + std::string(5000, '[') + std::string(5000, ']') + "}"),
       S::kDataLoss, "nesting deeper than the limit"},
      // --- __metadata__ ---
      {"metadata_not_object", Build(R"({"__metadata__":["x"]})"), S::kDataLoss,
       "__metadata__ is of type array, expected an object of strings"},
      {"metadata_value_not_string", Build(R"({"__metadata__":{"k":1}})"), S::kDataLoss,
       "__metadata__ 'k' is of type integer, expected a string"},
      {"metadata_with_trailing_data", Build(R"({"__metadata__":{}})", "abcd"), S::kDataLoss,
       "4 trailing bytes"},
      // --- tensor entries ---
      {"entry_not_object", Build(R"({"a":[1]})"), S::kDataLoss,
       "tensor 'a': entry is of type array, expected an object"},
      {"missing_shape", Build(R"({"a":{"dtype":"U8","data_offsets":[0,1]}})", "x"), S::kDataLoss,
       "tensor 'a': missing field 'shape'"},
      {"missing_dtype", Build(R"({"a":{"shape":[1],"data_offsets":[0,1]}})", "x"), S::kDataLoss,
       "tensor 'a': missing field 'dtype'"},
      {"extra_field",
       Build(R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"foo":1}})", "x"), S::kDataLoss,
       "tensor 'a': unexpected field 'foo'"},
      {"dtype_not_string", Build(R"({"a":{"dtype":4,"shape":[1],"data_offsets":[0,1]}})", "x"),
       S::kDataLoss, "dtype is of type integer"},
      {"unknown_dtype", Build(One("a", "Q4", "[1]", "[0,1]"), "x"), S::kUnimplemented,
       "tensor 'a': dtype 'Q4' is not supported (supported: F64, F32, F16, BF16"},
      {"f8_dtype", Build(One("a", "F8_E4M3", "[4]", "[0,4]"), "abcd"), S::kUnimplemented,
       "dtype 'F8_E4M3' is not supported"},
      {"lowercase_dtype", Build(One("a", "f32", "[1]", "[0,4]"), "abcd"), S::kUnimplemented,
       "dtype 'f32'"},
      {"shape_not_array", Build(One("a", "U8", "4", "[0,4]"), "abcd"), S::kDataLoss,
       "shape is of type integer, expected an array"},
      {"shape_with_string", Build(One("a", "U8", "[\"4\"]", "[0,4]"), "abcd"), S::kDataLoss,
       "tensor 'a': shape[0] is of type string, expected a non-negative integer"},
      {"shape_negative", Build(One("a", "U8", "[2,-2]", "[0,4]"), "abcd"), S::kDataLoss,
       "shape[1] is -2, expected a non-negative integer"},
      {"shape_float", Build(One("a", "U8", "[4.0]", "[0,4]"), "abcd"), S::kDataLoss,
       "shape[0] is the floating-point number 4"},
      {"nine_dims", Build(One("a", "U8", "[1,1,1,1,1,1,1,1,1]", "[0,1]"), "x"), S::kOutOfRange,
       "tensor 'a': shape has 9 dimensions, more than the limit of 8"},
      {"offsets_not_array", Build(One("a", "U8", "[1]", "\"0-1\""), "x"), S::kDataLoss,
       "data_offsets is of type string"},
      {"negative_offset", Build(One("a", "U8", "[4]", "[-4,0]"), "abcd"), S::kDataLoss,
       "data_offsets[0] is -4, expected a non-negative integer"},
      {"float_offsets", Build(One("a", "U8", "[4]", "[0.0,4.0]"), "abcd"), S::kDataLoss,
       "data_offsets[0] is the floating-point number 0"},
      {"offset_beyond_u64", Build(One("a", "U8", "[4]", "[0,18446744073709551616]"), "abcd"),
       S::kDataLoss, "data_offsets[1] is the floating-point number"},
      {"three_offsets", Build(One("a", "U8", "[4]", "[0,4,8]"), "abcd"), S::kDataLoss,
       "data_offsets has 3 entries, expected exactly 2"},
      {"one_offset", Build(One("a", "U8", "[4]", "[4]"), "abcd"), S::kDataLoss,
       "data_offsets has 1 entries"},
      {"begin_after_end", Build(One("a", "U8", "[0]", "[16,0]"), Zeros(16)), S::kDataLoss,
       "data_offsets [16, 0] begin 16 > end 0"},
      {"wrong_size", Build(One("a", "F32", "[3]", "[0,16]"), Zeros(16)), S::kDataLoss,
       "span 16 bytes but shape [3] of F32 needs 12 bytes"},
      // --- layout of the data buffer ---
      {"overlap",
       Build(StrCat("{", Entry("a", "F32", "[6]", "[0,24]"), ",",
                    Entry("b", "F32", "[2]", "[16,24]"), "}"),
             Zeros(24)),
       S::kDataLoss, "tensor 'b' begins at 16 but the previous tensor 'a' ends at 24 (overlap)"},
      {"same_range_twice",
       Build(StrCat("{", Entry("a", "F32", "[4]", "[0,16]"), ",",
                    Entry("b", "F32", "[4]", "[0,16]"), "}"),
             Zeros(16)),
       S::kDataLoss, "tensor 'b' begins at 0 but the previous tensor 'a' ends at 16 (overlap)"},
      {"hole",
       Build(StrCat("{", Entry("a", "F32", "[4]", "[0,16]"), ",",
                    Entry("b", "F32", "[2]", "[24,32]"), "}"),
             Zeros(32)),
       S::kDataLoss, "tensor 'b' begins at 24 but the previous tensor 'a' ends at 16 (hole)"},
      {"hole_at_start", Build(One("a", "F32", "[4]", "[8,24]"), Zeros(24)), S::kDataLoss,
       "tensor 'a' begins at 8 but the data buffer starts at 0 (hole)"},
      {"zero_sized_past_end", Build(One("z", "F32", "[0]", "[4,4]")), S::kDataLoss,
       "tensor 'z' begins at 4 but the data buffer starts at 0 (hole)"},
      {"no_data_at_all", Build(f32x4), S::kDataLoss, "has only 0 bytes (truncated file?)"},
  };
}

// Small files for the fuzz seed corpus: valid ones of every shape of header, plus a few bad ones
// from the catalogue so the fuzzer starts next to each check.
inline std::vector<std::pair<std::string, std::string>> SeedFiles() {
  std::vector<std::pair<std::string, std::string>> out;
  auto add = [&](const std::string& name, const std::vector<TensorToWrite>& tensors,
                 const std::map<std::string, std::string>& metadata) {
    auto bytes = Serialize(tensors, metadata);
    if (bytes.ok()) out.emplace_back(name, std::string(bytes->begin(), bytes->end()));
  };
  std::vector<uint8_t> pattern(256);
  for (size_t i = 0; i < pattern.size(); ++i) pattern[i] = static_cast<uint8_t>(i * 7 + 3);
  std::span<const uint8_t> p(pattern);
  add("valid_empty.safetensors", {}, {});
  add("valid_metadata_only.safetensors", {}, {{"format", "pt"}, {"author", "loom"}});
  add("valid_one_f32.safetensors", {{"w", DType::kF32, {2, 3}, p.first(24)}}, {});
  std::vector<TensorToWrite> all;
  uint64_t off = 0;
  for (int i = 0; i < static_cast<int>(DType::kSentinel); ++i) {
    auto dt = static_cast<DType>(i);
    size_t n = 3 * DTypeSize(dt);
    all.push_back({StrCat("t.", DTypeName(dt)), dt, {3}, p.subspan(off, n)});
    off += n;
  }
  add("valid_all_dtypes.safetensors", all, {{"format", "pt"}});
  add("valid_zero_sized.safetensors",
      {{"empty", DType::kF32, {2, 0}, {}}, {"x", DType::kU8, {4}, p.first(4)}}, {});
  add("valid_scalar_and_8_dims.safetensors",
      {{"s", DType::kF64, {}, p.first(8)},
       {"d", DType::kI8, {1, 2, 1, 2, 1, 2, 1, 2}, p.first(16)}},
      {});
  add("valid_layer_names.safetensors",
      {{"model.layers.0.self_attn.q_proj.weight", DType::kBF16, {4, 4}, p.first(32)},
       {"model.layers.0.self_attn.k_proj.weight", DType::kBF16, {2, 4}, p.first(16)},
       {"model.norm.weight", DType::kF16, {4}, p.first(8)}},
      {{"format", "pt"}});
  out.emplace_back("valid_padded_header.safetensors",
                   Build(One("a", "U8", "[2]", "[0,2]") + std::string(40, ' '), "hi"));
  for (const BadCase& c : CorruptionCatalogue()) {
    static const char* kSeeds[] = {"polyglot_trailing_bytes",
                                   "two_bytes_missing",
                                   "shape_product_overflow",
                                   "duplicate_escaped_key",
                                   "f8_dtype",
                                   "overlap",
                                   "hole",
                                   "metadata_value_not_string",
                                   "begin_after_end",
                                   "nine_dims"};
    for (const char* s : kSeeds) {
      if (std::string_view(c.name) == s)
        out.emplace_back(StrCat("bad_", s, ".safetensors"), c.bytes);
    }
  }
  return out;
}

}  // namespace loom::safetensors::test

#endif  // LOOM_FORMATS_SAFETENSORS_SAFETENSORS_TEST_UTIL_H_
