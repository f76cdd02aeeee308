#include "tools/sim_worker/kv_fetch.h"

#include <simdjson.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <memory>

#include "tools/sim_worker/peer_watch.h"

namespace radixmesh::tools::sim {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto kAskTimeout = std::chrono::seconds(1);
constexpr uint64_t kMaxAnswerBytes = 4096;

struct Answer {
  bool reached = false;  // a response was read
  unsigned status = 0;
  std::string body;
  std::string failure;  // !reached: why
};

asio::awaitable<Answer> ask(const tcp::resolver::results_type& eps, const PdPlan& plan,
                            Clock::time_point deadline) {
  Answer a;
  beast::tcp_stream stream(co_await asio::this_coro::executor);
  stream.expires_at(std::min(deadline, Clock::now() + kAskTimeout));
  auto use = asio::as_tuple(asio::use_awaitable);
  if (auto [ec, ep] = co_await stream.async_connect(eps, use); ec) {
    a.failure = ec.message();
    co_return a;
  }
  http::request<http::empty_body> req{http::verb::get, "/pd/kv/" + plan.key, 11};
  req.set(http::field::host, plan.host + ":" + std::to_string(plan.port));
  if (!plan.engine_id.empty()) req.set("x-engine-id", plan.engine_id);
  req.keep_alive(false);
  if (auto [ec, n] = co_await http::async_write(stream, req, use); ec) {
    a.failure = ec.message();
    co_return a;
  }
  beast::flat_buffer buf;
  http::response_parser<http::string_body> parser;
  parser.body_limit(kMaxAnswerBytes);
  parser.header_limit(8192);
  if (auto [ec, n] = co_await http::async_read(stream, buf, parser, use); ec) {
    a.failure = ec.message();
    co_return a;
  }
  a.reached = true;
  a.status = parser.get().result_int();
  a.body = std::move(parser.get().body());
  co_return a;
}

// The endpoints of plan.host, resolved within the deadline.
asio::awaitable<std::optional<tcp::resolver::results_type>> resolve(const PdPlan& plan,
                                                                    Clock::time_point deadline,
                                                                    std::string& failure) {
  auto ex = co_await asio::this_coro::executor;
  // Shared with the guard's handler, which may already be queued when the
  // resolution completes: it must find a live (if finished) resolver.
  auto resolver = std::make_shared<tcp::resolver>(ex);
  asio::steady_timer guard(ex, deadline);
  guard.async_wait([resolver](const boost::system::error_code& ec) {
    if (!ec) resolver->cancel();
  });
  auto [ec, results] = co_await resolver->async_resolve(plan.host, std::to_string(plan.port),
                                                        asio::as_tuple(asio::use_awaitable));
  guard.cancel();
  if (ec || results.empty()) {
    failure = ec ? ec.message() : "no address";
    co_return std::nullopt;
  }
  co_return results;
}

std::optional<KvRoom> parse_room(const std::string& body) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(body).get(root) != simdjson::SUCCESS) return std::nullopt;
  KvRoom room;
  std::string_view model;
  if (root["model"].get_string().get(model) != simdjson::SUCCESS ||
      root["prompt_tokens"].get_uint64().get(room.prompt_tokens) != simdjson::SUCCESS ||
      root["cached_tokens"].get_uint64().get(room.cached_tokens) != simdjson::SUCCESS)
    return std::nullopt;
  room.model = model;
  return room;
}

KvFetch fail(unsigned status, std::string code, std::string message) {
  KvFetch f;
  f.status = status;
  f.code = std::move(code);
  f.message = std::move(message);
  return f;
}

}  // namespace

asio::awaitable<KvFetch> fetch_remote_kv(const PdPlan& plan, Stream& client, bool& watch,
                                         SimState& st) {
  const auto wait = std::chrono::milliseconds(st.opts.pd_wait_ms);
  const auto poll = std::chrono::milliseconds(st.opts.pd_poll_ms);
  const Clock::time_point deadline = Clock::now() + wait;
  const std::string where = plan.host + ":" + std::to_string(plan.port);
  auto failed = [&st](KvFetch f) {
    st.counters.pd_fetch_failed.fetch_add(1, std::memory_order_relaxed);
    return f;
  };

  std::string why;
  auto eps = co_await resolve(plan, deadline, why);
  if (!eps)
    co_return failed(fail(502, "kv_transfer_failed",
                          "cannot resolve the prefill worker's KV endpoint " + where + ": " + why));

  asio::steady_timer pause(co_await asio::this_coro::executor);
  // Bounded by the deadline; the count is a second bound against a clock
  // that does not move.
  const uint64_t max_asks = wait / poll + 2;
  for (uint64_t n = 0; n < max_asks; ++n) {
    Answer a = co_await ask(*eps, plan, deadline);
    if (!a.reached) {
      if (Clock::now() >= deadline) break;
      co_return failed(
          fail(502, "kv_transfer_failed",
               "cannot reach the prefill worker's KV endpoint " + where + ": " + a.failure));
    }
    if (a.status == 200) {
      auto room = parse_room(a.body);
      if (!room)
        co_return failed(fail(502, "kv_transfer_failed",
                              "the KV endpoint " + where + " answered an unreadable room"));
      st.counters.pd_fetched.fetch_add(1, std::memory_order_relaxed);
      KvFetch f;
      f.room = std::move(room);
      co_return f;
    }
    if (a.status != 404) {
      std::string detail = a.body.substr(0, 200);
      co_return failed(fail(502, "kv_transfer_failed",
                            "the KV endpoint " + where + " refused room " + plan.key + " (HTTP " +
                                std::to_string(a.status) + "): " + detail));
    }
    if (Clock::now() >= deadline) break;
    pause.expires_at(std::min(deadline, Clock::now() + poll));
    if (co_await wait_watching_peer(pause, client.socket(), watch) == WaitResult::kPeerClosed) {
      KvFetch f;
      f.client_gone = true;
      co_return f;
    }
  }
  co_return failed(fail(504, "kv_transfer_timeout",
                        "no KV for room " + plan.key + " at " + where + " within --pd-wait-ms " +
                            std::to_string(st.opts.pd_wait_ms)));
}

}  // namespace radixmesh::tools::sim
