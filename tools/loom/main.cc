// loom: one binary, one subcommand per job.
#include <cstdio>
#include <cstring>
#include <string>

namespace loom::tools {
int InspectMain(int argc, char** argv);
}  // namespace loom::tools

namespace {

void PrintUsage(FILE* out) {
  std::fprintf(out,
               "usage: loom COMMAND [ARGS]\n"
               "\n"
               "commands:\n"
               "  inspect PATH [--ctx N] [--json]   describe a model (.gguf, .safetensors or an\n"
               "                                    HF model directory) and its memory plan\n"
               "\n"
               "coming with later issues: tokenize, run, chat, serve, bench, perplexity, convert,\n"
               "quantize\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
    PrintUsage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  std::string cmd = argv[1];
  if (cmd == "inspect") return loom::tools::InspectMain(argc - 1, argv + 1);
  std::fprintf(stderr, "loom: unknown command '%s'\n\n", cmd.c_str());
  PrintUsage(stderr);
  return 2;
}
