// Mesh mutual TLS on loopback with certificates generated at test time
// (tests/mesh/tls_fixture.h): members of one CA converge and exchange
// frames over TLS; a node with a certificate of another CA, a plain mesh
// node and raw bytes are refused before any mesh frame and counted, while
// the members keep serving; a TLS dialer to a plain node fails cleanly;
// credentials reload on change and keep the old set on a bad one.
#include <doctest/doctest.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <thread>

#include "mesh/frame.h"
#include "mesh/log_limiter.h"
#include "mesh/mesh_node.h"
#include "tests/mesh/tls_fixture.h"

using namespace radixmesh::mesh;
using radixmesh::mesh::test::TlsFixture;
namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

struct FrameSink : SyncHandler {
  std::vector<std::string> frames;
  void on_peer_up(const NodeId&) override {}
  void on_peer_down(const NodeId&) override {}
  void on_frame(const NodeId&, FrameType, std::string_view payload) override {
    frames.emplace_back(payload);
  }
  void tick(uint64_t) override {}
};

struct TlsCluster {
  asio::io_context io;
  std::vector<std::unique_ptr<MeshNode>> nodes;
  std::map<NodeId, FrameSink*> syncs;
  std::map<NodeId, std::vector<std::string>> logs;

  MeshNode& add(const NodeId& id, std::vector<std::string> seeds, TlsFiles tls,
                uint64_t reload_ms = 5000) {
    MeshNodeConfig cfg;
    cfg.node_id = id;
    cfg.bind_host = "127.0.0.1";
    cfg.seeds = std::move(seeds);
    cfg.secret = "k";
    cfg.gossip_interval_ms = 100;
    cfg.stop_timeout = std::chrono::milliseconds(500);
    cfg.tls = std::move(tls);
    cfg.tls_reload_interval_ms = reload_ms;
    cfg.log = [this, id](bool, const std::string& line) { logs[id].push_back(line); };
    auto node = std::make_unique<MeshNode>(cfg, [this, id](PeerSender&) {
      auto s = std::make_unique<FrameSink>();
      syncs[id] = s.get();
      return s;
    });
    node->start(io);
    nodes.push_back(std::move(node));
    return *nodes.back();
  }
  std::string addr(size_t i) { return nodes[i]->advertise(); }

  ~TlsCluster() {
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

bool sees_alive(const MeshNode& n, const NodeId& id) {
  for (const auto& p : n.peers())
    if (p.id == id) return p.state == MemberState::kAlive && p.connected;
  return false;
}
bool knows(const MeshNode& n, const NodeId& id) {
  for (const auto& p : n.peers())
    if (p.id == id) return true;
  return false;
}
uint64_t failures(const MeshNode& n, TlsFailure f) {
  return n.stats().tls_failures[static_cast<int>(f)].load();
}
uint64_t all_failures(const MeshNode& n) {
  uint64_t s = 0;
  for (const auto& c : n.stats().tls_failures) s += c.load();
  return s;
}

// Writes raw bytes to a port; true when the server closes the connection.
bool server_closes_after(TlsCluster& c, uint16_t port, const std::string& bytes) {
  tcp::socket s(c.io);
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
      10000);
  return closed;
}

}  // namespace

TEST_CASE("mesh TLS: members of one CA converge and exchange frames over TLS") {
  TlsFixture certs;
  TlsCluster c;
  auto& a = c.add("a", {}, certs.leaf("a", "mesh"));
  auto& b = c.add("b", {c.addr(0)}, certs.leaf("b", "mesh"));
  auto& n3 = c.add("c", {c.addr(1)}, certs.leaf("c", "mesh"));
  REQUIRE(c.run_until(
      [&] {
        return sees_alive(a, "b") && sees_alive(a, "c") && sees_alive(b, "c") &&
               sees_alive(n3, "a");
      },
      15000));
  asio::post(c.io, [&] { CHECK(a.send("c", FrameType::kDeltaBatch, "over-tls")); });
  REQUIRE(c.run_until([&] { return !c.syncs["c"]->frames.empty(); }, 10000));
  CHECK(c.syncs["c"]->frames[0] == "over-tls");
  // A frame larger than one TLS record (16 KiB) and than the read buffer.
  const std::string big(200 * 1024, 'z');
  asio::post(c.io, [&] { CHECK(b.send("a", FrameType::kDeltaBatch, big)); });
  REQUIRE(c.run_until([&] { return !c.syncs["a"]->frames.empty(); }, 10000));
  CHECK(c.syncs["a"]->frames[0] == big);
  for (auto& n : c.nodes) {
    CHECK(n->stats().tls_handshakes.load() >= 2);
    CHECK(all_failures(*n) == 0);
  }
}

TEST_CASE("mesh TLS: a node with a certificate of another CA is refused and counted") {
  TlsFixture certs;
  TlsCluster c;
  auto& a = c.add("a", {}, certs.leaf("a", "mesh"));
  auto& b = c.add("b", {c.addr(0)}, certs.leaf("b", "mesh"));
  REQUIRE(c.run_until([&] { return sees_alive(a, "b") && sees_alive(b, "a"); }, 15000));
  // Its own CA: it trusts nobody in the mesh and nobody trusts it.
  auto& x = c.add("intruder", {c.addr(0), c.addr(1)}, certs.leaf("x", "other"));
  // The members see the intruder's alert (peer_refused: it refused their
  // certificate). A certificate of another CA that trusts the mesh CA: the
  // members refuse it themselves (bad_certificate).
  auto& y = c.add("sly", {c.addr(0)}, certs.leaf("y", "other", "mesh"));
  REQUIRE(c.run_until(
      [&] {
        return failures(a, TlsFailure::kBadCertificate) >= 1 &&
               failures(a, TlsFailure::kPeerRefused) >= 1 &&
               failures(b, TlsFailure::kPeerRefused) >= 1 && all_failures(x) >= 2 &&
               all_failures(y) >= 1;
      },
      15000));
  c.run_for(300);
  CHECK(x.peers().empty());
  CHECK(y.peers().empty());
  CHECK_FALSE(knows(a, "intruder"));
  CHECK_FALSE(knows(b, "intruder"));
  CHECK_FALSE(knows(a, "sly"));
  // Refused before any mesh frame: no HMAC rejection, no frame received.
  CHECK(a.stats().rejects(RejectReason::kAuthFailed) == 0);
  CHECK(x.stats().frames_received[static_cast<int>(FrameType::kChallenge)] == 0);
  // The intruder verifies the members' certificate itself and refuses it.
  CHECK(failures(x, TlsFailure::kBadCertificate) >= 2);
  // "sly" learns it was refused from the alert (handshake, or first read with TLS 1.3).
  CHECK(failures(y, TlsFailure::kPeerRefused) >= 1);
  // Logged, once per peer.
  REQUIRE(!c.logs["a"].empty());
  CHECK(c.logs["a"][0].find("TLS refused connection from 127.0.0.1") != std::string::npos);
  CHECK(c.logs["a"].size() == 1);  // both refused peers share the loopback address
  // The members keep serving each other and admit a new member.
  CHECK(sees_alive(a, "b"));
  auto& d = c.add("d", {c.addr(0)}, certs.leaf("d", "mesh"));
  CHECK(c.run_until([&] { return sees_alive(a, "d") && sees_alive(d, "b"); }, 15000));
}

TEST_CASE("mesh TLS: plain mesh nodes and raw bytes are refused before any mesh frame") {
  TlsFixture certs;
  TlsCluster c;
  auto& a = c.add("a", {}, certs.leaf("a", "mesh"));
  // A mesh frame (a plain node's hello) to the TLS port.
  CHECK(server_closes_after(c, a.port(), encode_frame(FrameType::kHello, "x")));
  CHECK(server_closes_after(c, a.port(), "GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  CHECK(failures(a, TlsFailure::kNotTls) == 2);
  CHECK(a.stats().frames_received[static_cast<int>(FrameType::kHello)] == 0);
  CHECK(a.stats().rejects(RejectReason::kBadMagic) == 0);  // never parsed as frames
  // A plain node dialing it.
  auto& p = c.add("plain", {c.addr(0)}, TlsFiles{});
  REQUIRE(c.run_until([&] { return failures(a, TlsFailure::kNotTls) >= 3; }, 15000));
  CHECK_FALSE(knows(a, "plain"));
  CHECK(p.peers().empty());
  // A silent connection is closed at the first-frame deadline and counted.
  tcp::socket silent(c.io);
  silent.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), a.port()));
  CHECK(c.run_until([&] { return failures(a, TlsFailure::kTimeout) == 1; }, 10000));
  // Still serving.
  auto& b = c.add("b", {c.addr(0)}, certs.leaf("b", "mesh"));
  CHECK(c.run_until([&] { return sees_alive(a, "b") && sees_alive(b, "a"); }, 15000));
}

TEST_CASE("mesh TLS: a TLS node dialing a plain node fails cleanly on both sides") {
  TlsFixture certs;
  TlsCluster c;
  auto& plain = c.add("plain", {}, TlsFiles{});
  auto& t = c.add("t", {c.addr(0)}, certs.leaf("t", "mesh"));
  REQUIRE(c.run_until(
      [&] { return all_failures(t) >= 1 && plain.stats().rejects(RejectReason::kBadMagic) >= 1; },
      15000));
  CHECK(failures(t, TlsFailure::kClosed) >= 1);
  CHECK(t.peers().empty());
  CHECK(plain.peers().empty());
  // The plain node still serves plain peers.
  auto& q = c.add("q", {c.addr(0)}, TlsFiles{});
  CHECK(c.run_until([&] { return sees_alive(plain, "q") && sees_alive(q, "plain"); }, 15000));
}

TEST_CASE("mesh TLS: credentials reload on change; a bad set keeps the old one") {
  TlsFixture certs;
  const TlsFiles files = certs.leaf("r", "mesh");
  TlsCredentials creds(files);
  REQUIRE(creds.load().ok());
  auto first = creds.current();
  REQUIRE(first);
  CHECK(creds.poll() == TlsCredentials::Outcome::kUnchanged);
  CHECK(creds.current() == first);

  // A new pair swapped in (as a Secret update does): reloaded.
  const TlsFiles next = certs.leaf("r2", "mesh");
  std::filesystem::copy_file(next.cert, files.cert,
                             std::filesystem::copy_options::overwrite_existing);
  std::filesystem::copy_file(next.key, files.key,
                             std::filesystem::copy_options::overwrite_existing);
  std::string why;
  CHECK(creds.poll(&why) == TlsCredentials::Outcome::kReloaded);
  auto second = creds.current();
  CHECK(second != first);

  // A key that does not match the certificate: refused, the old set stays,
  // and it is not retried until the files change again.
  const TlsFiles other = certs.leaf("r3", "mesh");
  std::filesystem::copy_file(other.key, files.key,
                             std::filesystem::copy_options::overwrite_existing);
  CHECK(creds.poll(&why) == TlsCredentials::Outcome::kFailed);
  CHECK_MESSAGE(why.find(files.key) != std::string::npos, why);
  CHECK(creds.current() == second);
  CHECK(creds.poll() == TlsCredentials::Outcome::kUnchanged);
  CHECK(creds.reload() == TlsCredentials::Outcome::kFailed);  // forced (SIGHUP): still bad

  // Missing or partial sets are configuration errors.
  CHECK_FALSE(make_tls_context(TlsFiles{files.cert, "", files.ca}).ok());
  CHECK_FALSE(TlsCredentials(TlsFiles{files.cert, files.key, certs.dir() + "/none"}).load().ok());
}

TEST_CASE("mesh TLS: a node picks up rotated certificates for new connections") {
  TlsFixture certs;
  TlsCluster c;
  // "a" trusts only the mesh CA; "b" starts with a certificate of another CA
  // and is refused, then its files are replaced by a mesh-CA set.
  const TlsFiles bfiles = certs.leaf("b", "other", "mesh");
  auto& a = c.add("a", {}, certs.leaf("a", "mesh"));
  auto& b = c.add("b", {c.addr(0)}, bfiles, /*reload_ms=*/100);
  REQUIRE(c.run_until([&] { return failures(a, TlsFailure::kBadCertificate) >= 1; }, 15000));
  CHECK_FALSE(knows(a, "b"));
  const TlsFiles good = certs.leaf("b2", "mesh");
  std::filesystem::copy_file(good.cert, bfiles.cert,
                             std::filesystem::copy_options::overwrite_existing);
  std::filesystem::copy_file(good.key, bfiles.key,
                             std::filesystem::copy_options::overwrite_existing);
  REQUIRE(c.run_until([&] { return b.stats().tls_reloads_ok.load() == 1; }, 10000));
  // The next dial (seed check every 5 s) uses the new certificate.
  CHECK(c.run_until([&] { return sees_alive(a, "b") && sees_alive(b, "a"); }, 8000));
}

TEST_CASE("mesh TLS: a node whose files do not load refuses to start, and stops at once") {
  TlsFixture certs;
  TlsFiles files = certs.leaf("a", "mesh");
  files.key = certs.leaf("b", "mesh").key;  // not the certificate's key
  asio::io_context io;
  const auto t0 = std::chrono::steady_clock::now();
  {
    MeshNodeConfig cfg;
    cfg.node_id = "a";
    cfg.bind_host = "127.0.0.1";
    cfg.tls = files;
    MeshNode node(cfg);
    CHECK_THROWS_AS(node.start(io), std::runtime_error);
    CHECK(node.port() == 0);  // nothing was bound
  }
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(500));
}

TEST_CASE("LogLimiter: one line per key per interval, with the suppressed count") {
  LogLimiter l(1000, 2);
  CHECK(l.admit("p", 0) == 0u);
  CHECK_FALSE(l.admit("p", 10));
  CHECK_FALSE(l.admit("p", 999));
  CHECK(l.admit("p", 1000) == 2u);
  CHECK(l.admit("q", 1000) == 0u);
  CHECK_FALSE(l.admit("r", 1500));  // full: p and q logged within the interval
  CHECK(l.keys() == 2);
  CHECK(l.admit("r", 2500) == 0u);  // the stale ones are forgotten
  CHECK(l.keys() <= 2);
}
