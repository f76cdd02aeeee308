// Router error bodies and statuses; the retry decision; hop-by-hop headers.
#include <doctest/doctest.h>

#include <set>

#include <nlohmann/json.hpp>

#include "router/admin_http.h"
#include "router/errors.h"
#include "router/headers.h"
#include "router/retry_policy.h"

using namespace radixmesh;
using namespace radixmesh::router;

TEST_CASE("error bodies are OpenAI-shaped JSON with escaped messages") {
  const std::string body = error_body(RouterErrc::kUnknownModel, "model \"x\"\n not served");
  auto j = nlohmann::json::parse(body);
  REQUIRE(j.contains("error"));
  CHECK(j["error"]["message"] == "model \"x\"\n not served");
  CHECK(j["error"]["type"] == "not_found_error");
  CHECK(j["error"]["code"] == "model_not_found");
  // Invalid UTF-8 in a message (echoing bad input) must not throw.
  CHECK_NOTHROW(nlohmann::json::parse(error_body(RouterErrc::kBadRequest, "\xff\xfe")));
}

TEST_CASE("each router error has the status the API promises") {
  CHECK(http_status(RouterErrc::kBadRequest) == 400);
  CHECK(http_status(RouterErrc::kNotFound) == 404);
  CHECK(http_status(RouterErrc::kUnknownModel) == 404);
  CHECK(http_status(RouterErrc::kMethodNotAllowed) == 405);
  CHECK(http_status(RouterErrc::kBodyTooLarge) == 413);
  CHECK(http_status(RouterErrc::kNoHealthyWorker) == 503);
  CHECK(http_status(RouterErrc::kUpstreamFailure) == 502);
  CHECK(http_status(RouterErrc::kUpstreamTimeout) == 504);
  CHECK(http_status(RouterErrc::kBodyBudgetExhausted) == 503);
  CHECK(error_code_name(RouterErrc::kBodyBudgetExhausted) == "request_body_budget_exhausted");
  CHECK(error_type(RouterErrc::kBodyBudgetExhausted) == "service_unavailable_error");
  CHECK(http_status(RouterErrc::kRequestTimeout) == 408);
  CHECK(error_code_name(RouterErrc::kRequestTimeout) == "request_timeout");
  CHECK(http_status(RouterErrc::kNotImplemented) == 501);
  CHECK(error_code_name(RouterErrc::kNotImplemented) == "not_implemented");
  // Parser/routing error codes map to the right client errors.
  CHECK(from_error_code(ErrorCode::kInvalidArgument) == RouterErrc::kBadRequest);
  CHECK(from_error_code(ErrorCode::kTooLarge) == RouterErrc::kBodyTooLarge);
  CHECK(from_error_code(ErrorCode::kNotFound) == RouterErrc::kUnknownModel);
  CHECK(from_error_code(ErrorCode::kUnavailable) == RouterErrc::kNoHealthyWorker);
}

TEST_CASE("router errors travel in boost error_codes with their own category") {
  boost::system::error_code ec = RouterErrc::kPoolExhausted;
  CHECK(ec == RouterErrc::kPoolExhausted);
  CHECK(ec != RouterErrc::kUpstreamTimeout);
  CHECK(std::string(ec.category().name()) == "radixmesh.router");
  CHECK(ec.message() == "upstream_pool_exhausted");
}

TEST_CASE("retry only before bytes reached the client, bounded by max_retries") {
  for (auto f : {AttemptFailure::kConnectRefused, AttemptFailure::kReset,
                 AttemptFailure::kStatus5xx, AttemptFailure::kStatus429,
                 AttemptFailure::kConnectTimeout, AttemptFailure::kPoolExhausted}) {
    CAPTURE(to_string(f));
    CHECK(decide_retry(f, 0, 2, false).retry);
    CHECK(decide_retry(f, 1, 2, false).retry);
    CHECK_FALSE(decide_retry(f, 2, 2, false).retry);
    CHECK_FALSE(decide_retry(f, 0, 2, true).retry);
    CHECK_FALSE(decide_retry(f, 0, 0, false).retry);
  }
}

TEST_CASE("a first-byte timeout is not retried and answers 504") {
  const auto d = decide_retry(AttemptFailure::kFirstByteTimeout, 0, 5, false);
  CHECK_FALSE(d.retry);
  CHECK(d.breaker_failure);
  CHECK(http_status(d.final_error) == 504);
}

TEST_CASE("429 is retried but does not count against the breaker") {
  const auto d = decide_retry(AttemptFailure::kStatus429, 0, 2, false);
  CHECK(d.retry);
  CHECK_FALSE(d.breaker_failure);
  CHECK_FALSE(d.mark_unhealthy);
  const auto refused = decide_retry(AttemptFailure::kConnectRefused, 0, 2, false);
  CHECK(refused.breaker_failure);
  CHECK(refused.mark_unhealthy);
  CHECK(http_status(refused.final_error) == 503);  // down, not misbehaving
  CHECK(http_status(decide_retry(AttemptFailure::kReset, 2, 2, false).final_error) == 502);
}

TEST_CASE("hop-by-hop headers and those named by Connection are not forwarded") {
  namespace http = boost::beast::http;
  http::request<http::string_body> in;
  in.set(http::field::connection, "keep-alive, X-Private");
  in.set("X-Private", "secret");
  in.set(http::field::keep_alive, "timeout=5");
  in.set(http::field::transfer_encoding, "chunked");
  in.set(http::field::te, "trailers");
  in.set(http::field::upgrade, "h2c");
  in.set(http::field::host, "router:8000");
  in.set(http::field::content_length, "12");
  in.set(http::field::authorization, "Bearer sk-1");
  in.set("X-Session-Id", "abc");
  in.set(http::field::content_type, "application/json");
  http::request<http::string_body> out;
  copy_end_to_end(in, out);
  CHECK(out[http::field::authorization] == "Bearer sk-1");
  CHECK(out["X-Session-Id"] == "abc");
  CHECK(out[http::field::content_type] == "application/json");
  for (auto name : {"Connection", "X-Private", "Keep-Alive", "Transfer-Encoding", "TE", "Upgrade",
                    "Host", "Content-Length"}) {
    CAPTURE(name);
    CHECK(out.find(name) == out.end());
  }
  CHECK(is_hop_by_hop("Proxy-Authorization"));
  CHECK_FALSE(is_hop_by_hop("Authorization"));
}

TEST_CASE("errors: one vocabulary: every condition has its own code, a status and a type") {
  std::set<std::string_view> codes;
  for (int i = 1; i <= static_cast<int>(RouterErrc::kUnavailable); ++i) {
    const auto e = static_cast<RouterErrc>(i);
    CAPTURE(i);
    const unsigned status = http_status(e);
    CHECK(status >= 400);
    CHECK(status < 600);
    CHECK(codes.insert(error_code_name(e)).second);  // no two conditions share a code
    // The type follows the status class the same way for every condition.
    const std::string_view type = error_type(e);
    if (status == 503) CHECK(type == "service_unavailable_error");
    if (status == 401) CHECK(type == "authentication_error");
    if (status == 404) CHECK(type == "not_found_error");
  }
  CHECK(codes.count("internal_error") == 1);  // only kInternal falls back to it
}

TEST_CASE("errors: the admin API answers in the data plane's vocabulary") {
  // The same 503 from both servers: status, type and shape agree.
  const AdminResponse admin = error_response(RouterErrc::kUnavailable, "no memory broker");
  const auto a = nlohmann::json::parse(admin.body);
  const auto d = nlohmann::json::parse(error_body(RouterErrc::kNoHealthyWorker, "none"));
  CHECK(admin.status == 503);
  CHECK(a["error"]["type"] == d["error"]["type"]);
  CHECK(a["error"]["code"] == "unavailable");
  // A precise code keeps the status and type of its condition.
  const AdminResponse q = error_response(RouterErrc::kBadRequest, "bad n", "bad_query");
  const auto qj = nlohmann::json::parse(q.body);
  CHECK(q.status == 400);
  CHECK(qj["error"]["type"] == "invalid_request_error");
  CHECK(qj["error"]["code"] == "bad_query");
  // Registry errors map as the data plane maps them.
  const AdminResponse nf = error_response(make_error(ErrorCode::kNotFound, "no worker x"));
  CHECK(nf.status == 404);
  CHECK(nlohmann::json::parse(nf.body)["error"]["type"] == "not_found_error");
}
