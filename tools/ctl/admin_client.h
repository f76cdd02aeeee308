// AdminClient: one HTTP/1.1 request at a time to a router's admin API.
//
// Plain HTTP over TCP with Beast; every request opens its own connection
// (the CLI makes one or two calls per run) and is bounded by a deadline that
// covers resolve, connect, write and read. The response body is capped.
//
// Threads: one AdminClient per thread (it owns its io_context).
#pragma once

#include <chrono>
#include <string>

#include "radix/result.h"

namespace radixmesh::tools {

struct AdminUrl {
  std::string host;
  std::string port;
  std::string text;  // as given, for messages
};
// "http://host:port" (port defaults to 80); kInvalidArgument otherwise.
Result<AdminUrl> parse_admin_url(const std::string& url);

// Percent-escapes everything but RFC 3986 unreserved characters, for a
// value in an admin query string.
std::string query_escape(const std::string& s);

struct HttpReply {
  unsigned status = 0;
  std::string content_type;
  std::string body;
};

class AdminClient {
 public:
  AdminClient(AdminUrl url, std::string token, std::chrono::milliseconds timeout);

  // kUnavailable when the router cannot be reached or the exchange fails.
  Result<HttpReply> request(const std::string& method, const std::string& target,
                            const std::string& body = "") const;

  static constexpr size_t kMaxResponseBytes = 512u << 20;

 private:
  AdminUrl url_;
  std::string token_;
  std::chrono::milliseconds timeout_;
};

}  // namespace radixmesh::tools
