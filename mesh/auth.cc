#include "mesh/auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <stdexcept>

#include "mesh/membership_codec.h"
#include "mesh/wire_buffer.h"

namespace radixmesh::mesh {
namespace {

constexpr std::string_view kDialerLabel = "rxmh-dialer";
constexpr std::string_view kAcceptorLabel = "rxmh-acceptor";

bool equal_ct(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string identity_bytes(const NodeIdentity& i) {
  WireWriter w;
  w.str(i.id);
  w.varint(i.incarnation);
  w.str(i.address);
  return w.take();
}

}  // namespace

std::string hmac_sha256(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  static const unsigned char kEmpty = 0;
  const void* k = key.empty() ? static_cast<const void*>(&kEmpty) : key.data();
  if (!HMAC(EVP_sha256(), k, static_cast<int>(key.size()),
            reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len))
    return {};
  return std::string(reinterpret_cast<const char*>(out), len);
}

std::string random_nonce() {
  std::string n(kNonceBytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(n.data()), static_cast<int>(n.size())) != 1)
    throw std::runtime_error("RAND_bytes failed");
  return n;
}

Handshake::Handshake(Role role, NodeIdentity self, std::string secret, std::string nonce)
    : role_(role),
      self_(std::move(self)),
      secret_(std::move(secret)),
      nonce_(nonce.empty() ? random_nonce() : std::move(nonce)),
      state_(role == Role::kDialer ? State::kStart : State::kWaitHello) {}

Handshake::Step Handshake::fail(RejectReason r) {
  state_ = State::kFailed;
  Step s;
  s.fail = r;
  return s;
}

bool Handshake::accept_version(uint8_t peer_version) {
  // Speak the older of the two, as long as it is one we still accept.
  const uint8_t v = std::min(peer_version, self_.version);
  if (!version_accepted(v, self_.version)) return false;
  version_ = v;
  return true;
}

std::vector<OutFrame> Handshake::start() {
  if (role_ != Role::kDialer || state_ != State::kStart) return {};
  WireWriter w;
  w.u8(self_.version);
  w.raw(identity_bytes(self_));
  w.str(nonce_);
  hello_bytes_ = w.take();
  state_ = State::kWaitChallenge;
  return {OutFrame{FrameType::kHello, hello_bytes_}};
}

Handshake::Step Handshake::on_frame(FrameType type, std::string_view payload) {
  Step step;
  switch (state_) {
    case State::kWaitHello: {  // acceptor
      if (type != FrameType::kHello) return fail(RejectReason::kUnauthenticated);
      WireReader r(payload);
      const uint8_t v = r.u8();
      NodeIdentity p;
      p.id = r.str(kMaxNodeIdBytes);
      p.incarnation = r.varint();
      p.address = r.str(kMaxAddressBytes);
      const std::string nonce = r.str(kNonceBytes);
      if (!r.ok() || p.id.empty() || nonce.size() != kNonceBytes)
        return fail(RejectReason::kMalformedPayload);
      if (!accept_version(v)) return fail(RejectReason::kBadVersion);
      p.version = v;
      peer_ = std::move(p);
      hello_bytes_.assign(payload);
      WireWriter w;
      w.u8(self_.version);
      w.str(nonce_);
      challenge_bytes_ = w.take();
      state_ = State::kWaitProof;
      step.out.push_back(OutFrame{FrameType::kChallenge, challenge_bytes_});
      return step;
    }
    case State::kWaitChallenge: {  // dialer
      if (type != FrameType::kChallenge) return fail(RejectReason::kUnauthenticated);
      WireReader r(payload);
      const uint8_t v = r.u8();
      const std::string nonce = r.str(kNonceBytes);
      if (!r.ok() || nonce.size() != kNonceBytes) return fail(RejectReason::kMalformedPayload);
      if (!accept_version(v)) return fail(RejectReason::kBadVersion);
      challenge_bytes_.assign(payload);
      std::string msg(kDialerLabel);
      msg += hello_bytes_;
      msg += challenge_bytes_;
      state_ = State::kWaitOk;
      step.out.push_back(OutFrame{FrameType::kAuthProof, hmac_sha256(secret_, msg)});
      return step;
    }
    case State::kWaitProof: {  // acceptor
      if (type != FrameType::kAuthProof) return fail(RejectReason::kUnauthenticated);
      std::string msg(kDialerLabel);
      msg += hello_bytes_;
      msg += challenge_bytes_;
      if (!equal_ct(payload, hmac_sha256(secret_, msg))) return fail(RejectReason::kAuthFailed);
      const std::string me = identity_bytes(self_);
      std::string amsg(kAcceptorLabel);
      amsg += hello_bytes_;
      amsg += challenge_bytes_;
      amsg += me;
      std::string ok = me;
      ok += hmac_sha256(secret_, amsg);
      state_ = State::kDone;
      step.out.push_back(OutFrame{FrameType::kAuthOk, std::move(ok)});
      return step;
    }
    case State::kWaitOk: {  // dialer
      if (type != FrameType::kAuthOk) return fail(RejectReason::kUnauthenticated);
      WireReader r(payload);
      NodeIdentity p;
      p.id = r.str(kMaxNodeIdBytes);
      p.incarnation = r.varint();
      p.address = r.str(kMaxAddressBytes);
      const std::string_view mac = r.raw(kMacBytes);
      if (!r.ok() || p.id.empty()) return fail(RejectReason::kMalformedPayload);
      const size_t id_len = payload.size() - kMacBytes - r.remaining();
      std::string amsg(kAcceptorLabel);
      amsg += hello_bytes_;
      amsg += challenge_bytes_;
      amsg.append(payload.substr(0, id_len));
      if (!equal_ct(mac, hmac_sha256(secret_, amsg))) return fail(RejectReason::kAuthFailed);
      p.version = version_;
      peer_ = std::move(p);
      state_ = State::kDone;
      return step;
    }
    case State::kStart:
    case State::kDone:
    case State::kFailed:
      break;
  }
  return fail(RejectReason::kUnauthenticated);
}

}  // namespace radixmesh::mesh
