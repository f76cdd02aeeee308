// Fuzz target: the router's request path, bytes -> response. Raw bytes as a
// client would send them (pipelined requests) go two ways:
//
// 1. Through the real connection code: router::run_session (Beast parser with
//    the session's header/body limits, 100-continue, 413/431/400 answers) ->
//    RequestHandler (routes, 404/405, /health, /readiness, /v1/models) ->
//    RoutingEngine -> Proxy -> three FakeWorkers on loopback
//    (tests/fuzz/fake_worker.h). The client side is one end of a socketpair
//    in the same io_context; no port is opened for the client. Checked on
//    the bytes the client receives: they parse as a sequence of HTTP
//    responses (HEAD responses without a body), one per request at most plus
//    one closing 400/408/413/431/501; each status is one the router may send, the
//    one the route demands where it is fixed (404 unknown path, 405 wrong
//    method, 200 /health); every non-empty body is JSON; every error has the
//    OpenAI shape {"error":{"message","type",...}}; a proxied 200 carries the
//    worker's body byte for byte. After the connection ends: no request is
//    still counted active and no worker is left in flight.
// 2. Directly into the routing decision, per complete request: prepare ->
//    choose. Checked: blocks = canonical size / 64; the chosen worker is
//    registered; in flight while the route guard lives, released after; the
//    model's tree keeps its invariants.
//
// Bounded: at most 16 requests per input, the session run for at most 10 s
// of wall time and 100,000 handler steps (a hang is a finding). State that
// persists across inputs: the trees and the pooled upstream connections; the
// breaker never opens (threshold 1e9), so a failing input replays alone.
#include <sys/socket.h>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "policies/policy.h"
#include "radix/memory_broker.h"
#include "radix/tree_catalog.h"
#include "radix/worker_directory.h"
#include "router/http_session.h"
#include "router/proxy.h"
#include "router/request_framing.h"
#include "router/request_handler.h"
#include "router/routing_engine.h"
#include "router/worker_registry.h"
#include "tests/fuzz/fake_worker.h"
#include "tests/fuzz/fuzz_input.h"

using namespace radixmesh;
using namespace radixmesh::router;
using radixmesh::fuzz::FakeWorker;
using radixmesh::fuzz::fuzz_check;

namespace {

constexpr size_t kHeaderLimit = 4096;  // small, so the fuzzer reaches 431 and 413
constexpr size_t kBodyLimit = 8192;
constexpr int kMaxRequests = 16;

struct World {
  World()
      : broker(size_t{8} << 20),
        trees(tree_options(), 4, &broker, nullptr),
        policy(make_policy()),
        registry(registry_options(),
                 [this](const std::string& url) { return directory.intern(url); }),
        clock([] { return uint64_t{1700000000000}; }),
        engine(registry, trees, *policy, clock, routing_options()),
        proxy(engine, proxy_options(), nullptr),
        handler(engine, proxy, registry, nullptr, state, HandlerOptions{}),
        thread(ioc.get_executor(), pool_options(), routing_options().parse_limits, 7) {
    for (int i = 0; i < 3; ++i) {
      fakes.push_back(std::make_unique<FakeWorker>(ioc));
      auto w = registry.add(fakes.back()->url()).value();
      registry.set_models(w, {"m"});
      w->set_healthy(true);
    }
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
    o.breaker.failure_threshold = 1000000000;
    return o;
  }
  static RoutingOptions routing_options() {
    RoutingOptions r;
    r.default_model = "m";
    r.block_bytes = 64;
    r.parse_limits.max_body_bytes = kBodyLimit;
    return r;
  }
  static ProxyOptions proxy_options() {
    ProxyOptions p;
    p.first_byte_timeout = std::chrono::seconds(5);
    p.idle_timeout = std::chrono::seconds(5);
    p.max_retries = 2;
    return p;
  }
  static UpstreamPool::Options pool_options() {
    UpstreamPool::Options o;
    o.max_per_worker = 4;
    o.connect_timeout = std::chrono::seconds(2);
    return o;
  }
  static std::unique_ptr<policies::Policy> make_policy() {
    policies::PolicyConfig c;
    c.name = "cache_aware";
    return policies::make_policy(c).value();
  }

  net::io_context ioc;
  std::vector<std::unique_ptr<FakeWorker>> fakes;
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
  RoutingScratch scratch{routing_options().parse_limits, 42};
};

// What the client sent, as the session's parser sees it.
struct SentRequest {
  http::request<http::string_body> req;
  std::string path;  // target up to '?'
};

// Complete requests at the front of `bytes`, parsed with the session's
// limits; stops at the first error or incomplete request.
std::vector<SentRequest> parse_requests(std::string_view rest) {
  std::vector<SentRequest> out;
  while (out.size() < kMaxRequests && !rest.empty()) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(kHeaderLimit);
    parser.body_limit(kBodyLimit);
    boost::beast::error_code ec;
    size_t used = 0;
    // Feeds the parser until `reached()` or it can go no further.
    const auto feed = [&](auto reached) {
      while (!reached() && used < rest.size()) {
        const size_t n = parser.put(net::buffer(rest.data() + used, rest.size() - used), ec);
        if (ec == http::error::need_more) {
          ec = {};
          if (n == 0) break;
        }
        if (ec || n == 0) break;
        used += n;
      }
    };
    // The header first (not eager: put() stops at its end), so its size is
    // known: the router's limit is on the whole header, request line
    // included (a larger one is answered 431 and the connection closed).
    feed([&] { return parser.is_header_done(); });
    if (ec || !parser.is_header_done() || used > kHeaderLimit) break;
    // Framing the router refuses itself (Transfer-Encoding other than
    // exactly chunked): a closing 400/501 before the body.
    if (check_request_framing(parser.get().base(), parser.get().version())) break;
    parser.eager(true);
    feed([&] { return parser.is_done(); });
    if (ec || !parser.is_done()) break;
    SentRequest s{parser.release(), {}};
    const std::string_view target = s.req.target();
    s.path = std::string(target.substr(0, target.find('?')));
    out.push_back(std::move(s));
    rest.remove_prefix(used);
  }
  return out;
}

// Part 2: the routing decision of one request, without sockets.
void check_routing(World& w, const SentRequest& s) {
  if (s.req.method() != http::verb::post) return;
  const auto endpoint = radix::endpoint_for_path(s.path);
  if (!endpoint) return;
  PreparedRequest p;
  if (!w.engine.prepare(w.scratch, s.req.body(), *endpoint, s.req["X-Session-Id"], p).ok()) return;
  fuzz_check(p.blocks.size() == p.parsed.canonical_bytes / 64, "blocks per canonical byte");
  std::shared_ptr<Worker> chosen;
  {
    auto choice = w.engine.choose(w.scratch, p, {});
    if (!choice.ok()) return;
    chosen = w.registry.find(choice.value().worker().url());
    fuzz_check(chosen != nullptr, "chosen is registered");
    fuzz_check(chosen->in_flight() == 1, "in flight while the guard lives");
  }
  fuzz_check(chosen->in_flight() == 0, "in flight released with the guard");
  if (auto tree = w.trees.find(p.model)) {
    fuzz_check(tree->check_invariants().empty(), "tree invariants");
  }
}

struct Received {
  std::vector<http::response<http::string_body>> finals;  // 1xx interim ones dropped
  bool clean = true;  // every received byte belongs to a complete response
};

// Splits what the client received into responses; the i-th final response
// answers requests[i] (HEAD: no body).
Received parse_responses(std::string_view rest, const std::vector<SentRequest>& requests) {
  Received r;
  for (int guard = 0; guard < 4 * kMaxRequests + 8 && !rest.empty(); ++guard) {
    http::response_parser<http::string_body> parser;
    parser.body_limit(1 << 20);
    parser.eager(true);
    const size_t i = r.finals.size();
    // RFC 9110 9.3.2: a HEAD answer has no content (its Content-Length is
    // the GET body's); a body here would be read as the next response.
    if (i < requests.size() && requests[i].req.method() == http::verb::head) {
      parser.skip(true);
    }
    boost::beast::error_code ec;
    size_t used = 0;
    while (!parser.is_done() && used < rest.size()) {
      const size_t n = parser.put(net::buffer(rest.data() + used, rest.size() - used), ec);
      if (ec == http::error::need_more) ec = {};
      if (ec || n == 0) break;
      used += n;
    }
    if (!parser.is_done()) {
      // A response cut short by the router closing is no response at all;
      // anything else left over is garbage.
      r.clean = false;
      return r;
    }
    rest.remove_prefix(used);
    if (parser.get().result_int() >= 200) r.finals.push_back(parser.release());
  }
  r.clean = rest.empty();
  return r;
}

bool is_router_status(unsigned s) {
  switch (s) {
    case 200:
    case 400:
    case 404:
    case 408:
    case 405:
    case 413:
    case 431:
    case 500:
    case 501:
    case 502:
    case 503:
    case 504:
      return true;
    default:
      return false;
  }
}

void check_response(const SentRequest* sent, const http::response<http::string_body>& res) {
  const unsigned status = res.result_int();
  fuzz_check(is_router_status(status), "a status the router sends");
  const bool head = sent && sent->req.method() == http::verb::head;
  if (!head && !res.body().empty()) {
    const auto body = nlohmann::json::parse(res.body(), nullptr, false);
    fuzz_check(!body.is_discarded(), "body is JSON");
    if (status >= 400) {
      fuzz_check(body.is_object() && body.contains("error"), "error body has \"error\"");
      const auto& e = body["error"];
      fuzz_check(e.is_object() && e.contains("message") && e["message"].is_string() &&
                     e.contains("type") && e["type"].is_string(),
                 "OpenAI error shape");
    }
  }
  if (sent == nullptr) {  // the closing answer to a request that never completed
    fuzz_check(status == 400 || status == 408 || status == 413 || status == 431 || status == 501,
               "closing error status");
    fuzz_check(!res.keep_alive(), "closing error closes");
    return;
  }
  const auto method = sent->req.method();
  const std::string& path = sent->path;
  const bool get = method == http::verb::get || method == http::verb::head;
  if (path == "/health" || path == "/readiness" || path == "/v1/models") {
    if (!get) {
      fuzz_check(status == 405, "405 for a non-GET local route");
    } else if (path == "/health") {
      fuzz_check(status == 200, "/health answers 200");
    } else if (path == "/v1/models" && !head) {
      fuzz_check(status == 200 && res.body().find("\"m\"") != std::string::npos,
                 "/v1/models lists the workers' model");
    }
  } else if (radix::endpoint_for_path(path)) {
    if (method != http::verb::post) {
      fuzz_check(status == 405, "405 for a non-POST inference route");
    } else if (status == 200) {
      fuzz_check(res.body() == fuzz::kFakeCompletion, "proxied body relayed byte for byte");
    }
  } else {
    fuzz_check(status == 404, "404 for an unknown path");
  }
}

// The client end: writes the input, reads until the router closes, and
// half-closes once every complete request has its answer (or the router
// went quiet), so the session sees the end of the stream.
struct Client {
  Client(tcp::socket s, std::string_view in, const std::vector<SentRequest>& reqs)
      : socket(std::move(s)), timer(socket.get_executor()), input(in), requests(&reqs) {}
  tcp::socket socket;
  net::steady_timer timer;  // the watchdog's
  std::string_view input;
  const std::vector<SentRequest>* requests = nullptr;
  std::string received;
  bool half_closed = false;
  bool writer_done = false;
  bool reader_done = false;
  bool watchdog_done = false;
  uint64_t progress = 0;  // bytes received; the watchdog's clock

  void half_close() {
    if (half_closed) return;
    half_closed = true;
    error_code ignored;
    socket.shutdown(tcp::socket::shutdown_send, ignored);
  }
  bool all_answered() const {
    const auto r = parse_responses(received, *requests);
    return r.clean && r.finals.size() >= requests->size();
  }

  awaitable<void> write() {
    co_await net::async_write(socket, net::buffer(input.data(), input.size()), use_tuple);
    // (a write error means the router closed first; the reader sees that too)
    writer_done = true;
    if (requests->empty() || all_answered()) half_close();
  }
  awaitable<void> read() {
    char buf[4096];
    for (int reads = 0; reads < 100000; ++reads) {
      auto [ec, n] = co_await socket.async_read_some(net::buffer(buf), use_tuple);
      if (ec) break;
      received.append(buf, n);
      progress += n;
      if (writer_done && all_answered()) half_close();
    }
    half_close();
    reader_done = true;
    timer.cancel();
  }
  // A request the router leaves unanswered on an open connection would
  // stall the exchange: after 1 s without a byte, half-close anyway (the
  // response check then sees the missing answer).
  awaitable<void> watchdog() {
    uint64_t seen = ~uint64_t{0};
    for (int ticks = 0; ticks < 20 && !reader_done; ++ticks) {
      timer.expires_after(std::chrono::milliseconds(500));
      co_await timer.async_wait(use_tuple);
      if (reader_done) break;
      if (writer_done && seen == progress) half_close();
      seen = progress;
    }
    watchdog_done = true;
  }
};

// Part 1: the bytes through a real session; returns what the client got.
std::string run_exchange(World& w, std::string_view input,
                         const std::vector<SentRequest>& requests) {
  int fds[2];
  fuzz_check(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0, "socketpair");
  error_code ec;
  tcp::socket server(w.ioc);
  server.assign(tcp::v4(), fds[0], ec);  // a stream socket is all the session uses
  fuzz_check(!ec, "assign server end");
  Client client(tcp::socket(w.ioc), input, requests);
  client.socket.assign(tcp::v4(), fds[1], ec);
  fuzz_check(!ec, "assign client end");

  bool session_done = false;
  SessionOptions options;
  options.max_header_bytes = kHeaderLimit;
  options.max_body_bytes = kBodyLimit;
  options.keepalive_timeout = std::chrono::seconds(5);
  options.header_timeout = std::chrono::seconds(5);
  options.body_timeout = std::chrono::seconds(5);
  net::co_spawn(
      w.ioc,
      [&]() -> awaitable<void> {
        ByteStream stream(std::move(server));
        co_await run_session(stream, w.handler, w.thread, options);
        session_done = true;
      },
      net::detached);
  net::co_spawn(w.ioc, client.write(), net::detached);
  net::co_spawn(w.ioc, client.read(), net::detached);
  net::co_spawn(w.ioc, client.watchdog(), net::detached);

  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  const auto done = [&] {
    return session_done && client.reader_done && client.writer_done && client.watchdog_done;
  };
  for (int steps = 0; steps < 100000 && !done(); ++steps) {
    if (std::chrono::steady_clock::now() > deadline) break;
    w.ioc.run_one_for(std::chrono::milliseconds(100));
  }
  fuzz_check(done(), "the exchange ends");  // nothing pending refers to `client` now
  return std::move(client.received);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static World world;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto requests = parse_requests(input);

  for (const auto& s : requests) check_routing(world, s);

  const std::string received = run_exchange(world, input, requests);
  if (std::getenv("FUZZ_HTTP_DUMP")) {  // reproducing a finding: show what the client got
    std::fwrite(received.data(), 1, received.size(), stderr);
  }
  const Received got = parse_responses(received, requests);
  fuzz_check(got.clean, "the client receives whole HTTP responses only");
  fuzz_check(got.finals.size() <= requests.size() + 1, "at most one answer per request");
  for (size_t i = 0; i < got.finals.size(); ++i) {
    check_response(i < requests.size() ? &requests[i] : nullptr, got.finals[i]);
  }
  fuzz_check(world.state.active_requests.load() == 0, "no request left active");
  for (const auto& w : world.registry.snapshot()->all) {
    fuzz_check(w->in_flight() == 0, "no worker left in flight");
  }
  return 0;
}
