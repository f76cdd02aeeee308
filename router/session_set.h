// SessionSet: the client connections open on one io thread, for shutdown.
//
// Each connection registers its stream for its lifetime and says whether it
// is between requests (idle) or serving one (busy). Shutdown closes idle
// connections first (they would otherwise hold the process for a keep-alive
// timeout), lets busy ones finish their response, and after the grace
// deadline closes whatever is left.
//
// Threads: owned by one io thread; every method runs on it.
#pragma once

#include <cstddef>
#include <list>

#include "router/byte_stream.h"
#include "router/net.h"

namespace radixmesh::router {

class SessionSet {
 public:
  struct Entry {
    ByteStream* stream;
    bool busy = false;
  };
  using Handle = std::list<Entry>::iterator;

  Handle add(ByteStream& stream) { return entries_.insert(entries_.end(), Entry{&stream}); }
  void remove(Handle h) { entries_.erase(h); }

  // Closing cancels the pending read/wait/timer; each session then ends itself.
  void close_idle() {
    for (auto& e : entries_) {
      if (!e.busy) close(e);
    }
  }
  void close_all() {
    for (auto& e : entries_) close(e);
  }
  size_t size() const { return entries_.size(); }

 private:
  static void close(Entry& e) {
    error_code ignored;
    e.stream->socket().shutdown(tcp::socket::shutdown_both, ignored);
    e.stream->cancel();
  }
  std::list<Entry> entries_;
};

// RAII registration of one session.
class SessionRegistration {
 public:
  SessionRegistration(SessionSet& set, ByteStream& stream) : set_(set), handle_(set.add(stream)) {}
  ~SessionRegistration() { set_.remove(handle_); }
  SessionRegistration(const SessionRegistration&) = delete;
  SessionRegistration& operator=(const SessionRegistration&) = delete;
  void set_busy(bool busy) { handle_->busy = busy; }

 private:
  SessionSet& set_;
  SessionSet::Handle handle_;
};

}  // namespace radixmesh::router
