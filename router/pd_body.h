// The request-body change of SGLang's prefill/decode flow (issue 14, item 2):
// the same body goes to a prefill and a decode worker with three members
// added, bootstrap_host, bootstrap_port (the prefill worker's bootstrap
// server) and bootstrap_room (a 63-bit random number shared by both legs).
//
// The members are spliced in just before the top-level object's closing
// brace, so that they are the body's last: with duplicate keys the last one
// counts (Python's json, so SGLang, and the router's own parser), and a
// client's own bootstrap_* members cannot override the router's. Nothing else
// of the body changes, and it is not re-serialised.
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace radixmesh::router {

struct MemberSplice {
  size_t offset = 0;          // insert here: the top-level closing brace
  bool leading_comma = true;  // false for an empty object
};

// Where members go in `body`, a JSON object with optional surrounding
// whitespace; nullopt when the body does not end (before whitespace) with '}'
// or does not start with '{'. Does not validate the rest: the router has
// parsed the body before.
std::optional<MemberSplice> closing_member_splice(std::string_view body);

// The bootstrap members, with a leading comma when `splice` asks for one.
// `host` is written as a JSON string (escaped).
std::string sglang_bootstrap_members(const MemberSplice& splice, std::string_view host,
                                     uint16_t port, uint64_t room);

// A bootstrap_room from 64 random bits: the top bit cleared (63 bits, as
// SGLang's routers draw it, so it stays a non-negative int64).
inline uint64_t bootstrap_room_from(uint64_t random_bits) {
  return random_bits >> 1;
}

}  // namespace radixmesh::router
