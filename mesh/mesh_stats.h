// MeshStats: counters of the wire layer, written on the mesh io thread and
// read by the router's /metrics collector on any thread (relaxed atomics: a
// scrape may see one counter a little behind another, never a torn value).
//
// Ownership: MeshNode owns one and shares it (shared_ptr) with the transport
// and every connection, so a connection outliving a stop() still has it.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

#include "mesh/frame.h"
#include "mesh/frame_type.h"
#include "mesh/tls_failure.h"

namespace radixmesh::mesh {

struct MeshStats {
  using Counter = std::atomic<uint64_t>;
  std::array<Counter, kFrameTypeSlots> frames_sent{}, bytes_sent{};
  std::array<Counter, kFrameTypeSlots> frames_received{}, bytes_received{};
  std::array<Counter, kRejectReasonCount> rejected{};  // by RejectReason
  Counter frames_skipped{};                            // valid frames of unknown types
  Counter send_queue_full{};  // send() refused: per-peer queue at its byte bound
  Counter connections_accepted{}, connections_dialed{}, dial_failures{};
  // Inbound handshakes closed before authenticating, by cause
  // (mesh/handshake_admission.h): evicted to admit a newer connection, or
  // past a deadline (those are also counted as rejected[unauthenticated]).
  Counter handshakes_evicted_per_source{}, handshakes_evicted_global{};
  Counter handshake_first_frame_timeouts{}, handshake_timeouts{};
  Counter handshakes_pending{};  // a gauge: inbound connections in handshake now
  // Mesh TLS (both directions): handshakes that succeeded, peers refused
  // by reason, and certificate reloads (mesh/tls_credentials.h).
  Counter tls_handshakes{};
  std::array<Counter, kTlsFailureCount> tls_failures{};
  Counter tls_reloads_ok{}, tls_reloads_failed{};

  void count_sent(uint8_t type, uint64_t bytes) {
    frames_sent[type % kFrameTypeSlots].fetch_add(1, std::memory_order_relaxed);
    bytes_sent[type % kFrameTypeSlots].fetch_add(bytes, std::memory_order_relaxed);
  }
  void count_received(uint8_t type, uint64_t bytes) {
    frames_received[type % kFrameTypeSlots].fetch_add(1, std::memory_order_relaxed);
    bytes_received[type % kFrameTypeSlots].fetch_add(bytes, std::memory_order_relaxed);
  }
  void count_reject(RejectReason r) {
    rejected[static_cast<int>(r)].fetch_add(1, std::memory_order_relaxed);
  }
  uint64_t rejects(RejectReason r) const {
    return rejected[static_cast<int>(r)].load(std::memory_order_relaxed);
  }
};

}  // namespace radixmesh::mesh
