#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "formats/json.h"
#include "formats/safetensors/safetensors.h"
#include "formats/safetensors/safetensors_test_util.h"

namespace loom::safetensors {
namespace {

using test::HasError;

class SafetensorsCheckpointTest : public testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/loom_st_ckpt_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    char other[] = "/tmp/loom_st_outside_XXXXXX";
    ASSERT_NE(mkdtemp(other), nullptr);
    outside_ = other;
  }
  void TearDown() override {
    std::filesystem::remove_all(dir_);
    std::filesystem::remove_all(outside_);
  }

  // Writes a shard holding U8 tensors of `sizes[i]` bytes named `names[i]`.
  void WriteShard(const std::string& path, const std::vector<std::string>& names,
                  const std::vector<size_t>& sizes) {
    std::vector<std::vector<uint8_t>> data;
    data.reserve(names.size());
    std::vector<TensorToWrite> tensors;
    for (size_t i = 0; i < names.size(); ++i) {
      data.emplace_back(sizes[i], static_cast<uint8_t>(i + 1));
      tensors.push_back({names[i], DType::kU8, {sizes[i]}, data.back()});
    }
    auto bytes = Serialize(tensors);
    ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
    test::WriteFile(path, std::string(bytes->begin(), bytes->end()));
  }

  void WriteIndex(const std::string& json) {
    test::WriteFile(dir_ + "/model.safetensors.index.json", json);
  }

  // Two shards: s1 = {a: 4 bytes, b: 2 bytes}, s2 = {c: 8 bytes}.
  void WriteTwoShards() {
    WriteShard(dir_ + "/s1.safetensors", {"a", "b"}, {4, 2});
    WriteShard(dir_ + "/s2.safetensors", {"c"}, {8});
  }

  Status OpenStatus() { return OpenCheckpoint(dir_).status(); }

  std::string dir_;
  std::string outside_;
};

TEST_F(SafetensorsCheckpointTest, OpensASingleFileDirectlyOrThroughItsDirectory) {
  WriteShard(dir_ + "/model.safetensors", {"w", "v"}, {3, 5});
  for (const std::string& path : {dir_ + "/model.safetensors", dir_, dir_ + "/"}) {
    SCOPED_TRACE(path);
    auto c = OpenCheckpoint(path);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    EXPECT_EQ(c->num_shards(), 1u);
    ASSERT_EQ(c->tensors().size(), 2u);
    EXPECT_EQ(c->tensors()[0]->name, "v");  // sorted by name
    EXPECT_EQ(c->tensors()[1]->name, "w");
    EXPECT_EQ(c->total_bytes(), 8u);
    ASSERT_NE(c->Find("w"), nullptr);
    EXPECT_EQ(c->Find("w")->data.size(), 3u);
    EXPECT_EQ(c->Find("x"), nullptr);
  }
}

TEST_F(SafetensorsCheckpointTest, OpensShardsThroughTheIndex) {
  WriteTwoShards();
  WriteIndex(R"({"metadata": {"total_size": 14},
                 "weight_map": {"a": "s1.safetensors", "b": "s1.safetensors",
                                "c": "s2.safetensors"}})");
  for (const std::string& path : {dir_, dir_ + "/model.safetensors.index.json"}) {
    SCOPED_TRACE(path);
    auto c = OpenCheckpoint(path);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    EXPECT_EQ(c->num_shards(), 2u);
    ASSERT_EQ(c->tensors().size(), 3u);
    EXPECT_EQ(c->tensors()[0]->name, "a");
    EXPECT_EQ(c->tensors()[2]->name, "c");
    EXPECT_EQ(c->total_bytes(), 14u);
    ASSERT_NE(c->Find("c"), nullptr);
    EXPECT_EQ(std::vector<uint8_t>(c->Find("c")->data.begin(), c->Find("c")->data.end()),
              std::vector<uint8_t>(8, 1));
    // The checkpoint owns its mappings: moving it keeps the spans valid.
    Checkpoint moved = std::move(c).value();
    EXPECT_EQ(moved.Find("b")->data[1], 2);
  }
}

TEST_F(SafetensorsCheckpointTest, AcceptsShardsInASubdirectoryAndACustomIndexName) {
  ASSERT_EQ(mkdir((dir_ + "/sub").c_str(), 0755), 0);
  WriteShard(dir_ + "/sub/s1.safetensors", {"a"}, {4});
  test::WriteFile(dir_ + "/custom.safetensors.index.json",
                  R"({"weight_map": {"a": "sub/s1.safetensors"}})");
  auto c = OpenCheckpoint(dir_ + "/custom.safetensors.index.json");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->num_shards(), 1u);
}

// Like the HF hub cache (snapshots/<rev>/x.safetensors -> ../../blobs/<hash>): a symlink that
// is already in the model directory is followed; names from the index may not escape.
TEST_F(SafetensorsCheckpointTest, FollowsSymlinkedShards) {
  WriteShard(outside_ + "/blob", {"a"}, {4});
  ASSERT_EQ(symlink((outside_ + "/blob").c_str(), (dir_ + "/link.safetensors").c_str()), 0);
  test::WriteFile(dir_ + "/model.safetensors.index.json",
                  R"({"weight_map": {"a": "link.safetensors"}})");
  auto c = OpenCheckpoint(dir_ + "/model.safetensors.index.json");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_NE(c->Find("a"), nullptr);
}

TEST_F(SafetensorsCheckpointTest, RefusesShardNamesOutsideTheDirectory) {
  WriteShard(outside_ + "/evil.safetensors", {"a"}, {4});
  const std::string rel =
      "../" + std::filesystem::path(outside_).filename().string() + "/evil.safetensors";
  struct Case {
    std::string shard;
    const char* substring;
  } cases[] = {
      {"../x.safetensors", "contains '..'"},
      {rel, "contains '..'"},
      {"sub/../../x.safetensors", "contains '..'"},
      {outside_ + "/evil.safetensors", "is absolute"},
      {"/etc/passwd", "is absolute"},
      {"a\\..\\x", "backslash"},
      {"", "file name is empty"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.shard);
    json::Json index;
    index["weight_map"]["a"] = c.shard;
    WriteIndex(index.dump());
    Status st = OpenStatus();
    EXPECT_TRUE(HasError(st, StatusCode::kInvalidArgument, c.substring));
    EXPECT_TRUE(HasError(st, StatusCode::kInvalidArgument, "model.safetensors.index.json: "));
  }
}

TEST_F(SafetensorsCheckpointTest, RefusesIndexesThatDisagreeWithTheShards) {
  WriteTwoShards();
  WriteShard(dir_ + "/dup.safetensors", {"c"}, {8});
  WriteShard(dir_ + "/bad.safetensors", {"a"}, {4});
  ASSERT_EQ(mkdir((dir_ + "/sub").c_str(), 0755), 0);
  {  // Corrupt the last shard: drop its final byte.
    std::string path = dir_ + "/bad.safetensors";
    ASSERT_EQ(truncate(path.c_str(), static_cast<off_t>(std::filesystem::file_size(path) - 1)), 0);
  }
  struct Case {
    const char* name;
    std::string index;
    StatusCode code;
    std::string substring;
  } cases[] = {
      {"missing shard",
       R"({"weight_map": {"a": "s1.safetensors", "b": "s1.safetensors", "c": "gone.safetensors"}})",
       StatusCode::kNotFound, "shard 'gone.safetensors' listed in weight_map does not exist"},
      {"tensor not in its shard",
       R"({"weight_map": {"a": "s1.safetensors", "b": "s1.safetensors",
                          "c": "s2.safetensors", "d": "s2.safetensors"}})",
       StatusCode::kDataLoss,
       "weight_map lists tensor 'd' in shard 's2.safetensors', which does not contain it"},
      {"tensor missing from weight_map",
       R"({"weight_map": {"a": "s1.safetensors", "c": "s2.safetensors"}})", StatusCode::kDataLoss,
       "tensor 'b' of shard 's1.safetensors' is not listed in weight_map"},
      {"tensor listed for the wrong shard",
       R"({"weight_map": {"a": "s1.safetensors", "b": "s2.safetensors", "c": "s2.safetensors"}})",
       StatusCode::kDataLoss,
       "tensor 'b' is in shard 's1.safetensors' but weight_map lists it in shard 's2.safetensors'"},
      {"tensor in two shards",
       R"({"weight_map": {"a": "s1.safetensors", "b": "s1.safetensors",
                          "c": "s2.safetensors", "x": "dup.safetensors"}})",
       StatusCode::kDataLoss,
       "tensor 'c' is in shard 'dup.safetensors' but weight_map lists it in shard "
       "'s2.safetensors'"},
      {"same shard under two names",
       R"({"weight_map": {"a": "s1.safetensors", "b": "./s1.safetensors"}})", StatusCode::kDataLoss,
       "but weight_map lists it in shard"},
      {"corrupt shard", R"({"weight_map": {"a": "bad.safetensors"}})", StatusCode::kDataLoss,
       "bad.safetensors: tensor 'a' ends at 4 but the data buffer has only 3 bytes"},
      {"shard is a directory", R"({"weight_map": {"a": "sub"}})", StatusCode::kInvalidArgument,
       "not a regular file"},
      {"not JSON", "{", StatusCode::kDataLoss, "index: invalid JSON"},
      {"NUL byte", std::string(R"({"weight_map": {"a": "s1.safetensors"}})") + '\0' + "junk",
       StatusCode::kDataLoss, "index has a NUL byte at offset 39"},
      {"duplicate key", R"({"weight_map": {"a": "s1.safetensors", "a": "s2.safetensors"}})",
       StatusCode::kDataLoss, "duplicate key 'a'"},
      {"not an object", "[]", StatusCode::kDataLoss, "index is a JSON array, expected an object"},
      {"no weight_map", R"({"metadata": {}})", StatusCode::kDataLoss, "missing field 'weight_map'"},
      {"weight_map not an object", R"({"weight_map": []})", StatusCode::kDataLoss,
       "weight_map is of type array"},
      {"empty weight_map", R"({"weight_map": {}})", StatusCode::kDataLoss,
       "weight_map lists no tensors"},
      {"shard name not a string", R"({"weight_map": {"a": 1}})", StatusCode::kDataLoss,
       "weight_map 'a' is of type integer, expected a shard file name"},
      {"metadata not an object", R"({"metadata": 3, "weight_map": {"a": "s1.safetensors"}})",
       StatusCode::kDataLoss, "metadata is of type integer"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    WriteIndex(c.index);
    EXPECT_TRUE(HasError(OpenStatus(), c.code, c.substring));
  }
}

TEST_F(SafetensorsCheckpointTest, RefusesTooManyShards) {
  std::string index = R"({"weight_map": {)";
  for (size_t i = 0; i <= kMaxShards; ++i) {
    index += StrCat(i == 0 ? "" : ",", "\"t", i, "\": \"s", i, ".safetensors\"");
  }
  WriteIndex(index + "}}");
  EXPECT_TRUE(HasError(OpenStatus(), StatusCode::kOutOfRange,
                       "weight_map names more than 4096 distinct shard files"));
}

TEST_F(SafetensorsCheckpointTest, ReportsMissingFiles) {
  EXPECT_TRUE(HasError(OpenStatus(), StatusCode::kNotFound,
                       "holds neither model.safetensors nor model.safetensors.index.json"));
  EXPECT_TRUE(HasError(OpenCheckpoint(dir_ + "/nope.safetensors").status(), StatusCode::kNotFound,
                       "nope.safetensors"));
  EXPECT_TRUE(HasError(OpenCheckpoint(dir_ + "/nope.index.json").status(), StatusCode::kNotFound,
                       "nope.index.json"));
}

}  // namespace
}  // namespace loom::safetensors
