#include "router/listener.h"

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "router/errors.h"
#include "router/local_response.h"

namespace radixmesh::router {
namespace {

// The whole answer to a connection over the cap, built once.
const std::string& refusal_response() {
  static const std::string response = prebuilt_error(
      RouterErrc::kConnectionCap, "the router has too many open connections; retry shortly", 1);
  return response;
}

awaitable<void> answer_refusal(tcp::socket socket, std::shared_ptr<ConnectionGate> gate) {
  beast::tcp_stream stream(std::move(socket));
  co_await answer_and_close(stream, refusal_response());
  gate->end_shed();
}

// Unsent bytes a client socket may queue before a write waits
// (TCP_NOTSENT_LOWAT). Without it the kernel grows the send buffer of a
// client that stopped reading to megabytes (measured: 1.6 MB each on
// loopback) and the relay keeps "making progress" into it, so the stall
// deadline (--client-stall-timeout-ms) starts only once that is full - for
// an LLM stream of a few KB/s, many minutes later. Bytes in flight are not
// limited by it, so a reading client's throughput is unchanged.
constexpr int kClientNotSentLowat = 128 * 1024;

// The session plus its slot under the cap: the ticket lives as long as the
// session coroutine.
// On a TLS port the handshake comes first (and holds the ticket too: a
// connection that never finishes it counts under the cap until its deadline).
awaitable<error_code> serve(tcp::socket socket, [[maybe_unused]] ConnectionGate::Ticket ticket,
                            const RequestHandler& handler, IoThreadState& thread,
                            SessionOptions options, const TlsAcceptor* tls) {
  const int lowat = kClientNotSentLowat;
  ::setsockopt(socket.native_handle(), IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat, sizeof lowat);
  error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  if (tls == nullptr) {
    ByteStream stream(std::move(socket));
    co_return co_await run_session(stream, handler, thread, options);
  }
  std::unique_ptr<ByteStream> stream = co_await tls->accept(std::move(socket), thread.sessions);
  if (!stream) co_return error_code{};
  co_return co_await run_session(*stream, handler, thread, options);
}

}  // namespace

Listener::Listener(net::io_context& accept_ioc, const tcp::endpoint& endpoint,
                   std::vector<Thread> threads, const RequestHandler& handler,
                   SessionOptions options, uint64_t max_connections, RouterMetrics* metrics,
                   LogFn log_error, const TlsAcceptor* tls)
    : acceptor_(accept_ioc),
      threads_(std::move(threads)),
      handler_(handler),
      options_(options),
      gate_(std::make_shared<ConnectionGate>(
          max_connections, metrics ? metrics->client_connections.with({}) : nullptr)),
      log_error_(std::move(log_error)),
      tls_(tls) {
  if (metrics) {
    metrics->client_connections_limit.with({})->set(static_cast<double>(max_connections));
    refused_cap_ = metrics->connections_refused.with({"max_connections"});
    refused_accept_ = metrics->connections_refused.with({"accept_error"});
  }
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(net::socket_base::reuse_address(true));
  acceptor_.bind(endpoint);
  acceptor_.listen(net::socket_base::max_listen_connections);
}

void Listener::start() {
  net::co_spawn(acceptor_.get_executor(), accept_loop(), [log = log_error_](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      log(std::string("accept loop failed: ") + ex.what());
    }
  });
}

void Listener::stop() {
  net::post(acceptor_.get_executor(), [this] {
    error_code ignored;
    acceptor_.close(ignored);
  });
}

void Listener::refuse(tcp::socket socket, net::io_context& ioc) {
  if (refused_cap_) refused_cap_->inc();
  if (auto line =
          refusals_.on_error(Clock::now(), std::to_string(gate_->limit()) + " connections open")) {
    log_error_(*line);
  }
  // A TLS client could not read a plain-text 503 (its handshake would just
  // fail): on a TLS port the connection is closed without an answer.
  if (tls_ != nullptr || !gate_->try_start_shed()) {
    error_code ignored;
    socket.close(ignored);  // enough refusals in flight: no answer
    return;
  }
  net::co_spawn(ioc, answer_refusal(std::move(socket), gate_), net::detached);
}

awaitable<void> Listener::accept_loop() {
  while (acceptor_.is_open()) {
    const Thread t = threads_[next_++ % threads_.size()];
    auto [ec, socket] = co_await acceptor_.async_accept(*t.ioc, use_tuple);
    if (ec == net::error::operation_aborted || !acceptor_.is_open()) break;
    const auto now = Clock::now();
    if (ec) {
      // EMFILE and friends: the pending connection stays in the backlog and
      // the acceptor stays readable, so back off briefly and go on.
      if (refused_accept_) refused_accept_->inc();
      if (auto line = accept_errors_.on_error(now, ec.message())) log_error_(*line);
      net::steady_timer pause(acceptor_.get_executor(), std::chrono::milliseconds(50));
      co_await pause.async_wait(use_tuple);
      continue;
    }
    if (auto line = accept_errors_.on_success(now)) log_error_(*line);
    ConnectionGate::Ticket ticket = gate_->try_enter();
    if (!ticket) {
      refuse(std::move(socket), *t.ioc);
      continue;
    }
    if (auto line = refusals_.on_success(now)) log_error_(*line);
    net::co_spawn(*t.ioc,
                  serve(std::move(socket), std::move(ticket), handler_, *t.state, options_, tls_),
                  [log = log_error_](std::exception_ptr e, error_code ec) {
                    if (e) {
                      try {
                        std::rethrow_exception(e);
                      } catch (const std::exception& ex) {
                        log(std::string("session failed: ") + ex.what());
                      }
                    } else if (ec) {
                      log("session: " + ec.message());
                    }
                  });
  }
}

}  // namespace radixmesh::router
