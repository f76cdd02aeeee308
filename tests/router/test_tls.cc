// Data-plane and upstream TLS pieces: the TLS flags' validation, the
// reloading context (change detection, a bad pair keeps the old one, force),
// the peek that tells a TLS client's close_notify from a pipelined request,
// and the handshake failure reasons. Certificates are made at test time with
// the openssl CLI in a temp dir.
#include <doctest/doctest.h>
#include <openssl/ssl.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "router/byte_stream.h"
#include "router/config.h"
#include "router/retry_policy.h"
#include "router/tls_acceptor.h"
#include "router/wire_format.h"
#include "router/tls_reloading_context.h"
#include "router/tls_context.h"

namespace fs = std::filesystem;
using radixmesh::router::parse_config;
namespace tls = radixmesh::tls;

namespace {

// A temp dir with a CA and certificates it signed, removed at scope exit.
struct CertDir {
  fs::path dir;
  CertDir() {
    char tmpl[] = "/tmp/radixmesh-tls-XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    dir = tmpl;
    run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key "
        "-out ca.pem -days 2 -subj /CN=unit-ca");
  }
  ~CertDir() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  void run(const std::string& cmd) const {
    const std::string full = "cd '" + dir.string() + "' && " + cmd + " >/dev/null 2>&1";
    REQUIRE(std::system(full.c_str()) == 0);
  }
  // name.pem + name.key signed by the CA, with this serial (hex).
  void issue(const std::string& name, const std::string& serial) const {
    run("openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout " + name +
        ".key -out " + name + ".csr -subj /CN=" + name + " && openssl x509 -req -in " + name +
        ".csr -CA ca.pem -CAkey ca.key -set_serial 0x" + serial + " -out " + name + ".pem -days 2");
  }
  std::string path(const std::string& file) const { return (dir / file).string(); }
  void copy(const std::string& from, const std::string& to) const {
    // Write a new file and rename it over the old: a new inode, as a
    // Secret's symlink swap gives.
    fs::copy_file(dir / from, dir / (to + ".tmp"), fs::copy_options::overwrite_existing);
    fs::rename(dir / (to + ".tmp"), dir / to);
  }
};

std::string parse_err(std::vector<std::string> args) {
  auto r = parse_config(args, {});
  REQUIRE_FALSE(r.ok());
  return r.error().message;
}

}  // namespace

TEST_CASE("tls flags: both or neither, readable, upstream CA vs insecure") {
  CertDir d;
  d.issue("srv", "01");
  CHECK(parse_err({"--tls-cert-file", d.path("srv.pem")}).find("needs --tls-key-file") !=
        std::string::npos);
  CHECK(parse_err({"--tls-key-file", d.path("srv.key")}).find("needs --tls-cert-file") !=
        std::string::npos);
  CHECK(parse_err({"--tls-cert-file", d.path("nope.pem"), "--tls-key-file", d.path("srv.key")})
            .find("tls-cert-file") != std::string::npos);
  CHECK(parse_err({"--upstream-ca-file", d.path("ca.pem"), "--upstream-tls-insecure"})
            .find("contradicts") != std::string::npos);
  CHECK(parse_err({"--tls-reload-interval-ms", "10"}).find("tls-reload-interval-ms") !=
        std::string::npos);
  auto ok =
      parse_config({"--tls-cert-file", d.path("srv.pem"), "--tls-key-file", d.path("srv.key"),
                    "--worker", "https://127.0.0.1:7443", "--upstream-ca-file", d.path("ca.pem")},
                   {});
  REQUIRE(ok.ok());
  CHECK(ok->tls_reload_interval_ms == 5000);
  CHECK(ok->workers == std::vector<std::string>{"https://127.0.0.1:7443"});
  CHECK(parse_err({"--worker", "ftp://127.0.0.1:1"}).find("http:// or https://") !=
        std::string::npos);
}

TEST_CASE("server context: a good pair loads, a mismatched or garbage one is refused") {
  CertDir d;
  d.issue("a", "0A");
  d.issue("b", "0B");
  auto good = tls::make_server_context(d.path("a.pem"), d.path("a.key"), {"http/1.1"});
  REQUIRE(good.ok());
  CHECK(tls::describe_certificate(**good).find("CN=a, serial 0A") != std::string::npos);
  auto mismatch = tls::make_server_context(d.path("a.pem"), d.path("b.key"), {"http/1.1"});
  REQUIRE_FALSE(mismatch.ok());
  CHECK(mismatch.error().message.find("does not match") != std::string::npos);
  std::ofstream(d.path("junk.pem")) << "not a certificate\n";
  CHECK_FALSE(tls::make_server_context(d.path("junk.pem"), d.path("a.key"), {}).ok());
  CHECK_FALSE(tls::make_server_context(d.path("missing.pem"), d.path("a.key"), {}).ok());
  CHECK(tls::make_client_context({d.path("ca.pem"), true}).ok());
  CHECK_FALSE(tls::make_client_context({d.path("junk.pem"), true}).ok());
}

TEST_CASE("reloading context: change detected, bad pair keeps the old, force reloads") {
  CertDir d;
  d.issue("one", "01");
  d.issue("two", "02");
  d.issue("three", "03");
  d.copy("one.pem", "live.pem");
  d.copy("one.key", "live.key");
  auto r = tls::ReloadingContext::create({d.path("live.pem"), d.path("live.key"), {"http/1.1"}});
  REQUIRE(r.ok());
  auto& ctx = **r;
  auto first = ctx.current();
  CHECK(tls::describe_certificate(*first).find("serial 01") != std::string::npos);
  std::string why;
  CHECK(ctx.poll(false, &why) == tls::ReloadingContext::Outcome::kUnchanged);

  // Rotation: both files replaced (new inodes).
  d.copy("two.pem", "live.pem");
  d.copy("two.key", "live.key");
  CHECK(ctx.poll(false, &why) == tls::ReloadingContext::Outcome::kReloaded);
  CHECK(why.find("serial 02") != std::string::npos);
  CHECK(tls::describe_certificate(*ctx.current()).find("serial 02") != std::string::npos);
  CHECK(tls::describe_certificate(*first).find("serial 01") != std::string::npos);  // kept

  // Half a rotation (the certificate without its key): refused, 02 stays,
  // reported once, and the completed rotation is then picked up.
  d.copy("three.pem", "live.pem");
  CHECK(ctx.poll(false, &why) == tls::ReloadingContext::Outcome::kFailed);
  CHECK(why.find("does not match") != std::string::npos);
  CHECK(tls::describe_certificate(*ctx.current()).find("serial 02") != std::string::npos);
  CHECK(ctx.poll(false, &why) == tls::ReloadingContext::Outcome::kUnchanged);
  d.copy("three.key", "live.key");
  CHECK(ctx.poll(false, &why) == tls::ReloadingContext::Outcome::kReloaded);
  CHECK(tls::describe_certificate(*ctx.current()).find("serial 03") != std::string::npos);

  // A symlink swap (how a Kubernetes Secret volume rotates).
  fs::create_directory(d.dir / "v1");
  fs::copy_file(d.dir / "one.pem", d.dir / "v1" / "tls.crt");
  fs::copy_file(d.dir / "one.key", d.dir / "v1" / "tls.key");
  fs::create_directory(d.dir / "v2");
  fs::copy_file(d.dir / "two.pem", d.dir / "v2" / "tls.crt");
  fs::copy_file(d.dir / "two.key", d.dir / "v2" / "tls.key");
  fs::create_directory_symlink("v1", d.dir / "..data");
  fs::create_symlink("..data/tls.crt", d.dir / "tls.crt");
  fs::create_symlink("..data/tls.key", d.dir / "tls.key");
  auto s = tls::ReloadingContext::create({d.path("tls.crt"), d.path("tls.key"), {"http/1.1"}});
  REQUIRE(s.ok());
  CHECK(tls::describe_certificate(*(*s)->current()).find("serial 01") != std::string::npos);
  fs::create_directory_symlink("v2", d.dir / "..data_tmp");
  fs::rename(d.dir / "..data_tmp", d.dir / "..data");
  CHECK((*s)->poll(false, &why) == tls::ReloadingContext::Outcome::kReloaded);
  CHECK(tls::describe_certificate(*(*s)->current()).find("serial 02") != std::string::npos);

  // Forced (SIGHUP) reload of unchanged files still rebuilds.
  const uint64_t before = (*s)->generation();
  CHECK((*s)->poll(true, &why) == tls::ReloadingContext::Outcome::kReloaded);
  CHECK((*s)->generation() == before + 1);

  // Garbage in place: the old context keeps serving.
  std::ofstream(d.path("live.pem"), std::ios::trunc) << "-----BEGIN CERTIFICATE-----\nxx\n";
  CHECK(ctx.poll(false, &why) == tls::ReloadingContext::Outcome::kFailed);
  CHECK(tls::describe_certificate(*ctx.current()).find("serial 03") != std::string::npos);
}

TEST_CASE("a first start with a bad pair is an error") {
  CertDir d;
  d.issue("a", "01");
  d.issue("b", "02");
  auto r = tls::ReloadingContext::create({d.path("a.pem"), d.path("b.key"), {"http/1.1"}});
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message.find("does not match") != std::string::npos);
}

TEST_CASE("peek: EOF is gone; over TLS an alert record is gone, a request is not") {
  using radixmesh::router::peek_means_gone;
  const unsigned char request[] = {23, 3, 3, 0, 80};        // TLS 1.3 record, 80 bytes
  const unsigned char alert13[] = {23, 3, 3, 0, 19};        // TLS 1.3 close_notify
  const unsigned char alert12[] = {21, 3, 3, 0, 26};        // TLS 1.2 alert record
  const unsigned char plain[] = {'P', 'O', 'S', 'T', ' '};  // pipelined plain request
  CHECK(peek_means_gone(false, plain, 0));
  CHECK(peek_means_gone(true, request, 0));
  CHECK_FALSE(peek_means_gone(false, plain, 1));
  CHECK_FALSE(peek_means_gone(false, alert12, 5));  // plain: bytes are bytes
  CHECK_FALSE(peek_means_gone(true, request, 5));
  CHECK(peek_means_gone(true, alert13, 5));
  CHECK(peek_means_gone(true, alert12, 5));
  CHECK_FALSE(peek_means_gone(true, alert12, 3));  // header not complete yet: not judged
}

TEST_CASE("handshake failure reasons") {
  using radixmesh::router::classify_handshake_error;
  using radixmesh::router::HandshakeFailure;
  namespace net = boost::asio;
  CHECK(classify_handshake_error(boost::beast::error::timeout) == HandshakeFailure::kTimeout);
  CHECK(classify_handshake_error(net::error::eof) == HandshakeFailure::kClosed);
  CHECK(classify_handshake_error(net::ssl::error::stream_truncated) == HandshakeFailure::kClosed);
  const boost::system::error_code unknown_ca(
      static_cast<int>(ERR_PACK(ERR_LIB_SSL, 0, SSL_R_TLSV1_ALERT_UNKNOWN_CA)),
      net::error::get_ssl_category());
  CHECK(classify_handshake_error(unknown_ca) == HandshakeFailure::kCertificateRejected);
  const boost::system::error_code version(
      static_cast<int>(ERR_PACK(ERR_LIB_SSL, 0, SSL_R_UNSUPPORTED_PROTOCOL)),
      net::error::get_ssl_category());
  CHECK(classify_handshake_error(version) == HandshakeFailure::kProtocolVersion);
  CHECK(std::string(label(HandshakeFailure::kPlainHttp)) == "plain_http");
}

TEST_CASE("an upstream TLS handshake failure: 502, counts against the breaker, retried") {
  using namespace radixmesh::router;
  const RetryDecision last = decide_retry(AttemptFailure::kTlsHandshake, 0, 0, false);
  CHECK(last.final_error == RouterErrc::kUpstreamFailure);
  CHECK(http_status(last.final_error) == 502);
  CHECK(last.breaker_failure);
  CHECK(last.mark_unhealthy);
  CHECK_FALSE(last.retry);
  CHECK(decide_retry(AttemptFailure::kTlsHandshake, 0, 1, false).retry);
  CHECK(to_string(AttemptFailure::kTlsHandshake) == "tls_handshake");
  const boost::system::error_code verify(
      static_cast<int>(ERR_PACK(ERR_LIB_SSL, 0, SSL_R_CERTIFICATE_VERIFY_FAILED)),
      boost::asio::error::get_ssl_category());
  CHECK(is_tls_error(verify));
  CHECK(is_tls_error(boost::asio::ssl::error::stream_truncated));
  CHECK_FALSE(is_tls_error(boost::asio::error::connection_refused));
}

TEST_CASE("X-Forwarded-Proto says https for a client that came over TLS") {
  using namespace radixmesh::router;
  http::fields headers;
  std::string plain, over_tls, behind_balancer;
  append_request_head(plain, http::verb::post, "/v1/chat/completions", headers, "w:1", 0,
                      "10.0.0.1");
  append_request_head(over_tls, http::verb::post, "/v1/chat/completions", headers, "w:1", 0,
                      "10.0.0.1", /*client_tls=*/true);
  CHECK(plain.find("X-Forwarded-Proto: http\r\n") != std::string::npos);
  CHECK(over_tls.find("X-Forwarded-Proto: https\r\n") != std::string::npos);
  headers.insert("X-Forwarded-Proto", "http");  // set by a balancer in front: kept
  append_request_head(behind_balancer, http::verb::post, "/", headers, "w:1", 0, "10.0.0.1", true);
  CHECK(behind_balancer.find("X-Forwarded-Proto: https") == std::string::npos);
}
