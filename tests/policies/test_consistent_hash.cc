// consistent_hash: rendezvous hashing with bounded load.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>

#include "policies/hashing.h"
#include "policies/policy.h"
#include "tests/policies/fixtures.h"

using namespace radixmesh::policies;
using namespace radixmesh::policies::testing;

namespace {

std::unique_ptr<Policy> consistent_hash(double factor = 1.25) {
  PolicyConfig c;
  c.name = "consistent_hash";
  c.consistent_hash_load_factor = factor;
  return make(c);
}

// The worker id a key maps to on an idle cluster.
radixmesh::radix::WorkerId owner(const Policy& p, Cluster& c, const std::string& key, Random& rng) {
  Prompt prompt(3, key);
  Decision d = p.choose(prompt.view(), c.span(), nullptr, rng);
  REQUIRE(d.index.has_value());
  return c[*d.index].id;
}

std::string key(int i) {
  return "session-" + std::to_string(i);
}

}  // namespace

TEST_CASE("consistent_hash: the same key always goes to the same worker") {
  auto p = consistent_hash();
  Cluster c(5);
  Xoshiro256 rng1(1), rng2(999);
  for (int i = 0; i < 200; ++i) {
    const auto a = owner(*p, c, key(i), rng1);
    CHECK(owner(*p, c, key(i), rng2) == a);  // the random source plays no part
  }
  // Independent of the order the router lists the workers in.
  Cluster reversed(0);
  for (int id = 4; id >= 0; --id) reversed.add(static_cast<radixmesh::radix::WorkerId>(id));
  for (int i = 0; i < 200; ++i)
    CHECK(owner(*p, reversed, key(i), rng1) == owner(*p, c, key(i), rng1));
}

TEST_CASE("consistent_hash: keys spread evenly over the workers") {
  auto p = consistent_hash();
  Cluster c(10);
  Xoshiro256 rng(2);
  std::vector<int> count(10, 0);
  for (int i = 0; i < 10000; ++i) ++count[owner(*p, c, key(i), rng)];
  for (int k : count) {
    CHECK(k > 800);  // 1000 expected; binomial sigma ~30
    CHECK(k < 1200);
  }
}

TEST_CASE("consistent_hash: adding or removing a worker moves only ~1/N of the keys") {
  auto p = consistent_hash();
  Xoshiro256 rng(3);
  const int keys = 10000;
  Cluster c(10);
  std::vector<radixmesh::radix::WorkerId> before(keys);
  for (int i = 0; i < keys; ++i) before[i] = owner(*p, c, key(i), rng);

  SUBCASE("add an eleventh worker") {
    c.add(10);
    int moved = 0;
    for (int i = 0; i < keys; ++i) {
      const auto after = owner(*p, c, key(i), rng);
      if (after != before[i]) {
        ++moved;
        CHECK(after == 10);  // keys only move to the new worker
      }
    }
    // Ideal: keys / 11 = 909.
    CHECK(moved > 700);
    CHECK(moved < 1150);
  }

  SUBCASE("remove a worker") {
    c[3].healthy = false;  // same as removal for routing
    int moved = 0;
    for (int i = 0; i < keys; ++i) {
      const auto after = owner(*p, c, key(i), rng);
      if (after != before[i]) {
        ++moved;
        CHECK(before[i] == 3);  // only the removed worker's keys move
      }
    }
    const int owned = static_cast<int>(std::count(before.begin(), before.end(), 3u));
    CHECK(moved == owned);
  }
}

TEST_CASE("consistent_hash: an overloaded first choice overflows to the next on its ring") {
  auto p = consistent_hash(1.25);
  Xoshiro256 rng(4);
  Cluster c(4);
  Prompt prompt(3, "user-42");
  Decision first = p->choose(prompt.view(), c.span(), nullptr, rng);
  REQUIRE(first.index.has_value());
  CHECK(first.reason == Reason::kConsistentHash);
  const size_t home = *first.index;

  // home carries 10 of 12 in flight: bound ceil(1.25 * 13 / 4) = 5 < 11.
  c[home].local_in_flight = 10;
  c[(home + 1) % 4].local_in_flight = 2;
  Decision d = p->choose(prompt.view(), c.span(), nullptr, rng);
  REQUIRE(d.index.has_value());
  CHECK(*d.index != home);
  CHECK(d.reason == Reason::kConsistentHashOverflow);
  CHECK(d.score >= 1);  // at least one worker skipped
  // The overflow target is stable too: the same key overflows the same way.
  CHECK(*p->choose(prompt.view(), c.span(), nullptr, rng).index == *d.index);

  // Once the load drains, the key goes home again.
  c[home].local_in_flight = 1;
  d = p->choose(prompt.view(), c.span(), nullptr, rng);
  CHECK(*d.index == home);
  CHECK(d.reason == Reason::kConsistentHash);
}

TEST_CASE("consistent_hash: every choice respects the load bound") {
  auto p = consistent_hash(1.25);
  Xoshiro256 rng(5);
  Cluster c(6);
  for (int round = 0; round < 500; ++round) {
    uint64_t total = 0;
    for (auto& w : c.views()) {
      w.local_in_flight = static_cast<uint32_t>(rng.uniform(20));
      total += w.local_in_flight;
    }
    Prompt prompt(2, key(round));
    Decision d = p->choose(prompt.view(), c.span(), nullptr, rng);
    REQUIRE(d.index.has_value());
    const double bound = std::max(2.0, std::ceil(1.25 * static_cast<double>(total + 1) / 6.0));
    CHECK(static_cast<double>(c[*d.index].local_in_flight + 1) <= bound);
  }
}

// Regression: on an idle fleet a session's own just-finished request (still
// counted for an instant) made the bound ceil(1.25 * 2 / 4) = 1 and moved the
// session to another worker.
TEST_CASE("consistent_hash: an idle fleet keeps a session home despite one lingering request") {
  auto p = consistent_hash(1.25);
  Xoshiro256 rng(8);
  Cluster c(4);
  Prompt prompt(3, "session-3");
  const size_t home = *p->choose(prompt.view(), c.span(), nullptr, rng).index;
  c[home].local_in_flight = 1;
  Decision d = p->choose(prompt.view(), c.span(), nullptr, rng);
  CHECK(*d.index == home);
  CHECK(d.reason == Reason::kConsistentHash);
}

TEST_CASE("consistent_hash: without a session key it falls back to least load and says so") {
  auto p = consistent_hash();
  Xoshiro256 rng(6);
  Cluster c(3);
  c.set_loads({3, 0, 1});
  Decision d = p->choose(Prompt(3, "").view(), c.span(), nullptr, rng);
  REQUIRE(d.index.has_value());
  CHECK(*d.index == 1);
  CHECK(d.reason == Reason::kNoSessionKeyLeastLoaded);
}

TEST_CASE("consistent_hash: a precomputed url_hash gives exactly the choices of hashing the url") {
  auto p = consistent_hash();
  Cluster plain(20), hashed(20), wrong(20);
  Xoshiro256 load_rng(5);
  for (size_t i = 0; i < 20; ++i) {
    const auto l = static_cast<uint32_t>(load_rng.uniform(6));  // some keys overflow
    plain[i].local_in_flight = hashed[i].local_in_flight = wrong[i].local_in_flight = l;
    hashed[i].url_hash = hash_bytes(hashed[i].url);
    wrong[i].url_hash = 0x1234 + i;  // proves the field is read, not recomputed
  }
  Xoshiro256 r1(1), r2(1), r3(1);
  int overflowed = 0, differ = 0;
  for (int i = 0; i < 1000; ++i) {
    Prompt prompt(3, key(i));
    const Decision a = p->choose(prompt.view(), plain.span(), nullptr, r1);
    const Decision b = p->choose(prompt.view(), hashed.span(), nullptr, r2);
    const Decision c = p->choose(prompt.view(), wrong.span(), nullptr, r3);
    REQUIRE(a.index.has_value());
    CHECK(b.index == a.index);
    CHECK(b.reason == a.reason);
    CHECK(b.score == a.score);
    if (a.reason == Reason::kConsistentHashOverflow) ++overflowed;
    if (c.index != a.index) ++differ;
  }
  CHECK(overflowed > 0);
  CHECK(differ > 0);
}
