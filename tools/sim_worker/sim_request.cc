#include "tools/sim_worker/sim_request.h"

#include "tools/sim_worker/sim_options.h"

namespace radixmesh::tools::sim {
namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;

// last_field(obj, key) with duplicate keys resolved to the LAST occurrence, as Python
// JSON parsers (and so vLLM, SGLang) and the router's own parser do;
// simdjson's operator[] would return the first. An error result when `obj`
// is not an object or has no such key.
simdjson::simdjson_result<element> last_field(element obj, std::string_view key) {
  simdjson::dom::object o;
  if (obj.get_object().get(o) != simdjson::SUCCESS) return simdjson::INCORRECT_TYPE;
  simdjson::simdjson_result<element> found(simdjson::NO_SUCH_FIELD);
  for (auto kv : o) {
    if (kv.key == key) found = simdjson::simdjson_result<element>(element(kv.value));
  }
  return found;
}

Error bad(std::string msg) {
  return Error{ErrorCode::kInvalidArgument, std::move(msg)};
}

void append_id(std::string& out, int64_t id) {
  uint32_t v = static_cast<uint32_t>(id);
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

// Appends an array of integers as token ids; false if an element is not one.
bool append_ids(std::string& out, simdjson::dom::array arr) {
  for (element e : arr) {
    int64_t v;
    if (e.get_int64().get(v) != simdjson::SUCCESS) return false;
    append_id(out, v);
  }
  return true;
}

// Prompt-like field: string, array of strings, array of ints, array of arrays
// of ints (first one used). Returns false on another shape.
bool read_prompt(element e, SimRequest& r) {
  std::string_view text;
  if (e.get_string().get(text) == simdjson::SUCCESS) {
    r.prompt.append(text);
    return true;
  }
  simdjson::dom::array arr;
  if (e.get_array().get(arr) != simdjson::SUCCESS) return false;
  if (arr.size() == 0) return true;
  element first;
  if (arr.at(0).get(first) != simdjson::SUCCESS) return false;
  if (first.is_string()) {
    bool sep = false;
    for (element s : arr) {
      std::string_view text;
      if (s.get_string().get(text) != simdjson::SUCCESS) return false;
      if (sep) r.prompt.push_back('\n');
      r.prompt.append(text);
      sep = true;
    }
    return true;
  }
  r.token_ids = true;
  simdjson::dom::array inner;
  if (first.get_array().get(inner) == simdjson::SUCCESS) return append_ids(r.prompt, inner);
  return append_ids(r.prompt, arr);
}

bool read_chat(element messages, SimRequest& r) {
  simdjson::dom::array list;
  if (messages.get_array().get(list) != simdjson::SUCCESS) return false;
  for (element m : list) {
    if (!m.is_object()) return false;
    std::string_view role;
    if (last_field(m, "role").get_string().get(role) != simdjson::SUCCESS) return false;
    r.prompt.append(role);
    r.prompt.push_back('\n');
    element content;
    if (last_field(m, "content").get(content) == simdjson::SUCCESS) {
      std::string_view text;
      simdjson::dom::array parts;
      if (content.get_string().get(text) == simdjson::SUCCESS) {
        r.prompt.append(text);
      } else if (content.get_array().get(parts) == simdjson::SUCCESS) {
        for (element part : parts) {
          if (last_field(part, "text").get_string().get(text) == simdjson::SUCCESS) {
            r.prompt.append(text);
          } else {
            r.prompt.append(simdjson::minify(part));
          }
        }
      } else if (!content.is_null()) {
        return false;
      }
    }
    r.prompt.push_back('\n');
  }
  return true;
}

std::optional<uint64_t> read_uint(element obj, const char* key) {
  uint64_t v;
  if (last_field(obj, key).get_uint64().get(v) == simdjson::SUCCESS) return v;
  return std::nullopt;
}

// Bound on the block ids a decode request may name (a 16-token block each:
// 16M prompt tokens, far beyond any model's context).
constexpr size_t kMaxRemoteBlockIds = size_t{1} << 20;

// A member that is absent or null reads as absent; another type than asked
// is an error.
enum class Read { kAbsent, kOk, kBad };

Read read_opt_string(element obj, const char* key, std::string& out) {
  element e;
  if (last_field(obj, key).get(e) != simdjson::SUCCESS || e.is_null()) return Read::kAbsent;
  std::string_view v;
  if (e.get_string().get(v) != simdjson::SUCCESS) return Read::kBad;
  out = v;
  return Read::kOk;
}

Read read_opt_uint(element obj, const char* key, std::optional<uint64_t>& out) {
  element e;
  if (last_field(obj, key).get(e) != simdjson::SUCCESS || e.is_null()) return Read::kAbsent;
  uint64_t v;
  if (e.get_uint64().get(v) != simdjson::SUCCESS) return Read::kBad;
  out = v;
  return Read::kOk;
}

Read read_opt_bool(element obj, const char* key, bool& out) {
  element e;
  if (last_field(obj, key).get(e) != simdjson::SUCCESS || e.is_null()) return Read::kAbsent;
  if (e.get_bool().get(out) != simdjson::SUCCESS) return Read::kBad;
  return Read::kOk;
}

// SGLang's bootstrap_* members and vLLM's kv_transfer_params; an error
// message naming the bad member, or empty.
std::string read_pd_fields(element root, PdFields& pd) {
  if (read_opt_string(root, "bootstrap_host", pd.bootstrap_host) == Read::kBad)
    return "'bootstrap_host' must be a string";
  if (read_opt_uint(root, "bootstrap_port", pd.bootstrap_port) == Read::kBad ||
      (pd.bootstrap_port && *pd.bootstrap_port > 65535))
    return "'bootstrap_port' must be an integer in [0, 65535]";
  if (read_opt_uint(root, "bootstrap_room", pd.bootstrap_room) == Read::kBad)
    return "'bootstrap_room' must be a non-negative integer";
  element kv;
  if (last_field(root, "kv_transfer_params").get(kv) != simdjson::SUCCESS || kv.is_null())
    return {};
  if (!kv.is_object()) return "'kv_transfer_params' must be an object";
  pd.has_kv_params = true;
  if (read_opt_bool(kv, "do_remote_decode", pd.do_remote_decode) == Read::kBad ||
      read_opt_bool(kv, "do_remote_prefill", pd.do_remote_prefill) == Read::kBad)
    return "'kv_transfer_params.do_remote_decode' and 'do_remote_prefill' must be booleans";
  if (read_opt_string(kv, "remote_engine_id", pd.remote_engine_id) == Read::kBad)
    return "'kv_transfer_params.remote_engine_id' must be a string";
  if (read_opt_string(kv, "remote_host", pd.remote_host) == Read::kBad)
    return "'kv_transfer_params.remote_host' must be a string";
  if (read_opt_uint(kv, "remote_port", pd.remote_port) == Read::kBad ||
      (pd.remote_port && *pd.remote_port > 65535))
    return "'kv_transfer_params.remote_port' must be an integer in [0, 65535]";
  element ids;
  if (last_field(kv, "remote_block_ids").get(ids) == simdjson::SUCCESS && !ids.is_null()) {
    simdjson::dom::array arr;
    if (ids.get_array().get(arr) != simdjson::SUCCESS)
      return "'kv_transfer_params.remote_block_ids' must be an array of integers";
    if (arr.size() > kMaxRemoteBlockIds)
      return "'kv_transfer_params.remote_block_ids' has more than " +
             std::to_string(kMaxRemoteBlockIds) + " ids";
    for (element e : arr) {
      uint64_t v;
      if (e.get_uint64().get(v) != simdjson::SUCCESS)
        return "'kv_transfer_params.remote_block_ids' must be an array of integers";
      pd.remote_block_ids.push_back(v);
    }
  }
  return {};
}

}  // namespace

const char* endpoint_name(Endpoint e) {
  switch (e) {
    case Endpoint::kChat:
      return "chat";
    case Endpoint::kCompletions:
      return "completions";
    case Endpoint::kGenerate:
      return "generate";
    case Endpoint::kEmbeddings:
      return "embeddings";
    case Endpoint::kResponses:
      return "responses";
  }
  return "unknown";
}

Result<SimRequest> parse_sim_request(Endpoint endpoint, std::string_view body,
                                     simdjson::dom::parser& parser) {
  element root;
  if (parser.parse(body.data(), body.size(), true).get(root) != simdjson::SUCCESS)
    return bad("request body is not valid JSON");
  if (!root.is_object()) return bad("request body must be a JSON object");
  SimRequest r;
  std::string_view model;
  if (last_field(root, "model").get_string().get(model) == simdjson::SUCCESS) r.model = model;
  bool stream = false;
  if (last_field(root, "stream").get_bool().get(stream) == simdjson::SUCCESS) r.stream = stream;
  element options;
  bool include_usage = false;
  if (last_field(root, "stream_options").get(options) == simdjson::SUCCESS && options.is_object() &&
      last_field(options, "include_usage").get_bool().get(include_usage) == simdjson::SUCCESS) {
    r.include_usage = include_usage;
  }

  if (std::string msg = read_pd_fields(root, r.pd); !msg.empty()) return bad(std::move(msg));

  element field;
  switch (endpoint) {
    case Endpoint::kChat: {
      if (last_field(root, "tools").get(field) == simdjson::SUCCESS) {
        r.prompt.append("tools\n");
        r.prompt.append(simdjson::minify(field));
        r.prompt.push_back('\n');
      }
      if (last_field(root, "messages").get(field) != simdjson::SUCCESS)
        return bad("'messages' is a required property");
      if (!read_chat(field, r)) return bad("'messages' must be an array of {role, content}");
      r.max_tokens = read_uint(root, "max_completion_tokens");
      if (!r.max_tokens) r.max_tokens = read_uint(root, "max_tokens");
      break;
    }
    case Endpoint::kCompletions:
      if (last_field(root, "prompt").get(field) != simdjson::SUCCESS)
        return bad("'prompt' is a required property");
      if (!read_prompt(field, r)) return bad("'prompt' must be a string, strings or token ids");
      r.max_tokens = read_uint(root, "max_tokens");
      break;
    case Endpoint::kGenerate: {
      if (last_field(root, "text").get(field) == simdjson::SUCCESS) {
        if (!read_prompt(field, r)) return bad("'text' must be a string");
      } else if (last_field(root, "input_ids").get(field) == simdjson::SUCCESS) {
        if (!read_prompt(field, r) || !r.token_ids) return bad("'input_ids' must be token ids");
      } else {
        return bad("'text' or 'input_ids' is required");
      }
      element sp;
      if (last_field(root, "sampling_params").get(sp) == simdjson::SUCCESS && sp.is_object())
        r.max_tokens = read_uint(sp, "max_new_tokens");
      break;
    }
    case Endpoint::kResponses: {
      if (std::string_view ins;
          last_field(root, "instructions").get_string().get(ins) == simdjson::SUCCESS) {
        r.prompt.append("system\n");
        r.prompt.append(ins);
        r.prompt.push_back('\n');
      }
      if (last_field(root, "input").get(field) != simdjson::SUCCESS)
        return bad("'input' is a required property");
      if (std::string_view text; field.get_string().get(text) == simdjson::SUCCESS) {
        r.prompt.append("user\n");
        r.prompt.append(text);
        r.prompt.push_back('\n');
      } else if (!read_chat(field, r)) {
        return bad("'input' must be a string or an array of {role, content}");
      }
      r.max_tokens = read_uint(root, "max_output_tokens");
      break;
    }
    case Endpoint::kEmbeddings:
      if (last_field(root, "input").get(field) != simdjson::SUCCESS)
        return bad("'input' is a required property");
      if (simdjson::dom::array inputs; field.get_array().get(inputs) == simdjson::SUCCESS &&
                                       inputs.size() > 0 && inputs.at(0).is_string())
        r.embedding_inputs = inputs.size();
      if (!read_prompt(field, r)) return bad("'input' must be a string, strings or token ids");
      if (std::string_view fmt;
          last_field(root, "encoding_format").get_string().get(fmt) == simdjson::SUCCESS)
        r.embedding_base64 = fmt == "base64";
      r.stream = false;
      break;
  }
  constexpr uint64_t kBpt = SimOptions::kBytesPerToken;
  r.prompt_tokens = r.token_ids ? r.prompt.size() / kBpt : (r.prompt.size() + kBpt - 1) / kBpt;
  if (r.prompt_tokens == 0) r.prompt_tokens = 1;
  return r;
}

}  // namespace radixmesh::tools::sim
