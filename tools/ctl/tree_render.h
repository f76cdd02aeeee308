// Renders an admin tree dump (GET /admin/trees/dump) for people: an indented
// text view, or Graphviz dot.
//
// Text: one line per node, children indented under their parent:
//   sim-model: 5 nodes
//   └─ 0123..cdef +12 blocks (depth 0..12)  http://127.0.0.1:7001 3s ago, ...
//      ├─ ...
// Dot: one box per node labelled with its edge and tenants; edges parent->child.
//
// Both walk the JSON with an explicit stack (a deep tree cannot overflow the
// call stack). Threads: pure functions.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace radixmesh::tools {

std::string render_tree_text(const nlohmann::json& dump, uint64_t now_ms);
std::string render_tree_dot(const nlohmann::json& dump);

}  // namespace radixmesh::tools
