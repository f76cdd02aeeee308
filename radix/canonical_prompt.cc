// RequestParser: bounds, simdjson parsing, top-level fields, dispatch by
// endpoint (contract in radix/canonical_prompt.h; byte grammar in
// docs/canonical-prompts.md).
#include "radix/canonical_prompt.h"

#include <algorithm>

#include "radix/canonical_internal.h"

namespace radixmesh::radix {

namespace dom = simdjson::dom;
using canon::invalid;
using simdjson::SUCCESS;

namespace {

// Recursion in the JSON re-serialiser is bounded by the parser's depth limit;
// clamp it so a misconfiguration cannot overflow the stack.
constexpr size_t kMaxDepthCeiling = 1024;
// Parser capacity to start with; it grows (geometrically, up to
// max_body_bytes) to the largest body seen and then stays.
constexpr size_t kInitialCapacity = 64 << 10;
// Capacity kept between requests; see Impl::ensure_capacity.
constexpr size_t kRetainCapacity = 1 << 20;

canon::TopFields scan_top(dom::object root) {
  canon::TopFields f;
  for (dom::key_value_pair kv : root) {
    const std::string_view k = kv.key;
    if (k == "model")
      f.model = kv.value, f.has_model = true;
    else if (k == "messages")
      f.messages = kv.value, f.has_messages = true;
    else if (k == "tools")
      f.tools = kv.value, f.has_tools = true;
    else if (k == "functions")
      f.functions = kv.value, f.has_functions = true;
    else if (k == "stream")
      f.stream = kv.value, f.has_stream = true;
    else if (k == "stream_options")
      f.has_stream_options = true;
    else if (k == "user")
      f.user = kv.value, f.has_user = true;
    else if (k == "prompt")
      f.prompt = kv.value, f.has_prompt = true;
    else if (k == "input")
      f.input = kv.value, f.has_input = true;
    else if (k == "text")
      f.text = kv.value, f.has_text = true;
    else if (k == "input_ids")
      f.input_ids = kv.value, f.has_input_ids = true;
    else if (k == "instructions")
      f.instructions = kv.value, f.has_instructions = true;
  }
  return f;
}

Error parse_error(simdjson::error_code err, const ParseLimits& limits) {
  switch (err) {
    case simdjson::DEPTH_ERROR:
      // A shape error, not a size one: a 200 KB body of brackets is small
      // (400, not 413).
      return make_error(
          ErrorCode::kInvalidArgument,
          "body: JSON nesting deeper than " + std::to_string(limits.max_depth) + " levels");
    case simdjson::UTF8_ERROR:
      return make_error(ErrorCode::kInvalidArgument, "body: not valid UTF-8");
    case simdjson::CAPACITY:
    case simdjson::MEMALLOC:
      return make_error(ErrorCode::kTooLarge, "body: too large to parse");
    default:
      return make_error(ErrorCode::kInvalidArgument,
                        std::string("body: not valid JSON (") + simdjson::error_message(err) + ")");
  }
}

Status encode_body(const canon::TopFields& f, Endpoint endpoint, canon::Encoder& e,
                   PromptNamespace& ns) {
  ns = PromptNamespace::kText;
  switch (endpoint) {
    case Endpoint::kChatCompletions:
      return canon::encode_chat(f, e);
    case Endpoint::kResponses:
      return canon::encode_responses(f, e);
    case Endpoint::kCompletions:
      if (!f.has_prompt) return invalid("prompt", "missing");
      return canon::encode_prompt(f.prompt, "prompt", e, ns);
    case Endpoint::kEmbeddings:
      if (!f.has_input) return invalid("input", "missing");
      return canon::encode_prompt(f.input, "input", e, ns);
    case Endpoint::kGenerate:
      // SGLang: `text` wins when both are present, as in SGLang itself.
      if (f.has_text && !f.text.is_null()) {
        CANON_TRY(canon::encode_prompt(f.text, "text", e, ns));
        if (ns != PromptNamespace::kText) {
          return invalid("text", "must be a string or an array of strings (ids go in input_ids)");
        }
        return Ok{};
      }
      if (f.has_input_ids && !f.input_ids.is_null()) {
        // Only ids here: strings in input_ids would silently become text.
        dom::array ids;
        if (f.input_ids.get(ids) != SUCCESS || (ids.size() > 0 && (*ids.begin()).is_string())) {
          return invalid("input_ids", "must be an array of token ids or of token-id arrays");
        }
        return canon::encode_prompt(f.input_ids, "input_ids", e, ns);
      }
      return invalid("text", "missing (one of text or input_ids is required)");
  }
  return invalid("endpoint", "unknown");
}

}  // namespace

struct RequestParser::Impl {
  explicit Impl(ParseLimits l) : limits(l) {
    limits.max_depth = std::clamp<size_t>(limits.max_depth, 1, kMaxDepthCeiling);
    reset();
  }

  // The parser's own cap; our max_body_bytes check comes first anyway.
  size_t parser_max() const { return std::max(limits.max_body_bytes, kInitialCapacity); }

  // A fresh simdjson parser at the initial capacity (frees a grown one,
  // including its padded copy of the body). Also sets the depth limit.
  void reset() {
    parser = dom::parser(parser_max());
    init_error = parser.allocate(kInitialCapacity, limits.max_depth);
  }

  Status ensure_capacity(size_t len) {
    // After a body over kRetainCapacity, the next ordinary body gives the
    // memory back: a thread keeps ~14x kRetainCapacity at most for long.
    if (parser.capacity() > kRetainCapacity && len <= kRetainCapacity) reset();
    if (scratch.capacity() > kRetainCapacity) std::string().swap(scratch);
    if (init_error != SUCCESS) {
      return make_error(ErrorCode::kInternal, "request parser could not allocate");
    }
    if (len <= parser.capacity()) return Ok{};
    const size_t want = std::min(std::max(len, 2 * parser.capacity()), parser_max());
    if (parser.allocate(want, limits.max_depth) != SUCCESS) {
      return make_error(ErrorCode::kTooLarge, "body: cannot allocate parser capacity");
    }
    return Ok{};
  }

  ParseLimits limits;
  dom::parser parser;
  simdjson::error_code init_error = SUCCESS;
  std::string scratch;  // non-text part serialisation, reused
  BlockChain chain;     // chain mode's block hasher, reused
};

RequestParser::RequestParser(ParseLimits limits) : impl_(std::make_unique<Impl>(limits)) {}
RequestParser::~RequestParser() = default;
RequestParser::RequestParser(RequestParser&&) noexcept = default;
RequestParser& RequestParser::operator=(RequestParser&&) noexcept = default;

const ParseLimits& RequestParser::limits() const {
  return impl_->limits;
}

Result<ParsedRequest> RequestParser::parse(std::string_view body, Endpoint endpoint) {
  ParsedRequest out;
  Status st = parse_into(body, endpoint, out);
  if (!st.ok()) return st.error();
  return out;
}

static_assert(RequestParser::kPadding >= simdjson::SIMDJSON_PADDING);

Status RequestParser::parse_into(std::string_view body, Endpoint endpoint, ParsedRequest& out,
                                 bool body_padded) {
  return parse(body, endpoint, out, body_padded, nullptr, nullptr);
}

Status RequestParser::parse_into(std::string_view body, Endpoint endpoint, ParsedRequest& out,
                                 bool body_padded, const ChainSpec& chain,
                                 std::vector<BlockHash>& blocks) {
  blocks.clear();
  return parse(body, endpoint, out, body_padded, &chain, &blocks);
}

Status RequestParser::parse(std::string_view body, Endpoint endpoint, ParsedRequest& out,
                            bool body_padded, const ChainSpec* chain,
                            std::vector<BlockHash>* blocks) {
  Impl& im = *impl_;
  out.model.clear();
  out.ns = PromptNamespace::kText;
  out.canonical.clear();
  out.stream = false;
  out.has_stream_options = false;
  out.user.clear();
  out.prompt_chars = 0;
  out.canonical_bytes = 0;
  if (body.size() > im.limits.max_body_bytes) {
    return make_error(ErrorCode::kTooLarge, "body: " + std::to_string(body.size()) +
                                                " bytes, over the limit of " +
                                                std::to_string(im.limits.max_body_bytes));
  }
  CANON_TRY(im.ensure_capacity(body.size()));
  // Unless the caller vouches for padding, the body is copied into the
  // parser's own padded buffer (allocated once, reused).
  dom::element root;
  if (auto err = im.parser.parse(body.data(), body.size(), !body_padded).get(root);
      err != SUCCESS) {
    return parse_error(err, im.limits);
  }
  dom::object obj;
  if (root.get(obj) != SUCCESS) return invalid("body", "must be a JSON object");
  const canon::TopFields f = scan_top(obj);

  if (f.has_model && !f.model.is_null()) {
    std::string_view m;
    if (f.model.get(m) != SUCCESS) return invalid("model", "must be a string");
    out.model.assign(m);
  }
  if (f.has_stream && !f.stream.is_null()) {
    if (f.stream.get(out.stream) != SUCCESS) return invalid("stream", "must be a boolean");
  }
  out.has_stream_options = f.has_stream_options;
  if (f.has_user) {
    std::string_view u;
    if (f.user.get(u) == SUCCESS) out.user.assign(u);
  }
  canon::ChainTarget target;
  if (chain != nullptr) {
    target = {&im.chain,
              blocks,
              chain->cluster_salt,
              out.model.empty() ? chain->default_model : out.model,
              &out.ns,
              chain->block_bytes};
  }
  canon::Encoder enc(im.limits, out.canonical, im.scratch, chain ? &target : nullptr);
  CANON_TRY(encode_body(f, endpoint, enc, out.ns));
  enc.finish();
  out.canonical_bytes = enc.size();
  out.prompt_chars = enc.chars();
  return Ok{};
}

std::optional<Endpoint> endpoint_for_path(std::string_view path) {
  path = path.substr(0, path.find('?'));
  if (path == "/v1/chat/completions") return Endpoint::kChatCompletions;
  if (path == "/v1/completions") return Endpoint::kCompletions;
  if (path == "/generate") return Endpoint::kGenerate;
  if (path == "/v1/responses") return Endpoint::kResponses;
  if (path == "/v1/embeddings") return Endpoint::kEmbeddings;
  return std::nullopt;
}

const char* to_string(Endpoint endpoint) {
  switch (endpoint) {
    case Endpoint::kChatCompletions:
      return "chat_completions";
    case Endpoint::kCompletions:
      return "completions";
    case Endpoint::kGenerate:
      return "generate";
    case Endpoint::kResponses:
      return "responses";
    case Endpoint::kEmbeddings:
      return "embeddings";
  }
  return "unknown";
}

}  // namespace radixmesh::radix
