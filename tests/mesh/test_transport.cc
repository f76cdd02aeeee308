// Transport and MeshNode on loopback (127.0.0.1, ports chosen by the OS):
// discovery through one seed, one connection per pair, authentication,
// garbage and oversized frames rejected while the node keeps serving, sync
// frames delivered, bounded send queue, graceful leave, abrupt death.
#include <doctest/doctest.h>

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <thread>

#include "mesh/frame.h"
#include "mesh/mesh_node.h"

using namespace radixmesh::mesh;
namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

struct RecordingSync : SyncHandler {
  std::set<NodeId> up;
  int downs = 0;
  std::vector<std::pair<NodeId, std::string>> frames;
  int ticks = 0;
  void on_peer_up(const NodeId& p) override { up.insert(p); }
  void on_peer_down(const NodeId& p) override {
    up.erase(p);
    ++downs;
  }
  void on_frame(const NodeId& from, FrameType, std::string_view payload) override {
    frames.emplace_back(from, std::string(payload));
  }
  void tick(uint64_t) override { ++ticks; }
};

struct Cluster {
  asio::io_context io;
  std::vector<std::unique_ptr<MeshNode>> nodes;
  std::map<NodeId, RecordingSync*> syncs;

  MeshNode& add(const NodeId& id, std::vector<std::string> seeds, std::string secret = "k") {
    MeshNodeConfig cfg;
    cfg.node_id = id;
    cfg.bind_host = "127.0.0.1";
    cfg.port = 0;
    cfg.seeds = std::move(seeds);
    cfg.secret = std::move(secret);
    cfg.gossip_interval_ms = 100;
    cfg.stop_timeout = std::chrono::milliseconds(500);
    auto node = std::make_unique<MeshNode>(cfg, [this, id](PeerSender&) {
      auto s = std::make_unique<RecordingSync>();
      syncs[id] = s.get();
      return s;
    });
    node->start(io);
    nodes.push_back(std::move(node));
    return *nodes.back();
  }
  std::string addr(size_t i) { return nodes[i]->advertise(); }

  // Stops every node gracefully while this thread keeps the io_context running.
  ~Cluster() {
    std::atomic<int> stopped{0};
    std::vector<std::thread> ts;
    for (auto& n : nodes)
      ts.emplace_back([&, p = n.get()] {
        p->stop();
        ++stopped;
      });
    run_until([&] { return stopped == static_cast<int>(nodes.size()); }, 5000);
    for (auto& t : ts) t.join();
  }

  bool run_until(const std::function<bool()>& pred, int max_ms) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(max_ms);
    while (std::chrono::steady_clock::now() < end) {
      io.restart();
      io.run_for(std::chrono::milliseconds(10));
      if (pred()) return true;
    }
    return false;
  }
  void run_for(int ms) {
    run_until([] { return false; }, ms);
  }
};

std::optional<PeerView> view(const MeshNode& n, const NodeId& id) {
  for (const auto& p : n.peers())
    if (p.id == id) return p;
  return std::nullopt;
}
bool sees_alive(const MeshNode& n, const NodeId& id) {
  auto v = view(n, id);
  return v && v->state == MemberState::kAlive && v->connected;
}

// A raw TCP client that writes bytes and reports whether the server closed.
bool server_closes_after(asio::io_context& io, Cluster& c, uint16_t port,
                         const std::string& bytes) {
  tcp::socket s(io);
  s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  asio::write(s, asio::buffer(bytes));
  s.non_blocking(true);
  bool closed = false;
  c.run_until(
      [&] {
        char buf[256];
        boost::system::error_code ec;
        s.read_some(asio::buffer(buf), ec);
        if (ec && ec != asio::error::would_block) closed = true;
        return closed;
      },
      3000);
  return closed;
}

}  // namespace

TEST_CASE("three nodes find each other through one seed and deliver sync frames") {
  Cluster c;
  auto& a = c.add("a", {});
  auto& b = c.add("b", {c.addr(0)});
  auto& n3 = c.add("c", {c.addr(1)});  // knows only b
  REQUIRE(c.run_until(
      [&] {
        return sees_alive(a, "b") && sees_alive(a, "c") && sees_alive(b, "a") &&
               sees_alive(b, "c") && sees_alive(n3, "a") && sees_alive(n3, "b");
      },
      5000));
  CHECK(c.syncs["a"]->up == std::set<NodeId>{"b", "c"});
  CHECK(c.syncs["c"]->up == std::set<NodeId>{"a", "b"});
  CHECK(view(a, "c")->address == c.addr(2));
  // One connection per pair even though everyone dialed everyone.
  c.run_for(500);
  for (auto& n : c.nodes) CHECK(n->peers().size() == 2);
  for (auto& n : c.nodes) CHECK(n->connection_count() == 2);

  // A sync frame sent through the PeerSender arrives at the sync engine.
  asio::post(c.io, [&] { CHECK(a.send("c", FrameType::kDeltaBatch, "delta-bytes")); });
  REQUIRE(c.run_until([&] { return !c.syncs["c"]->frames.empty(); }, 2000));
  CHECK(c.syncs["c"]->frames[0] == std::make_pair(NodeId("a"), std::string("delta-bytes")));
  CHECK(c.syncs["a"]->ticks > 0);
  CHECK(a.stats().frames_sent[static_cast<int>(FrameType::kDeltaBatch)] == 1);
  CHECK(a.stats().frames_sent[static_cast<int>(FrameType::kPing)] > 0);
  CHECK(a.incarnation() > 1'600'000'000'000ull);  // wall-clock based
}

TEST_CASE("a node with the wrong secret is refused and learns nothing") {
  Cluster c;
  auto& a = c.add("a", {}, "right");
  auto& b = c.add("b", {c.addr(0)}, "right");
  REQUIRE(c.run_until([&] { return sees_alive(a, "b"); }, 5000));
  auto& x = c.add("intruder", {c.addr(0), c.addr(1)}, "wrong");
  auto& y = c.add("nosecret", {c.addr(0)}, "");
  REQUIRE(c.run_until([&] { return a.stats().rejects(RejectReason::kAuthFailed) >= 2; }, 5000));
  c.run_for(500);
  CHECK(x.peers().empty());
  CHECK(y.peers().empty());
  CHECK_FALSE(view(a, "intruder"));
  CHECK_FALSE(view(b, "intruder"));
  CHECK(c.syncs["intruder"]->up.empty());
  CHECK(sees_alive(a, "b"));  // the cluster itself is unaffected
}

TEST_CASE("garbage, oversized and out-of-order frames are rejected; the node keeps serving") {
  Cluster c;
  auto& a = c.add("a", {});
  const uint16_t port = a.port();
  CHECK(server_closes_after(c.io, c, port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  CHECK(a.stats().rejects(RejectReason::kBadMagic) == 1);

  std::string big = encode_frame(FrameType::kHello, "");
  const uint32_t huge = 64u << 20;
  for (int i = 0; i < 4; ++i) big[8 + i] = static_cast<char>((huge >> (8 * i)) & 0xff);
  CHECK(server_closes_after(c.io, c, port, big));
  CHECK(a.stats().rejects(RejectReason::kTooLarge) == 1);

  // A perfectly framed sync frame before any handshake.
  CHECK(server_closes_after(c.io, c, port, encode_frame(FrameType::kDeltaBatch, "x")));
  CHECK(a.stats().rejects(RejectReason::kUnauthenticated) == 1);

  std::string bad_sum = encode_frame(FrameType::kHello, "abc");
  bad_sum.back() ^= 1;
  CHECK(server_closes_after(c.io, c, port, bad_sum));
  CHECK(a.stats().rejects(RejectReason::kBadChecksum) == 1);

  CHECK(server_closes_after(c.io, c, port, encode_frame(FrameType::kHello, "x", 9)));
  CHECK(a.stats().rejects(RejectReason::kBadVersion) == 1);

  CHECK(server_closes_after(c.io, c, port, encode_frame(FrameType::kHello, "\x01")));
  CHECK(a.stats().rejects(RejectReason::kMalformedPayload) == 1);

  // Still serving: a real peer joins afterwards.
  auto& b = c.add("b", {c.addr(0)});
  CHECK(c.run_until([&] { return sees_alive(a, "b") && sees_alive(b, "a"); }, 5000));
}

TEST_CASE("unknown frame types from an authenticated peer are skipped, not fatal") {
  // Handshake by hand over a raw socket, then send a type from the future.
  Cluster c;
  auto& a = c.add("a", {});
  tcp::socket s(c.io);
  s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), a.port()));
  Handshake hs(Handshake::Role::kDialer, NodeIdentity{"raw", 1, "127.0.0.1:1", kProtocolVersion},
               "k");
  auto send = [&](const std::vector<OutFrame>& fs) {
    for (const auto& f : fs) asio::write(s, asio::buffer(encode_frame(f.type, f.payload)));
  };
  auto recv = [&]() {
    std::array<uint8_t, kFrameHeaderSize> h{};
    std::string p;
    std::atomic<bool> got{false};  // written by the reader thread
    std::thread reader([&] {
      asio::read(s, asio::buffer(h));
      auto hp = parse_header(h.data());
      p.assign(hp.header->length, '\0');
      asio::read(s, asio::buffer(p));
      got = true;
    });
    c.run_until([&] { return got.load(); }, 3000);
    reader.join();
    return std::make_pair(static_cast<FrameType>(h[5]), p);
  };
  send(hs.start());
  auto [t1, p1] = recv();
  REQUIRE(t1 == FrameType::kChallenge);
  send(hs.on_frame(t1, p1).out);
  auto [t2, p2] = recv();
  REQUIRE(t2 == FrameType::kAuthOk);
  REQUIRE_FALSE(hs.on_frame(t2, p2).fail);
  REQUIRE(hs.done());
  asio::write(s, asio::buffer(encode_frame_raw(77, "from the future", kProtocolVersion)));
  asio::write(s, asio::buffer(encode_frame(FrameType::kDeltaBatch, "after")));
  REQUIRE(c.run_until([&] { return !c.syncs["a"]->frames.empty(); }, 3000));
  CHECK(c.syncs["a"]->frames[0].second == "after");
  CHECK(a.stats().frames_skipped == 1);
}

TEST_CASE(
    "frames are read through one buffer: many per read, split, larger than it, then garbage") {
  Cluster c;
  auto& a = c.add("a", {});
  tcp::socket s(c.io);
  s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), a.port()));
  Handshake hs(Handshake::Role::kDialer, NodeIdentity{"raw", 1, "127.0.0.1:1", kProtocolVersion},
               "k");
  auto recv = [&]() {
    std::array<uint8_t, kFrameHeaderSize> h{};
    std::string p;
    std::atomic<bool> got{false};  // written by the reader thread
    std::thread reader([&] {
      asio::read(s, asio::buffer(h));
      auto hp = parse_header(h.data());
      p.assign(hp.header->length, '\0');
      asio::read(s, asio::buffer(p));
      got = true;
    });
    c.run_until([&] { return got.load(); }, 3000);
    reader.join();
    return std::make_pair(static_cast<FrameType>(h[5]), p);
  };
  // The whole hello in one write with the start of nothing else; then the
  // handshake answer and the first sync frames in one write: the cap changes
  // from the handshake's to the full one in the middle of a read.
  std::string hello;
  for (const auto& f : hs.start()) hello += encode_frame(f.type, f.payload);
  asio::write(s, asio::buffer(hello));
  auto [t1, p1] = recv();
  REQUIRE(t1 == FrameType::kChallenge);
  std::string burst;
  for (const auto& f : hs.on_frame(t1, p1).out) burst += encode_frame(f.type, f.payload);
  burst += encode_frame(FrameType::kDeltaBatch, "first");
  asio::write(s, asio::buffer(burst));
  auto [t2, p2] = recv();
  REQUIRE(t2 == FrameType::kAuthOk);
  REQUIRE_FALSE(hs.on_frame(t2, p2).fail);
  REQUIRE(hs.done());
  auto& got = c.syncs["a"]->frames;
  REQUIRE(c.run_until([&] { return got.size() == 1; }, 3000));
  CHECK(got[0].second == "first");
  got.clear();
  // Many frames in one write, an unknown type among them.
  std::string many;
  for (int i = 0; i < 50; ++i)
    many += encode_frame(FrameType::kDeltaBatch, "m" + std::to_string(i));
  many += encode_frame_raw(77, "from the future", kProtocolVersion);
  const std::string big(300'000, 'b');  // larger than the 64 KiB read buffer
  many += encode_frame(FrameType::kDeltaBatch, big);
  many += encode_frame(FrameType::kDeltaBatch, "after big");
  asio::write(s, asio::buffer(many));
  REQUIRE(c.run_until([&] { return got.size() == 52; }, 3000));
  for (int i = 0; i < 50; ++i) CHECK(got[i].second == "m" + std::to_string(i));
  CHECK(got[50].second == big);
  CHECK(got[51].second == "after big");
  CHECK(a.stats().frames_skipped == 1);
  // One frame a byte at a time: nothing until its last byte, then exactly it.
  const std::string split = encode_frame(FrameType::kDeltaBatch, "split");
  for (size_t i = 0; i < split.size(); ++i) {
    asio::write(s, asio::buffer(split.data() + i, 1));
    c.run_for(i + 1 == split.size() ? 0 : 2);
    if (i + 1 < split.size()) CHECK(got.size() == 52);
  }
  REQUIRE(c.run_until([&] { return got.size() == 53; }, 3000));
  CHECK(got[52].second == "split");
  // A good frame followed in the same write by a corrupted one: the good one
  // is delivered, the bad one closes the connection, the node keeps serving.
  std::string tail = encode_frame(FrameType::kDeltaBatch, "last good");
  std::string bad = encode_frame(FrameType::kDeltaBatch, "corrupt");
  bad.back() ^= 1;
  tail += bad + encode_frame(FrameType::kDeltaBatch, "never");
  asio::write(s, asio::buffer(tail));
  REQUIRE(c.run_until([&] { return a.stats().rejects(RejectReason::kBadChecksum) == 1; }, 3000));
  c.run_for(50);
  REQUIRE(got.size() == 54);
  CHECK(got[53].second == "last good");
  auto& b = c.add("b", {c.addr(0)});
  CHECK(c.run_until([&] { return sees_alive(a, "b") && sees_alive(b, "a"); }, 5000));
}

TEST_CASE("the per-peer send queue is bounded in bytes") {
  Cluster c;
  auto& a = c.add("a", {});
  auto& b = c.add("b", {c.addr(0)});
  (void)b;
  REQUIRE(c.run_until([&] { return sees_alive(a, "b"); }, 5000));
  int accepted = 0, refused = 0;
  // All in one handler: the write loop cannot drain in between.
  asio::post(c.io, [&] {
    const std::string chunk(1u << 20, 'z');
    for (int i = 0; i < 40; ++i)
      (a.send("b", FrameType::kSnapshotChunk, chunk) ? accepted : refused)++;
  });
  c.run_for(100);
  CHECK(accepted == 15);  // 16 MiB default bound, 1 MiB + header each
  CHECK(refused == 25);
  CHECK(a.stats().send_queue_full == 25);
}

TEST_CASE("graceful stop is seen as left; an abrupt death as dead") {
  Cluster c;
  auto& a = c.add("a", {});
  auto& b = c.add("b", {c.addr(0)});
  c.add("c", {c.addr(0)});
  REQUIRE(c.run_until([&] { return sees_alive(a, "b") && sees_alive(a, "c"); }, 5000));

  // Graceful: stop() from another thread while the io_context runs here.
  std::thread stopper([&] { b.stop(); });
  const bool left = c.run_until(
      [&] {
        auto v = view(a, "b");
        return v && v->state == MemberState::kLeft;
      },
      3000);
  stopper.join();
  CHECK(left);
  CHECK(c.syncs["a"]->up.count("b") == 0);

  // Abrupt: a node on its own io_context that simply stops running.
  asio::io_context other;
  MeshNodeConfig cfg;
  cfg.node_id = "d";
  cfg.bind_host = "127.0.0.1";
  cfg.seeds = {c.addr(0)};
  cfg.secret = "k";
  cfg.gossip_interval_ms = 100;
  cfg.stop_timeout = std::chrono::milliseconds(10);
  auto d = std::make_unique<MeshNode>(cfg);
  d->start(other);
  std::thread runner([&] { other.run_for(std::chrono::milliseconds(1500)); });
  const bool joined = c.run_until([&] { return sees_alive(a, "d"); }, 1400);
  runner.join();
  REQUIRE(joined);
  const auto t0 = std::chrono::steady_clock::now();
  const bool dead = c.run_until(
      [&] {
        auto v = view(a, "d");
        return v && v->state == MemberState::kDead;
      },
      10000);
  CHECK(dead);
  MESSAGE("frozen node declared dead after "
          << std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::steady_clock::now() - t0)
                 .count()
          << " ms at a 100 ms gossip interval");
  // The live node c stays (or, if a stall of this one-thread cluster under
  // a sanitizer made a suspect it, becomes again by refuting) alive.
  if (view(a, "c")->state != MemberState::kAlive) {
    MESSAGE("c was " << static_cast<int>(view(a, "c")->state)
                     << " in a's view; waiting for c to refute");
  }
  CHECK(c.run_until([&] { return view(a, "c")->state == MemberState::kAlive; }, 3000));
  d.reset();
}

TEST_CASE("a restarted node (same id, new address) is alive again with a higher incarnation") {
  Cluster c;
  auto& a = c.add("a", {});
  c.add("b", {c.addr(0)});
  c.add("c", {c.addr(0)});
  REQUIRE(c.run_until([&] { return sees_alive(a, "b") && sees_alive(a, "c"); }, 5000));
  const uint64_t old_inc = view(a, "b")->incarnation;
  const std::string old_addr = view(a, "b")->address;
  // Crash b: stop() while no thread runs the io_context times out before the
  // leave is written and force-closes the sockets. Then b starts a new life.
  c.nodes[1]->stop();
  std::this_thread::sleep_for(std::chrono::milliseconds(5));  // a later wall clock
  auto& b2 = c.add("b", {c.addr(2)});                         // seeds through c this time
  REQUIRE(c.run_until(
      [&] {
        auto v = view(a, "b");
        return v && v->state == MemberState::kAlive && v->incarnation > old_inc && v->connected;
      },
      5000));
  CHECK(view(a, "b")->address == b2.advertise());
  CHECK(view(a, "b")->address != old_addr);
  // b2 learns of a through c and its own probes: a little later than a of b2.
  CHECK(c.run_until([&] { return sees_alive(b2, "a"); }, 5000));
}

TEST_CASE("seeds from DNS: NAME:PORT is resolved and every address dialed") {
  Cluster c;
  auto& a = c.add("a", {});
  MeshNodeConfig cfg;
  cfg.node_id = "b";
  cfg.bind_host = "127.0.0.1";
  cfg.seeds_dns = "localhost:" + std::to_string(a.port());
  cfg.secret = "k";
  cfg.gossip_interval_ms = 100;
  cfg.stop_timeout = std::chrono::milliseconds(500);
  c.nodes.push_back(std::make_unique<MeshNode>(cfg));
  auto& b = *c.nodes.back();
  b.start(c.io);
  CHECK(c.run_until([&] { return sees_alive(a, "b") && sees_alive(b, "a"); }, 5000));
}

namespace {

// Connections that never send a byte, from several loopback source
// addresses, reopened as soon as the node closes them (issue 17, item 4).
struct SilentFlood {
  asio::io_context& io;
  uint16_t port;
  std::vector<std::unique_ptr<tcp::socket>> socks;
  std::vector<std::string> sources;
  size_t reconnects = 0;

  SilentFlood(asio::io_context& io, uint16_t port, size_t n_sources, size_t per_source)
      : io(io), port(port) {
    for (size_t s = 0; s < n_sources; ++s)
      for (size_t i = 0; i < per_source; ++i) {
        sources.push_back("127.0.1." + std::to_string(s + 1));
        socks.push_back(open(sources.back()));
      }
  }
  std::unique_ptr<tcp::socket> open(const std::string& source) {
    auto s = std::make_unique<tcp::socket>(io);
    boost::system::error_code ec;
    s->open(tcp::v4(), ec);
    s->bind(tcp::endpoint(asio::ip::make_address(source), 0), ec);
    s->connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), ec);
    s->non_blocking(true, ec);
    return s;
  }
  // Reopens every connection the node has closed; returns how many.
  size_t refill() {
    size_t n = 0;
    for (size_t i = 0; i < socks.size(); ++i) {
      char buf[64];
      boost::system::error_code ec;
      socks[i]->read_some(asio::buffer(buf), ec);
      if (ec == asio::error::would_block) continue;
      socks[i] = open(sources[i]);
      ++n;
    }
    reconnects += n;
    return n;
  }
};

}  // namespace

TEST_CASE("a silent accepted connection is closed after the first-frame deadline (1 s, not 5 s)") {
  Cluster c;
  auto& a = c.add("a", {});
  tcp::socket s(c.io);
  s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), a.port()));
  s.non_blocking(true);
  const auto t0 = std::chrono::steady_clock::now();
  bool closed = false;
  REQUIRE(c.run_until(
      [&] {
        char buf[16];
        boost::system::error_code ec;
        s.read_some(asio::buffer(buf), ec);
        closed = ec && ec != asio::error::would_block;
        return closed;
      },
      4000));  // the whole-handshake deadline is 5 s
  CHECK(std::chrono::steady_clock::now() - t0 >= std::chrono::milliseconds(900));
  CHECK(a.stats().handshake_first_frame_timeouts == 1);
  CHECK(a.stats().rejects(RejectReason::kUnauthenticated) == 1);
}

TEST_CASE("a flood of silent reconnecting connections does not keep a new peer out") {
  Cluster c;
  auto& a = c.add("a", {});
  // 10 sources x 12 connections: above the per-source cap (8) and, in total,
  // above the global cap (64).
  SilentFlood flood(c.io, a.port(), 10, 12);
  c.run_until(
      [&] {
        flood.refill();
        return false;
      },
      300);
  auto& b = c.add("b", {c.addr(0)});
  const auto t0 = std::chrono::steady_clock::now();
  const bool joined = c.run_until(
      [&] {
        flood.refill();
        return sees_alive(a, "b") && sees_alive(b, "a");
      },
      4000);  // before the fix: shut out for as long as the flood lasts
  MESSAGE("joined during the flood after " << std::chrono::duration_cast<std::chrono::milliseconds>(
                                                  std::chrono::steady_clock::now() - t0)
                                                  .count()
                                           << " ms; " << flood.reconnects << " flood reconnects");
  CHECK(joined);
  const auto& s = a.stats();
  CHECK(s.handshakes_evicted_per_source > 0);
  CHECK(s.handshakes_evicted_global + s.handshakes_evicted_per_source +
            s.handshake_first_frame_timeouts >
        0);
  CHECK(s.handshakes_pending <= 64);
}

namespace {

// Records when the node ran its push flushes; asks for a follow-up flush
// (as the router's load hook does while requests are in flight) when told to.
struct FlushRecorder : RecordingSync {
  MeshNode* node = nullptr;
  std::vector<std::chrono::steady_clock::time_point> flushes;
  int follow_ups_to_ask = 0;
  bool flush(uint64_t) override {
    flushes.push_back(std::chrono::steady_clock::now());
    if (follow_ups_to_ask > 0 && node) {
      --follow_ups_to_ask;
      node->arm_follow_up_flush();
    }
    return false;
  }
};

}  // namespace

TEST_CASE("push flushes: a window armed from a router thread, one flush per window, follow-ups") {
  using Ms = std::chrono::milliseconds;
  asio::io_context io;
  MeshNodeConfig cfg;
  cfg.node_id = "solo";
  cfg.bind_host = "127.0.0.1";
  cfg.secret = "k";
  cfg.push_window_ms = 300;
  cfg.gossip_interval_ms = 60000;  // the follow-up is 10 windows, not capped by a round
  cfg.stop_timeout = Ms(100);
  FlushRecorder* rec = nullptr;
  MeshNode node(cfg, [&](PeerSender&) {
    auto s = std::make_unique<FlushRecorder>();
    rec = s.get();
    return s;
  });
  node.start(io);
  REQUIRE(rec != nullptr);
  rec->node = &node;
  rec->follow_ups_to_ask = 2;
  auto run_until = [&](const std::function<bool()>& pred, int max_ms) {
    const auto end = std::chrono::steady_clock::now() + Ms(max_ms);
    while (std::chrono::steady_clock::now() < end) {
      io.restart();
      io.run_for(Ms(5));
      if (pred()) return true;
    }
    return false;
  };
  // Changes on a thread that does not run the mesh's io_context, as the
  // router's request threads make them: several calls, one window.
  auto request_from_another_thread = [&] {
    const auto asked = std::chrono::steady_clock::now();
    std::thread t([&] {
      for (int i = 0; i < 3; ++i) node.request_flush();
    });
    t.join();
    return asked;
  };
  run_until([] { return false; }, 50);  // started

  const auto asked = request_from_another_thread();
  REQUIRE(run_until([&] { return rec->flushes.size() == 1; }, 5000));
  CHECK(rec->flushes[0] - asked >= Ms(295));
  run_until([] { return false; }, 1000);
  CHECK(rec->flushes.size() == 1);

  // Both flushes ask for a follow-up; it comes 10 windows (3 s) after the
  // latest, not the first: each ask restarts the wait.
  request_from_another_thread();
  REQUIRE(run_until([&] { return rec->flushes.size() == 2; }, 5000));
  REQUIRE(run_until([&] { return rec->flushes.size() == 3; }, 10000));
  CHECK(rec->flushes[2] - rec->flushes[1] >= Ms(2990));
  run_until([] { return false; }, 200);
  CHECK(rec->flushes.size() == 3);

  // Stopped: a change is dropped, never flushed.
  node.stop();
  node.request_flush();
  run_until([] { return false; }, 400);
  CHECK(rec->flushes.size() == 3);
}
