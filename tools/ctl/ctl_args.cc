// radixmesh-ctl argument parsing (see ctl_args.h).
#include "tools/ctl/ctl_args.h"

#include <array>
#include <string_view>

namespace radixmesh::tools {
namespace {

constexpr std::array<std::string_view, 11> kValued = {"admin",  "token", "token-file", "timeout-ms",
                                                      "model",  "n",     "format",     "max-nodes",
                                                      "prompt", "file",  "endpoint"};
constexpr std::array<std::string_view, 3> kSwitches = {"json", "undo", "help"};

template <typename A>
bool in(const A& a, std::string_view s) {
  for (auto x : a) {
    if (x == s) return true;
  }
  return false;
}

}  // namespace

std::optional<std::string> CtlArgs::get(const std::string& key) const {
  auto it = options.find(key);
  if (it == options.end()) return std::nullopt;
  return it->second;
}

Result<CtlArgs> parse_ctl_args(const std::vector<std::string>& argv) {
  CtlArgs out;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (a == "-h") {
      out.switches.insert("help");
      continue;
    }
    if (a.size() < 2 || a[0] != '-' || a == "--") {
      out.words.push_back(a);
      continue;
    }
    std::string name = a[1] == '-' ? a.substr(2) : a.substr(1);
    std::optional<std::string> value;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    if (a[1] != '-' && name != "n") {
      return make_error(ErrorCode::kInvalidArgument, "unknown option " + a);
    }
    if (in(kSwitches, name)) {
      if (value) return make_error(ErrorCode::kInvalidArgument, "--" + name + " takes no value");
      out.switches.insert(name);
    } else if (in(kValued, name)) {
      if (!value) {
        if (i + 1 >= argv.size()) {
          return make_error(ErrorCode::kInvalidArgument, "option " + a + " needs a value");
        }
        value = argv[++i];
      }
      out.options[name] = *value;
    } else {
      return make_error(ErrorCode::kInvalidArgument, "unknown option " + a);
    }
  }
  return out;
}

std::string ctl_usage() {
  return R"(Usage: radixmesh-ctl [global options] <command> [arguments]

Inspect and drive a radixmesh router through its admin API.

Commands:
  status                                node, version, uptime, policy, models, workers, peers
  workers list                          every worker: health, load, breaker, models, tree blocks
  workers add URL                       add a worker (http://host:port)
  workers remove URL                    remove a worker (erased from every tree)
  workers drain URL [--undo]            stop routing new requests to it (--undo: resume)
  peers                                 mesh peers
  tree stats [--model M]                tree size per model
  tree top [--model M] [-n N]           hottest prefixes: depth, blocks, tenants, last access
  tree dump --model M [--format text|dot] [--max-nodes K]
                                        the radix tree, indented or as Graphviz
  route explain --model M (--prompt TEXT | --file request.json) [--endpoint chat|completions|generate]
                                        which worker a request would go to, and why (dry run)
  snapshot save FILE [--model M]        save a model's tree snapshot
  snapshot inspect FILE                 describe a snapshot file (offline)

Global options:
  --admin URL         admin API (default: http://127.0.0.1:9000, env RADIXMESH_ADMIN)
  --token T           bearer token (default: env RADIXMESH_ADMIN_TOKEN)
  --token-file F      read the bearer token from a file
  --timeout-ms MS     per-request deadline (default: 10000)
  --json              machine-readable JSON output
  -h, --help          this help

Exit codes: 0 success, 1 the router answered with an error (bad token, unknown
model, ...), 2 usage error, 3 the router could not be reached.
)";
}

}  // namespace radixmesh::tools
