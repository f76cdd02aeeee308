// Admin API messages without sockets: the request the handlers see, the
// response they return, JSON error bodies and query-string parsing.
//
// The admin server (admin_server.h) turns Beast messages into AdminRequest
// and AdminResponse back into Beast messages; everything between is plain
// data, so the handlers are tested without a network.
//
// Error body (same shape as the data plane's):
//   {"error": {"message": "...", "type": "invalid_request_error", "code": "bad_query"}}
//
// Threads: plain values and pure functions.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "router/errors.h"

#include "radix/result.h"

namespace radixmesh::router {

struct AdminRequest {
  std::string method;         // "GET", "POST", "DELETE", ...
  std::string target;         // path and query, e.g. "/admin/trees/top?model=m&n=5"
  std::string body;           // request body (bounded by the server)
  std::string authorization;  // the Authorization header, "" if absent
  std::string session;        // the --session-header value, "" if absent
  std::string content_type;   // the Content-Type header, "" if absent
  std::string host;           // the Host header, "" if absent
  std::string origin;         // the Origin header, "" if absent
};

struct AdminResponse {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::string allow;              // the Allow header on 405
  bool www_authenticate = false;  // adds WWW-Authenticate: Bearer on 401
};

// 200 with a JSON body (pretty enough for curl: one line, no indentation).
AdminResponse json_response(const nlohmann::json& body, unsigned status = 200);
// An error in the data plane's vocabulary (router/errors.h): status and
// "type" follow e; `code` may name the case more precisely ("bad_query",
// "worker_not_found"), else it is error_code_name(e).
AdminResponse error_response(RouterErrc e, std::string_view message, std::string_view code = {});
// A radix/registry Error, mapped as the data plane maps it
// (from_error_code), its ErrorCode name as the code.
AdminResponse error_response(const Error& e);

// Splits a target into its path and its decoded query parameters (the last
// value wins for a repeated key). Percent-escapes and '+' are decoded.
// Malformed escapes are an error.
struct Target {
  std::string path;
  std::map<std::string, std::string> query;

  std::optional<std::string> get(const std::string& key) const;
};
Result<Target> parse_target(std::string_view target);
std::string url_decode(std::string_view s, bool* ok);
std::string url_encode(std::string_view s);

// An unsigned integer query parameter in [min, max]; `fallback` when absent.
Result<size_t> query_size(const Target& t, const std::string& key, size_t fallback, size_t min,
                          size_t max);

// True when a Content-Type names application/json (case-insensitive, any
// parameters such as "; charset=utf-8").
bool is_json_media_type(std::string_view content_type);
// True when a Host header value names this machine's loopback: "localhost"
// or a name under ".localhost" (RFC 6761), 127.0.0.0/8, ::1 or
// ::ffff:127.x, with an optional port. Names that merely resolve to
// loopback do not count: that is what a DNS-rebinding page would send.
bool is_loopback_host_header(std::string_view host);  // cf. config.h is_loopback_host (no port)

// A 64-bit hash as 16 lower-case hex digits (how hashes appear in JSON).
std::string hex64(uint64_t v);

}  // namespace radixmesh::router
