#include "tools/loadgen/http_target.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include "radix/address.h"

namespace radixmesh::tools::loadgen {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

Result<Url> parse_url(std::string_view text) {
  auto parsed = radix::parse_http_url(text);
  if (!parsed) return Error{ErrorCode::kInvalidArgument, "bad URL " + parsed.error().message};
  if (parsed->tls) {
    return Error{ErrorCode::kInvalidArgument, "only http:// URLs: " + std::string(text)};
  }
  Url u;
  u.host = parsed->authority.host;
  u.port = std::to_string(parsed->authority.port);
  u.base_path = parsed->path;
  while (!u.base_path.empty() && u.base_path.back() == '/') u.base_path.pop_back();
  return u;
}

HttpTarget::HttpTarget(asio::io_context& ioc, std::string url_text, Url url,
                       asio::ip::tcp::resolver::results_type endpoints)
    : ioc_(ioc), url_text_(std::move(url_text)), url_(std::move(url)), endpoints_(endpoints) {}

namespace {

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

Cause io_cause(const beast::error_code& ec) {
  return ec == beast::error::timeout ? Cause::kTimeout : Cause::kIo;
}

uint64_t u64_at(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number_unsigned() ? it->get<uint64_t>() : 0;
}

// Usage from an OpenAI `usage` object or SGLang `meta_info`.
void take_usage(const json& j, Outcome& out) {
  if (auto u = j.find("usage"); u != j.end() && u->is_object()) {
    out.has_usage = true;
    out.prompt_tokens = u64_at(*u, "prompt_tokens");
    out.completion_tokens = u64_at(*u, "completion_tokens");
    if (auto d = u->find("prompt_tokens_details"); d != u->end() && d->is_object())
      out.cached_tokens = u64_at(*d, "cached_tokens");
  }
  if (auto m = j.find("meta_info"); m != j.end() && m->is_object()) {
    out.has_usage = true;
    out.prompt_tokens = u64_at(*m, "prompt_tokens");
    out.completion_tokens = u64_at(*m, "completion_tokens");
    out.cached_tokens = u64_at(*m, "cached_tokens");
  }
}

std::string str_at(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// Text of a whole response (stream=false) or of one streamed chunk.
void take_text(const json& j, ApiKind api, bool chunk, Outcome& out) {
  if (api == ApiKind::kGenerate) {
    if (j.contains("text")) out.reply = str_at(j, "text");  // cumulative when streaming
    return;
  }
  auto ch = j.find("choices");
  if (ch == j.end() || !ch->is_array() || ch->empty()) return;
  const json& c0 = (*ch)[0];
  if (api == ApiKind::kCompletions) {
    out.reply += str_at(c0, "text");
  } else if (auto m = c0.find(chunk ? "delta" : "message"); m != c0.end() && m->is_object()) {
    out.reply += str_at(*m, "content");
  }
}

}  // namespace

asio::awaitable<Outcome> HttpTarget::exchange(const ExchangeRequest& r) {
  Outcome out;
  out.target = url_text_;
  const ApiKind api = r.api;
  const bool stream = r.stream;
  const auto t0 = Clock::now();
  const auto deadline = t0 + r.timeout;
  http::request<http::string_body> req{http::verb::post, url_.base_path + r.path, 11};
  req.set(http::field::host, url_.host + ":" + url_.port);
  req.set(http::field::content_type, "application/json");
  req.set(http::field::user_agent, "radixmesh-loadgen");
  if (stream) req.set(http::field::accept, "text/event-stream");
  if (!r.extra_header.empty()) req.set(r.extra_header, r.extra_value);
  req.keep_alive(true);
  req.body() = r.body;
  req.prepare_payload();

  for (int attempt = 0;; ++attempt) {
    std::unique_ptr<Conn> conn;
    const bool reused = !idle_.empty() && attempt == 0;
    if (reused) {
      conn = std::move(idle_.back());
      idle_.pop_back();
    } else {
      conn = std::make_unique<Conn>(ioc_);
      conn->stream.expires_at(std::min(deadline, Clock::now() + r.connect_timeout));
      // (Distinct names for every binding: g++ 12 mixes up same-named
      // variables of different scopes in one coroutine frame.)
      auto [cec, cep] =
          co_await conn->stream.async_connect(endpoints_, asio::as_tuple(asio::use_awaitable));
      if (cec) {
        out.cause = cec == beast::error::timeout && Clock::now() >= deadline ? Cause::kTimeout
                                                                             : Cause::kConnect;
        out.detail = cec.message();
        co_return out;
      }
      beast::error_code nodelay_ec;
      conn->stream.socket().set_option(asio::ip::tcp::no_delay(true), nodelay_ec);
    }
    conn->stream.expires_at(deadline);
    auto [wec, wn] =
        co_await http::async_write(conn->stream, req, asio::as_tuple(asio::use_awaitable));
    http::response_parser<http::string_body> parser;
    parser.body_limit(std::uint64_t{1} << 30);
    beast::error_code rec;
    if (!wec) {
      auto [hec, hn] = co_await http::async_read_header(conn->stream, conn->buffer, parser,
                                                        asio::as_tuple(asio::use_awaitable));
      rec = hec;
    }
    const beast::error_code fail = wec ? wec : rec;
    if (fail) {
      // A keep-alive connection the server closed while idle: retry once.
      if (reused && fail != beast::error::timeout) continue;
      out.cause = io_cause(fail);
      out.detail = fail.message();
      co_return out;
    }

    auto& res = parser.get();
    out.status = res.result_int();
    out.worker_id = std::string(res["x-worker-id"]);
    if (out.status != 200 || !stream) {
      auto [bec, bn] = co_await http::async_read(conn->stream, conn->buffer, parser,
                                                 asio::as_tuple(asio::use_awaitable));
      out.latency_ms = out.ttft_ms = ms_since(t0);
      if (bec) {
        out.cause = io_cause(bec);
        out.detail = bec.message();
        co_return out;
      }
      if (out.status != 200) {
        out.cause = Cause::kHttpStatus;
        out.detail = res.body().substr(0, 200);
      } else {
        json j = json::parse(res.body(), nullptr, false);
        if (j.is_discarded() || !j.is_object()) {
          out.cause = Cause::kProtocol;
          out.detail = "response is not a JSON object";
        } else {
          take_text(j, api, false, out);
          take_usage(j, out);
        }
      }
    } else {
      // SSE: events are separated by a blank line; consumed bytes are erased
      // from the body so a long stream costs bounded memory.
      bool first = true, done = false;
      std::string& buf = res.body();
      for (;;) {
        size_t end;
        while ((end = buf.find("\n\n")) != std::string::npos) {
          std::string_view event(buf.data(), end);
          size_t pos = 0;
          while (pos < event.size()) {
            size_t nl = event.find('\n', pos);
            std::string_view line = event.substr(pos, nl == std::string_view::npos ? nl : nl - pos);
            pos = nl == std::string_view::npos ? event.size() : nl + 1;
            if (line.substr(0, 5) != "data:") continue;
            std::string_view data = line.substr(5);
            while (!data.empty() && data.front() == ' ') data.remove_prefix(1);
            if (first) {
              out.ttft_ms = ms_since(t0);
              first = false;
            }
            if (data == "[DONE]") {
              done = true;
              continue;
            }
            json j = json::parse(data, nullptr, false);
            if (j.is_discarded()) continue;
            take_text(j, api, true, out);
            take_usage(j, out);
          }
          buf.erase(0, end + 2);
        }
        if (parser.is_done()) break;
        auto [sec, sn] = co_await http::async_read_some(conn->stream, conn->buffer, parser,
                                                        asio::as_tuple(asio::use_awaitable));
        if (sec) {
          out.cause = io_cause(sec);
          out.detail = sec.message();
          out.latency_ms = ms_since(t0);
          co_return out;
        }
      }
      out.latency_ms = ms_since(t0);
      if (!done) {
        out.cause = Cause::kProtocol;
        out.detail = "stream ended without [DONE]";
      }
    }
    if (parser.is_done() && parser.keep_alive() && idle_.size() < kMaxIdle) {
      conn->stream.expires_never();
      idle_.push_back(std::move(conn));
    }
    co_return out;
  }
}

}  // namespace radixmesh::tools::loadgen
