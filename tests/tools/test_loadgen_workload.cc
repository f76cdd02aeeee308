// Load generator workloads: deterministic from the seed, the requested
// shapes and sizes, and every multi-turn request extends the previous one.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "tools/loadgen/http_target.h"
#include "tools/loadgen/workload.h"

using namespace radixmesh::tools::loadgen;

TEST_CASE("texts are deterministic and exactly sized") {
  CHECK(make_text(7, 100) == make_text(7, 100));
  CHECK(make_text(7, 100) != make_text(8, 100));
  CHECK(make_text(7, 1234).size() == 1234);
  CHECK(make_text(7, 0).empty());
}

TEST_CASE("workload shapes") {
  LoadgenOptions o;
  o.conversations = 6;
  o.system_prompts = 2;
  o.turns = 3;
  o.groups = 3;
  o.questions = 4;
  o.unique_prompts = 5;
  o.workload = WorkloadKind::kMultiturn;
  auto conv = build_workload(o);
  REQUIRE(conv.size() == 6);
  CHECK(conv[0].system == conv[2].system);  // conversation c uses system prompt c % S
  CHECK(conv[0].system != conv[1].system);
  CHECK(conv[0].user_turns.size() == 3);
  CHECK(make_text(conv[0].system).size() == o.system_bytes);

  o.workload = WorkloadKind::kSharedPrefix;
  auto shared = build_workload(o);
  REQUIRE(shared.size() == 12);
  std::set<std::string> prefixes;
  for (auto& s : shared) prefixes.insert(make_text(s.system));
  CHECK(prefixes.size() == 3);

  o.workload = WorkloadKind::kMixed;
  auto mixed = build_workload(o);
  CHECK(mixed.size() == 6 + 12 + 5);
  for (size_t i = 0; i < mixed.size(); ++i) CHECK(mixed[i].id == i);

  o.seed = 2;
  o.workload = WorkloadKind::kMultiturn;
  CHECK(make_text(build_workload(o)[0].system) != make_text(conv[0].system));
}

TEST_CASE("each turn of a conversation extends the previous request") {
  LoadgenOptions o;
  o.conversations = 1;
  o.turns = 3;
  for (ApiKind api : {ApiKind::kChat, ApiKind::kCompletions, ApiKind::kGenerate}) {
    o.api = api;
    Session s = build_workload(o)[0];
    std::string prev;
    for (int t = 0; t < 3; ++t) {
      auto body = nlohmann::json::parse(next_request_body(s, o));
      std::string canon;
      if (api == ApiKind::kChat) {
        for (auto& m : body["messages"])
          canon += m["role"].get<std::string>() + "\n" + m["content"].get<std::string>() + "\n";
      } else {
        canon = body[api == ApiKind::kCompletions ? "prompt" : "text"].get<std::string>();
      }
      CHECK(canon.substr(0, prev.size()) == prev);
      CHECK(canon.size() > prev.size());
      prev = canon;
      s.replies.push_back(" the cat");
      ++s.next_turn;
    }
    CHECK(s.done());
  }
}

TEST_CASE("URLs") {
  auto u = parse_url("http://127.0.0.1:7001");
  REQUIRE(u.ok());
  CHECK(u->host == "127.0.0.1");
  CHECK(u->port == "7001");
  CHECK(u->base_path.empty());
  auto v = parse_url("http://localhost/prefix/");
  REQUIRE(v.ok());
  CHECK(v->port == "80");
  CHECK(v->base_path == "/prefix");
  CHECK_FALSE(parse_url("https://x:1").ok());
  CHECK_FALSE(parse_url("http://:80").ok());
}
