// Video decoding against the torchcodec goldens of tests/fixtures/goldens/video (MEDIA.md
// "Video": container metadata, sampled indices, timestamps, RGB frames exact with libswscale),
// the audio track, and bad inputs.
#include "media/video.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "formats/json.h"
#include "formats/safetensors/safetensors.h"
#include "media/media_test_util.h"

namespace loom::media {
namespace {

using testing::Fixture;
using testing::ReadBytes;

const std::string kClip = "media/testsrc_96x64_10fps.mp4";

class VideoGoldenTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::ifstream in(Fixture("goldens/video/index.json"));
    const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    auto index = json::ParseStrict(text, "video index.json");
    ASSERT_TRUE(index.ok()) << index.status().ToString();
    index_ = *index;
    auto golden = safetensors::Open(Fixture("goldens/video/video.safetensors"));
    ASSERT_TRUE(golden.ok()) << golden.status().ToString();
    golden_ = std::move(*golden);
  }

  // Decodes the clip with `num_frames` and compares everything the golden case records.
  void CheckCase(const std::string& name, int num_frames) {
    SCOPED_TRACE(name);
    const json::Json& meta = index_["metadata"];
    const json::Json& c = index_["cases"][name];
    VideoOptions options;
    options.num_frames = num_frames;
    auto video = LoadVideoFile(Fixture(kClip), options, MediaLimits{});
    ASSERT_TRUE(video.ok()) << video.status().ToString();
    EXPECT_EQ(video->total_frames, meta["num_frames"].get<int64_t>());
    EXPECT_EQ(video->fps, meta["average_fps"].get<double>());
    EXPECT_EQ(video->fps, c["fps_used"].get<double>());
    EXPECT_EQ(video->width, meta["width"].get<int64_t>());
    EXPECT_EQ(video->height, meta["height"].get<int64_t>());
    EXPECT_FALSE(video->audio.has_value());

    const auto indices = c["sampled_indices"].get<std::vector<int64_t>>();
    const auto stamps = c["timestamps"].get<std::vector<std::string>>();
    auto sampled = SampleFrameIndices(video->total_frames, num_frames);
    ASSERT_TRUE(sampled.ok());
    EXPECT_EQ(*sampled, indices);
    ASSERT_EQ(video->frames.size(), indices.size());

    const safetensors::TensorInfo* t = golden_.Find(name + ".decoded_frames_nhwc_u8");
    ASSERT_NE(t, nullptr);
    ASSERT_EQ(t->shape, (std::vector<uint64_t>{indices.size(), 64, 96, 3}));
    const size_t frame_bytes = 64 * 96 * 3;
    for (size_t i = 0; i < indices.size(); ++i) {
      const VideoFrame& f = video->frames[i];
      EXPECT_EQ(f.index, indices[i]);
      EXPECT_EQ(f.timestamp, stamps[i]) << "frame " << f.index;
      EXPECT_EQ(f.seconds, c["frames"][i]["timestamp_seconds"].get<double>());
      EXPECT_EQ(f.width, 96);
      EXPECT_EQ(f.height, 64);
      ASSERT_EQ(f.rgb.size(), frame_bytes);
      const uint8_t* want = t->data.data() + i * frame_bytes;
      int max_diff = 0;
      for (size_t k = 0; k < frame_bytes; ++k) {
        max_diff = std::max(max_diff, std::abs(int{f.rgb[k]} - int{want[k]}));
      }
      EXPECT_EQ(max_diff, 0) << "frame " << f.index << ": max abs diff " << max_diff;
    }
  }

  json::Json index_;
  safetensors::File golden_;
};

TEST_F(VideoGoldenTest, Default32Frames) { CheckCase("default", kDefaultVideoFrames); }

TEST_F(VideoGoldenTest, FourFrames) { CheckCase("num_frames_4", 4); }

// MEDIA.md: torchcodec decodes 72704 samples from the 4.5 s AAC track (encoder padding
// included).
TEST(VideoAudioTest, AudioTrackOfTheClip) {
  VideoOptions options;
  options.num_frames = 4;
  options.with_audio = true;
  const std::vector<uint8_t> bytes = ReadBytes(Fixture(kClip));
  auto video = DecodeVideo(bytes, options, MediaLimits{});
  ASSERT_TRUE(video.ok()) << video.status().ToString();
  ASSERT_TRUE(video->audio.has_value());
  EXPECT_EQ(video->audio->samples.size(), 72704u);
  EXPECT_EQ(video->audio->codec, "aac");
  EXPECT_EQ(video->frames.size(), 4u);

  auto track = DecodeAudioTrack(bytes, MediaLimits{});
  ASSERT_TRUE(track.ok()) << track.status().ToString();
  EXPECT_EQ(track->samples, video->audio->samples);

  // No audio track: not an error, the audio stays empty.
  options.num_frames = 3;
  auto silent = DecodeVideo(ReadBytes(Fixture("media/av/tiny.avi")), options, MediaLimits{});
  ASSERT_TRUE(silent.ok()) << silent.status().ToString();
  EXPECT_FALSE(silent->audio.has_value());
  EXPECT_EQ(silent->total_frames, 3);
  EXPECT_EQ(silent->fps, 5.0);
}

// gop10.mp4 has a key frame every 10 frames, so sampling 4 of its 60 frames seeks between
// them (as torchcodec does); the frames must equal those of a straight decode of all 60.
TEST(VideoSeekTest, SeekingGivesTheSameFramesAsDecodingThrough) {
  const std::vector<uint8_t> bytes = ReadBytes(Fixture("media/av/gop10.mp4"));
  VideoOptions all;
  all.num_frames = 60;
  MediaLimits limits;
  limits.max_video_frames = 60;
  auto through = DecodeVideo(bytes, all, limits);
  ASSERT_TRUE(through.ok()) << through.status().ToString();
  ASSERT_EQ(through->frames.size(), 60u);
  for (int n : {4, 7, 32}) {
    SCOPED_TRACE(n);
    VideoOptions options;
    options.num_frames = n;
    auto sampled = DecodeVideo(bytes, options, limits);
    ASSERT_TRUE(sampled.ok()) << sampled.status().ToString();
    ASSERT_EQ(sampled->frames.size(), static_cast<size_t>(n));
    for (const VideoFrame& f : sampled->frames) {
      EXPECT_EQ(f.rgb, through->frames[static_cast<size_t>(f.index)].rgb) << "frame " << f.index;
    }
  }
}

TEST(VideoSamplingTest, IndicesAsTheReference) {
  auto four = SampleFrameIndices(45, 4);
  ASSERT_TRUE(four.ok());
  EXPECT_EQ(*four, (std::vector<int64_t>{0, 11, 22, 33}));
  auto all = SampleFrameIndices(5, 5);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(*all, (std::vector<int64_t>{0, 1, 2, 3, 4}));

  auto too_many = SampleFrameIndices(20, 32);
  ASSERT_FALSE(too_many.ok());
  EXPECT_NE(too_many.status().message().find("num_frames = 32 but the video has only 20 frames"),
            std::string::npos)
      << too_many.status().ToString();
  EXPECT_FALSE(SampleFrameIndices(20, 0).ok());
}

TEST(VideoSamplingTest, TimestampsAsPython) {
  EXPECT_EQ(FormatTimestamp(0.0), "00:00");
  EXPECT_EQ(FormatTimestamp(1.1), "00:01");
  EXPECT_EQ(FormatTimestamp(59.999), "00:59");
  EXPECT_EQ(FormatTimestamp(60.0), "01:00");
  EXPECT_EQ(FormatTimestamp(61.5), "01:01");
  EXPECT_EQ(FormatTimestamp(3599.9), "59:59");
  EXPECT_EQ(FormatTimestamp(6000.0), "100:00");
  EXPECT_EQ(FormatTimestamp(std::numeric_limits<double>::quiet_NaN()), "00:00");
  EXPECT_EQ(FormatTimestamp(-0.0), "00:00");
  EXPECT_EQ(FormatTimestamp(-1.0), "-1:59");  // Python floors: -1 // 60 = -1, -1 % 60 = 59
  // Python prints int(1e300 // 60) exactly: 299 digits ending in ...336, then ":00".
  const std::string huge = FormatTimestamp(1e300);
  EXPECT_EQ(huge.size(), 302u);
  EXPECT_EQ(huge.substr(0, 12), "166666666666");
  EXPECT_EQ(huge.substr(huge.size() - 6), "336:00");
  // idx / fps as the processor computes it: 11 / 10 and 43 / 10.
  EXPECT_EQ(FormatTimestamp(11 / 10.0), "00:01");
  EXPECT_EQ(FormatTimestamp(43 / 10.0), "00:04");
}

struct BadCase {
  std::string name;
  std::vector<uint8_t> bytes;
  VideoOptions options;
  MediaLimits limits;
  StatusCode code;
  std::string substring;
};

std::vector<BadCase> BadVideoCases() {
  std::vector<BadCase> cases;
  const std::vector<uint8_t> clip = ReadBytes(Fixture(kClip));
  const std::vector<uint8_t> avi = ReadBytes(Fixture("media/av/tiny.avi"));
  auto add = [&](std::string name, std::vector<uint8_t> bytes, StatusCode code,
                 std::string substring, int num_frames = 4, MediaLimits limits = MediaLimits{}) {
    VideoOptions options;
    options.num_frames = num_frames;
    cases.push_back(
        {std::move(name), std::move(bytes), options, limits, code, std::move(substring)});
  };

  add("empty", {}, StatusCode::kInvalidArgument, "empty");
  std::mt19937 rng(99);
  std::vector<uint8_t> garbage(8192);
  for (uint8_t& b : garbage) b = static_cast<uint8_t>(rng());
  add("random garbage", garbage, StatusCode::kDataLoss, "cannot read the input as a media file");
  add("audio only", ReadBytes(Fixture("media/av/tone.flac")), StatusCode::kInvalidArgument,
      "no video stream in the flac input");
  // The AVI's FourCC patched to one no decoder knows.
  std::vector<uint8_t> unknown = avi;
  for (size_t i = 0; i + 4 <= unknown.size(); ++i) {
    if (std::memcmp(&unknown[i], "FMP4", 4) == 0) std::memcpy(&unknown[i], "ZZZZ", 4);
  }
  add("unsupported codec", unknown, StatusCode::kUnimplemented,
      "unsupported video codec 'unknown (tag ZZZZ)'");
  add("more frames than the video has", avi, StatusCode::kInvalidArgument,
      "num_frames = 4 but the video has only 3 frames; request at most 3 frames");
  add("default 32 frames on a 3-frame video", avi, StatusCode::kInvalidArgument,
      "request at most 3 frames", kDefaultVideoFrames);
  add("num_frames 0", clip, StatusCode::kInvalidArgument, "num_frames must be >= 1", 0);
  add("num_frames over max_video_frames", clip, StatusCode::kInvalidArgument,
      "num_frames = 65 is more than max_video_frames = 64", 65);

  MediaLimits limits;
  limits.max_video_frame_pixels = 96 * 64 - 1;
  add("frame over max_video_frame_pixels", clip, StatusCode::kOutOfRange,
      "96x64 = 6144 pixels, more than max_video_frame_pixels = 6143", 4, limits);
  limits = {};
  limits.max_video_seconds = 1.0;
  add("longer than max_video_seconds", clip, StatusCode::kOutOfRange,
      "more than max_video_seconds = 1", 4, limits);
  limits = {};
  limits.max_video_bytes = 1000;
  add("more than max_video_bytes", clip, StatusCode::kOutOfRange,
      "more than max_video_bytes = 1000", 4, limits);
  limits = {};
  limits.max_video_total_frames = 10;
  add("more than max_video_total_frames", clip, StatusCode::kOutOfRange,
      "max_video_total_frames = 10", 4, limits);
  std::vector<uint8_t> cut(clip.begin(), clip.begin() + static_cast<long>(clip.size() / 2));
  add("truncated mp4", cut, StatusCode::kDataLoss, "truncated");
  return cases;
}

TEST(VideoBadInputTest, EachFailsWithAClearMessage) {
  for (const BadCase& c : BadVideoCases()) {
    SCOPED_TRACE(c.name);
    auto video = DecodeVideo(c.bytes, c.options, c.limits);
    ASSERT_FALSE(video.ok()) << "decoded " << video->frames.size() << " frames";
    EXPECT_EQ(video.status().code(), c.code) << video.status().ToString();
    EXPECT_NE(video.status().message().find(c.substring), std::string::npos)
        << video.status().ToString();
  }
}

TEST(VideoBadInputTest, MissingFile) {
  auto missing = LoadVideoFile(Fixture("media/av/no_such_file.mp4"), VideoOptions{}, MediaLimits{});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace loom::media
