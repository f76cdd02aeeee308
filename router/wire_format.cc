#include "router/wire_format.h"

#include <charconv>

#include "router/headers.h"

namespace radixmesh::router {
namespace {

void append_number(std::string& out, uint64_t v, int base = 10) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v, base);
  out.append(buf, r.ptr);
}

void append_field(std::string& out, std::string_view name, std::string_view value) {
  out.append(name);
  out.append(": ");
  out.append(value);
  out.append("\r\n");
}

constexpr std::string_view kForwardedFor = "X-Forwarded-For";
constexpr std::string_view kForwardedProto = "X-Forwarded-Proto";

// Beast 1.81 has no field enum for the X-Forwarded-* headers.
bool is_named(const http::fields::value_type& f, std::string_view name) {
  return f.name() == http::field::unknown && beast::iequals(f.name_string(), name);
}

void append_end_to_end(std::string& out, const http::fields& from,
                       http::field also_skip = http::field::unknown,
                       bool skip_forwarded_for = false) {
  const auto connection = from[http::field::connection];
  for (const auto& f : from) {
    if (also_skip != http::field::unknown && f.name() == also_skip) continue;
    if (skip_forwarded_for && is_named(f, kForwardedFor)) continue;
    if (forwardable(f.name(), f.name_string(), connection)) {
      append_field(out, f.name_string(), f.value());
    }
  }
}

}  // namespace

void append_request_head(std::string& out, http::verb method, std::string_view target,
                         const http::fields& client_headers, std::string_view host,
                         uint64_t content_length, std::string_view forwarded_for, bool client_tls) {
  out.append(http::to_string(method));
  out.push_back(' ');
  out.append(target);
  out.append(" HTTP/1.1\r\n");
  // The body is already read: the worker must not answer "100 Continue".
  if (forwarded_for.empty()) {
    append_end_to_end(out, client_headers, http::field::expect);
  } else {
    append_end_to_end(out, client_headers, http::field::expect, /*skip_forwarded_for=*/true);
    out.append(kForwardedFor);
    out.append(": ");
    bool has_proto = false;
    for (const auto& f : client_headers) {
      if (is_named(f, kForwardedProto)) has_proto = true;
      if (!is_named(f, kForwardedFor) || f.value().empty()) continue;
      out.append(f.value());
      out.append(", ");
    }
    out.append(forwarded_for);
    out.append("\r\n");
    if (!has_proto) {
      out.append(kForwardedProto);
      out.append(client_tls ? ": https\r\n" : ": http\r\n");
    }
  }
  append_field(out, "Host", host);
  out.append("Content-Length: ");
  append_number(out, content_length);
  out.append("\r\n\r\n");
}

void append_response_head(std::string& out, const ResponseHead& head,
                          const http::fields& worker_headers) {
  out.append(head.version >= 11 ? "HTTP/1.1 " : "HTTP/1.0 ");
  append_number(out, head.status);
  out.push_back(' ');
  if (!head.reason.empty()) {
    out.append(head.reason);
  } else {
    out.append(http::obsolete_reason(http::int_to_status(head.status)));
  }
  out.append("\r\n");
  append_end_to_end(out, worker_headers);
  if (!head.worker_url.empty()) append_field(out, kWorkerHeader, head.worker_url);
  switch (head.framing) {
    case BodyFraming::kContentLength:
      out.append("Content-Length: ");
      append_number(out, head.content_length);
      out.append("\r\n");
      break;
    case BodyFraming::kChunked:
      out.append("Transfer-Encoding: chunked\r\n");
      break;
    case BodyFraming::kClose:
    case BodyFraming::kNone:
      break;
  }
  const bool keep_alive = head.keep_alive && head.framing != BodyFraming::kClose;
  if (head.version >= 11 && !keep_alive) {
    out.append("Connection: close\r\n");
  } else if (head.version < 11 && keep_alive) {
    out.append("Connection: keep-alive\r\n");
  }
  out.append("\r\n");
}

void append_chunk_header(std::string& out, size_t size) {
  append_number(out, size, 16);
  out.append("\r\n");
}

}  // namespace radixmesh::router
