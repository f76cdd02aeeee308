// Retry policy: what one failed upstream attempt means, as a pure function.
//
// The rule (design §6): retry only before any byte reached the client, only
// on ANOTHER worker, at most max_retries times, and only for failures that
// say nothing was (or nothing useful was) done: connect refused or timed out,
// connection reset before a response, a 5xx or 429 status, no connection slot.
// A first-byte timeout is NOT retried: the worker may still be computing, and
// sending the same prompt elsewhere would double the load when it hurts most.
//
// A local shortage (no descriptor for the socket) says nothing about the
// worker: no breaker failure, no unhealthy mark, and no retry (another worker
// needs a descriptor too); the client gets 503 router_out_of_resources.
//
// A refused connection means the worker is down: when no other worker is
// left the client gets 503 (no healthy worker), not 502 (a worker misbehaved).
//
// Threads: pure functions.
#pragma once

#include <cstdint>
#include <string_view>

#include "router/errors.h"

namespace radixmesh::router {

enum class AttemptFailure {
  kConnectRefused,    // connect failed (refused, unreachable, resolve failed)
  kTlsHandshake,      // https:// worker: TLS handshake failed (untrusted cert, wrong name...)
  kConnectTimeout,    // connect did not finish in time
  kPoolExhausted,     // no connection slot to this worker in time
  kReset,             // connection reset / closed before a complete header
  kBadResponse,       // not HTTP
  kFirstByteTimeout,  // no response header in time
  kStatus5xx,         // the worker answered 5xx
  kStatus429,         // the worker is overloaded
  kLocalResources,    // this process could not open a socket (EMFILE, ENFILE...)
};

struct RetryDecision {
  bool retry = false;            // try another worker
  bool breaker_failure = false;  // counts against the worker's breaker
  bool mark_unhealthy = false;   // take it out of routing until the next good check
  // When not retrying and there is no upstream response to relay: the error
  // the client receives.
  RouterErrc final_error = RouterErrc::kUpstreamFailure;
};

// attempt: 0 for the first try. bytes_sent: some response byte already went
// to the client (then never retry).
RetryDecision decide_retry(AttemptFailure failure, int attempt, int max_retries, bool bytes_sent);

std::string_view to_string(AttemptFailure failure);

}  // namespace radixmesh::router
