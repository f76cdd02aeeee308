// FrameType: the one-byte type field of every mesh frame (docs/mesh-protocol.md).
//
// The numeric values are part of the wire protocol and never change; new
// types get new numbers. A receiver skips frame types it does not know (so a
// newer peer can add types without breaking an older one), see mesh/frame.h.
//
// Ranges: 1..9 handshake, 10..31 membership (SWIM), 32..63 state sync.
// Thread safety: plain constants and pure functions.
#pragma once

#include <cstdint>

namespace radixmesh::mesh {

enum class FrameType : uint8_t {
  // handshake (mesh/auth.h)
  kHello = 1,
  kChallenge = 2,
  kAuthProof = 3,
  kAuthOk = 4,
  // SWIM membership (mesh/membership.h)
  kPing = 10,
  kPingAck = 11,
  kPingReq = 12,
  kMembership = 13,
  kLeave = 14,
  // tree state and load sync (mesh/sync_engine.h)
  kDeltaBatch = 32,
  kDeltaAck = 33,
  kAnchorRequest = 34,
  kAnchorReply = 35,
  kDigest = 36,
  kSnapshotRequest = 37,
  kSnapshotChunk = 38,
  kLoadReport = 39,
  kWorkerEvent = 40,
  kLoadDelta = 41,  // older builds skip it (they still get kLoadReport every round)
};

// Highest type value + 1: the size of per-type counter arrays.
inline constexpr int kFrameTypeSlots = 64;

// True for the types this build knows; unknown ones are skipped on receive.
constexpr bool is_known_frame_type(uint8_t t) {
  return (t >= 1 && t <= 4) || (t >= 10 && t <= 14) || (t >= 32 && t <= 41);
}

constexpr bool is_handshake_frame(FrameType t) { return static_cast<uint8_t>(t) <= 9; }
constexpr bool is_membership_frame(FrameType t) {
  return static_cast<uint8_t>(t) >= 10 && static_cast<uint8_t>(t) <= 31;
}
constexpr bool is_sync_frame(FrameType t) { return static_cast<uint8_t>(t) >= 32; }

// Stable lower-case name, used as a metrics label ("unknown" otherwise).
constexpr const char* to_string(FrameType t) {
  switch (t) {
    case FrameType::kHello: return "hello";
    case FrameType::kChallenge: return "challenge";
    case FrameType::kAuthProof: return "auth_proof";
    case FrameType::kAuthOk: return "auth_ok";
    case FrameType::kPing: return "ping";
    case FrameType::kPingAck: return "ping_ack";
    case FrameType::kPingReq: return "ping_req";
    case FrameType::kMembership: return "membership";
    case FrameType::kLeave: return "leave";
    case FrameType::kDeltaBatch: return "delta_batch";
    case FrameType::kDeltaAck: return "delta_ack";
    case FrameType::kAnchorRequest: return "anchor_request";
    case FrameType::kAnchorReply: return "anchor_reply";
    case FrameType::kDigest: return "digest";
    case FrameType::kSnapshotRequest: return "snapshot_request";
    case FrameType::kSnapshotChunk: return "snapshot_chunk";
    case FrameType::kLoadReport: return "load_report";
    case FrameType::kWorkerEvent: return "worker_event";
    case FrameType::kLoadDelta: return "load_delta";
  }
  return "unknown";
}

}  // namespace radixmesh::mesh
