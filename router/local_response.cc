#include "router/local_response.h"

#include <array>
#include <boost/asio/write.hpp>
#include <chrono>

namespace radixmesh::router {

awaitable<error_code> write_json(ByteStream& stream, unsigned status, std::string body,
                                 bool keep_alive, unsigned version, std::string_view allow,
                                 bool head_only, unsigned retry_after_s) {
  http::response<http::string_body> res{static_cast<http::status>(status), version};
  res.set(http::field::server, "radixmesh");
  res.set(http::field::content_type, "application/json");
  if (!allow.empty()) res.set(http::field::allow, allow);
  if (retry_after_s > 0) res.set(http::field::retry_after, std::to_string(retry_after_s));
  res.keep_alive(keep_alive);
  res.body() = std::move(body);
  res.prepare_payload();
  stream.expires_after(std::chrono::seconds(30));
  if (head_only) {
    http::response_serializer<http::string_body> sr{res};
    auto [ec, n] = co_await http::async_write_header(stream, sr, use_tuple);
    co_return ec;
  }
  auto [ec, n] = co_await http::async_write(stream, res, use_tuple);
  co_return ec;
}

awaitable<error_code> write_error(ByteStream& stream, RouterErrc e, std::string_view message,
                                  bool keep_alive, unsigned version, std::string_view allow,
                                  bool head_only, unsigned retry_after_s) {
  co_return co_await write_json(stream, http_status(e), error_body(e, message), keep_alive, version,
                                allow, head_only, retry_after_s);
}

std::string prebuilt_error(RouterErrc e, std::string_view message, unsigned retry_after_s) {
  const std::string body = error_body(e, message);
  std::string out = "HTTP/1.1 " + std::to_string(http_status(e)) + " " +
                    std::string(http::obsolete_reason(static_cast<http::status>(http_status(e)))) +
                    "\r\nServer: radixmesh\r\nContent-Type: application/json\r\n";
  if (retry_after_s > 0) out += "Retry-After: " + std::to_string(retry_after_s) + "\r\n";
  out += "Connection: close\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  out += body;
  return out;
}

awaitable<void> answer_and_close(beast::tcp_stream& stream, std::string_view response) {
  stream.expires_after(std::chrono::seconds(1));
  auto [ec, n] = co_await net::async_write(stream, net::buffer(response), use_tuple);
  if (!ec) {
    error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    std::array<char, 1024> sink;
    size_t discarded = 0;
    stream.expires_after(std::chrono::seconds(1));
    while (discarded < 64 * 1024) {
      auto [rec, rn] = co_await stream.async_read_some(net::buffer(sink), use_tuple);
      if (rec) break;
      discarded += rn;
    }
  }
  stream.close();
}

}  // namespace radixmesh::router
