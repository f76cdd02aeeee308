// The one address parser (radix/address.h): every layer reads HOST:PORT and
// http(s) URLs with it, so the same input means the same thing everywhere.
#include <doctest/doctest.h>

#include <string>

#include "radix/address.h"

using namespace radixmesh::radix;

TEST_CASE("address: HOST:PORT, names, IPv4 and bracketed IPv6") {
  auto a = parse_host_port("router-0.mesh.svc:7946");
  REQUIRE(a.ok());
  CHECK(a->host == "router-0.mesh.svc");
  CHECK(a->port == 7946);
  CHECK_FALSE(a->ipv6);
  CHECK(a->text() == "router-0.mesh.svc:7946");
  auto b = parse_host_port("[::1]:9000");
  REQUIRE(b.ok());
  CHECK(b->host == "::1");
  CHECK(b->ipv6);
  CHECK(b->text() == "[::1]:9000");
  CHECK(parse_host_port("10.0.0.1:1")->port == 1);
  CHECK(parse_host_port("h:65535")->port == 65535);
  // A default port makes ":PORT" optional.
  CHECK(parse_host_port("localhost", 80)->port == 80);
  CHECK(parse_host_port("[fe80::1]", 443)->text() == "[fe80::1]:443");
}

TEST_CASE("address: what every caller refuses alike") {
  for (const char* text :
       {"",           ":80",          "host",         "host:",     "host:0",
        "host:65536", "host:+80",     "host:8a",      "host: 80",  " host:80",
        "ho st:80",   "user@host:80", "host:80/path", "host:80?q", "::1:80",
        "[::1",       "[::1]x",       "[]:80",        "[host]:80", "host:000000080",
        "h\x01st:80"}) {
    CAPTURE(text);
    auto r = parse_host_port(text);
    CHECK_FALSE(r.ok());
    if (!r.ok()) CHECK(r.error().message.find('\'') == 0);  // quotes the input
  }
}

TEST_CASE("address: http and https URLs") {
  auto u = parse_http_url("https://worker-1:8443");
  REQUIRE(u.ok());
  CHECK(u->tls);
  CHECK(u->authority.port == 8443);
  CHECK(u->path.empty());
  CHECK(u->origin() == "https://worker-1:8443");
  auto d = parse_http_url("HTTP://10.0.0.5/v1");
  REQUIRE(d.ok());
  CHECK_FALSE(d->tls);
  CHECK(d->authority.port == 80);
  CHECK(d->path == "/v1");
  CHECK(parse_http_url("https://[::1]")->origin() == "https://[::1]:443");
  for (const char* text : {"ftp://h:1", "h:80", "http://", "http:///x", "http://user@h:80",
                           "http://h:99999", "http://h:80/x?y", "http://h:80/a b", "http//h"}) {
    CAPTURE(text);
    CHECK_FALSE(parse_http_url(text).ok());
  }
}
