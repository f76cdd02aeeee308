// Fuzz target: the sync and membership payload decoders (mesh/sync_codec.h,
// mesh/membership_codec.h) on arbitrary bytes.
//
// The first input byte picks the decoder, the rest is the payload. Decoding
// must never crash, hang or allocate without bound; when it succeeds, the
// value must survive a round trip: encode(decode(p)) decodes again to a value
// whose encoding is the same bytes (canonical re-encoding).
#include <cstddef>
#include <cstdint>
#include <string>

#include "mesh/membership_codec.h"
#include "mesh/sync_codec.h"
#include "tests/fuzz/fuzz_input.h"

using namespace radixmesh::mesh;
using radixmesh::fuzz::fuzz_check;
using radixmesh::fuzz::FuzzInput;

namespace {

// Result<T> decoders (sync codec).
template <typename Decode>
void round_trip_result(std::string_view payload, Decode decode) {
  auto first = decode(payload);
  if (!first.ok()) return;
  const std::string once = encode(first.value());
  auto second = decode(once);
  fuzz_check(second.ok(), "re-encoded payload decodes");
  fuzz_check(encode(second.value()) == once, "encoding is stable");
}

// std::optional<T> decoders (membership codec).
template <typename Decode>
void round_trip_optional(std::string_view payload, Decode decode) {
  auto first = decode(payload);
  if (!first) return;
  const std::string once = encode(*first);
  auto second = decode(once);
  fuzz_check(second.has_value(), "re-encoded payload decodes");
  fuzz_check(encode(*second) == once, "encoding is stable");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzInput in(data, size);
  const uint8_t which = in.u8();
  const std::string_view p = in.rest();
  switch (which % 14) {
    case 0:
      round_trip_result(p, decode_delta_batch);
      break;
    case 1:
      round_trip_result(p, decode_delta_ack);
      break;
    case 2:
      round_trip_result(p, decode_anchor_request);
      break;
    case 3:
      round_trip_result(p, decode_anchor_reply);
      break;
    case 4:
      round_trip_result(p, decode_digest);
      break;
    case 5:
      round_trip_result(p, decode_snapshot_request);
      break;
    case 6:
      round_trip_result(p, decode_snapshot_chunk);
      break;
    case 7:
      round_trip_result(p, decode_load_report);
      break;
    case 8:
      round_trip_result(p, decode_worker_event);
      break;
    case 9:
      round_trip_optional(p, decode_ping);
      break;
    case 10:
      round_trip_optional(p, decode_ping_ack);
      break;
    case 11:
      round_trip_optional(p, decode_ping_req);
      break;
    case 12:
      round_trip_optional(p, decode_membership);
      break;
    case 13:
      round_trip_optional(p, decode_leave);
      break;
  }
  return 0;
}
