#include "router/retry_policy.h"

namespace radixmesh::router {

RetryDecision decide_retry(AttemptFailure failure, int attempt, int max_retries, bool bytes_sent) {
  RetryDecision d;
  bool retryable = false;
  switch (failure) {
    case AttemptFailure::kConnectRefused:
      retryable = true;
      d.breaker_failure = true;
      d.mark_unhealthy = true;  // nothing listens: out until a health check passes
      d.final_error = RouterErrc::kNoHealthyWorker;  // down, not misbehaving: 503
      break;
    case AttemptFailure::kTlsHandshake:
      retryable = true;
      d.breaker_failure = true;
      d.mark_unhealthy = true;  // fails the same way until fixed (its health check too)
      d.final_error = RouterErrc::kUpstreamFailure;  // reachable but unusable: 502
      break;
    case AttemptFailure::kConnectTimeout:
      retryable = true;
      d.breaker_failure = true;
      d.final_error = RouterErrc::kUpstreamTimeout;
      break;
    case AttemptFailure::kPoolExhausted:
      retryable = true;
      d.final_error = RouterErrc::kPoolExhausted;
      break;
    case AttemptFailure::kReset:
    case AttemptFailure::kBadResponse:
      retryable = true;
      d.breaker_failure = true;
      d.final_error = RouterErrc::kUpstreamFailure;
      break;
    case AttemptFailure::kFirstByteTimeout:
      retryable = false;
      d.breaker_failure = true;
      d.final_error = RouterErrc::kUpstreamTimeout;
      break;
    case AttemptFailure::kStatus5xx:
      retryable = true;
      d.breaker_failure = true;
      d.final_error = RouterErrc::kUpstreamFailure;
      break;
    case AttemptFailure::kStatus429:
      retryable = true;  // overloaded, not broken: no breaker failure
      d.final_error = RouterErrc::kNoHealthyWorker;
      break;
    case AttemptFailure::kLocalResources:
      retryable = false;  // not the worker's fault, and another needs a descriptor too
      d.final_error = RouterErrc::kLocalResources;
      break;
  }
  d.retry = retryable && !bytes_sent && attempt < max_retries;
  return d;
}

std::string_view to_string(AttemptFailure failure) {
  switch (failure) {
    case AttemptFailure::kConnectRefused:
      return "connect_refused";
    case AttemptFailure::kTlsHandshake:
      return "tls_handshake";
    case AttemptFailure::kConnectTimeout:
      return "connect_timeout";
    case AttemptFailure::kPoolExhausted:
      return "pool_exhausted";
    case AttemptFailure::kReset:
      return "reset";
    case AttemptFailure::kBadResponse:
      return "bad_response";
    case AttemptFailure::kFirstByteTimeout:
      return "first_byte_timeout";
    case AttemptFailure::kStatus5xx:
      return "status_5xx";
    case AttemptFailure::kStatus429:
      return "status_429";
    case AttemptFailure::kLocalResources:
      return "local_resources";
  }
  return "unknown";
}

}  // namespace radixmesh::router
