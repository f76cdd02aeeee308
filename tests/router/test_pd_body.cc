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
