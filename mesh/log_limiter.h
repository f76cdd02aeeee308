// LogLimiter: at most one log line per key (a peer's address) per interval,
// so a peer that keeps failing its TLS handshake (an intruder, a node with
// an expired certificate redialing every few seconds) is logged once, then
// once per interval with how many failures were not logged meanwhile.
//
// Bounded: at most max_keys keys are remembered; when full, keys not logged
// within the interval are forgotten, and if none is, the new key's line is
// suppressed (and counted by the caller's metrics anyway).
// Pure: the caller passes the time. Not thread-safe (mesh strand).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>

namespace radixmesh::mesh {

class LogLimiter {
 public:
  explicit LogLimiter(uint64_t interval_ms = 60000, size_t max_keys = 1024)
      : interval_ms_(interval_ms), max_keys_(max_keys) {}

  // nullopt: do not log. Else log now; the value is how many earlier events
  // of this key were suppressed since its last line.
  std::optional<uint64_t> admit(const std::string& key, uint64_t now_ms) {
    auto it = keys_.find(key);
    if (it == keys_.end()) {
      if (keys_.size() >= max_keys_) {
        for (auto k = keys_.begin(); k != keys_.end();)
          k = now_ms - k->second.last_ms >= interval_ms_ ? keys_.erase(k) : std::next(k);
        if (keys_.size() >= max_keys_) return std::nullopt;
      }
      keys_.emplace(key, Entry{now_ms, 0});
      return 0;
    }
    Entry& e = it->second;
    if (now_ms - e.last_ms < interval_ms_) {
      ++e.suppressed;
      return std::nullopt;
    }
    const uint64_t suppressed = e.suppressed;
    e = Entry{now_ms, 0};
    return suppressed;
  }
  size_t keys() const { return keys_.size(); }

 private:
  struct Entry {
    uint64_t last_ms;
    uint64_t suppressed;
  };
  uint64_t interval_ms_;
  size_t max_keys_;
  std::unordered_map<std::string, Entry> keys_;
};

}  // namespace radixmesh::mesh
