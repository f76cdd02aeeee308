#include "mesh/frame.h"

#include <xxhash.h>

#include <cstring>

namespace radixmesh::mesh {
namespace {

void put_u16(char* p, uint16_t v) {
  p[0] = static_cast<char>(v & 0xff);
  p[1] = static_cast<char>(v >> 8);
}
void put_u32(char* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}
uint16_t get_u16(const uint8_t* p) {
  return static_cast<uint16_t>(p[0] | (p[1] << 8));
}
uint32_t get_u32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
         (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
}

}  // namespace

const char* to_string(RejectReason r) {
  switch (r) {
    case RejectReason::kBadMagic:
      return "bad_magic";
    case RejectReason::kBadVersion:
      return "bad_version";
    case RejectReason::kBadChecksum:
      return "bad_checksum";
    case RejectReason::kTooLarge:
      return "too_large";
    case RejectReason::kUnauthenticated:
      return "unauthenticated";
    case RejectReason::kMalformedPayload:
      return "malformed_payload";
    case RejectReason::kAuthFailed:
      return "auth_failed";
  }
  return "unknown";
}

uint32_t frame_checksum(const uint8_t* header12, std::string_view payload) {
  // Seeding the payload hash with the header hash covers both in one pass
  // over the payload without a streaming state.
  const uint64_t seed = XXH3_64bits(header12, frame_offset::kChecksum);
  return static_cast<uint32_t>(XXH3_64bits_withSeed(payload.data(), payload.size(), seed));
}

std::string encode_frame_raw(uint8_t type, std::string_view payload, uint8_t version,
                             uint16_t flags) {
  std::string out(kFrameHeaderSize + payload.size(), '\0');
  char* h = out.data();
  put_u32(h + frame_offset::kMagic, kFrameMagic);
  h[frame_offset::kVersion] = static_cast<char>(version);
  h[frame_offset::kType] = static_cast<char>(type);
  put_u16(h + frame_offset::kFlags, flags);
  put_u32(h + frame_offset::kLength, static_cast<uint32_t>(payload.size()));
  if (!payload.empty()) std::memcpy(h + kFrameHeaderSize, payload.data(), payload.size());
  put_u32(h + frame_offset::kChecksum,
          frame_checksum(reinterpret_cast<const uint8_t*>(h), payload));
  return out;
}

std::string encode_frame(FrameType type, std::string_view payload, uint8_t version,
                         uint16_t flags) {
  return encode_frame_raw(static_cast<uint8_t>(type), payload, version, flags);
}

HeaderParse parse_header(const uint8_t* b, uint8_t own_version, uint32_t max_payload) {
  HeaderParse r;
  if (get_u32(b + frame_offset::kMagic) != kFrameMagic) {
    r.reason = RejectReason::kBadMagic;
    return r;
  }
  FrameHeader h;
  h.version = b[frame_offset::kVersion];
  h.raw_type = b[frame_offset::kType];
  h.flags = get_u16(b + frame_offset::kFlags);
  h.length = get_u32(b + frame_offset::kLength);
  h.checksum = get_u32(b + frame_offset::kChecksum);
  if (!version_accepted(h.version, own_version)) {
    r.reason = RejectReason::kBadVersion;
    return r;
  }
  if (h.length > max_payload) {
    r.reason = RejectReason::kTooLarge;
    return r;
  }
  r.header = h;
  return r;
}

bool checksum_ok(const uint8_t* header16, std::string_view payload) {
  return get_u32(header16 + frame_offset::kChecksum) == frame_checksum(header16, payload);
}

FrameDecoder::Step FrameDecoder::next() {
  Step step;
  if (failed_) {
    step.status = Status::kError;
    step.reason = failure_;
    return step;
  }
  if (buf_.size() < kFrameHeaderSize) return step;  // kNeedMore
  const auto* bytes = reinterpret_cast<const uint8_t*>(buf_.data());
  HeaderParse hp = parse_header(bytes, own_version_, max_payload_);
  if (!hp.header) {
    failed_ = true;
    failure_ = hp.reason;
    buf_.clear();
    step.status = Status::kError;
    step.reason = hp.reason;
    return step;
  }
  const size_t total = kFrameHeaderSize + hp.header->length;
  if (buf_.size() < total) return step;  // kNeedMore
  std::string_view payload(buf_.data() + kFrameHeaderSize, hp.header->length);
  if (!checksum_ok(bytes, payload)) {
    failed_ = true;
    failure_ = RejectReason::kBadChecksum;
    buf_.clear();
    step.status = Status::kError;
    step.reason = failure_;
    return step;
  }
  if (hp.header->known_type()) {
    step.status = Status::kFrame;
    step.frame.header = *hp.header;
    step.frame.payload.assign(payload);
  } else {
    step.status = Status::kSkipped;
  }
  buf_.erase(0, total);
  return step;
}

}  // namespace radixmesh::mesh
