// Payloads of the SWIM frames (kPing, kPingAck, kPingReq, kMembership,
// kLeave): plain structs and their bounded encode/decode
// (docs/mesh-protocol.md §4). Ping, ack and ping-req piggyback a few member
// updates (gossip); kMembership carries a whole member list (push-pull).
//
// Decoding bounds every string (node ids and addresses <= 255 bytes) and the
// number of updates (<= kMaxUpdatesPerFrame) before allocating; trailing bytes
// are ignored so a newer version may append fields.
//
// Thread safety: pure functions over value types.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mesh/peer_sender.h"

namespace radixmesh::mesh {

enum class MemberState : uint8_t { kAlive = 0, kSuspect = 1, kDead = 2, kLeft = 3 };
const char* to_string(MemberState s);

inline constexpr size_t kMaxNodeIdBytes = 255;
inline constexpr size_t kMaxAddressBytes = 255;
inline constexpr size_t kMaxUpdatesPerFrame = 1024;

// One gossip fact: "node `id` at `address` is in `state` at `incarnation`".
struct MemberUpdate {
  NodeId id;
  std::string address;  // host:port it accepts mesh connections on
  uint64_t incarnation = 0;
  MemberState state = MemberState::kAlive;
  bool operator==(const MemberUpdate&) const = default;
};

struct PingMsg {
  uint64_t seq = 0;
  NodeId target;  // the node the sender means to reach
  std::vector<MemberUpdate> updates;
};
struct PingAckMsg {
  uint64_t seq = 0;
  bool nack = false;  // relay could not reach the target in time (Lifeguard)
  std::vector<MemberUpdate> updates;
};
struct PingReqMsg {
  uint64_t seq = 0;
  NodeId target;
  std::string target_address;
  std::vector<MemberUpdate> updates;
};
struct MembershipMsg {
  bool want_reply = false;  // push-pull: answer with your own list
  std::vector<MemberUpdate> members;
};
struct LeaveMsg {
  NodeId id;
  uint64_t incarnation = 0;
};

std::string encode(const PingMsg& m);
std::string encode(const PingAckMsg& m);
std::string encode(const PingReqMsg& m);
std::string encode(const MembershipMsg& m);
std::string encode(const LeaveMsg& m);

// Each returns nullopt on a malformed payload (-> reject kMalformedPayload).
std::optional<PingMsg> decode_ping(std::string_view p);
std::optional<PingAckMsg> decode_ping_ack(std::string_view p);
std::optional<PingReqMsg> decode_ping_req(std::string_view p);
std::optional<MembershipMsg> decode_membership(std::string_view p);
std::optional<LeaveMsg> decode_leave(std::string_view p);

}  // namespace radixmesh::mesh
