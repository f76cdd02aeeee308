// PeerOutbox: batches leave only when acknowledged, resend after a timeout,
// bounded bytes, and a peer too far behind is marked for a snapshot.
#include <doctest/doctest.h>

#include "mesh/peer_outbox.h"

using namespace radixmesh::mesh;

namespace {
PeerOutbox::Payload bytes(size_t n) {
  return std::make_shared<const std::string>(n, 'x');
}
}  // namespace

TEST_CASE("a batch stays until acknowledged and is resent after the timeout") {
  PeerOutbox ob({1 << 20, 64, 3000});
  REQUIRE(ob.push(1, bytes(100)));
  REQUIRE(ob.push(2, bytes(100)));
  auto due = ob.due(0);
  REQUIRE(due.size() == 2);
  CHECK(due[0].seq == 1);
  ob.mark_sent(1, 0);
  ob.mark_sent(2, 0);
  CHECK(ob.due(2999).empty());
  ob.ack(1);
  ob.ack(1);   // duplicate ack: harmless
  ob.ack(77);  // unknown ack: harmless
  auto again = ob.due(3000);
  REQUIRE(again.size() == 1);
  CHECK(again[0].seq == 2);
  CHECK(ob.bytes() == 100);
  ob.ack(2);
  CHECK(ob.batches() == 0);
  CHECK(ob.bytes() == 0);
}

TEST_CASE("the outbox is bounded in bytes: overflow drops the backlog and asks for a snapshot") {
  PeerOutbox ob({1000, 64, 3000});
  for (uint64_t s = 1; s <= 9; ++s) REQUIRE(ob.push(s, bytes(100)));
  CHECK(ob.bytes() == 900);
  CHECK_FALSE(ob.needs_snapshot());
  CHECK_FALSE(ob.push(10, bytes(200)));
  CHECK(ob.needs_snapshot());
  CHECK(ob.bytes() == 0);
  CHECK(ob.batches() == 0);
  CHECK(ob.dropped_batches() == 10);
}

TEST_CASE("the outbox is bounded in batch count too") {
  PeerOutbox ob({1 << 20, 4, 3000});
  for (uint64_t s = 1; s <= 4; ++s) REQUIRE(ob.push(s, bytes(1)));
  CHECK_FALSE(ob.push(5, bytes(1)));
  CHECK(ob.needs_snapshot());
}
