// Load generator workloads: deterministic from the seed, the requested
// shapes and sizes, and every multi-turn request extends the previous one.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "tools/loadgen/http_target.h"
#include "tools/loadgen/trace.h"
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

TEST_CASE("trace replay: Mooncake lines become timed one-turn sessions sharing prefixes by id") {
  LoadgenOptions o;
  o.trace_block_tokens = 4;  // 16 bytes per id
  std::vector<Session> s;
  std::string error;
  const std::string trace =
      "{\"timestamp\": 30, \"input_length\": 10, \"output_length\": 5, \"hash_ids\": [1, 2, 9]}\n"
      "\n"
      "{\"timestamp\": 0, \"input_length\": 12, \"output_length\": 3, \"hash_ids\": [1, 2, 3]}\r\n"
      "{\"timestamp\": 10, \"input_length\": 4, \"output_length\": 0, \"hash_ids\": [7]}\n";
  REQUIRE(parse_trace(trace, o, s, error));
  REQUIRE(s.size() == 3);
  CHECK(s[0].send_at_ms == 0);  // sorted by time
  CHECK(s[1].send_at_ms == 10);
  CHECK(s[2].send_at_ms == 30);
  CHECK(s[0].kind == SessionKind::kTrace);
  CHECK(s[0].max_tokens == 3);
  CHECK(s[1].max_tokens == 1);  // output 0 still asks for one token
  auto prompt = [&](const Session& x) {
    auto j = nlohmann::json::parse(next_request_body(x, o));
    return j["messages"][0]["content"].get<std::string>();
  };
  const std::string a = prompt(s[0]), b = prompt(s[2]);
  CHECK(a.size() == 12 * 4);
  CHECK(b.size() == 10 * 4);                  // the last block is cut to input_length
  CHECK(a.substr(0, 32) == b.substr(0, 32));  // ids 1, 2 shared: 32 bytes of prefix
  CHECK(a.substr(32, 8) != b.substr(32, 8));  // id 3 vs id 9
  auto j = nlohmann::json::parse(next_request_body(s[0], o));
  CHECK(j["max_tokens"] == 3);
  // Same ids, same bytes on every run and from every line.
  std::vector<Session> again;
  REQUIRE(parse_trace(trace, o, again, error));
  CHECK(prompt(again[0]) == a);
}

TEST_CASE("trace replay: a malformed line is an error naming it") {
  LoadgenOptions o;
  std::vector<Session> s;
  std::string error;
  CHECK_FALSE(
      parse_trace("{\"timestamp\": 0, \"input_length\": 8, \"output_length\": 1, "
                  "\"hash_ids\": [1]}\nnot json\n",
                  o, s, error));
  CHECK(error == "line 2: not a JSON object");
  CHECK_FALSE(
      parse_trace("{\"timestamp\": -5, \"input_length\": 8, \"output_length\": 1, "
                  "\"hash_ids\": [1]}\n",
                  o, s, error));
  CHECK(error.find("line 1: ") == 0);
  CHECK_FALSE(
      parse_trace("{\"timestamp\": 0, \"input_length\": 8, \"output_length\": 1, "
                  "\"hash_ids\": []}\n",
                  o, s, error));
  CHECK_FALSE(
      parse_trace("{\"timestamp\": 0, \"input_length\": 8, \"output_length\": 1, "
                  "\"hash_ids\": [\"x\"]}\n",
                  o, s, error));
}
