#include "router/listener.h"

#include <boost/asio/post.hpp>

namespace radixmesh::router {

Listener::Listener(net::io_context& accept_ioc, const tcp::endpoint& endpoint,
                   std::vector<Thread> threads, const RequestHandler& handler,
                   SessionOptions options, LogFn log_error)
    : acceptor_(accept_ioc),
      threads_(std::move(threads)),
      handler_(handler),
      options_(options),
      log_error_(std::move(log_error)) {
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

awaitable<void> Listener::accept_loop() {
  int consecutive_errors = 0;
  while (acceptor_.is_open()) {
    const Thread t = threads_[next_++ % threads_.size()];
    auto [ec, socket] = co_await acceptor_.async_accept(*t.ioc, use_tuple);
    if (ec == net::error::operation_aborted || !acceptor_.is_open()) break;
    if (ec) {
      // EMFILE and friends: log once per burst, back off briefly, go on.
      if (consecutive_errors++ == 0) log_error_("accept: " + ec.message());
      net::steady_timer pause(acceptor_.get_executor(), std::chrono::milliseconds(50));
      co_await pause.async_wait(use_tuple);
      continue;
    }
    consecutive_errors = 0;
    net::co_spawn(*t.ioc, run_session(std::move(socket), handler_, *t.state, options_),
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
