#include "tools/sim_worker/http_session.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <optional>

#include "tools/sim_worker/inference.h"
#include "tools/sim_worker/sim_http.h"
#include "tools/sim_worker/sim_responses.h"

namespace radixmesh::tools::sim {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace {

std::optional<Endpoint> inference_endpoint(std::string_view path) {
  if (path == "/v1/chat/completions") return Endpoint::kChat;
  if (path == "/v1/completions") return Endpoint::kCompletions;
  if (path == "/generate") return Endpoint::kGenerate;
  if (path == "/v1/embeddings") return Endpoint::kEmbeddings;
  if (path == "/v1/responses") return Endpoint::kResponses;
  return std::nullopt;
}

asio::awaitable<bool> dispatch(Stream& s, const Request& req, SimState& st) {
  std::string_view path = req.target();
  if (auto q = path.find('?'); q != std::string_view::npos) path = path.substr(0, q);
  const bool get = req.method() == http::verb::get || req.method() == http::verb::head;
  if (auto ep = inference_endpoint(path)) {
    if (req.method() != http::verb::post)
      co_return co_await send_error(s, req, http::status::method_not_allowed,
                                    "use POST for this path", "invalid_request_error",
                                    "method_not_allowed", st);
    co_return co_await serve_inference(s, req, *ep, st);
  }
  if (path == "/flush_cache") {
    if (req.method() != http::verb::post)
      co_return co_await send_error(s, req, http::status::method_not_allowed,
                                    "use POST for this path", "invalid_request_error",
                                    "method_not_allowed", st);
    const uint64_t dropped = st.kv.clear();
    co_return co_await send_response(s, req, http::status::ok, "application/json",
                                     "{\"flushed_blocks\":" + std::to_string(dropped) + "}", st);
  }
  if (path == "/health" || path == "/v1/models" || path == "/metrics") {
    if (!get)
      co_return co_await send_error(s, req, http::status::method_not_allowed,
                                    "use GET for this path", "invalid_request_error",
                                    "method_not_allowed", st);
    if (path == "/health")
      co_return co_await send_response(s, req, http::status::ok, "application/json",
                                       "{\"status\":\"ok\"}", st);
    if (path == "/v1/models")
      co_return co_await send_response(s, req, http::status::ok, "application/json",
                                       models_body(st.opts.models, st.started_unix), st);
    co_return co_await send_response(s, req, http::status::ok,
                                     "text/plain; version=0.0.4; charset=utf-8", render_metrics(st),
                                     st);
  }
  co_return co_await send_error(s, req, http::status::not_found,
                                "no route for " + std::string(path), "invalid_request_error",
                                "not_found", st);
}

}  // namespace

asio::awaitable<void> run_session(asio::ip::tcp::socket socket, std::shared_ptr<SimState> state) {
  SimState& st = *state;
  st.counters.connections.fetch_add(1, std::memory_order_relaxed);
  st.counters.open_connections.fetch_add(1, std::memory_order_relaxed);
  boost::system::error_code ignored;
  socket.set_option(asio::ip::tcp::no_delay(true), ignored);
  Stream s(std::move(socket));
  beast::flat_buffer buffer;
  // Beast sizes each socket read by the buffer's free capacity (at least 512
  // bytes): without a reserve a 32 KB prompt would take 64 reads.
  buffer.reserve(16 * 1024);
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(st.opts.max_body_bytes);
    parser.header_limit(64 * 1024);
    s.expires_after(std::chrono::milliseconds(st.opts.idle_timeout_ms));
    auto [ec, n] =
        co_await http::async_read(s, buffer, parser, asio::as_tuple(asio::use_awaitable));
    s.expires_never();
    if (ec == http::error::body_limit) {
      Request req = parser.release();
      req.keep_alive(false);
      co_await send_error(s, req, http::status::payload_too_large,
                          "request body exceeds --max-body-bytes", "invalid_request_error",
                          "payload_too_large", st);
      break;
    }
    if (ec) break;  // EOF, timeout, reset or a malformed request line: just close
    Request req = parser.release();
    if (!co_await dispatch(s, req, st)) break;
  }
  s.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
  st.counters.open_connections.fetch_sub(1, std::memory_order_relaxed);
}

}  // namespace radixmesh::tools::sim
