#include "tools/sim_worker/responses_api.h"

namespace radixmesh::tools::sim {
namespace {

std::string message_id(const ResponseMeta& m) {
  return "msg_" + m.id;
}

std::string event(const char* type, uint64_t seq, const std::string& fields) {
  std::string out = "event: ";
  out += type;
  out += "\ndata: {\"type\":\"";
  out += type;
  out += "\",\"sequence_number\":" + std::to_string(seq) + "," + fields + "}\n\n";
  return out;
}

}  // namespace

std::string responses_object(const ResponseMeta& m, std::string_view text, const Usage& u,
                             bool completed) {
  std::string out = "{\"id\":";
  append_json_string(out, m.id);
  out += ",\"object\":\"response\",\"created_at\":" + std::to_string(m.created) + ",\"status\":\"" +
         (completed ? "completed" : "in_progress") + "\",\"model\":";
  append_json_string(out, m.model);
  out += ",\"output\":[";
  if (completed) {
    out += "{\"type\":\"message\",\"id\":";
    append_json_string(out, message_id(m));
    out +=
        ",\"status\":\"completed\",\"role\":\"assistant\",\"content\":[{\"type\":"
        "\"output_text\",\"text\":";
    append_json_string(out, text);
    out += ",\"annotations\":[]}]}";
  }
  out += "],\"metadata\":{\"worker_id\":";
  append_json_string(out, m.worker_id);
  out += "},\"usage\":";
  if (completed) {
    out += "{\"input_tokens\":" + std::to_string(u.prompt_tokens) +
           ",\"input_tokens_details\":{\"cached_tokens\":" + std::to_string(u.cached_tokens) +
           "},\"output_tokens\":" + std::to_string(u.completion_tokens) +
           ",\"output_tokens_details\":{\"reasoning_tokens\":0},\"total_tokens\":" +
           std::to_string(u.prompt_tokens + u.completion_tokens) + "}";
  } else {
    out += "null";
  }
  out += "}";
  return out;
}

std::string responses_created_event(const ResponseMeta& m, uint64_t seq) {
  return event("response.created", seq, "\"response\":" + responses_object(m, "", {}, false));
}

std::string responses_delta_event(const ResponseMeta& m, uint64_t seq, std::string_view delta) {
  std::string f = "\"item_id\":";
  append_json_string(f, message_id(m));
  f += ",\"output_index\":0,\"content_index\":0,\"delta\":";
  append_json_string(f, delta);
  return event("response.output_text.delta", seq, f);
}

std::string responses_completed_event(const ResponseMeta& m, uint64_t seq, std::string_view text,
                                      const Usage& u) {
  return event("response.completed", seq, "\"response\":" + responses_object(m, text, u, true));
}

}  // namespace radixmesh::tools::sim
