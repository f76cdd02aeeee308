// radixmesh-loadgen: load generator for OpenAI-compatible routers and
// workers. See docs/load-generator.md for workloads, flags and the --json
// schema.
//
// One thread, one io_context: the generator is I/O-bound and single-threaded
// code keeps the workload deterministic for a given seed.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <cstdio>
#include <exception>

#include "tools/loadgen/http_target.h"
#include "tools/loadgen/loadgen_options.h"
#include "tools/loadgen/run_stats.h"
#include "tools/loadgen/runner.h"
#include "tools/loadgen/sample_log.h"
#include "tools/loadgen/trace.h"
#include "tools/loadgen/workload.h"
#include "tools/sim_worker/fd_limit.h"

namespace asio = boost::asio;
using namespace radixmesh::tools::loadgen;

int main(int argc, char** argv) {
  LoadgenOptions opts;
  int exit_code = 0;
  if (!parse_loadgen_options(argc, argv, opts, exit_code)) return exit_code;
  radixmesh::tools::raise_fd_limit();

  asio::io_context ioc(1);
  std::vector<std::unique_ptr<HttpTarget>> targets;
  asio::ip::tcp::resolver resolver(ioc);
  for (const std::string& text : opts.targets) {
    auto url = parse_url(text);
    if (!url) {
      std::fprintf(stderr, "radixmesh-loadgen: %s\n", url.error().message.c_str());
      return 2;
    }
    boost::system::error_code ec;
    auto endpoints = resolver.resolve(url->host, url->port, ec);
    if (ec) {
      std::fprintf(stderr, "radixmesh-loadgen: cannot resolve %s: %s\n", text.c_str(),
                   ec.message().c_str());
      return 2;
    }
    targets.push_back(std::make_unique<HttpTarget>(ioc, text, *url, endpoints));
  }

  std::unique_ptr<SampleLog> samples;
  if (!opts.samples_path.empty()) {
    try {
      samples = std::make_unique<SampleLog>(opts.samples_path);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "radixmesh-loadgen: %s\n", e.what());
      return 2;
    }
  }
  std::vector<Session> sessions;
  if (opts.trace_path.empty()) {
    sessions = build_workload(opts);
  } else if (std::string error; !load_trace(opts, sessions, error)) {
    std::fprintf(stderr, "radixmesh-loadgen: --trace %s\n", error.c_str());
    return 2;
  }
  RunStats stats;
  Runner runner(ioc, opts, std::move(sessions), std::move(targets), stats, samples.get());
  if (!opts.json)
    std::fprintf(stderr, "radixmesh-loadgen: %s, up to %llu requests to %zu target(s)...\n",
                 opts.trace_path.empty() ? to_string(opts.workload) : "trace",
                 static_cast<unsigned long long>(runner.planned()), opts.targets.size());
  // SIGINT/SIGTERM end the run early but still print what was measured.
  asio::signal_set signals(ioc, SIGINT, SIGTERM);
  signals.async_wait([&ioc](const boost::system::error_code& ec, int) {
    if (!ec) ioc.stop();
  });
  asio::co_spawn(ioc, runner.run(), [&signals](std::exception_ptr e) {
    if (e) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        std::fprintf(stderr, "radixmesh-loadgen: %s\n", ex.what());
      }
    }
    signals.cancel();  // the run is over: let ioc.run() return
  });
  ioc.run();
  const std::string report = opts.json ? stats.to_json(opts, runner.planned()) + "\n"
                                       : stats.to_table(opts, runner.planned());
  std::fputs(report.c_str(), stdout);
  return stats.sent() > 0 && stats.ok() == 0 ? 1 : 0;
}
