#include "formats/safetensors/safetensors.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "formats/safetensors/safetensors_test_util.h"

namespace loom::safetensors {
namespace {

using test::Build;
using test::HasError;
using test::Zeros;

// Parses a copy in an exactly sized heap buffer, so ASan flags any read past the end.
Status ParseCopy(const std::string& s) {
  std::vector<uint8_t> copy(s.begin(), s.end());
  return Parse(copy).status();
}

TEST(SafetensorsDTypeTest, NamesSizesAndLookup) {
  for (int i = 0; i < static_cast<int>(DType::kSentinel); ++i) {
    auto t = static_cast<DType>(i);
    auto back = DTypeFromName(DTypeName(t));
    ASSERT_TRUE(back.has_value()) << DTypeName(t);
    EXPECT_EQ(*back, t);
    EXPECT_GT(DTypeSize(t), 0u);
  }
  EXPECT_STREQ(DTypeName(DType::kBF16), "BF16");
  EXPECT_STREQ(DTypeName(DType::kBool), "BOOL");
  EXPECT_EQ(DTypeSize(DType::kF64), 8u);
  EXPECT_EQ(DTypeSize(DType::kBF16), 2u);
  EXPECT_EQ(DTypeSize(DType::kBool), 1u);
  EXPECT_EQ(DTypeSize(DType::kSentinel), 0u);
  EXPECT_STREQ(DTypeName(DType::kSentinel), "INVALID");
  EXPECT_FALSE(DTypeFromName("F8_E4M3").has_value());
  EXPECT_FALSE(DTypeFromName("f32").has_value());
  EXPECT_FALSE(DTypeFromName("").has_value());
}

// The reference's own valid example (tensor.rs test_deserialization, abridged).
TEST(SafetensorsParseTest, ReadsReferenceExample) {
  std::string bytes =
      Build(R"({"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}})", Zeros(16));
  auto f = Parse(std::span(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  ASSERT_EQ(f->tensors().size(), 1u);
  const TensorInfo* t = f->Find("test");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->dtype, DType::kI32);
  EXPECT_EQ(t->shape, (std::vector<uint64_t>{2, 2}));
  EXPECT_EQ(t->n_elements, 4u);
  EXPECT_EQ(t->begin, 0u);
  EXPECT_EQ(t->end, 16u);
  EXPECT_EQ(t->data.size(), 16u);
  EXPECT_EQ(t->data.data(), reinterpret_cast<const uint8_t*>(bytes.data()) + 8 + 60);
  EXPECT_EQ(f->header_bytes(), 60u);
  EXPECT_EQ(f->data_offset(), 68u);
  EXPECT_EQ(f->Find("missing"), nullptr);
}

TEST(SafetensorsParseTest, AcceptsEdgeCasesTheFormatAllows) {
  struct Case {
    const char* name;
    std::string bytes;
    size_t n_tensors;
  } cases[] = {
      {"empty header", Build("{}"), 0},
      {"header padded with spaces", Build("{}      "), 0},
      {"whitespace inside and after",
       Build("{ \"a\" : {\"dtype\":\"U8\", \"shape\":[1],"
             " \"data_offsets\":[0,1]} }\n\t  ",
             "x"),
       1},
      {"zero-sized tensor", Build(R"({"z":{"dtype":"F32","shape":[2,0],"data_offsets":[0,0]}})"),
       1},
      {"scalar (empty shape)",
       Build(R"({"s":{"dtype":"F64","shape":[],"data_offsets":[0,8]}})", Zeros(8)), 1},
      {"zero-sized tensors around a real one",
       Build(R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},)"
             R"("b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
             R"("c":{"dtype":"BOOL","shape":[0,7],"data_offsets":[4,4]}})",
             Zeros(4)),
       3},
      {"metadata only", Build(R"({"__metadata__":{"format":"pt","":""}})"), 0},
      {"unicode name",
       Build(R"({"\u00e9t\u00e9":{"dtype":"I8","shape":[1],"data_offsets":[0,1]}})", "x"), 1},
      {"-0 is zero", Build(R"({"a":{"dtype":"U8","shape":[-0],"data_offsets":[0,-0]}})"), 1},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    std::vector<uint8_t> copy(c.bytes.begin(), c.bytes.end());
    auto f = Parse(copy);
    ASSERT_TRUE(f.ok()) << f.status().ToString();
    EXPECT_EQ(f->tensors().size(), c.n_tensors);
    for (const TensorInfo& t : f->tensors()) EXPECT_EQ(t.data.size(), t.end - t.begin);
  }
}

TEST(SafetensorsParseTest, SortsByOffsetAndKeepsMetadata) {
  std::string bytes = Build(R"({"__metadata__":{"format":"pt"},)"
                            R"("z_first":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},)"
                            R"("a_last":{"dtype":"U8","shape":[3],"data_offsets":[2,5]}})",
                            "ABcde");
  std::vector<uint8_t> copy(bytes.begin(), bytes.end());
  auto f = Parse(copy);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  ASSERT_EQ(f->tensors().size(), 2u);
  EXPECT_EQ(f->tensors()[0].name, "z_first");
  EXPECT_EQ(f->tensors()[1].name, "a_last");
  EXPECT_EQ(std::string(f->Find("a_last")->data.begin(), f->Find("a_last")->data.end()), "cde");
  EXPECT_EQ(f->metadata().at("format"), "pt");
}

TEST(SafetensorsCorruptionTest, CatalogueIsRejectedWithSpecificErrors) {
  std::vector<test::BadCase> cases = test::CorruptionCatalogue();
  EXPECT_GE(cases.size(), 30u);
  for (const test::BadCase& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_TRUE(HasError(ParseCopy(c.bytes), c.code, c.substring));
  }
}

TEST(SafetensorsCorruptionTest, EveryPrefixOfAValidFileFailsCleanly) {
  std::vector<uint8_t> a = {1, 2, 3, 4, 5, 6, 7, 8}, b = {9, 10};
  auto full =
      Serialize({{"a", DType::kF32, {2}, a}, {"b", DType::kI8, {1, 2}, b}}, {{"format", "pt"}});
  ASSERT_TRUE(full.ok()) << full.status().ToString();
  ASSERT_TRUE(Parse(*full).ok());
  for (size_t len = 0; len < full->size(); ++len) {
    SCOPED_TRACE(len);
    std::vector<uint8_t> prefix(full->begin(), full->begin() + static_cast<ptrdiff_t>(len));
    Status st = Parse(prefix).status();
    EXPECT_EQ(st.code(), StatusCode::kDataLoss) << st.ToString();
    // The header-only parser sees the same prefix as a whole file and must also refuse it.
    EXPECT_FALSE(ParseHeaderOnly(prefix, prefix.size()).ok());
  }
}

// Flipping any one byte must never crash; most flips are caught, and whatever parses must
// still have every span inside the input.
TEST(SafetensorsCorruptionTest, SingleByteFlipsNeverCrash) {
  std::vector<uint8_t> a(16, 7);
  auto full = Serialize({{"w", DType::kF32, {2, 2}, a}}, {{"k", "v"}});
  ASSERT_TRUE(full.ok());
  for (size_t i = 0; i < full->size(); ++i) {
    for (uint8_t x : {0x01, 0x20, 0x80, 0xff}) {
      std::vector<uint8_t> bad = *full;
      bad[i] ^= x;
      auto f = Parse(bad);
      if (!f.ok()) continue;
      for (const TensorInfo& t : f->tensors()) {
        ASSERT_GE(t.data.data(), bad.data());
        ASSERT_LE(t.data.data() + t.data.size(), bad.data() + bad.size());
      }
    }
  }
}

TEST(SafetensorsSerializeTest, RoundTripsEveryDType) {
  std::vector<std::vector<uint8_t>> storage;
  storage.reserve(static_cast<size_t>(DType::kSentinel));  // the spans below point into it
  std::vector<TensorToWrite> tensors;
  for (int i = 0; i < static_cast<int>(DType::kSentinel); ++i) {
    auto dt = static_cast<DType>(i);
    std::vector<uint64_t> shape = {2, static_cast<uint64_t>(i + 1)};
    std::vector<uint8_t> data(2 * (i + 1) * DTypeSize(dt));
    for (size_t j = 0; j < data.size(); ++j) data[j] = static_cast<uint8_t>(i * 31 + j);
    storage.push_back(std::move(data));
    tensors.push_back({StrCat("t.", DTypeName(dt)), dt, shape, storage.back()});
  }
  tensors.push_back({"empty", DType::kBF16, {0, 5}, {}});
  tensors.push_back({"scalar", DType::kF32, {}, std::span(storage[1]).first(4)});

  std::map<std::string, std::string> metadata = {{"format", "pt"}, {"note", "\u00e9"}};
  auto bytes = Serialize(tensors, metadata);
  ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
  auto f = Parse(*bytes);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(f->header_bytes() % 8, 0u);
  EXPECT_EQ(f->metadata(), metadata);
  ASSERT_EQ(f->tensors().size(), tensors.size());
  for (const TensorToWrite& w : tensors) {
    SCOPED_TRACE(w.name);
    const TensorInfo* t = f->Find(w.name);
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(t->dtype, w.dtype);
    EXPECT_EQ(t->shape, w.shape);
    EXPECT_EQ(std::vector<uint8_t>(t->data.begin(), t->data.end()),
              std::vector<uint8_t>(w.data.begin(), w.data.end()));
  }
  // Laid out in the given order.
  for (size_t i = 0; i < tensors.size(); ++i) EXPECT_EQ(f->tensors()[i].name, tensors[i].name);
}

TEST(SafetensorsSerializeTest, WritesTheReferenceLayout) {
  std::vector<uint8_t> data = {1, 2, 3, 4};
  auto bytes = Serialize({{"a", DType::kF32, {1}, data}}, {{"k", "v"}});
  ASSERT_TRUE(bytes.ok());
  const std::string json = R"({"__metadata__":{"k":"v"},"a":{"dtype":"F32","shape":[1],)"
                           R"("data_offsets":[0,4]}})";
  std::string padded = json + std::string((8 - json.size() % 8) % 8, ' ');
  EXPECT_EQ(std::string(bytes->begin(), bytes->end()), Build(padded, "\x01\x02\x03\x04"));

  auto empty = Serialize({});
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(std::string(empty->begin(), empty->end()), Build("{}      "));
}

TEST(SafetensorsSerializeTest, RefusesInconsistentInput) {
  std::vector<uint8_t> four(4), three(3);
  struct Case {
    const char* name;
    std::vector<TensorToWrite> tensors;
    std::map<std::string, std::string> metadata;
    const char* substring;
  } cases[] = {
      {"size mismatch", {{"a", DType::kF32, {1}, three}}, {}, "data has 3 bytes"},
      {"duplicate", {{"a", DType::kU8, {4}, four}, {"a", DType::kU8, {4}, four}}, {}, "duplicate"},
      {"reserved name", {{"__metadata__", DType::kU8, {4}, four}}, {}, "reserved"},
      {"bad utf-8 name", {{"\xff", DType::kU8, {4}, four}}, {}, "UTF-8"},
      {"bad dtype", {{"a", DType::kSentinel, {4}, four}}, {}, "invalid dtype"},
      {"nine dims", {{"a", DType::kU8, {1, 1, 1, 1, 1, 1, 1, 1, 4}, four}}, {}, "9 dimensions"},
      {"overflow", {{"a", DType::kF32, {1ull << 62, 4}, four}}, {}, "overflows"},
      {"bad utf-8 metadata", {}, {{"k", "\xc0\x80"}}, "UTF-8"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_TRUE(HasError(Serialize(c.tensors, c.metadata).status(), StatusCode::kInvalidArgument,
                         c.substring));
  }
}

TEST(SafetensorsParseTest, HeaderOnlyChecksOffsetsAgainstTheFileSize) {
  std::vector<uint8_t> data(24, 1);
  auto full = Serialize({{"a", DType::kF32, {2}, std::span(data).first(8)},
                         {"b", DType::kF64, {2}, std::span(data).subspan(8)}});
  ASSERT_TRUE(full.ok());
  auto parsed = Parse(*full);
  ASSERT_TRUE(parsed.ok());
  std::vector<uint8_t> head(full->begin(),
                            full->begin() + static_cast<ptrdiff_t>(parsed->data_offset()));
  auto f = ParseHeaderOnly(head, full->size());
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  ASSERT_EQ(f->tensors().size(), 2u);
  EXPECT_TRUE(f->tensors()[1].data.empty());
  EXPECT_EQ(f->tensors()[1].begin, 8u);
  EXPECT_EQ(f->tensors()[1].end, 24u);

  EXPECT_TRUE(HasError(ParseHeaderOnly(head, full->size() - 1).status(), StatusCode::kDataLoss,
                       "truncated"));
  EXPECT_TRUE(HasError(ParseHeaderOnly(head, full->size() + 3).status(), StatusCode::kDataLoss,
                       "3 trailing bytes"));
  std::vector<uint8_t> short_head(head.begin(), head.end() - 1);
  EXPECT_TRUE(HasError(ParseHeaderOnly(short_head, full->size()).status(),
                       StatusCode::kInvalidArgument, "header needs"));
  EXPECT_TRUE(HasError(ParseHeaderOnly(head, 4).status(), StatusCode::kInvalidArgument,
                       "of a file of only 4 bytes"));
}

class SafetensorsOpenTest : public testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/loom_st_open_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(SafetensorsOpenTest, MapsAFileAndPrefixesErrorsWithThePath) {
  std::vector<uint8_t> data = {1, 2, 3, 4, 5, 6, 7, 8};
  auto bytes = Serialize({{"w", DType::kF16, {4}, data}});
  ASSERT_TRUE(bytes.ok());
  const std::string path = dir_ + "/w.safetensors";
  test::WriteFile(path, std::string(bytes->begin(), bytes->end()));
  auto f = Open(path);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  // Moving the File keeps the mapping and so the spans alive.
  File moved = std::move(f).value();
  ASSERT_NE(moved.Find("w"), nullptr);
  EXPECT_EQ(std::vector<uint8_t>(moved.Find("w")->data.begin(), moved.Find("w")->data.end()), data);

  const std::string bad = dir_ + "/bad.safetensors";
  test::WriteFile(bad, std::string(bytes->begin(), bytes->end() - 1));
  EXPECT_TRUE(HasError(Open(bad).status(), StatusCode::kDataLoss, bad + ": tensor 'w' ends at"));
  EXPECT_TRUE(HasError(Open(dir_ + "/none.safetensors").status(), StatusCode::kNotFound,
                       "none.safetensors"));
}

// Writes the fuzz seed corpus. Run by hand after changing the format code:
//   formats_test --gtest_also_run_disabled_tests --gtest_filter='*WriteSeedCorpus*'
TEST(SafetensorsCorpusTest, DISABLED_WriteSeedCorpus) {
  const std::string dir = std::string(LOOM_SOURCE_DIR) + "/fuzz/corpus/safetensors";
  std::filesystem::create_directories(dir);
  for (const auto& [name, bytes] : test::SeedFiles()) {
    ASSERT_LT(bytes.size(), 16u * 1024u) << name;
    test::WriteFile(dir + "/" + name, bytes);
  }
}

}  // namespace
}  // namespace loom::safetensors
