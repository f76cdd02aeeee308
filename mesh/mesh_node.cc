#include "mesh/mesh_node.h"

#include "radix/address.h"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/host_name.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <future>

namespace radixmesh::mesh {

namespace asio = boost::asio;
namespace {
constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);
constexpr uint64_t kSeedCheckMs = 5000;
// After kLeave is queued, how long the write loops get to flush it.
constexpr std::chrono::milliseconds kLeaveFlush{200};
}  // namespace

MeshNode::MeshNode(MeshNodeConfig cfg, SyncFactory sync)
    : cfg_(std::move(cfg)), sync_factory_(std::move(sync)) {
  if (cfg_.node_id.empty()) throw std::invalid_argument("mesh: --node-id is required");
  cfg_.membership.probe_interval_ms = std::max<uint64_t>(cfg_.gossip_interval_ms, 50);
  cfg_.membership.probe_timeout_ms =
      std::min(cfg_.membership.probe_timeout_ms, cfg_.membership.probe_interval_ms / 2);
}

MeshNode::~MeshNode() {
  stop();
  *alive_ = false;
}

uint64_t MeshNode::now_ms() const {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0_)
          .count());
}

void MeshNode::start(asio::io_context& io) {
  if (started_) return;
  if (cfg_.tls.enabled()) {  // before anything starts: a bad file leaves nothing to stop
    auto creds = std::make_unique<TlsCredentials>(cfg_.tls);
    if (auto s = creds->load(); !s) throw std::runtime_error("mesh TLS: " + s.error().message);
    tls_ = std::move(creds);
  }
  started_ = true;
  strand_.emplace(asio::make_strand(io));
  incarnation_ =
      cfg_.incarnation
          ? cfg_.incarnation
          : static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                      std::chrono::system_clock::now().time_since_epoch())
                                      .count());
  Transport::Options topts;
  topts.conn.self = NodeIdentity{cfg_.node_id, incarnation_, {}, kProtocolVersion};
  topts.conn.secret = cfg_.secret;
  topts.conn.max_queue_bytes = cfg_.max_queue_bytes;
  topts.log = cfg_.log;
  Transport::Handler& handler = *this;
  transport_ = std::make_unique<Transport>(*strand_, topts, handler, stats_);
  if (tls_) transport_->set_tls(tls_->current());
  port_ = transport_->listen(cfg_.bind_host, cfg_.port);
  if (!cfg_.advertise.empty()) {
    advertise_ = cfg_.advertise;
  } else if (cfg_.bind_host != "0.0.0.0" && cfg_.bind_host != "::") {
    advertise_ = cfg_.bind_host + ":" + std::to_string(port_);
  } else {
    advertise_ = asio::ip::host_name() + ":" + std::to_string(port_);
  }
  transport_->set_advertise(advertise_);
  membership_ = std::make_unique<Membership>(
      cfg_.membership, cfg_.node_id, advertise_, incarnation_, *this,
      std::hash<std::string>{}(cfg_.node_id) ^ incarnation_,
      [this](const MemberInfo& m, std::optional<MemberState> old) { on_member_change(m, old); });
  if (sync_factory_) sync_ = sync_factory_(*this);
  flush_timer_.emplace(*strand_);
  follow_up_timer_.emplace(*strand_);
  {
    std::lock_guard lock(window_mu_);
    window_timer_.emplace(io);
  }
  asio::post(*strand_, [this, alive = alive_] {
    if (!*alive) return;
    transport_->start_accepting();
    dial_seeds();
    asio::co_spawn(*strand_, timer_loop(this, alive), asio::detached);
    if (!cfg_.seeds_dns.empty()) asio::co_spawn(*strand_, resolve_dns(this, alive), asio::detached);
  });
}

bool MeshNode::send(const NodeId& to, FrameType type, std::string payload) {
  if (!transport_ || stopped_) return false;
  if (transport_->send(to, type, payload)) return true;
  if (!transport_->connected(to)) {
    const MemberInfo* m = membership_ ? membership_->find(to) : nullptr;
    if (m && m->state != MemberState::kLeft) transport_->dial(m->address);
  }
  return false;
}

void MeshNode::request_flush() {
  if (cfg_.push_window_ms == 0 || !strand_ || flush_requested_.exchange(true)) return;
  // The caller's thread arms the window's timer itself: the mesh thread
  // sleeps until the window ends instead of waking now only to arm it (a
  // timer scheduled from another thread wakes nobody: the reactor only
  // re-arms its timerfd). One wake-up of the mesh thread per window.
  std::lock_guard lock(window_mu_);
  if (!window_timer_) return;  // stopped
  window_timer_->expires_after(std::chrono::milliseconds(cfg_.push_window_ms));
  window_timer_->async_wait(
      asio::bind_executor(*strand_, [this, alive = alive_](boost::system::error_code ec) {
        // Cleared before the flush drains: a change during it opens the next window.
        flush_requested_.store(false);
        if (*alive && !ec) run_flush();
      }));
}

void MeshNode::arm_flush() {
  if (flush_armed_ || stopped_ || !sync_) return;
  flush_armed_ = true;
  flush_timer_->expires_after(std::chrono::milliseconds(cfg_.push_window_ms));
  flush_timer_->async_wait([this, alive = alive_](boost::system::error_code ec) {
    if (!*alive) return;
    flush_armed_ = false;
    if (ec) return;
    run_flush();
  });
}

void MeshNode::run_flush() {
  if (stopped_ || !sync_) return;
  if (sync_->flush(now_ms())) arm_flush();
}

void MeshNode::arm_follow_up_flush() {
  if (stopped_ || !sync_ || cfg_.push_window_ms == 0) return;
  // Restarted by every flush that asks for it: under load the next window
  // carries what is left, and the follow-up fires only once changes stop.
  const uint64_t ms = std::min(cfg_.push_window_ms * kFollowUpWindows,
                               std::max<uint64_t>(cfg_.gossip_interval_ms, 1));
  const uint64_t generation = ++follow_up_generation_;
  follow_up_timer_->expires_after(std::chrono::milliseconds(ms));
  follow_up_timer_->async_wait([this, alive = alive_, generation](boost::system::error_code ec) {
    if (!*alive || ec || generation != follow_up_generation_) return;
    // A window already armed flushes sooner (and asks again if needed).
    if (flush_armed_ || flush_requested_.load()) return;
    run_flush();
  });
}

void MeshNode::reload_tls() {
  if (!tls_ || !strand_) return;
  asio::post(*strand_, [this, alive = alive_] {
    if (*alive && !stopped_) reload_tls_now(true);
  });
}

void MeshNode::reload_tls_now(bool force) {
  std::string why;
  const auto outcome = force ? tls_->reload(&why) : tls_->poll(&why);
  if (outcome == TlsCredentials::Outcome::kUnchanged) return;
  if (outcome == TlsCredentials::Outcome::kReloaded) {
    stats_->tls_reloads_ok.fetch_add(1, std::memory_order_relaxed);
    transport_->set_tls(tls_->current());
    if (cfg_.log) cfg_.log(false, "mesh: TLS certificates reloaded for new connections");
  } else {
    stats_->tls_reloads_failed.fetch_add(1, std::memory_order_relaxed);
    if (cfg_.log)
      cfg_.log(true, "mesh: TLS reload failed, keeping the previous certificates: " + why);
  }
}

void MeshNode::on_peer_connected(const NodeIdentity& peer) {
  membership_->on_connected(peer.id, peer.address, peer.incarnation, now_ms());
  update_up(peer.id);
  refresh_view();
}

void MeshNode::on_peer_frame(const NodeId& from, FrameType type, std::string_view payload) {
  if (is_membership_frame(type)) {
    if (!membership_->on_frame(from, type, payload, now_ms())) {
      stats_->count_reject(RejectReason::kMalformedPayload);
      transport_->disconnect(from);
    }
    return;
  }
  if (is_sync_frame(type) && sync_) sync_->on_frame(from, type, payload);
}

void MeshNode::on_peer_disconnected(const NodeId& peer) {
  update_up(peer);
  refresh_view();
}

void MeshNode::on_member_change(const MemberInfo& m, std::optional<MemberState>) {
  update_up(m.id);
  if (m.state == MemberState::kLeft && transport_) transport_->disconnect(m.id);
  // A member learned from someone else's list gets a connection now, not when
  // a probe first picks it: deltas are pushed only to connected peers.
  if (m.state == MemberState::kAlive) dial_member(m);
}

void MeshNode::dial_member(const MemberInfo& m) {
  if (stopped_ || !transport_ || m.id == cfg_.node_id || m.address.empty()) return;
  if (!transport_->connected(m.id)) transport_->dial(m.address);
}

void MeshNode::update_up(const NodeId& id) {
  const MemberInfo* m = membership_ ? membership_->find(id) : nullptr;
  const bool up = !stopped_ && transport_ && transport_->connected(id) && m &&
                  (m->state == MemberState::kAlive || m->state == MemberState::kSuspect);
  const bool was = up_.count(id) > 0;
  if (up == was) return;
  if (up) {
    up_.insert(id);
    if (sync_) sync_->on_peer_up(id);
  } else {
    up_.erase(id);
    if (sync_) sync_->on_peer_down(id);
  }
}

void MeshNode::dial_seeds() {
  std::set<std::string> known;
  for (const auto& m : membership_->members())
    if (m.state == MemberState::kAlive || m.state == MemberState::kSuspect) known.insert(m.address);
  for (const auto& s : cfg_.seeds)
    if (s != advertise_ && !known.count(s)) transport_->dial(s);
  for (const auto& m : membership_->members())
    if (m.state == MemberState::kAlive) dial_member(m);
}

asio::awaitable<void> MeshNode::resolve_dns(MeshNode* self, std::shared_ptr<Alive> alive) {
  const auto spec = radix::parse_host_port(self->cfg_.seeds_dns);
  if (!spec) co_return;  // validated with the configuration
  asio::ip::tcp::resolver resolver(*self->strand_);
  auto [ec, results] =
      co_await resolver.async_resolve(spec->host, std::to_string(spec->port), kAwait);
  if (!*alive || ec || self->stopped_) co_return;
  std::set<std::string> known;
  for (const auto& m : self->membership_->members())
    if (m.state == MemberState::kAlive || m.state == MemberState::kSuspect) known.insert(m.address);
  for (const auto& r : results) {
    const auto ep = r.endpoint();
    const std::string a = ep.address().to_string() + ":" + std::to_string(ep.port());
    if (a != self->advertise_ && !known.count(a)) self->transport_->dial(a);
  }
}

asio::awaitable<void> MeshNode::timer_loop(MeshNode* self, std::shared_ptr<Alive> alive) {
  const uint64_t gossip = self->cfg_.membership.probe_interval_ms;
  const auto step = std::chrono::milliseconds(std::clamp<uint64_t>(gossip / 10, 10, 100));
  asio::steady_timer timer(*self->strand_);
  uint64_t next_round = self->now_ms() + gossip;
  uint64_t next_seeds = self->now_ms() + kSeedCheckMs;
  uint64_t next_dns = self->now_ms() + self->cfg_.dns_interval_ms;
  const uint64_t tls_every = std::max<uint64_t>(self->cfg_.tls_reload_interval_ms, 10);
  uint64_t next_tls = self->now_ms() + tls_every;
  for (;;) {
    timer.expires_after(step);
    co_await timer.async_wait(kAwait);
    if (!*alive || self->stopped_) co_return;
    const uint64_t now = self->now_ms();
    self->membership_->tick(now);
    if (now >= next_round) {
      next_round = now + gossip;
      if (self->sync_) self->sync_->tick(now);
    }
    if (now >= next_seeds) {
      next_seeds = now + kSeedCheckMs;
      self->dial_seeds();
    }
    if (self->tls_ && now >= next_tls) {
      next_tls = now + tls_every;
      self->reload_tls_now(false);
    }
    if (!self->cfg_.seeds_dns.empty() && now >= next_dns) {
      next_dns = now + self->cfg_.dns_interval_ms;
      asio::co_spawn(*self->strand_, resolve_dns(self, alive), asio::detached);
    }
    self->refresh_view();
  }
}

void MeshNode::refresh_view() {
  std::vector<PeerView> v;
  const uint64_t now = now_ms();
  for (const auto& m : membership_->members()) {
    PeerView p;
    p.id = m.id;
    p.address = m.address;
    p.state = m.state;
    p.incarnation = m.incarnation;
    p.last_seen_ms_ago = m.last_seen_ms ? now - std::min(now, m.last_seen_ms) : now;
    p.connected = transport_->connected(m.id);
    v.push_back(std::move(p));
  }
  std::lock_guard<std::mutex> lock(view_mu_);
  view_ = std::move(v);
}

std::vector<PeerView> MeshNode::peers() const {
  std::lock_guard<std::mutex> lock(view_mu_);
  return view_;
}

void MeshNode::do_stop() {
  if (stopped_) return;
  if (flush_timer_) flush_timer_->cancel();
  if (follow_up_timer_) follow_up_timer_->cancel();
  {
    std::lock_guard lock(window_mu_);
    window_timer_.reset();  // cancels a pending window; request_flush() no-ops from now
  }
  membership_->leave(now_ms());  // queues kLeave on every live connection
  stopped_ = true;
}

void MeshNode::stop() {
  if (!started_ || !strand_) return;
  if (stop_claimed_.load()) {  // stopped already, or stopping on another thread
    *alive_ = false;
    return;
  }
  auto done = std::make_shared<std::promise<void>>();
  auto fut = done->get_future();
  if (strand_->running_in_this_thread()) {
    if (!stop_claimed_.exchange(true)) {
      do_stop();
      transport_->stop();
    }
    *alive_ = false;
    return;
  }
  asio::co_spawn(
      *strand_,
      [](MeshNode* self, std::shared_ptr<Alive> alive,
         std::shared_ptr<std::promise<void>> done) -> asio::awaitable<void> {
        if (*alive && !self->stop_claimed_.exchange(true)) {
          self->do_stop();
          asio::steady_timer t(*self->strand_, kLeaveFlush);
          co_await t.async_wait(kAwait);
          self->transport_->stop();
        }
        done->set_value();
      }(this, alive_, done),
      asio::detached);
  if (fut.wait_for(cfg_.stop_timeout) != std::future_status::ready) {
    if (!stop_claimed_.exchange(true)) {
      // The strand did not take the stop in time: the io_context is not
      // running (any more), so nothing else touches the transport and it is
      // safe to close it from here. The coroutine, if it ever runs, sees the
      // claim and does nothing.
      stopped_ = true;
      if (transport_) transport_->stop();
    } else {
      // The strand is running the leave right now (a slow machine): let it
      // finish rather than close the transport under it. Bounded: a strand
      // that stops running mid-leave leaves the rest to the destructors.
      (void)fut.wait_for(4 * cfg_.stop_timeout);
    }
  }
  *alive_ = false;
}

}  // namespace radixmesh::mesh
