// Request parsing of the simulated worker: the canonical prompt of a later
// chat turn extends the earlier turn's, token ids are a separate namespace,
// and malformed bodies are errors (not crashes).
#include <doctest/doctest.h>

#include <string>

#include "tools/sim_worker/sim_request.h"

using namespace radixmesh::tools::sim;

TEST_CASE("a later chat turn's canonical prompt extends the earlier one") {
  simdjson::dom::parser p;
  auto t1 = parse_sim_request(Endpoint::kChat,
                              R"({"model":"m","messages":[{"role":"system","content":"S"},
                                  {"role":"user","content":"hello"}],"max_tokens":3})",
                              p);
  REQUIRE(t1.ok());
  auto t2 = parse_sim_request(Endpoint::kChat,
                              R"({"model":"m","messages":[{"role":"system","content":"S"},
                                  {"role":"user","content":"hello"},
                                  {"role":"assistant","content":" the cat"},
                                  {"role":"user","content":[{"type":"text","text":"more"}]}]})",
                              p);
  REQUIRE(t2.ok());
  CHECK(t2->prompt.substr(0, t1->prompt.size()) == t1->prompt);
  CHECK(t2->prompt.size() > t1->prompt.size());
  CHECK(t1->max_tokens == 3);
  CHECK_FALSE(t2->max_tokens.has_value());
  CHECK(t1->model == "m");
}

TEST_CASE("token ids count one token each; text counts 4 bytes per token") {
  simdjson::dom::parser p;
  auto ids = parse_sim_request(Endpoint::kGenerate, R"({"input_ids":[1,2,3,4,5]})", p);
  REQUIRE(ids.ok());
  CHECK(ids->token_ids);
  CHECK(ids->prompt_tokens == 5);
  auto text = parse_sim_request(Endpoint::kCompletions, R"({"prompt":"123456789"})", p);
  REQUIRE(text.ok());
  CHECK_FALSE(text->token_ids);
  CHECK(text->prompt_tokens == 3);
  auto gen = parse_sim_request(
      Endpoint::kGenerate, R"({"text":"abc","sampling_params":{"max_new_tokens":7},"stream":true})",
      p);
  REQUIRE(gen.ok());
  CHECK(gen->max_tokens == 7);
  CHECK(gen->stream);
}

TEST_CASE("malformed bodies are errors") {
  simdjson::dom::parser p;
  CHECK_FALSE(parse_sim_request(Endpoint::kChat, "{nope", p).ok());
  CHECK_FALSE(parse_sim_request(Endpoint::kChat, "[1,2]", p).ok());
  CHECK_FALSE(parse_sim_request(Endpoint::kChat, R"({"model":"m"})", p).ok());
  CHECK_FALSE(parse_sim_request(Endpoint::kChat, R"({"messages":"hi"})", p).ok());
  CHECK_FALSE(parse_sim_request(Endpoint::kChat, R"({"messages":[{"content":"x"}]})", p).ok());
  CHECK_FALSE(parse_sim_request(Endpoint::kCompletions, R"({"prompt":{"a":1}})", p).ok());
  CHECK_FALSE(parse_sim_request(Endpoint::kGenerate, R"({"input_ids":["a"]})", p).ok());
  auto e = parse_sim_request(Endpoint::kCompletions, "", p);
  REQUIRE_FALSE(e.ok());
  CHECK(!e.error().message.empty());
}

TEST_CASE("responses API input: instructions first, string or message items") {
  simdjson::dom::parser p;
  auto s = parse_sim_request(
      Endpoint::kResponses, R"({"instructions":"be brief","input":"hi","max_output_tokens":5})", p);
  REQUIRE(s.ok());
  CHECK(s->prompt == "system\nbe brief\nuser\nhi\n");
  CHECK(s->max_tokens == 5);
  auto items = parse_sim_request(
      Endpoint::kResponses,
      R"({"input":[{"role":"user","content":[{"type":"input_text","text":"hi"}]}]})", p);
  REQUIRE(items.ok());
  CHECK(items->prompt == "user\nhi\n");
  CHECK_FALSE(parse_sim_request(Endpoint::kResponses, R"({"input":5})", p).ok());
}
