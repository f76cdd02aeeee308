#include "tools/sim_worker/bootstrap_server.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include "tools/sim_worker/sim_http.h"
#include "tools/sim_worker/sim_responses.h"

namespace radixmesh::tools::sim {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;

namespace {

constexpr std::string_view kPrefix = "/pd/kv/";

struct Reply {
  http::status status;
  std::string body;
};

Reply answer(const http::request<http::empty_body>& req, SimState& st) {
  std::string_view path = req.target();
  if (auto q = path.find('?'); q != std::string_view::npos) path = path.substr(0, q);
  if (req.method() != http::verb::get)
    return {http::status::method_not_allowed,
            error_body("use GET for this path", "invalid_request_error", "method_not_allowed")};
  if (path == "/health") return {http::status::ok, "{\"status\":\"ok\"}"};
  if (path.substr(0, kPrefix.size()) != kPrefix || path.size() == kPrefix.size())
    return {http::status::not_found,
            error_body("no route for " + std::string(path), "invalid_request_error", "not_found")};
  const std::string key(path.substr(kPrefix.size()));
  if (auto it = req.find("x-engine-id"); it != req.end() && it->value() != st.opts.id)
    return {http::status::conflict, error_body("engine " + std::string(it->value()) +
                                                   " is not this worker (" + st.opts.id + ")",
                                               "invalid_request_error", "engine_mismatch")};
  auto room = st.rooms.take(key, KvRoomTable::Clock::now());
  if (!room) {
    st.counters.pd_misses.fetch_add(1, std::memory_order_relaxed);
    return {http::status::not_found,
            error_body("no KV for room " + key, "invalid_request_error", "room_not_found")};
  }
  st.counters.pd_served.fetch_add(1, std::memory_order_relaxed);
  std::string out = "{\"key\":";
  append_json_string(out, key);
  out += ",\"engine_id\":";
  append_json_string(out, st.opts.id);
  out += ",\"model\":";
  append_json_string(out, room->model);
  out += ",\"prompt_tokens\":" + std::to_string(room->prompt_tokens);
  out += ",\"cached_tokens\":" + std::to_string(room->cached_tokens) + "}";
  return {http::status::ok, std::move(out)};
}

asio::awaitable<void> session(tcp::socket socket, std::shared_ptr<SimState> state) {
  SimState& st = *state;
  beast::tcp_stream s(std::move(socket));
  beast::flat_buffer buffer;
  auto use = asio::as_tuple(asio::use_awaitable);
  for (;;) {
    http::request_parser<http::empty_body> parser;
    parser.header_limit(8192);
    s.expires_after(std::chrono::milliseconds(st.opts.idle_timeout_ms));
    auto [ec, n] = co_await http::async_read(s, buffer, parser, use);
    if (ec) break;  // EOF, timeout, a body (unexpected_body) or garbage: close
    auto req = parser.release();
    Reply r = answer(req, st);
    http::response<http::string_body> res{r.status, req.version()};
    res.set(http::field::server, "radixmesh-sim-worker");
    res.set(http::field::content_type, "application/json");
    res.set("x-worker-id", st.opts.id);
    res.keep_alive(req.keep_alive());
    res.body() = std::move(r.body);
    res.prepare_payload();
    s.expires_after(kWriteTimeout);
    auto [wec, wn] = co_await http::async_write(s, res, use);
    if (wec || !res.keep_alive()) break;
  }
  boost::system::error_code ignored;
  s.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

}  // namespace

asio::awaitable<void> bootstrap_accept_loop(tcp::acceptor acceptor,
                                            std::shared_ptr<SimState> state) {
  auto& ioc = static_cast<asio::io_context&>(acceptor.get_executor().context());
  for (;;) {
    tcp::socket socket(asio::make_strand(ioc));
    auto [ec] = co_await acceptor.async_accept(socket, asio::as_tuple(asio::use_awaitable));
    if (ec == asio::error::operation_aborted) co_return;
    if (ec) continue;
    auto ex = socket.get_executor();
    asio::co_spawn(ex, session(std::move(socket), state), asio::detached);
  }
}

}  // namespace radixmesh::tools::sim
