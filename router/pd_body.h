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

#include "radix/result.h"

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

namespace radixmesh::router {

// vLLM's prefill leg (issue 14, item 3): the client's body with
// kv_transfer_params {"do_remote_decode": true, "do_remote_prefill": false,
// remote_* null}, "stream": false, max_tokens 1 (and max_completion_tokens 1
// when the client sent it), stream_options and min_tokens removed. The body
// is re-serialised (it goes to the prefill worker only). kInvalidArgument
// when it is not a JSON object.
Result<std::string> vllm_prefill_body(std::string_view body);

// The kv_transfer_params value of a prefill worker's JSON answer, as the
// bytes it sent (verbatim); nullopt when the answer is not a JSON object or
// has no such member or it is not an object (the decode leg then gets the
// client's body unchanged and prefills itself, as vLLM's own proxy does).
std::optional<std::string> kv_transfer_params_of(std::string_view answer);

// `,"kv_transfer_params":<params>` (comma as `splice` asks) for the decode leg.
std::string kv_transfer_params_member(const MemberSplice& splice, std::string_view params);

}  // namespace radixmesh::router
