#include "base/mapped_file.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <string>

namespace loom {
namespace {

std::string WriteTemp(const std::string& contents) {
  char path[] = "/tmp/loom_mapped_XXXXXX";
  int fd = mkstemp(path);
  EXPECT_GE(fd, 0);
  EXPECT_EQ(write(fd, contents.data(), contents.size()), static_cast<ssize_t>(contents.size()));
  close(fd);
  return path;
}

TEST(MappedFileTest, MmapAndReadAgree) {
  std::string contents = "GGUF and some bytes\x00\x01\x02";
  std::string path = WriteTemp(contents);
  for (auto mode : {MappedFile::Mode::kMmap, MappedFile::Mode::kRead, MappedFile::Mode::kAuto}) {
    auto f = MappedFile::Open(path, mode);
    ASSERT_TRUE(f.ok()) << f.status().ToString();
    EXPECT_EQ((*f)->size(), contents.size());
    EXPECT_EQ(std::string(reinterpret_cast<const char*>((*f)->data()), (*f)->size()), contents);
    EXPECT_EQ((*f)->is_mapped(), mode != MappedFile::Mode::kRead);
  }
  unlink(path.c_str());
}

TEST(MappedFileTest, EmptyFile) {
  std::string path = WriteTemp("");
  auto f = MappedFile::Open(path);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ((*f)->size(), 0u);
  unlink(path.c_str());
}

TEST(MappedFileTest, Errors) {
  auto missing = MappedFile::Open("/nonexistent/loom/file.gguf");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("/nonexistent/loom/file.gguf"), std::string::npos);
  auto dir = MappedFile::Open("/tmp");
  ASSERT_FALSE(dir.ok());
  EXPECT_EQ(dir.status().code(), StatusCode::kInvalidArgument);
}

TEST(MappedFileTest, ReadFileToStringCap) {
  std::string path = WriteTemp("0123456789");
  auto ok = ReadFileToString(path, 10);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, "0123456789");
  auto big = ReadFileToString(path, 9);
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.status().code(), StatusCode::kOutOfRange);
  EXPECT_NE(big.status().message().find("limit of 9"), std::string::npos);
  unlink(path.c_str());
}

}  // namespace
}  // namespace loom
