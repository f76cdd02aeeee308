#include "radix/address.h"

#include <charconv>

namespace radixmesh::radix {
namespace {

Error bad(std::string_view text, std::string_view why) {
  return make_error(ErrorCode::kInvalidArgument,
                    "'" + std::string(text) + "': " + std::string(why));
}

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_';
}

bool is_v6_char(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' ||
         c == '.';
}

Result<uint16_t> parse_port(std::string_view whole, std::string_view port) {
  if (port.empty()) return bad(whole, "empty port");
  unsigned value = 0;
  auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc() || ptr != port.data() + port.size() || port.size() > 5) {
    return bad(whole, "port is not a number");
  }
  if (value < 1 || value > 65535) return bad(whole, "port must be 1..65535");
  return static_cast<uint16_t>(value);
}

}  // namespace

std::string HostPort::text() const {
  return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::string HttpUrl::origin() const {
  return (tls ? "https://" : "http://") + authority.text();
}

Result<HostPort> parse_host_port(std::string_view text, std::optional<uint16_t> default_port) {
  for (char c : text) {
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f)
      return bad(text, "whitespace or control byte");
    if (c == '@') return bad(text, "credentials (user@host) are not allowed");
    if (c == '/' || c == '?' || c == '#')
      return bad(text, "a path, query or fragment is not allowed");
  }
  HostPort hp;
  std::string_view port;
  bool has_port = false;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos) return bad(text, "unterminated [ipv6] address");
    const std::string_view host = text.substr(1, close - 1);
    if (host.empty() || host.find(':') == std::string_view::npos) {
      return bad(text, "not an IPv6 address in brackets");
    }
    for (char c : host) {
      if (!is_v6_char(c)) return bad(text, "not an IPv6 address in brackets");
    }
    hp.host = std::string(host);
    hp.ipv6 = true;
    const std::string_view after = text.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad(text, "junk after ]");
      port = after.substr(1);
      has_port = true;
    }
  } else {
    const size_t colon = text.find(':');
    if (colon != std::string_view::npos && text.find(':', colon + 1) != std::string_view::npos) {
      return bad(text, "IPv6 hosts need brackets ([::1]:PORT)");
    }
    const std::string_view host = text.substr(0, colon);
    if (host.empty()) return bad(text, "empty host");
    for (char c : host) {
      if (!is_name_char(c)) return bad(text, "not a host name or address");
    }
    hp.host = std::string(host);
    if (colon != std::string_view::npos) {
      port = text.substr(colon + 1);
      has_port = true;
    }
  }
  if (!has_port) {
    if (!default_port) return bad(text, "expected HOST:PORT");
    hp.port = *default_port;
    return hp;
  }
  auto p = parse_port(text, port);
  if (!p) return p.error();
  hp.port = *p;
  return hp;
}

Result<HttpUrl> parse_http_url(std::string_view text) {
  const size_t sep = text.find("://");
  if (sep == std::string_view::npos) return bad(text, "must start with http:// or https://");
  std::string scheme(text.substr(0, sep));
  for (char& c : scheme) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  HttpUrl url;
  if (scheme == "https") {
    url.tls = true;
  } else if (scheme != "http") {
    return bad(text, "must start with http:// or https://");
  }
  std::string_view rest = text.substr(sep + 3);
  const size_t slash = rest.find('/');
  const std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    const std::string_view path = rest.substr(slash);
    for (char c : path) {
      if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f)
        return bad(text, "whitespace or control byte");
      if (c == '?' || c == '#') return bad(text, "a query or fragment is not allowed");
    }
    url.path = std::string(path);
  }
  if (authority.empty()) return bad(text, "missing host");
  auto hp = parse_host_port(authority, url.tls ? uint16_t{443} : uint16_t{80});
  if (!hp) return bad(text, hp.error().message);
  url.authority = std::move(hp).value();
  return url;
}

}  // namespace radixmesh::radix
