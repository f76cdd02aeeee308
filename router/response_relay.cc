#include "router/response_relay.h"

#include <array>

#include "router/headers.h"

namespace radixmesh::router {

awaitable<RelayResult> relay_response(beast::tcp_stream& client, beast::tcp_stream& upstream,
                                      beast::flat_buffer& upstream_buffer,
                                      http::response_parser<http::buffer_body>& parser,
                                      std::string_view worker_url, bool client_keep_alive,
                                      unsigned client_version,
                                      std::chrono::milliseconds idle_timeout) {
  RelayResult result;
  const auto& in = parser.get();

  http::response<http::buffer_body> res;
  res.version(client_version);
  res.result(in.result_int());
  res.reason(in.reason());
  copy_end_to_end(in, res);
  res.set(kWorkerHeader, worker_url);
  const unsigned status = in.result_int();
  const bool no_body_status = status / 100 == 1 || status == 204 || status == 304;
  if (const auto length = parser.content_length()) {
    res.content_length(*length);
  } else if (parser.is_done()) {
    if (!no_body_status) res.content_length(0);
  } else if (client_version >= 11) {
    res.chunked(true);
  } else {
    client_keep_alive = false;  // HTTP/1.0 client: delimit the body by closing
  }
  res.keep_alive(client_keep_alive);
  http::response_serializer<http::buffer_body> sr{res};

  // One fixed buffer per exchange (lives in the coroutine frame).
  std::array<char, kRelayBufferBytes> buf;
  for (;;) {
    if (!parser.is_done()) {
      parser.get().body().data = buf.data();
      parser.get().body().size = buf.size();
      upstream.expires_after(idle_timeout);
      auto [ec, n] = co_await http::async_read_some(upstream, upstream_buffer, parser, use_tuple);
      if (ec == http::error::need_buffer) ec = {};
      if (ec) {
        result.upstream_error = ec;
        co_return result;
      }
      const size_t got = buf.size() - parser.get().body().size;
      // Nothing to send yet (a chunk header, or an empty read): read on. The
      // client header goes out together with the first body bytes.
      if (got == 0 && !parser.is_done()) continue;
      res.body().data = got ? buf.data() : nullptr;
      res.body().size = got;
      res.body().more = !parser.is_done();
    } else {
      res.body().data = nullptr;
      res.body().size = 0;
      res.body().more = false;
    }
    client.expires_after(idle_timeout);
    if (!result.bytes_sent) result.first_byte_at = Clock::now();
    result.bytes_sent = true;
    auto [wec, wn] = co_await http::async_write(client, sr, use_tuple);
    if (wec == http::error::need_buffer) wec = {};
    if (wec) {
      result.client_error = wec;
      co_return result;
    }
    if (sr.is_done()) break;
  }
  result.complete = true;
  result.client_keep_alive = client_keep_alive;
  result.upstream_reusable = parser.is_done() && parser.keep_alive() && upstream_buffer.size() == 0;
  co_return result;
}

}  // namespace radixmesh::router
