// What every radixmesh-ctl subcommand works with: the parsed arguments, the
// admin client, the output streams, and helpers that turn an admin API
// answer into JSON or a one-line error with the right exit code.
//
// Internal to tools/ctl. Threads: used from main's thread only.
#pragma once

#include <cstdio>
#include <optional>
#include <ostream>
#include <string>

#include <nlohmann/json.hpp>

#include "tools/ctl/admin_client.h"
#include "tools/ctl/ctl_args.h"

namespace radixmesh::tools {

// One field of a worker's "reported_load" object ("waiting", "running",
// "kv_usage") as a table cell; "-" when the worker reports nothing (fresh).
inline std::string reported_field(const nlohmann::json& worker, const char* field) {
  auto it = worker.find("reported_load");
  if (it == worker.end() || !it->is_object()) return "-";
  auto v = it->find(field);
  if (v == it->end() || v->is_null()) return "-";
  if (v->is_number_float()) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%.2f", v->get<double>());
    return buf;
  }
  return v->dump();
}

// Thrown by subcommands to end with a one-line error; run_ctl catches it.
struct CtlFailure {
  int code;
  std::string message;
};

struct CtlContext {
  const CtlArgs& args;
  const AdminClient& client;
  std::ostream& out;
  bool json = false;

  // The reply of a request that must succeed with 2xx; throws CtlFailure.
  HttpReply call(const std::string& method, const std::string& target,
                 const std::string& body = "") const;
  nlohmann::json call_json(const std::string& method, const std::string& target,
                           const std::string& body = "") const;
  // Prints v as indented JSON (the --json output).
  void print_json(const nlohmann::json& v) const { out << v.dump(2) << "\n"; }
  // The option, or a usage failure naming it.
  std::string require(const std::string& option) const;
};

[[noreturn]] void usage_failure(const std::string& message);

// Subcommands (commands.cc, commands_tree.cc).
void cmd_status(const CtlContext& c);
void cmd_workers(const CtlContext& c);
void cmd_peers(const CtlContext& c);
void cmd_tree(const CtlContext& c);
void cmd_route(const CtlContext& c);
void cmd_snapshot(const CtlContext& c);

}  // namespace radixmesh::tools
