// In-process test world for the proxy path: the router's real session,
// handler, routing engine and proxy over scripted workers on loopback, with
// the client on one end of a socketpair in the same io_context (no client
// port, no process). Tests inject worker faults by naming a script in the
// prompt and read what the client received.
//
// Scripts (the first one named in the request body wins):
//   "script-garbage"     answers bytes that are not HTTP
//   "script-cut"         a 200 header and half its Content-Length, then closes
//   "script-silent"      reads the request, never answers (until closed)
//   "script-500"         a 500 with an OpenAI-style error body
//   "script-drip"        an SSE stream of 200 events, 20 ms apart
//   otherwise            a fixed 200 completion (kScriptedCompletion)
// Every script counts its requests and notices when the router closes the
// connection early (ScriptedWorker::closed_early).
//
// Threads: everything runs on the world's io_context, driven by run_until().
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "policies/policy.h"
#include "radix/memory_broker.h"
#include "radix/tree_catalog.h"
#include "radix/worker_directory.h"
#include "router/http_session.h"
#include "router/proxy.h"
#include "router/request_handler.h"
#include "router/routing_engine.h"
#include "router/worker_registry.h"

namespace radixmesh::router::testing {

inline constexpr std::string_view kScriptedCompletion =
    R"({"id":"s","object":"chat.completion","choices":[{"index":0,"message":)"
    R"({"role":"assistant","content":"ok"},"finish_reason":"stop"}],)"
    R"("usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}})";

class ScriptedWorker {
 public:
  explicit ScriptedWorker(net::io_context& ioc)
      : acceptor_(ioc, {net::ip::make_address("127.0.0.1"), 0}) {
    net::co_spawn(ioc, accept_loop(), net::detached);
  }
  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port());
  }
  int requests = 0;
  int closed_early = 0;  // connections the router closed before the script ended

 private:
  awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor_.async_accept(use_tuple);
      if (ec) co_return;
      net::co_spawn(acceptor_.get_executor(), serve(std::move(socket)), net::detached);
    }
  }

  awaitable<void> serve(tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    for (int served = 0; served < 1000; ++served) {
      http::request<http::string_body> req;
      auto [ec, n] = co_await http::async_read(stream, buffer, req, use_tuple);
      if (ec) co_return;
      ++requests;
      const std::string& body = req.body();
      if (body.find("script-garbage") != std::string::npos) {
        co_await net::async_write(
            stream, net::buffer(std::string_view("\x01\x02 not http\r\n\r\n")), use_tuple);
        co_return;
      }
      if (body.find("script-cut") != std::string::npos) {
        const std::string head =
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n"
            "{\"id\":\"half";
        co_await net::async_write(stream, net::buffer(head), use_tuple);
        co_return;
      }
      if (body.find("script-silent") != std::string::npos) {
        char byte;
        auto [rec, rn] = co_await stream.async_read_some(net::buffer(&byte, 1), use_tuple);
        if (rec) ++closed_early;  // the router gave up and closed
        co_return;
      }
      if (body.find("script-drip") != std::string::npos) {
        const std::string head =
            "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: "
            "chunked\r\n\r\n";
        if (auto [wec, wn] = co_await net::async_write(stream, net::buffer(head), use_tuple); wec) {
          ++closed_early;
          co_return;
        }
        net::steady_timer timer(stream.get_executor());
        for (int i = 0; i < 200; ++i) {
          const std::string event = "data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\n";
          char size[16];
          std::snprintf(size, sizeof size, "%zx\r\n", event.size());
          const std::string chunk = std::string(size) + event + "\r\n";
          auto [wec, wn] = co_await net::async_write(stream, net::buffer(chunk), use_tuple);
          if (wec) {
            ++closed_early;
            co_return;
          }
          timer.expires_after(std::chrono::milliseconds(20));
          co_await timer.async_wait(use_tuple);
        }
        co_await net::async_write(stream, net::buffer(std::string_view("0\r\n\r\n")), use_tuple);
        continue;
      }
      const bool fail = body.find("script-500") != std::string::npos;
      http::response<http::string_body> res{
          fail ? http::status::internal_server_error : http::status::ok, req.version()};
      res.set(http::field::content_type, "application/json");
      res.keep_alive(req.keep_alive());
      res.body() = fail ? R"({"error":{"message":"scripted","type":"server_error"}})"
                        : std::string(kScriptedCompletion);
      res.prepare_payload();
      auto [wec, wn] = co_await http::async_write(stream, res, use_tuple);
      if (wec || !res.keep_alive()) co_return;
    }
  }

  tcp::acceptor acceptor_;
};

struct ProxyWorld {
  explicit ProxyWorld(int workers, ProxyOptions proxy_options = default_proxy_options())
      : broker(size_t{8} << 20),
        trees(tree_options(), 4, &broker, nullptr),
        policy(policies::make_policy(policies::PolicyConfig{}).value()),
        registry(registry_options(),
                 [this](const std::string& url) { return directory.intern(url); }),
        clock([] { return uint64_t{1700000000000}; }),
        engine(registry, trees, *policy, clock, routing_options()),
        proxy(engine, proxy_options, nullptr),
        handler(engine, proxy, registry, nullptr, state, HandlerOptions{}),
        thread(ioc.get_executor(), pool_options(), routing_options().parse_limits, 7) {
    for (int i = 0; i < workers; ++i) {
      scripted.push_back(std::make_unique<ScriptedWorker>(ioc));
      auto w = registry.add(scripted.back()->url()).value();
      registry.set_models(w, {"m"});
      w->set_healthy(true);
    }
  }

  static ProxyOptions default_proxy_options() {
    ProxyOptions p;
    p.first_byte_timeout = std::chrono::seconds(5);
    p.idle_timeout = std::chrono::seconds(5);
    p.max_retries = 2;
    return p;
  }
  static radix::PrefixTree::Options tree_options() {
    radix::PrefixTree::Options o;
    o.max_blocks_per_worker = 4096;
    o.max_bytes = 4 << 20;
    return o;
  }
  static WorkerRegistry::Options registry_options() {
    WorkerRegistry::Options o;
    o.max_workers = 16;
    o.breaker.failure_threshold = 1000000000;  // failures never open a breaker here
    return o;
  }
  static RoutingOptions routing_options() {
    RoutingOptions r;
    r.default_model = "m";
    r.block_bytes = 64;
    return r;
  }
  static UpstreamPool::Options pool_options() {
    UpstreamPool::Options o;
    o.max_per_worker = 4;
    o.connect_timeout = std::chrono::seconds(2);
    return o;
  }

  // Runs the io_context until `done` or `limit` of wall time.
  bool run_until(const std::function<bool()>& done, std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done() && std::chrono::steady_clock::now() < deadline) {
      ioc.run_one_for(std::chrono::milliseconds(20));
    }
    return done();
  }

  net::io_context ioc;
  std::vector<std::unique_ptr<ScriptedWorker>> scripted;
  radix::WorkerDirectory directory;
  radix::MemoryBroker broker;
  radix::TreeCatalog trees;
  std::unique_ptr<policies::Policy> policy;
  WorkerRegistry registry;
  radix::HybridClock clock;
  RoutingEngine engine;
  Proxy proxy;
  ServerState state;
  RequestHandler handler;
  IoThreadState thread;
};

// One client connection into the world's real session: writes `request`,
// then reads until the router closes or `close_after_bytes` arrived (then it
// closes itself, as a client that leaves mid-stream).
struct SessionClient {
  SessionClient(ProxyWorld& world, std::string request, size_t close_after_bytes = 0)
      : world_(world),
        request_(std::move(request)),
        close_after_(close_after_bytes),
        client_(world.ioc) {
    int fds[2];
    ok = ::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0;
    if (!ok) return;
    error_code ec;
    tcp::socket server(world.ioc);
    server.assign(tcp::v4(), fds[0], ec);  // a stream socket is all the session uses
    client_.assign(tcp::v4(), fds[1], ec);
    SessionOptions options;
    options.keepalive_timeout = std::chrono::seconds(5);
    net::co_spawn(
        world.ioc,
        [this, server = std::move(server), options]() mutable -> awaitable<void> {
          ByteStream stream(std::move(server));
          co_await run_session(stream, world_.handler, world_.thread, options);
          session_done = true;
        },
        net::detached);
    net::co_spawn(world.ioc, talk(), net::detached);
  }

  awaitable<void> talk() {
    co_await net::async_write(client_, net::buffer(request_), use_tuple);
    char buf[4096];
    for (;;) {
      auto [ec, n] = co_await client_.async_read_some(net::buffer(buf), use_tuple);
      received.append(buf, n);
      if (ec) break;
      if (close_after_ > 0 && received.size() >= close_after_) {
        error_code ignored;
        client_.close(ignored);
        break;
      }
    }
    client_done = true;
  }

  // Waits until both ends are done (bounded).
  bool finish(std::chrono::milliseconds limit = std::chrono::seconds(15)) {
    return world_.run_until([&] { return session_done && client_done; }, limit);
  }

  bool ok = false;
  bool session_done = false;
  bool client_done = false;
  std::string received;

 private:
  ProxyWorld& world_;
  std::string request_;
  size_t close_after_;
  tcp::socket client_;
};

// A one-shot POST /v1/chat/completions whose prompt names `script`.
inline std::string chat_request(std::string_view script, bool stream = false) {
  const std::string body = std::string(R"({"model":"m","messages":[{"role":"user","content":")") +
                           std::string(script) + R"("}])" + (stream ? R"(,"stream":true)" : "") +
                           "}";
  return "POST /v1/chat/completions HTTP/1.1\r\nHost: r\r\nContent-Type: application/json\r\n"
         "Connection: close\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

}  // namespace radixmesh::router::testing
