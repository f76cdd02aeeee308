// radixmesh-ctl: tree, route explain and snapshot subcommands.
#include <chrono>
#include <fstream>
#include <sstream>

#include "radix/snapshot_codec.h"
#include "tools/ctl/commands.h"
#include "tools/ctl/ctl_context.h"
#include "tools/ctl/table.h"
#include "tools/ctl/tree_render.h"

namespace radixmesh::tools {
namespace {

// Snapshots up to this size are inspected (the router's own cap is far lower).
constexpr size_t kMaxSnapshotBytes = 1u << 30;

std::string model_query(const CtlContext& c, char sep = '?') {
  auto m = c.args.get("model");
  return m ? std::string(1, sep) + "model=" + query_escape(*m) : "";
}

uint64_t now_ms() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

std::string read_file(const std::string& path, size_t limit) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw CtlFailure{kExitApiError, "cannot read " + path};
  std::string data(limit + 1, '\0');
  f.read(data.data(), static_cast<std::streamsize>(data.size()));
  data.resize(static_cast<size_t>(f.gcount()));
  if (data.size() > limit) throw CtlFailure{kExitApiError, path + " is too large"};
  return data;
}

void tree_stats(const CtlContext& c) {
  auto j = c.call_json("GET", "/admin/trees" + model_query(c));
  if (c.json) return c.print_json(j);
  Table t({"MODEL", "NODES", "BLOCKS", "BYTES", "TOMBSTONES", "EVICTED", "DIGEST", "WORKERS"});
  for (const auto& tr : j["trees"]) {
    std::string workers;
    for (const auto& w : tr["workers"]) {
      workers += (workers.empty() ? "" : ", ") + w.value("url", std::string("?")) + "=" +
                 std::to_string(w.value("blocks", 0));
    }
    t.add({tr.value("model", ""), std::to_string(tr.value("nodes", 0)),
           std::to_string(tr.value("blocks", 0)), human_bytes(tr.value("bytes", uint64_t{0})),
           std::to_string(tr.value("tombstones", 0)), std::to_string(tr.value("evicted_blocks", 0)),
           tr.value("digest", ""), workers});
  }
  if (t.empty()) {
    c.out << "no trees yet\n";
    return;
  }
  c.out << t.render();
}

void tree_top(const CtlContext& c) {
  std::string q = "/admin/trees/top";
  char sep = '?';
  if (auto m = c.args.get("model")) {
    q += "?model=" + query_escape(*m);
    sep = '&';
  }
  if (auto n = c.args.get("n")) q += std::string(1, sep) + "n=" + query_escape(*n);
  auto j = c.call_json("GET", q);
  if (c.json) return c.print_json(j);
  Table t({"MODEL", "PREFIX", "DEPTH", "EDGE", "LEAVES", "TENANTS", "LAST-ACCESS", "WORKERS"});
  for (const auto& tr : j["trees"]) {
    for (const auto& p : tr["prefixes"]) {
      std::string workers;
      for (const auto& w : p["workers"])
        workers += (workers.empty() ? "" : ",") + w.get<std::string>();
      t.add({tr.value("model", ""), p.value("prefix", ""), std::to_string(p.value("depth", 0)),
             std::to_string(p.value("edge_blocks", 0)), std::to_string(p.value("leaves_below", 0)),
             std::to_string(p.value("tenants", 0)),
             human_duration_ms(p.value("age_ms", uint64_t{0})) + " ago", workers});
    }
  }
  if (t.empty()) {
    c.out << "no prefixes yet\n";
    return;
  }
  c.out << t.render();
}

void tree_dump(const CtlContext& c) {
  std::string model = c.require("model");
  std::string format = c.args.get("format").value_or("text");
  if (format != "text" && format != "dot") usage_failure("--format must be text or dot");
  std::string q = "/admin/trees/dump?model=" + query_escape(model);
  if (auto k = c.args.get("max-nodes")) q += "&max_nodes=" + query_escape(*k);
  auto j = c.call_json("GET", q);
  if (c.json) return c.print_json(j);
  c.out << (format == "dot" ? render_tree_dot(j) : render_tree_text(j, now_ms()));
}

}  // namespace

void cmd_tree(const CtlContext& c) {
  std::string sub = c.args.words.size() > 1 ? c.args.words[1] : "";
  if (sub == "stats") return tree_stats(c);
  if (sub == "top") return tree_top(c);
  if (sub == "dump") return tree_dump(c);
  usage_failure("unknown command 'tree " + sub + "' (stats|top|dump)");
}

void cmd_route(const CtlContext& c) {
  if (c.args.words.size() < 2 || c.args.words[1] != "explain") {
    usage_failure("usage: route explain --model M (--prompt TEXT | --file request.json)");
  }
  auto prompt = c.args.get("prompt");
  auto file = c.args.get("file");
  if (prompt.has_value() == file.has_value())
    usage_failure("give exactly one of --prompt and --file");
  std::string endpoint = c.args.get("endpoint").value_or("chat");
  nlohmann::json body;
  if (prompt) {
    std::string model = c.require("model");
    if (endpoint == "chat") {
      body = {{"model", model}, {"messages", {{{"role", "user"}, {"content", *prompt}}}}};
    } else if (endpoint == "completions") {
      body = {{"model", model}, {"prompt", *prompt}};
    } else {
      body = {{"model", model}, {"text", *prompt}};
    }
  } else {
    body = nlohmann::json::parse(read_file(*file, 64u << 20), nullptr, false);
    if (body.is_discarded() || !body.is_object()) {
      throw CtlFailure{kExitUsage, *file + " is not a JSON object"};
    }
    if (auto m = c.args.get("model")) body["model"] = *m;
  }
  auto j =
      c.call_json("POST", "/admin/route/explain?endpoint=" + query_escape(endpoint), body.dump());
  if (c.json) return c.print_json(j);
  const uint64_t total = j.value("total_blocks", uint64_t{0});
  c.out << "model    " << j.value("model", "") << "\n"
        << "chosen   " << (j["chosen"].is_string() ? j["chosen"].get<std::string>() : "(none)")
        << "\n"
        << "reason   " << j.value("reason", "") << " (policy " << j.value("policy", "") << ")\n"
        << "prompt   " << total << " blocks, chosen worker holds " << j.value("matched_blocks", 0)
        << "\n\n";
  Table t({"WORKER", "ROUTABLE", "IN-FLIGHT", "QUEUE", "KV", "MATCHED", "FRACTION"});
  for (const auto& w : j["workers"]) {
    char frac[16];
    std::snprintf(frac, sizeof frac, "%.2f", w.value("match_fraction", 0.0));
    t.add({w.value("url", "") + (w["url"] == j["chosen"] ? " *" : ""),
           w.value("routable", false) ? "yes" : "no", std::to_string(w.value("in_flight", 0)),
           reported_field(w, "waiting"), reported_field(w, "kv_usage"),
           std::to_string(w.value("matched_blocks", 0)), frac});
  }
  c.out << t.render();
}

void cmd_snapshot(const CtlContext& c) {
  std::string sub = c.args.words.size() > 1 ? c.args.words[1] : "";
  if (c.args.words.size() < 3) usage_failure("usage: snapshot save|inspect FILE");
  const std::string& path = c.args.words[2];
  if (sub == "save") {
    HttpReply r = c.call("GET", "/admin/snapshot" + model_query(c));
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(r.body.data(), static_cast<std::streamsize>(r.body.size()));
    f.close();
    if (!f) throw CtlFailure{kExitApiError, "cannot write " + path};
    if (c.json) return c.print_json({{"file", path}, {"bytes", r.body.size()}});
    c.out << "saved " << human_bytes(r.body.size()) << " to " << path << "\n";
    return;
  }
  if (sub != "inspect") usage_failure("unknown command 'snapshot " + sub + "' (save|inspect)");
  std::string blob = read_file(path, kMaxSnapshotBytes);
  auto s = radix::inspect_snapshot(blob, kMaxSnapshotBytes);
  if (!s) throw CtlFailure{kExitApiError, path + ": " + s.error().message};
  nlohmann::json j = {{"file", path},
                      {"version", s->version},
                      {"model", s->model},
                      {"compressed_bytes", s->compressed_bytes},
                      {"decoded_bytes", s->decoded_bytes},
                      {"nodes", s->nodes},
                      {"blocks", s->blocks},
                      {"tenant_entries", s->tenant_entries},
                      {"tombstones", s->tombstones},
                      {"workers", s->worker_urls}};
  if (c.json) return c.print_json(j);
  Table t({"FIELD", "VALUE"});
  t.add({"model", s->model});
  t.add({"format version", std::to_string(s->version)});
  t.add({"size",
         human_bytes(s->compressed_bytes) + " (" + human_bytes(s->decoded_bytes) + " decoded)"});
  t.add({"nodes", std::to_string(s->nodes)});
  t.add({"blocks", std::to_string(s->blocks)});
  t.add({"tenant entries", std::to_string(s->tenant_entries)});
  t.add({"tombstones", std::to_string(s->tombstones)});
  std::string workers;
  for (const auto& w : s->worker_urls) workers += (workers.empty() ? "" : ", ") + w;
  t.add({"workers", workers.empty() ? "(none)" : workers});
  c.out << t.render();
}

}  // namespace radixmesh::tools
