// The one parser of network addresses, for every layer: "HOST:PORT" (mesh
// peers, --peer, --mesh-advertise, --workers-dns, --peers-dns) and
// "http(s)://HOST[:PORT][/PATH]" (workers, load-generator targets, the admin
// URL of radixmesh-ctl). It lives in radix/ because every other folder links
// radix/ and it needs nothing but the standard library.
//
// One grammar, so that every place agrees on the same input:
//   host      a name (letters, digits, '-', '.', '_') or an IPv4 literal, or
//             an IPv6 literal in brackets ("[::1]"; bare it is refused)
//   port      1..65535, decimal digits only (no sign, no spaces)
//   refused   empty parts, whitespace or control bytes anywhere, userinfo
//             ("user@host"), a query or fragment ('?', '#'), other schemes
// Host names are kept as written (case included); IPv6 hosts are returned
// without their brackets, and HostPort::text() puts them back.
//
// Threads: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "radix/result.h"

namespace radixmesh::radix {

struct HostPort {
  std::string host;  // without brackets
  uint16_t port = 0;
  bool ipv6 = false;  // host is an IPv6 literal
  // "host:port", "[v6]:port".
  std::string text() const;
  bool operator==(const HostPort&) const = default;
};

// "HOST:PORT"; with `default_port`, the ":PORT" may be left out ("HOST").
// kInvalidArgument with a message that quotes the input and says what is wrong.
Result<HostPort> parse_host_port(std::string_view text,
                                 std::optional<uint16_t> default_port = std::nullopt);

struct HttpUrl {
  bool tls = false;    // https
  HostPort authority;  // port 80 / 443 when the URL names none
  std::string path;    // "" or starting with '/'
  // "http(s)://host:port" (always with the port): the normal form.
  std::string origin() const;
};

// "http://..." or "https://..." (the scheme in any case).
Result<HttpUrl> parse_http_url(std::string_view text);

}  // namespace radixmesh::radix
