#include "router/errors.h"

#include <nlohmann/json.hpp>

namespace radixmesh::router {
namespace {

class RouterCategory final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "radixmesh.router"; }
  std::string message(int ev) const override {
    return std::string(error_code_name(static_cast<RouterErrc>(ev)));
  }
};

}  // namespace

const boost::system::error_category& router_category() {
  static const RouterCategory category;
  return category;
}

boost::system::error_code make_error_code(RouterErrc e) {
  return {static_cast<int>(e), router_category()};
}

unsigned http_status(RouterErrc e) {
  switch (e) {
    case RouterErrc::kBadRequest:
      return 400;
    case RouterErrc::kNotFound:
      return 404;
    case RouterErrc::kUnknownModel:
      return 404;
    case RouterErrc::kMethodNotAllowed:
      return 405;
    case RouterErrc::kBodyTooLarge:
      return 413;
    case RouterErrc::kHeaderTooLarge:
      return 431;
    case RouterErrc::kNoHealthyWorker:
      return 503;
    case RouterErrc::kShuttingDown:
      return 503;
    case RouterErrc::kPoolExhausted:
      return 503;
    case RouterErrc::kUpstreamFailure:
      return 502;
    case RouterErrc::kUpstreamTimeout:
      return 504;
    case RouterErrc::kInternal:
      return 500;
    case RouterErrc::kConnectionCap:
    case RouterErrc::kLocalResources:
    case RouterErrc::kBodyBudgetExhausted:
      return 503;
    case RouterErrc::kNotImplemented:
      return 501;
    case RouterErrc::kPerClientCap:
      return 429;
    case RouterErrc::kRequestTimeout:
      return 408;
    case RouterErrc::kUnauthorized:
      return 401;
    case RouterErrc::kRateLimited:
      return 429;
    case RouterErrc::kQueueFull:
    case RouterErrc::kQueueTimeout:
      return 503;
    case RouterErrc::kForbidden:
      return 403;
    case RouterErrc::kMisdirected:
      return 421;
    case RouterErrc::kUnsupportedMediaType:
      return 415;
    case RouterErrc::kUnavailable:
      return 503;
    case RouterErrc::kTlsRequired:
      return 400;
  }
  return 500;
}

std::string_view error_type(RouterErrc e) {
  switch (e) {
    case RouterErrc::kBadRequest:
    case RouterErrc::kNotImplemented:
    case RouterErrc::kRequestTimeout:
    case RouterErrc::kBodyTooLarge:
    case RouterErrc::kHeaderTooLarge:
    case RouterErrc::kMethodNotAllowed:
      return "invalid_request_error";
    case RouterErrc::kNotFound:
    case RouterErrc::kUnknownModel:
      return "not_found_error";
    case RouterErrc::kNoHealthyWorker:
    case RouterErrc::kShuttingDown:
    case RouterErrc::kPoolExhausted:
    case RouterErrc::kConnectionCap:
    case RouterErrc::kLocalResources:
    case RouterErrc::kBodyBudgetExhausted:
      return "service_unavailable_error";
    case RouterErrc::kUpstreamFailure:
    case RouterErrc::kUpstreamTimeout:
      return "upstream_error";
    case RouterErrc::kInternal:
      return "server_error";
    case RouterErrc::kPerClientCap:
    case RouterErrc::kRateLimited:
      return "rate_limit_error";
    case RouterErrc::kUnauthorized:
      return "authentication_error";
    case RouterErrc::kQueueFull:
    case RouterErrc::kQueueTimeout:
      return "service_unavailable_error";
    case RouterErrc::kTlsRequired:
    case RouterErrc::kMisdirected:
    case RouterErrc::kUnsupportedMediaType:
      return "invalid_request_error";
    case RouterErrc::kForbidden:
      return "permission_error";
    case RouterErrc::kUnavailable:
      return "service_unavailable_error";
  }
  return "server_error";
}

std::string_view error_code_name(RouterErrc e) {
  switch (e) {
    case RouterErrc::kBadRequest:
      return "invalid_request";
    case RouterErrc::kNotFound:
      return "not_found";
    case RouterErrc::kUnknownModel:
      return "model_not_found";
    case RouterErrc::kMethodNotAllowed:
      return "method_not_allowed";
    case RouterErrc::kBodyTooLarge:
      return "body_too_large";
    case RouterErrc::kHeaderTooLarge:
      return "header_too_large";
    case RouterErrc::kNoHealthyWorker:
      return "no_healthy_worker";
    case RouterErrc::kShuttingDown:
      return "shutting_down";
    case RouterErrc::kPoolExhausted:
      return "upstream_pool_exhausted";
    case RouterErrc::kUpstreamFailure:
      return "upstream_failure";
    case RouterErrc::kUpstreamTimeout:
      return "upstream_timeout";
    case RouterErrc::kInternal:
      return "internal_error";
    case RouterErrc::kConnectionCap:
      return "too_many_connections";
    case RouterErrc::kLocalResources:
      return "router_out_of_resources";
    case RouterErrc::kBodyBudgetExhausted:
      return "request_body_budget_exhausted";
    case RouterErrc::kNotImplemented:
      return "not_implemented";
    case RouterErrc::kPerClientCap:
      return "too_many_requests_per_client";
    case RouterErrc::kRequestTimeout:
      return "request_timeout";
    case RouterErrc::kUnauthorized:
      return "invalid_api_key";
    case RouterErrc::kRateLimited:
      return "rate_limit_exceeded";
    case RouterErrc::kQueueFull:
      return "admission_queue_full";
    case RouterErrc::kQueueTimeout:
      return "admission_queue_timeout";
    case RouterErrc::kTlsRequired:
      return "tls_required";
    case RouterErrc::kForbidden:
      return "forbidden";
    case RouterErrc::kMisdirected:
      return "misdirected_request";
    case RouterErrc::kUnsupportedMediaType:
      return "unsupported_media_type";
    case RouterErrc::kUnavailable:
      return "unavailable";
  }
  return "internal_error";
}

std::string error_body(RouterErrc e, std::string_view message, std::string_view code) {
  nlohmann::json j = {{"error",
                       {{"message", std::string(message)},
                        {"type", std::string(error_type(e))},
                        {"code", std::string(code.empty() ? error_code_name(e) : code)}}}};
  // Invalid UTF-8 in a message (echoing a bad body) must not throw.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

RouterErrc from_error_code(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return RouterErrc::kBadRequest;
    case ErrorCode::kNotFound:
      return RouterErrc::kUnknownModel;
    case ErrorCode::kTooLarge:
      return RouterErrc::kBodyTooLarge;
    case ErrorCode::kCorrupt:
      return RouterErrc::kBadRequest;
    case ErrorCode::kUnsupported:
      return RouterErrc::kBadRequest;
    case ErrorCode::kUnavailable:
      return RouterErrc::kNoHealthyWorker;
    case ErrorCode::kInternal:
      return RouterErrc::kInternal;
  }
  return RouterErrc::kInternal;
}

}  // namespace radixmesh::router
