#include "mesh/tls_credentials.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/stat.h>

#include <boost/asio/ssl/context.hpp>

namespace radixmesh::mesh {

namespace ssl = boost::asio::ssl;
namespace {

Error tls_error(const std::string& what, const std::string& path,
                const boost::system::error_code& ec) {
  return Error{ErrorCode::kInvalidArgument, what + " " + path + ": " + ec.message()};
}

}  // namespace

Result<std::shared_ptr<TlsContext>> make_tls_context(const TlsFiles& files) {
  if (files.cert.empty() || files.key.empty() || files.ca.empty())
    return Error{ErrorCode::kInvalidArgument,
                 "mesh TLS needs a certificate, a key and a CA file (all three)"};
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls);
  boost::system::error_code ec;
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                       ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                       ssl::context::no_compression,
                   ec);
  SSL_CTX* native = ctx->native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  SSL_CTX_set_options(native, SSL_OP_NO_RENEGOTIATION);
  // Mesh connections are long-lived and never resumed: no session tickets.
  SSL_CTX_set_num_tickets(native, 0);
  ctx->use_certificate_chain_file(files.cert, ec);
  if (ec) return tls_error("certificate", files.cert, ec);
  ctx->use_private_key_file(files.key, ssl::context::pem, ec);
  if (ec) return tls_error("key", files.key, ec);
  if (SSL_CTX_check_private_key(native) != 1) {
    ERR_clear_error();
    return Error{ErrorCode::kInvalidArgument,
                 "key " + files.key + " does not match certificate " + files.cert};
  }
  ctx->load_verify_file(files.ca, ec);
  if (ec) return tls_error("CA file", files.ca, ec);
  // The acceptor's CertificateRequest names the CA(s) a client must chain to.
  if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(files.ca.c_str())) {
    SSL_CTX_set_client_CA_list(native, names);
  } else {
    ERR_clear_error();
    return Error{ErrorCode::kInvalidArgument, "CA file " + files.ca + ": no certificate in it"};
  }
  ctx->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert, ec);
  if (ec) return tls_error("verify mode for", files.ca, ec);
  return ctx;
}

std::string TlsCredentials::signature() const {
  std::string sig;
  for (const std::string* path : {&files_.cert, &files_.key, &files_.ca}) {
    struct stat st {};
    if (::stat(path->c_str(), &st) != 0) return {};
    sig += std::to_string(st.st_ino) + "/" + std::to_string(st.st_size) + "/" +
           std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec) + ";";
  }
  return sig;
}

Status TlsCredentials::load() {
  signature_ = signature();
  auto ctx = make_tls_context(files_);
  if (!ctx) return ctx.error();
  current_ = std::move(*ctx);
  return Ok{};
}

TlsCredentials::Outcome TlsCredentials::poll(std::string* why) {
  const std::string sig = signature();
  if (sig == signature_) return Outcome::kUnchanged;
  return reload(why);
}

TlsCredentials::Outcome TlsCredentials::reload(std::string* why) {
  signature_ = signature();
  auto ctx = make_tls_context(files_);
  if (!ctx) {
    if (why) *why = ctx.error().message;
    return Outcome::kFailed;
  }
  current_ = std::move(*ctx);
  if (why) why->clear();
  return Outcome::kReloaded;
}

}  // namespace radixmesh::mesh
