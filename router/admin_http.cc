// Admin API message helpers (see admin_http.h).
#include "router/admin_http.h"

#include <cctype>
#include <charconv>
#include <cstdio>

#include <boost/asio/ip/address.hpp>
#include <boost/beast/core/string.hpp>

#include "radix/address.h"

namespace radixmesh::router {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

AdminResponse json_response(const nlohmann::json& body, unsigned status) {
  AdminResponse r;
  r.status = status;
  // Replace invalid UTF-8 (e.g. a worker URL typed with stray bytes) rather than throw.
  r.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  r.body += '\n';
  return r;
}

AdminResponse error_response(RouterErrc e, std::string_view message, std::string_view code) {
  AdminResponse r;
  r.status = http_status(e);
  r.body = error_body(e, message, code);
  r.body += '\n';
  return r;
}

AdminResponse error_response(const Error& e) {
  return error_response(from_error_code(e.code), e.message, to_string(e.code));
}

std::optional<std::string> Target::get(const std::string& key) const {
  auto it = query.find(key);
  if (it == query.end()) return std::nullopt;
  return it->second;
}

std::string url_decode(std::string_view s, bool* ok) {
  std::string out;
  out.reserve(s.size());
  *ok = true;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%') {
      if (i + 2 >= s.size()) {
        *ok = false;
        return out;
      }
      int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
      if (hi < 0 || lo < 0) {
        *ok = false;
        return out;
      }
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::string url_encode(std::string_view s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

Result<Target> parse_target(std::string_view target) {
  Target t;
  size_t q = target.find('?');
  bool ok = true;
  t.path = url_decode(target.substr(0, q), &ok);
  if (!ok) return make_error(ErrorCode::kInvalidArgument, "malformed percent-escape in path");
  if (q == std::string_view::npos) return t;
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    size_t amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    std::string key = url_decode(pair.substr(0, eq), &ok);
    if (!ok) return make_error(ErrorCode::kInvalidArgument, "malformed percent-escape in query");
    std::string value = eq == std::string_view::npos ? "" : url_decode(pair.substr(eq + 1), &ok);
    if (!ok) return make_error(ErrorCode::kInvalidArgument, "malformed percent-escape in query");
    t.query[key] = std::move(value);
  }
  return t;
}

Result<size_t> query_size(const Target& t, const std::string& key, size_t fallback, size_t min,
                          size_t max) {
  auto v = t.get(key);
  if (!v) return fallback;
  size_t n = 0;
  auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (v->empty() || ec != std::errc() || p != v->data() + v->size() || n < min || n > max) {
    return make_error(ErrorCode::kInvalidArgument,
                      "query parameter '" + key + "' must be an integer between " +
                          std::to_string(min) + " and " + std::to_string(max));
  }
  return n;
}

bool is_json_media_type(std::string_view content_type) {
  std::string_view type = content_type.substr(0, content_type.find(';'));
  while (!type.empty() && (type.front() == ' ' || type.front() == '\t')) type.remove_prefix(1);
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) type.remove_suffix(1);
  return boost::beast::iequals(type, "application/json");
}

bool is_loopback_host_header(std::string_view host) {
  // The one address parser (radix/address.h); a Host header's port is optional.
  auto hp = radix::parse_host_port(host, uint16_t{80});
  if (!hp) return false;
  std::string_view name = hp->host;
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);  // "localhost."
  if (name.empty()) return false;
  std::string lower(name);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  constexpr std::string_view kLocal = "localhost";
  if (lower == kLocal) return true;
  if (lower.size() > kLocal.size() + 1 &&
      lower.compare(lower.size() - kLocal.size() - 1, std::string::npos, ".localhost") == 0) {
    return true;
  }
  boost::system::error_code ec;
  const auto address = boost::asio::ip::make_address(lower, ec);
  if (ec) return false;
  if (address.is_v4()) return address.to_v4().is_loopback();
  const auto v6 = address.to_v6();
  if (v6.is_v4_mapped()) {
    return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, v6).is_loopback();
  }
  return v6.is_loopback();
}

std::string hex64(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

}  // namespace radixmesh::router
