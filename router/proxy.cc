#include "router/proxy.h"

#include <array>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "router/fd_budget.h"
#include "router/headers.h"
#include "router/local_response.h"
#include "router/response_relay.h"
#include "router/retry_policy.h"
#include "router/wire_format.h"

namespace radixmesh::router {
namespace {

constexpr size_t kMaxUpstreamHeaderBytes = 64 * 1024;

// Watches the client socket while the worker computes. Readable means the
// client closed (EOF/reset: cancel the upstream exchange) or sent its next
// pipelined request (stop watching; it is read after this response).
struct ClientWatch {
  ByteStream* upstream = nullptr;  // cancelled when the client leaves
  bool active = true;
  bool client_gone = false;
  std::array<unsigned char, kPeekBytes> peeked{};  // MSG_PEEK target: stays in the socket
};

// A 1-byte MSG_PEEK receive rather than async_wait(wait_read): Asio starts a
// wait with an epoll_ctl per request, while a receive on a socket already
// registered for input only queues (or tries one recv first). Over TLS it
// peeks a record header: a close_notify counts as leaving (byte_stream.h).
void arm_watch(ByteStream& client, std::shared_ptr<ClientWatch> watch) {
  const bool tls = client.is_tls();
  unsigned char* target = watch->peeked.data();
  client.socket().async_receive(
      net::buffer(target, tls ? kPeekBytes : 1), tcp::socket::message_peek,
      [watch = std::move(watch), tls](error_code ec, size_t n) {
        if (!watch->active || ec == net::error::operation_aborted) return;
        // Pipelined data: not a disconnect.
        if (!ec && !peek_means_gone(tls, watch->peeked.data(), n)) return;
        watch->client_gone = true;  // EOF, reset, close_notify or another error
        if (watch->upstream) watch->upstream->cancel();
      });
}

// Ends the watch when the attempt ends, however it ends.
class WatchScope {
 public:
  WatchScope(ByteStream& client) : client_(client), watch_(std::make_shared<ClientWatch>()) {
    arm_watch(client_, watch_);
  }
  ~WatchScope() {
    watch_->active = false;
    watch_->upstream = nullptr;
    error_code ignored;
    client_.socket().cancel(ignored);  // only the watch is pending here
  }
  ClientWatch& operator*() { return *watch_; }
  ClientWatch* operator->() { return watch_.get(); }

 private:
  ByteStream& client_;
  std::shared_ptr<ClientWatch> watch_;
};

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

struct Proxy::Attempt {
  enum class Kind { kDone, kFailed, kClientGone, kBrokenAfterBytes, kCutByRouter };
  RouteChoice choice;
  Kind kind = Kind::kFailed;
  AttemptFailure failure = AttemptFailure::kReset;
  error_code error;
  unsigned status = 0;
  bool client_keep_alive = false;
  bool bytes_sent = false;  // some response byte reached the client
  Clock::time_point first_byte_at{};
  RelayAbort cut = RelayAbort::kNone;  // kCutByRouter: which limit
  std::optional<ReportedUsage> usage;  // the worker's usage report, when read
  // Where kIncludeUsageMember is spliced into the body (router/stream_usage.h);
  // nullopt: the body goes out as the client sent it.
  std::optional<size_t> include_usage_at;
};

Proxy::Proxy(const RoutingEngine& engine, ProxyOptions options, DataPlaneMetrics* metrics,
             CacheFeedback* feedback, AdmissionQueue* admission)
    : engine_(engine),
      options_(options),
      metrics_(metrics),
      feedback_(feedback),
      admission_(admission) {}

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
  WatchScope watch(ex.client);

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
    const std::string_view body = ex.request.body();
    std::array<net::const_buffer, 4> request_bytes{net::buffer(ex.buffers.request_head)};
    size_t request_parts = 1;
    if (a.include_usage_at) {
      const size_t at = *a.include_usage_at;
      request_bytes[request_parts++] = net::buffer(body.data(), at);
      request_bytes[request_parts++] =
          net::buffer(kIncludeUsageMember.data(), kIncludeUsageMember.size());
      request_bytes[request_parts++] = net::buffer(body.data() + at, body.size() - at);
    } else {
      request_bytes[request_parts++] = net::buffer(body.data(), body.size());
    }
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

awaitable<ProxyResult> Proxy::forward(ClientExchange ex, RoutingScratch& scratch,
                                      UpstreamPool& pool) const {
  using Kind = Attempt::Kind;
  ProxyResult result;

  std::vector<radix::WorkerId> tried;
  RouterErrc last_error = RouterErrc::kNoHealthyWorker;
  std::string last_message;
  for (int attempt_no = 0;; ++attempt_no) {
    Result<RouteChoice> choice = make_error(ErrorCode::kUnavailable, "");
    if (attempt_no == 0 && admission_) {
      Admission admitted = co_await admission_->admit(ex.client.socket(), engine_, scratch,
                                                      ex.prepared, ex.client.is_tls());
      if (admitted.outcome == Admission::Outcome::kClientGone) {
        result.status = 499;  // left while queued: nothing to answer
        result.keep_alive = false;
        co_return result;
      }
      if (admitted.outcome != Admission::Outcome::kRouted) {
        const bool full = admitted.outcome == Admission::Outcome::kQueueFull;
        const RouterErrc e = full ? RouterErrc::kQueueFull : RouterErrc::kQueueTimeout;
        const std::string why =
            full ? "every worker has --max-in-flight-per-worker requests in flight and " +
                       std::to_string(admission_->options().max_queue) +
                       " requests are queued (--max-queue)"
                 : "no worker slot within --queue-timeout-ms (" +
                       std::to_string(admission_->options().timeout.count()) + " ms)";
        const error_code ec = co_await write_error(
            ex.client, e, why, ex.keep_alive, ex.request.version(), {}, false, retry_after_s(e));
        result.status = http_status(e);
        result.keep_alive = ex.keep_alive && !ec;
        co_return result;
      }
      choice = std::move(admitted.choice);
    } else {
      choice = engine_.choose(scratch, ex.prepared, tried);
    }
    if (!choice.ok()) {
      const RouterErrc e = attempt_no == 0 ? from_error_code(choice.error().code) : last_error;
      const std::string& message = attempt_no == 0 ? choice.error().message : last_message;
      const error_code ec = co_await write_error(ex.client, e, message, ex.keep_alive,
                                                 ex.request.version(), {}, false, retry_after_s(e));
      result.status = http_status(e);
      result.keep_alive = ex.keep_alive && !ec;
      co_return result;
    }
    if (metrics_) {
      metrics_->decision(choice->decision.reason,
                         std::chrono::duration<double>(choice->decision_time).count());
    }

    Attempt a;
    a.choice = std::move(choice).value();
    Worker& w = a.choice.worker();
    tried.push_back(w.id());
    // The head is rebuilt per attempt (Host names the worker); the body goes
    // out byte for byte from the client request, never copied.
    a.include_usage_at = include_usage_at(ex, w);
    const size_t body_bytes =
        ex.request.body().size() + (a.include_usage_at ? kIncludeUsageMember.size() : 0);
    ex.buffers.request_head.clear();
    append_request_head(ex.buffers.request_head, ex.request.method(), ex.request.target(),
                        ex.request, w.address().host_header, body_bytes,
                        options_.forwarded_headers ? ex.client_address : std::string_view(),
                        ex.client.is_tls());
    // A retry needs another routable worker: with none left, the worker's own
    // 5xx/429 answer is relayed instead of being replaced by a 502.
    const bool can_retry = attempt_no < options_.max_retries && a.choice.candidates > 1;
    co_await attempt(a, ex, pool, can_retry);

    const int64_t now = now_ms();
    switch (a.kind) {
      case Kind::kDone:
        if (a.status >= 500) {
          w.breaker().on_failure(now, a.choice.probe);
          if (metrics_) metrics_->upstream_error(w, "status_5xx");
        } else {
          w.breaker().on_success(a.choice.probe);
        }
        if (feedback_ && a.usage) {
          FeedbackInput in{ex.prepared.model,
                           w.id(),
                           ex.prepared.blocks,
                           ex.prepared.parsed.canonical_bytes,
                           a.choice.decision.matched_blocks,
                           a.choice.decision_ts,
                           *a.usage};
          if (auto report = w.load_report(now, engine_.options().load_stale_after_ms)) {
            in.kv_usage = report->kv_usage;
          }
          feedback_->on_response(in);
        }
        if (metrics_ && a.first_byte_at != Clock::time_point{}) {
          metrics_->first_byte(ex.kind,
                               std::chrono::duration<double>(a.first_byte_at - ex.started).count());
        }
        result.status = a.status;
        result.keep_alive = a.client_keep_alive;
        co_return result;
      case Kind::kClientGone:
        // Says nothing about the worker.
        w.breaker().on_abandoned(a.choice.probe);
        result.status = 499;  // nginx's "client closed request", for metrics only
        result.keep_alive = false;
        if (a.bytes_sent) result.incomplete = Incomplete::kClientGone;
        co_return result;
      case Kind::kBrokenAfterBytes:
        // Too late for an error response: closing the connection tells the
        // client the response is incomplete.
        w.breaker().on_failure(now, a.choice.probe);
        if (metrics_) metrics_->upstream_error(w, "reset_mid_body");
        result.status = a.status;
        result.keep_alive = false;
        result.incomplete = a.error == beast::error::timeout ? Incomplete::kUpstreamTimeout
                                                             : Incomplete::kUpstreamReset;
        co_return result;
      case Kind::kCutByRouter: {
        // A router limit, not a worker fault: a long generation is legitimate.
        w.breaker().on_abandoned(a.choice.probe);
        result.keep_alive = false;
        result.status = a.status;
        if (a.bytes_sent) result.incomplete = Incomplete::kCutByRouter;
        if (!a.bytes_sent) {
          const RouterErrc e = a.cut == RelayAbort::kMaxDuration ? RouterErrc::kUpstreamTimeout
                                                                 : RouterErrc::kUpstreamFailure;
          const std::string why = a.cut == RelayAbort::kMaxDuration
                                      ? "response exceeded --max-stream-duration-ms"
                                      : "response exceeded --max-response-bytes";
          co_await write_error(ex.client, e, why, false, ex.request.version());
          result.status = http_status(e);
        }
        co_return result;
      }
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
        last_error = d.final_error;
        last_message =
            (options_.expose_worker_address ? "worker " + w.url() : std::string("worker")) + ": " +
            std::string(to_string(a.failure));
        if (a.status) last_message += " (status " + std::to_string(a.status) + ")";
        if (a.error) last_message += " (" + a.error.message() + ")";
        if (d.retry) {
          ++result.retries;
          if (metrics_) metrics_->retry(ex.kind);
          continue;  // a's guard is released here: in-flight moves with the retry
        }
        const error_code ec =
            co_await write_error(ex.client, d.final_error, last_message, ex.keep_alive,
                                 ex.request.version(), {}, false, retry_after_s(d.final_error));
        result.status = http_status(d.final_error);
        result.keep_alive = ex.keep_alive && !ec;
        co_return result;
      }
    }
  }
}

}  // namespace radixmesh::router
