// The request body budget and the growth of body storage (router/body_budget.h,
// router/body_reader.h): storage follows the bytes, every growth is reserved,
// a spent budget refuses without changing anything.
#include <doctest/doctest.h>

#include <string>

#include "router/body_budget.h"
#include "router/body_reader.h"

using namespace radixmesh::router;

TEST_CASE("body budget: reservations add up to the limit, never past it") {
  BodyBudget budget(1000);
  CHECK(budget.try_reserve(600));
  CHECK_FALSE(budget.try_reserve(401));
  CHECK(budget.try_reserve(400));
  CHECK(budget.reserved() == 1000);
  budget.release(1000);
  CHECK(budget.reserved() == 0);
  CHECK_FALSE(budget.try_reserve(1001));
  CHECK_FALSE(budget.relievable());
  CHECK(budget.relieve(0) == 0);
  CHECK(budget.pool_name() == "request_bodies");
}

TEST_CASE("body reservation: follows its storage and gives everything back when destroyed") {
  BodyBudget budget(100000);
  {
    BodyReservation r(&budget);
    CHECK(r.set(5000));
    CHECK(budget.reserved() == 5000);
    CHECK(r.set(2000));
    CHECK(budget.reserved() == 2000);
    CHECK_FALSE(r.set(200000));  // refused: unchanged
    CHECK(r.bytes() == 2000);
    CHECK(budget.reserved() == 2000);
  }
  CHECK(budget.reserved() == 0);
  BodyReservation unlimited(nullptr);
  CHECK(unlimited.set(size_t{1} << 40));
}

TEST_CASE("body storage grows with the bytes, in capped steps, within the declared length") {
  BodyBudget budget(64 << 20);
  BodyReservation r(&budget);
  std::string body;
  const size_t declared = 8388000;
  // One byte of an 8 MB body: the first step only.
  REQUIRE(grow_body_storage(body, 1, declared, 64, r));
  CHECK(body.capacity() >= 1 + 64);
  CHECK(body.capacity() <= 16 * 1024 + 64);
  CHECK(r.bytes() == storage_bytes(body));
  CHECK(budget.reserved() == r.bytes());
  // Steps double while small and are at most 1 MiB once large.
  size_t last = body.capacity();
  for (size_t size = last - 63; size < declared; size = body.capacity() - 63) {
    REQUIRE(grow_body_storage(body, size, declared, 64, r));
    CHECK(body.capacity() >= size + 64);
    CHECK(body.capacity() - last <= (size_t{1} << 20));
    last = body.capacity();
  }
  CHECK(body.capacity() <= declared + 64);  // never past the declared length
  CHECK(budget.reserved() == storage_bytes(body));
  // The bytes already there move with the storage.
  std::string small;
  BodyReservation r2(&budget);
  REQUIRE(grow_body_storage(small, 10, 100, 8, r2));
  small = "0123456789";
  REQUIRE(grow_body_storage(small, 95, 100, 8, r2));
  CHECK(small == "0123456789");
  CHECK(small.capacity() >= 103);
}

TEST_CASE("body storage: a spent budget refuses and leaves the storage as it was") {
  BodyBudget budget(20000);
  BodyReservation r(&budget);
  std::string body;
  REQUIRE(grow_body_storage(body, 100, 1 << 20, 64, r));
  body = "kept";
  const size_t cap = body.capacity();
  CHECK_FALSE(grow_body_storage(body, 30000, 1 << 20, 64, r));
  CHECK(body == "kept");
  CHECK(body.capacity() == cap);
  CHECK(budget.reserved() == storage_bytes(body));
}
