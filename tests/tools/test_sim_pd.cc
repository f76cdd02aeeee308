// The simulated worker's prefill/decode logic: the PD fields of a request
// (SGLang's bootstrap_*, vLLM's kv_transfer_params) parse or are refused,
// each role's plan asks for exactly what its peer must send, and the room
// table stays bounded in size and time and hands a room out once.
#include <doctest/doctest.h>

#include <chrono>
#include <string>

#include "tools/sim_worker/kv_rooms.h"
#include "tools/sim_worker/pd_plan.h"
#include "tools/sim_worker/sim_request.h"

using namespace radixmesh::tools::sim;

namespace {

SimRequest parse(const std::string& body) {
  simdjson::dom::parser p;
  auto r = parse_sim_request(Endpoint::kChat, body, p);
  REQUIRE(r.ok());
  return r.value();
}

std::string chat_with(const std::string& extra) {
  return R"({"messages":[{"role":"user","content":"hi"}])" + extra + "}";
}

SimOptions role(PdRole role, PdProtocol protocol) {
  SimOptions o;
  o.role = role;
  o.pd_protocol = protocol;
  o.id = "p1";
  o.advertise_host = "10.0.0.1";
  o.bootstrap_port = 8998;
  return o;
}

}  // namespace

TEST_CASE("PD fields: SGLang bootstrap members and vLLM kv_transfer_params") {
  SimRequest r = parse(chat_with(
      R"(,"bootstrap_host":"h","bootstrap_port":8998,"bootstrap_room":9223372036854775807)"));
  CHECK(r.pd.bootstrap_host == "h");
  CHECK(r.pd.bootstrap_port == 8998u);
  CHECK(r.pd.bootstrap_room == 9223372036854775807ull);

  r = parse(chat_with(R"(,"kv_transfer_params":{"do_remote_decode":true,"do_remote_prefill":false,
      "remote_engine_id":null,"remote_block_ids":null,"remote_host":null,"remote_port":null})"));
  CHECK(r.pd.has_kv_params);
  CHECK(r.pd.do_remote_decode);
  CHECK(r.pd.remote_engine_id.empty());
  CHECK_FALSE(r.pd.remote_port.has_value());

  r = parse(chat_with(R"(,"kv_transfer_params":{"do_remote_prefill":true,"remote_engine_id":"e",
      "remote_block_ids":[4,5,6],"remote_host":"h","remote_port":5600,"tp_size":1})"));
  CHECK(r.pd.do_remote_prefill);
  CHECK(r.pd.remote_block_ids == std::vector<uint64_t>{4, 5, 6});
  CHECK(r.pd.remote_port == 5600u);

  simdjson::dom::parser p;
  for (const char* bad :
       {R"(,"bootstrap_room":"1")", R"(,"bootstrap_room":-1)", R"(,"bootstrap_port":70000)",
        R"(,"bootstrap_host":3)", R"(,"kv_transfer_params":[])",
        R"(,"kv_transfer_params":{"remote_block_ids":[1,"x"]})",
        R"(,"kv_transfer_params":{"do_remote_prefill":"yes"})"}) {
    auto res = parse_sim_request(Endpoint::kChat, chat_with(bad), p);
    CHECK_FALSE(res.ok());
  }
}

TEST_CASE("PD fields: a bounded number of remote block ids") {
  auto ids = [](size_t n) {
    std::string out = R"(,"kv_transfer_params":{"remote_block_ids":[)";
    for (size_t i = 0; i < n; ++i) out += i ? ",1" : "1";
    return chat_with(out + "]}");
  };
  simdjson::dom::parser p;
  CHECK(parse_sim_request(Endpoint::kChat, ids(size_t{1} << 20), p).ok());
  auto too_many = parse_sim_request(Endpoint::kChat, ids((size_t{1} << 20) + 1), p);
  REQUIRE_FALSE(too_many.ok());
  CHECK(too_many.error().message.find("more than") != std::string::npos);
}

TEST_CASE("PD plan: role none ignores PD fields") {
  SimRequest r = parse(chat_with(R"(,"bootstrap_room":1,"kv_transfer_params":{})"));
  PdPlan plan = plan_pd(SimOptions{}, r);
  CHECK(plan.step == PdStep::kPlain);
  CHECK(plan.error.empty());
}

TEST_CASE("PD plan: SGLang prefill and decode") {
  const SimOptions prefill = role(PdRole::kPrefill, PdProtocol::kSglang);
  const SimOptions decode = role(PdRole::kDecode, PdProtocol::kSglang);
  SimRequest full =
      parse(chat_with(R"(,"bootstrap_host":"h","bootstrap_port":7,"bootstrap_room":42)"));
  PdPlan p = plan_pd(prefill, full);
  CHECK(p.step == PdStep::kPrefill);
  CHECK(p.key == "42");
  p = plan_pd(decode, full);
  CHECK(p.step == PdStep::kDecodeRemote);
  CHECK(p.key == "42");
  CHECK(p.host == "h");
  CHECK(p.port == 7);
  CHECK(p.engine_id.empty());

  SimRequest room_only = parse(chat_with(R"(,"bootstrap_room":42)"));
  CHECK(plan_pd(prefill, room_only).step == PdStep::kPrefill);
  CHECK(plan_pd(decode, room_only).error.find("bootstrap_host") != std::string::npos);
  SimRequest none = parse(chat_with(""));
  CHECK_FALSE(plan_pd(prefill, none).error.empty());
  CHECK_FALSE(plan_pd(decode, none).error.empty());

  SimOptions local = decode;
  local.pd_local_prefill = true;
  CHECK(plan_pd(local, none).step == PdStep::kPlain);
  CHECK_FALSE(plan_pd(local, room_only).error.empty());  // half a PD request is still refused
}

TEST_CASE("PD plan: vLLM prefill names its blocks; the decode fetches them") {
  const SimOptions prefill = role(PdRole::kPrefill, PdProtocol::kVllm);
  const SimOptions decode = role(PdRole::kDecode, PdProtocol::kVllm);
  SimRequest leg = parse(chat_with(R"(,"kv_transfer_params":{"do_remote_decode":true})"));
  CHECK(plan_pd(prefill, leg).step == PdStep::kPrefill);
  CHECK_FALSE(plan_pd(decode, leg).error.empty());
  SimRequest streamed =
      parse(chat_with(R"(,"stream":true,"kv_transfer_params":{"do_remote_decode":true})"));
  CHECK(plan_pd(prefill, streamed).error.find("stream") != std::string::npos);

  const std::string params = vllm_kv_transfer_params(prefill, 100, 3);
  CHECK(params ==
        R"("kv_transfer_params":{"do_remote_prefill":true,"do_remote_decode":false,)"
        R"("remote_block_ids":[100,101,102],"remote_engine_id":"p1","remote_host":"10.0.0.1",)"
        R"("remote_port":8998,"tp_size":1})");
  // What the decode gets back: the prefill's object, verbatim.
  SimRequest back = parse(chat_with("," + params));
  PdPlan p = plan_pd(decode, back);
  REQUIRE(p.step == PdStep::kDecodeRemote);
  CHECK(p.key == vllm_room_key(100, 3));
  CHECK(p.host == "10.0.0.1");
  CHECK(p.port == 8998);
  CHECK(p.engine_id == "p1");
  CHECK_FALSE(plan_pd(prefill, back).error.empty());

  SimRequest partial = parse(chat_with(R"(,"kv_transfer_params":{"do_remote_prefill":true})"));
  CHECK(plan_pd(decode, partial).error.find("remote_engine_id") != std::string::npos);
}

TEST_CASE("room table: bounded in size and time, each room handed out once") {
  using Clock = KvRoomTable::Clock;
  const auto t0 = Clock::now();
  KvRoomTable t(2, std::chrono::seconds(10));
  t.put("a", {"m", 10, 0}, t0);
  t.put("b", {"m", 20, 16}, t0 + std::chrono::seconds(1));
  t.put("c", {"m", 30, 0}, t0 + std::chrono::seconds(2));
  CHECK(t.size() == 2);
  CHECK(t.evicted() == 1);
  CHECK_FALSE(t.take("a", t0 + std::chrono::seconds(2)).has_value());  // the oldest went
  auto b = t.take("b", t0 + std::chrono::seconds(3));
  REQUIRE(b.has_value());
  CHECK(b->prompt_tokens == 20);
  CHECK(b->cached_tokens == 16);
  CHECK_FALSE(t.take("b", t0 + std::chrono::seconds(3)).has_value());
  // "c" was born at t0+2: gone at t0+12.
  CHECK_FALSE(t.take("c", t0 + std::chrono::seconds(12)).has_value());
  CHECK(t.expired() == 1);
  CHECK(t.size() == 0);

  // Registering a key again replaces it without growing the table.
  t.put("x", {"m", 1, 0}, t0);
  t.put("x", {"m", 2, 0}, t0);
  CHECK(t.size() == 1);
  CHECK(t.take("x", t0)->prompt_tokens == 2);
  CHECK(t.evicted() == 1);
}
