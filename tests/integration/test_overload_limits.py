"""Overload and hostile-client limits of the data plane, with real processes
on loopback: the connection cap under a low open-files limit (issue 17 item 2),
clients that never read their streams (item 3), and the response caps and
header hygiene of item 14.

Every loop is bounded in count and time.
"""
import json
import socket
import time
import unittest

import harness
import router_util


def metric_value(text, name, labels=""):
    """The value of one sample in a Prometheus exposition (None when absent)."""
    key = name + (("{" + labels + "}") if labels else "")
    for line in text.splitlines():
        if line.startswith(key + " "):
            return float(line.rsplit(" ", 1)[1])
    return None


def read_some(sock, limit=65536, timeout=3.0):
    """What the peer sends until it closes, `limit` bytes or `timeout`."""
    sock.settimeout(timeout)
    data = b""
    deadline = time.monotonic() + timeout
    try:
        while len(data) < limit and time.monotonic() < deadline:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except (socket.timeout, ConnectionResetError):
        pass
    return data


class RouterProcess:
    """A router started with its admin port known, optionally under prlimit."""

    def __init__(self, test, sims, *flags, nofile=None):
        self.port = harness.free_port()
        self.admin_port = harness.free_port()
        args = []
        if nofile:
            args += ["prlimit", f"--nofile={nofile}:{nofile}", "--"]
        args += [harness.binary(router_util.ROUTER), "--host", harness.HOST, "--port", self.port,
                 "--admin-port", self.admin_port, "--threads", "2",
                 "--health-interval-ms", "200", "--log-level", "info"]
        for sport, _, _ in sims:
            args += ["--worker", f"http://{harness.HOST}:{sport}"]
        self.proc = test.spawn(args + list(flags), "router")
        harness.wait_http_ok(self.port, path="/readiness", proc=self.proc)

    def metrics(self):
        status, _, data = harness.request(self.admin_port, "GET", "/metrics", timeout=5)
        assert status == 200, status
        return data.decode()

    def workers(self):
        status, _, data = harness.request(self.admin_port, "GET", "/admin/workers", timeout=5)
        assert status == 200, status
        return json.loads(data)["workers"]


class ConnectionCapTest(harness.Cleanup, unittest.TestCase):
    """Issue 17 item 2: with `ulimit -n 1024`, 1,100 silent connections made
    accept fail with EMFILE, took the admin API and /metrics down with it, and
    the health checks then marked every worker unhealthy."""

    NOFILE = 256  # derived cap: (256 - 64) / 2 = 96 connections
    IDLE = 300    # more than the whole open-files limit

    def test_idle_flood_over_fd_limit_is_refused_and_workers_stay_healthy(self):
        sims = router_util.start_sims(self, 2)
        router = RouterProcess(self, sims, nofile=self.NOFILE)
        self.assertIn("max connections 96 (derived)", router.proc.output())

        idle = []
        try:
            for _ in range(self.IDLE):
                idle.append(socket.create_connection((harness.HOST, router.port), timeout=2))
            # Several health intervals pass with the flood in place (and the
            # refusals, each answered within a second, are done).
            time.sleep(1.5)
            # Over the cap: a short 503 and a close, not a hang in the backlog.
            fresh = socket.create_connection((harness.HOST, router.port), timeout=2)
            fresh.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = read_some(fresh)
            fresh.close()
            self.assertTrue(answer.startswith(b"HTTP/1.1 503"), answer[:200])
            self.assertIn(b"too_many_connections", answer)
            self.assertIn(b"Retry-After: 1", answer)

            # The admin API and /metrics answer, and every worker stays healthy.
            self.assertEqual([w["healthy"] for w in router.workers()], [True, True])
            text = router.metrics()
            self.assertEqual(metric_value(text, "radixmesh_client_connections"), 96)
            self.assertEqual(metric_value(text, "radixmesh_client_connections_limit"), 96)
            refused = metric_value(text, "radixmesh_client_connections_refused_total",
                                   'reason="max_connections"')
            self.assertGreaterEqual(refused, self.IDLE - 96)
            self.assertEqual(metric_value(text, "radixmesh_client_connections_refused_total",
                                          'reason="accept_error"'), 0)
        finally:
            for s in idle:
                s.close()

        # Released: requests are served again, by healthy workers.
        def served():
            status, _, _ = router_util.chat(router.port, [{"role": "user", "content": "hi"}])
            return status == 200
        harness.wait_until(served, timeout=10, what="a chat request served after the flood")
        self.assertEqual([w["healthy"] for w in router.workers()], [True, True])
        self.assertEqual(metric_value(router.metrics(), "radixmesh_upstream_errors_total",
                                      ""), None)
        log = router.proc.output()
        self.assertNotIn("is unhealthy", log)
        # Refusals are logged once per burst, not once per connection.
        self.assertLessEqual(log.count("connection refused (max-connections)"), 3, log[-3000:])

    def test_local_fd_shortage_is_not_blamed_on_workers(self):
        # A cap set above what the limit can hold: accept and the health
        # checks run out of descriptors. Neither may mark a worker unhealthy.
        sims = router_util.start_sims(self, 2)
        router = RouterProcess(self, sims, "--max-connections", "1000", nofile=self.NOFILE)
        idle = []
        try:
            for _ in range(self.IDLE):
                idle.append(socket.create_connection((harness.HOST, router.port), timeout=2))
            harness.wait_until(lambda: "local descriptor shortage" in router.proc.output(),
                               timeout=5, what="a health check skipped for lack of descriptors")
            time.sleep(1.0)  # five more health intervals in the shortage
        finally:
            for s in idle:
                s.close()
        harness.wait_until(lambda: "accept: burst over" in router.proc.output(), timeout=5,
                           what="the accept error burst to end")
        log = router.proc.output()
        self.assertNotIn("is unhealthy", log)
        # Once per burst (the backlog that drains after the release may make
        # a second one), not once per failed accept.
        self.assertLessEqual(log.count("accept: Too many open files"), 3, log[-3000:])
        self.assertEqual([w["healthy"] for w in router.workers()], [True, True])
        refused = metric_value(router.metrics(), "radixmesh_client_connections_refused_total",
                               'reason="accept_error"')
        self.assertGreater(refused, 0)


if __name__ == "__main__":
    unittest.main()
