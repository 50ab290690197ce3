// A small command-line flag parser for the loom subcommands. Every bad flag is a one-line
// error naming the flag, the value and the accepted range, and exit status 2.
#ifndef LOOM_TOOLS_LOOM_FLAGS_H_
#define LOOM_TOOLS_LOOM_FLAGS_H_

#include <cstdint>
#include <string>
#include <vector>

namespace loom::tools {

class FlagParser {
 public:
  FlagParser(std::string command, std::string usage)
      : command_(std::move(command)), usage_(std::move(usage)) {}

  void AddBool(std::string name, bool* out);
  void AddString(std::string name, std::string* out);
  void AddUint(std::string name, uint64_t* out, uint64_t min, uint64_t max);
  // A finite number in [min, max]; `*set` (optional) becomes true when the flag is given.
  void AddDouble(std::string name, double* out, double min, double max, bool* set = nullptr);
  // May be given several times; each value is appended.
  void AddStringList(std::string name, std::vector<std::string>* out);

  // Parses argv[1..argc); argv[0] is the subcommand. Returns -1 to go on, or the exit code
  // (0 after --help, 2 after an error already printed).
  int Parse(int argc, char** argv, std::vector<std::string>* positional);

 private:
  enum class Kind { kBool, kString, kUint, kDouble, kStringList };
  struct Flag {
    std::string name;
    Kind kind;
    void* out;
    uint64_t min = 0, max = 0;
    double dmin = 0, dmax = 0;
    bool* set = nullptr;
  };
  int Error(const std::string& message) const;

  std::string command_;
  std::string usage_;
  std::vector<Flag> flags_;
};

}  // namespace loom::tools

#endif  // LOOM_TOOLS_LOOM_FLAGS_H_
