// Request framing the router checks itself (router/request_framing.h):
// Transfer-Encoding must be exactly chunked (RFC 9112 6.1, 6.3).
#include <doctest/doctest.h>

#include <initializer_list>

#include "router/request_framing.h"

using namespace radixmesh::router;

namespace {

std::optional<FramingError> check(std::initializer_list<const char*> te, unsigned version = 11) {
  http::fields f;
  f.set(http::field::host, "x");
  for (const char* v : te) f.insert(http::field::transfer_encoding, v);
  return check_request_framing(f, version);
}

}  // namespace

TEST_CASE("framing: no Transfer-Encoding, or exactly chunked, is accepted") {
  CHECK_FALSE(check({}));
  CHECK_FALSE(check({"chunked"}));
  CHECK_FALSE(check({"Chunked"}));
  CHECK_FALSE(check({" chunked\t"}));
  CHECK_FALSE(check({"chunked,"}));  // empty list items do not count (RFC 9110 5.6.1)
  CHECK_FALSE(check({}, 10));
}

TEST_CASE("framing: chunked not final, unknown alone or twice is 400") {
  for (auto* te :
       {"xchunked", "identity", "chunked, gzip", "chunked, chunked", "", "gzip", "chunkedx"}) {
    CAPTURE(te);
    const auto e = check({te});
    REQUIRE(e);
    CHECK(e->error == RouterErrc::kBadRequest);
  }
  const auto two_fields = check({"chunked", "chunked"});
  REQUIRE(two_fields);
  CHECK(two_fields->error == RouterErrc::kBadRequest);
  // HTTP/1.0 with any Transfer-Encoding: faulty framing.
  const auto old = check({"chunked"}, 10);
  REQUIRE(old);
  CHECK(old->error == RouterErrc::kBadRequest);
}

TEST_CASE("framing: another coding before a final chunked is 501 (not implemented)") {
  for (auto* te : {"gzip, chunked", "deflate,chunked", "x-custom , chunked"}) {
    CAPTURE(te);
    const auto e = check({te});
    REQUIRE(e);
    CHECK(e->error == RouterErrc::kNotImplemented);
    CHECK(http_status(e->error) == 501);
  }
  // Split over two fields, the list is the same.
  const auto split = check({"gzip", "chunked"});
  REQUIRE(split);
  CHECK(split->error == RouterErrc::kNotImplemented);
}
