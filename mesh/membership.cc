#include "mesh/membership.h"

#include <algorithm>
#include <cmath>

namespace radixmesh::mesh {
namespace {
constexpr size_t kMaxRelays = 256;
}  // namespace

Membership::Membership(MembershipConfig cfg, NodeId self, std::string self_address,
                       uint64_t incarnation, PeerSender& net, uint64_t seed, ChangeFn on_change)
    : cfg_(cfg),
      self_(std::move(self)),
      self_address_(std::move(self_address)),
      incarnation_(incarnation),
      net_(net),
      rng_(seed),
      on_change_(std::move(on_change)) {}

// ---- merge ---------------------------------------------------------------

MemberUpdate Membership::self_update() const {
  return MemberUpdate{self_, self_address_, incarnation_,
                      leaving_ ? MemberState::kLeft : MemberState::kAlive};
}

void Membership::refute(uint64_t seen_incarnation) {
  incarnation_ = std::max(incarnation_, seen_incarnation) + 1;
  enqueue_broadcast(self_update());
}

void Membership::set_state(Member& m, MemberState s, uint64_t inc, uint64_t now, bool is_new) {
  const std::optional<MemberState> old =
      is_new ? std::nullopt : std::optional<MemberState>(m.info.state);
  const bool changed = is_new || m.info.state != s;
  m.info.incarnation = inc;
  m.info.state = s;
  if (changed) m.info.state_since_ms = now;
  if (s == MemberState::kSuspect && (changed || is_new)) {
    m.suspect_since = now;
    m.confirmations.clear();
  }
  if (s != MemberState::kSuspect) m.confirmations.clear();
  if (s == MemberState::kDead && changed) {
    m.retry_backoff_ms = cfg_.dead_retry_min_ms;
    m.next_retry_ms = now + m.retry_backoff_ms;
  }
  enqueue_broadcast(MemberUpdate{m.info.id, m.info.address, inc, s});
  if (changed && on_change_) on_change_(m.info, old);
}

void Membership::apply(const MemberUpdate& u, const NodeId& from, uint64_t now) {
  if (u.id == self_) {
    if (leaving_) return;
    if (u.state != MemberState::kAlive) {
      if (u.incarnation >= incarnation_) {
        refute(u.incarnation);
        adjust_health(+1);  // others could not reach us: we may be the slow one
      }
      // Answer the sender directly too (at most once per probe interval):
      // gossip alone may reach it only after its suspicion timeout when our
      // links to it are slow.
      auto it = members_.find(from);
      if (it != members_.end() && now >= it->second.last_refute_ms + cfg_.probe_interval_ms) {
        it->second.last_refute_ms = now;
        net_.send(from, FrameType::kMembership, encode(MembershipMsg{false, {self_update()}}));
      }
    } else if (u.state == MemberState::kAlive && u.incarnation > incarnation_) {
      refute(u.incarnation);
    }
    return;
  }
  auto it = members_.find(u.id);
  if (it == members_.end()) {
    if (u.state == MemberState::kLeft || members_.size() >= cfg_.max_members) return;
    Member m;
    m.info.id = u.id;
    m.info.address = u.address;
    m.info.last_seen_ms = 0;
    auto& ref = members_.emplace(u.id, std::move(m)).first->second;
    set_state(ref, u.state, u.incarnation, now, /*is_new=*/true);
    if (u.state == MemberState::kSuspect && from != self_) ref.confirmations.insert(from);
    return;
  }
  Member& m = it->second;
  const uint64_t known = m.info.incarnation;
  const MemberState cur = m.info.state;
  switch (u.state) {
    case MemberState::kAlive:
      if (u.incarnation > known) {
        if (!u.address.empty()) m.info.address = u.address;
        set_state(m, MemberState::kAlive, u.incarnation, now, false);
      }
      break;
    case MemberState::kSuspect:
      if ((cur == MemberState::kAlive && u.incarnation >= known) ||
          (cur == MemberState::kSuspect && u.incarnation > known)) {
        set_state(m, MemberState::kSuspect, u.incarnation, now, false);
        if (from != self_) m.confirmations.insert(from);
      } else if (cur == MemberState::kSuspect && u.incarnation == known && from != self_) {
        m.confirmations.insert(from);  // independent confirmation: shorter timeout
      }
      break;
    case MemberState::kDead:
      if (cur != MemberState::kDead && cur != MemberState::kLeft && u.incarnation >= known)
        set_state(m, MemberState::kDead, u.incarnation, now, false);
      break;
    case MemberState::kLeft:
      if (cur != MemberState::kLeft && u.incarnation >= known)
        set_state(m, MemberState::kLeft, u.incarnation, now, false);
      break;
  }
}

void Membership::apply_all(const std::vector<MemberUpdate>& us, const NodeId& from, uint64_t now) {
  for (const auto& u : us) apply(u, from, now);
}

void Membership::note_seen(const NodeId& id, uint64_t now) {
  auto it = members_.find(id);
  if (it != members_.end()) it->second.info.last_seen_ms = now;
}

// ---- gossip --------------------------------------------------------------

void Membership::enqueue_broadcast(const MemberUpdate& u) {
  const size_t n = live_count();
  const int limit =
      cfg_.retransmit_mult * std::max(1, static_cast<int>(std::ceil(std::log10(n + 1.0))));
  broadcasts_[u.id] = Broadcast{u, limit};
}

std::vector<MemberUpdate> Membership::piggyback() {
  // Fewest transmissions first would be fairer; the queue is small (one entry
  // per node) so sending the ones with most transmits left is close enough.
  std::vector<std::map<NodeId, Broadcast>::iterator> order;
  for (auto it = broadcasts_.begin(); it != broadcasts_.end(); ++it) order.push_back(it);
  std::sort(order.begin(), order.end(),
            [](auto a, auto b) { return a->second.transmits_left > b->second.transmits_left; });
  std::vector<MemberUpdate> out;
  for (auto it : order) {
    if (out.size() >= cfg_.max_piggyback) break;
    out.push_back(it->second.update);
    if (--it->second.transmits_left <= 0) broadcasts_.erase(it);
  }
  return out;
}

std::vector<MemberUpdate> Membership::full_list() const {
  std::vector<MemberUpdate> out;
  out.reserve(members_.size() + 1);
  out.push_back(self_update());
  for (const auto& [id, m] : members_) {
    if (out.size() >= kMaxUpdatesPerFrame) break;
    out.push_back(MemberUpdate{id, m.info.address, m.info.incarnation, m.info.state});
  }
  return out;
}

void Membership::send_push_pull(const NodeId& to, bool want_reply) {
  net_.send(to, FrameType::kMembership, encode(MembershipMsg{want_reply, full_list()}));
}

// ---- inputs --------------------------------------------------------------

void Membership::on_connected(const NodeId& id, const std::string& address, uint64_t incarnation,
                              uint64_t now) {
  if (id == self_) return;
  apply(MemberUpdate{id, address, incarnation, MemberState::kAlive}, id, now);
  note_seen(id, now);
  if (!leaving_) send_push_pull(id, /*want_reply=*/false);  // both ends send theirs
}

bool Membership::on_frame(const NodeId& from, FrameType type, std::string_view payload,
                          uint64_t now) {
  note_seen(from, now);
  switch (type) {
    case FrameType::kPing: {
      auto m = decode_ping(payload);
      if (!m) return false;
      apply_all(m->updates, from, now);
      if (!leaving_ && (m->target.empty() || m->target == self_))
        net_.send(from, FrameType::kPingAck, encode(PingAckMsg{m->seq, false, piggyback()}));
      return true;
    }
    case FrameType::kPingAck: {
      auto m = decode_ping_ack(payload);
      if (!m) return false;
      apply_all(m->updates, from, now);
      if (probe_ && probe_->seq == m->seq) {
        if (m->nack) {
          ++probe_->nacks;
        } else {
          note_seen(probe_->target, now);
          finish_probe(true, now);
        }
      } else if (auto r = relays_.find(m->seq); r != relays_.end() && !m->nack) {
        net_.send(r->second.origin, FrameType::kPingAck,
                  encode(PingAckMsg{r->second.origin_seq, false, piggyback()}));
        relays_.erase(r);
      }
      return true;
    }
    case FrameType::kPingReq: {
      auto m = decode_ping_req(payload);
      if (!m) return false;
      apply_all(m->updates, from, now);
      if (leaving_) return true;
      if (!members_.count(m->target) || relays_.size() >= kMaxRelays) {
        net_.send(from, FrameType::kPingAck, encode(PingAckMsg{m->seq, true, {}}));
        return true;
      }
      const uint64_t seq = next_seq_++;
      relays_[seq] = Relay{from, m->target, m->seq, now + cfg_.probe_timeout_ms * 4 / 5};
      net_.send(m->target, FrameType::kPing, encode(PingMsg{seq, m->target, piggyback()}));
      return true;
    }
    case FrameType::kMembership: {
      auto m = decode_membership(payload);
      if (!m) return false;
      apply_all(m->members, from, now);
      if (m->want_reply && !leaving_) send_push_pull(from, false);
      return true;
    }
    case FrameType::kLeave: {
      auto m = decode_leave(payload);
      if (!m) return false;
      apply(MemberUpdate{m->id, {}, m->incarnation, MemberState::kLeft}, from, now);
      return true;
    }
    default:
      return true;  // not a membership frame: nothing to do here
  }
}

void Membership::leave(uint64_t now) {
  if (leaving_) return;
  leaving_ = true;
  (void)now;
  const std::string payload = encode(LeaveMsg{self_, incarnation_});
  for (const auto& [id, m] : members_)
    if (m.info.state == MemberState::kAlive || m.info.state == MemberState::kSuspect)
      net_.send(id, FrameType::kLeave, payload);
  probe_.reset();
}

// ---- timers --------------------------------------------------------------

size_t Membership::live_count() const {
  size_t n = 1;
  for (const auto& [id, m] : members_)
    if (m.info.state == MemberState::kAlive || m.info.state == MemberState::kSuspect) ++n;
  return n;
}

uint64_t Membership::suspicion_timeout_ms(size_t confirmations) const {
  const double n = static_cast<double>(live_count());
  const double min_ms = cfg_.suspicion_mult * std::max(1.0, std::log10(n)) *
                        static_cast<double>(cfg_.probe_interval_ms);
  const double max_ms = cfg_.suspicion_max_mult * min_ms;
  const double k = std::max(1, cfg_.indirect_checks);
  const double frac = std::log(static_cast<double>(confirmations) + 1.0) / std::log(k + 1.0);
  return static_cast<uint64_t>(std::max(min_ms, max_ms - (max_ms - min_ms) * frac));
}

void Membership::adjust_health(int delta) {
  health_ = std::clamp(health_ + delta, 0, cfg_.max_local_health - 1);
}

void Membership::start_probe(uint64_t now) {
  // Round robin over a shuffled list, reshuffled each pass (SWIM's bounded
  // detection time: every member is probed once per pass).
  for (int attempts = 0; attempts < 2; ++attempts) {
    while (probe_pos_ < probe_order_.size()) {
      const NodeId& id = probe_order_[probe_pos_++];
      auto it = members_.find(id);
      if (it == members_.end()) continue;
      const MemberState s = it->second.info.state;
      if (s != MemberState::kAlive && s != MemberState::kSuspect) continue;
      Probe p;
      p.target = id;
      p.seq = next_seq_++;
      p.deadline = now + scaled(cfg_.probe_timeout_ms);
      p.period_end = now + scaled(cfg_.probe_interval_ms);
      probe_ = p;
      net_.send(id, FrameType::kPing, encode(PingMsg{p.seq, id, piggyback()}));
      return;
    }
    probe_order_.clear();
    for (const auto& [mid, m] : members_) probe_order_.push_back(mid);
    std::shuffle(probe_order_.begin(), probe_order_.end(), rng_);
    probe_pos_ = 0;
  }
}

void Membership::finish_probe(bool acked, uint64_t now) {
  Probe p = *probe_;
  probe_.reset();
  if (acked) {
    adjust_health(-1);
    return;
  }
  // Lifeguard: relays that did not even send a nack suggest that our own
  // links or scheduling are the problem, not the target.
  if (p.expected_nacks == 0 || p.nacks < p.expected_nacks) adjust_health(+1);
  auto it = members_.find(p.target);
  if (it == members_.end()) return;
  Member& m = it->second;
  if (m.info.state == MemberState::kAlive) {
    set_state(m, MemberState::kSuspect, m.info.incarnation, now, false);
    // Tell the suspect itself, so it can refute straight back to us.
    net_.send(p.target, FrameType::kMembership,
              encode(MembershipMsg{false,
                                   {MemberUpdate{m.info.id, m.info.address, m.info.incarnation,
                                                 MemberState::kSuspect}}}));
  }
}

void Membership::check_suspicions(uint64_t now) {
  for (auto& [id, m] : members_) {
    if (m.info.state != MemberState::kSuspect) continue;
    if (now >= m.suspect_since + suspicion_timeout_ms(m.confirmations.size()))
      set_state(m, MemberState::kDead, m.info.incarnation, now, false);
  }
}

void Membership::retry_dead(uint64_t now) {
  for (auto it = members_.begin(); it != members_.end();) {
    Member& m = it->second;
    if (m.info.state == MemberState::kLeft &&
        now >= m.info.state_since_ms + cfg_.forget_left_after_ms) {
      broadcasts_.erase(it->first);
      it = members_.erase(it);
      continue;
    }
    if (m.info.state == MemberState::kDead && now >= m.next_retry_ms) {
      send_push_pull(it->first, /*want_reply=*/true);
      m.retry_backoff_ms = std::min(cfg_.dead_retry_max_ms, m.retry_backoff_ms * 2);
      m.next_retry_ms = now + m.retry_backoff_ms;
    }
    ++it;
  }
}

void Membership::tick(uint64_t now) {
  if (leaving_) return;
  if (probe_) {
    if (!probe_->indirect_sent && now >= probe_->deadline) {
      probe_->indirect_sent = true;
      std::vector<NodeId> relays;
      for (const auto& [id, m] : members_)
        if (id != probe_->target && m.info.state == MemberState::kAlive) relays.push_back(id);
      std::shuffle(relays.begin(), relays.end(), rng_);
      if (relays.size() > static_cast<size_t>(cfg_.indirect_checks))
        relays.resize(cfg_.indirect_checks);
      const auto* t = find(probe_->target);
      for (const auto& r : relays) {
        net_.send(
            r, FrameType::kPingReq,
            encode(PingReqMsg{probe_->seq, probe_->target, t ? t->address : "", piggyback()}));
      }
      probe_->expected_nacks = static_cast<int>(relays.size());
    }
    if (probe_ && now >= probe_->period_end) finish_probe(false, now);
  }
  if (!probe_ && now >= next_probe_ms_) {
    start_probe(now);
    next_probe_ms_ = now + scaled(cfg_.probe_interval_ms);
  }
  for (auto it = relays_.begin(); it != relays_.end();) {
    if (now >= it->second.deadline) {
      net_.send(it->second.origin, FrameType::kPingAck,
                encode(PingAckMsg{it->second.origin_seq, true, {}}));
      it = relays_.erase(it);
    } else {
      ++it;
    }
  }
  check_suspicions(now);
  if (now >= next_push_pull_ms_) {
    next_push_pull_ms_ = now + cfg_.push_pull_interval_ms;
    std::vector<NodeId> alive;
    for (const auto& [id, m] : members_)
      if (m.info.state == MemberState::kAlive) alive.push_back(id);
    if (!alive.empty()) send_push_pull(alive[rng_() % alive.size()], true);
  }
  retry_dead(now);
}

// ---- queries -------------------------------------------------------------

std::vector<MemberInfo> Membership::members() const {
  std::vector<MemberInfo> out;
  out.reserve(members_.size());
  for (const auto& [id, m] : members_) out.push_back(m.info);
  return out;
}

const MemberInfo* Membership::find(const NodeId& id) const {
  auto it = members_.find(id);
  return it == members_.end() ? nullptr : &it->second.info;
}

}  // namespace radixmesh::mesh
