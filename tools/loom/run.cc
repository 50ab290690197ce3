// loom run: generate text from a prompt, streamed to stdout; speeds to stderr.
//
//   loom run -m MODEL -p PROMPT [-n N] [--temp T] [--top-k K] [--top-p P] [--min-p P]
//            [--repeat-penalty R] [--presence-penalty P] [--frequency-penalty F] [--seed S]
//            [--stop STR]... [--raw] [-t THREADS] [--ctx N] [--chunk N] [--cache-type TYPE]
//            [--ignore-eos] [-v]
//            [--image FILE]... [--audio FILE]... [--video FILE]... [--mmproj FILE]
//            [--image-tokens N] [--video-frames N] [--video-audio]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include "base/strings.h"
#include "base/thread_pool.h"
#include "media/prompt.h"
#include "runtime/session.h"
#include "runtime/stop.h"
#include "tokenizer/tokenizer.h"
#include "tools/loom/engine.h"
#include "tools/loom/flags.h"

namespace loom::tools {
namespace {

constexpr char kRunUsage[] =
    "usage: loom run -m MODEL -p PROMPT [options]\n"
    "  -m MODEL             a .gguf file or an HF model directory\n"
    "  -p PROMPT            the prompt ('-' reads standard input)\n"
    "  -n N                 tokens to generate (default 256)\n"
    "  --temp T             temperature (0: greedy; default: the model's generation config,\n"
    "                       else 0.8)\n"
    "  --top-k K, --top-p P, --min-p P\n"
    "  --repeat-penalty R, --presence-penalty P, --frequency-penalty F, --repeat-last-n N\n"
    "  --seed S             random seed (same seed, same output)\n"
    "  --stop STR           stop when STR is generated (repeatable; STR is not printed)\n"
    "  --raw                send the prompt as is (no chat wrapper for instruction-tuned "
    "models)\n"
    "  --ignore-eos         keep generating after an end-of-sequence token\n"
    "  -t THREADS           threads (default: all cores)\n"
    "  --ctx N              context size in tokens (default 4096)\n"
    "  --chunk N            prefill chunk in tokens (default 512)\n"
    "  --cache-type TYPE    KV cache element type: f16 (default), bf16, q8_0, f32\n"
    "  -v                   print the prompt ids and the stop reason to stderr\n"
    "media (Gemma 4 Unified; repeatable, taken in command-line order):\n"
    "  --image FILE         PNG, JPEG, WebP, GIF or BMP\n"
    "  --audio FILE         WAV, FLAC, OGG/Vorbis, MP3 (mixed to mono, resampled to 16 kHz)\n"
    "  --video FILE         MP4, WebM, MKV ... (frames sampled uniformly)\n"
    "                       Each <|image|>, <|audio|>, <|video|> in the prompt takes the next\n"
    "                       file of its kind; without placeholders the media go before the\n"
    "                       prompt text.\n"
    "  --mmproj FILE        the media embedders of a GGUF model (llama.cpp mmproj file)\n"
    "  --image-tokens N     soft tokens per image: 70, 140, 280 (default), 560, 1120\n"
    "  --video-frames N     frames sampled per video (default 32; 70 tokens each)\n"
    "  --video-audio        also feed the video's audio track\n";

struct MediaArg {
  media::MediaKind kind;
  std::string path;
};

// The media flags in command-line order (the flag parser keeps each list separately).
std::vector<MediaArg> MediaArgs(int argc, char** argv) {
  std::vector<MediaArg> out;
  for (int i = 1; i + 1 < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--image")
      out.push_back({media::MediaKind::kImage, argv[++i]});
    else if (a == "--audio")
      out.push_back({media::MediaKind::kAudio, argv[++i]});
    else if (a == "--video")
      out.push_back({media::MediaKind::kVideo, argv[++i]});
  }
  return out;
}

// BOS, the user turn (with the chat wrapper when `chat`) and the media's soft tokens.
Result<runtime::PromptInput> MediaPrompt(const Engine& e, const std::string& prompt, bool chat,
                                         const std::vector<MediaArg>& args,
                                         const media::MediaOptions& mo, ThreadPool* pool,
                                         bool verbose) {
  std::vector<media::MediaItem> items;
  double decode = 0;
  for (const MediaArg& a : args) {
    LOOM_ASSIGN_OR_RETURN(media::MediaItem item, media::PrepareMediaFile(a.kind, a.path, mo));
    decode += item.decode_seconds;
    items.push_back(std::move(item));
  }
  std::string text = prompt;
  bool has_placeholder = false;
  for (std::string_view p : media::kPlaceholders) {
    has_placeholder = has_placeholder || text.find(p) != std::string::npos;
  }
  if (!has_placeholder) {
    std::string lead;
    for (const MediaArg& a : args) lead += media::kPlaceholders[static_cast<int>(a.kind)];
    text = lead + text;
  }
  media::PromptAssembler pa(*e.model, *e.tokenizer, pool);
  if (auto bos = e.tokenizer->RoleId("bos")) LOOM_RETURN_IF_ERROR(pa.AddToken(*bos));
  const ChatWrap wrap = chat ? UserTurnWrap(*e.tokenizer) : ChatWrap{};
  media::PromptAssembler::Cursor cursor;
  LOOM_RETURN_IF_ERROR(pa.AddText(wrap.before, /*special=*/true));
  LOOM_RETURN_IF_ERROR(pa.AddTextWithMedia(text, /*special=*/false, items, &cursor));
  LOOM_RETURN_IF_ERROR(media::PromptAssembler::CheckAllUsed(items, cursor));
  LOOM_RETURN_IF_ERROR(pa.AddText(wrap.after, /*special=*/true));
  if (verbose) {
    std::fprintf(stderr,
                 "media: %zu items, %lld soft tokens; decode + preprocess %.1f ms, embed %.1f ms\n",
                 items.size(), static_cast<long long>(pa.soft_tokens()), decode * 1e3,
                 pa.embed_seconds() * 1e3);
  }
  return pa.Take();
}

}  // namespace

int RunMain(int argc, char** argv) {
  FlagParser flags("run", kRunUsage);
  std::string model_path, prompt;
  uint64_t n = 256, top_k = 0, seed = 0, repeat_last_n = 64;
  double temp = 0.8, top_p = 1.0, min_p = 0.0, repeat_penalty = 1.0, presence = 0, frequency = 0;
  bool temp_set = false, top_k_set_flag = false, top_p_set = false, raw = false, ignore_eos = false,
       verbose = false;
  std::vector<std::string> stops, images, audios, videos;
  std::string mmproj;
  uint64_t image_tokens = media::kDefaultImageBudget, video_frames = media::kDefaultVideoFrames;
  bool video_audio = false;
  EngineFlags ef;
  ef.Register(&flags);
  flags.AddString("-m", &model_path);
  flags.AddString("--model", &model_path);
  flags.AddString("-p", &prompt);
  flags.AddString("--prompt", &prompt);
  flags.AddUint("-n", &n, 0, 1 << 24);
  flags.AddDouble("--temp", &temp, 0, 100, &temp_set);
  flags.AddUint("--top-k", &top_k, 0, 1 << 22);
  flags.AddDouble("--top-p", &top_p, 1e-9, 1, &top_p_set);
  flags.AddDouble("--min-p", &min_p, 0, 1);
  flags.AddDouble("--repeat-penalty", &repeat_penalty, 1e-6, 100);
  flags.AddDouble("--presence-penalty", &presence, -100, 100);
  flags.AddDouble("--frequency-penalty", &frequency, -100, 100);
  flags.AddUint("--repeat-last-n", &repeat_last_n, 0, 1 << 24);
  flags.AddUint("--seed", &seed, 0, UINT64_MAX);
  flags.AddStringList("--stop", &stops);
  flags.AddBool("--raw", &raw);
  flags.AddBool("--ignore-eos", &ignore_eos);
  flags.AddBool("-v", &verbose);
  flags.AddStringList("--image", &images);
  flags.AddStringList("--audio", &audios);
  flags.AddStringList("--video", &videos);
  flags.AddString("--mmproj", &mmproj);
  flags.AddUint("--image-tokens", &image_tokens, 1, 1 << 20);
  flags.AddUint("--video-frames", &video_frames, 1, 1 << 20);
  flags.AddBool("--video-audio", &video_audio);
  std::vector<std::string> positional;
  if (int rc = flags.Parse(argc, argv, &positional); rc >= 0) return rc;
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--top-k") top_k_set_flag = true;
  }
  if (model_path.empty() || !positional.empty()) {
    std::fprintf(stderr, "loom run: expected -m MODEL and -p PROMPT\n%s", kRunUsage);
    return 2;
  }
  if (prompt == "-") {
    prompt.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  }
  if (prompt.empty()) {
    std::fprintf(stderr, "loom run: the prompt is empty (-p PROMPT)\n");
    return 2;
  }
  media::MediaOptions mo;
  mo.image_budget = static_cast<int64_t>(image_tokens);
  if (!media::IsImageBudget(mo.image_budget)) {
    std::fprintf(stderr, "loom run: --image-tokens %llu: expected 70, 140, 280, 560 or 1120\n",
                 static_cast<unsigned long long>(image_tokens));
    return 2;
  }
  if (video_frames > static_cast<uint64_t>(mo.limits.max_video_frames)) {
    std::fprintf(stderr, "loom run: --video-frames %llu exceeds the limit of %d frames\n",
                 static_cast<unsigned long long>(video_frames), mo.limits.max_video_frames);
    return 2;
  }
  mo.video_frames = static_cast<int>(video_frames);
  mo.video_audio = video_audio;
  const std::vector<MediaArg> media_args = MediaArgs(argc, argv);
  auto engine = LoadEngine(model_path, mmproj);
  if (!engine.ok()) {
    std::fprintf(stderr, "loom run: %s\n", engine.status().ToString().c_str());
    return 1;
  }
  auto options = MakeSessionOptions(ef, *engine);
  if (!options.ok()) {
    std::fprintf(stderr, "loom run: %s\n", options.status().ToString().c_str());
    return 2;
  }
  // Sampling: the model's generation config, then the flags the user gave.
  runtime::SamplerParams sp;
  sp.temperature = static_cast<float>(temp);
  sp = engine->generation.ApplyTo(sp);
  if (temp_set) sp.temperature = static_cast<float>(temp);
  if (top_k_set_flag) sp.top_k = static_cast<int64_t>(top_k);
  if (top_p_set) sp.top_p = static_cast<float>(top_p);
  if (min_p > 0) sp.min_p = static_cast<float>(min_p);
  sp.repetition_penalty = static_cast<float>(repeat_penalty);
  sp.presence_penalty = static_cast<float>(presence);
  sp.frequency_penalty = static_cast<float>(frequency);
  sp.penalty_last_n = static_cast<int64_t>(repeat_last_n);
  sp.seed = seed;
  options->sampler = sp;
  options->max_new_tokens = static_cast<int64_t>(n);
  if (ignore_eos) options->eos_token_ids.clear();

  auto matcher = runtime::StopMatcher::Create(stops);
  if (!matcher.ok()) {
    std::fprintf(stderr, "loom run: --stop: %s\n", matcher.status().ToString().c_str());
    return 2;
  }
  ThreadPool pool(ef.num_threads());
  const bool chat = engine->has_chat_template && !raw;
  Result<runtime::PromptInput> input = runtime::PromptInput{};
  if (media_args.empty()) {
    auto ids = PromptIds(*engine, prompt, chat);
    if (ids.ok())
      input->tokens = std::move(ids).value();
    else
      input = ids.status();
  } else {
    input = MediaPrompt(*engine, prompt, chat, media_args, mo, &pool, verbose);
  }
  if (!input.ok()) {
    std::fprintf(stderr, "loom run: %s\n", input.status().ToString().c_str());
    return 1;
  }
  if (verbose) {
    std::vector<std::string> parts;
    for (int32_t id : input->tokens) parts.push_back(std::to_string(id));
    std::fprintf(stderr, "model: %s\nprompt ids (%zu): %s\n", engine->model->Describe().c_str(),
                 input->tokens.size(), Join(parts, " ").c_str());
  }
  // A vision block is forwarded whole (SPEC §2.6): the cache must take the longest one.
  int64_t longest = 0, run = 0;
  for (size_t i = 0; i < input->blocks.size(); ++i) {
    run = input->blocks[i] >= 0 && i > 0 && input->blocks[i] == input->blocks[i - 1] ? run + 1
          : input->blocks[i] >= 0                                                    ? 1
                                                                                     : 0;
    longest = std::max(longest, run);
  }
  options->kv.max_batch =
      std::min(options->kv.max_context, std::max(options->kv.max_batch, longest));
  auto session = runtime::Session::Create(engine->model.get(), *options, &pool);
  if (!session.ok()) {
    std::fprintf(stderr, "loom run: %s\n", session.status().ToString().c_str());
    return 2;
  }
  runtime::Session& s = **session;
  if (auto st = s.Prefill(*input); !st.ok()) {
    std::fprintf(stderr, "loom run: %s\n", st.ToString().c_str());
    return 1;
  }
  tokenizer::DecodeOptions dopt;
  dopt.skip_special = true;
  tokenizer::StreamDecoder decoder(*engine->tokenizer, dopt);
  std::string piece;
  const char* reason = "length";
  while (n > 0) {
    auto step = s.Step();
    if (!step.ok()) {
      std::fprintf(stderr, "\nloom run: %s\n", step.status().ToString().c_str());
      return 1;
    }
    const bool is_eos = step->stop == runtime::StopReason::kEos;
    piece.clear();
    if (!is_eos) (void)decoder.Push(step->token, &piece);
    auto out = matcher->Feed(piece);
    std::fwrite(out.text.data(), 1, out.text.size(), stdout);
    std::fflush(stdout);
    if (out.stopped) {
      reason = "stop string";
      break;
    }
    if (step->stop != runtime::StopReason::kNone) {
      reason = runtime::StopReasonName(step->stop);
      break;
    }
  }
  if (!matcher->stopped()) {
    piece.clear();
    decoder.Finish(&piece);
    std::string tail = matcher->Feed(piece).text;
    if (!matcher->stopped()) tail += matcher->Flush();
    std::fwrite(tail.data(), 1, tail.size(), stdout);
  }
  std::printf("\n");
  const runtime::SessionTimings& t = s.timings();
  std::fprintf(stderr,
               "\nprompt: %lld tokens, %.1f tok/s | generation: %lld tokens, %.1f tok/s | "
               "first token after %.0f ms | load %.2f s | %d threads%s%s\n",
               static_cast<long long>(t.prompt_tokens), t.prefill_tokens_per_second(),
               static_cast<long long>(s.generated()), t.decode_tokens_per_second(),
               t.time_to_first_token * 1e3, engine->load_seconds, ef.num_threads(),
               verbose ? " | stop: " : "", verbose ? reason : "");
  return 0;
}

}  // namespace loom::tools
