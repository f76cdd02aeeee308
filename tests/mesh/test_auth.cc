// Handshake: matching secrets authenticate both ends; a wrong or missing
// secret is refused with auth_failed and the dialer learns nothing; frames
// out of order are refused; versions are negotiated within the window.
#include <doctest/doctest.h>

#include "mesh/auth.h"

using namespace radixmesh::mesh;

namespace {
struct Result {
  std::optional<RejectReason> dialer_fail, acceptor_fail;
  bool dialer_done = false, acceptor_done = false;
  int frames_to_dialer = 0;
};

// Runs a handshake to completion (or failure) by shuttling frames.
Result run(Handshake& d, Handshake& a) {
  Result res;
  std::vector<OutFrame> to_a = d.start(), to_d;
  for (int guard = 0; guard < 10 && (!to_a.empty() || !to_d.empty()); ++guard) {
    for (auto& f : to_a) {
      auto s = a.on_frame(f.type, f.payload);
      if (s.fail) res.acceptor_fail = s.fail;
      for (auto& o : s.out) to_d.push_back(std::move(o));
    }
    to_a.clear();
    if (res.acceptor_fail) break;
    for (auto& f : to_d) {
      ++res.frames_to_dialer;
      auto s = d.on_frame(f.type, f.payload);
      if (s.fail) res.dialer_fail = s.fail;
      for (auto& o : s.out) to_a.push_back(std::move(o));
    }
    to_d.clear();
    if (res.dialer_fail) break;
  }
  res.dialer_done = d.done();
  res.acceptor_done = a.done();
  return res;
}

NodeIdentity ident(const std::string& id, uint8_t version = kProtocolVersion) {
  return NodeIdentity{id, 1234, id + ":7946", version};
}
}  // namespace

TEST_CASE("hmac-sha256 matches the RFC 4231 test vector") {
  const std::string key(20, '\x0b');
  const std::string mac = hmac_sha256(key, "Hi There");
  static const unsigned char expect[] = {0xb0, 0x34, 0x4c, 0x61, 0xd8, 0xdb, 0x38, 0x53,
                                         0x5c, 0xa8, 0xaf, 0xce, 0xaf, 0x0b, 0xf1, 0x2b,
                                         0x88, 0x1d, 0xc2, 0x00, 0xc9, 0x83, 0x3d, 0xa7,
                                         0x26, 0xe9, 0x37, 0x6c, 0x2e, 0x32, 0xcf, 0xf7};
  CHECK(mac == std::string(reinterpret_cast<const char*>(expect), 32));
  CHECK(random_nonce() != random_nonce());
}

TEST_CASE("same secret: both ends authenticated and know each other") {
  Handshake d(Handshake::Role::kDialer, ident("a"), "s3cret");
  Handshake a(Handshake::Role::kAcceptor, ident("b"), "s3cret");
  auto r = run(d, a);
  CHECK_FALSE(r.dialer_fail);
  CHECK_FALSE(r.acceptor_fail);
  REQUIRE(r.dialer_done);
  REQUIRE(r.acceptor_done);
  CHECK(d.peer().id == "b");
  CHECK(d.peer().address == "b:7946");
  CHECK(a.peer().id == "a");
  CHECK(a.peer().incarnation == 1234);
}

TEST_CASE("no secret on both ends is admitted (development mode)") {
  Handshake d(Handshake::Role::kDialer, ident("a"), "");
  Handshake a(Handshake::Role::kAcceptor, ident("b"), "");
  auto r = run(d, a);
  CHECK(r.dialer_done);
  CHECK(r.acceptor_done);
}

TEST_CASE("wrong or missing secret: refused, and the dialer learns nothing") {
  for (const std::string dialer_secret : {"wrong", ""}) {
    Handshake d(Handshake::Role::kDialer, ident("intruder"), dialer_secret);
    Handshake a(Handshake::Role::kAcceptor, ident("b"), "s3cret");
    auto r = run(d, a);
    CHECK(r.acceptor_fail == RejectReason::kAuthFailed);
    CHECK_FALSE(r.acceptor_done);
    CHECK_FALSE(r.dialer_done);
    // Only the challenge (a nonce) ever reached the intruder: no id, no address.
    CHECK(r.frames_to_dialer == 1);
    CHECK(d.peer().id.empty());
  }
}

TEST_CASE("an acceptor without the secret is detected by the dialer") {
  Handshake d(Handshake::Role::kDialer, ident("a"), "s3cret");
  Handshake a(Handshake::Role::kAcceptor, ident("impostor"), "other");
  // An impostor that does not know the secret can only guess the MAC in its
  // kAuthOk (its own check of the dialer's proof is skipped here).
  auto hello = d.start();
  auto ch = a.on_frame(hello[0].type, hello[0].payload);
  REQUIRE(ch.out.size() == 1);
  auto proof = d.on_frame(ch.out[0].type, ch.out[0].payload);
  REQUIRE(proof.out.size() == 1);
  std::string fake_ok = std::string("\x08impostor\x01\x00", 11) + std::string(32, 'm');
  auto s = d.on_frame(FrameType::kAuthOk, fake_ok);
  CHECK(s.fail == RejectReason::kAuthFailed);
  CHECK_FALSE(d.done());
}

TEST_CASE("frames out of order or sync frames before auth are refused") {
  Handshake a(Handshake::Role::kAcceptor, ident("b"), "s");
  CHECK(a.on_frame(FrameType::kDeltaBatch, "x").fail == RejectReason::kUnauthenticated);
  Handshake a2(Handshake::Role::kAcceptor, ident("b"), "s");
  CHECK(a2.on_frame(FrameType::kAuthProof, std::string(32, 'p')).fail ==
        RejectReason::kUnauthenticated);
  Handshake a3(Handshake::Role::kAcceptor, ident("b"), "s");
  CHECK(a3.on_frame(FrameType::kHello, "\x01\xff").fail == RejectReason::kMalformedPayload);
}

TEST_CASE("versions: previous version peers connect, two versions apart do not") {
  {
    Handshake d(Handshake::Role::kDialer, ident("a", 5), "k");
    Handshake a(Handshake::Role::kAcceptor, ident("b", 4), "k");
    auto r = run(d, a);
    REQUIRE(r.dialer_done);
    REQUIRE(r.acceptor_done);
    CHECK(d.version() == 4);
    CHECK(a.version() == 4);
  }
  {
    Handshake d(Handshake::Role::kDialer, ident("a", 6), "k");
    Handshake a(Handshake::Role::kAcceptor, ident("b", 4), "k");
    auto r = run(d, a);
    CHECK((r.acceptor_fail == RejectReason::kBadVersion ||
           r.dialer_fail == RejectReason::kBadVersion));
  }
}
