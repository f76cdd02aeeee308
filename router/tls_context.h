// TLS contexts for Asio's ssl streams (boost/asio/ssl.hpp).
//
// make_server_context loads a PEM certificate chain and its private key into
// a new ssl::context: TLS 1.2 minimum, no compression or renegotiation, the
// key checked against the certificate, and ALPN answered from `alpn` (the
// first protocol of ours the client offers; a client offering none of them
// proceeds without ALPN). make_client_context builds a context that verifies
// the peer against a CA file (or the system store when the file is empty).
// Errors are values with OpenSSL's reason ("key values mismatch", "no
// start line"...), never exceptions: a bad file must not stop a process that
// is reloading.
//
// A context is immutable once built and is shared (shared_ptr) by the
// connections made from it; OpenSSL makes concurrent SSL_new on one SSL_CTX
// safe, so any thread may use it.
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "radix/result.h"

namespace radixmesh::tls {

namespace ssl = boost::asio::ssl;

// Certificate and key files larger than this are refused unread (a PEM pair
// is a few KB; a wrong path to a large file must not stall a reload).
inline constexpr uint64_t kMaxPemBytes = 1 << 20;

Result<std::shared_ptr<ssl::context>> make_server_context(const std::string& cert_file,
                                                          const std::string& key_file,
                                                          std::vector<std::string> alpn);

struct ClientOptions {
  std::string ca_file;  // PEM bundle; empty: the system's default store
  bool verify = true;   // false: no peer verification (documented as unsafe)
};
Result<std::shared_ptr<ssl::context>> make_client_context(const ClientOptions& options);

// The subject line of the certificate a context serves (for logs and tests),
// e.g. "CN=router.example, serial 1A2B".
std::string describe_certificate(ssl::context& context);

}  // namespace radixmesh::tls
