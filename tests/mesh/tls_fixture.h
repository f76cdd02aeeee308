// Test certificates for mesh TLS, generated at run time with the openssl
// command line into a fresh temporary directory (no key is committed):
// two independent CAs, "mesh" and "other", and ECDSA P-256 leaf
// certificates signed by either. The directory is removed on destruction.
#pragma once

#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "mesh/tls_credentials.h"

namespace radixmesh::mesh::test {

class TlsFixture {
 public:
  TlsFixture() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "radixmesh-tls-XXXXXX").string();
    const char* d = ::mkdtemp(tmpl.data());
    REQUIRE(d != nullptr);
    dir_ = d;
    make_ca("mesh");
    make_ca("other");
  }
  ~TlsFixture() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  TlsFixture(const TlsFixture&) = delete;
  TlsFixture& operator=(const TlsFixture&) = delete;

  // A new leaf `name` signed by `ca` ("mesh" or "other"), trusting `trust`.
  TlsFiles leaf(const std::string& name, const std::string& ca, const std::string& trust = "") {
    const std::string p = dir_ + "/" + name;
    run("openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout " + p +
        ".key -out " + p + ".csr -subj /CN=" + name);
    run("openssl x509 -req -in " + p + ".csr -CA " + ca_crt(ca) + " -CAkey " + dir_ + "/" + ca +
        "-ca.key -CAcreateserial -days 2 -out " + p + ".crt");
    return TlsFiles{p + ".crt", p + ".key", ca_crt(trust.empty() ? ca : trust)};
  }
  std::string ca_crt(const std::string& ca) const { return dir_ + "/" + ca + "-ca.crt"; }
  const std::string& dir() const { return dir_; }

 private:
  void make_ca(const std::string& ca) {
    run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout " +
        dir_ + "/" + ca + "-ca.key -out " + ca_crt(ca) + " -days 2 -subj /CN=" + ca + "-ca");
  }
  static void run(const std::string& cmd) {
    const int rc = std::system((cmd + " >/dev/null 2>&1").c_str());
    REQUIRE_MESSAGE(rc == 0, cmd);
  }
  std::string dir_;
};

}  // namespace radixmesh::mesh::test
