// KvRoomTable: the KV a simulated prefill worker holds for decode workers to
// fetch, one entry ("room") per prefilled request: an SGLang bootstrap_room,
// or the block ids a vLLM prefill named in its kv_transfer_params.
//
// Bounded twice: at most `capacity` rooms (the oldest goes first when full)
// and each lives `ttl` (a decode that never comes must not pin it). A room is
// handed out once: take() removes it, as an engine frees the blocks it sent.
//
// Thread safety: all methods lock an internal mutex (no I/O under it).
#pragma once

#include <chrono>
#include <cstdint>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace radixmesh::tools::sim {

// What a decode worker learns from the prefill worker about one request.
struct KvRoom {
  std::string model;
  uint64_t prompt_tokens = 0;
  uint64_t cached_tokens = 0;  // of the prompt, found in the prefill's own cache
};

class KvRoomTable {
 public:
  using Clock = std::chrono::steady_clock;

  KvRoomTable(size_t capacity, Clock::duration ttl) : capacity_(capacity), ttl_(ttl) {}

  // Registers `key` (replacing an entry of the same key). Expired rooms are
  // dropped first, then the oldest while the table is full.
  void put(const std::string& key, KvRoom room, Clock::time_point now);

  // The room under `key` if present and not expired; it is removed either way.
  std::optional<KvRoom> take(const std::string& key, Clock::time_point now);

  size_t size() const;
  uint64_t evicted() const;  // dropped because the table was full
  uint64_t expired() const;  // dropped because their ttl passed

 private:
  struct Entry {
    KvRoom room;
    Clock::time_point born;
    std::list<std::string>::iterator order;
  };
  void drop_expired(Clock::time_point now);  // mu_ held

  const size_t capacity_;
  const Clock::duration ttl_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> rooms_;
  std::list<std::string> order_;  // oldest first (one ttl for all: also expiry order)
  uint64_t evicted_ = 0;
  uint64_t expired_ = 0;
};

}  // namespace radixmesh::tools::sim
