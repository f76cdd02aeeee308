#include "tools/sim_worker/sim_http.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "tools/sim_worker/sim_responses.h"

namespace radixmesh::tools::sim {

namespace asio = boost::asio;
namespace http = boost::beast::http;

asio::awaitable<bool> send_response(Stream& stream, const Request& req, http::status status,
                                    std::string_view content_type, std::string body,
                                    SimState& state) {
  http::response<http::string_body> res{status, req.version()};
  res.set(http::field::server, "radixmesh-sim-worker");
  res.set(http::field::content_type, content_type);
  res.set("x-worker-id", state.opts.id);
  res.keep_alive(req.keep_alive());
  res.body() = std::move(body);
  res.prepare_payload();
  state.counters.count_status(static_cast<unsigned>(status));
  stream.expires_after(kWriteTimeout);
  auto [ec, n] = co_await http::async_write(stream, res, asio::as_tuple(asio::use_awaitable));
  stream.expires_never();
  co_return !ec && res.keep_alive();
}

asio::awaitable<bool> send_error(Stream& stream, const Request& req, http::status status,
                                 std::string_view message, std::string_view type,
                                 std::string_view code, SimState& state) {
  co_return co_await send_response(stream, req, status, "application/json",
                                   error_body(message, type, code), state);
}

}  // namespace radixmesh::tools::sim
