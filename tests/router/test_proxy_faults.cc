// The proxy path under injected worker faults, in process (tests/router/
// proxy_world.h): the router's real session, handler, engine and proxy; the
// client on a socketpair; scripted workers on loopback that answer garbage,
// cut a body short, never answer, fail, or stream while the client leaves.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <numeric>
#include <string>

#include "tests/router/proxy_world.h"

using namespace radixmesh::router;
using namespace radixmesh::router::testing;

namespace {

unsigned status_of(const std::string& received) {
  if (received.rfind("HTTP/1.1 ", 0) != 0 || received.size() < 12) return 0;
  return static_cast<unsigned>(std::stoi(received.substr(9, 3)));
}

std::string body_of(const std::string& received) {
  const size_t end = received.find("\r\n\r\n");
  return end == std::string::npos ? "" : received.substr(end + 4);
}

int total_requests(const ProxyWorld& w) {
  int n = 0;
  for (const auto& s : w.scripted) n += s->requests;
  return n;
}

uint32_t total_in_flight(ProxyWorld& w) {
  uint32_t n = 0;
  for (const auto& worker : w.registry.snapshot()->all) n += worker->in_flight();
  return n;
}

std::string error_code_in(const std::string& body) {
  const auto j = nlohmann::json::parse(body, nullptr, false);
  if (!j.is_object() || !j.contains("error")) return "";
  return j["error"].value("code", "");
}

}  // namespace

TEST_CASE("proxy faults: a good worker's answer is relayed byte for byte") {
  ProxyWorld w(1);
  SessionClient c(w, chat_request("hello"));
  REQUIRE(c.ok);
  REQUIRE(c.finish());
  CHECK(status_of(c.received) == 200);
  CHECK(body_of(c.received) == kScriptedCompletion);
  CHECK(total_in_flight(w) == 0);
}

TEST_CASE("proxy faults: workers answering garbage: retried elsewhere, then 502") {
  ProxyWorld w(3);
  SessionClient c(w, chat_request("script-garbage"));
  REQUIRE(c.finish());
  CHECK(status_of(c.received) == 502);
  CHECK(error_code_in(body_of(c.received)) == "upstream_failure");
  CHECK(total_requests(w) == 3);  // the first try and --max-retries 2, each on another worker
  for (const auto& s : w.scripted) CHECK(s->requests == 1);
  CHECK(total_in_flight(w) == 0);
}

TEST_CASE("proxy faults: a body cut after its header: no retry, the client sees it end early") {
  ProxyWorld w(3);
  SessionClient c(w, chat_request("script-cut"));
  REQUIRE(c.finish());
  CHECK(status_of(c.received) == 200);  // the header had gone out
  // Content-Length 100, fewer bytes: the close tells the client it is cut.
  CHECK(c.received.find("Content-Length: 100") != std::string::npos);
  CHECK(body_of(c.received).size() < 100);
  CHECK(total_requests(w) == 1);  // never retried once a byte reached the client
  CHECK(total_in_flight(w) == 0);
}

TEST_CASE("proxy faults: a worker that never answers: 504 after the first-byte timeout, closed") {
  ProxyOptions o = ProxyWorld::default_proxy_options();
  o.first_byte_timeout = std::chrono::milliseconds(200);
  ProxyWorld w(3, o);
  const auto start = std::chrono::steady_clock::now();
  SessionClient c(w, chat_request("script-silent"));
  REQUIRE(c.finish());
  const auto took = std::chrono::steady_clock::now() - start;
  CHECK(status_of(c.received) == 504);
  CHECK(error_code_in(body_of(c.received)) == "upstream_timeout");
  // Not retried: the worker may still be computing it (router/retry_policy.h).
  CHECK(total_requests(w) == 1);
  CHECK(took < std::chrono::seconds(3));  // one bounded wait, not a hang
  // The router closed the silent connection (the worker can stop).
  REQUIRE(w.run_until(
      [&] {
        int closed = 0;
        for (const auto& s : w.scripted) closed += s->closed_early;
        return closed == 1;
      },
      std::chrono::seconds(5)));
  CHECK(total_in_flight(w) == 0);
}

TEST_CASE("proxy faults: 5xx is retried on another worker; the last worker's answer is relayed") {
  ProxyWorld w(3);
  SessionClient c(w, chat_request("script-500"));
  REQUIRE(c.finish());
  CHECK(status_of(c.received) == 500);  // no routable worker left: the worker's own answer
  CHECK(body_of(c.received).find("scripted") != std::string::npos);
  CHECK(total_requests(w) == 3);
  CHECK(total_in_flight(w) == 0);
}

TEST_CASE("proxy faults: a client that leaves mid-stream frees the worker at once") {
  ProxyWorld w(1);
  // The stream would take 200 x 20 ms = 4 s; the client leaves after ~5 events.
  SessionClient c(w, chat_request("script-drip", /*stream=*/true), 300);
  const auto start = std::chrono::steady_clock::now();
  REQUIRE(c.finish());
  REQUIRE(w.run_until([&] { return w.scripted[0]->closed_early == 1; }, std::chrono::seconds(3)));
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(3));
  CHECK(status_of(c.received) == 200);
  CHECK(total_in_flight(w) == 0);
}
