// Membership: the SWIM failure detector and member list, as a pure state
// machine (no sockets, no clock, no threads) — docs/mesh-protocol.md §4.
//
// What it does, per probe period (probe_interval_ms, scaled by local health):
//   1. ping one member (round robin over a shuffled list of alive/suspect ones);
//   2. no ack within probe_timeout_ms -> ask k other members to ping it
//      (kPingReq); a relay answers with the target's ack or, when the target
//      stays silent, with a nack (Lifeguard);
//   3. no ack, direct or relayed, by the end of the period -> suspect it.
// A suspect becomes dead after a suspicion timeout that grows with log10 of
// the cluster size and shrinks as other members independently confirm the
// suspicion. A member that hears it is suspected (or declared dead) refutes
// by bumping its incarnation. Updates ride on pings and acks (each is
// retransmitted ~retransmit_mult * log10(n) times); a full member list is
// exchanged with one random member now and then (push-pull) and with every
// new connection, which is how a node learns everyone from one seed.
//
// Not flapping: a late direct ack still counts until the period ends; the
// node's own local health score (Lifeguard) rises when its probes fail
// without the relays' nacks arriving or when it has to refute a suspicion,
// and multiplies its probe interval and timeout, so an overloaded observer
// slows down instead of accusing healthy peers.
//
// Partitions heal: dead (not left) members are retried with exponential
// backoff by a push-pull exchange; when it gets through, each side sees
// itself reported dead, refutes with a higher incarnation, and the other side
// accepts the higher incarnation as alive.
//
// Merge rule for an update (id, incarnation i, state s) about another node:
//   alive   accepted if unknown, or i > known incarnation;
//   suspect accepted if known alive and i >= known, or suspect and i > known
//           (same i from another member counts as a confirmation);
//   dead    accepted if not dead/left and i >= known;
//   left    accepted if not left and i >= known.
//
// Threads: not thread-safe; MeshNode calls every method on its io thread.
// Inputs carry the time (`now_ms`, monotonic); randomness comes from `seed`.
// Bounds: members <= max_members, relays <= 256, piggyback <= max_piggyback.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "mesh/membership_codec.h"
#include "mesh/peer_sender.h"

namespace radixmesh::mesh {

struct MembershipConfig {
  uint64_t probe_interval_ms = 1000;  // = --gossip-interval-ms
  uint64_t probe_timeout_ms = 500;
  int indirect_checks = 3;        // k relays per failed probe
  double suspicion_mult = 4;      // min timeout = mult * max(1, log10 n) * interval
  double suspicion_max_mult = 6;  // max timeout = this * min timeout
  int retransmit_mult = 4;        // gossip retransmits = mult * ceil(log10(n + 1))
  int max_local_health = 8;       // scale factor is 1 + score, score < this
  size_t max_piggyback = 8;       // updates per ping/ack
  uint64_t push_pull_interval_ms = 10000;
  uint64_t dead_retry_min_ms = 1000;
  uint64_t dead_retry_max_ms = 30000;
  uint64_t forget_left_after_ms = 15 * 60 * 1000;
  size_t max_members = 1024;
};

struct MemberInfo {
  NodeId id;
  std::string address;
  MemberState state = MemberState::kAlive;
  uint64_t incarnation = 0;
  uint64_t last_seen_ms = 0;    // last direct evidence of life (ack or frame)
  uint64_t state_since_ms = 0;  // when it entered `state`
};

class Membership {
 public:
  // Called on every state change of another member (new members included,
  // old_state == nullopt). Called synchronously from the inputs below.
  using ChangeFn = std::function<void(const MemberInfo&, std::optional<MemberState> old_state)>;

  Membership(MembershipConfig cfg, NodeId self, std::string self_address, uint64_t incarnation,
             PeerSender& net, uint64_t seed, ChangeFn on_change = {});

  // A connection to `id` finished its handshake; `incarnation` is from its
  // hello. Treated as an alive update, then full lists are exchanged.
  void on_connected(const NodeId& id, const std::string& address, uint64_t incarnation,
                    uint64_t now_ms);
  // A SWIM frame from an authenticated peer. False: malformed payload.
  bool on_frame(const NodeId& from, FrameType type, std::string_view payload, uint64_t now_ms);
  // Drives probes, timeouts, push-pull and retries; call every ~50-100 ms.
  void tick(uint64_t now_ms);
  // Graceful leave: tells every reachable member directly (kLeave), stops probing.
  void leave(uint64_t now_ms);

  std::vector<MemberInfo> members() const;  // other members, sorted by id
  const MemberInfo* find(const NodeId& id) const;
  const NodeId& self() const { return self_; }
  uint64_t incarnation() const { return incarnation_; }
  int local_health() const { return health_; }
  bool left() const { return leaving_; }
  // Suspicion timeout for the current cluster size after c confirmations.
  uint64_t suspicion_timeout_ms(size_t confirmations) const;

 private:
  struct Member {
    MemberInfo info;
    uint64_t suspect_since = 0;
    std::set<NodeId> confirmations;
    uint64_t next_retry_ms = 0;  // dead members: next push-pull attempt
    uint64_t retry_backoff_ms = 0;
    uint64_t last_refute_ms = 0;  // last direct refutation sent to it
  };
  struct Probe {
    NodeId target;
    uint64_t seq = 0;
    uint64_t deadline = 0;    // direct ack expected by then
    uint64_t period_end = 0;  // any ack expected by then
    bool indirect_sent = false;
    int expected_nacks = 0;
    int nacks = 0;
  };
  struct Relay {
    NodeId origin;
    NodeId target;
    uint64_t origin_seq = 0;
    uint64_t deadline = 0;
  };

  void apply(const MemberUpdate& u, const NodeId& from, uint64_t now);
  void apply_all(const std::vector<MemberUpdate>& us, const NodeId& from, uint64_t now);
  void refute(uint64_t seen_incarnation);
  void set_state(Member& m, MemberState s, uint64_t inc, uint64_t now, bool is_new);
  void enqueue_broadcast(const MemberUpdate& u);
  std::vector<MemberUpdate> piggyback();
  std::vector<MemberUpdate> full_list() const;
  MemberUpdate self_update() const;
  void send_push_pull(const NodeId& to, bool want_reply);
  void start_probe(uint64_t now);
  void finish_probe(bool acked, uint64_t now);
  void check_suspicions(uint64_t now);
  void retry_dead(uint64_t now);
  void adjust_health(int delta);
  uint64_t scaled(uint64_t ms) const { return ms * static_cast<uint64_t>(1 + health_); }
  size_t live_count() const;  // alive + suspect, self included
  void note_seen(const NodeId& id, uint64_t now);

  MembershipConfig cfg_;
  NodeId self_;
  std::string self_address_;
  uint64_t incarnation_;
  PeerSender& net_;
  std::mt19937_64 rng_;
  ChangeFn on_change_;

  std::map<NodeId, Member> members_;
  struct Broadcast {
    MemberUpdate update;
    int transmits_left = 0;
  };
  std::map<NodeId, Broadcast> broadcasts_;  // newest fact per node
  std::optional<Probe> probe_;
  std::vector<NodeId> probe_order_;
  size_t probe_pos_ = 0;
  uint64_t next_probe_ms_ = 0;
  uint64_t next_push_pull_ms_ = 0;
  std::map<uint64_t, Relay> relays_;  // by the seq of our ping to the target
  uint64_t next_seq_ = 1;
  int health_ = 0;
  bool leaving_ = false;
};

}  // namespace radixmesh::mesh
