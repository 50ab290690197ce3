// loom: one binary, one subcommand per job.
#include <cstdio>
#include <cstring>
#include <string>

namespace loom::tools {
int InspectMain(int argc, char** argv);
int TokenizeMain(int argc, char** argv);
int DetokenizeMain(int argc, char** argv);
int BenchMain(int argc, char** argv);
int RunMain(int argc, char** argv);
int PerplexityMain(int argc, char** argv);
int ConvertMain(int argc, char** argv);
}  // namespace loom::tools

namespace {

void PrintUsage(FILE* out) {
  std::fprintf(out,
               "usage: loom COMMAND [ARGS]\n"
               "\n"
               "commands:\n"
               "  inspect PATH [--ctx N] [--json]   describe a model (.gguf, .safetensors or an\n"
               "                                    HF model directory) and its memory plan\n"
               "  tokenize -m MODEL [--ids|--pieces] [--special] TEXT|-\n"
               "                                    the token ids of TEXT\n"
               "  detokenize -m MODEL IDS...        the text of token ids\n"
               "  run -m MODEL -p PROMPT [-n N] ...  generate text (streamed to stdout)\n"
               "  bench -m MODEL [-p N] [-n N]       prefill and decode speed of a model\n"
               "  bench MODE ...                    component benchmarks (tokenizer, roofline,\n"
               "                                    kernels)\n"
               "  perplexity -m MODEL -f TEXT        perplexity as llama.cpp computes it\n"
               "  convert ...                       HF checkpoint (or --random) to GGUF\n"
               "\n"
               "coming with later issues: chat, serve, quantize\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
    PrintUsage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  std::string cmd = argv[1];
  if (cmd == "inspect") return loom::tools::InspectMain(argc - 1, argv + 1);
  if (cmd == "tokenize") return loom::tools::TokenizeMain(argc - 1, argv + 1);
  if (cmd == "detokenize") return loom::tools::DetokenizeMain(argc - 1, argv + 1);
  if (cmd == "bench") return loom::tools::BenchMain(argc - 1, argv + 1);
  if (cmd == "run") return loom::tools::RunMain(argc - 1, argv + 1);
  if (cmd == "perplexity") return loom::tools::PerplexityMain(argc - 1, argv + 1);
  if (cmd == "convert") return loom::tools::ConvertMain(argc - 1, argv + 1);
  std::fprintf(stderr, "loom: unknown command '%s'\n\n", cmd.c_str());
  PrintUsage(stderr);
  return 2;
}
