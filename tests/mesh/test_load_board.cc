// LoadBoard: cluster-wide in-flight per worker, with decay of stale reports.
#include <doctest/doctest.h>

#include "mesh/load_board.h"

using namespace radixmesh::mesh;

namespace {
struct Fixture {
  uint64_t now = 1'000'000;
  LoadBoard board{LoadBoardConfig{3000, 10000, 4096}, [this] { return now; }};
};
}  // namespace

TEST_CASE("local and peer in-flight add up per worker") {
  Fixture f;
  f.board.local_started(1);
  f.board.local_started(1);
  f.board.local_finished(1);
  f.board.local_started(2);
  f.board.on_peer_report("b", LoadReport{{{1, 4}, {3, 2}}});
  f.board.on_peer_report("c", LoadReport{{{1, 5}}});
  CHECK(f.board.local_in_flight(1) == 1);
  CHECK(f.board.mesh_in_flight(1) == 9);
  CHECK(f.board.total_in_flight(1) == 10);
  CHECK(f.board.total_in_flight(3) == 2);
  CHECK(f.board.total_in_flight(99) == 0);
}

TEST_CASE("a new report from a peer replaces its previous one entirely") {
  Fixture f;
  f.board.on_peer_report("b", LoadReport{{{1, 4}, {2, 7}}});
  f.board.on_peer_report("b", LoadReport{{{1, 1}}});
  CHECK(f.board.mesh_in_flight(1) == 1);
  CHECK(f.board.mesh_in_flight(2) == 0);  // absent = 0 at the sender
}

TEST_CASE("stale reports decay to zero and are forgotten") {
  Fixture f;
  f.board.on_peer_report("b", LoadReport{{{1, 100}}});
  f.now += 3000;
  CHECK(f.board.mesh_in_flight(1) == 100);  // still fresh
  f.now += 3500;                            // halfway between fresh and expire
  CHECK(f.board.mesh_in_flight(1) == 50);
  f.now += 3500;
  CHECK(f.board.mesh_in_flight(1) == 0);
  f.board.expire();
  CHECK(f.board.peer_count() == 0);
}

TEST_CASE("peer down forgets its load at once; local report lists non-zero workers") {
  Fixture f;
  f.board.on_peer_report("b", LoadReport{{{1, 4}}});
  f.board.on_peer_down("b");
  CHECK(f.board.mesh_in_flight(1) == 0);
  f.board.set_local(5, 3);
  f.board.set_local(4, 1);
  f.board.set_local(6, 0);
  f.board.local_finished(4);
  auto r = f.board.local_report();
  REQUIRE(r.entries.size() == 1);
  CHECK(r.entries[0].worker == 5);
  CHECK(r.entries[0].in_flight == 3);
}
