// plan_pd: what a simulated worker's PD role (--role, --pd-protocol) makes of
// one request, decided from its fields alone:
//
//   role none                      plain serving, PD fields ignored
//   prefill, SGLang bootstrap_room prefill, register room <room>
//   prefill, vLLM do_remote_decode prefill (not streamed), register the block
//                                  ids named in the response's kv_transfer_params
//   decode, SGLang bootstrap_*     fetch room <room> from bootstrap_host:port
//   decode, vLLM do_remote_prefill fetch the remote_block_ids of
//                                  remote_engine_id from remote_host:port
//   anything else                  a 400 naming what is missing (a decode with
//                                  --pd-local-prefill serves a request without
//                                  PD fields itself, as a vLLM decode can)
//
// Room keys: an SGLang room is its decimal number; vLLM blocks are
// "b<first>-<count>" (a prefill numbers its blocks consecutively).
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <string>

#include "tools/sim_worker/sim_options.h"
#include "tools/sim_worker/sim_request.h"

namespace radixmesh::tools::sim {

enum class PdStep { kPlain, kPrefill, kDecodeRemote };

struct PdPlan {
  PdStep step = PdStep::kPlain;
  std::string error;  // non-empty: answer 400 with it
  // kPrefill (SGLang) and kDecodeRemote: the room's key.
  std::string key;
  // kDecodeRemote: where the KV is, and (vLLM) whose it must be.
  std::string host;
  uint16_t port = 0;
  std::string engine_id;
};

PdPlan plan_pd(const SimOptions& o, const SimRequest& r);

std::string vllm_room_key(uint64_t first_block, uint64_t blocks);

// The kv_transfer_params member a vLLM prefill adds to its response (without
// a leading comma), naming blocks [first_block, first_block + blocks).
std::string vllm_kv_transfer_params(const SimOptions& o, uint64_t first_block, uint64_t blocks);

}  // namespace radixmesh::tools::sim
