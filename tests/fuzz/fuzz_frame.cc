// Fuzz target: the mesh frame decoder over an arbitrary byte stream.
//
// The input is split into reads of fuzzer-chosen sizes (like TCP segments)
// and fed to one FrameDecoder, draining next() after each read as a
// connection does. Checked: the decoder never buffers more than one header,
// one bounded payload and one read; once it reports kError it stays failed;
// every frame it returns has a payload of the length its header declares and
// a matching checksum; and re-encoding a returned known-type frame gives
// bytes that decode to the same frame.
#include <cstddef>
#include <cstdint>

#include "mesh/frame.h"
#include "tests/fuzz/fuzz_input.h"

using namespace radixmesh::mesh;
using radixmesh::fuzz::fuzz_check;
using radixmesh::fuzz::FuzzInput;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzInput in(data, size);
  // Small max payload sometimes, so the too-large path is reachable.
  const uint32_t max_payload = (in.u8() & 1) ? 64 : kMaxFramePayload;
  FrameDecoder dec(kProtocolVersion, max_payload);
  bool failed = false;
  for (int reads = 0; reads < 4096 && !in.empty(); ++reads) {
    const size_t chunk = 1 + in.u8() % 64;
    const std::string_view read = in.bytes(chunk);
    dec.feed(read);
    for (int steps = 0; steps < 4096; ++steps) {
      FrameDecoder::Step s = dec.next();
      if (failed) fuzz_check(s.status == FrameDecoder::Status::kError, "error is sticky");
      if (s.status == FrameDecoder::Status::kNeedMore) break;
      if (s.status == FrameDecoder::Status::kError) {
        failed = true;
        break;
      }
      if (s.status == FrameDecoder::Status::kFrame) {
        fuzz_check(s.frame.payload.size() == s.frame.header.length, "payload length");
        fuzz_check(s.frame.header.length <= max_payload, "payload bound");
        fuzz_check(s.frame.header.known_type(), "unknown types are skipped");
        const std::string again = encode_frame_raw(s.frame.header.raw_type, s.frame.payload,
                                                   s.frame.header.version, s.frame.header.flags);
        FrameDecoder re(kProtocolVersion, max_payload);
        re.feed(again);
        FrameDecoder::Step r = re.next();
        fuzz_check(r.status == FrameDecoder::Status::kFrame, "re-encoded frame decodes");
        fuzz_check(r.frame.payload == s.frame.payload, "re-encoded payload equal");
        fuzz_check(r.frame.header.raw_type == s.frame.header.raw_type, "re-encoded type equal");
      }
    }
    if (!failed) {
      fuzz_check(dec.buffered() <= kFrameHeaderSize + max_payload + 64, "bounded buffering");
    }
  }
  return 0;
}
