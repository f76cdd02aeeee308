#include "router/pd_body.h"

#include <simdjson.h>
#include <nlohmann/json.hpp>

namespace radixmesh::router {
namespace {

bool is_json_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

}  // namespace

std::optional<MemberSplice> closing_member_splice(std::string_view body) {
  size_t begin = 0;
  while (begin < body.size() && is_json_space(body[begin])) ++begin;
  size_t end = body.size();
  while (end > begin && is_json_space(body[end - 1])) --end;
  if (end - begin < 2 || body[begin] != '{' || body[end - 1] != '}') return std::nullopt;
  MemberSplice s;
  s.offset = end - 1;
  size_t last = s.offset;
  while (last > begin + 1 && is_json_space(body[last - 1])) --last;
  s.leading_comma = last != begin + 1;  // something between the braces
  return s;
}

std::string sglang_bootstrap_members(const MemberSplice& splice, std::string_view host,
                                     uint16_t port, uint64_t room) {
  std::string out;
  out.reserve(96 + host.size());
  if (splice.leading_comma) out += ',';
  out += "\"bootstrap_host\":";
  // Invalid UTF-8 is replaced rather than thrown on (a configured host name).
  out += nlohmann::json(std::string(host))
             .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  out += ",\"bootstrap_port\":";
  out += std::to_string(port);
  out += ",\"bootstrap_room\":";
  out += std::to_string(room);
  return out;
}

Result<std::string> vllm_prefill_body(std::string_view body) {
  nlohmann::json j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return make_error(ErrorCode::kInvalidArgument, "body is not a JSON object");
  j["kv_transfer_params"] = {{"do_remote_decode", true},    {"do_remote_prefill", false},
                             {"remote_engine_id", nullptr}, {"remote_block_ids", nullptr},
                             {"remote_host", nullptr},      {"remote_port", nullptr}};
  j["stream"] = false;
  j["max_tokens"] = 1;
  if (j.contains("max_completion_tokens")) j["max_completion_tokens"] = 1;
  j.erase("stream_options");
  j.erase("min_tokens");
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::optional<std::string> kv_transfer_params_of(std::string_view answer) {
  simdjson::ondemand::parser parser;
  simdjson::padded_string padded(answer);
  simdjson::ondemand::document doc;
  if (parser.iterate(padded).get(doc)) return std::nullopt;
  simdjson::ondemand::object root;
  if (doc.get_object().get(root)) return std::nullopt;
  for (auto field : root) {
    std::string_view key;
    if (field.unescaped_key().get(key)) return std::nullopt;
    if (key != "kv_transfer_params") continue;
    simdjson::ondemand::object params;
    if (field.value().get_object().get(params)) return std::nullopt;
    std::string_view raw;
    if (params.raw_json().get(raw)) return std::nullopt;
    return std::string(raw);
  }
  return std::nullopt;
}

std::string kv_transfer_params_member(const MemberSplice& splice, std::string_view params) {
  std::string out;
  out.reserve(params.size() + 24);
  if (splice.leading_comma) out += ',';
  out += "\"kv_transfer_params\":";
  out += params;
  return out;
}

}  // namespace radixmesh::router
