// Frame codec: round trip, every reject reason, version window, unknown
// types skipped, and random garbage never crashing the decoder.
#include <doctest/doctest.h>

#include <random>

#include "mesh/frame.h"
#include "mesh/wire_buffer.h"

using namespace radixmesh::mesh;

namespace {
FrameDecoder::Step decode_one(const std::string& bytes, uint8_t own = kProtocolVersion) {
  FrameDecoder d(own);
  d.feed(bytes);
  return d.next();
}
}  // namespace

TEST_CASE("frame round trip keeps type and payload, byte by byte feeding") {
  std::string payload = "hello";
  payload.push_back('\0');
  payload += std::string(1000, 'x');
  const std::string wire =
      encode_frame(FrameType::kDeltaBatch, payload) + encode_frame(FrameType::kPing, "");
  CHECK(wire.size() == 2 * kFrameHeaderSize + payload.size());
  FrameDecoder d;
  std::vector<FrameDecoder::Frame> got;
  for (char c : wire) {
    d.feed(std::string_view(&c, 1));
    for (;;) {
      auto s = d.next();
      if (s.status == FrameDecoder::Status::kNeedMore) break;
      REQUIRE(s.status == FrameDecoder::Status::kFrame);
      got.push_back(std::move(s.frame));
    }
  }
  REQUIRE(got.size() == 2);
  CHECK(got[0].header.type() == FrameType::kDeltaBatch);
  CHECK(got[0].payload == payload);
  CHECK(got[1].header.type() == FrameType::kPing);
  CHECK(got[1].payload.empty());
  CHECK(d.buffered() == 0);
}

TEST_CASE("header is little endian with the documented offsets") {
  const std::string w = encode_frame(FrameType::kLeave, "abc", 1, 0x0102);
  CHECK(w.substr(0, 4) == "RXMH");
  CHECK(static_cast<uint8_t>(w[4]) == 1);
  CHECK(static_cast<uint8_t>(w[5]) == 14);
  CHECK(static_cast<uint8_t>(w[6]) == 0x02);
  CHECK(static_cast<uint8_t>(w[7]) == 0x01);
  CHECK(static_cast<uint8_t>(w[8]) == 3);
  CHECK(w[9] == 0);
  CHECK(w.substr(16) == "abc");
}

TEST_CASE("each corruption is rejected with its own reason") {
  const std::string good = encode_frame(FrameType::kPing, "payload");
  SUBCASE("bad magic") {
    std::string w = good;
    w[0] = 'G';
    auto s = decode_one(w);
    CHECK(s.status == FrameDecoder::Status::kError);
    CHECK(s.reason == RejectReason::kBadMagic);
  }
  SUBCASE("newer version") {
    auto s = decode_one(encode_frame(FrameType::kPing, "p", kProtocolVersion + 1));
    CHECK(s.status == FrameDecoder::Status::kError);
    CHECK(s.reason == RejectReason::kBadVersion);
  }
  SUBCASE("two versions back") {
    auto s = decode_one(encode_frame(FrameType::kPing, "p", 3), 5);
    CHECK(s.reason == RejectReason::kBadVersion);
  }
  SUBCASE("flipped payload bit") {
    std::string w = good;
    w.back() ^= 0x01;
    auto s = decode_one(w);
    CHECK(s.status == FrameDecoder::Status::kError);
    CHECK(s.reason == RejectReason::kBadChecksum);
  }
  SUBCASE("flipped type byte is caught by the checksum") {
    std::string w = good;
    w[5] = static_cast<char>(FrameType::kLeave);
    CHECK(decode_one(w).reason == RejectReason::kBadChecksum);
  }
  SUBCASE("oversized length is refused from the header alone") {
    std::string w = good.substr(0, kFrameHeaderSize);  // no payload bytes follow
    const uint32_t huge = kMaxFramePayload + 1;
    for (int i = 0; i < 4; ++i) w[8 + i] = static_cast<char>((huge >> (8 * i)) & 0xff);
    FrameDecoder d;
    d.feed(w);
    auto s = d.next();
    CHECK(s.status == FrameDecoder::Status::kError);
    CHECK(s.reason == RejectReason::kTooLarge);
    CHECK(d.buffered() == 0);
    // The stream stays poisoned: later good bytes are not trusted.
    d.feed(good);
    CHECK(d.next().status == FrameDecoder::Status::kError);
  }
  SUBCASE("truncated frame waits for more, never reads past the end") {
    auto s = decode_one(good.substr(0, good.size() - 1));
    CHECK(s.status == FrameDecoder::Status::kNeedMore);
  }
}

TEST_CASE("a node accepts its own and the previous protocol version") {
  for (uint8_t own : {uint8_t{2}, uint8_t{7}}) {
    auto same = decode_one(encode_frame(FrameType::kPing, "x", own), own);
    auto prev = decode_one(encode_frame(FrameType::kPing, "x", own - 1), own);
    CHECK(same.status == FrameDecoder::Status::kFrame);
    CHECK(prev.status == FrameDecoder::Status::kFrame);
    CHECK(prev.frame.header.version == own - 1);
    // Handshake frames are written in a version both neighbours accept.
    CHECK(version_accepted(handshake_version(own), own));
    CHECK(version_accepted(handshake_version(own), own - 1));
    CHECK(version_accepted(handshake_version(own + 1), own));
  }
  CHECK(version_accepted(kProtocolVersion, kProtocolVersion));
}

TEST_CASE("unknown frame types are skipped and the stream continues") {
  const std::string w = encode_frame_raw(200, "future stuff", kProtocolVersion) +
                        encode_frame(FrameType::kPingAck, "ack");
  FrameDecoder d;
  d.feed(w);
  CHECK(d.next().status == FrameDecoder::Status::kSkipped);
  auto s = d.next();
  REQUIRE(s.status == FrameDecoder::Status::kFrame);
  CHECK(s.frame.header.type() == FrameType::kPingAck);
  CHECK(s.frame.payload == "ack");
}

TEST_CASE("random garbage and mutated frames never crash the decoder") {
  std::mt19937_64 rng(12345);
  const std::string good = encode_frame(FrameType::kMembership, std::string(300, 'm'));
  int errors = 0, frames = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    std::string w;
    if (iter % 2 == 0) {
      const size_t n = rng() % 200;
      for (size_t i = 0; i < n; ++i) w.push_back(static_cast<char>(rng()));
    } else {
      w = good;
      const int flips = 1 + static_cast<int>(rng() % 4);
      for (int f = 0; f < flips; ++f) w[rng() % w.size()] ^= static_cast<char>(1 + rng() % 255);
    }
    FrameDecoder d;
    d.feed(w);
    for (int guard = 0; guard < 100; ++guard) {
      auto s = d.next();
      if (s.status == FrameDecoder::Status::kNeedMore) break;
      if (s.status == FrameDecoder::Status::kError) {
        ++errors;
        break;
      }
      if (s.status == FrameDecoder::Status::kFrame) ++frames;
    }
    CHECK(d.buffered() <= w.size());
  }
  CHECK(errors > 1000);  // garbage is overwhelmingly detected
  CHECK(frames < 10);    // and almost never passes as a frame
}

TEST_CASE("wire reader bounds every length before allocating") {
  WireWriter w;
  w.varint(300);
  w.str("abc");
  w.u64(0x0102030405060708ull);
  const std::string bytes = w.take();
  WireReader r(bytes);
  CHECK(r.varint() == 300);
  CHECK(r.str(16) == "abc");
  CHECK(r.u64() == 0x0102030405060708ull);
  CHECK(r.ok());
  CHECK(r.at_end());

  WireWriter lie;
  lie.varint(1ull << 40);  // claims a 1 TiB string
  const std::string lb = lie.take();
  WireReader r2(lb);
  CHECK(r2.str(1 << 20).empty());
  CHECK_FALSE(r2.ok());

  WireWriter over;
  over.str("too long");
  const std::string ob = over.take();
  WireReader r3(ob);
  r3.str(3);
  CHECK_FALSE(r3.ok());
}
