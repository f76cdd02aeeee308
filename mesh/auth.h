// Handshake: the start of every mesh connection — identity exchange and
// cluster authentication by a shared secret (docs/mesh-protocol.md §3).
//
//   dialer                                   acceptor
//   kHello     {version, id, incarnation, address, nonce_d}  ->
//              <-  kChallenge {version, nonce_a}
//   kAuthProof {mac_d = HMAC(secret, "rxmh-dialer" | H | C)} ->
//              (acceptor verifies; wrong -> auth_failed, close)
//              <-  kAuthOk {id, incarnation, address,
//                           mac_a = HMAC(secret, "rxmh-acceptor" | H | C | id,inc,addr)}
//   (dialer verifies mac_a; wrong -> auth_failed, close)
//
// H and C are the exact hello and challenge payload bytes, so each MAC binds
// both nonces, both versions and the dialer's identity; the acceptor's
// identity is only revealed after the dialer proved the secret, so a node
// without the secret learns nothing about the cluster and, since nothing it
// sends before authentication is acted on, changes nothing. Distinct labels
// stop a proof from being reflected back. MACs are HMAC-SHA256 (OpenSSL),
// compared in constant time. No secret configured = HMAC with an empty key:
// any node without a secret is admitted — for development only.
//
// Versions: each side states its own protocol version; the connection then
// speaks min(own, peer), which must be within one of ours (else bad_version).
//
// Thread safety: one Handshake per connection, used by one thread at a time.
// Pure: no sockets; the caller moves frames (see mesh/peer_connection.h).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mesh/frame.h"
#include "mesh/peer_sender.h"

namespace radixmesh::mesh {

inline constexpr size_t kNonceBytes = 32;
inline constexpr size_t kMacBytes = 32;

struct NodeIdentity {
  NodeId id;
  uint64_t incarnation = 0;
  std::string address;  // advertised host:port
  uint8_t version = kProtocolVersion;
};

struct OutFrame {
  FrameType type;
  std::string payload;
};

// HMAC-SHA256(key, label | parts...), 32 bytes.
std::string hmac_sha256(std::string_view key, std::string_view data);
// 32 random bytes from OpenSSL's CSPRNG.
std::string random_nonce();

class Handshake {
 public:
  enum class Role { kDialer, kAcceptor };
  struct Step {
    std::vector<OutFrame> out;         // frames to send, in order
    std::optional<RejectReason> fail;  // close the connection and count
  };

  // `nonce` defaults to random_nonce(); tests inject a fixed one.
  Handshake(Role role, NodeIdentity self, std::string secret, std::string nonce = {});

  // Dialer: the hello to send first. Acceptor: nothing.
  std::vector<OutFrame> start();
  // Feeds one received frame. Any frame other than the one expected next
  // fails with kUnauthenticated; a bad payload with kMalformedPayload.
  Step on_frame(FrameType type, std::string_view payload);

  bool done() const { return state_ == State::kDone; }
  // Valid once done(): who is on the other end, and the version to speak.
  const NodeIdentity& peer() const { return peer_; }
  uint8_t version() const { return version_; }

 private:
  enum class State { kStart, kWaitHello, kWaitChallenge, kWaitProof, kWaitOk, kDone, kFailed };
  Step fail(RejectReason r);
  bool accept_version(uint8_t peer_version);

  Role role_;
  NodeIdentity self_;
  std::string secret_;
  std::string nonce_;
  State state_;
  std::string hello_bytes_, challenge_bytes_;
  NodeIdentity peer_;
  uint8_t version_ = kProtocolVersion;
};

}  // namespace radixmesh::mesh
