// HandshakeAdmission without sockets: the per-source and global caps, and
// which pending handshake a new connection evicts (the oldest silent one
// first, within its source for the per-source cap).
#include <doctest/doctest.h>

#include "mesh/handshake_admission.h"

using namespace radixmesh::mesh;

TEST_CASE("admission: below both caps nothing is evicted") {
  HandshakeAdmission a({/*max_pending=*/4, /*max_per_source=*/2});
  CHECK_FALSE(a.admit(1, "10.0.0.1").has_value());
  CHECK_FALSE(a.admit(2, "10.0.0.1").has_value());
  CHECK_FALSE(a.admit(3, "10.0.0.2").has_value());
  CHECK(a.pending() == 3);
  CHECK(a.pending_from("10.0.0.1") == 2);
  a.remove(1);
  a.remove(42);  // unknown: ignored
  CHECK(a.pending() == 2);
  CHECK(a.pending_from("10.0.0.1") == 1);
}

TEST_CASE("admission: a source at its cap evicts its own oldest, never another source's") {
  HandshakeAdmission a({/*max_pending=*/100, /*max_per_source=*/3});
  CHECK_FALSE(a.admit(100, "10.0.0.9").has_value());  // the real peer, older than the flood
  for (uint64_t id = 1; id <= 3; ++id) CHECK_FALSE(a.admit(id, "10.0.0.1").has_value());
  for (uint64_t id = 4; id <= 50; ++id) {
    auto e = a.admit(id, "10.0.0.1");
    REQUIRE(e.has_value());
    CHECK(e->id == id - 3);
    CHECK(e->cap == HandshakeAdmission::Cap::kPerSource);
  }
  CHECK(a.pending_from("10.0.0.1") == 3);
  CHECK(a.pending_from("10.0.0.9") == 1);  // untouched by the flood
}

TEST_CASE("admission: at the global cap the newest is admitted and the oldest silent one goes") {
  HandshakeAdmission a({/*max_pending=*/4, /*max_per_source=*/100});
  a.admit(1, "a");
  a.admit(2, "b");
  a.heard_from(1);  // a real dialer: sent its hello
  a.admit(3, "c");
  a.admit(4, "d");
  auto e = a.admit(5, "e");
  REQUIRE(e.has_value());
  CHECK(e->id == 2);  // 1 is older but has spoken
  CHECK(e->cap == HandshakeAdmission::Cap::kGlobal);
  CHECK(a.admit(6, "f")->id == 3);
  CHECK(a.admit(7, "g")->id == 4);
  CHECK(a.admit(8, "h")->id == 5);
  // A flood of silent connections never reaches the one that spoke...
  for (uint64_t id = 9; id < 200; ++id) CHECK(a.admit(id, "x")->id != 1);
  CHECK(a.pending() == 4);
  // ...until every pending one has spoken: then the oldest goes.
  HandshakeAdmission b({2, 100});
  b.admit(1, "a");
  b.admit(2, "b");
  b.heard_from(1);
  b.heard_from(2);
  CHECK(b.admit(3, "c")->id == 1);
}

TEST_CASE("admission: a silent candidate whose bytes have arrived is spared") {
  HandshakeAdmission a({/*max_pending=*/3, /*max_per_source=*/100});
  a.admit(1, "a");
  a.admit(2, "b");
  a.admit(3, "c");
  int asked = 0;
  auto spoke = [&](uint64_t id) {
    ++asked;
    return id == 1;  // 1's hello is in its socket, not read yet
  };
  auto e = a.admit(4, "d", spoke);
  REQUIRE(e.has_value());
  CHECK(e->id == 2);
  CHECK(asked == 2);
  CHECK(a.admit(5, "e")->id == 3);  // 1 now counts as heard from
  CHECK(a.admit(6, "f")->id == 4);
}

TEST_CASE("admission: caps of zero behave as one") {
  HandshakeAdmission a({0, 0});
  CHECK_FALSE(a.admit(1, "a").has_value());
  CHECK(a.admit(2, "a")->id == 1);
  CHECK(a.admit(3, "b")->id == 2);
  CHECK(a.pending() == 1);
}
