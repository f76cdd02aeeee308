// Fuzz target: the one address parser (radix/address.h) on arbitrary text.
//
// Checked: neither parser crashes; what parse_host_port accepts prints
// (HostPort::text) to text that parses back to the same address, with no
// '@', '/', whitespace or control byte in it; what parse_http_url accepts
// has a port in 1..65535 and an origin that parses back to the same scheme
// and authority.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "radix/address.h"
#include "tests/fuzz/fuzz_input.h"

using namespace radixmesh::radix;
using radixmesh::fuzz::fuzz_check;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto hp = parse_host_port(text); hp.ok()) {
    const std::string printed = hp->text();
    for (char c : printed) {
      fuzz_check(c != '@' && c != '/' && static_cast<unsigned char>(c) > ' ',
                 "accepted address prints a forbidden byte");
    }
    auto again = parse_host_port(printed);
    fuzz_check(again.ok() && *again == *hp, "printed address does not parse back the same");
    fuzz_check(hp->port >= 1, "port 0 accepted");
  }
  if (auto url = parse_http_url(text); url.ok()) {
    fuzz_check(url->authority.port >= 1, "url port 0 accepted");
    fuzz_check(url->path.empty() || url->path.front() == '/', "path does not start with /");
    auto again = parse_http_url(url->origin());
    fuzz_check(again.ok() && again->tls == url->tls && again->authority == url->authority,
               "origin does not parse back the same");
  }
  return 0;
}
