#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "io/byte_reader.h"
#include "io/path.h"

namespace loom {
namespace {

TEST(ByteReaderTest, ReadsAndBoundsChecks) {
  std::vector<uint8_t> bytes = {0x47, 0x47, 0x55, 0x46, 0x03, 0x00, 0x00, 0x00, 'a', 'b'};
  ByteReader r(bytes);
  uint32_t magic = 0, version = 0;
  ASSERT_TRUE(r.Read(&magic, "magic").ok());
  EXPECT_EQ(magic, 0x46554747u);
  ASSERT_TRUE(r.Read(&version, "version").ok());
  EXPECT_EQ(version, 3u);
  std::string_view s;
  Status st = r.ReadBytes(3, &s, "key");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), StatusCode::kDataLoss);
  EXPECT_NE(st.message().find("key: need 3 bytes at offset 8 but only 2 remain"),
            std::string::npos);
  ASSERT_TRUE(r.ReadBytes(2, &s, "key").ok());
  EXPECT_EQ(s, "ab");
  uint64_t big;
  EXPECT_FALSE(r.Read(&big, "n").ok());
  EXPECT_FALSE(r.Skip(UINT64_MAX, "skip").ok());
  EXPECT_FALSE(r.Seek(11, "seek").ok());
  EXPECT_TRUE(r.Seek(10, "seek").ok());
  EXPECT_EQ(r.remaining(), 0u);
}

class JoinInsideTest : public testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/loom_path_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    ASSERT_EQ(mkdir((dir_ + "/sub").c_str(), 0755), 0);
    FILE* f = fopen((dir_ + "/sub/a.safetensors").c_str(), "w");
    ASSERT_NE(f, nullptr);
    fclose(f);
    ASSERT_EQ(symlink("/etc/passwd", (dir_ + "/escape").c_str()), 0);
  }
  void TearDown() override {
    unlink((dir_ + "/escape").c_str());
    unlink((dir_ + "/sub/a.safetensors").c_str());
    rmdir((dir_ + "/sub").c_str());
    rmdir(dir_.c_str());
  }
  std::string dir_;
};

TEST_F(JoinInsideTest, AcceptsRelativeNames) {
  auto p = JoinInside(dir_, "sub/a.safetensors");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(*p, dir_ + "/sub/a.safetensors");
  EXPECT_TRUE(JoinInside(dir_, "not-yet-there.bin").ok());
}

TEST_F(JoinInsideTest, RejectsEscapes) {
  for (const char* bad : {"../x", "sub/../../x", "/etc/passwd", "", "a\\b", "..", "a/.."}) {
    auto p = JoinInside(dir_, bad);
    EXPECT_FALSE(p.ok()) << bad;
    EXPECT_EQ(p.status().code(), StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_FALSE(JoinInside(dir_, std::string("a\0b", 3)).ok());
}

// The HF hub cache keeps shards as symlinks to ../../blobs/<hash>; a link placed in the model
// directory is trusted like the directory.
TEST_F(JoinInsideTest, FollowsSymlinksInsideTheDirectory) {
  auto p = JoinInside(dir_, "escape");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(*p, dir_ + "/escape");
}

TEST(PathTest, Helpers) {
  EXPECT_EQ(DirName("/a/b/c.gguf"), "/a/b");
  EXPECT_EQ(DirName("c.gguf"), ".");
  EXPECT_EQ(BaseName("/a/b/c.gguf"), "c.gguf");
  EXPECT_EQ(PathJoin("/a/", "b"), "/a/b");
  EXPECT_EQ(PathJoin("/a", "b"), "/a/b");
  EXPECT_TRUE(IsDirectory("/tmp"));
  EXPECT_FALSE(IsRegularFile("/tmp"));
}

}  // namespace
}  // namespace loom
