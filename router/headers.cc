#include "router/headers.h"

#include <boost/beast/core/string.hpp>

namespace radixmesh::router {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  return beast::iequals(a, b);
}

// Does the comma-separated token list `list` contain `name` (case-insensitive)?
bool list_contains(std::string_view list, std::string_view name) {
  while (!list.empty()) {
    const size_t comma = list.find(',');
    std::string_view token = list.substr(0, comma);
    while (!token.empty() && (token.front() == ' ' || token.front() == '\t'))
      token.remove_prefix(1);
    while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) token.remove_suffix(1);
    if (iequals(token, name)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace

bool is_hop_by_hop(std::string_view name) {
  static constexpr std::string_view kHopByHop[] = {
      "connection",
      "keep-alive",
      "proxy-connection",
      "te",
      "trailer",
      "transfer-encoding",
      "upgrade",
      "proxy-authenticate",
      "proxy-authorization",
  };
  for (std::string_view h : kHopByHop) {
    if (iequals(name, h)) return true;
  }
  return false;
}

bool forwardable(http::field field, std::string_view name, std::string_view connection) {
  if (field == http::field::host || field == http::field::content_length) return false;
  if (is_hop_by_hop(name)) return false;
  return connection.empty() || !list_contains(connection, name);
}

void copy_end_to_end(const http::fields& from, http::fields& to) {
  const auto connection = from[http::field::connection];
  for (const auto& f : from) {
    if (forwardable(f.name(), f.name_string(), connection)) {
      to.insert(f.name(), f.name_string(), f.value());
    }
  }
}

}  // namespace radixmesh::router
