#include "router/tls_context.h"

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

namespace radixmesh::tls {
namespace {

Error failed(const std::string& what, const std::string& why) {
  return make_error(ErrorCode::kInvalidArgument, what + ": " + why);
}

// A readable regular file of at most kMaxPemBytes, else why not.
std::string check_pem_file(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return "cannot stat: " + std::string(std::strerror(errno));
  if (!S_ISREG(st.st_mode)) return "not a regular file";
  if (static_cast<uint64_t>(st.st_size) > kMaxPemBytes) {
    return "larger than " + std::to_string(kMaxPemBytes) + " bytes";
  }
  if (st.st_size == 0) return "empty";
  return {};
}

std::string ssl_reason(const boost::system::error_code& ec) {
  std::string m = ec.message();
  return m.empty() ? "OpenSSL error " + std::to_string(ec.value()) : m;
}

// A context plus the ALPN list its select callback reads: one allocation,
// handed out as a shared_ptr to the context (aliasing constructor).
struct ServerHolder {
  ssl::context context{ssl::context::tls_server};
  std::string alpn_wire;  // length-prefixed protocol names (RFC 7301)
};

int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                unsigned int inlen, void* arg) {
  const auto* holder = static_cast<const ServerHolder*>(arg);
  unsigned char* selected = nullptr;
  const auto* ours = reinterpret_cast<const unsigned char*>(holder->alpn_wire.data());
  if (SSL_select_next_proto(&selected, outlen, ours,
                            static_cast<unsigned>(holder->alpn_wire.size()), in,
                            inlen) != OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_NOACK;  // none in common: go on without ALPN
  }
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

std::string wire_format(const std::vector<std::string>& protocols) {
  std::string wire;
  for (const auto& p : protocols) {
    if (p.empty() || p.size() > 255) continue;
    wire.push_back(static_cast<char>(p.size()));
    wire += p;
  }
  return wire;
}

void common_options(ssl::context& c) {
  c.set_options(ssl::context::default_workarounds | ssl::context::no_compression |
                ssl::context::no_sslv2 | ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                ssl::context::no_tlsv1_1);
  SSL_CTX_set_min_proto_version(c.native_handle(), TLS1_2_VERSION);
  SSL_CTX_set_options(c.native_handle(), SSL_OP_NO_RENEGOTIATION);
}

}  // namespace

Result<std::shared_ptr<ssl::context>> make_server_context(const std::string& cert_file,
                                                          const std::string& key_file,
                                                          std::vector<std::string> alpn) {
  if (auto why = check_pem_file(cert_file); !why.empty()) {
    return failed("certificate file '" + cert_file + "'", why);
  }
  if (auto why = check_pem_file(key_file); !why.empty()) {
    return failed("key file '" + key_file + "'", why);
  }
  auto holder = std::make_shared<ServerHolder>();
  ssl::context& c = holder->context;
  common_options(c);
  boost::system::error_code ec;
  c.use_certificate_chain_file(cert_file, ec);
  if (ec) return failed("certificate file '" + cert_file + "'", ssl_reason(ec));
  c.use_private_key_file(key_file, ssl::context::pem, ec);
  if (ec) {
    std::string why = ssl_reason(ec);
    // OpenSSL checks the pair here already ("key values mismatch").
    if (why.find("mismatch") != std::string::npos) {
      why = "does not match the certificate in '" + cert_file + "' (" + why + ")";
    }
    return failed("key file '" + key_file + "'", why);
  }
  if (SSL_CTX_check_private_key(c.native_handle()) != 1) {
    ERR_clear_error();
    return failed("key file '" + key_file + "'",
                  "does not match the certificate in '" + cert_file + "'");
  }
  holder->alpn_wire = wire_format(alpn);
  if (!holder->alpn_wire.empty()) {
    SSL_CTX_set_alpn_select_cb(c.native_handle(), select_alpn, holder.get());
  }
  return std::shared_ptr<ssl::context>(holder, &holder->context);
}

Result<std::shared_ptr<ssl::context>> make_client_context(const ClientOptions& options) {
  auto c = std::make_shared<ssl::context>(ssl::context::tls_client);
  common_options(*c);
  boost::system::error_code ec;
  if (options.verify) {
    c->set_verify_mode(ssl::verify_peer, ec);
    if (!options.ca_file.empty()) {
      if (auto why = check_pem_file(options.ca_file); !why.empty()) {
        return failed("CA file '" + options.ca_file + "'", why);
      }
      c->load_verify_file(options.ca_file, ec);
      if (ec) return failed("CA file '" + options.ca_file + "'", ssl_reason(ec));
    } else {
      c->set_default_verify_paths(ec);
      if (ec) return failed("system CA store", ssl_reason(ec));
    }
  } else {
    c->set_verify_mode(ssl::verify_none, ec);
  }
  static const unsigned char kHttp11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  SSL_CTX_set_alpn_protos(c->native_handle(), kHttp11, sizeof kHttp11);
  return c;
}

std::string describe_certificate(ssl::context& context) {
  X509* cert = SSL_CTX_get0_certificate(context.native_handle());
  if (cert == nullptr) return "(no certificate)";
  char subject[512];
  X509_NAME_oneline(X509_get_subject_name(cert), subject, sizeof subject);
  std::string out = subject;
  if (BIGNUM* serial = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr)) {
    if (char* hex = BN_bn2hex(serial)) {
      out += ", serial ";
      out += hex;
      OPENSSL_free(hex);
    }
    BN_free(serial);
  }
  return out;
}

}  // namespace radixmesh::tls
