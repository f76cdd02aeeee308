// Mesh frames: the fixed header every message on a mesh TCP connection starts
// with, and the bounded encoder/decoder for it (docs/mesh-protocol.md §2).
//
//   offset size field
//        0    4 magic      "RXMH" (bytes 52 58 4D 48; u32 little endian 0x484D5852)
//        4    1 version    protocol version the frame is written in
//        5    1 type       FrameType (mesh/frame_type.h); unknown types are skipped
//        6    2 flags      reserved, sent as 0, ignored on receive
//        8    4 length     payload bytes that follow the header (u32 LE)
//       12    4 checksum   low 32 bits of XXH3_64(payload, seed = XXH3_64(header[0..12)))
//       16      payload
//
// All integers are little endian. The decoder validates magic, version and
// length from the 16 header bytes alone, before any payload buffer is
// allocated, so a hostile length costs nothing. A receiver accepts frames of
// its own version and the previous one (rolling upgrades).
//
// Thread safety: pure functions and value types; FrameDecoder is owned by one
// connection and used by one thread at a time.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "mesh/frame_type.h"

namespace radixmesh::mesh {

inline constexpr uint32_t kFrameMagic = 0x484D5852;  // "RXMH" on the wire
inline constexpr uint8_t kProtocolVersion = 1;
inline constexpr size_t kFrameHeaderSize = 16;
// A snapshot chunk is at most 1 MiB of data; 4 KiB leaves room for its own header.
inline constexpr uint32_t kMaxFramePayload = (1u << 20) + 4096;

namespace frame_offset {
inline constexpr size_t kMagic = 0;
inline constexpr size_t kVersion = 4;
inline constexpr size_t kType = 5;
inline constexpr size_t kFlags = 6;
inline constexpr size_t kLength = 8;
inline constexpr size_t kChecksum = 12;
}  // namespace frame_offset
static_assert(frame_offset::kVersion == frame_offset::kMagic + 4);
static_assert(frame_offset::kType == frame_offset::kVersion + 1);
static_assert(frame_offset::kFlags == frame_offset::kType + 1);
static_assert(frame_offset::kLength == frame_offset::kFlags + 2);
static_assert(frame_offset::kChecksum == frame_offset::kLength + 4);
static_assert(kFrameHeaderSize == frame_offset::kChecksum + 4);

// Why a frame or connection was refused; each has its own counter.
enum class RejectReason : uint8_t {
  kBadMagic,
  kBadVersion,
  kBadChecksum,
  kTooLarge,
  kUnauthenticated,   // a non-handshake frame before the handshake finished
  kMalformedPayload,  // a known type whose payload does not decode
  kAuthFailed,        // wrong or missing proof of the shared secret
};
inline constexpr int kRejectReasonCount = 7;
const char* to_string(RejectReason r);

struct FrameHeader {
  uint8_t version = kProtocolVersion;
  uint8_t raw_type = 0;  // may be a type this build does not know
  uint16_t flags = 0;
  uint32_t length = 0;
  uint32_t checksum = 0;

  bool known_type() const { return is_known_frame_type(raw_type); }
  FrameType type() const { return static_cast<FrameType>(raw_type); }
};

// The versions a node of version `own` accepts: own and own - 1.
constexpr bool version_accepted(uint8_t version, uint8_t own) {
  return version == own || (own > 1 && version == own - 1);
}
// The version to write handshake frames in, before the peer's is known: the
// oldest one we still accept, so a peer one version older or newer reads it.
constexpr uint8_t handshake_version(uint8_t own) {
  return own > 1 ? own - 1 : own;
}

// Encodes one frame (header + payload). Payload must be <= kMaxFramePayload.
std::string encode_frame(FrameType type, std::string_view payload,
                         uint8_t version = kProtocolVersion, uint16_t flags = 0);
// Same, for a raw type byte (tests use it to send types this build lacks).
std::string encode_frame_raw(uint8_t type, std::string_view payload, uint8_t version,
                             uint16_t flags = 0);

// Parses and validates the 16 header bytes: magic, version, length bound.
struct HeaderParse {
  std::optional<FrameHeader> header;
  RejectReason reason = RejectReason::kBadMagic;  // meaningful when !header
};
HeaderParse parse_header(const uint8_t* bytes16, uint8_t own_version = kProtocolVersion,
                         uint32_t max_payload = kMaxFramePayload);

// True when the header's checksum matches header bytes + payload.
bool checksum_ok(const uint8_t* header16, std::string_view payload);
uint32_t frame_checksum(const uint8_t* header12, std::string_view payload);

// Incremental decoder over a byte stream (tests, fuzzing and any non-Asio
// reader). Buffers at most one header + one bounded payload.
class FrameDecoder {
 public:
  struct Frame {
    FrameHeader header;
    std::string payload;
  };
  enum class Status { kFrame, kNeedMore, kSkipped, kError };
  struct Step {
    Status status = Status::kNeedMore;
    Frame frame;                                    // kFrame
    RejectReason reason = RejectReason::kBadMagic;  // kError
  };

  explicit FrameDecoder(uint8_t own_version = kProtocolVersion,
                        uint32_t max_payload = kMaxFramePayload)
      : own_version_(own_version), max_payload_(max_payload) {}

  // Appends bytes read from the stream; call next() until kNeedMore before
  // feeding more, so at most one frame plus one read is buffered.
  void feed(std::string_view bytes) { buf_.append(bytes); }
  // Extracts the next frame. kSkipped: a valid frame of an unknown type was
  // dropped. kError: the stream is poisoned; close the connection.
  Step next();
  size_t buffered() const { return buf_.size(); }

 private:
  uint8_t own_version_;
  uint32_t max_payload_;
  std::string buf_;
  bool failed_ = false;
  RejectReason failure_ = RejectReason::kBadMagic;
};

}  // namespace radixmesh::mesh
