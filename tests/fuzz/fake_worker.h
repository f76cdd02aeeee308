// FakeWorker: an OpenAI-compatible upstream for the HTTP fuzz target, on a
// loopback ephemeral port of the caller's io_context. It answers every
// request with the fixed completion kFakeCompletion, except requests whose
// body contains "fake-worker-500" (a 500 with an OpenAI-style error body) or
// "fake-worker-close" (the connection is closed without an answer), so inputs
// reach the proxy's relay, retry and upstream-error paths deterministically.
//
// Threads: runs on the io_context's thread; lives as long as the io_context.
#pragma once

#include <string>
#include <string_view>
#include <utility>

#include "router/net.h"

namespace radixmesh::fuzz {

inline constexpr std::string_view kFakeCompletion =
    R"({"id":"fake","object":"chat.completion","choices":[{"index":0,"message":)"
    R"({"role":"assistant","content":"ok"},"finish_reason":"stop"}],)"
    R"("usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}})";
inline constexpr std::string_view kFakeError =
    R"({"error":{"message":"fake failure","type":"server_error","code":"fake"}})";

class FakeWorker {
 public:
  explicit FakeWorker(router::net::io_context& ioc)
      : acceptor_(ioc, {router::net::ip::make_address("127.0.0.1"), 0}) {
    router::net::co_spawn(ioc, accept_loop(), router::net::detached);
  }

  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port());
  }

 private:
  router::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor_.async_accept(router::use_tuple);
      if (ec) co_return;
      router::net::co_spawn(acceptor_.get_executor(), serve(std::move(socket)),
                            router::net::detached);
    }
  }

  static router::awaitable<void> serve(router::tcp::socket socket) {
    namespace http = router::http;
    router::beast::tcp_stream stream(std::move(socket));
    router::beast::flat_buffer buffer;
    for (int served = 0; served < 10000; ++served) {  // bounded keep-alive
      http::request<http::string_body> req;
      auto [ec, n] = co_await http::async_read(stream, buffer, req, router::use_tuple);
      if (ec) co_return;
      if (req.body().find("fake-worker-close") != std::string::npos) co_return;
      const bool fail = req.body().find("fake-worker-500") != std::string::npos;
      http::response<http::string_body> res{
          fail ? http::status::internal_server_error : http::status::ok, req.version()};
      res.set(http::field::content_type, "application/json");
      res.keep_alive(req.keep_alive());
      res.body() = std::string(fail ? kFakeError : kFakeCompletion);
      res.prepare_payload();
      auto [wec, wn] = co_await http::async_write(stream, res, router::use_tuple);
      if (wec || !res.keep_alive()) co_return;
    }
  }

  router::tcp::acceptor acceptor_;
};

}  // namespace radixmesh::fuzz
