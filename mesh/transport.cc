#include "mesh/transport.h"

#include "radix/address.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace radixmesh::mesh {

namespace asio = boost::asio;
using asio::ip::tcp;
namespace {
constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);

// "host:port" -> (host, port) by the one address parser (radix/address.h).
bool split_address(const std::string& a, std::string& host, std::string& port) {
  auto hp = radix::parse_host_port(a);
  if (!hp) return false;
  host = hp->host;
  port = std::to_string(hp->port);
  return true;
}

uint64_t admission_id(const PeerConnection* c) {
  return static_cast<uint64_t>(reinterpret_cast<uintptr_t>(c));
}
}  // namespace

Transport::Transport(asio::any_io_executor exec, Options opts, Handler& handler,
                     std::shared_ptr<MeshStats> stats)
    : exec_(exec),
      opts_(std::move(opts)),
      handler_(handler),
      stats_(std::move(stats)),
      acceptor_(exec),
      admission_(opts_.admission) {}

Transport::~Transport() {
  stop();
}

uint16_t Transport::listen(const std::string& host, uint16_t port) {
  tcp::endpoint ep(asio::ip::make_address(host), port);
  acceptor_.open(ep.protocol());
  acceptor_.set_option(tcp::acceptor::reuse_address(true));
  acceptor_.bind(ep);
  acceptor_.listen();
  return acceptor_.local_endpoint().port();
}

void Transport::start_accepting() {
  if (acceptor_.is_open()) asio::co_spawn(exec_, accept_loop(this, alive_), asio::detached);
}

asio::awaitable<void> Transport::accept_loop(Transport* self, std::shared_ptr<bool> alive) {
  for (;;) {
    auto [ec, sock] = co_await self->acceptor_.async_accept(kAwait);
    if (!*alive) co_return;
    if (ec) {
      if (ec == asio::error::operation_aborted || !self->acceptor_.is_open()) co_return;
      // Out of descriptors and the like: back off briefly instead of spinning.
      asio::steady_timer t(self->exec_, std::chrono::milliseconds(100));
      co_await t.async_wait(kAwait);
      if (!*alive) co_return;
      continue;
    }
    self->stats_->connections_accepted.fetch_add(1, std::memory_order_relaxed);
    self->admit(std::move(sock));
  }
}

void Transport::admit(tcp::socket s) {
  boost::system::error_code ec;
  const auto remote = s.remote_endpoint(ec);
  if (ec) return;  // already gone; the socket closes here
  auto c = std::make_shared<PeerConnection>(std::move(s), Handshake::Role::kAcceptor, opts_.conn,
                                            this, stats_, tls_);
  const uint64_t id = admission_id(c.get());
  // A candidate whose bytes are waiting in its socket has spoken: only this
  // process has not read them yet (one FIONREAD per candidate looked at).
  const auto spoke = [this](uint64_t candidate) {
    auto it = inbound_.find(candidate);
    return it != inbound_.end() && it->second->bytes_waiting();
  };
  const auto evicted = admission_.admit(id, remote.address().to_string(), spoke);
  pending_.insert(c);
  inbound_[id] = c;
  if (evicted) {
    auto& counter = evicted->cap == HandshakeAdmission::Cap::kPerSource
                        ? stats_->handshakes_evicted_per_source
                        : stats_->handshakes_evicted_global;
    counter.fetch_add(1, std::memory_order_relaxed);
    auto it = inbound_.find(evicted->id);
    if (it != inbound_.end()) {
      auto victim = it->second;
      victim->close();  // on_closed forgets it
    }
  }
  stats_->handshakes_pending.store(admission_.pending(), std::memory_order_relaxed);
  c->start();
}

void Transport::forget_inbound(const std::shared_ptr<PeerConnection>& c) {
  const uint64_t id = admission_id(c.get());
  auto it = inbound_.find(id);
  if (it == inbound_.end() || it->second != c) return;
  inbound_.erase(it);
  admission_.remove(id);
  stats_->handshakes_pending.store(admission_.pending(), std::memory_order_relaxed);
}

void Transport::adopt(tcp::socket s, Handshake::Role role, const std::string& dialed) {
  auto c = std::make_shared<PeerConnection>(std::move(s), role, opts_.conn, this, stats_, tls_);
  pending_.insert(c);
  if (!dialed.empty()) dialed_address_[c] = dialed;
  c->start();
}

void Transport::dial(const std::string& address) {
  if (!*alive_ || address.empty() || self_addresses_.count(address)) return;
  for (const auto& [id, c] : peers_) {
    if (c->peer().address == address) return;
    auto d = dialed_address_.find(c);
    if (d != dialed_address_.end() && d->second == address) return;
  }
  DialState& st = dials_[address];
  const auto now = std::chrono::steady_clock::now();
  if (st.in_flight || now < st.not_before) return;
  st.in_flight = true;
  stats_->connections_dialed.fetch_add(1, std::memory_order_relaxed);
  asio::co_spawn(exec_, dial_one(this, alive_, address), asio::detached);
}

void Transport::dial_failed(const std::string& address) {
  DialState& st = dials_[address];
  st.in_flight = false;
  st.backoff = st.backoff.count() == 0 ? opts_.dial_backoff_min
                                       : std::min(opts_.dial_backoff_max, st.backoff * 2);
  st.not_before = std::chrono::steady_clock::now() + st.backoff;
  stats_->dial_failures.fetch_add(1, std::memory_order_relaxed);
}

asio::awaitable<void> Transport::dial_one(Transport* self, std::shared_ptr<bool> alive,
                                          std::string address) {
  using namespace asio::experimental::awaitable_operators;
  std::string host, port;
  if (!split_address(address, host, port)) {
    if (*alive) self->dial_failed(address);
    co_return;
  }
  tcp::resolver resolver(self->exec_);
  auto [rec, results] = co_await resolver.async_resolve(host, port, kAwait);
  if (!*alive) co_return;
  if (rec) {
    self->dial_failed(address);
    co_return;
  }
  tcp::socket sock(self->exec_);
  asio::steady_timer timer(self->exec_, self->opts_.connect_timeout);
  auto r = co_await (asio::async_connect(sock, results, kAwait) || timer.async_wait(kAwait));
  if (!*alive) co_return;
  if (r.index() != 0 || std::get<0>(std::get<0>(r))) {
    self->dial_failed(address);
    co_return;
  }
  self->dials_[address].in_flight = false;
  self->adopt(std::move(sock), Handshake::Role::kDialer, address);
}

bool Transport::keep_new(const PeerConnection& existing, const PeerConnection& fresh) const {
  if (fresh.peer().incarnation != existing.peer().incarnation)
    return fresh.peer().incarnation > existing.peer().incarnation;
  // Same peer process: both ends keep the connection dialed by the smaller id.
  const NodeId& me = opts_.conn.self.id;
  const NodeId& them = fresh.peer().id;
  const bool want_dialer_me = me < them;
  const bool fresh_dialed_by_me = fresh.role() == Handshake::Role::kDialer;
  return fresh_dialed_by_me == want_dialer_me;
}

void Transport::on_first_frame(const std::shared_ptr<PeerConnection>& c) {
  if (c->role() == Handshake::Role::kAcceptor) admission_.heard_from(admission_id(c.get()));
}

void Transport::on_authenticated(const std::shared_ptr<PeerConnection>& c) {
  pending_.erase(c);
  forget_inbound(c);
  const NodeIdentity& p = c->peer();
  auto d = dialed_address_.find(c);
  if (d != dialed_address_.end()) dials_.erase(d->second);  // success resets the backoff
  if (p.id == opts_.conn.self.id) {
    if (d != dialed_address_.end()) self_addresses_.insert(d->second);
    c->detach();
    dialed_address_.erase(c);
    c->close();
    return;
  }
  auto it = peers_.find(p.id);
  if (it != peers_.end() && !it->second->closed() && !keep_new(*it->second, *c)) {
    c->detach();
    dialed_address_.erase(c);
    c->close();
    return;
  }
  if (it != peers_.end()) {
    auto old = it->second;
    // A new incarnation is a restarted process: it knows nothing the old
    // one was sent, so the peer goes down and up again (outbox, acks and the
    // first-exchange snapshot start over), even when it came back before
    // its old connection was seen closed.
    const bool restarted = old->peer().incarnation != p.incarnation;
    old->detach();
    dialed_address_.erase(old);
    old->close();
    if (restarted) {
      peers_.erase(it);
      handler_.on_peer_disconnected(p.id);
    }
  }
  peers_[p.id] = c;
  handler_.on_peer_connected(p);
}

void Transport::on_frame(const std::shared_ptr<PeerConnection>& c, FrameType type,
                         std::string_view payload) {
  auto it = peers_.find(c->peer().id);
  if (it == peers_.end() || it->second != c) return;  // a losing duplicate
  handler_.on_peer_frame(c->peer().id, type, payload);
}

void Transport::on_closed(const std::shared_ptr<PeerConnection>& c) {
  pending_.erase(c);
  forget_inbound(c);
  dialed_address_.erase(c);
  if (!c->authenticated()) return;
  auto it = peers_.find(c->peer().id);
  if (it == peers_.end() || it->second != c) return;
  peers_.erase(it);
  handler_.on_peer_disconnected(c->peer().id);
}

void Transport::on_tls_failure(const std::shared_ptr<PeerConnection>& c, TlsFailure f,
                               const std::string& detail) {
  if (!opts_.log) return;
  // Inbound peers by address without the port (it changes on every redial).
  auto d = dialed_address_.find(c);
  std::string peer = d != dialed_address_.end() ? d->second : c->remote();
  if (d == dialed_address_.end()) {
    const auto colon = peer.rfind(':');
    if (colon != std::string::npos) peer.resize(colon);
  }
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::steady_clock::now().time_since_epoch())
                       .count();
  const auto suppressed = tls_log_.admit(peer, static_cast<uint64_t>(now));
  if (!suppressed) return;
  std::string line = "mesh: TLS refused " +
                     std::string(d != dialed_address_.end() ? "dial to " : "connection from ") +
                     peer + ": " + to_string(f) + " (" + detail + ")";
  if (*suppressed > 0)
    line += "; " + std::to_string(*suppressed) + " more from this peer since the last line";
  opts_.log(true, line);
}

bool Transport::send(const NodeId& to, FrameType type, std::string_view payload) {
  auto it = peers_.find(to);
  if (it == peers_.end()) return false;
  return it->second->send(type, payload);
}

bool Transport::connected(const NodeId& peer) const {
  return peers_.count(peer) > 0;
}

void Transport::disconnect(const NodeId& peer) {
  auto it = peers_.find(peer);
  if (it != peers_.end()) it->second->close();  // on_closed erases it
}

void Transport::stop() {
  if (!*alive_) return;
  *alive_ = false;
  boost::system::error_code ec;
  acceptor_.close(ec);
  auto peers = std::move(peers_);
  auto pending = std::move(pending_);
  peers_.clear();
  pending_.clear();
  for (const auto& [id, c] : inbound_) admission_.remove(id);
  inbound_.clear();
  stats_->handshakes_pending.store(0, std::memory_order_relaxed);
  dialed_address_.clear();
  for (auto& [id, c] : peers) {
    c->detach();
    c->close();
  }
  for (auto& c : pending) {
    c->detach();
    c->close();
  }
}

}  // namespace radixmesh::mesh
