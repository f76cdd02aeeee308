// Admin API client over Beast (see admin_client.h).
#include "tools/ctl/admin_client.h"

#include <cctype>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "radix/address.h"

namespace radixmesh::tools {
namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;

std::string query_escape(const std::string& s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char ch : s) {
    if (std::isalnum(ch) || ch == '-' || ch == '_' || ch == '.' || ch == '~') {
      out += static_cast<char>(ch);
    } else {
      out += '%';
      out += kHex[ch >> 4];
      out += kHex[ch & 15];
    }
  }
  return out;
}
using tcp = net::ip::tcp;

Result<AdminUrl> parse_admin_url(const std::string& url) {
  auto parsed = radix::parse_http_url(url);
  if (!parsed || parsed->tls || (!parsed->path.empty() && parsed->path != "/")) {
    return make_error(ErrorCode::kInvalidArgument,
                      "--admin must be an http://host:port URL, got '" + url + "'" +
                          (parsed ? "" : " (" + parsed.error().message + ")"));
  }
  AdminUrl u;
  u.text = url;
  u.host = parsed->authority.host;
  u.port = std::to_string(parsed->authority.port);
  return u;
}

AdminClient::AdminClient(AdminUrl url, std::string token, std::chrono::milliseconds timeout)
    : url_(std::move(url)), token_(std::move(token)), timeout_(timeout) {}

Result<HttpReply> AdminClient::request(const std::string& method, const std::string& target,
                                       const std::string& body) const {
  net::io_context ioc;
  tcp::resolver resolver(ioc);
  beast::tcp_stream stream(ioc);
  beast::flat_buffer buffer;
  http::request<http::string_body> req{http::string_to_verb(method), target, 11};
  req.set(http::field::host, url_.host + ":" + url_.port);
  req.set(http::field::user_agent, "radixmesh-ctl");
  if (!token_.empty()) req.set(http::field::authorization, "Bearer " + token_);
  if (!body.empty()) {
    req.set(http::field::content_type, "application/json");
    req.body() = body;
  }
  req.keep_alive(false);
  req.prepare_payload();
  http::response_parser<http::string_body> parser;
  parser.body_limit(kMaxResponseBytes);

  boost::system::error_code failure;
  std::string stage = "connect";
  // The chain of async steps runs inside ioc.run_for(): one deadline for all.
  stream.expires_after(timeout_);
  resolver.async_resolve(url_.host, url_.port, [&](auto ec, tcp::resolver::results_type rs) {
    if (ec) {
      failure = ec;
      stage = "resolve";
      return;
    }
    stream.async_connect(rs, [&](auto ec2, auto) {
      if (ec2) {
        failure = ec2;
        return;
      }
      stage = "send";
      http::async_write(stream, req, [&](auto ec3, size_t) {
        if (ec3) {
          failure = ec3;
          return;
        }
        stage = "read";
        http::async_read(stream, buffer, parser, [&](auto ec4, size_t) {
          if (ec4) failure = ec4;
          stage = "done";
        });
      });
    });
  });
  ioc.run_for(timeout_ + std::chrono::milliseconds(100));
  if (stage != "done" && !failure) failure = net::error::timed_out;
  if (failure) {
    return make_error(ErrorCode::kUnavailable, "cannot reach admin API at " + url_.text + " (" +
                                                   stage + ": " + failure.message() + ")");
  }
  auto res = parser.release();
  HttpReply reply;
  reply.status = res.result_int();
  if (auto it = res.find(http::field::content_type); it != res.end()) {
    reply.content_type = std::string(it->value());
  }
  reply.body = std::move(res.body());
  return reply;
}

}  // namespace radixmesh::tools
