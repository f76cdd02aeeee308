// make_policy, policy_names, to_string, and what every policy owes the router.
#include <doctest/doctest.h>

#include <cmath>
#include <set>

#include "policies/policy.h"
#include "tests/policies/fixtures.h"

using namespace radixmesh;
using namespace radixmesh::policies;
using namespace radixmesh::policies::testing;

TEST_CASE("policy_names: every policy of design section 4, cache_aware first") {
  auto names = policy_names();
  REQUIRE(!names.empty());
  CHECK(names.front() == "cache_aware");
  CHECK(PolicyConfig{}.name == "cache_aware");
  std::set<std::string_view> set(names.begin(), names.end());
  for (const char* n : {"cache_aware", "cost", "round_robin", "random", "power_of_two",
                        "least_load", "consistent_hash"}) {
    CHECK(set.count(n) == 1);
  }
  for (auto n : names) {
    PolicyConfig c;
    c.name = std::string(n);
    auto r = make_policy(c);
    REQUIRE(r.ok());
    CHECK(r.value()->name() == n);
  }
}

TEST_CASE("make_policy: unknown names and out-of-range parameters are rejected") {
  PolicyConfig c;
  c.name = "smallest_tree";
  auto r = make_policy(c);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ErrorCode::kInvalidArgument);
  CHECK(r.error().message.find("cache_aware") != std::string::npos);  // lists known names

  auto rejects = [](PolicyConfig bad) {
    auto res = make_policy(bad);
    return !res.ok() && res.error().code == ErrorCode::kInvalidArgument;
  };
  PolicyConfig ca;
  ca.cache_threshold = 1.5;
  CHECK(rejects(ca));
  ca.cache_threshold = std::nan("");
  CHECK(rejects(ca));
  ca = PolicyConfig{};
  ca.balance_rel_threshold = 0.5;
  CHECK(rejects(ca));
  PolicyConfig co;
  co.name = "cost";
  co.cost_load_weight = -1;
  CHECK(rejects(co));
  co.cost_load_weight = 0;
  co.cost_overlap_weight = 0;
  CHECK(rejects(co));
  PolicyConfig ch;
  ch.name = "consistent_hash";
  ch.consistent_hash_load_factor = 0.9;
  CHECK(rejects(ch));
}

TEST_CASE("needs_match: only the policies that read the tree ask for it") {
  for (auto n : policy_names()) {
    auto p = make(std::string(n));
    REQUIRE(p);
    CHECK(p->needs_match() == (n == "cache_aware" || n == "cost"));
  }
}

TEST_CASE("to_string(Reason): distinct snake_case labels") {
  std::set<std::string_view> seen;
  for (Reason r :
       {Reason::kCacheHit, Reason::kCacheMissLeastLoaded, Reason::kImbalanceLeastLoaded,
        Reason::kBranchLeastLoaded, Reason::kRoundRobin, Reason::kRandom, Reason::kPowerOfTwo,
        Reason::kLeastLoad, Reason::kConsistentHash, Reason::kConsistentHashOverflow,
        Reason::kNoSessionKeyLeastLoaded, Reason::kCostScore, Reason::kNoCandidates}) {
    auto s = to_string(r);
    CHECK(!s.empty());
    CHECK(s.find_first_not_of("abcdefghijklmnopqrstuvwxyz_") == std::string_view::npos);
    CHECK(seen.insert(s).second);
  }
}

TEST_CASE("every policy: no candidates or none healthy -> no decision, kNoCandidates") {
  Prompt prompt(8, "session");
  auto m = match_of({{0, 8}});
  for (auto n : policy_names()) {
    CAPTURE(n);
    auto p = make(std::string(n));
    Xoshiro256 rng(1);
    Decision d = p->choose(prompt.view(), {}, &m, rng);
    CHECK_FALSE(d.index.has_value());
    CHECK(d.reason == Reason::kNoCandidates);

    Cluster c(4);
    for (auto& w : c.views()) w.healthy = false;
    d = p->choose(prompt.view(), c.span(), &m, rng);
    CHECK_FALSE(d.index.has_value());
    CHECK(d.reason == Reason::kNoCandidates);
  }
}

TEST_CASE("every policy: never routes to an unhealthy worker, tolerates a null match") {
  for (auto n : policy_names()) {
    CAPTURE(n);
    auto p = make(std::string(n));
    Xoshiro256 rng(2);
    Cluster c(5);
    c[0].healthy = false;
    c[3].healthy = false;
    c[0].local_in_flight = 0;  // the unhealthy one looks the most attractive
    c.set_loads({0, 4, 2, 0, 3});
    auto m = match_of({{0, 8}, {3, 8}});
    for (int i = 0; i < 200; ++i) {
      Prompt prompt(8, "s" + std::to_string(i));
      for (const radix::MatchResult* match : {static_cast<const radix::MatchResult*>(&m),
                                              static_cast<const radix::MatchResult*>(nullptr)}) {
        Decision d = p->choose(prompt.view(), c.span(), match, rng);
        REQUIRE(d.index.has_value());
        CHECK(c[*d.index].healthy);
        CHECK(d.reason != Reason::kNoCandidates);
      }
    }
  }
}
