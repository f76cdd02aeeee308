// Config file reading: JSON, or a flat YAML subset (see config_file.h).
#include "router/config_file.h"

#include <cctype>
#include <fstream>
#include <sstream>

namespace radixmesh::router::config_detail {
namespace {

std::string trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

// Removes a trailing " # comment" outside quotes.
std::string strip_comment(const std::string& s) {
  char quote = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    char ch = s[i];
    if (quote) {
      if (ch == quote) quote = 0;
    } else if (ch == '"' || ch == '\'') {
      quote = ch;
    } else if (ch == '#' && (i == 0 || std::isspace(static_cast<unsigned char>(s[i - 1])))) {
      return s.substr(0, i);
    }
  }
  return s;
}

std::string unquote(const std::string& raw) {
  std::string s = trim(raw);
  if (s.size() >= 2 && (s.front() == '"' || s.front() == '\'') && s.back() == s.front()) {
    return s.substr(1, s.size() - 2);
  }
  return s;
}

Error line_error(int line, const std::string& why) {
  return make_error(ErrorCode::kInvalidArgument,
                    "config file line " + std::to_string(line) + ": " + why);
}

}  // namespace

Result<nlohmann::json> parse_flat_yaml(const std::string& text) {
  nlohmann::json out = nlohmann::json::object();
  std::istringstream in(text);
  std::string raw;
  std::string list_key;  // the key whose block list is being read
  int line_no = 0;
  while (std::getline(in, raw)) {
    ++line_no;
    if (!raw.empty() && raw.back() == '\r') raw.pop_back();
    std::string line = strip_comment(raw);
    std::string t = trim(line);
    if (t.empty() || t == "---") continue;
    bool indented = std::isspace(static_cast<unsigned char>(line[0]));
    if (t.rfind("- ", 0) == 0 || t == "-") {
      if (list_key.empty()) return line_error(line_no, "list item without a key");
      out[list_key].push_back(unquote(t.substr(1)));
      continue;
    }
    if (indented) return line_error(line_no, "nested mappings are not supported");
    size_t colon = t.find(':');
    if (colon == std::string::npos) return line_error(line_no, "expected 'key: value'");
    std::string key = trim(t.substr(0, colon));
    std::string value = trim(t.substr(colon + 1));
    if (key.empty()) return line_error(line_no, "empty key");
    if (out.contains(key)) return line_error(line_no, "duplicate key '" + key + "'");
    list_key.clear();
    if (value.empty()) {
      out[key] = nlohmann::json::array();
      list_key = key;
    } else if (value.front() == '[') {
      if (value.back() != ']') return line_error(line_no, "unterminated inline list");
      nlohmann::json list = nlohmann::json::array();
      std::string inner = value.substr(1, value.size() - 2);
      std::istringstream items(inner);
      std::string item;
      while (std::getline(items, item, ',')) {
        if (!trim(item).empty()) list.push_back(unquote(item));
      }
      out[key] = std::move(list);
    } else if (value.front() == '{' || value.front() == '&' || value.front() == '*' ||
               value.front() == '|' || value.front() == '>') {
      return line_error(line_no, "only plain scalars and lists are supported");
    } else {
      out[key] = unquote(value);
    }
  }
  return out;
}

Result<nlohmann::json> load_config_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    return make_error(ErrorCode::kNotFound, "cannot read config file '" + path + "'");
  }
  std::string text;
  text.resize(kMaxConfigFileBytes + 1);
  f.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(f.gcount()));
  if (text.size() > kMaxConfigFileBytes) {
    return make_error(ErrorCode::kTooLarge, "config file '" + path + "' is larger than 1 MiB");
  }
  bool yaml_name = path.ends_with(".yaml") || path.ends_with(".yml");
  std::string first = trim(text).substr(0, 1);
  if (!yaml_name && first == "{") {
    auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) {
      return make_error(ErrorCode::kInvalidArgument,
                        "config file '" + path + "' is not a valid JSON object");
    }
    return j;
  }
  auto y = parse_flat_yaml(text);
  if (!y) {
    return make_error(ErrorCode::kInvalidArgument,
                      "config file '" + path + "': " + y.error().message);
  }
  return y;
}

}  // namespace radixmesh::router::config_detail
