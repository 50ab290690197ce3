#include "formats/json.h"

#include <gtest/gtest.h>

namespace loom::json {
namespace {

TEST(JsonTest, ParsesAndReadsTypedFields) {
  auto j = ParseStrict(R"({"a": 1, "b": 2.5, "c": "x", "d": true, "e": [1, 2], "f": {"g": 3},
                           "h": 1024.0, "s": ["p", "q"], "n": null})",
                       "test.json");
  ASSERT_TRUE(j.ok()) << j.status().ToString();
  int64_t i;
  double d;
  std::string s;
  bool b;
  std::vector<int64_t> v;
  std::vector<std::string> sv;
  const Json* obj;
  EXPECT_TRUE(GetInt(*j, "", "a", &i).ok());
  EXPECT_EQ(i, 1);
  EXPECT_TRUE(GetInt(*j, "", "h", &i).ok());  // 1024.0 is an exact integer
  EXPECT_EQ(i, 1024);
  EXPECT_TRUE(GetDouble(*j, "", "b", &d).ok());
  EXPECT_EQ(d, 2.5);
  EXPECT_TRUE(GetString(*j, "", "c", &s).ok());
  EXPECT_TRUE(GetBool(*j, "", "d", &b).ok());
  EXPECT_TRUE(GetIntArray(*j, "", "e", &v).ok());
  EXPECT_EQ(v, (std::vector<int64_t>{1, 2}));
  EXPECT_TRUE(GetStringArray(*j, "", "s", &sv).ok());
  ASSERT_TRUE(GetObject(*j, "", "f", &obj).ok());
  EXPECT_TRUE(GetInt(*obj, "f", "g", &i).ok());
  EXPECT_TRUE(Has(*j, "a"));
  EXPECT_FALSE(Has(*j, "n"));  // null counts as absent

  Status st = GetInt(*j, "", "c", &i);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(st.message(), "c: expected an integer, got string");
  st = GetInt(*j, "", "b", &i);
  EXPECT_EQ(st.message(), "b: expected an integer, got 2.5");
  st = GetInt(*obj, "text_config", "missing", &i);
  EXPECT_EQ(st.code(), StatusCode::kNotFound);
  EXPECT_EQ(st.message(), "text_config.missing: missing");
  st = GetIntArray(*j, "", "e", &v, 1);
  EXPECT_EQ(st.code(), StatusCode::kOutOfRange);
}

TEST(JsonTest, RejectsHostileDocuments) {
  struct Case {
    std::string text;
    const char* substring;
  } cases[] = {
      {R"({"a": 1, "a": 2})", "duplicate key 'a'"},
      {R"({"x": {"a": 1, "\u0061": 2}})", "duplicate key 'a'"},
      {"{\"a\": \"\xff\"}", "not valid UTF-8"},
      {R"({"a": "\ud800"})", "invalid JSON"},
      {"{\"a\": 1} trailing", "invalid JSON"},
      {"{", "invalid JSON"},
      {"", "invalid JSON"},
      {std::string(100, '[') + std::string(100, ']'), "nesting deeper than the limit of 64"},
      {std::string("{\"a\": 1}\0{\"a\": 2}", 17), "NUL byte at offset 8"},
  };
  for (const auto& c : cases) {
    auto r = ParseStrict(c.text, "doc");
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_EQ(r.status().code(), StatusCode::kDataLoss) << c.text;
    EXPECT_NE(r.status().message().find(c.substring), std::string::npos) << r.status().message();
  }
  // Same keys at different levels are fine.
  EXPECT_TRUE(ParseStrict(R"({"a": {"a": 1}, "b": {"a": 2}})", "doc").ok());
  ParseLimits small;
  small.max_bytes = 4;
  EXPECT_EQ(ParseStrict("[1, 2]", "doc", small).status().code(), StatusCode::kOutOfRange);
}

}  // namespace
}  // namespace loom::json
