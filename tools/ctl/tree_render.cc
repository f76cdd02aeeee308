// Tree dump rendering (see tree_render.h).
#include "tools/ctl/tree_render.h"

#include <vector>

#include "tools/ctl/table.h"

namespace radixmesh::tools {
namespace {

std::string short_hash(const nlohmann::json& h) {
  std::string s = h.is_string() ? h.get<std::string>() : "?";
  return s.size() > 8 ? s.substr(0, 8) : s;
}

std::string tenants_text(const nlohmann::json& node, uint64_t now_ms) {
  std::string out;
  for (const auto& t : node.value("tenants", nlohmann::json::array())) {
    if (!out.empty()) out += ", ";
    uint64_t last = t.value("last_access_ms", uint64_t{0});
    out += t.value("url", std::string("?")) + " " +
           human_duration_ms(now_ms > last ? now_ms - last : 0) + " ago";
  }
  return out;
}

std::string edge_text(const nlohmann::json& node) {
  uint64_t depth = node.value("depth", uint64_t{0});
  uint64_t len = node.value("edge_blocks", uint64_t{0});
  return short_hash(node["first"]) + ".." + short_hash(node["last"]) + " +" + std::to_string(len) +
         " blocks (depth " + std::to_string(depth) + ".." + std::to_string(depth + len) + ")";
}

}  // namespace

std::string render_tree_text(const nlohmann::json& dump, uint64_t now_ms) {
  std::string out = dump.value("model", std::string("?")) + ": " +
                    std::to_string(dump.value("nodes", 0)) + " nodes" +
                    (dump.value("truncated", false) ? " (truncated)" : "") + "\n";
  struct Item {
    const nlohmann::json* node;
    std::string prefix;  // indentation carried by the ancestors
    bool last;
  };
  std::vector<Item> stack;
  const auto& top = dump["root"]["children"];
  for (size_t i = top.size(); i-- > 0;) stack.push_back({&top[i], "", i + 1 == top.size()});
  while (!stack.empty()) {
    Item it = std::move(stack.back());
    stack.pop_back();
    const auto& n = *it.node;
    out += it.prefix + (it.last ? "└─ " : "├─ ") + edge_text(n) + "  " + tenants_text(n, now_ms);
    if (n.contains("children_omitted")) {
      out += "  [+" + std::to_string(n["children_omitted"].get<uint64_t>()) + " children omitted]";
    }
    out += "\n";
    const auto& kids = n["children"];
    std::string child_prefix = it.prefix + (it.last ? "   " : "│  ");
    for (size_t i = kids.size(); i-- > 0;) {
      stack.push_back({&kids[i], child_prefix, i + 1 == kids.size()});
    }
  }
  return out;
}

std::string render_tree_dot(const nlohmann::json& dump) {
  std::string out = "digraph radix_tree {\n  node [shape=box, fontname=monospace];\n";
  out += "  root [label=\"" + dump.value("model", std::string("?")) + "\", shape=ellipse];\n";
  struct Item {
    const nlohmann::json* node;
    std::string parent;
  };
  std::vector<Item> stack;
  for (const auto& c : dump["root"]["children"]) stack.push_back({&c, "root"});
  size_t next_id = 0;
  while (!stack.empty()) {
    Item it = stack.back();
    stack.pop_back();
    const auto& n = *it.node;
    std::string id = "n";
    id.append(std::to_string(next_id++));
    std::string label = edge_text(n);
    for (const auto& t : n.value("tenants", nlohmann::json::array())) {
      label.append("\\n").append(t.value("url", std::string("?")));
    }
    out.append("  ").append(id).append(" [label=\"").append(label).append("\"];\n");
    out.append("  ").append(it.parent).append(" -> ").append(id).append(";\n");
    for (const auto& c : n["children"]) stack.push_back({&c, id});
  }
  out += "}\n";
  return out;
}

}  // namespace radixmesh::tools
