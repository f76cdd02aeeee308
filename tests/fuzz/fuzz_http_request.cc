// Fuzz target: the router's request path without sockets. Raw bytes as a
// client would send them -> Beast's request parser (with the header and body
// limits of router/http_session.h) -> endpoint lookup -> RoutingEngine
// prepare (parse, canonical prompt, block hashes) -> choose (tree match,
// policy, tree insert) against a registry of three healthy workers.
//
// Pipelined requests in one input are all handled, like a keep-alive
// connection. Checked: no crash, no unbounded allocation; a prepared
// request's block count equals its canonical size / block size; choose
// returns one of the registered workers for a routable request, and the
// in-flight count returns to zero once its guard is released; the model's
// tree keeps its invariants.
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "policies/policy.h"
#include "radix/memory_broker.h"
#include "radix/tree_catalog.h"
#include "radix/worker_directory.h"
#include "router/routing_engine.h"
#include "router/worker_registry.h"
#include "tests/fuzz/fuzz_input.h"

namespace http = boost::beast::http;
using namespace radixmesh;
using namespace radixmesh::router;
using radixmesh::fuzz::fuzz_check;

namespace {

struct World {
  World()
      : broker(size_t{8} << 20),
        trees(tree_options(), 4, &broker, nullptr),
        policy(make_policy()),
        registry(WorkerRegistry::Options{16, {}},
                 [this](const std::string& url) { return directory.intern(url); }),
        clock([] { return uint64_t{1700000000000}; }),
        engine(registry, trees, *policy, clock, routing_options()) {
    for (int i = 0; i < 3; ++i) {
      auto w = registry.add("http://127.0.0.1:" + std::to_string(10000 + i)).value();
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
  static RoutingOptions routing_options() {
    RoutingOptions r;
    r.default_model = "m";
    r.block_bytes = 64;
    r.parse_limits.max_body_bytes = 64 * 1024;
    return r;
  }
  static std::unique_ptr<policies::Policy> make_policy() {
    policies::PolicyConfig c;
    c.name = "cache_aware";
    return policies::make_policy(c).value();
  }

  radix::WorkerDirectory directory;
  radix::MemoryBroker broker;
  radix::TreeCatalog trees;
  std::unique_ptr<policies::Policy> policy;
  WorkerRegistry registry;
  radix::HybridClock clock;
  RoutingEngine engine;
  RoutingScratch scratch{routing_options().parse_limits, 42};
};

void handle(World& w, const http::request<http::string_body>& req) {
  if (req.method() != http::verb::post) return;
  const auto endpoint = radix::endpoint_for_path(req.target());
  if (!endpoint) return;
  PreparedRequest p;
  const auto session = req["X-Session-Id"];
  if (!w.engine.prepare(w.scratch, req.body(), *endpoint, session, p).ok()) return;
  fuzz_check(p.blocks.size() == p.parsed.canonical.size() / 64, "blocks per canonical byte");
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

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static World world;
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  for (int requests = 0; requests < 16 && !rest.empty(); ++requests) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(64 * 1024);
    parser.body_limit(64 * 1024);
    parser.eager(true);
    boost::beast::error_code ec;
    size_t used = 0;
    while (!parser.is_done() && used < rest.size()) {
      const size_t n = parser.put(boost::asio::buffer(rest.data() + used, rest.size() - used), ec);
      if (ec == http::error::need_more) {
        ec = {};
        if (n == 0) break;
      }
      if (ec) break;
      if (n == 0) break;
      used += n;
    }
    if (!ec && !parser.is_done() && used == rest.size()) {
      parser.put_eof(ec);
    }
    if (ec || !parser.is_done()) return 0;
    handle(world, parser.get());
    rest.remove_prefix(used);
  }
  return 0;
}
