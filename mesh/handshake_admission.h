// HandshakeAdmission: which inbound mesh connections may sit in their
// handshake. Pure bookkeeping (no sockets, no clock), so the policy is
// tested on its own; Transport asks it on every accept.
//
// A flood of connections that never finish the handshake must not keep a
// real peer out (docs/mesh-protocol.md §3, "Admission"):
//   - at most max_per_source pending handshakes per source address: one
//     noisy address competes only with itself;
//   - at most max_pending in total;
//   - a new connection is always admitted; when a cap is reached, one
//     pending connection is evicted to make room: the oldest that has not
//     sent a frame yet ("silent"), else the oldest. A real dialer sends its
//     hello at once, so silent flood connections go first;
//   - the per-source cap picks its victim among that source's connections,
//     the global cap among all.
//
// Ids are the caller's (unique per connection). Bounds: at most max_pending
// entries (max(1, ...)); each call is O(max_pending).
// Threads: not thread-safe; Transport uses it on the mesh strand.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <optional>
#include <string>
#include <unordered_map>

namespace radixmesh::mesh {

class HandshakeAdmission {
 public:
  struct Options {
    size_t max_pending = 64;    // inbound connections in handshake, all sources
    size_t max_per_source = 8;  // ... from one source address
  };
  enum class Cap { kPerSource, kGlobal };
  struct Eviction {
    uint64_t id;
    Cap cap;  // which cap made room
  };

  explicit HandshakeAdmission(Options options);

  // Asked about a silent candidate before it is evicted: true when its
  // first bytes have in fact arrived (not read yet because the process was
  // busy); it then counts as heard from and the search goes on.
  using SpokeFn = std::function<bool(uint64_t id)>;

  // Admits connection `id` from `source` (an address without the port).
  // Returns the pending connection the caller must close, if a cap was reached;
  // it is no longer tracked.
  std::optional<Eviction> admit(uint64_t id, const std::string& source, const SpokeFn& spoke = {});
  // The connection sent its first frame: it is evicted only after every
  // silent one (of its source, or overall).
  void heard_from(uint64_t id);
  // The connection authenticated or closed. Unknown ids are ignored.
  void remove(uint64_t id);

  size_t pending() const { return entries_.size(); }
  size_t pending_from(const std::string& source) const;

 private:
  struct Entry {
    uint64_t id;
    std::string source;
    bool heard = false;
  };
  using Entries = std::list<Entry>;  // oldest first
  // The victim among entries matching `source` (nullptr: any source).
  Entries::iterator pick(const std::string* source, const SpokeFn& spoke);
  Entries::iterator erase(Entries::iterator it);

  Options options_;
  Entries entries_;
  std::unordered_map<std::string, size_t> per_source_;
};

}  // namespace radixmesh::mesh
