// serve_inference: one simulated completion (chat, completions, /generate)
// or embedding, from admission to the last byte.
//
//   parse -> model check -> fault draw -> admission (queue, 429)
//   -> KV lookup+insert (cached_tokens) -> prefill sleep -> decode
//   -> one JSON body, or SSE chunks one per --tokens-per-chunk tokens,
//      then a usage chunk and "data: [DONE]".
//
// All sleeps are timers that also watch the client socket: a client that
// leaves stops the work and counts in sim_cancelled_total.
//
// Thread safety: runs on the session's strand; shares only SimState.
#pragma once

#include <boost/asio/awaitable.hpp>

#include "tools/sim_worker/sim_http.h"

namespace radixmesh::tools::sim {

// Returns true when the connection may serve another request.
boost::asio::awaitable<bool> serve_inference(Stream& stream, const Request& req, Endpoint ep,
                                             SimState& state);

}  // namespace radixmesh::tools::sim
