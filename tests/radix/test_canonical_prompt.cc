// Canonical prompts: the prefix property across chat turns, namespaces,
// determinism, and every kind of bad input.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "radix/block_hash.h"
#include "radix/canonical_prompt.h"

namespace {

using json = nlohmann::json;
using radixmesh::ErrorCode;
using radixmesh::radix::BlockHash;
using radixmesh::radix::chain_seed;
using radixmesh::radix::ChainSpec;
using radixmesh::radix::Endpoint;
using radixmesh::radix::hash_blocks;
using radixmesh::radix::ParsedRequest;
using radixmesh::radix::ParseLimits;
using radixmesh::radix::PromptNamespace;
using radixmesh::radix::RequestParser;

ParsedRequest parse_ok(const std::string& body, Endpoint ep, RequestParser* p = nullptr) {
  RequestParser local;
  auto r = (p ? *p : local).parse(body, ep);
  if (!r.ok()) FAIL("unexpected error: " << r.error().message << " for " << body.substr(0, 200));
  return std::move(r).value();
}

std::string canon(const json& body, Endpoint ep) {
  return parse_ok(body.dump(), ep).canonical;
}

bool is_strict_prefix(const std::string& a, const std::string& b) {
  return a.size() < b.size() && b.compare(0, a.size(), a) == 0;
}

std::vector<BlockHash> chain(const ParsedRequest& r, uint64_t salt = 1) {
  std::vector<BlockHash> out;
  hash_blocks(r.canonical, chain_seed(salt, r.model, r.ns), 64, out);
  return out;
}

std::string long_text(const std::string& tag, size_t n = 300) {
  std::string s;
  while (s.size() < n) s += tag + " lorem ipsum dolor sit amet; ";
  return s;
}

// A conversation: turn n+1 = turn n's messages + assistant reply + new user message.
json turns(json first_messages, json extra = json::object()) {
  json body = extra;
  body["model"] = "m";
  body["messages"] = std::move(first_messages);
  return body;
}

void check_turn_extends(json body, const json& reply, const json& next_user) {
  const ParsedRequest r1 = parse_ok(body.dump(), Endpoint::kChatCompletions);
  body["messages"].push_back(reply);
  body["messages"].push_back(next_user);
  const ParsedRequest r2 = parse_ok(body.dump(), Endpoint::kChatCompletions);
  CHECK(is_strict_prefix(r1.canonical, r2.canonical));
  // ... and so the block chain of turn n is a prefix of turn n+1's.
  const auto h1 = chain(r1), h2 = chain(r2);
  REQUIRE(h1.size() >= 2);
  REQUIRE(h2.size() > h1.size());
  CHECK(std::equal(h1.begin(), h1.end(), h2.begin()));
}

void check_error(const std::string& body, Endpoint ep, ErrorCode code, const std::string& needle,
                 ParseLimits limits = {}) {
  RequestParser p(limits);
  auto r = p.parse(body, ep);
  REQUIRE_MESSAGE(!r.ok(), "accepted: " << body.substr(0, 200));
  CHECK_MESSAGE(r.error().code == code, "message: " << r.error().message);
  CHECK_MESSAGE(r.error().message.find(needle) != std::string::npos,
                "message: " << r.error().message << " lacks " << needle);
}

// A chat body whose one content part nests `n` arrays (depth n + 5).
std::string nested_part(size_t n) {
  std::string s = R"({"messages":[{"role":"user","content":[{"type":"f","x":)";
  s.append(n, '[');
  s.append(n, ']');
  s.append("}]}]}");
  return s;
}

}  // namespace

TEST_CASE("chat: a later turn's canonical bytes extend the earlier turn's") {
  const json reply = {{"role", "assistant"}, {"content", long_text("answer")}};
  const json next = {{"role", "user"}, {"content", "and then?"}};

  SUBCASE("string content") {
    check_turn_extends(turns({{{"role", "user"}, {"content", long_text("q")}}}), reply, next);
  }
  SUBCASE("system prompt") {
    check_turn_extends(turns({{{"role", "system"}, {"content", long_text("sys")}},
                              {{"role", "user"}, {"content", "hi"}}}),
                       reply, next);
  }
  SUBCASE("content parts with text and an image") {
    json parts = json::array(
        {{{"type", "text"}, {"text", long_text("look")}},
         {{"type", "image_url"}, {"image_url", {{"url", "data:image/png;base64,AAAA"}}}},
         {{"type", "text"}, {"text", "what is it?"}}});
    json next_parts = {{"role", "user"},
                       {"content", json::array({{{"type", "text"}, {"text", "more"}}})}};
    check_turn_extends(turns({{{"role", "user"}, {"content", parts}}}), reply, next_parts);
  }
  SUBCASE("with tools, tool calls and tool results") {
    json tools = json::array(
        {{{"type", "function"},
          {"function",
           {{"name", "get_weather"},
            {"parameters",
             {{"type", "object"}, {"properties", {{"city", {{"type", "string"}}}}}}}}}}});
    json body = turns({{{"role", "user"}, {"content", long_text("weather")}}}, {{"tools", tools}});
    json call = {
        {"role", "assistant"},
        {"content", nullptr},
        {"tool_calls",
         json::array(
             {{{"id", "c1"},
               {"type", "function"},
               {"function", {{"name", "get_weather"}, {"arguments", "{\"city\":\"Oslo\"}"}}}}})}};
    json result = {{"role", "tool"}, {"tool_call_id", "c1"}, {"content", "rain"}};
    check_turn_extends(body, call, result);
    body["messages"].push_back(call);
    body["messages"].push_back(result);
    check_turn_extends(body, reply, next);
  }
}

TEST_CASE("chat: a message's fields each change its bytes, and text never forges structure") {
  json base = turns({{{"role", "user"}, {"content", "hello"}}});
  const std::string c0 = canon(base, Endpoint::kChatCompletions);
  json named = base;
  named["messages"][0]["name"] = "alice";
  CHECK(canon(named, Endpoint::kChatCompletions) != c0);
  json role = base;
  role["messages"][0]["role"] = "system";
  CHECK(canon(role, Endpoint::kChatCompletions) != c0);
  // Moving text between role and content, or between two messages, changes the bytes.
  json a = turns({{{"role", "user"}, {"content", "ab"}}, {{"role", "user"}, {"content", "c"}}});
  json b = turns({{{"role", "user"}, {"content", "a"}}, {{"role", "user"}, {"content", "bc"}}});
  CHECK(canon(a, Endpoint::kChatCompletions) != canon(b, Endpoint::kChatCompletions));
  // Control characters in text are ordinary text, not separators.
  json c = turns({{{"role", "user"},
                   {"content",
                    "a\x1e"
                    "user\x1f"
                    "b"}}});
  json d = turns({{{"role", "user"}, {"content", "a"}}, {{"role", "user"}, {"content", "b"}}});
  CHECK(canon(c, Endpoint::kChatCompletions) != canon(d, Endpoint::kChatCompletions));
  // A single text part is the same prompt as the string.
  json parts = turns(
      {{{"role", "user"}, {"content", json::array({{{"type", "text"}, {"text", "hello"}}})}}});
  CHECK(canon(parts, Endpoint::kChatCompletions) == c0);
  // Two parts are not one part with the concatenated text.
  json two = turns({{{"role", "user"},
                     {"content", json::array({{{"type", "text"}, {"text", "hel"}},
                                              {{"type", "text"}, {"text", "lo"}}})}}});
  CHECK(canon(two, Endpoint::kChatCompletions) != c0);
}

TEST_CASE("chat: tools change the prefix") {
  json msgs = json::array({{{"role", "user"}, {"content", long_text("q")}}});
  json t1 = json::array({{{"type", "function"}, {"function", {{"name", "a"}}}}});
  json t2 = json::array({{{"type", "function"}, {"function", {{"name", "b"}}}}});
  const ParsedRequest none = parse_ok(turns(msgs).dump(), Endpoint::kChatCompletions);
  const ParsedRequest r1 =
      parse_ok(turns(msgs, {{"tools", t1}}).dump(), Endpoint::kChatCompletions);
  const ParsedRequest r2 =
      parse_ok(turns(msgs, {{"tools", t2}}).dump(), Endpoint::kChatCompletions);
  CHECK(r1.canonical != r2.canonical);
  CHECK(r1.canonical.find("\"name\":\"a\"") != std::string::npos);
  // Tools come first: the prompts differ from the first block on, so they
  // share no cached prefix.
  CHECK(chain(r1)[0] != chain(r2)[0]);
  CHECK(chain(none)[0] != chain(r1)[0]);
  CHECK(!is_strict_prefix(none.canonical, r1.canonical));
  // The tools text counts as prompt for load estimates.
  CHECK(r1.prompt_chars > none.prompt_chars);
}

TEST_CASE("canonical bytes are deterministic for the same JSON value") {
  const std::string a =
      R"({"model":"m","tools":[{"type":"function","function":{"name":"f","x":1.5e0,"y":[1,2]}}],)"
      R"("messages":[{"role":"user","content":"hi"}]})";
  const std::string b =
      "{ \"messages\" : [ { \"content\" : \"h\\u0069\" , \"role\" : \"user\" } ] ,\n"
      "  \"tools\": [ { \"type\" : \"function\", \"function\" : { \"name\" : \"\\u0066\", "
      "\"x\" : 1.50, \"y\" : [ 1 , 2 ] } } ], \"model\": \"m\" }";
  RequestParser p;
  const ParsedRequest ra = parse_ok(a, Endpoint::kChatCompletions, &p);
  const ParsedRequest rb = parse_ok(b, Endpoint::kChatCompletions, &p);
  CHECK(ra.canonical == rb.canonical);
  CHECK(ra.canonical == parse_ok(a, Endpoint::kChatCompletions).canonical);  // fresh parser
}

TEST_CASE("same text as chat and as completions does not share a chain") {
  const std::string text = long_text("same", 500);
  const ParsedRequest chat =
      parse_ok(turns({{{"role", "user"}, {"content", text}}}).dump(), Endpoint::kChatCompletions);
  const ParsedRequest comp =
      parse_ok(json{{"model", "m"}, {"prompt", text}}.dump(), Endpoint::kCompletions);
  CHECK(comp.canonical == text);  // a raw prompt is its text, verbatim
  CHECK(chat.canonical != comp.canonical);
  CHECK(chain(chat)[0] != chain(comp)[0]);
  // /generate `text` and embeddings `input` are raw prompts too.
  CHECK(canon({{"text", text}}, Endpoint::kGenerate) == text);
  CHECK(canon({{"input", text}}, Endpoint::kEmbeddings) == text);
}

TEST_CASE("completions: a growing prompt extends the earlier one") {
  const std::string t = long_text("doc", 400);
  const ParsedRequest r1 = parse_ok(json{{"prompt", t}}.dump(), Endpoint::kCompletions);
  const ParsedRequest r2 =
      parse_ok(json{{"prompt", t + " more text"}}.dump(), Endpoint::kCompletions);
  CHECK(is_strict_prefix(r1.canonical, r2.canonical));
}

TEST_CASE("completions: lists of strings") {
  const std::string a = long_text("a", 200), b = long_text("b", 200);
  CHECK(canon({{"prompt", json::array({a})}}, Endpoint::kCompletions) == a);
  const std::string both = canon({{"prompt", json::array({a, b})}}, Endpoint::kCompletions);
  CHECK(is_strict_prefix(a, both));
  CHECK(both.find(b) != std::string::npos);
  CHECK(canon({{"prompt", json::array({"ab"})}}, Endpoint::kCompletions) !=
        canon({{"prompt", json::array({"a", "b"})}}, Endpoint::kCompletions));
  const ParsedRequest r =
      parse_ok(json{{"prompt", json::array({a, b})}}.dump(), Endpoint::kCompletions);
  CHECK(r.prompt_chars == a.size() + b.size());
}

TEST_CASE("token-id prompts live in their own namespace and never collide with text") {
  // 0x61616161 is "aaaa" little-endian: the bytes equal a text prompt's.
  const json ids = json::array();
  json many = json::array();
  for (int i = 0; i < 32; ++i) many.push_back(0x61616161);
  const ParsedRequest tok =
      parse_ok(json{{"model", "m"}, {"prompt", many}}.dump(), Endpoint::kCompletions);
  const ParsedRequest txt = parse_ok(json{{"model", "m"}, {"prompt", std::string(128, 'a')}}.dump(),
                                     Endpoint::kCompletions);
  CHECK(tok.ns == PromptNamespace::kTokenIds);
  CHECK(txt.ns == PromptNamespace::kText);
  CHECK(tok.canonical == txt.canonical);  // same bytes ...
  const auto ht = chain(tok), hx = chain(txt);
  REQUIRE(ht.size() == 2);
  REQUIRE(hx.size() == 2);
  CHECK(ht[0] != hx[0]);  // ... different chains
  CHECK(ht[1] != hx[1]);

  // Fixed encoding: 4 bytes little-endian per id.
  const std::string enc = canon({{"prompt", {1, 256, 65536}}}, Endpoint::kCompletions);
  CHECK(enc == std::string("\x01\0\0\0\0\x01\0\0\0\0\x01\0", 12));
  // Lists of id lists: the first list is a prefix; [[1,2]] != [[1],[2]].
  const std::string nested = canon({{"prompt", {{1, 2}, {3}}}}, Endpoint::kCompletions);
  CHECK(is_strict_prefix(canon({{"prompt", {1, 2}}}, Endpoint::kCompletions), nested));
  CHECK(canon({{"prompt", {{1, 2}}}}, Endpoint::kCompletions) !=
        canon({{"prompt", {{1}, {2}}}}, Endpoint::kCompletions));
  // SGLang input_ids and embeddings input take ids the same way.
  const ParsedRequest gen =
      parse_ok(json{{"input_ids", {1, 256, 65536}}}.dump(), Endpoint::kGenerate);
  CHECK(gen.ns == PromptNamespace::kTokenIds);
  CHECK(gen.canonical == enc);
  CHECK(gen.prompt_chars == 12);
  CHECK(canon({{"input", {1, 256, 65536}}}, Endpoint::kEmbeddings) == enc);
}

TEST_CASE("responses: instructions and input encode as the equivalent chat") {
  const json resp = {{"model", "m"}, {"instructions", "be brief"}, {"input", "hello"}};
  const json chat = turns(
      {{{"role", "system"}, {"content", "be brief"}}, {{"role", "user"}, {"content", "hello"}}});
  CHECK(canon(resp, Endpoint::kResponses) == canon(chat, Endpoint::kChatCompletions));

  json items = {
      {"model", "m"},
      {"instructions", long_text("sys")},
      {"input",
       json::array({{{"role", "user"},
                     {"content", json::array({{{"type", "input_text"}, {"text", "q1"}}})}}})}};
  const std::string t1 = canon(items, Endpoint::kResponses);
  items["input"].push_back(
      {{"type", "message"},
       {"role", "assistant"},
       {"id", "msg_1"},
       {"content", json::array({{{"type", "output_text"}, {"text", long_text("a1")}}})}});
  items["input"].push_back(
      {{"type", "function_call"}, {"call_id", "c1"}, {"name", "f"}, {"arguments", "{}"}});
  items["input"].push_back({{"type", "function_call_output"}, {"call_id", "c1"}, {"output", "42"}});
  const std::string t2 = canon(items, Endpoint::kResponses);
  items["input"].push_back({{"role", "user"}, {"content", "q2"}});
  const std::string t3 = canon(items, Endpoint::kResponses);
  CHECK(is_strict_prefix(t1, t2));
  CHECK(is_strict_prefix(t2, t3));
  CHECK(t2.find("function_call_output") != std::string::npos);
}

TEST_CASE("non-text parts contribute a hash of their payload") {
  const std::string big(100000, 'Q');
  auto with_image = [](const std::string& url) {
    return turns(
        {{{"role", "user"},
          {"content", json::array({{{"type", "text"}, {"text", "see"}},
                                   {{"type", "image_url"}, {"image_url", {{"url", url}}}}})}}});
  };
  const std::string a =
      canon(with_image("data:image/png;base64," + big), Endpoint::kChatCompletions);
  const std::string b =
      canon(with_image("data:image/png;base64," + big + "R"), Endpoint::kChatCompletions);
  const std::string a2 =
      canon(with_image("data:image/png;base64," + big), Endpoint::kChatCompletions);
  CHECK(a.size() < 200);  // the payload itself is not copied
  CHECK(a == a2);
  CHECK(a != b);
  CHECK(a.find("image_url") != std::string::npos);
  // Audio and files work the same way; an unknown part type too.
  json audio = turns(
      {{{"role", "user"},
        {"content", json::array({{{"type", "input_audio"},
                                  {"input_audio", {{"data", "AAA"}, {"format", "wav"}}}}})}}});
  CHECK(canon(audio, Endpoint::kChatCompletions).find("input_audio") != std::string::npos);
}

TEST_CASE("model, stream and user are extracted") {
  const ParsedRequest r = parse_ok(
      R"({"model":"llama","stream":true,"user":"u-17","messages":[{"role":"user","content":"x"}]})",
      Endpoint::kChatCompletions);
  CHECK(r.model == "llama");
  CHECK(r.stream);
  CHECK(r.user == "u-17");
  CHECK(r.prompt_chars == 1);
  const ParsedRequest d = parse_ok(R"({"prompt":"x","user":5})", Endpoint::kCompletions);
  CHECK(d.model.empty());
  CHECK(!d.stream);
  CHECK(d.user.empty());
}

TEST_CASE("one parser reused across many requests gives the same results as fresh ones") {
  RequestParser p;
  ParsedRequest reused;
  std::vector<std::string> bodies;
  for (int i = 0; i < 50; ++i) {
    json b = turns({{{"role", "user"}, {"content", long_text(std::to_string(i), 100 + i * 997)}}});
    if (i % 3 == 0)
      b["tools"] =
          json::array({{{"type", "function"},
                        {"function", {{"name", std::string("t").append(std::to_string(i))}}}}});
    bodies.push_back(b.dump());
  }
  for (const auto& body : bodies) {
    REQUIRE(p.parse_into(body, Endpoint::kChatCompletions, reused).ok());
    RequestParser fresh;
    auto r = fresh.parse(body, Endpoint::kChatCompletions);
    REQUIRE(r.ok());
    CHECK(reused.canonical == r->canonical);
    CHECK(reused.prompt_chars == r->prompt_chars);
  }
}

TEST_CASE("bad input: clear errors naming the field") {
  const auto kInv = ErrorCode::kInvalidArgument;
  const auto chat = Endpoint::kChatCompletions;
  check_error("", chat, kInv, "not valid JSON");
  check_error("{\"messages\": [", chat, kInv, "not valid JSON");
  check_error("[1,2]", chat, kInv, "must be a JSON object");
  check_error("\"str\"", chat, kInv, "must be a JSON object");
  check_error("{}", chat, kInv, "messages: missing");
  check_error(R"({"messages": {"role":"user"}})", chat, kInv, "messages: must be an array");
  check_error(R"({"messages": [{"role":"user","content":"a"}, 7]})", chat, kInv,
              "messages[1]: must be an object");
  check_error(R"({"messages": [{"content":"a"}]})", chat, kInv, "messages[0].role");
  check_error(R"({"messages": [{"role":3,"content":"a"}]})", chat, kInv, "messages[0].role");
  check_error(R"({"messages": [{"role":"user","content":12}]})", chat, kInv, "messages[0].content");
  check_error(R"({"messages": [{"role":"user","content":{"text":"a"}}]})", chat, kInv,
              "messages[0].content");
  check_error(R"({"messages": [{"role":"user","content":["a"]}]})", chat, kInv,
              "messages[0].content[0]");
  check_error(R"({"messages": [{"role":"user","content":[{"type":"text","text":5}]}]})", chat, kInv,
              "messages[0].content[0].text");
  check_error(R"({"messages": [{"role":"user","content":[{"foo":1}]}]})", chat, kInv,
              "messages[0].content[0]");
  check_error(R"({"messages": [], "tools": {"a":1}})", chat, kInv, "tools: must be an array");
  check_error(R"({"model": 5, "messages": []})", chat, kInv, "model: must be a string");
  check_error(R"({"stream": "yes", "messages": []})", chat, kInv, "stream: must be a boolean");

  const auto comp = Endpoint::kCompletions;
  check_error(R"({"model":"m"})", comp, kInv, "prompt: missing");
  check_error(R"({"prompt": {"a":1}})", comp, kInv, "prompt: must be");
  check_error(R"({"prompt": true})", comp, kInv, "prompt: must be");
  check_error(R"({"prompt": [true]})", comp, kInv, "prompt: must be");
  check_error(R"({"prompt": ["a", 1]})", comp, kInv, "prompt[1]");
  check_error(R"({"prompt": [1, "a"]})", comp, kInv, "prompt[1]");
  check_error(R"({"prompt": [1, -2]})", comp, kInv, "prompt[1]");
  check_error(R"({"prompt": [1, 2.5]})", comp, kInv, "prompt[1]");
  check_error(R"({"prompt": [1, 4294967295]})", comp, kInv, "prompt[1]");
  check_error(R"({"prompt": [[1], 2]})", comp, kInv, "prompt[1]");
  check_error(R"({"prompt": [[1], ["a"]]})", comp, kInv, "prompt[1][0]");
  check_error(R"({"sampling_params": {}})", Endpoint::kGenerate, kInv, "text: missing");
  check_error(R"({"input_ids": ["a"]})", Endpoint::kGenerate, kInv, "input_ids");
  check_error(R"({"text": [1, 2]})", Endpoint::kGenerate, kInv, "text");
  check_error(R"({"input_ids": "abc"})", Endpoint::kGenerate, kInv, "input_ids");
  check_error(R"({"model":"e"})", Endpoint::kEmbeddings, kInv, "input: missing");
  check_error(R"({"instructions":"x"})", Endpoint::kResponses, kInv, "input: missing");
  check_error(R"({"input": 5})", Endpoint::kResponses, kInv, "input: must be");
  check_error(R"({"input": [{"call_id":"x"}]})", Endpoint::kResponses, kInv, "input[0].type");
  check_error(R"({"instructions": 1, "input": "x"})", Endpoint::kResponses, kInv, "instructions");

  // Invalid UTF-8 inside a string, and an overlong encoding.
  check_error("{\"prompt\": \"ab\xff\"}", comp, kInv, "UTF-8");
  check_error("{\"prompt\": \"\xc0\xaf\"}", comp, kInv, "UTF-8");
}

TEST_CASE("bad input: bounds give kTooLarge, never a crash or unbounded work") {
  const auto kBig = ErrorCode::kTooLarge;
  ParseLimits small;
  small.max_body_bytes = 1000;
  check_error(json{{"prompt", std::string(2000, 'x')}}.dump(), Endpoint::kCompletions, kBig, "body",
              small);

  // 10,000 and 100,000 nested arrays inside content parts: a depth error
  // (kInvalidArgument: a shape error, answered 400, not 413), not a stack
  // overflow.
  check_error(nested_part(10000), Endpoint::kChatCompletions, ErrorCode::kInvalidArgument,
              "nesting");
  check_error(nested_part(100000), Endpoint::kChatCompletions, ErrorCode::kInvalidArgument,
              "nesting");
  // Just inside the limit is fine, one past it is not (5 levels lead to the part).
  ParseLimits depth;
  depth.max_depth = 16;
  RequestParser dp(depth);
  CHECK(dp.parse(nested_part(11), Endpoint::kChatCompletions).ok());
  const std::string bad_nest = nested_part(12);
  check_error(bad_nest, Endpoint::kChatCompletions, ErrorCode::kInvalidArgument, "nesting", depth);

  ParseLimits items;
  items.max_array_items = 1000;
  json many = json::array();
  for (int i = 0; i < 1001; ++i) many.push_back({{"role", "user"}, {"content", "x"}});
  check_error(json{{"messages", many}}.dump(), Endpoint::kChatCompletions, kBig, "messages", items);
  many.erase(many.begin());
  RequestParser ip(items);
  CHECK(ip.parse(json{{"messages", many}}.dump(), Endpoint::kChatCompletions).ok());
  check_error(json{{"prompt", std::vector<int>(1001, 7)}}.dump(), Endpoint::kCompletions, kBig,
              "prompt", items);
  json parts = json::array();
  for (int i = 0; i < 1001; ++i) parts.push_back({{"type", "text"}, {"text", "p"}});
  check_error(json{{"messages", {{{"role", "user"}, {"content", parts}}}}}.dump(),
              Endpoint::kChatCompletions, kBig, "messages[0].content", items);

  // A huge array under the default limits (100,000 items) is refused.
  check_error(json{{"prompt", std::vector<int>(100001, 1)}}.dump(), Endpoint::kCompletions, kBig,
              "prompt");

  ParseLimits out;
  out.max_canonical_bytes = 100;
  check_error(json{{"prompt", std::string(101, 'x')}}.dump(), Endpoint::kCompletions, kBig,
              "canonical", out);
  check_error(
      json{{"tools", {{{"name", std::string(200, 't')}}}}, {"messages", json::array()}}.dump(),
      Endpoint::kChatCompletions, kBig, "canonical", out);
  RequestParser op(out);
  CHECK(op.parse(json{{"prompt", std::string(100, 'x')}}.dump(), Endpoint::kCompletions).ok());
}

TEST_CASE("chain mode names the blocks exactly as hash_blocks over the canonical bytes") {
  // Every endpoint and prompt shape, long and short pieces, under block
  // sizes that split pieces anywhere: chain mode must give the names the
  // canonical bytes give, or routers of a cluster would disagree.
  const std::string big = long_text("big", 40000);
  const std::vector<std::pair<json, Endpoint>> bodies = {
      {turns({{{"role", "system"}, {"content", long_text("sys", 700)}},
              {{"role", "user"}, {"content", big}},
              {{"role", "assistant"}, {"content", "ok"}},
              {{"role", "user"},
               {"content", json::array({{{"type", "text"}, {"text", long_text("part", 300)}},
                                        {{"type", "image_url"}, {"image_url", {{"url", "x"}}}}})}}},
             {{"tools", {{{"type", "function"}, {"function", {{"name", long_text("t", 400)}}}}}}}),
       Endpoint::kChatCompletions},
      {json{{"messages", {{{"role", "user"}, {"content", "hi"}}}}}, Endpoint::kChatCompletions},
      {json{{"model", "m2"}, {"instructions", long_text("ins", 500)}, {"input", big}},
       Endpoint::kResponses},
      {json{{"prompt", big}}, Endpoint::kCompletions},
      {json{{"prompt", {"a", long_text("b", 900), "c"}}}, Endpoint::kCompletions},
      {json{{"prompt", std::vector<int>(3000, 42)}}, Endpoint::kCompletions},
      {json{{"input_ids", {{1, 2, 3}, std::vector<int>(500, 9)}}}, Endpoint::kGenerate},
      {json{{"text", long_text("gen", 1000)}}, Endpoint::kGenerate},
      {json{{"model", "e"}, {"input", {long_text("e1", 300), "e2"}}}, Endpoint::kEmbeddings},
      {json{{"prompt", ""}}, Endpoint::kCompletions},
  };
  RequestParser parser;
  for (const auto& entry : bodies) {
    // Not a structured binding: clang 14 cannot capture one (CAPTURE below).
    const json& body = entry.first;
    const Endpoint endpoint = entry.second;
    const ParsedRequest plain = parse_ok(body.dump(), endpoint, &parser);
    for (size_t block : {size_t{1}, size_t{7}, size_t{64}, size_t{100}, size_t{256}}) {
      for (uint64_t salt : {0ull, 99ull}) {
        CAPTURE(body.dump().substr(0, 80));
        CAPTURE(block);
        ParsedRequest chained;
        std::vector<BlockHash> named{1, 2, 3};  // cleared by parse_into
        REQUIRE(parser
                    .parse_into(body.dump(), endpoint, chained, false,
                                ChainSpec{salt, "default-model", block}, named)
                    .ok());
        const std::string model = plain.model.empty() ? "default-model" : plain.model;
        std::vector<BlockHash> expected;
        hash_blocks(plain.canonical, chain_seed(salt, model, plain.ns), block, expected);
        CHECK(named == expected);
        CHECK(named.size() == plain.canonical.size() / block);
        CHECK(chained.canonical_bytes == plain.canonical.size());
        CHECK(chained.canonical.empty());  // never gathered
        CHECK(chained.ns == plain.ns);
        CHECK(chained.prompt_chars == plain.prompt_chars);
        CHECK(chained.model == plain.model);
      }
    }
  }
  // The canonical bound holds in chain mode too, including text hashed in
  // place (never gathered) and JSON rendered into the gathering buffer.
  ParseLimits out;
  out.max_canonical_bytes = 1000;
  RequestParser bounded(out);
  ParsedRequest r;
  std::vector<BlockHash> named;
  const ChainSpec spec{0, "m", 64};
  CHECK(bounded
            .parse_into(json{{"prompt", std::string(1000, 'x')}}.dump(), Endpoint::kCompletions, r,
                        false, spec, named)
            .ok());
  CHECK(named.size() == 1000 / 64);
  auto over = bounded.parse_into(json{{"prompt", std::string(1001, 'x')}}.dump(),
                                 Endpoint::kCompletions, r, false, spec, named);
  REQUIRE(!over.ok());
  CHECK(over.error().code == ErrorCode::kTooLarge);
  json two_big = turns({{{"role", "user"}, {"content", std::string(600, 'a')}},
                        {{"role", "user"}, {"content", std::string(600, 'b')}}});
  over = bounded.parse_into(two_big.dump(), Endpoint::kChatCompletions, r, false, spec, named);
  REQUIRE(!over.ok());
  CHECK(over.error().code == ErrorCode::kTooLarge);
  json tools = turns({{{"role", "user"}, {"content", std::string(600, 'a')}}},
                     {{"tools", {{{"name", std::string(600, 't')}}}}});
  over = bounded.parse_into(tools.dump(), Endpoint::kChatCompletions, r, false, spec, named);
  REQUIRE(!over.ok());
  CHECK(over.error().code == ErrorCode::kTooLarge);
}

TEST_CASE("bad input: truncated and mutated bodies never crash") {
  const std::string body =
      turns({{{"role", "system"}, {"content", "sys"}},
             {{"role", "user"},
              {"content", json::array({{{"type", "text"}, {"text", "hello \u00e9"}},
                                       {{"type", "image_url"}, {"image_url", {{"url", "u"}}}}})}}},
            {{"tools", {{{"type", "function"}, {"function", {{"name", "f"}}}}}}})
          .dump();
  RequestParser p;
  size_t ok = 0;
  for (size_t n = 0; n <= body.size(); ++n) {
    ok += p.parse(std::string_view(body).substr(0, n), Endpoint::kChatCompletions).ok();
  }
  CHECK(ok == 1);  // only the whole body is valid JSON
  uint32_t x = 12345;
  for (int i = 0; i < 3000; ++i) {
    std::string m = body;
    for (int k = 0; k < 3; ++k) {
      x = x * 1664525u + 1013904223u;
      m[x % m.size()] = static_cast<char>(x >> 24);
    }
    auto r = p.parse(m, Endpoint::kChatCompletions);
    if (r.ok())
      CHECK(r->canonical.size() < 4 * body.size());
    else
      CHECK(!r.error().message.empty());
  }
}

TEST_CASE("endpoint_for_path") {
  using radixmesh::radix::endpoint_for_path;
  CHECK(endpoint_for_path("/v1/chat/completions") == Endpoint::kChatCompletions);
  CHECK(endpoint_for_path("/v1/completions?x=1") == Endpoint::kCompletions);
  CHECK(endpoint_for_path("/generate") == Endpoint::kGenerate);
  CHECK(endpoint_for_path("/v1/responses") == Endpoint::kResponses);
  CHECK(endpoint_for_path("/v1/embeddings") == Endpoint::kEmbeddings);
  CHECK(!endpoint_for_path("/v1/models").has_value());
  CHECK(!endpoint_for_path("/v1/chat/completions/x").has_value());
}

TEST_CASE("a padded body parsed in place gives the same result as a copied one") {
  RequestParser p;
  std::string body = turns({{{"role", "user"}, {"content", long_text("pad", 5000)}}}).dump();
  body.reserve(body.size() + RequestParser::kPadding);
  ParsedRequest in_place, copied;
  REQUIRE(p.parse_into(body, Endpoint::kChatCompletions, in_place, true).ok());
  REQUIRE(p.parse_into(body, Endpoint::kChatCompletions, copied, false).ok());
  CHECK(in_place.canonical == copied.canonical);
  CHECK(in_place.canonical.find(long_text("pad", 5000)) != std::string::npos);
}

TEST_CASE("a parser grown by a large body gives its memory back and keeps working") {
  RequestParser p;
  const std::string small_text = long_text("small", 3000);
  const std::string small = json{{"prompt", small_text}}.dump();
  const std::string big = json{{"prompt", long_text("big", 3 << 20)}}.dump();
  const std::string image =
      turns({{{"role", "user"},
              {"content", json::array({{{"type", "image_url"},
                                        {"image_url", {{"url", std::string(2 << 20, 'A')}}}}})}}})
          .dump();
  for (int round = 0; round < 3; ++round) {
    auto b = p.parse(big, Endpoint::kCompletions);
    REQUIRE(b.ok());
    CHECK(b->canonical.size() >= (3u << 20));
    auto s = p.parse(small, Endpoint::kCompletions);  // shrinks, then parses
    REQUIRE(s.ok());
    CHECK(s->canonical == small_text);
    auto i = p.parse(image, Endpoint::kChatCompletions);
    REQUIRE(i.ok());
    CHECK(i->canonical.size() < 100);
  }
}

TEST_CASE("property: every prefix of a random conversation is a byte prefix of the next") {
  // Random conversations mixing every message shape; each turn adds one or
  // two messages. Deterministic (fixed seed), bounded (300 x 8 turns).
  uint32_t x = 2024;
  auto next = [&x](uint32_t n) {
    x = x * 1664525u + 1013904223u;
    return (x >> 8) % n;
  };
  auto random_text = [&](size_t max_len) {
    static const char* kWords[] = {"a ",         "b\n",     "é ",  "\x1e",
                                   "{\"k\":1} ", "ümlaut ", "\\ ", "🙂"};
    std::string s;
    const size_t n = next(static_cast<uint32_t>(max_len));
    for (size_t i = 0; i < n; ++i) s += kWords[next(8)];
    return s;
  };
  auto random_message = [&]() {
    static const char* kRoles[] = {"user", "assistant", "system", "tool", "developer"};
    json m = {{"role", kRoles[next(5)]}};
    switch (next(5)) {
      case 0:
        m["content"] = random_text(40);
        break;
      case 1:
        m["content"] = nullptr;
        break;
      case 2: {
        json parts = json::array();
        for (uint32_t i = 0, n = 1 + next(3); i < n; ++i) {
          if (next(3) == 0)
            parts.push_back({{"type", "image_url"}, {"image_url", {{"url", random_text(10)}}}});
          else
            parts.push_back({{"type", "text"}, {"text", random_text(20)}});
        }
        m["content"] = parts;
        break;
      }
      case 3:
        m["content"] = random_text(5);
        m["tool_calls"] =
            json::array({{{"id", random_text(3)},
                          {"function", {{"name", "f"}, {"arguments", random_text(8)}}}}});
        break;
      default:
        m["content"] = random_text(10);
        m["tool_call_id"] = random_text(3);
        m["name"] = random_text(3);
    }
    return m;
  };
  RequestParser p;
  std::set<std::string> finals;
  for (int conv = 0; conv < 300; ++conv) {
    json body = {{"model", "m"}, {"messages", json::array()}};
    if (next(2))
      body["tools"] =
          json::array({{{"type", "function"}, {"function", {{"name", random_text(4)}}}}});
    std::string prev = parse_ok(body.dump(), Endpoint::kChatCompletions, &p).canonical;
    for (int turn = 0; turn < 8; ++turn) {
      for (uint32_t k = 0, n = 1 + next(2); k < n; ++k)
        body["messages"].push_back(random_message());
      const std::string cur = parse_ok(body.dump(), Endpoint::kChatCompletions, &p).canonical;
      REQUIRE(is_strict_prefix(prev, cur));
      prev = cur;
    }
    finals.insert(prev);
  }
  CHECK(finals.size() == 300);  // distinct random conversations, distinct bytes
}
