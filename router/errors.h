// Router errors: an error enum with its own error_category (so they travel in
// the same boost::system::error_code as Asio's and Beast's), the HTTP status
// each one maps to, and the OpenAI-style JSON body the client receives:
//
//   {"error": {"message": "...", "type": "invalid_request_error", "code": "model_not_found"}}
//
// Modelled on Beast's http/error.hpp + impl/error.ipp.
//
// Threads: pure functions and a static category object; call from anywhere.
#pragma once

#include <boost/system/error_code.hpp>
#include <string>
#include <string_view>
#include <type_traits>

#include "radix/result.h"

namespace radixmesh::router {

enum class RouterErrc {
  kBadRequest = 1,       // malformed JSON or shape: 400
  kNotFound,             // unknown path: 404
  kUnknownModel,         // no worker serves the model: 404
  kMethodNotAllowed,     // known path, wrong method: 405
  kBodyTooLarge,         // body over --max-body-bytes: 413
  kHeaderTooLarge,       // request header over the limit: 431
  kNoHealthyWorker,      // nothing routable: 503
  kShuttingDown,         // draining: 503
  kPoolExhausted,        // no upstream connection slot in time: 503
  kUpstreamFailure,      // connect refused, reset, garbage: 502
  kUpstreamTimeout,      // connect / first byte / idle timeout upstream: 504
  kInternal,             // a bug: 500
  kConnectionCap,        // over --max-connections: 503, then the connection closes
  kLocalResources,       // this process is out of descriptors / socket memory: 503
  kBodyBudgetExhausted,  // request bodies in flight hold the whole body budget: 503
  kNotImplemented,       // a transfer coding the router does not implement: 501
  kPerClientCap,         // the client address has too many requests in flight: 429
  kRequestTimeout,       // the client's header or body was not complete in time: 408
  kUnauthorized,         // --api-keys-file set and the bearer key is missing or unknown: 401
  kRateLimited,          // the API key's token bucket is empty: 429
  kQueueFull,            // every worker at --max-in-flight-per-worker and the queue full: 503
  kQueueTimeout,         // waited --queue-timeout-ms for a worker slot: 503
  kTlsRequired,          // plain HTTP sent to the TLS data-plane port: 400, then close
  // Admin API (router/admin_api.h), the same vocabulary:
  kForbidden,             // a cross-site request to an admin API without a token: 403
  kMisdirected,           // Host is not loopback on an admin API without a token: 421
  kUnsupportedMediaType,  // a body that is not application/json: 415
  kUnavailable,           // the component asked about is not running here: 503
};

const boost::system::error_category& router_category();
boost::system::error_code make_error_code(RouterErrc e);

// The HTTP status a client receives for e.
unsigned http_status(RouterErrc e);
// OpenAI's "type" field: invalid_request_error, not_found_error, server_error...
std::string_view error_type(RouterErrc e);
// A stable snake_case "code" field ("model_not_found", "body_too_large", ...).
std::string_view error_code_name(RouterErrc e);

// The JSON body for e; message is JSON-escaped. `code`, when given, is a
// more specific "code" than error_code_name(e) ("bad_query", "worker_not_found");
// the status and "type" always follow e, so both servers spell each
// condition the same way.
std::string error_body(RouterErrc e, std::string_view message, std::string_view code = {});

// Maps a radix/policies error (RequestParser, registry, routing) to the
// router error the client sees.
RouterErrc from_error_code(ErrorCode code);

}  // namespace radixmesh::router

namespace boost::system {
template <>
struct is_error_code_enum<radixmesh::router::RouterErrc> : std::true_type {};
}  // namespace boost::system
