#include "router/request_handler.h"

#include <nlohmann/json.hpp>

#include "router/local_response.h"

namespace radixmesh::router {
namespace {

std::string_view path_of(std::string_view target) {
  const size_t q = target.find('?');
  return q == std::string_view::npos ? target : target.substr(0, q);
}

RouteKind kind_of(radix::Endpoint e) {
  switch (e) {
    case radix::Endpoint::kChatCompletions:
      return RouteKind::kChat;
    case radix::Endpoint::kCompletions:
      return RouteKind::kCompletions;
    case radix::Endpoint::kGenerate:
      return RouteKind::kGenerate;
    case radix::Endpoint::kEmbeddings:
      return RouteKind::kEmbeddings;
    case radix::Endpoint::kResponses:
      return RouteKind::kResponses;
  }
  return RouteKind::kOther;
}

// Counts a request as active from read to response end (the shutdown gate).
class ActiveRequest {
 public:
  explicit ActiveRequest(ServerState& s) : s_(s) { s_.active_requests.fetch_add(1); }
  ~ActiveRequest() { s_.active_requests.fetch_sub(1); }
  ActiveRequest(const ActiveRequest&) = delete;
  ActiveRequest& operator=(const ActiveRequest&) = delete;

 private:
  ServerState& s_;
};

// 401s by reason, 429s by tenant (never by key). Denials only: the family
// lookup takes its mutex.
void count_denial(DataPlaneMetrics* m, const Access& a) {
  if (!m) return;
  if (a.error == RouterErrc::kRateLimited && a.entry) {
    m->families().rate_limited.with({a.entry->tenant})->inc();
  } else {
    m->families().auth_failures.with({std::string(a.reason)})->inc();
  }
}

}  // namespace

RequestHandler::RequestHandler(const RoutingEngine& engine, const Proxy& proxy,
                               const WorkerRegistry& registry, DataPlaneMetrics* metrics,
                               ServerState& state, HandlerOptions options)
    : engine_(engine),
      proxy_(proxy),
      registry_(registry),
      metrics_(metrics),
      state_(state),
      options_(std::move(options)),
      clients_(std::make_unique<ClientLimiter>(options_.max_requests_per_client)) {}

std::string RequestHandler::models_body(const RegistrySnapshot& snapshot) {
  nlohmann::json data = nlohmann::json::array();
  for (const auto& name : snapshot.models()) {
    data.push_back({{"id", name}, {"object", "model"}, {"created", 0}, {"owned_by", "radixmesh"}});
  }
  return nlohmann::json{{"object", "list"}, {"data", std::move(data)}}.dump(
      -1, ' ', false, nlohmann::json::error_handler_t::replace);
}

bool RequestHandler::any_routable(const RegistrySnapshot& snapshot, int64_t now_ms) {
  for (const auto& w : snapshot.all) {
    if (w->routable(now_ms)) return true;
  }
  return false;
}

bool RequestHandler::all_pools_saturated(const RegistrySnapshot& snapshot, int64_t now_ms,
                                         size_t pool_limit) {
  if (pool_limit == 0) return false;
  bool any = false;
  for (const auto& w : snapshot.all) {
    if (!w->routable(now_ms)) continue;
    if (w->pool_leased() < pool_limit) return false;
    any = true;
  }
  return any;
}

awaitable<bool> RequestHandler::handle(ByteStream& stream,
                                       http::request<http::string_body>& request,
                                       IoThreadState& thread, SessionState& session) const {
  ActiveRequest active(state_);
  const auto started = Clock::now();
  const bool keep_alive = request.keep_alive() && !state_.draining.load();
  const unsigned version = request.version();
  const std::string_view path = path_of(request.target());
  const auto method = request.method();
  const bool is_head = method == http::verb::head;  // answered without a body
  const bool is_get = method == http::verb::get || is_head;

  RouteKind kind = RouteKind::kOther;
  unsigned status = 0;
  error_code ec;
  bool reusable = keep_alive;
  Incomplete incomplete = Incomplete::kNone;

  // API keys and rate limits: before anything else but the probes.
  std::optional<Access> denied;
  if (options_.api_keys && path != "/health" && path != "/readiness") {
    Access access = options_.api_keys->check(request[http::field::authorization], now_ms());
    if (!access.ok) {
      denied = std::move(access);
    } else if (!options_.forward_authorization) {
      request.erase(http::field::authorization);  // the key stays at the edge
    }
  }

  if (denied) {
    kind = RouteKind::kOther;
    if (const auto endpoint = radix::endpoint_for_path(path)) kind = kind_of(*endpoint);
    status = http_status(denied->error);
    count_denial(metrics_, *denied);
    ec = co_await write_error(stream, denied->error, denied->message, keep_alive, version, {},
                              is_head, denied->retry_after_s);
  } else if (path == "/health" || path == "/readiness" || path == "/v1/models") {
    kind = path == "/health"      ? RouteKind::kHealth
           : path == "/readiness" ? RouteKind::kReadiness
                                  : RouteKind::kModels;
    if (!is_get) {
      status = 405;
      ec = co_await write_error(stream, RouterErrc::kMethodNotAllowed,
                                "use GET for " + std::string(path), keep_alive, version, "GET");
    } else if (kind == RouteKind::kHealth) {
      status = 200;
      ec = co_await write_json(stream, 200, R"({"status":"ok"})", keep_alive, version, {}, is_head);
    } else if (kind == RouteKind::kReadiness) {
      const auto snapshot = registry_.snapshot();
      if (state_.draining.load()) {
        status = 503;
        ec = co_await write_error(stream, RouterErrc::kShuttingDown, "shutting down", keep_alive,
                                  version, {}, is_head);
      } else if (!any_routable(*snapshot, now_ms())) {
        status = 503;
        ec = co_await write_error(stream, RouterErrc::kNoHealthyWorker,
                                  options_.decode_registry ? "no healthy prefill worker is known"
                                                           : "no healthy worker is known",
                                  keep_alive, version, {}, is_head);
      } else if (options_.decode_registry &&
                 !any_routable(*options_.decode_registry->snapshot(), now_ms())) {
        status = 503;
        ec = co_await write_error(stream, RouterErrc::kNoHealthyWorker,
                                  "no healthy decode worker is known", keep_alive, version, {},
                                  is_head);
      } else if (all_pools_saturated(*snapshot, now_ms(), options_.pool_limit_per_worker)) {
        status = 503;
        ec = co_await write_error(stream, RouterErrc::kPoolExhausted,
                                  "every healthy worker has all " +
                                      std::to_string(options_.pool_limit_per_worker) +
                                      " upstream connections in use",
                                  keep_alive, version, {}, is_head, 1);
      } else {
        status = 200;
        ec = co_await write_json(stream, 200, R"({"status":"ready"})", keep_alive, version, {},
                                 is_head);
      }
    } else {
      status = 200;
      ec = co_await write_json(stream, 200, models_body(*registry_.snapshot()), keep_alive, version,
                               {}, is_head);
    }
  } else if (const auto endpoint = radix::endpoint_for_path(path)) {
    kind = kind_of(*endpoint);
    if (method != http::verb::post) {
      status = 405;
      ec = co_await write_error(stream, RouterErrc::kMethodNotAllowed,
                                "use POST for " + std::string(path), keep_alive, version, "POST",
                                is_head);
    } else {
      const auto session_key = request[options_.session_header];
      const std::string& body = request.body();
      const bool padded = body.capacity() >= body.size() + radix::RequestParser::kPadding;
      Status prepared =
          engine_.prepare(thread.scratch, body, *endpoint, session_key, session.prepared, padded);
      ClientLimiter::Slot slot;
      if (prepared.ok() && !session.peer) {  // once per connection
        error_code pec;
        const auto peer = stream.socket().remote_endpoint(pec);
        session.peer = pec ? net::ip::address{} : peer.address();
        if (!pec) session.peer_text = session.peer->to_string();
      }
      if (prepared.ok() && clients_->max_per_client() > 0) slot = clients_->acquire(*session.peer);
      if (!prepared.ok()) {
        const RouterErrc e = from_error_code(prepared.error().code);
        status = http_status(e);
        ec = co_await write_error(stream, e, prepared.error().message, keep_alive, version);
      } else if (!slot.ok()) {
        status = 429;
        if (metrics_) metrics_->client_limited();
        ec = co_await write_error(stream, RouterErrc::kPerClientCap,
                                  "this client address has " +
                                      std::to_string(clients_->max_per_client()) +
                                      " requests in flight (--max-requests-per-client)",
                                  keep_alive, version, {}, false, 1);
      } else {
        ProxyResult r = co_await proxy_.forward(
            ClientExchange{stream, request, session.buffers, session.prepared, kind, started,
                           keep_alive, session.peer_text, &thread.watches},
            thread.scratch, thread.pool);
        status = r.status;
        reusable = r.keep_alive;
        incomplete = r.incomplete;
      }
    }
  } else {
    status = 404;
    ec = co_await write_error(stream, RouterErrc::kNotFound, "no route for " + std::string(path),
                              keep_alive, version, {}, is_head);
  }

  if (metrics_) {
    metrics_->request_done(
        kind, status, std::chrono::duration<double>(Clock::now() - started).count(), incomplete);
  }
  co_return reusable && !ec;
}

}  // namespace radixmesh::router
