// SGLang PD body change (router/pd_body.h): the bootstrap members land last
// in the top-level object, so they win over a client's own, the rest of the
// body stays byte for byte, and odd bodies are refused rather than broken.
#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <string>

#include "router/pd_body.h"

using namespace radixmesh::router;

namespace {

std::string spliced(const std::string& body, uint64_t room = 42) {
  auto at = closing_member_splice(body);
  REQUIRE(at.has_value());
  std::string out = body;
  out.insert(at->offset, sglang_bootstrap_members(*at, "10.0.0.7", 8998, room));
  return out;
}

}  // namespace

TEST_CASE("bootstrap members are added last; the rest of the body is unchanged") {
  const std::string body = R"({"model":"m","messages":[{"role":"user","content":"}"}]})";
  const std::string out = spliced(body);
  CHECK(out.substr(0, body.size() - 1) == body.substr(0, body.size() - 1));
  CHECK(out == body.substr(0, body.size() - 1) +
                   R"(,"bootstrap_host":"10.0.0.7","bootstrap_port":8998,"bootstrap_room":42})");
  const auto j = nlohmann::json::parse(out);
  CHECK(j["bootstrap_room"] == 42);
  CHECK(j["messages"][0]["content"] == "}");
}

TEST_CASE("a client's own bootstrap members lose to the router's (last key wins)") {
  const std::string out = spliced(R"({"bootstrap_room":1,"bootstrap_host":"evil"})", 7);
  // nlohmann keeps the last of duplicate keys, as Python's json does.
  const auto j = nlohmann::json::parse(out);
  CHECK(j["bootstrap_room"] == 7);
  CHECK(j["bootstrap_host"] == "10.0.0.7");
}

TEST_CASE("whitespace and empty objects") {
  CHECK(spliced("  {\n}\n ") ==
        "  {\n\"bootstrap_host\":\"10.0.0.7\",\"bootstrap_port\":8998,\"bootstrap_room\":42}\n ");
  CHECK(nlohmann::json::parse(spliced("{}"))["bootstrap_port"] == 8998);
  CHECK(nlohmann::json::parse(spliced("{\"a\":1 \n}"))["a"] == 1);
  for (const char* bad : {"", "   ", "[]", "{", "}", "{\"a\":1", "\"{}\"", "{} x"})
    CHECK_FALSE(closing_member_splice(bad).has_value());
}

TEST_CASE("the host is escaped; rooms are 63-bit") {
  auto at = closing_member_splice("{}");
  REQUIRE(at.has_value());
  const std::string m = sglang_bootstrap_members(*at, "a\"b\\c\n", 1, 2);
  const auto j = nlohmann::json::parse("{" + m + "}");
  CHECK(j["bootstrap_host"] == "a\"b\\c\n");
  CHECK(bootstrap_room_from(~uint64_t{0}) == (uint64_t{1} << 63) - 1);
  CHECK(bootstrap_room_from(1) == 0);
}

TEST_CASE("vLLM prefill copy: remote decode asked, one token, not streamed") {
  const std::string body =
      R"({"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true,)"
      R"("stream_options":{"include_usage":true},"max_tokens":50,"max_completion_tokens":50,)"
      R"("min_tokens":3,"temperature":0.5})";
  auto copy = vllm_prefill_body(body);
  REQUIRE(copy.ok());
  const auto j = nlohmann::json::parse(*copy);
  CHECK(j["kv_transfer_params"] ==
        nlohmann::json::parse(R"({"do_remote_decode":true,"do_remote_prefill":false,)"
                              R"("remote_engine_id":null,"remote_block_ids":null,)"
                              R"("remote_host":null,"remote_port":null})"));
  CHECK(j["stream"] == false);
  CHECK(j["max_tokens"] == 1);
  CHECK(j["max_completion_tokens"] == 1);
  CHECK_FALSE(j.contains("stream_options"));
  CHECK_FALSE(j.contains("min_tokens"));
  // Everything else as the client sent it.
  CHECK(j["messages"] == nlohmann::json::parse(body)["messages"]);
  CHECK(j["temperature"] == 0.5);
  // max_completion_tokens only when the client sent it.
  auto plain = vllm_prefill_body(R"({"prompt":"x"})");
  REQUIRE(plain.ok());
  CHECK_FALSE(nlohmann::json::parse(*plain).contains("max_completion_tokens"));
  CHECK_FALSE(vllm_prefill_body("[1,2]").ok());
  CHECK_FALSE(vllm_prefill_body("{\"a\":").ok());
}

TEST_CASE("vLLM decode leg: the prefill's kv_transfer_params, byte for byte") {
  const std::string params =
      R"({"do_remote_prefill": true, "remote_block_ids": [1, 2,3], "remote_host": "10.0.0.1",)"
      R"( "remote_port": 5600, "remote_engine_id": "e\u00e9"})";
  const std::string answer = R"({"id":"x","choices":[],"kv_transfer_params":)" + params +
                             R"(,"usage":{"prompt_tokens":3}})";
  auto got = kv_transfer_params_of(answer);
  REQUIRE(got.has_value());
  CHECK(*got == params);  // the worker's own bytes: spacing and escapes kept
  CHECK_FALSE(kv_transfer_params_of(R"({"id":"x"})").has_value());
  CHECK_FALSE(kv_transfer_params_of(R"({"kv_transfer_params":null})").has_value());
  CHECK_FALSE(kv_transfer_params_of("not json").has_value());

  const std::string body = R"({"model":"m","prompt":"p"})";
  auto at = closing_member_splice(body);
  REQUIRE(at.has_value());
  std::string decode = body;
  decode.insert(at->offset, kv_transfer_params_member(*at, params));
  const auto j = nlohmann::json::parse(decode);
  CHECK(j["kv_transfer_params"] == nlohmann::json::parse(params));
  CHECK(j["prompt"] == "p");
}
