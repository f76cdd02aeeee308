#include "mesh/peer_connection.h"

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <cstring>
#include <span>
#include <tuple>
#include <vector>

namespace radixmesh::mesh {

namespace asio = boost::asio;
namespace {
constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);
}  // namespace

PeerConnection::PeerConnection(asio::ip::tcp::socket socket, Handshake::Role role,
                               const Options& opts, Owner* owner, std::shared_ptr<MeshStats> stats,
                               std::shared_ptr<TlsContext> tls)
    : socket_(std::move(socket)),
      wake_(socket_.get_executor()),
      hs_timer_(socket_.get_executor()),
      role_(role),
      handshake_(role, opts.self, opts.secret),
      max_queue_bytes_(opts.max_queue_bytes),
      handshake_timeout_(opts.handshake_timeout),
      first_frame_timeout_(role == Handshake::Role::kAcceptor ? opts.first_frame_timeout
                                                              : std::chrono::milliseconds(0)),
      owner_(owner),
      stats_(std::move(stats)),
      tls_ctx_(std::move(tls)) {
  boost::system::error_code ec;
  auto ep = socket_.remote_endpoint(ec);
  if (!ec) remote_ = ep.address().to_string() + ":" + std::to_string(ep.port());
  socket_.set_option(asio::ip::tcp::no_delay(true), ec);
  if (tls_ctx_) tls_ = std::make_unique<TlsStream>(socket_, *tls_ctx_);
}

PeerConnection::~PeerConnection() = default;

void PeerConnection::start() {
  auto self = shared_from_this();
  if (tls_) {
    asio::co_spawn(socket_.get_executor(), tls_handshake(self), asio::detached);
  } else {
    start_loops();
  }
  asio::co_spawn(socket_.get_executor(), handshake_watchdog(self), asio::detached);
  // Handshake frames are written in the oldest version we accept, so a peer
  // one version older or newer can read them.
  for (auto& f : handshake_.start())
    enqueue(static_cast<uint8_t>(f.type),
            encode_frame(f.type, f.payload, handshake_version(kProtocolVersion)));
}

void PeerConnection::start_loops() {
  auto self = shared_from_this();
  asio::co_spawn(socket_.get_executor(), read_loop(self), asio::detached);
  asio::co_spawn(socket_.get_executor(), write_loop(self), asio::detached);
}

void PeerConnection::note_tls_failure(TlsFailure f, const std::string& detail) {
  stats_->tls_failures[static_cast<int>(f)].fetch_add(1, std::memory_order_relaxed);
  if (owner_) owner_->on_tls_failure(shared_from_this(), f, detail);
}

asio::awaitable<void> PeerConnection::tls_handshake(std::shared_ptr<PeerConnection> self) {
  const auto type = self->role_ == Handshake::Role::kDialer ? asio::ssl::stream_base::client
                                                            : asio::ssl::stream_base::server;
  auto [ec] = co_await self->tls_->async_handshake(type, kAwait);
  if (self->closed_) co_return;  // deadline (counted by the watchdog), eviction, stop
  if (ec) {
    self->note_tls_failure(classify_tls_error(ec), ec.message());
    self->close();
    co_return;
  }
  self->tls_ready_ = true;
  self->stats_->tls_handshakes.fetch_add(1, std::memory_order_relaxed);
  // A peer holding a certificate of our CA has spoken: admission evicts
  // silent connections before it (mesh/handshake_admission.h).
  self->heard_from_ = true;
  if (self->owner_) self->owner_->on_first_frame(self);
  if (self->closed_) co_return;
  self->start_loops();
}

void PeerConnection::enqueue(uint8_t type, std::string bytes) {
  stats_->count_sent(type, bytes.size());
  queued_bytes_ += bytes.size();
  queue_.push_back(std::move(bytes));
  wake_.cancel();
}

bool PeerConnection::send(FrameType type, std::string_view payload) {
  if (closed_ || !authenticated_ || payload.size() > kMaxFramePayload) return false;
  const size_t bytes = kFrameHeaderSize + payload.size();
  if (queued_bytes_ + bytes > max_queue_bytes_) {
    stats_->send_queue_full.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  enqueue(static_cast<uint8_t>(type), encode_frame(type, payload, handshake_.version()));
  return true;
}

bool PeerConnection::bytes_waiting() const {
  boost::system::error_code ec;
  return !closed_ && socket_.available(ec) > 0 && !ec;
}

void PeerConnection::close() {
  if (closed_) return;
  closed_ = true;
  boost::system::error_code ec;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  socket_.close(ec);
  wake_.cancel();
  hs_timer_.cancel();
  // The queue is cleared by the write loop when it ends: a write in flight
  // may still be using its head.
  if (Owner* o = owner_) {
    owner_ = nullptr;
    o->on_closed(shared_from_this());
  }
}

void PeerConnection::reject(RejectReason r) {
  stats_->count_reject(r);
  close();
}

bool PeerConnection::handle(FrameType type, std::string_view payload) {
  if (!authenticated_) {
    if (!is_handshake_frame(type)) {
      reject(RejectReason::kUnauthenticated);
      return false;
    }
    auto step = handshake_.on_frame(type, payload);
    for (auto& f : step.out)
      enqueue(static_cast<uint8_t>(f.type),
              encode_frame(f.type, f.payload, handshake_version(kProtocolVersion)));
    if (step.fail) {
      reject(*step.fail);
      return false;
    }
    if (handshake_.done()) {
      authenticated_ = true;
      hs_timer_.cancel();
      if (owner_) owner_->on_authenticated(shared_from_this());
    }
    return !closed_;
  }
  if (is_handshake_frame(type)) return true;  // late duplicates: harmless, ignored
  if (owner_) owner_->on_frame(shared_from_this(), type, payload);
  return !closed_;
}

bool PeerConnection::on_wire_frame(const uint8_t* header16, const FrameHeader& h,
                                   std::string_view payload) {
  if (!checksum_ok(header16, payload)) {
    reject(RejectReason::kBadChecksum);
    return false;
  }
  stats_->count_received(h.raw_type, kFrameHeaderSize + payload.size());
  if (!heard_from_) {
    heard_from_ = true;
    if (owner_) owner_->on_first_frame(shared_from_this());
    if (closed_) return false;
  }
  if (!h.known_type()) {
    stats_->frames_skipped.fetch_add(1, std::memory_order_relaxed);
    return true;
  }
  return handle(h.type(), payload);
}

asio::awaitable<void> PeerConnection::read_loop(std::shared_ptr<PeerConnection> self) {
  // buf[begin, end) holds received bytes not yet dispatched: at most one
  // partial frame once the inner loop has run.
  std::vector<char> buf(kReadBufferBytes);
  size_t begin = 0, end = 0;
  bool stop = false;
  while (!stop && !self->closed_) {
    size_t need = kFrameHeaderSize;  // bytes from `begin` the next frame needs
    while (!self->closed_ && end - begin >= kFrameHeaderSize) {
      const auto* header = reinterpret_cast<const uint8_t*>(buf.data() + begin);
      // The cap is per frame: the handshake may finish in the middle of a read.
      const uint32_t cap = self->authenticated_ ? kMaxFramePayload : kMaxHandshakePayload;
      HeaderParse hp = parse_header(header, kProtocolVersion, cap);
      if (!hp.header) {
        self->reject(hp.reason);
        stop = true;
        break;
      }
      need = kFrameHeaderSize + hp.header->length;  // bounded by cap above
      if (end - begin < need) break;
      const std::string_view payload(buf.data() + begin + kFrameHeaderSize, hp.header->length);
      begin += need;  // the bytes stay in place until the next read
      need = kFrameHeaderSize;
      if (!self->on_wire_frame(header, *hp.header, payload)) {
        stop = true;
        break;
      }
    }
    if (stop || self->closed_) break;
    // Room for the rest of the next frame: move the partial frame to the
    // front, grow for a frame larger than the buffer, shrink once it passed.
    if (begin == end) {
      begin = end = 0;
    } else if (begin > 0 && buf.size() - begin < need) {
      std::memmove(buf.data(), buf.data() + begin, end - begin);
      end -= begin;
      begin = 0;
    }
    if (buf.size() - begin < need) {
      buf.resize(begin + need);
    } else if (buf.size() > kReadBufferBytes && end <= kReadBufferBytes &&
               begin + need <= kReadBufferBytes) {
      buf.resize(kReadBufferBytes);
      buf.shrink_to_fit();
    }
    const auto room = asio::buffer(buf.data() + end, buf.size() - end);
    boost::system::error_code ec;
    size_t n = 0;
    if (self->tls_) {
      std::tie(ec, n) = co_await self->tls_->async_read_some(room, kAwait);
    } else {
      std::tie(ec, n) = co_await self->socket_.async_read_some(room, kAwait);
    }
    if (ec) {
      // With TLS 1.3 a dialer whose certificate the acceptor refused learns
      // it here, from the alert, after its own handshake succeeded.
      if (self->tls_ && !self->authenticated_ && !self->closed_ &&
          ec.category() == asio::error::get_ssl_category())
        self->note_tls_failure(classify_tls_error(ec), ec.message());
      break;
    }
    end += n;
  }
  self->close();
}

asio::awaitable<void> PeerConnection::write_loop(std::shared_ptr<PeerConnection> self) {
  while (!self->closed_) {
    if (self->queue_.empty()) {
      self->wake_.expires_at(asio::steady_timer::time_point::max());
      co_await self->wake_.async_wait(kAwait);  // cancelled by enqueue() or close()
      continue;
    }
    // Write the queued frames in place, several per system call (a push
    // window queues a batch, a load delta and acks for one peer at once);
    // they stay queued (and counted) until written. Frames queued meanwhile
    // are behind them in the deque, which never moves its elements.
    std::array<asio::const_buffer, kMaxFramesPerWrite> bufs;
    size_t count = 0, bytes = 0;
    for (const auto& f : self->queue_) {
      if (count == bufs.size() || (count > 0 && bytes + f.size() > kMaxBytesPerWrite)) break;
      bufs[count++] = asio::buffer(f);
      bytes += f.size();
    }
    boost::system::error_code ec;
    if (self->tls_ && count == 1) {
      std::tie(ec, std::ignore) = co_await asio::async_write(*self->tls_, bufs[0], kAwait);
    } else if (self->tls_) {
      // Several frames: at most kMaxBytesPerWrite together (see above).
      self->tls_out_.clear();
      for (size_t i = 0; i < count; ++i)
        self->tls_out_.append(static_cast<const char*>(bufs[i].data()), bufs[i].size());
      std::tie(ec, std::ignore) =
          co_await asio::async_write(*self->tls_, asio::buffer(self->tls_out_), kAwait);
    } else {
      std::tie(ec, std::ignore) = co_await asio::async_write(
          self->socket_, std::span<const asio::const_buffer>(bufs.data(), count), kAwait);
    }
    if (ec || self->closed_) break;
    self->queued_bytes_ -= bytes;
    for (size_t i = 0; i < count; ++i) self->queue_.pop_front();
  }
  self->close();
  self->queue_.clear();
  self->queued_bytes_ = 0;
  self->tls_out_.clear();
  self->tls_out_.shrink_to_fit();
}

asio::awaitable<void> PeerConnection::handshake_watchdog(std::shared_ptr<PeerConnection> self) {
  const auto deadline = std::chrono::steady_clock::now() + self->handshake_timeout_;
  const auto first = self->first_frame_timeout_;
  if (first.count() > 0 && first < self->handshake_timeout_) {
    // Stage 1: a silent accepted connection goes after first_frame_timeout.
    self->hs_timer_.expires_after(first);
    auto [ec] = co_await self->hs_timer_.async_wait(kAwait);
    if (ec || self->authenticated_ || self->closed_) co_return;  // cancelled: done or closed
    // Silent means nothing arrived: bytes the kernel holds but this busy
    // process has not read yet are the peer's hello, not silence.
    if (!self->heard_from_ && !self->bytes_waiting()) {
      self->stats_->handshake_first_frame_timeouts.fetch_add(1, std::memory_order_relaxed);
      if (self->tls_) self->note_tls_failure(TlsFailure::kTimeout, "no TLS handshake in time");
      self->reject(RejectReason::kUnauthenticated);
      co_return;
    }
  }
  self->hs_timer_.expires_at(deadline);
  auto [ec] = co_await self->hs_timer_.async_wait(kAwait);
  if (!ec && !self->authenticated_ && !self->closed_) {
    self->stats_->handshake_timeouts.fetch_add(1, std::memory_order_relaxed);
    if (self->tls_ && !self->tls_ready_)
      self->note_tls_failure(TlsFailure::kTimeout, "TLS handshake not finished in time");
    self->reject(RejectReason::kUnauthenticated);
  }
}

}  // namespace radixmesh::mesh
