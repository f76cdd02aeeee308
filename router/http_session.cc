#include "router/http_session.h"

#include <algorithm>
#include <array>
#include <boost/asio/read.hpp>
#include <cstring>
#include <string>

#include "router/body_reader.h"
#include "router/local_response.h"
#include "router/read_deadline.h"
#include "router/request_framing.h"

namespace radixmesh::router {
namespace {

// After answering an error on a connection the client is still writing to
// (a 413 before its body was read), closing at once would make the kernel
// reset the connection and the client could lose our response. Half-close,
// then read and discard for a bounded time and amount before closing.
awaitable<void> lingering_close(ByteStream& stream) {
  error_code ec;
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  static constexpr size_t kMaxDiscard = 64 << 20;
  std::array<char, 4096> sink;  // per connection: contents never read
  size_t discarded = 0;
  stream.expires_after(std::chrono::seconds(2));
  while (discarded < kMaxDiscard) {
    auto [rec, n] = co_await stream.async_read_some(net::buffer(sink), use_tuple);
    if (rec) break;
    discarded += n;
  }
  stream.close();
}

// Ends a TLS connection with close_notify, so a client reading to the end
// of the connection (an HTTP/1.0 response) can tell the end from a cut.
// Waits a moment for the client's own close_notify, then closes regardless.
awaitable<void> close_tls(ByteStream& stream) {
  stream.expires_after(std::chrono::milliseconds(250));
  co_await stream.tls().async_shutdown(use_tuple);
  error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

// Frees the connection's body storage and its share of the body budget.
void release_body_storage(SessionState& session) {
  std::string().swap(session.request_body);
  session.body_reservation.set(storage_bytes(session.request_body));
}

}  // namespace

awaitable<error_code> run_session(ByteStream& stream, const RequestHandler& handler,
                                  IoThreadState& thread, SessionOptions options) {
  error_code ignored;
  SessionRegistration registration(thread.sessions, stream);
  SessionState session(options.body_budget);
  // Bounded: a header, plus read-ahead of the body / pipelined requests.
  beast::flat_buffer buffer(options.max_header_bytes + 64 * 1024);
  // Beast sizes each socket read by the buffer's free capacity (at least 512
  // bytes). 4 KiB holds a typical head and a small body in one read; a
  // larger Content-Length body is read past this buffer, straight into its
  // string, so only the first read's share of it is copied.
  buffer.reserve(4 * 1024);
  ReadDeadline deadline(stream.socket());
  error_code result;
  bool linger = false;  // answered an error before reading the whole request
  bool first_request = true;

  for (;;) {
    registration.set_busy(false);
    http::request_parser<http::string_body> parser;
    bool reused_body = false;  // the body lives in session.request_body's storage
    parser.header_limit(static_cast<uint32_t>(options.max_header_bytes));
    parser.body_limit(options.max_body_bytes);
    if (buffer.size() == 0) {
      // Waiting for the next request: a connection that sends nothing is
      // closed silently (tcp_stream's timeout), after the header deadline
      // on a new connection and the keep-alive idle timeout between
      // requests.
      stream.expires_after(first_request ? options.header_timeout : options.keepalive_timeout);
      auto [wec, wn] = co_await stream.async_read_some(
          buffer.prepare(beast::read_size(buffer, 64 * 1024)), use_tuple);
      buffer.commit(wn);
      if (wec) {
        if (!is_expected_disconnect(wec)) result = wec;
        break;
      }
    }
    first_request = false;
    // From the request's first byte: the header deadline (408 when late).
    stream.expires_never();
    deadline.arm(options.header_timeout);
    auto [ec, n] = co_await http::async_read_header(stream, buffer, parser, use_tuple);
    deadline.disarm();
    if (ec == net::error::operation_aborted && deadline.expired()) {
      co_await write_error(stream, RouterErrc::kRequestTimeout,
                           "request header not complete within " +
                               std::to_string(options.header_timeout.count()) + " ms",
                           false);
      linger = true;
      break;
    }
    // Beast applies its header limit to the fields after the request line,
    // and where a read happens to split the header changes what it lets
    // through; the limit is on the whole header (`n` bytes), so check it
    // here, the same for every split.
    if (!ec && n > options.max_header_bytes) ec = http::error::header_limit;
    if (ec) {
      if (ec == http::error::header_limit) {
        co_await write_error(stream, RouterErrc::kHeaderTooLarge, "request header too large",
                             false);
        linger = true;
      } else if (ec == http::error::body_limit) {
        co_await write_error(
            stream, RouterErrc::kBodyTooLarge,
            "request body exceeds " + std::to_string(options.max_body_bytes) + " bytes", false);
        linger = true;
      } else if (!is_expected_disconnect(ec) &&
                 ec.category() == http::make_error_code(http::error::bad_method).category()) {
        co_await write_error(stream, RouterErrc::kBadRequest,
                             "malformed HTTP request: " + ec.message(), false);
        linger = true;
      } else if (!is_expected_disconnect(ec)) {
        result = ec;
      }
      break;
    }
    registration.set_busy(true);
    const auto& req = parser.get();
    if (auto framing = check_request_framing(req.base(), req.version())) {
      co_await write_error(stream, framing->error, framing->message, false);
      linger = true;
      break;
    }
    if (beast::iequals(req[http::field::expect], "100-continue") && !parser.is_done()) {
      http::response<http::empty_body> cont{http::status::continue_, req.version()};
      stream.expires_after(options.body_timeout);
      auto [cec, cn] = co_await http::async_write(stream, cont, use_tuple);
      stream.expires_never();
      if (cec) break;
    }
    if (!parser.is_done()) {
      // The body goes into this connection's storage (SessionState), whose
      // capacity follows the bytes received (router/body_reader.h).
      const uint64_t length = parser.content_length().value_or(0);
      if (parser.content_length() && length > options.max_body_bytes) {
        co_await write_error(
            stream, RouterErrc::kBodyTooLarge,
            "request body exceeds " + std::to_string(options.max_body_bytes) + " bytes", false);
        linger = true;
        break;
      }
      std::string& body = parser.get().body();
      body.swap(session.request_body);
      reused_body = true;
      BodyResult r;
      // From the end of the header: the body deadline (408 when late).
      deadline.arm(options.body_timeout);
      if (parser.content_length()) {
        r = co_await read_sized_body(stream, buffer, length, body, kBodyPadding,
                                     session.body_reservation);
      } else {
        r = co_await read_chunked_body(stream, buffer, parser, options.max_body_bytes, kBodyPadding,
                                       session.body_reservation);
      }
      deadline.disarm();
      if (r.kind == BodyResult::Kind::kRead && r.ec == net::error::operation_aborted &&
          deadline.expired()) {
        r.kind = BodyResult::Kind::kTimeout;
      }
      if (r.kind != BodyResult::Kind::kOk) {
        session.request_body.swap(body);  // keeps the reservation's storage in one place
        linger = true;
        if (r.kind == BodyResult::Kind::kTimeout) {
          co_await write_error(stream, RouterErrc::kRequestTimeout,
                               "request body not complete within " +
                                   std::to_string(options.body_timeout.count()) + " ms",
                               false);
        } else if (r.kind == BodyResult::Kind::kTooLarge) {
          co_await write_error(
              stream, RouterErrc::kBodyTooLarge,
              "request body exceeds " + std::to_string(options.max_body_bytes) + " bytes", false);
        } else if (r.kind == BodyResult::Kind::kBudget) {
          if (BodyBudget* budget = session.body_reservation.budget()) budget->count_exhausted();
          co_await write_error(stream, RouterErrc::kBodyBudgetExhausted,
                               "request bodies in flight hold the whole body memory budget; "
                               "retry later",
                               false);
        } else if (r.kind == BodyResult::Kind::kMalformed) {
          // Built before the co_await: g++ 12 mishandles conditional
          // temporaries inside a co_await expression (double free).
          std::string message = std::string("malformed HTTP request body: ") + r.what;
          if (r.ec) message += " (" + r.ec.message() + ")";
          co_await write_error(stream, RouterErrc::kBadRequest, message, false);
        } else if (!is_expected_disconnect(r.ec)) {
          co_await write_error(stream, RouterErrc::kBadRequest,
                               "malformed HTTP request body: " + r.ec.message(), false);
        } else {
          linger = false;
        }
        release_body_storage(session);
        break;
      }
    }
    stream.expires_never();
    const bool keep = co_await handler.handle(stream, parser.get(), thread, session);
    if (reused_body) {
      session.request_body.swap(parser.get().body());
      // Kept for the next request only when small, and only while the body
      // budget is less than half spent: idle connections must not hold the
      // budget that requests in flight need.
      const BodyBudget* budget = session.body_reservation.budget();
      if (session.request_body.capacity() > SessionState::kKeepBodyBytes ||
          (budget != nullptr && budget->reserved() > budget->limit() / 2)) {
        release_body_storage(session);
      }
    }
    if (!keep) break;
  }
  if (linger) {
    co_await lingering_close(stream);
  } else if (stream.is_tls()) {
    co_await close_tls(stream);
  } else {
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }
  co_return result;
}

}  // namespace radixmesh::router
