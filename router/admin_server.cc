// Admin HTTP listener and sessions (see admin_server.h).
#include "router/admin_server.h"

#include <pthread.h>

#include <stdexcept>

namespace radixmesh::router {
namespace {

http::status to_status(unsigned s) {
  return static_cast<http::status>(s);
}

}  // namespace

AdminServer::AdminServer(const AdminApi& api, Options options, LogFn log_error)
    : strand_(net::make_strand(ioc_)),
      api_(api),
      options_(std::move(options)),
      log_error_(std::move(log_error)),
      acceptor_(strand_) {}

AdminServer::~AdminServer() {
  stop();
  // Every coroutine ends once stop() has closed its socket: the io_context
  // then runs out of work and the thread returns.
  if (thread_.joinable()) thread_.join();
}

void AdminServer::start() {
  error_code ec;
  auto address = net::ip::make_address(options_.host, ec);
  if (ec) {
    // A name (e.g. "localhost"): resolve it once at start-up.
    tcp::resolver resolver(strand_);
    auto results = resolver.resolve(options_.host, std::to_string(options_.port), ec);
    if (ec || results.empty()) {
      throw std::runtime_error("admin API: cannot resolve --admin-host '" + options_.host + "'");
    }
    address = results.begin()->endpoint().address();
  }
  tcp::endpoint ep(address, options_.port);
  acceptor_.open(ep.protocol(), ec);
  if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(ep, ec);
  if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    throw std::runtime_error("admin API: cannot listen on " + options_.host + ":" +
                             std::to_string(options_.port) + ": " + ec.message());
  }
  endpoint_ = acceptor_.local_endpoint();
  net::co_spawn(strand_, accept_loop(), [log = log_error_](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      if (log) log(std::string("admin accept loop: ") + ex.what());
    }
  });
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "rm-admin");  // visible in top -H, /proc/PID/task
    ioc_.run();
  });
}

void AdminServer::stop() {
  net::post(strand_, [this] {
    stopped_ = true;
    error_code ignored;
    acceptor_.close(ignored);
    for (Conn& c : open_) close_stream(c.stream);
  });
}

void AdminServer::close_stream(beast::tcp_stream& s) {
  error_code ignored;
  s.socket().shutdown(tcp::socket::shutdown_both, ignored);
  s.cancel();
}

bool AdminServer::make_room(const std::string& source) {
  size_t total = 0, same = 0;
  auto oldest_waiting = open_.end(), oldest_waiting_same = open_.end();
  for (auto it = open_.begin(); it != open_.end(); ++it) {
    if (it->evicted) continue;
    ++total;
    const bool mine = it->source == source;
    same += mine ? 1 : 0;
    if (it->waiting && oldest_waiting == open_.end()) oldest_waiting = it;
    if (it->waiting && mine && oldest_waiting_same == open_.end()) oldest_waiting_same = it;
  }
  auto victim = open_.end();
  if (same >= options_.max_connections_per_source) {
    victim = oldest_waiting_same;
  } else if (total >= options_.max_connections) {
    victim = oldest_waiting;
  } else {
    return true;
  }
  if (victim == open_.end()) return false;  // every slot is busy in a request
  victim->evicted = true;
  close_stream(victim->stream);
  return true;
}

awaitable<void> AdminServer::accept_loop() {
  size_t burst_errors = 0;  // accept errors since the last successful accept
  std::string last_error;
  while (!stopped_) {
    auto [ec, socket] = co_await acceptor_.async_accept(use_tuple);
    if (ec) {
      if (ec == net::error::operation_aborted || stopped_) break;
      // Out of descriptors and the like: log the first of a burst, count the
      // rest, pause, go on.
      if (burst_errors++ == 0 && log_error_) {
        log_error_("admin accept: " + ec.message() + " (pausing; repeats counted)");
      }
      last_error = ec.message();
      net::steady_timer t(strand_, std::chrono::milliseconds(100));
      co_await t.async_wait(use_tuple);
      continue;
    }
    if (burst_errors > 1 && log_error_) {
      log_error_("admin accept: recovered after " + std::to_string(burst_errors) +
                 " errors (last: " + last_error + ")");
    }
    burst_errors = 0;
    error_code rec;
    const auto remote = socket.remote_endpoint(rec);
    if (rec) continue;  // already gone
    std::string source = remote.address().to_string();
    if (!make_room(source)) {
      error_code ignored;
      socket.close(ignored);
      continue;
    }
    auto conn = open_.emplace(open_.end(), std::move(socket), std::move(source));
    net::co_spawn(strand_, session(conn), [log = log_error_](std::exception_ptr e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        if (log) log(std::string("admin session: ") + ex.what());
      }
    });
  }
}

awaitable<void> AdminServer::session(Conns::iterator conn) {
  struct Unregister {
    Conns& list;
    Conns::iterator it;
    ~Unregister() { list.erase(it); }
  } unregister{open_, conn};
  beast::tcp_stream& stream = conn->stream;

  beast::flat_buffer buffer(options_.max_header_bytes + 4096);
  for (size_t served = 0; served < options_.max_requests_per_connection && !stopped_; ++served) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<uint32_t>(options_.max_header_bytes));
    parser.body_limit(options_.max_body_bytes);
    conn->waiting = true;  // may be closed to make room from here on
    stream.expires_after(options_.header_timeout);
    auto [ec, n] = co_await http::async_read_header(stream, buffer, parser, use_tuple);
    conn->waiting = false;
    if (conn->evicted) break;
    if (!ec && !parser.is_done()) {
      stream.expires_after(options_.body_timeout);
      // curl sends "Expect: 100-continue" for larger bodies and waits a
      // second for the go-ahead; give it at once.
      auto expect = parser.get().find(http::field::expect);
      if (expect != parser.get().end() && beast::iequals(expect->value(), "100-continue")) {
        http::response<http::empty_body> go{http::status::continue_, 11};
        auto [cec, cn] = co_await http::async_write(stream, go, use_tuple);
        ec = cec;
      }
      if (!ec) {
        auto [bec, bn] = co_await http::async_read(stream, buffer, parser, use_tuple);
        ec = bec;
      }
    }
    if (ec) {
      if (ec == http::error::body_limit || ec == http::error::header_limit) {
        AdminResponse too_big = error_response(
            RouterErrc::kBodyTooLarge,
            "admin request larger than " + std::to_string(options_.max_body_bytes) + " bytes");
        http::response<http::string_body> res{to_status(413), 11};
        res.set(http::field::content_type, too_big.content_type);
        res.body() = std::move(too_big.body);
        res.keep_alive(false);
        res.prepare_payload();
        stream.expires_after(options_.write_timeout);
        co_await http::async_write(stream, res, use_tuple);
      } else if (!is_expected_disconnect(ec) && ec != http::error::end_of_stream) {
        // Malformed request: a one-line 400 and close.
        http::response<http::string_body> res{http::status::bad_request, 11};
        res.set(http::field::content_type, "application/json");
        res.body() = error_response(RouterErrc::kBadRequest, ec.message()).body;
        res.keep_alive(false);
        res.prepare_payload();
        stream.expires_after(options_.write_timeout);
        co_await http::async_write(stream, res, use_tuple);
      }
      break;
    }
    auto req = parser.release();
    AdminRequest ar;
    ar.method = std::string(req.method_string());
    ar.target = std::string(req.target());
    ar.body = std::move(req.body());
    if (auto it = req.find(http::field::authorization); it != req.end()) {
      ar.authorization = std::string(it->value());
    }
    if (auto it = req.find(options_.session_header); it != req.end()) {
      ar.session = std::string(it->value());
    }
    if (auto it = req.find(http::field::content_type); it != req.end()) {
      ar.content_type = std::string(it->value());
    }
    if (auto it = req.find(http::field::host); it != req.end()) ar.host = std::string(it->value());
    if (auto it = req.find(http::field::origin); it != req.end()) {
      ar.origin = std::string(it->value());
    }
    AdminResponse r = api_.handle(ar);

    http::response<http::string_body> res{to_status(r.status), req.version()};
    res.set(http::field::server, "radixmesh-admin");
    res.set(http::field::content_type, r.content_type);
    res.set(http::field::cache_control, "no-store");
    if (!r.allow.empty()) res.set(http::field::allow, r.allow);
    if (r.www_authenticate) res.set(http::field::www_authenticate, "Bearer realm=\"radixmesh\"");
    res.body() = std::move(r.body);
    // The last request this connection serves says so (Connection: close),
    // so a keep-alive client such as a Prometheus scrape opens a fresh one
    // instead of sending request 1,001 into a closed socket.
    const bool last = served + 1 >= options_.max_requests_per_connection;
    res.keep_alive(req.keep_alive() && !stopped_ && !last);
    res.prepare_payload();
    stream.expires_after(options_.write_timeout);
    auto [wec, wn] = co_await http::async_write(stream, res, use_tuple);
    if (wec || !res.keep_alive()) break;
  }
  error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

}  // namespace radixmesh::router
