// WorkerRegistry: the set of upstream workers and which models each serves.
//
// Writers (start-up flags, the workers file, the admin API, DNS discovery,
// the health checker's /v1/models refresh) change membership under a mutex
// and publish a new immutable RegistrySnapshot; readers (every request on
// every io thread) take the current snapshot with one short lock and a
// shared_ptr copy, then read it without any lock (RCU style). Snapshots are
// rebuilt only when membership or model lists change (rare), never per
// request; per-request state (health, in-flight, breaker) lives in atomics on
// each Worker.
//
// Models: a worker whose model list is still unknown (its /v1/models failed or
// has not been read yet) is a "wildcard": it is a candidate for any model.
// Once known, it is a candidate only for the models it lists.
//
// Removal: remove() takes the worker out of every future snapshot, marks it
// removed (its health loop exits, in-flight exchanges finish) and calls the
// on_removed hook (the composition root erases it from every tree).
//
// Bounds: at most max_workers workers (add fails with kTooLarge beyond).
// Threads: every method is safe from any thread. Hooks run on the calling
// thread after the registry mutex is released.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "radix/result.h"
#include "router/worker.h"

namespace radixmesh::router {

// Transparent string hash: lookups by string_view without allocating.
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

struct RegistrySnapshot {
  uint64_t version = 0;
  std::vector<std::shared_ptr<Worker>> all;  // in insertion order
  // Workers that announced each model.
  std::unordered_map<std::string, std::vector<Worker*>, StringHash, std::equal_to<>> by_model;
  std::vector<Worker*> wildcard;  // model list unknown

  // Workers that may serve `model` (by_model[model] then wildcard), before
  // health filtering. Appends raw pointers (valid while this snapshot is
  // held; no reference-count traffic on the hot path) to out; returns false
  // when no worker (healthy or not) announces the model and there is no
  // wildcard worker.
  bool candidates(std::string_view model, std::vector<Worker*>& out) const;
  // The sorted union of known model names.
  std::vector<std::string> models() const;
};

class WorkerRegistry {
 public:
  struct Options {
    size_t max_workers = 4096;
    CircuitBreaker::Options breaker;
  };
  // Gives a worker its process-local id (the tree's WorkerDirectory).
  using InternFn = std::function<Result<radix::WorkerId>(const std::string& url)>;
  using Hook = std::function<void(const std::shared_ptr<Worker>&)>;

  WorkerRegistry(Options options, InternFn intern);

  // Hooks; set before the first add/remove (start-up only).
  void set_on_added(Hook hook) { on_added_ = std::move(hook); }
  void set_on_removed(Hook hook) { on_removed_ = std::move(hook); }

  // Adds a worker (URL normalised). Adding a known URL again returns the
  // existing worker and clears its drain flag. kInvalidArgument for a bad URL,
  // kTooLarge over max_workers.
  Result<std::shared_ptr<Worker>> add(std::string_view url);
  // kNotFound when the URL is not registered.
  Status remove(std::string_view url);
  Status drain(std::string_view url, bool draining = true);
  // Sets the models a worker serves; republishes only when they changed.
  void set_models(const std::shared_ptr<Worker>& worker, std::vector<std::string> models);
  // Forget the models (back to wildcard), e.g. when /v1/models is absent.
  void clear_models(const std::shared_ptr<Worker>& worker);

  std::shared_ptr<const RegistrySnapshot> snapshot() const;
  std::shared_ptr<Worker> find(std::string_view url) const;
  // Models of one worker; empty optional-like: `known` false when unknown.
  struct ModelList {
    bool known = false;
    std::vector<std::string> models;
  };
  ModelList models_of(const Worker& worker) const;
  size_t size() const;

 private:
  struct Entry {
    std::shared_ptr<Worker> worker;
    bool models_known = false;
    std::vector<std::string> models;  // sorted
  };
  void publish_locked();  // rebuilds snapshot_ from entries_

  const Options options_;
  const InternFn intern_;
  Hook on_added_, on_removed_;

  mutable std::mutex mu_;
  std::vector<Entry> entries_;                        // guarded by mu_
  std::shared_ptr<const RegistrySnapshot> snapshot_;  // guarded by mu_
  uint64_t version_ = 0;                              // guarded by mu_
};

}  // namespace radixmesh::router
