#include "router/local_response.h"

#include <chrono>

namespace radixmesh::router {

awaitable<error_code> write_json(beast::tcp_stream& stream, unsigned status, std::string body,
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

awaitable<error_code> write_error(beast::tcp_stream& stream, RouterErrc e, std::string_view message,
                                  bool keep_alive, unsigned version, std::string_view allow,
                                  bool head_only, unsigned retry_after_s) {
  co_return co_await write_json(stream, http_status(e), error_body(e, message), keep_alive, version,
                                allow, head_only, retry_after_s);
}

}  // namespace radixmesh::router
