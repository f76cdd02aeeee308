// MemoryPool: something that holds memory the process-wide MemoryBroker may
// ask back (prefix trees, mesh buffers).
//
// bytes() and relieve() may be called from the broker's thread while the
// pool is in use on others: both must be thread-safe. bytes() must be cheap
// (an atomic read); relieve() frees what it can, least valuable first, until
// bytes() <= target_bytes, and returns the bytes it freed. A pool registers
// itself with MemoryBroker::add() and must call remove() before it dies.
// A pool whose memory cannot be given back on demand (request bodies being
// read) answers relievable() false: it counts toward pressure but is never
// asked to relieve and takes no fair share.
#pragma once

#include <cstddef>
#include <string_view>

namespace radixmesh::radix {

class MemoryPool {
 public:
  virtual ~MemoryPool() = default;
  virtual size_t bytes() const = 0;
  virtual size_t relieve(size_t target_bytes) = 0;
  virtual bool relievable() const { return true; }
  virtual std::string_view pool_name() const = 0;
};

}  // namespace radixmesh::radix
