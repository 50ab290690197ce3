#include "tools/loom/flags.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace loom::tools {

void FlagParser::AddBool(std::string name, bool* out) {
  flags_.push_back({std::move(name), Kind::kBool, out});
}

void FlagParser::AddString(std::string name, std::string* out) {
  flags_.push_back({std::move(name), Kind::kString, out});
}

void FlagParser::AddUint(std::string name, uint64_t* out, uint64_t min, uint64_t max) {
  flags_.push_back({std::move(name), Kind::kUint, out, min, max});
}

void FlagParser::AddDouble(std::string name, double* out, double min, double max, bool* set) {
  Flag f{std::move(name), Kind::kDouble, out};
  f.dmin = min;
  f.dmax = max;
  f.set = set;
  flags_.push_back(std::move(f));
}

void FlagParser::AddStringList(std::string name, std::vector<std::string>* out) {
  flags_.push_back({std::move(name), Kind::kStringList, out});
}

int FlagParser::Error(const std::string& message) const {
  std::fprintf(stderr, "loom %s: %s\n%s", command_.c_str(), message.c_str(), usage_.c_str());
  return 2;
}

int FlagParser::Parse(int argc, char** argv, std::vector<std::string>* positional) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::printf("%s", usage_.c_str());
      return 0;
    }
    if (arg.size() < 2 || arg[0] != '-' || arg == "-") {
      positional->push_back(arg);
      continue;
    }
    std::string name = arg, value;
    bool has_value = false;
    if (size_t eq = arg.find('='); eq != std::string::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
      has_value = true;
    }
    const Flag* flag = nullptr;
    for (const auto& f : flags_) {
      if (f.name == name) flag = &f;
    }
    if (flag == nullptr) return Error("unknown flag '" + name + "'");
    if (flag->kind == Kind::kBool) {
      if (has_value) return Error(name + " takes no value");
      *static_cast<bool*>(flag->out) = true;
      continue;
    }
    if (!has_value) {
      if (i + 1 >= argc) return Error(name + " needs a value");
      value = argv[++i];
    }
    if (flag->kind == Kind::kString) {
      *static_cast<std::string*>(flag->out) = value;
      continue;
    }
    if (flag->kind == Kind::kStringList) {
      static_cast<std::vector<std::string>*>(flag->out)->push_back(value);
      continue;
    }
    if (flag->kind == Kind::kDouble) {
      char* end = nullptr;
      errno = 0;
      const double v = value.empty() ? 0 : std::strtod(value.c_str(), &end);
      if (value.empty() || *end != '\0' || errno == ERANGE || !std::isfinite(v)) {
        return Error(name + ": '" + value + "' is not a finite number");
      }
      if (v < flag->dmin || v > flag->dmax) {
        char range[96];
        std::snprintf(range, sizeof(range), "[%g, %g]", flag->dmin, flag->dmax);
        return Error(name + ": value " + value + " is outside the range " + range);
      }
      *static_cast<double*>(flag->out) = v;
      if (flag->set) *flag->set = true;
      continue;
    }
    // Unsigned integer: digits only (strtoull would accept "-1" and wrap it).
    bool digits = !value.empty() && value.size() <= 20 &&
                  value.find_first_not_of("0123456789") == std::string::npos;
    errno = 0;
    unsigned long long v = digits ? std::strtoull(value.c_str(), nullptr, 10) : 0;
    if (!digits || errno == ERANGE) {
      return Error(name + ": '" + value + "' is not a non-negative integer");
    }
    if (v < flag->min || v > flag->max) {
      return Error(name + ": value " + value + " is outside the range [" +
                   std::to_string(flag->min) + ", " + std::to_string(flag->max) + "]");
    }
    *static_cast<uint64_t*>(flag->out) = v;
  }
  return -1;
}

}  // namespace loom::tools
