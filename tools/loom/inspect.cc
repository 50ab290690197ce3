// loom inspect: placeholder until the model summary lands.
#include <cstdio>
namespace loom::tools {
int InspectMain(int, char**) {
  std::fprintf(stderr, "loom inspect: not built yet\n");
  return 1;
}
}  // namespace loom::tools
