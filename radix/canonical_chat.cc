// Chat-shaped canonical prompts: /v1/chat/completions and /v1/responses.
//
//   chat     := kChat [tools] message*
//   tools    := kTools "tools" kValue <canonical JSON> kEnd      (then "functions")
//   message  := role kRole content extra* kEnd
//   content  := part (kPart part)*       text parts verbatim, others hashed
//   extra    := kField name kValue value  (name, tool_call_id, tool_calls,
//                                         function_call; in that order)
//
// A message's bytes depend only on that message and end with kEnd, so the
// canonical bytes of turn n are a prefix of those of turn n+1 (same messages
// plus more). Responses requests are encoded as the equivalent chat:
// `instructions` as a system message, a string `input` as a user message.
#include "radix/canonical_internal.h"

namespace radixmesh::radix::canon {
namespace {

using simdjson::SUCCESS;

bool is_text_type(std::string_view t) {
  return t == "text" || t == "input_text" || t == "output_text";
}

std::string part_path(const Where& msg, size_t j) {
  return index_path(msg.str() + ".content", j);
}

Status encode_parts(dom::array parts, const Where& msg, Encoder& e) {
  if (!e.fits(parts)) return e.too_many(msg.str() + ".content");
  size_t j = 0;
  for (dom::element part : parts) {
    if (j > 0) CANON_TRY(e.put(kPart));
    dom::object obj;
    if (part.get(obj) != SUCCESS) return invalid(part_path(msg, j), "must be an object");
    std::string_view type;
    dom::element text;
    bool has_type = false, has_text = false;
    for (dom::key_value_pair kv : obj) {
      if (kv.key == "type") {
        if (kv.value.get(type) != SUCCESS) {
          return invalid(part_path(msg, j) + ".type", "must be a string");
        }
        has_type = true;
      } else if (kv.key == "text") {
        text = kv.value;
        has_text = true;
      }
    }
    if (!has_type && !has_text) {
      return invalid(part_path(msg, j), "content part has neither \"type\" nor \"text\"");
    }
    if (!has_type || is_text_type(type)) {
      std::string_view s;
      if (!has_text || text.get(s) != SUCCESS) {
        return invalid(part_path(msg, j) + ".text", "must be a string");
      }
      CANON_TRY(e.text(s));
    } else {
      CANON_TRY(e.blob(type, part));
    }
    ++j;
  }
  return Ok{};
}

Status encode_content(dom::element c, const Where& msg, Encoder& e) {
  switch (c.type()) {
    case dom::element_type::STRING:
      return e.text(as<std::string_view>(c));
    case dom::element_type::ARRAY:
      return encode_parts(as<dom::array>(c), msg, e);
    case dom::element_type::NULL_VALUE:
      return Ok{};
    default:
      return invalid(msg.str() + ".content",
                     "must be a string, an array of content parts, or null");
  }
}

// Fields of one message (or Responses item), last occurrence wins.
struct MessageFields {
  dom::element role, content, name, tool_call_id, tool_calls, function_call, type;
  bool has_role = false, has_content = false, has_name = false, has_tool_call_id = false,
       has_tool_calls = false, has_function_call = false, has_type = false;
};

MessageFields scan(dom::object m) {
  MessageFields f;
  for (dom::key_value_pair kv : m) {
    const std::string_view k = kv.key;
    if (k == "role")
      f.role = kv.value, f.has_role = true;
    else if (k == "content")
      f.content = kv.value, f.has_content = true;
    else if (k == "name")
      f.name = kv.value, f.has_name = true;
    else if (k == "tool_call_id")
      f.tool_call_id = kv.value, f.has_tool_call_id = true;
    else if (k == "tool_calls")
      f.tool_calls = kv.value, f.has_tool_calls = true;
    else if (k == "function_call")
      f.function_call = kv.value, f.has_function_call = true;
    else if (k == "type")
      f.type = kv.value, f.has_type = true;
  }
  return f;
}

// A string extra goes in verbatim, anything else as canonical JSON; null or
// absent contributes nothing.
Status encode_extra(bool present, dom::element v, std::string_view name, Encoder& e) {
  if (!present || v.is_null()) return Ok{};
  CANON_TRY(e.put(kField));
  CANON_TRY(e.put(name));
  CANON_TRY(e.put(kValue));
  if (v.is_string()) return e.text(as<std::string_view>(v));
  return e.json(v);
}

Status encode_message(const MessageFields& f, const Where& msg, Encoder& e) {
  std::string_view role;
  if (!f.has_role || f.role.get(role) != SUCCESS) {
    return invalid(msg.str() + ".role", "must be a string");
  }
  CANON_TRY(e.put(role));
  CANON_TRY(e.put(kRole));
  if (f.has_content) CANON_TRY(encode_content(f.content, msg, e));
  CANON_TRY(encode_extra(f.has_name, f.name, "name", e));
  CANON_TRY(encode_extra(f.has_tool_call_id, f.tool_call_id, "tool_call_id", e));
  CANON_TRY(encode_extra(f.has_tool_calls, f.tool_calls, "tool_calls", e));
  CANON_TRY(encode_extra(f.has_function_call, f.function_call, "function_call", e));
  return e.put(kEnd);
}

Status encode_tool_section(bool present, dom::element v, std::string_view name, Encoder& e) {
  if (!present || v.is_null()) return Ok{};
  dom::array a;
  if (v.get(a) != SUCCESS) return invalid(std::string(name), "must be an array");
  if (!e.fits(a)) return e.too_many(std::string(name));
  CANON_TRY(e.put(kTools));
  CANON_TRY(e.put(name));
  CANON_TRY(e.put(kValue));
  CANON_TRY(e.json(v));
  return e.put(kEnd);
}

// A whole message from a plain string (Responses `instructions` / `input`).
Status encode_simple(std::string_view role, std::string_view text, Encoder& e) {
  CANON_TRY(e.put(role));
  CANON_TRY(e.put(kRole));
  CANON_TRY(e.text(text));
  return e.put(kEnd);
}

}  // namespace

Status encode_chat(const TopFields& f, Encoder& e) {
  CANON_TRY(e.put(kChat));
  CANON_TRY(encode_tool_section(f.has_tools, f.tools, "tools", e));
  CANON_TRY(encode_tool_section(f.has_functions, f.functions, "functions", e));
  if (!f.has_messages) return invalid("messages", "missing");
  dom::array msgs;
  if (f.messages.get(msgs) != SUCCESS) return invalid("messages", "must be an array");
  if (!e.fits(msgs)) return e.too_many("messages");
  size_t i = 0;
  for (dom::element m : msgs) {
    const Where path{"messages", i++};
    dom::object obj;
    if (m.get(obj) != SUCCESS) return invalid(path.str(), "must be an object");
    CANON_TRY(encode_message(scan(obj), path, e));
  }
  return Ok{};
}

Status encode_responses(const TopFields& f, Encoder& e) {
  CANON_TRY(e.put(kChat));
  CANON_TRY(encode_tool_section(f.has_tools, f.tools, "tools", e));
  if (f.has_instructions && !f.instructions.is_null()) {
    std::string_view s;
    if (f.instructions.get(s) != SUCCESS) return invalid("instructions", "must be a string");
    CANON_TRY(encode_simple("system", s, e));
  }
  if (!f.has_input) return invalid("input", "missing");
  if (f.input.is_string()) return encode_simple("user", as<std::string_view>(f.input), e);
  dom::array items;
  if (f.input.get(items) != SUCCESS) {
    return invalid("input", "must be a string or an array of items");
  }
  if (!e.fits(items)) return e.too_many("input");
  size_t i = 0;
  for (dom::element item : items) {
    const Where path{"input", i++};
    dom::object obj;
    if (item.get(obj) != SUCCESS) return invalid(path.str(), "must be an object");
    const MessageFields mf = scan(obj);
    if (mf.has_role) {
      CANON_TRY(encode_message(mf, path, e));
      continue;
    }
    // Non-message items (function_call, function_call_output, reasoning,
    // ...): the item type as the role, the item's canonical JSON as content.
    std::string_view type;
    if (!mf.has_type || mf.type.get(type) != SUCCESS) {
      return invalid(path.str() + ".type", "must be a string when the item has no role");
    }
    CANON_TRY(e.put(type));
    CANON_TRY(e.put(kRole));
    CANON_TRY(e.json(item));
    CANON_TRY(e.put(kEnd));
  }
  return Ok{};
}

}  // namespace radixmesh::radix::canon
