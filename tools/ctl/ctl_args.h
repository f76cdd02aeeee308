// Command-line parsing for radixmesh-ctl: words (the subcommand and its
// positional arguments) plus --options, which may appear anywhere.
//
//   radixmesh-ctl [--admin URL] [--token T | --token-file F] [--json]
//                 [--timeout-ms MS] <command> [args] [options]
//
// Options that take a value: --admin --token --token-file --timeout-ms
// --model -n/--n --format --max-nodes --prompt --file --endpoint (as
// "--opt value" or "--opt=value"). Switches: --json --undo --help/-h.
// Anything else starting with '-' is an error.
//
// Threads: pure functions.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "radix/result.h"

namespace radixmesh::tools {

struct CtlArgs {
  std::vector<std::string> words;
  std::map<std::string, std::string> options;  // key without dashes ("n", "model")
  std::set<std::string> switches;              // "json", "undo", "help"

  bool has(const std::string& s) const { return switches.count(s) > 0; }
  std::optional<std::string> get(const std::string& key) const;
};

Result<CtlArgs> parse_ctl_args(const std::vector<std::string>& argv);

std::string ctl_usage();

}  // namespace radixmesh::tools
