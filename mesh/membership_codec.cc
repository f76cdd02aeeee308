#include "mesh/membership_codec.h"

#include "mesh/wire_buffer.h"

namespace radixmesh::mesh {
namespace {

void put_updates(WireWriter& w, const std::vector<MemberUpdate>& us) {
  w.varint(us.size());
  for (const auto& u : us) {
    w.str(u.id);
    w.str(u.address);
    w.varint(u.incarnation);
    w.u8(static_cast<uint8_t>(u.state));
  }
}

bool get_updates(WireReader& r, std::vector<MemberUpdate>& out) {
  const uint64_t n = r.varint();
  // Each update takes at least 4 bytes, so a count beyond that is a lie.
  if (!r.ok() || n > kMaxUpdatesPerFrame || n > r.remaining() / 4) return false;
  out.reserve(n);
  for (uint64_t i = 0; i < n; ++i) {
    MemberUpdate u;
    u.id = r.str(kMaxNodeIdBytes);
    u.address = r.str(kMaxAddressBytes);
    u.incarnation = r.varint();
    const uint8_t s = r.u8();
    if (!r.ok() || s > static_cast<uint8_t>(MemberState::kLeft) || u.id.empty()) return false;
    u.state = static_cast<MemberState>(s);
    out.push_back(std::move(u));
  }
  return true;
}

}  // namespace

const char* to_string(MemberState s) {
  switch (s) {
    case MemberState::kAlive:
      return "alive";
    case MemberState::kSuspect:
      return "suspect";
    case MemberState::kDead:
      return "dead";
    case MemberState::kLeft:
      return "left";
  }
  return "unknown";
}

std::string encode(const PingMsg& m) {
  WireWriter w;
  w.varint(m.seq);
  w.str(m.target);
  put_updates(w, m.updates);
  return w.take();
}

std::string encode(const PingAckMsg& m) {
  WireWriter w;
  w.varint(m.seq);
  w.u8(m.nack ? 1 : 0);
  put_updates(w, m.updates);
  return w.take();
}

std::string encode(const PingReqMsg& m) {
  WireWriter w;
  w.varint(m.seq);
  w.str(m.target);
  w.str(m.target_address);
  put_updates(w, m.updates);
  return w.take();
}

std::string encode(const MembershipMsg& m) {
  WireWriter w;
  w.u8(m.want_reply ? 1 : 0);
  put_updates(w, m.members);
  return w.take();
}

std::string encode(const LeaveMsg& m) {
  WireWriter w;
  w.str(m.id);
  w.varint(m.incarnation);
  return w.take();
}

std::optional<PingMsg> decode_ping(std::string_view p) {
  WireReader r(p);
  PingMsg m;
  m.seq = r.varint();
  m.target = r.str(kMaxNodeIdBytes);
  if (!r.ok() || !get_updates(r, m.updates)) return std::nullopt;
  return m;
}

std::optional<PingAckMsg> decode_ping_ack(std::string_view p) {
  WireReader r(p);
  PingAckMsg m;
  m.seq = r.varint();
  m.nack = (r.u8() & 1) != 0;
  if (!r.ok() || !get_updates(r, m.updates)) return std::nullopt;
  return m;
}

std::optional<PingReqMsg> decode_ping_req(std::string_view p) {
  WireReader r(p);
  PingReqMsg m;
  m.seq = r.varint();
  m.target = r.str(kMaxNodeIdBytes);
  m.target_address = r.str(kMaxAddressBytes);
  if (!r.ok() || m.target.empty() || !get_updates(r, m.updates)) return std::nullopt;
  return m;
}

std::optional<MembershipMsg> decode_membership(std::string_view p) {
  WireReader r(p);
  MembershipMsg m;
  m.want_reply = (r.u8() & 1) != 0;
  if (!r.ok() || !get_updates(r, m.members)) return std::nullopt;
  return m;
}

std::optional<LeaveMsg> decode_leave(std::string_view p) {
  WireReader r(p);
  LeaveMsg m;
  m.id = r.str(kMaxNodeIdBytes);
  m.incarnation = r.varint();
  if (!r.ok() || m.id.empty()) return std::nullopt;
  return m;
}

}  // namespace radixmesh::mesh
