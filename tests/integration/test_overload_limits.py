"""Overload and hostile-client limits of the data plane, with real processes
on loopback: the connection cap under a low open-files limit (issue 17 item 2),
clients that never read their streams (item 3), and the response caps and
header hygiene of item 14.

Every loop is bounded in count and time.
"""
import http.client
import http.server
import json
import socket
import threading
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


STALLER = "127.0.0.2"  # loopback source address of the clients that never read


def open_stalled_stream(port, max_tokens=16000, source=STALLER):
    """Sends a streaming chat request from `source` with a tiny receive buffer
    and never reads the response. Returns the socket (close it to end)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
    s.bind((source, 0))
    s.settimeout(5)
    s.connect((harness.HOST, port))
    body = json.dumps(router_util.chat_body([{"role": "user", "content": "stall"}],
                                            max_tokens=max_tokens, stream=True)).encode()
    s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
              b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
              + body)
    return s


def chat_from(port, source, timeout=30):
    """A non-streaming chat request from a given loopback source address;
    returns (status, headers, parsed body)."""
    conn = http.client.HTTPConnection(harness.HOST, port, timeout=timeout,
                                      source_address=(source, 0))
    try:
        body = json.dumps(router_util.chat_body([{"role": "user", "content": "hello"}]))
        conn.request("POST", "/v1/chat/completions", body=body,
                     headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        data = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, json.loads(data)
    finally:
        conn.close()


class NeverReadingClientsTest(harness.Cleanup, unittest.TestCase):
    """Issue 17 item 3: ~200 streaming clients that never read held every
    pooled upstream connection; every other request waited 3 x the connect
    timeout for 503 upstream_pool_exhausted while /readiness stayed 200."""

    SIM_FLAGS = ("--decode-us-per-token", "20", "--max-tokens-limit", "16384",
                 "--concurrency", "64")

    def pool_in_use(self, router):
        return metric_value(router.metrics(), "radixmesh_upstream_pool_in_use",
                            f'worker="http://127.0.0.1:{self.sim_port}"')

    def test_stalled_streams_fail_fast_then_are_cut_and_free_the_pool(self):
        sims = router_util.start_sims(self, 1, *self.SIM_FLAGS)
        self.sim_port = sims[0][0]
        # Pool of 4 (2 per io thread); a connect timeout that a pool wait
        # tied to it would make visible (the old wait was the connect timeout).
        router = RouterProcess(self, sims, "--pool-size", "4", "--pool-wait-ms", "100",
                               "--connect-timeout-ms", "5000",
                               "--client-stall-timeout-ms", "2000",
                               "--max-requests-per-client", "0")
        stalled = [open_stalled_stream(router.port) for _ in range(4)]
        try:
            harness.wait_until(lambda: self.pool_in_use(router) == 4, timeout=10,
                               what="the stalled streams to hold the whole pool")
            # Saturation is visible: metric and readiness.
            text = router.metrics()
            self.assertEqual(metric_value(text, "radixmesh_upstream_pool_limit",
                                          f'worker="http://127.0.0.1:{self.sim_port}"'), 4)
            status, hdrs, data = harness.request(router.port, "GET", "/readiness")
            self.assertEqual(status, 503)
            self.assertEqual(json.loads(data)["error"]["code"], "upstream_pool_exhausted")
            self.assertEqual(hdrs.get("retry-after"), "1")

            # Another client is answered at once (bounded pool wait), not after
            # the 5 s connect timeout: 503 with Retry-After.
            started = time.monotonic()
            status, hdrs, body = chat_from(router.port, harness.HOST)
            waited = time.monotonic() - started
            self.assertEqual(status, 503, body)
            self.assertEqual(body["error"]["code"], "upstream_pool_exhausted")
            self.assertEqual(hdrs.get("retry-after"), "1")
            self.assertLess(waited, 2.5)

            # The stall deadline cuts the streams and frees their connections.
            harness.wait_until(
                lambda: metric_value(router.metrics(), "radixmesh_stream_aborts_total",
                                     'reason="client_stall"') == 4,
                timeout=15, what="the four stalled streams to be cut")
            status, _, body = chat_from(router.port, harness.HOST)
            self.assertEqual(status, 200, body)
            router_util.wait_status(router.port, "/readiness", 200)
        finally:
            for s in stalled:
                s.close()
        # Cut for the client's sake, not the worker's: it stays healthy.
        self.assertEqual([w["healthy"] for w in router.workers()], [True])
        self.assertNotIn("is unhealthy", router.proc.output())

    def test_per_address_cap_answers_429_and_serves_other_addresses(self):
        sims = router_util.start_sims(self, 1, *self.SIM_FLAGS)
        self.sim_port = sims[0][0]
        router = RouterProcess(self, sims, "--pool-size", "16",
                               "--max-requests-per-client", "2",
                               "--client-stall-timeout-ms", "60000")
        stalled = [open_stalled_stream(router.port) for _ in range(2)]
        try:
            harness.wait_until(lambda: self.pool_in_use(router) == 2, timeout=10,
                               what="two streams in flight from the stalling address")
            status, hdrs, body = chat_from(router.port, STALLER)
            self.assertEqual(status, 429, body)
            self.assertEqual(body["error"]["code"], "too_many_requests_per_client")
            self.assertEqual(hdrs.get("retry-after"), "1")
            # Another address is not affected.
            status, _, body = chat_from(router.port, harness.HOST)
            self.assertEqual(status, 200, body)
            self.assertEqual(metric_value(router.metrics(),
                                          "radixmesh_client_requests_limited_total"), 1)
        finally:
            for s in stalled:
                s.close()
        # Closed streams give their slots back: the address is served again.
        def served():
            return chat_from(router.port, STALLER)[0] == 200
        harness.wait_until(served, timeout=10, what="the stalling address served again")


class FakeWorker:
    """A worker written for these tests: echoes the request headers it got,
    drips a response one byte every 100 ms ("drip" in the prompt), or sends
    1 MB at once ("big"). /v1/models is 404 (takes any model)."""

    def __init__(self, test):
        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                status, body = (200, b'{"status":"ok"}') if self.path == "/health" else (404, b"{}")
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                try:
                    if b"drip" in body:
                        self.send_response(200)
                        self.send_header("Content-Length", "600")
                        self.end_headers()
                        for _ in range(600):  # 60 s if nobody cuts it
                            self.wfile.write(b"x")
                            self.wfile.flush()
                            time.sleep(0.1)
                        return
                    if b"big" in body:
                        self.send_response(200)
                        self.send_header("Content-Length", str(1 << 20))
                        self.end_headers()
                        self.wfile.write(b"y" * (1 << 20))
                        return
                    echo = json.dumps({"headers": [[k.lower(), v]
                                                   for k, v in self.headers.items()]}).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(echo)))
                    self.end_headers()
                    self.wfile.write(echo)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.server = http.server.ThreadingHTTPServer((harness.HOST, 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://{harness.HOST}:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        test.addCleanup(self.server.server_close)
        test.addCleanup(self.server.shutdown)


def post_raw(port, body, headers=None, timeout=30):
    """POST raw bytes to /v1/chat/completions; returns (status, headers, body,
    complete): complete is False when the router cut the body off."""
    conn = http.client.HTTPConnection(harness.HOST, port, timeout=timeout)
    try:
        conn.request("POST", "/v1/chat/completions", body=body,
                     headers=dict({"Content-Type": "application/json"}, **(headers or {})))
        r = conn.getresponse()
        hdrs = {k.lower(): v for k, v in r.getheaders()}
        try:
            return r.status, hdrs, r.read(), True
        except http.client.IncompleteRead as e:
            return r.status, hdrs, e.partial, False
    finally:
        conn.close()


def prompt(text):
    return json.dumps(router_util.chat_body([{"role": "user", "content": text}])).encode()


class ResponseCapsAndHeadersTest(harness.Cleanup, unittest.TestCase):
    """Issue 17 item 14: worker addresses exposed to every client, no
    X-Forwarded-For added, no cap on a response's duration or size, and the
    sim worker resolving duplicate JSON keys unlike the engines."""

    def start_router(self, worker_url, *flags):
        port = harness.free_port()
        self.admin_port = harness.free_port()
        args = [harness.binary(router_util.ROUTER), "--host", harness.HOST, "--port", port,
                "--admin-port", self.admin_port, "--threads", "2",
                "--health-interval-ms", "200", "--worker", worker_url]
        proc = self.spawn(args + list(flags), "router")
        harness.wait_http_ok(port, path="/readiness", proc=proc)
        return port, proc

    def aborts(self, reason):
        _, _, data = harness.request(self.admin_port, "GET", "/metrics")
        return metric_value(data.decode(), "radixmesh_stream_aborts_total", f'reason="{reason}"')

    def test_worker_address_hidden_by_default_and_forwarded_for_added(self):
        worker = FakeWorker(self)
        port, _ = self.start_router(worker.url)
        status, hdrs, body, _ = post_raw(port, prompt("echo"),
                                         headers={"X-Forwarded-For": "203.0.113.7"})
        self.assertEqual(status, 200)
        self.assertNotIn("x-radixmesh-worker", hdrs)
        seen = dict(json.loads(body)["headers"])
        self.assertEqual(seen["x-forwarded-for"], "203.0.113.7, 127.0.0.1")
        self.assertEqual(seen["x-forwarded-proto"], "http")

        # The worker goes away before the router notices: the error names no address.
        worker.server.shutdown()
        worker.server.server_close()
        status, hdrs, body, _ = post_raw(port, prompt("echo"))
        self.assertGreaterEqual(status, 500)
        self.assertNotIn(str(worker.port).encode(), body)
        self.assertNotIn(b"127.0.0.1", body)

    def test_exposed_worker_address_on_request(self):
        worker = FakeWorker(self)
        port, _ = self.start_router(worker.url, "--expose-worker-address",
                                    "--forwarded-headers=false")
        status, hdrs, body, _ = post_raw(port, prompt("echo"),
                                         headers={"X-Forwarded-For": "203.0.113.7"})
        self.assertEqual(status, 200)
        self.assertEqual(hdrs["x-radixmesh-worker"], worker.url)
        seen = dict(json.loads(body)["headers"])
        self.assertEqual(seen["x-forwarded-for"], "203.0.113.7")  # passed through only
        self.assertNotIn("x-forwarded-proto", seen)

    def test_dripping_worker_is_cut_at_max_stream_duration(self):
        worker = FakeWorker(self)
        port, proc = self.start_router(worker.url, "--max-stream-duration-ms", "1500")
        started = time.monotonic()
        status, _, partial, complete = post_raw(port, prompt("drip"))
        elapsed = time.monotonic() - started
        self.assertEqual(status, 200)
        self.assertFalse(complete)
        self.assertLess(len(partial), 600)
        self.assertLess(elapsed, 30)  # the drip alone would last 60 s
        self.assertEqual(self.aborts("max_duration"), 1)
        # A router limit, not the worker's fault: it still serves.
        status, _, _, complete = post_raw(port, prompt("echo"))
        self.assertEqual((status, complete), (200, True))

    def test_response_over_max_response_bytes_is_cut(self):
        worker = FakeWorker(self)
        port, _ = self.start_router(worker.url, "--max-response-bytes", "100000")
        status, _, partial, complete = post_raw(port, prompt("big"))
        self.assertEqual(status, 200)
        self.assertFalse(complete)
        self.assertLessEqual(len(partial), 100000)
        self.assertEqual(self.aborts("max_response_bytes"), 1)
        status, _, _, complete = post_raw(port, prompt("echo"))
        self.assertEqual((status, complete), (200, True))

    def test_duplicate_json_keys_resolve_to_the_last_in_router_and_sim(self):
        sims = router_util.start_sims(self, 1)
        port, _ = router_util.start_router(self, sims)
        # The router routes by the last "model"; the sim must serve the same
        # one and read the last "max_tokens".
        body = (b'{"model": "not-served", "max_tokens": 1, '
                b'"messages": [{"role": "user", "content": "dup"}], '
                b'"model": "sim-model", "max_tokens": 3}')
        status, _, data, _ = post_raw(port, body)
        self.assertEqual(status, 200, data)
        reply = json.loads(data)
        self.assertEqual(reply["model"], "sim-model")
        self.assertEqual(reply["usage"]["completion_tokens"], 3)


if __name__ == "__main__":
    unittest.main()
