// DnsDiscovery: workers from a DNS name (--workers-dns NAME:PORT), e.g. a
// Kubernetes headless Service whose A/AAAA records are the worker pods.
//
// Every interval the name is resolved; each address becomes a worker URL
// http://ADDRESS:PORT. Addresses that appear are added to the registry;
// addresses that disappear are drained first (no new requests, in-flight ones
// finish) and removed once idle or after drain_grace, whichever comes first
// (removal erases them from every tree). An address that comes back while
// draining is simply undrained.
// Only workers this discovery added are ever removed by it: workers from
// --worker, the workers file or the admin API are left alone. A failed
// resolution changes nothing (a DNS hiccup must not empty the fleet), and so
// does an empty answer when workers are known.
//
// Threads: runs on the executor given at construction; start()/stop() from
// any thread (stop is posted).
#pragma once

#include <chrono>
#include <map>
#include <set>
#include <string>

#include "router/log.h"
#include "router/net.h"
#include "router/worker_registry.h"

namespace radixmesh::router {

class DnsDiscovery {
 public:
  struct Options {
    std::string name;  // host name to resolve
    std::string port;  // worker port
    std::chrono::milliseconds interval{5000};
    std::chrono::milliseconds drain_grace{30000};  // longest wait for in-flight requests
  };

  // Splits "NAME:PORT"; throws std::invalid_argument when malformed (start-up).
  static Options parse(const std::string& spec, std::chrono::milliseconds interval);

  DnsDiscovery(net::any_io_executor executor, WorkerRegistry& registry, Options options,
               const Logger& log);

  void start();
  void stop();

  using Clock = std::chrono::steady_clock;

  // Applies one resolution result (a set of worker URLs) observed at `now`.
  // Exposed for tests.
  void apply(const std::set<std::string>& urls, Clock::time_point now = Clock::now());

 private:
  awaitable<void> loop();

  net::any_io_executor executor_;
  WorkerRegistry& registry_;
  const Options options_;
  const Logger& log_;
  net::steady_timer timer_;
  bool stopped_ = false;         // executor thread only
  std::set<std::string> owned_;  // URLs this discovery added (executor thread only)
  // Owned URLs gone from DNS, draining until idle or until this deadline.
  std::map<std::string, Clock::time_point> draining_;  // executor thread only
};

}  // namespace radixmesh::router
