// Forward declarations of Asio's TLS types, so headers of the mesh that only
// hold pointers to them do not pull OpenSSL's headers into every includer
// (router code included). The .cc files include <boost/asio/ssl.hpp>.
#pragma once

#include <boost/asio/ip/tcp.hpp>

namespace boost::asio::ssl {
class context;
template <typename Stream>
class stream;
}  // namespace boost::asio::ssl

namespace radixmesh::mesh {
using TlsContext = boost::asio::ssl::context;
// A TLS stream over a connection's socket (the socket stays the connection's).
using TlsStream = boost::asio::ssl::stream<boost::asio::ip::tcp::socket&>;
}  // namespace radixmesh::mesh
