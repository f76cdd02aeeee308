#include "router/pd_body.h"

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

}  // namespace radixmesh::router
