#include "router/proxy.h"

#include <array>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "router/client_watch.h"
#include "router/fd_budget.h"
#include "router/headers.h"
#include "router/local_response.h"
#include "router/proxy_attempt.h"
#include "router/response_relay.h"
#include "router/retry_policy.h"
#include "router/wire_format.h"

namespace radixmesh::router {
namespace {

constexpr size_t kMaxUpstreamHeaderBytes = 64 * 1024;

// Overload, not breakage: a Retry-After tells the client when to come back.
unsigned retry_after_s(RouterErrc e) {
  return e == RouterErrc::kPoolExhausted || e == RouterErrc::kLocalResources ||
                 e == RouterErrc::kQueueFull || e == RouterErrc::kQueueTimeout
             ? 1
             : 0;
}

// Endpoints whose answers carry a usage (or SGLang meta_info) report.
bool carries_usage(RouteKind kind) {
  return kind == RouteKind::kChat || kind == RouteKind::kCompletions ||
         kind == RouteKind::kGenerate || kind == RouteKind::kResponses;
}

bool is_reset(const error_code& ec) {
  return ec == http::error::end_of_stream || ec == net::error::eof ||
         ec == net::error::connection_reset || ec == net::error::broken_pipe ||
         ec == http::error::partial_message;
}

}  // namespace

ExchangeBuffers::ExchangeBuffers()
    : upstream(kMaxUpstreamHeaderBytes + kRelayBufferBytes),
      relay(std::make_unique_for_overwrite<char[]>(kRelayBufferBytes)) {
  // One socket read per response piece, not Beast's minimum of 512 bytes.
  upstream.reserve(16 * 1024);
}

Proxy::Proxy(const RoutingEngine& engine, ProxyOptions options, DataPlaneMetrics* metrics,
             CacheFeedback* feedback, AdmissionQueue* admission, const PdRouting* pd)
    : engine_(engine),
      options_(options),
      metrics_(metrics),
      feedback_(feedback),
      admission_(admission),
      pd_(pd) {}

std::optional<size_t> Proxy::include_usage_at(const ClientExchange& ex, const Worker& w) const {
  if (!options_.stream_usage || !feedback_) return std::nullopt;  // no one would read it
  if (ex.kind != RouteKind::kChat && ex.kind != RouteKind::kCompletions) return std::nullopt;
  const radix::ParsedRequest& parsed = ex.prepared.parsed;
  if (!parsed.stream || parsed.has_stream_options || w.stream_usage_off()) return std::nullopt;
  return radixmesh::router::include_usage_offset(ex.request.body());
}

void Proxy::note_stream_usage(Worker& w, const UsageChunkFilter& filter, bool complete) const {
  // The usage chunk reached the client (a Content-Length or encoded body
  // the filter cannot touch), or other chunks changed: stop asking.
  if (!filter.enabled() || filter.saw_other_usage()) {
    if (w.turn_stream_usage_off() && metrics_) {
      metrics_->stream_usage(DataPlaneMetrics::StreamUsage::kWorkerOff);
    }
    return;
  }
  if (!metrics_) return;
  if (filter.dropped_usage()) {
    metrics_->stream_usage(DataPlaneMetrics::StreamUsage::kDropped);
  } else if (complete) {
    metrics_->stream_usage(DataPlaneMetrics::StreamUsage::kNotReported);
  }
}

awaitable<void> Proxy::attempt(Attempt& a, ClientExchange& ex, UpstreamPool& pool,
                               bool can_retry) const {
  using Kind = Attempt::Kind;
  const std::shared_ptr<Worker> worker = a.choice.guard.worker();
  WatchScope watch(ex.client, ex.watches);

  // Two rounds at most: the second only when a pooled connection turned out
  // to be closed by the worker before it saw our request.
  for (int round = 0; round < 2; ++round) {
    auto [ec, lease] = co_await pool.acquire(worker, /*fresh=*/round > 0);
    if (watch->client_gone) {
      a.kind = Kind::kClientGone;
      co_return;
    }
    if (ec) {
      a.kind = Kind::kFailed;
      a.error = ec;
      a.failure = ec == RouterErrc::kPoolExhausted     ? AttemptFailure::kPoolExhausted
                  : ec == RouterErrc::kUpstreamTimeout ? AttemptFailure::kConnectTimeout
                  : is_local_resource_error(ec)        ? AttemptFailure::kLocalResources
                  : is_tls_error(ec)                   ? AttemptFailure::kTlsHandshake
                                                       : AttemptFailure::kConnectRefused;
      co_return;
    }
    ByteStream& up = lease.stream();
    watch->upstream = &up;

    up.expires_after(options_.idle_timeout);
    // The prefill leg may cancel this stream until its header arrived;
    // never after the lease is gone.
    struct Linked {
      LegLink* link;
      ~Linked() {
        if (link) link->decode_upstream = nullptr;
      }
    } linked{a.link.get()};
    if (linked.link) linked.link->decode_upstream = &up;
    const std::string_view body = ex.request.body();
    // Head, then the body cut at up to two splice points, each followed by
    // what goes in there.
    std::array<net::const_buffer, 6> request_bytes{net::buffer(ex.buffers.request_head)};
    size_t request_parts = 1;
    size_t from = 0;
    auto splice = [&](size_t at, std::string_view member) {
      request_bytes[request_parts++] = net::buffer(body.data() + from, at - from);
      request_bytes[request_parts++] = net::buffer(member.data(), member.size());
      from = at;
    };
    if (a.include_usage_at) splice(*a.include_usage_at, kIncludeUsageMember);
    if (!a.tail_members.empty()) splice(a.tail_at, a.tail_members);
    request_bytes[request_parts++] = net::buffer(body.data() + from, body.size() - from);
    auto [wec, written] = co_await net::async_write(
        up, std::span<const net::const_buffer>(request_bytes.data(), request_parts), use_tuple);
    if (watch->client_gone) {
      a.kind = Kind::kClientGone;
      co_return;
    }
    if (wec) {
      if (lease.reused()) continue;  // stale keep-alive connection
      a.kind = Kind::kFailed;
      a.error = wec;
      a.failure =
          wec == beast::error::timeout ? AttemptFailure::kFirstByteTimeout : AttemptFailure::kReset;
      co_return;
    }

    beast::flat_buffer& buffer = ex.buffers.upstream;
    buffer.clear();
    http::response_parser<http::buffer_body> parser;
    parser.header_limit(kMaxUpstreamHeaderBytes);
    parser.body_limit(boost::none);  // streamed, never stored
    up.expires_after(options_.first_byte_timeout);
    auto [rec, got] = co_await http::async_read_header(up, buffer, parser, use_tuple);
    if (watch->client_gone) {
      a.kind = Kind::kClientGone;
      co_return;
    }
    if (rec) {
      if (lease.reused() && !parser.got_some() && is_reset(rec)) continue;  // stale
      a.kind = Kind::kFailed;
      a.error = rec;
      a.failure = rec == beast::error::timeout ? AttemptFailure::kFirstByteTimeout
                  : is_reset(rec)              ? AttemptFailure::kReset
                                               : AttemptFailure::kBadResponse;
      co_return;
    }

    if (a.link) a.link->decode_upstream = nullptr;  // answered: the prefill cannot stop it now
    const unsigned status = parser.get().result_int();
    if (can_retry && (status >= 500 || status == 429)) {
      a.kind = Kind::kFailed;
      a.status = status;
      a.failure = status == 429 ? AttemptFailure::kStatus429 : AttemptFailure::kStatus5xx;
      co_return;  // the lease closes: the unread body makes it unusable
    }

    UsageTail& tail = ex.buffers.usage;
    const bool identity = parser.get().find(http::field::content_encoding) == parser.get().end();
    tail.reset(feedback_ && status == 200 && carries_usage(ex.kind) && identity);
    UsageChunkFilter& filter = ex.buffers.usage_filter;
    filter.reset(a.include_usage_at && status == 200 && identity);
    RelayLimits limits{options_.idle_timeout, options_.client_stall_timeout};
    if (options_.max_stream_duration.count() > 0) {
      limits.deadline = ex.started + options_.max_stream_duration;
    }
    limits.max_body_bytes = options_.max_response_bytes;
    RelayResult r = co_await relay_response(
        ex.client, up, buffer, parser, ex.buffers.response_head,
        std::span(ex.buffers.relay.get(), kRelayBufferBytes),
        options_.expose_worker_address ? std::string_view(worker->url()) : std::string_view(),
        ex.keep_alive, ex.request.version(), limits, &tail, &filter);
    if (r.complete) a.usage = tail.usage();
    if (a.include_usage_at && status == 200) note_stream_usage(*worker, filter, r.complete);
    a.status = status;
    a.first_byte_at = r.first_byte_at;
    a.bytes_sent = r.bytes_sent;
    if (r.abort != RelayAbort::kNone && metrics_) metrics_->stream_aborted(to_string(r.abort));
    if (r.abort == RelayAbort::kMaxDuration || r.abort == RelayAbort::kMaxBytes) {
      a.kind = Kind::kCutByRouter;  // the lease closes: the rest is never read
      a.cut = r.abort;
      co_return;
    }
    if (watch->client_gone || r.client_error) {
      a.kind = Kind::kClientGone;
      co_return;
    }
    if (r.upstream_error) {
      a.error = r.upstream_error;
      if (r.bytes_sent) {
        a.kind = Kind::kBrokenAfterBytes;
      } else {
        a.kind = Kind::kFailed;
        a.failure = r.upstream_error == beast::error::timeout ? AttemptFailure::kFirstByteTimeout
                                                              : AttemptFailure::kReset;
      }
      co_return;
    }
    watch->upstream = nullptr;
    lease.release(r.upstream_reusable);
    a.kind = Kind::kDone;
    a.client_keep_alive = r.client_keep_alive;
    co_return;
  }
  a.kind = Kind::kFailed;
  a.failure = AttemptFailure::kReset;
}

void Proxy::build_head(std::string& out, const ClientExchange& ex, const Worker& w,
                       size_t body_bytes) const {
  out.clear();
  append_request_head(out, ex.request.method(), ex.request.target(), ex.request,
                      w.address().host_header, body_bytes,
                      options_.forwarded_headers ? ex.client_address : std::string_view(),
                      ex.client.is_tls());
}

awaitable<std::optional<RouteChoice>> Proxy::route(
    ClientExchange& ex, RoutingScratch& scratch, const RoutingEngine& engine,
    std::span<const radix::WorkerId> tried, int attempt_no, RouterErrc last_error,
    const std::string& last_message, std::string_view pool_name, ProxyResult& result) const {
  Result<RouteChoice> choice = make_error(ErrorCode::kUnavailable, "");
  if (attempt_no == 0 && admission_ && &engine == &engine_) {
    Admission admitted = co_await admission_->admit(ex.client.socket(), engine, scratch,
                                                    ex.prepared, ex.client.is_tls());
    if (admitted.outcome == Admission::Outcome::kClientGone) {
      result.status = 499;  // left while queued: nothing to answer
      result.keep_alive = false;
      co_return std::nullopt;
    }
    if (admitted.outcome != Admission::Outcome::kRouted) {
      const bool full = admitted.outcome == Admission::Outcome::kQueueFull;
      Settled s;
      s.next = Settled::Next::kAnswerError;
      s.error = full ? RouterErrc::kQueueFull : RouterErrc::kQueueTimeout;
      s.message = full ? "every worker has --max-in-flight-per-worker requests in flight and " +
                             std::to_string(admission_->options().max_queue) +
                             " requests are queued (--max-queue)"
                       : "no worker slot within --queue-timeout-ms (" +
                             std::to_string(admission_->options().timeout.count()) + " ms)";
      s.keep_alive = ex.keep_alive;
      co_await answer_error(s, ex, result);
      co_return std::nullopt;
    }
    choice = std::move(admitted.choice);
  } else {
    choice = engine.choose(scratch, ex.prepared, tried);
  }
  if (!choice.ok()) {
    co_await answer_error(
        no_worker(choice.error(), ex, attempt_no, last_error, last_message, pool_name), ex, result);
    co_return std::nullopt;
  }
  note_decision(*choice);
  co_return std::move(choice).value();
}

Proxy::Settled Proxy::no_worker(const Error& error, const ClientExchange& ex, int attempt_no,
                                RouterErrc last_error, const std::string& last_message,
                                std::string_view pool_name) const {
  Settled s;
  s.next = Settled::Next::kAnswerError;
  s.error = attempt_no == 0 ? from_error_code(error.code) : last_error;
  s.message = attempt_no == 0 ? error.message : last_message;
  if (!pool_name.empty()) s.message = std::string(pool_name) + " pool: " + s.message;
  s.keep_alive = ex.keep_alive;
  return s;
}

void Proxy::note_decision(const RouteChoice& choice) const {
  if (metrics_) {
    metrics_->decision(choice.decision.reason,
                       std::chrono::duration<double>(choice.decision_time).count());
  }
}

awaitable<void> Proxy::answer_error(const Settled& s, ClientExchange& ex,
                                    ProxyResult& result) const {
  const error_code ec =
      co_await write_error(ex.client, s.error, s.message, s.keep_alive, ex.request.version(), {},
                           false, retry_after_s(s.error));
  result.status = http_status(s.error);
  result.keep_alive = s.keep_alive && !ec;
}

void Proxy::feed_back(const ClientExchange& ex, Worker& w, const RouteChoice& choice,
                      const ReportedUsage& usage, int64_t now) const {
  FeedbackInput in{ex.prepared.model,
                   w.id(),
                   ex.prepared.blocks,
                   ex.prepared.parsed.canonical_bytes,
                   choice.decision.matched_blocks,
                   choice.decision_ts,
                   usage,
                   std::nullopt};
  if (auto report = w.load_report(now, engine_.options().load_stale_after_ms)) {
    in.kv_usage = report->kv_usage;
  }
  if (feedback_->on_response(in) == FeedbackOutcome::kTrimmed) w.note_cache_trim(now);
}

Proxy::Settled Proxy::settle(Attempt& a, const ClientExchange& ex, int attempt_no,
                             ProxyResult& result) const {
  using Kind = Attempt::Kind;
  Worker& w = a.choice.worker();
  const int64_t now = now_ms();
  Settled s;
  switch (a.kind) {
    case Kind::kDone:
      if (a.status >= 500) {
        w.breaker().on_failure(now, a.choice.probe);
        if (metrics_) metrics_->upstream_error(w, "status_5xx");
      } else {
        w.breaker().on_success(a.choice.probe);
      }
      if (feedback_ && a.feedback && a.usage) feed_back(ex, w, a.choice, *a.usage, now);
      if (metrics_ && a.first_byte_at != Clock::time_point{}) {
        metrics_->first_byte(ex.kind,
                             std::chrono::duration<double>(a.first_byte_at - ex.started).count());
      }
      result.status = a.status;
      result.keep_alive = a.client_keep_alive;
      return s;
    case Kind::kClientGone:
      // Says nothing about the worker.
      w.breaker().on_abandoned(a.choice.probe);
      result.status = 499;  // nginx's "client closed request", for metrics only
      result.keep_alive = false;
      if (a.bytes_sent) result.incomplete = Incomplete::kClientGone;
      return s;
    case Kind::kBrokenAfterBytes:
      // Too late for an error response: closing the connection tells the
      // client the response is incomplete.
      w.breaker().on_failure(now, a.choice.probe);
      if (metrics_) metrics_->upstream_error(w, "reset_mid_body");
      result.status = a.status;
      result.keep_alive = false;
      result.incomplete = a.error == beast::error::timeout ? Incomplete::kUpstreamTimeout
                                                           : Incomplete::kUpstreamReset;
      return s;
    case Kind::kCutByRouter:
      // A router limit, not a worker fault: a long generation is legitimate.
      w.breaker().on_abandoned(a.choice.probe);
      result.keep_alive = false;
      result.status = a.status;
      if (a.bytes_sent) {
        result.incomplete = Incomplete::kCutByRouter;
        return s;
      }
      s.next = Settled::Next::kAnswerError;
      s.error = a.cut == RelayAbort::kMaxDuration ? RouterErrc::kUpstreamTimeout
                                                  : RouterErrc::kUpstreamFailure;
      s.message = a.cut == RelayAbort::kMaxDuration ? "response exceeded --max-stream-duration-ms"
                                                    : "response exceeded --max-response-bytes";
      s.keep_alive = false;
      return s;
    case Kind::kFailed: {
      const RetryDecision d =
          decide_retry(a.failure, attempt_no, options_.max_retries, /*bytes_sent=*/false);
      if (d.breaker_failure) {
        w.breaker().on_failure(now, a.choice.probe);
      } else {
        w.breaker().on_abandoned(a.choice.probe);
      }
      if (d.mark_unhealthy) w.set_healthy(false);
      // A local shortage is not the worker's error (router/fd_budget.h).
      if (metrics_ && a.failure != AttemptFailure::kLocalResources) {
        metrics_->upstream_error(w, to_string(a.failure));
      }
      s.error = d.final_error;
      s.message = (options_.expose_worker_address ? "worker " + w.url() : std::string("worker")) +
                  ": " + std::string(to_string(a.failure));
      if (a.status) s.message += " (status " + std::to_string(a.status) + ")";
      if (a.error) s.message += " (" + a.error.message() + ")";
      if (d.retry) {
        ++result.retries;
        if (metrics_) metrics_->retry(ex.kind);
        s.next = Settled::Next::kRetry;
        return s;
      }
      s.next = Settled::Next::kAnswerError;
      s.keep_alive = ex.keep_alive;
      return s;
    }
  }
  return s;
}

awaitable<ProxyResult> Proxy::forward(ClientExchange ex, RoutingScratch& scratch,
                                      UpstreamPool& pool) const {
  if (is_pd_request(ex.kind)) {
    // Not a conditional expression: g++ 12 evaluates both co_awaits of one.
    if (pd_->mode() == PdMode::kSglang) co_return co_await forward_sglang(ex, scratch, pool);
    co_return co_await forward_vllm(ex, scratch, pool);
  }
  // PD mode: what is not split (embeddings, ...) goes to a decode worker.
  const RoutingEngine& engine = pd_ ? pd_->decode() : engine_;
  ProxyResult result;
  TriedWorkers tried;
  RouterErrc last_error = RouterErrc::kNoHealthyWorker;
  std::string last_message;
  for (int attempt_no = 0;; ++attempt_no) {
    std::optional<RouteChoice> choice;
    if (attempt_no == 0 && admission_) {
      choice = co_await route(ex, scratch, engine, tried, attempt_no, last_error, last_message, {},
                              result);
      if (!choice) co_return result;
    } else {  // the common case without a coroutine frame of its own
      Result<RouteChoice> chosen = engine.choose(scratch, ex.prepared, tried);
      if (!chosen.ok()) {
        co_await answer_error(
            no_worker(chosen.error(), ex, attempt_no, last_error, last_message, {}), ex, result);
        co_return result;
      }
      note_decision(*chosen);
      choice = std::move(chosen).value();
    }

    Attempt a;
    a.choice = std::move(*choice);
    Worker& w = a.choice.worker();
    tried.push_back(w.id());
    // The head is rebuilt per attempt (Host names the worker); the body goes
    // out byte for byte from the client request, never copied.
    a.include_usage_at = include_usage_at(ex, w);
    a.feedback = !pd_;
    build_head(ex.buffers.request_head, ex, w,
               ex.request.body().size() + (a.include_usage_at ? kIncludeUsageMember.size() : 0));
    // A retry needs another routable worker: with none left, the worker's own
    // 5xx/429 answer is relayed instead of being replaced by a 502.
    const bool can_retry = attempt_no < options_.max_retries && a.choice.candidates > 1;
    co_await attempt(a, ex, pool, can_retry);

    const Settled s = settle(a, ex, attempt_no, result);
    switch (s.next) {
      case Settled::Next::kReturn:
        co_return result;
      case Settled::Next::kRetry:
        last_error = s.error;
        last_message = s.message;
        continue;  // a's guard is released here: in-flight moves with the retry
      case Settled::Next::kAnswerError:
        co_await answer_error(s, ex, result);
        co_return result;
    }
  }
}

}  // namespace radixmesh::router
