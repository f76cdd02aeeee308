// radixmesh-sim-worker: an OpenAI-compatible simulated inference worker.
// See docs/simulated-worker.md for flags, endpoints and the models behind the
// numbers it reports.
//
// Threads: --threads io threads run one io_context; every connection lives on
// its own strand. SIGINT/SIGTERM stop the io_context.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstdio>
#include <ctime>
#include <exception>
#include <memory>
#include <thread>
#include <vector>

#include "tools/sim_worker/bootstrap_server.h"
#include "tools/sim_worker/fd_limit.h"
#include "tools/sim_worker/http_session.h"
#include "tools/sim_worker/sim_options.h"
#include "tools/sim_worker/sim_state.h"

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace radixmesh::tools::sim;

namespace {

asio::awaitable<void> accept_loop(tcp::acceptor acceptor, std::shared_ptr<SimState> state) {
  auto& ioc = static_cast<asio::io_context&>(acceptor.get_executor().context());
  for (;;) {
    tcp::socket socket(asio::make_strand(ioc));
    auto [ec] = co_await acceptor.async_accept(socket, asio::as_tuple(asio::use_awaitable));
    if (ec == asio::error::operation_aborted) co_return;
    if (ec) continue;  // e.g. EMFILE: try the next one
    auto ex = socket.get_executor();
    asio::co_spawn(ex, run_session(std::move(socket), state), [](std::exception_ptr e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        std::fprintf(stderr, "radixmesh-sim-worker: session error: %s\n", ex.what());
      }
    });
  }
}

}  // namespace

int main(int argc, char** argv) {
  SimOptions opts;
  int exit_code = 0;
  if (!parse_sim_options(argc, argv, opts, exit_code)) return exit_code;
  radixmesh::tools::raise_fd_limit();

  asio::io_context ioc(static_cast<int>(opts.threads));
  tcp::acceptor acceptor(ioc);
  try {
    tcp::endpoint ep(asio::ip::make_address(opts.host), opts.port);
    acceptor.open(ep.protocol());
    acceptor.set_option(asio::socket_base::reuse_address(true));
    acceptor.bind(ep);
    acceptor.listen(asio::socket_base::max_listen_connections);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "radixmesh-sim-worker: cannot listen on %s:%u: %s\n", opts.host.c_str(),
                 opts.port, e.what());
    return 1;
  }
  const uint16_t port = acceptor.local_endpoint().port();
  if (opts.id.empty()) opts.id = opts.host + ":" + std::to_string(port);
  // A prefill worker's KV endpoint, on its own port (bound before the state
  // is built: a vLLM kv_transfer_params names the port actually bound).
  tcp::acceptor bootstrap(ioc);
  if (opts.role == PdRole::kPrefill) {
    try {
      tcp::endpoint ep(asio::ip::make_address(opts.host), opts.bootstrap_port);
      bootstrap.open(ep.protocol());
      bootstrap.set_option(asio::socket_base::reuse_address(true));
      bootstrap.bind(ep);
      bootstrap.listen(asio::socket_base::max_listen_connections);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "radixmesh-sim-worker: cannot listen on %s:%u (--bootstrap-port): %s\n",
                   opts.host.c_str(), opts.bootstrap_port, e.what());
      return 1;
    }
    opts.bootstrap_port = bootstrap.local_endpoint().port();
  }
  auto state = std::make_shared<SimState>(opts);
  state->started_unix = static_cast<int64_t>(std::time(nullptr));

  std::string models;
  for (const auto& m : state->opts.models) models += (models.empty() ? "" : ",") + m;
  std::printf("radixmesh-sim-worker listening on %s:%u id=%s models=%s\n", opts.host.c_str(), port,
              state->opts.id.c_str(), models.c_str());
  if (opts.role == PdRole::kPrefill)
    std::printf("radixmesh-sim-worker prefill (%s) KV endpoint on %s:%u\n",
                opts.pd_protocol == PdProtocol::kSglang ? "sglang" : "vllm", opts.host.c_str(),
                opts.bootstrap_port);
  else if (opts.role == PdRole::kDecode)
    std::printf("radixmesh-sim-worker decode (%s)\n",
                opts.pd_protocol == PdProtocol::kSglang ? "sglang" : "vllm");
  std::fflush(stdout);

  asio::signal_set signals(ioc, SIGINT, SIGTERM);
  signals.async_wait([&ioc](const boost::system::error_code& ec, int) {
    if (!ec) ioc.stop();
  });
  asio::co_spawn(ioc, accept_loop(std::move(acceptor), state), asio::detached);
  if (bootstrap.is_open())
    asio::co_spawn(ioc, bootstrap_accept_loop(std::move(bootstrap), state), asio::detached);

  std::vector<std::thread> threads;
  for (uint32_t i = 1; i < opts.threads; ++i) threads.emplace_back([&ioc] { ioc.run(); });
  ioc.run();
  for (auto& t : threads) t.join();
  return 0;
}
