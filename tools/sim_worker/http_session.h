// run_session: one keep-alive HTTP/1.1 connection of the simulated worker.
// Reads requests one at a time (bounded body, idle timeout) and dispatches:
//   GET  /health /v1/models /metrics
//   POST /v1/chat/completions /v1/completions /generate /v1/embeddings
//        /v1/responses
// Unknown paths get 404, wrong methods 405, oversized bodies 413, all with
// OpenAI error bodies.
//
// Thread safety: the coroutine runs on the socket's strand and owns the
// socket; SimState is shared (see sim_state.h).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <memory>

#include "tools/sim_worker/sim_state.h"

namespace radixmesh::tools::sim {

boost::asio::awaitable<void> run_session(boost::asio::ip::tcp::socket socket,
                                         std::shared_ptr<SimState> state);

}  // namespace radixmesh::tools::sim
