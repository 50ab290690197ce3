#include "runtime/stop.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace loom::runtime {
namespace {

// Feeds `pieces` and returns everything emitted (plus Flush when not stopped).
std::string FeedAll(StopMatcher& m, const std::vector<std::string>& pieces, bool* stopped = nullptr,
                    int* index = nullptr) {
  std::string out;
  for (const auto& p : pieces) {
    auto o = m.Feed(p);
    out += o.text;
    if (o.stopped) {
      if (stopped) *stopped = true;
      if (index) *index = o.stop_index;
      return out;
    }
  }
  if (stopped) *stopped = false;
  return out + m.Flush();
}

TEST(StopMatcherTest, NoStopsPassesThrough) {
  auto m = StopMatcher::Create({}).value();
  auto o = m.Feed("hello");
  EXPECT_EQ(o.text, "hello");
  EXPECT_FALSE(o.stopped);
}

TEST(StopMatcherTest, SplitAcrossPieces) {
  auto m = StopMatcher::Create({"<end>"}).value();
  auto o = m.Feed("Hi <e");
  EXPECT_EQ(o.text, "Hi ");  // "<e" held back
  EXPECT_EQ(m.pending(), 2u);
  o = m.Feed("n");
  EXPECT_EQ(o.text, "");
  o = m.Feed("d> more");
  EXPECT_TRUE(o.stopped);
  EXPECT_EQ(o.text, "");
  EXPECT_EQ(o.stop_index, 0);
  EXPECT_TRUE(m.Feed("x").stopped);
  EXPECT_EQ(m.Flush(), "");
}

TEST(StopMatcherTest, FalseStartIsReleased) {
  auto m = StopMatcher::Create({"<end>"}).value();
  bool stopped = true;
  EXPECT_EQ(FeedAll(m, {"a<e", "nx", "<", "en"}, &stopped), "a<enx<en");
  EXPECT_FALSE(stopped);
}

TEST(StopMatcherTest, TextBeforeStopInSamePiece) {
  auto m = StopMatcher::Create({"STOP"}).value();
  bool stopped = false;
  EXPECT_EQ(FeedAll(m, {"abc", "deSTOPfg"}, &stopped), "abcde");
  EXPECT_TRUE(stopped);
}

TEST(StopMatcherTest, OverlappingCandidates) {
  // "abab" can only be recognized by holding back "aba" after the first "ab" fails.
  auto m = StopMatcher::Create({"abac", "bab"}).value();
  bool stopped = false;
  int index = -1;
  EXPECT_EQ(FeedAll(m, {"xa", "ba", "b"}, &stopped, &index), "xa");
  EXPECT_TRUE(stopped);
  EXPECT_EQ(index, 1);
  // The earliest occurrence wins, whatever the list order.
  auto m2 = StopMatcher::Create({"cd", "bcde"}).value();
  EXPECT_EQ(FeedAll(m2, {"abcde"}, &stopped, &index), "a");
  EXPECT_EQ(index, 1);
  // A long candidate still possible while a shorter one is not.
  auto m3 = StopMatcher::Create({"\n\n", "\nUser:"}).value();
  auto o = m3.Feed("ok\nUs");
  EXPECT_EQ(o.text, "ok");
  o = m3.Feed("e");
  EXPECT_EQ(o.text, "");
  o = m3.Feed("d");
  EXPECT_EQ(o.text, "\nUsed");
}

TEST(StopMatcherTest, Utf8MultiBytePieces) {
  // "é" = C3 A9, "日" = E6 97 A5; pieces split inside characters.
  auto m = StopMatcher::Create({"日本"}).value();
  auto o = m.Feed("caf\xC3");
  EXPECT_EQ(o.text, "caf");  // partial character held
  o = m.Feed("\xA9 \xE6");
  EXPECT_EQ(o.text, "\xC3\xA9 ");  // "é " ; E6 could start 日
  o = m.Feed("\x97\xA5");
  EXPECT_EQ(o.text, "");  // "日" is a prefix of the stop
  o = m.Feed("\xE6\x9C\xAC!");
  EXPECT_TRUE(o.stopped);
  EXPECT_EQ(o.text, "");
  // A character that only shares its lead byte with the stop is released whole.
  auto m2 = StopMatcher::Create({"日本"}).value();
  bool stopped = true;
  EXPECT_EQ(FeedAll(m2, {"\xE6", "\x97", "\xA6x"}, &stopped), "\xE6\x97\xA6x");
  EXPECT_FALSE(stopped);
  // Without stops, an incomplete character still waits for its continuation bytes.
  auto m3 = StopMatcher::Create({}).value();
  EXPECT_EQ(m3.Feed("a\xE6\x97").text, "a");
  EXPECT_EQ(m3.Feed("\xA5").text, "\xE6\x97\xA5");
}

TEST(StopMatcherTest, EmptyStopIsAnError) {
  auto m = StopMatcher::Create({"ok", ""});
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("stop string 1 is empty"), std::string::npos);
}

}  // namespace
}  // namespace loom::runtime
