// FlagSet: a tiny command-line parser shared by the simulated worker and the
// load generator.
//
// Every flag is registered with the default it shows in --help and a setter
// that parses the value (and throws std::invalid_argument on a bad one). Both
// `--name value` and `--name=value` are accepted; boolean switches take no
// value. Repeatable flags call their setter once per occurrence.
//
// Start-up only: parse() runs once in main before any thread starts, so it may
// throw internally; it reports problems as a returned message instead.
#pragma once

#include <charconv>
#include <cstdint>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace radixmesh::tools {

class FlagSet {
 public:
  using Setter = std::function<void(std::string_view)>;

  FlagSet(std::string program, std::string summary)
      : program_(std::move(program)), summary_(std::move(summary)) {}

  // A flag taking a value; `shown_default` is printed by --help.
  void add(std::string name, std::string shown_default, std::string help, Setter set) {
    index_[name] = flags_.size();
    flags_.push_back(
        {std::move(name), std::move(shown_default), std::move(help), std::move(set), false});
  }

  // A switch without a value (e.g. --stream).
  void add_switch(std::string name, std::string help, bool* target) {
    index_[name] = flags_.size();
    flags_.push_back({std::move(name), "off", std::move(help),
                      [target](std::string_view) { *target = true; }, true});
  }

  // Parses argv. Returns an empty string on success, or an error message.
  // Sets help_requested()/version_requested() for --help / --version.
  std::string parse(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
      std::string_view arg = argv[i];
      if (arg == "--help" || arg == "-h") {
        help_ = true;
        continue;
      }
      if (arg == "--version") {
        version_ = true;
        continue;
      }
      if (arg.substr(0, 2) != "--") return "unexpected argument: " + std::string(arg);
      std::string_view name = arg.substr(2);
      std::string_view value;
      bool has_value = false;
      if (auto eq = name.find('='); eq != std::string_view::npos) {
        value = name.substr(eq + 1);
        name = name.substr(0, eq);
        has_value = true;
      }
      auto it = index_.find(std::string(name));
      if (it == index_.end()) return "unknown flag: --" + std::string(name);
      Flag& f = flags_[it->second];
      if (!f.is_switch && !has_value) {
        if (i + 1 >= argc) return "flag --" + f.name + " needs a value";
        value = argv[++i];
      }
      try {
        f.set(value);
      } catch (const std::exception& e) {
        return "bad value for --" + f.name + ": " + e.what();
      }
    }
    return {};
  }

  bool help_requested() const { return help_; }
  bool version_requested() const { return version_; }

  std::string help() const {
    std::string out = "usage: " + program_ + " [flags]\n" + summary_ + "\n\nflags:\n";
    for (const Flag& f : flags_) {
      std::string left = "  --" + f.name + (f.is_switch ? "" : " " + f.shown_default);
      if (left.size() < 38)
        left.resize(38, ' ');
      else
        left += "\n" + std::string(38, ' ');
      out += left + f.help + "\n";
    }
    out += "  --help                              this text\n";
    out += "  --version                           print the version\n";
    return out;
  }

 private:
  struct Flag {
    std::string name;
    std::string shown_default;
    std::string help;
    Setter set;
    bool is_switch;
  };
  std::string program_;
  std::string summary_;
  std::vector<Flag> flags_;
  std::map<std::string, size_t> index_;
  bool help_ = false;
  bool version_ = false;
};

// Value parsers for setters; they throw std::invalid_argument on bad input.
inline uint64_t parse_u64(std::string_view s) {
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty())
    throw std::invalid_argument("not a non-negative integer: '" + std::string(s) + "'");
  return v;
}

inline uint64_t parse_u64_in(std::string_view s, uint64_t lo, uint64_t hi) {
  uint64_t v = parse_u64(s);
  if (v < lo || v > hi)
    throw std::invalid_argument(std::string(s) + " is outside [" + std::to_string(lo) + ", " +
                                std::to_string(hi) + "]");
  return v;
}

inline double parse_double_in(std::string_view s, double lo, double hi) {
  std::string copy(s);
  size_t used = 0;
  double v = 0;
  try {
    v = std::stod(copy, &used);
  } catch (const std::exception&) {
    throw std::invalid_argument("not a number: '" + copy + "'");
  }
  if (used != copy.size()) throw std::invalid_argument("not a number: '" + copy + "'");
  if (!(v >= lo && v <= hi))
    throw std::invalid_argument(copy + " is outside [" + std::to_string(lo) + ", " +
                                std::to_string(hi) + "]");
  return v;
}

}  // namespace radixmesh::tools
