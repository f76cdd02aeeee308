// ComponentOptions: the one mapping from the parsed configuration
// (RouterConfig, router/config.h) to the options of every component the
// router builds.
//
// The App builds each component from these structs only, never from
// RouterConfig fields directly, so "does this flag reach anything?" has one
// answer: component_options(). tests/router/test_component_options.cc
// changes every option of the table (router/config_options.cc) in turn and
// fails when the result does not change: a new option that reaches no
// component fails the build's tests, and so would a setting dropped on the
// way (as --consistent-hash-load-factor and --dns-interval-ms for
// --peers-dns once were). Every struct here compares with ==, defaulted, so
// a new field takes part without anyone listing it.
//
// Pure function: no I/O, no validation (parse_config validated already);
// pointers to live objects (budgets, body budget, the key store) are left
// null for the App to fill.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "policies/policy.h"
#include "radix/request_view.h"
#include "router/admin_server.h"
#include "router/admission_queue.h"
#include "router/api_key_store.h"
#include "router/circuit_breaker.h"
#include "router/config.h"
#include "router/health_checker.h"
#include "router/http_session.h"
#include "router/mesh_glue.h"
#include "router/metrics_poller.h"
#include "router/pd_routing.h"
#include "router/proxy.h"
#include "router/request_handler.h"
#include "router/routing_engine.h"
#include "router/upstream_pool.h"

namespace radixmesh::router {

// The data-plane listener and the process around it.
struct ListenSettings {
  std::string host;
  uint16_t port = 0;
  uint64_t max_connections = 0;  // 0: derived from the open-files limit at start
  size_t threads = 1;
  std::chrono::milliseconds shutdown_grace{0};
  std::string node_id;    // also seeds each io thread's random generator
  std::string port_file;  // --port-file: the bound ports, written once listening
  bool operator==(const ListenSettings&) const = default;
};

// Where workers come from.
struct WorkerSources {
  std::vector<std::string> urls;  // --worker
  std::string file;               // --workers-file
  std::string dns;                // --workers-dns NAME:PORT
  std::chrono::milliseconds dns_interval{5000};
  bool operator==(const WorkerSources&) const = default;
};

struct AdminSettings {
  AdminServer::Options server;
  std::string token_file;  // empty: no bearer token
  bool operator==(const AdminSettings&) const = default;
};

// Trees and the memory they and request bodies may use.
struct TreeSettings {
  size_t max_blocks_per_worker = 262144;
  size_t memory_budget_bytes = 0;
  size_t max_inflight_body_bytes = 0;
  bool capacity_estimate = false;  // per-worker budgets (needs cache feedback)
  bool operator==(const TreeSettings&) const = default;
};

// Data-plane TLS and the client side towards https:// workers.
struct TlsSettings {
  std::string cert_file;  // empty: plain HTTP
  std::string key_file;
  std::chrono::milliseconds reload_interval{5000};
  std::chrono::milliseconds handshake_timeout{10000};  // the header deadline
  std::string upstream_ca_file;                        // empty: the system store
  bool upstream_insecure = false;
  bool operator==(const TlsSettings&) const = default;
};

struct AccessSettings {
  std::optional<ApiKeyStoreOptions> keys;  // nullopt: no --api-keys-file
  std::chrono::milliseconds keys_poll{1000};
  bool operator==(const AccessSettings&) const = default;
};

struct ComponentOptions {
  std::string log_level;  // the process logger (main.cc)
  ListenSettings listen;
  TlsSettings tls;
  SessionOptions session;  // body_budget left null
  WorkerSources workers;
  AdminSettings admin;
  TreeSettings trees;
  policies::PolicyConfig policy;
  RoutingOptions routing;                     // budgets and slot_listener left null
  std::optional<AdmissionOptions> admission;  // nullopt: no --max-in-flight-per-worker
  ProxyOptions proxy;
  bool cache_feedback = true;
  HandlerOptions handler;  // api_keys left null
  AccessSettings access;
  UpstreamPool::Options pool;  // per io thread
  HealthChecker::Options health;
  CircuitBreaker::Options breaker;
  std::optional<MetricsPoller::Options> load_poll;  // nullopt: --metrics-interval-ms 0
  MeshSettings mesh;
  PdSettings pd;  // mode kOff: one pool (workers, policy)
  bool operator==(const ComponentOptions&) const = default;
};

ComponentOptions component_options(const RouterConfig& config);

}  // namespace radixmesh::router
