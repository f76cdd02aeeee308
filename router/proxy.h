// Proxy: one client request -> a worker -> the response streamed back.
//
//   for attempt in 0..max_retries:
//     choose a worker (RoutingEngine; excludes those already tried; the
//       first attempt waits in the AdmissionQueue while every worker is at
//       --max-in-flight-per-worker: 503 when the queue is full or too slow)
//     lease a pooled connection (UpstreamPool)  ── connect errors: retry
//     write the request byte for byte (hop-by-hop headers dropped, Host set)
//     read the response header (first-byte timeout)  ── reset, 5xx, 429: retry
//     relay the body to the client as it arrives (router/response_relay.h)
//   no byte went to the client yet -> answer the error (502/503/504) as JSON
//   complete 200 with a usage report -> CacheFeedback (router/cache_feedback.h)
//
// Retries follow router/retry_policy.h: never after a byte reached the
// client, always on another worker, bounded. A reused keep-alive connection
// that turns out closed by the worker is retried once on a fresh connection
// to the same worker (not a failure, not a retry).
//
// While waiting on the worker, the client socket is watched: if the client
// closes, the upstream exchange is cancelled and its connection closed (the
// worker sees the disconnect and can stop generating).
//
// Every attempt holds the worker's InFlightGuard from routing until the
// attempt ends; the breaker hears the outcome (success, failure, or
// abandoned when the client left).
//
// PD mode (--pd-mode sglang|vllm, router/pd_routing.h): forward() routes
// each request to a prefill and a decode worker instead (router/pd_proxy.cc).
//
// Threads: forward() runs on the client connection's io thread with that
// thread's scratch and pool. The Proxy object itself is immutable and shared.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "router/admission_queue.h"
#include "router/byte_stream.h"
#include "router/cache_feedback.h"
#include "router/client_watch.h"
#include "router/data_plane_metrics.h"
#include "router/net.h"
#include "router/pd_routing.h"
#include "router/routing_engine.h"
#include "router/stream_usage.h"
#include "router/upstream_pool.h"

namespace radixmesh::router {

struct ProxyOptions {
  std::chrono::milliseconds first_byte_timeout{60000};
  std::chrono::milliseconds idle_timeout{60000};
  std::chrono::milliseconds client_stall_timeout{15000};  // see router/response_relay.h
  std::chrono::milliseconds max_stream_duration{0};       // from arrival; 0: none
  uint64_t max_response_bytes = 0;                        // body bytes; 0: none
  bool expose_worker_address = false;  // x-radixmesh-worker and worker URLs in errors
  bool forwarded_headers = true;       // X-Forwarded-For / -Proto to the worker
  bool stream_usage =
      true;  // ask streams for usage, keep it from the client (router/stream_usage.h)
  int max_retries = 2;
  bool operator==(const ProxyOptions&) const = default;
};

struct ProxyResult {
  unsigned status = 0;      // status sent to the client (0: nothing complete was sent)
  bool keep_alive = false;  // the client connection may serve another request
  int retries = 0;
  // Set when the response was cut after bytes reached the client.
  Incomplete incomplete = Incomplete::kNone;
};

// Per client connection, reused by each of its requests so the hot path
// does not allocate: the upstream request head, the client response head,
// the upstream read buffer (bounded: a response header plus one relay
// buffer of read-ahead), and the buffer response body pieces pass through.
struct ExchangeBuffers {
  ExchangeBuffers();
  std::string request_head;
  std::string response_head;
  beast::flat_buffer upstream;
  std::unique_ptr<char[]> relay;  // kRelayBufferBytes
  UsageTail usage;                // the response's tail, for cached-token feedback
  UsageChunkFilter usage_filter;  // drops the usage chunk the router asked for
};

// One client request as the proxy sees it.
struct ClientExchange {
  ByteStream& client;
  const http::request<http::string_body>& request;  // its body goes upstream as is
  ExchangeBuffers& buffers;
  const PreparedRequest& prepared;
  RouteKind kind = RouteKind::kOther;
  Clock::time_point started;
  bool keep_alive = true;
  std::string_view client_address;  // for X-Forwarded-For; empty: unknown
  WatchArmer* watches = nullptr;    // the io thread's; null: watch at once
};

class Proxy {
 public:
  // `feedback` (may be null): hears every complete response's usage report.
  // `admission` (may be null): the first attempt waits there for a worker
  // below --max-in-flight-per-worker (router/admission_queue.h).
  // `pd` (may be null): PD mode; `engine` is then the prefill pool's.
  Proxy(const RoutingEngine& engine, ProxyOptions options, DataPlaneMetrics* metrics,
        CacheFeedback* feedback = nullptr, AdmissionQueue* admission = nullptr,
        const PdRouting* pd = nullptr);

  awaitable<ProxyResult> forward(ClientExchange exchange, RoutingScratch& scratch,
                                 UpstreamPool& pool) const;

 private:
  struct Attempt;
  struct LegLink;
  struct PrefillLeg;
  // What forward() does after an attempt: return its result, retry, or
  // answer the client with an error (not yet written).
  struct Settled {
    enum class Next { kReturn, kRetry, kAnswerError } next = Next::kReturn;
    RouterErrc error = RouterErrc::kUpstreamFailure;
    std::string message;
    bool keep_alive = false;  // of the error answer
  };
  awaitable<void> attempt(Attempt& a, ClientExchange& exchange, UpstreamPool& pool,
                          bool can_retry) const;
  // Breaker, metrics and feedback bookkeeping of a finished attempt; fills
  // `result` for every outcome but a retry. No I/O.
  Settled settle(Attempt& a, const ClientExchange& ex, int attempt_no, ProxyResult& result) const;
  // Writes a Settled's error answer; the result's status and keep-alive.
  awaitable<void> answer_error(const Settled& s, ClientExchange& ex, ProxyResult& result) const;
  // Admission queue (first attempt) or the engine; an error answer written
  // and nullopt when there is no worker (result filled).
  awaitable<std::optional<RouteChoice>> route(
      ClientExchange& ex, RoutingScratch& scratch, const RoutingEngine& engine,
      std::span<const radix::WorkerId> tried, int attempt_no, RouterErrc last_error,
      const std::string& last_message, std::string_view pool_name, ProxyResult& result) const;
  Settled no_worker(const Error& error, const ClientExchange& ex, int attempt_no,
                    RouterErrc last_error, const std::string& last_message,
                    std::string_view pool_name) const;
  void note_decision(const RouteChoice& choice) const;
  // The request head of `ex` for `w`, into `out`.
  void build_head(std::string& out, const ClientExchange& ex, const Worker& w,
                  size_t body_bytes) const;

  // PD flows (router/pd_proxy.cc). True when `kind` is split into a
  // prefill and a decode leg.
  bool is_pd_request(RouteKind kind) const;
  awaitable<ProxyResult> forward_sglang(ClientExchange& ex, RoutingScratch& scratch,
                                        UpstreamPool& pool) const;
  awaitable<ProxyResult> forward_vllm(ClientExchange& ex, RoutingScratch& scratch,
                                      UpstreamPool& pool) const;
  // One prefill exchange: writes the leg's request, reads its answer whole
  // (bounded); cancelled through the leg's link.
  awaitable<void> prefill_exchange(PrefillLeg& leg, UpstreamPool& pool) const;
  // The decode leg of SGLang's pair: attempt(), then the prefill is given a
  // short grace to answer before it is cancelled.
  awaitable<void> decode_leg(Attempt& a, ClientExchange& ex, UpstreamPool& pool,
                             bool can_retry) const;
  // A failed prefill leg: retry (counted) or the error to answer.
  Settled prefill_failure(const PrefillLeg& leg, const ClientExchange& ex, int attempt_no,
                          ProxyResult& result) const;
  // A prefill leg's 4xx, relayed to the client as the request's answer.
  awaitable<void> relay_refusal(PrefillLeg& leg, ClientExchange& ex, ProxyResult& result) const;
  // The worker's usage report of a request routed by `choice`, to the cache feedback.
  void feed_back(const ClientExchange& ex, Worker& w, const RouteChoice& choice,
                 const ReportedUsage& usage, int64_t now) const;
  // Hears a prefill leg's outcome: breaker, metrics, feedback.
  void settle_prefill(PrefillLeg& leg, const ClientExchange& ex) const;
  // Where to splice the include_usage member into this request for `w`
  // (router/stream_usage.h); nullopt: send the body as it is.
  std::optional<size_t> include_usage_at(const ClientExchange& ex, const Worker& w) const;
  // After a stream the router asked for usage: count it, or stop asking `w`.
  void note_stream_usage(Worker& w, const UsageChunkFilter& filter, bool complete) const;

  const RoutingEngine& engine_;
  const ProxyOptions options_;
  DataPlaneMetrics* metrics_;  // null in tests
  CacheFeedback* feedback_;    // null: no cached-token feedback
  AdmissionQueue* admission_;  // null: no admission queue
  const PdRouting* pd_;        // null: not PD mode
};

}  // namespace radixmesh::router
