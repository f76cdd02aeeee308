// fetch_remote_kv: a simulated decode worker gets the KV of its request from
// the prefill worker's KV endpoint (bootstrap server), polling
// GET /pd/kv/<key> until the room is there (200), the wait is over (504) or
// the client left. Anything but "not there yet" (404) ends the wait at once:
// an unreachable endpoint (502), a room of another engine (409 from the
// prefill, 502 here).
//
// Bounded: one wait of --pd-wait-ms in all (name resolution, connects, reads),
// each ask at most 1 s, a pause of --pd-poll-ms between asks, 4 KB answers.
//
// Thread safety: runs on the client session's strand; shares only SimState.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <optional>
#include <string>

#include "tools/sim_worker/kv_rooms.h"
#include "tools/sim_worker/pd_plan.h"
#include "tools/sim_worker/sim_http.h"

namespace radixmesh::tools::sim {

struct KvFetch {
  std::optional<KvRoom> room;  // set on success
  bool client_gone = false;
  // Otherwise: the OpenAI error to answer.
  unsigned status = 0;
  std::string code;
  std::string message;
};

// `client` is the decode's own client connection, watched while waiting.
boost::asio::awaitable<KvFetch> fetch_remote_kv(const PdPlan& plan, Stream& client, bool& watch,
                                                SimState& st);

}  // namespace radixmesh::tools::sim
