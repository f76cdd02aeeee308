// radixmesh-ctl: dispatch, error handling, status, workers and peers.
#include "tools/ctl/commands.h"

#include <fstream>
#include <sstream>

#include "tools/ctl/ctl_context.h"
#include "tools/ctl/table.h"

namespace radixmesh::tools {
namespace {

std::string yes_no(const nlohmann::json& v) {
  return v.is_boolean() && v.get<bool>() ? "yes" : "no";
}

std::string word(const CtlContext& c, size_t i, const std::string& what) {
  if (c.args.words.size() <= i) usage_failure("missing " + what);
  return c.args.words[i];
}

std::string read_token_file(const std::string& path) {
  std::ifstream f(path);
  if (!f) usage_failure("cannot read --token-file " + path);
  std::stringstream ss;
  ss << f.rdbuf();
  std::string t = ss.str();
  size_t b = t.find_first_not_of(" \t\r\n"), e = t.find_last_not_of(" \t\r\n");
  if (b == std::string::npos) usage_failure("--token-file " + path + " is empty");
  return t.substr(b, e - b + 1);
}

}  // namespace

void usage_failure(const std::string& message) {
  throw CtlFailure{kExitUsage, message};
}

HttpReply CtlContext::call(const std::string& method, const std::string& target,
                           const std::string& body) const {
  auto r = client.request(method, target, body);
  if (!r) throw CtlFailure{kExitUnreachable, r.error().message};
  if (r->status >= 200 && r->status < 300) return std::move(r).value();
  std::string message = "HTTP " + std::to_string(r->status);
  auto j = nlohmann::json::parse(r->body, nullptr, false);
  if (!j.is_discarded() && j.contains("error") && j["error"].is_object()) {
    message = j["error"].value("message", message) + " (HTTP " + std::to_string(r->status) + ")";
  }
  if (r->status == 401) message = "unauthorized: " + message + "; check --token";
  throw CtlFailure{kExitApiError, message};
}

nlohmann::json CtlContext::call_json(const std::string& method, const std::string& target,
                                     const std::string& body) const {
  HttpReply r = call(method, target, body);
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  if (j.is_discarded()) throw CtlFailure{kExitApiError, "the router sent invalid JSON"};
  return j;
}

std::string CtlContext::require(const std::string& option) const {
  auto v = args.get(option);
  if (!v || v->empty()) usage_failure("--" + option + " is required");
  return *v;
}

void cmd_status(const CtlContext& c) {
  auto s = c.call_json("GET", "/admin/status");
  if (c.json) return c.print_json(s);
  std::string models;
  for (const auto& m : s["models"]) models += (models.empty() ? "" : ", ") + m.get<std::string>();
  const auto& w = s["workers"];
  Table t({"FIELD", "VALUE"});
  t.add({"node", s.value("node_id", "")});
  t.add({"version", s.value("version", "")});
  t.add(
      {"uptime", human_duration_ms(static_cast<uint64_t>(s.value("uptime_seconds", 0.0) * 1000))});
  t.add({"policy", s.value("policy", "")});
  t.add({"models", models.empty() ? "(none yet)" : models});
  t.add({"workers", std::to_string(w.value("total", 0)) + " total, " +
                        std::to_string(w.value("healthy", 0)) + " healthy, " +
                        std::to_string(w.value("routable", 0)) + " routable, " +
                        std::to_string(w.value("draining", 0)) + " draining"});
  t.add({"peers",
         std::to_string(s.value("peers", 0)) + (s.value("mesh", false) ? "" : " (mesh off)")});
  c.out << t.render();
}

void cmd_workers(const CtlContext& c) {
  std::string sub = c.args.words.size() > 1 ? c.args.words[1] : "list";
  if (sub == "list") {
    auto j = c.call_json("GET", "/admin/workers");
    if (c.json) return c.print_json(j);
    // A ROLE column only for a PD router (prefill and decode pools).
    bool pd = false;
    for (const auto& w : j["workers"]) pd = pd || w.value("role", "worker") != "worker";
    std::vector<std::string> header = {"URL",       "HEALTHY",     "ROUTABLE", "DRAINING",
                                       "IN-FLIGHT", "QUEUE",       "RUNNING",  "KV",
                                       "BREAKER",   "TREE-BLOCKS", "MODELS"};
    if (pd) header.insert(header.begin() + 1, "ROLE");
    Table t(header);
    for (const auto& w : j["workers"]) {
      std::string models;
      if (!w.value("models_known", false)) models = "(unknown)";
      for (const auto& m : w["models"])
        models += (models.empty() ? "" : ",") + m.get<std::string>();
      std::vector<std::string> row = {w.value("url", ""),
                                      yes_no(w["healthy"]),
                                      yes_no(w["routable"]),
                                      yes_no(w["draining"]),
                                      std::to_string(w.value("in_flight", 0)),
                                      reported_field(w, "waiting"),
                                      reported_field(w, "running"),
                                      reported_field(w, "kv_usage"),
                                      w.value("breaker", ""),
                                      std::to_string(w.value("tree_blocks", 0)),
                                      models};
      if (pd) row.insert(row.begin() + 1, w.value("role", ""));
      t.add(row);
    }
    if (t.empty()) {
      c.out << "no workers\n";
      return;
    }
    c.out << t.render();
    return;
  }
  std::string url = word(c, 2, "worker URL (workers " + sub + " URL)");
  nlohmann::json j;
  std::string done;
  if (sub == "add") {
    j = c.call_json("POST", "/admin/workers", nlohmann::json{{"url", url}}.dump());
    done = j.value("added", false) ? "added " : "already present: ";
  } else if (sub == "remove") {
    j = c.call_json("DELETE", "/admin/workers?url=" + query_escape(url));
    done = "removed ";
  } else if (sub == "drain") {
    bool undo = c.args.has("undo");
    j = c.call_json("POST", "/admin/workers/drain",
                    nlohmann::json{{"url", url}, {"drain", !undo}}.dump());
    done = undo ? "resumed " : "draining ";
  } else {
    usage_failure("unknown command 'workers " + sub + "' (list|add|remove|drain)");
  }
  if (c.json) return c.print_json(j);
  c.out << done << url << "\n";
}

void cmd_peers(const CtlContext& c) {
  auto j = c.call_json("GET", "/admin/peers");
  if (c.json) return c.print_json(j);
  const auto& peers = j["peers"];
  if (!peers.is_array() || peers.empty()) {
    c.out << "no peers" << (j.value("mesh", false) ? "" : " (mesh off)") << "\n";
    return;
  }
  // Columns: the union of the peers' scalar fields, in first-seen order.
  std::vector<std::string> cols;
  for (const auto& p : peers) {
    for (const auto& [k, v] : p.items()) {
      if (!v.is_structured() && std::find(cols.begin(), cols.end(), k) == cols.end()) {
        cols.push_back(k);
      }
    }
  }
  std::vector<std::string> headers;
  for (auto h : cols) {
    for (auto& ch : h) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    headers.push_back(h);
  }
  Table t(headers);
  for (const auto& p : peers) {
    std::vector<std::string> row;
    for (const auto& k : cols) {
      auto it = p.find(k);
      row.push_back(it == p.end() ? "" : it->is_string() ? it->get<std::string>() : it->dump());
    }
    t.add(std::move(row));
  }
  c.out << t.render();
}

int run_ctl(const std::vector<std::string>& argv, const std::string& env_admin,
            const std::string& env_token, std::ostream& out, std::ostream& err) {
  auto fail = [&](int code, const std::string& message) {
    err << "radixmesh-ctl: " << message << "\n";
    return code;
  };
  auto args = parse_ctl_args(argv);
  if (!args) return fail(kExitUsage, args.error().message + " (see --help)");
  if (args->has("help") || args->words.empty()) {
    out << ctl_usage();
    return args->words.empty() && !args->has("help") ? kExitUsage : 0;
  }
  try {
    auto url = parse_admin_url(
        args->get("admin").value_or(env_admin.empty() ? "http://127.0.0.1:9000" : env_admin));
    if (!url) usage_failure(url.error().message);
    std::string token = args->get("token").value_or(env_token);
    if (auto f = args->get("token-file")) token = read_token_file(*f);
    long timeout = 10000;
    if (auto t = args->get("timeout-ms")) {
      try {
        timeout = std::stol(*t);
      } catch (const std::exception&) {
        usage_failure("--timeout-ms must be a number");
      }
      if (timeout < 1) usage_failure("--timeout-ms must be positive");
    }
    AdminClient client(*url, token, std::chrono::milliseconds(timeout));
    CtlContext c{*args, client, out, args->has("json")};
    const std::string& cmd = args->words[0];
    if (cmd == "status")
      cmd_status(c);
    else if (cmd == "workers")
      cmd_workers(c);
    else if (cmd == "peers")
      cmd_peers(c);
    else if (cmd == "tree")
      cmd_tree(c);
    else if (cmd == "route")
      cmd_route(c);
    else if (cmd == "snapshot")
      cmd_snapshot(c);
    else
      usage_failure("unknown command '" + cmd + "'");
  } catch (const CtlFailure& f) {
    return fail(f.code, f.message + (f.code == kExitUsage ? " (see --help)" : ""));
  }
  return 0;
}

}  // namespace radixmesh::tools
