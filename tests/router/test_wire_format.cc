// The proxy writes HTTP heads by hand (router/wire_format.h): every head
// must parse back with Beast's own parser into the message it stands for.
#include <doctest/doctest.h>

#include <string>

#include "router/headers.h"
#include "router/wire_format.h"

using namespace radixmesh::router;

namespace {

template <bool isRequest>
http::message<isRequest, http::string_body> parse_whole(const std::string& bytes,
                                                        bool eof_ends_body = false) {
  http::parser<isRequest, http::string_body> p;
  p.eager(true);
  error_code ec;
  const size_t used = p.put(net::buffer(bytes), ec);
  REQUIRE_MESSAGE(!ec, ec.message());
  CHECK(used == bytes.size());
  if (eof_ends_body) {
    p.put_eof(ec);
    REQUIRE(!ec);
  }
  REQUIRE(p.is_done());
  return p.release();
}

http::fields worker_headers() {
  http::response<http::empty_body> r;
  r.set(http::field::content_type, "text/event-stream");
  r.set(http::field::connection, "keep-alive, X-Hop");
  r.set("X-Hop", "dropped");
  r.set(http::field::transfer_encoding, "chunked");
  r.set(http::field::content_length, "99");
  r.set("X-Request-Id", "r-1");
  return static_cast<http::fields&>(r.base());
}

}  // namespace

TEST_CASE("request head: end-to-end headers kept, hop-by-hop and Expect dropped, Host set") {
  http::request<http::string_body> client;
  client.method(http::verb::post);
  client.target("/v1/chat/completions?x=1");
  client.set(http::field::connection, "keep-alive, X-Private");
  client.set("X-Private", "secret");
  client.set(http::field::expect, "100-continue");
  client.set(http::field::host, "router:8000");
  client.set(http::field::content_length, "999");
  client.set(http::field::authorization, "Bearer sk-1");
  client.set("X-Session-Id", "abc");
  const std::string body = R"({"model":"m","prompt":"hi"})";

  std::string wire;
  append_request_head(wire, client.method(), client.target(), client, "127.0.0.1:7001",
                      body.size());
  wire += body;
  const auto up = parse_whole<true>(wire);
  CHECK(up.method() == http::verb::post);
  CHECK(up.target() == "/v1/chat/completions?x=1");
  CHECK(up.version() == 11);
  CHECK(up.keep_alive());
  CHECK(up[http::field::host] == "127.0.0.1:7001");
  CHECK(up[http::field::content_length] == std::to_string(body.size()));
  CHECK(up[http::field::authorization] == "Bearer sk-1");
  CHECK(up["X-Session-Id"] == "abc");
  CHECK(up.body() == body);
  for (auto name : {"Connection", "X-Private", "Expect"}) {
    CAPTURE(name);
    CHECK(up.find(name) == up.end());
  }
  CHECK(up.count(http::field::host) == 1);
  CHECK(up.count(http::field::content_length) == 1);
}

TEST_CASE("request head: X-Forwarded-For gets the client address appended, Proto added") {
  http::request<http::string_body> client;
  client.method(http::verb::post);
  client.target("/v1/completions");
  client.insert("X-Forwarded-For", "203.0.113.7");
  client.insert("x-forwarded-for", "10.0.0.1, 10.0.0.2");
  std::string wire;
  append_request_head(wire, client.method(), client.target(), client, "w:1", 0, "127.0.0.9");
  auto up = parse_whole<true>(wire);
  CHECK(up.count("X-Forwarded-For") == 1);
  CHECK(up["X-Forwarded-For"] == "203.0.113.7, 10.0.0.1, 10.0.0.2, 127.0.0.9");
  CHECK(up["X-Forwarded-Proto"] == "http");

  // A balancer in front set the scheme: kept as sent. No client list: just ours.
  http::request<http::string_body> behind_tls;
  behind_tls.method(http::verb::post);
  behind_tls.target("/v1/completions");
  behind_tls.insert("X-Forwarded-Proto", "https");
  wire.clear();
  append_request_head(wire, behind_tls.method(), behind_tls.target(), behind_tls, "w:1", 0, "::1");
  up = parse_whole<true>(wire);
  CHECK(up["X-Forwarded-For"] == "::1");
  CHECK(up.count("X-Forwarded-Proto") == 1);
  CHECK(up["X-Forwarded-Proto"] == "https");

  // Turned off (no address): the client's header passes through untouched.
  wire.clear();
  append_request_head(wire, client.method(), client.target(), client, "w:1", 0);
  up = parse_whole<true>(wire);
  CHECK(up.count("X-Forwarded-For") == 2);
  CHECK(up.count("X-Forwarded-Proto") == 0);
}

TEST_CASE("response head without a worker URL has no x-radixmesh-worker") {
  http::response<http::empty_body> worker{http::status::ok, 11};
  ResponseHead head;
  head.content_length = 0;
  std::string wire;
  append_response_head(wire, head, worker);
  CHECK(wire.find("x-radixmesh-worker") == std::string::npos);
  head.worker_url = "http://10.1.2.3:8000";
  wire.clear();
  append_response_head(wire, head, worker);
  CHECK(wire.find("x-radixmesh-worker: http://10.1.2.3:8000\r\n") != std::string::npos);
}

TEST_CASE("response head with the worker's Content-Length") {
  ResponseHead head;
  head.status = 200;
  head.reason = "OK";
  head.framing = BodyFraming::kContentLength;
  head.content_length = 5;
  head.worker_url = "http://127.0.0.1:7001";
  std::string wire;
  append_response_head(wire, head, worker_headers());
  wire += "hello";
  const auto res = parse_whole<false>(wire);
  CHECK(res.result_int() == 200);
  CHECK(res.keep_alive());
  CHECK(res.body() == "hello");
  CHECK(res[kWorkerHeader] == "http://127.0.0.1:7001");
  CHECK(res["X-Request-Id"] == "r-1");
  CHECK(res[http::field::content_type] == "text/event-stream");
  CHECK(res.find("X-Hop") == res.end());
  CHECK(res.find(http::field::transfer_encoding) == res.end());
  CHECK(res[http::field::content_length] == "5");
}

TEST_CASE("chunked re-framing reassembles to the same body") {
  ResponseHead head;
  head.status = 200;
  head.framing = BodyFraming::kChunked;
  head.worker_url = "w";
  std::string wire;
  append_response_head(wire, head, worker_headers());
  const std::string pieces[] = {"data: {\"a\":1}\n\n", std::string(300, 'x'), "data: [DONE]\n\n"};
  std::string expected;
  for (const auto& p : pieces) {
    append_chunk_header(wire, p.size());
    wire += p;
    wire += kChunkEnd;
    expected += p;
  }
  wire += kLastChunk;
  const auto res = parse_whole<false>(wire);
  CHECK(res.chunked());
  CHECK(res.body() == expected);
  CHECK(res.reason() == "OK");  // standard phrase when the worker gave none
}

TEST_CASE("keep-alive and close follow the client's HTTP version") {
  ResponseHead head;
  head.framing = BodyFraming::kContentLength;
  head.worker_url = "w";
  SUBCASE("HTTP/1.1 close") {
    head.keep_alive = false;
    std::string wire;
    append_response_head(wire, head, {});
    CHECK_FALSE(parse_whole<false>(wire).keep_alive());
  }
  SUBCASE("HTTP/1.0 keep-alive") {
    head.version = 10;
    std::string wire;
    append_response_head(wire, head, {});
    const auto res = parse_whole<false>(wire);
    CHECK(res.version() == 10);
    CHECK(res.keep_alive());
  }
  SUBCASE("HTTP/1.0 close-delimited body") {
    head.version = 10;
    head.framing = BodyFraming::kClose;
    std::string wire;
    append_response_head(wire, head, {});
    wire += "streamed until close";
    const auto res = parse_whole<false>(wire, /*eof_ends_body=*/true);
    CHECK_FALSE(res.keep_alive());
    CHECK(res.body() == "streamed until close");
  }
  SUBCASE("204 has no length header") {
    head.status = 204;
    head.framing = BodyFraming::kNone;
    std::string wire;
    append_response_head(wire, head, {});
    const auto res = parse_whole<false>(wire);
    CHECK(res.find(http::field::content_length) == res.end());
    CHECK(res.keep_alive());
  }
}
