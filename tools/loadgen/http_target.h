// HttpTarget: one base URL the load generator sends to, with its keep-alive
// connections, and exchange(): one request from first byte out to last byte
// in, measuring TTFT and latency and extracting usage and the reply text.
//
// Failure causes are classified for the report: an HTTP status other than
// 200, a failed connect, a deadline (connect or whole request), an I/O error
// (reset mid-response) or a protocol error (unparsable body, stream cut
// before [DONE]). A reused keep-alive connection that the server had already
// closed is retried once on a fresh connection before anything was received;
// that is not a failure.
//
// Thread safety: single-threaded; the load generator runs one io_context on
// one thread and every HttpTarget lives on it.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "radix/result.h"
#include "tools/loadgen/loadgen_options.h"

namespace radixmesh::tools::loadgen {

struct Url {
  std::string host;
  std::string port;
  std::string base_path;  // without a trailing slash; may be empty
};

// Parses http://host[:port][/path]. Only plain HTTP.
Result<Url> parse_url(std::string_view text);

enum class Cause { kOk, kHttpStatus, kConnect, kTimeout, kIo, kProtocol };

struct Outcome {
  Cause cause = Cause::kOk;
  unsigned status = 0;
  std::string detail;  // a short reason for failures
  double ttft_ms = 0;
  double latency_ms = 0;
  std::string target;     // the base URL it was sent to
  std::string worker_id;  // x-worker-id response header
  bool has_usage = false;
  uint64_t prompt_tokens = 0;
  uint64_t cached_tokens = 0;
  uint64_t completion_tokens = 0;
  std::string reply;
};

// One request to send. The caller keeps it alive until exchange() completes
// (a named local: g++ 12 may destroy temporaries passed by value to a
// coroutine twice).
struct ExchangeRequest {
  std::string path;
  std::string body;
  ApiKind api = ApiKind::kChat;
  bool stream = false;
  std::chrono::milliseconds timeout{60000};
  std::chrono::milliseconds connect_timeout{2000};
  std::string extra_header;  // sent when not empty
  std::string extra_value;
};

class HttpTarget {
 public:
  HttpTarget(boost::asio::io_context& ioc, std::string url_text, Url url,
             boost::asio::ip::tcp::resolver::results_type endpoints);

  const std::string& url() const { return url_text_; }

  boost::asio::awaitable<Outcome> exchange(const ExchangeRequest& r);

 private:
  struct Conn {
    explicit Conn(boost::asio::io_context& ioc) : stream(ioc) {}
    boost::beast::tcp_stream stream;
    boost::beast::flat_buffer buffer;
  };
  static constexpr size_t kMaxIdle = 1024;

  boost::asio::io_context& ioc_;
  std::string url_text_;
  Url url_;
  boost::asio::ip::tcp::resolver::results_type endpoints_;
  std::vector<std::unique_ptr<Conn>> idle_;
};

}  // namespace radixmesh::tools::loadgen
