// Reading a config file into a JSON object (see router/config.h).
//
// JSON files are parsed as JSON. Files named *.yaml / *.yml (or whose first
// significant character is not '{') are read as a flat YAML subset, enough for
// a config file and a Kubernetes ConfigMap:
//   key: value            # comments; values may be quoted
//   key: [a, b]           # inline list
//   key:                  # block list
//     - a
//     - b
// Nested mappings, anchors and multi-line strings are refused with a message
// naming the line. Scalars stay strings; the option table converts them.
//
// Threads: pure functions (plus reading the file).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "radix/result.h"

namespace radixmesh::router::config_detail {

// Files larger than this are refused (a config file is a few KB).
inline constexpr size_t kMaxConfigFileBytes = 1 << 20;

Result<nlohmann::json> load_config_file(const std::string& path);
Result<nlohmann::json> parse_flat_yaml(const std::string& text);

}  // namespace radixmesh::router::config_detail
