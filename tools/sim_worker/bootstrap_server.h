// The KV endpoint of a simulated prefill worker (--role prefill), on its own
// port (--bootstrap-port): SGLang's bootstrap server, vLLM's side channel.
//
//   GET /pd/kv/<key>  200 {"key","engine_id","model","prompt_tokens",
//                     "cached_tokens"} and the room is handed over (once);
//                     404 while there is no such room (not yet, or never);
//                     409 when an x-engine-id header names another engine
//   GET /health       200
//
// Bounded like the main port: no request body, 8 KB of headers, the idle
// timeout. Its answers do not count in sim_responses_total.
//
// Thread safety: one coroutine per connection on its own strand; shares only
// SimState (its room table locks internally).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <memory>

#include "tools/sim_worker/sim_state.h"

namespace radixmesh::tools::sim {

boost::asio::awaitable<void> bootstrap_accept_loop(boost::asio::ip::tcp::acceptor acceptor,
                                                   std::shared_ptr<SimState> state);

}  // namespace radixmesh::tools::sim
