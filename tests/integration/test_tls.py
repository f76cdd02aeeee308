"""Data-plane TLS and https:// workers (issue 18 item 1), with real processes
on loopback and certificates made at test time with the openssl CLI:

- curl and Python's ssl module against the TLS port: chat (plain and
  streamed), ALPN http/1.1, a client trusting another CA refused, plain HTTP
  answered 400 tls_required, a silent handshake closed at its deadline;
- rotation without restart: files replaced (new CA and serial) and picked up
  by the poll, the same by SIGHUP, a bad new pair keeps the old one serving;
- upstream https: a sim worker behind a TLS front works (with pooled
  keep-alive connections), an untrusted worker certificate fails cleanly
  (502, counted) while the router keeps serving.

Every loop is bounded in count and time.
"""
import http.client
import json
import signal
import socket
import ssl
import subprocess
import time
import unittest

import harness
import router_util
import tls_util


def metric_value(text, name, labels=""):
    key = name + (("{" + labels + "}") if labels else "")
    for line in text.splitlines():
        if line.startswith(key + " "):
            return float(line.rsplit(" ", 1)[1])
    return None


def https_request(port, ca_file, method, path, body=None, timeout=10.0):
    """(status, headers, body bytes, negotiated ALPN) over TLS."""
    ctx = tls_util.client_context(ca_file, alpn=("h2", "http/1.1"))
    conn = http.client.HTTPSConnection(harness.HOST, port, timeout=timeout, context=ctx)
    # Verify against the name in the certificate, connect to loopback.
    conn.host = "localhost"
    conn._create_connection = lambda addr, *a, **k: socket.create_connection(
        (harness.HOST, port), timeout=timeout)
    try:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if data else {}
        conn.request(method, path, body=data, headers=headers)
        alpn = conn.sock.selected_alpn_protocol()
        res = conn.getresponse()
        return res.status, dict(res.getheaders()), res.read(), alpn
    finally:
        conn.close()


CHAT = router_util.chat_body([{"role": "user", "content": "hello over tls"}], max_tokens=4)


class TlsCase(harness.Cleanup, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.certs = tls_util.Certs()
        cls.ca1 = cls.certs.ca("ca1")
        cls.ca2 = cls.certs.ca("ca2")
        cls.certs.issue("s1", "ca1", 0x1001)
        cls.certs.issue("s2", "ca1", 0x1002)
        cls.certs.issue("other", "ca2", 0x2001)

    @classmethod
    def tearDownClass(cls):
        cls.certs.cleanup()

    def start_tls_router(self, worker_urls, *flags, cert="s1", ready=True):
        """A router whose data port speaks TLS with `cert` installed as live.*"""
        self.certs.install(cert, "live")
        port, admin = harness.free_port(), harness.free_port()
        args = [harness.binary(router_util.ROUTER), "--host", harness.HOST, "--port", port,
                "--admin-port", admin, "--threads", "2", "--health-interval-ms", "200",
                "--expose-worker-address",
                "--tls-cert-file", self.certs.path("live.pem"),
                "--tls-key-file", self.certs.path("live.key")]
        for url in worker_urls:
            args += ["--worker", url]
        proc = self.spawn(args + list(flags), "router-tls")
        harness.wait_http_ok(admin, path="/metrics", proc=proc)
        if ready:
            harness.wait_until(
                lambda: https_request(port, self.ca1, "GET", "/readiness")[0] == 200,
                timeout=10, what="readiness over TLS")
        return port, admin, proc

    def metrics(self, admin):
        return harness.request(admin, "GET", "/metrics")[2].decode()


class DataPlaneTls(TlsCase):
    def setUp(self):
        self.sims = router_util.start_sims(self, 1)
        self.urls = [f"http://{harness.HOST}:{p}" for p, _, _ in self.sims]

    def test_requests_alpn_and_curl(self):
        port, admin, _ = self.start_tls_router(self.urls)
        status, headers, body, alpn = https_request(port, self.ca1, "POST",
                                                    "/v1/chat/completions", CHAT)
        self.assertEqual(status, 200, body)
        self.assertEqual(alpn, "http/1.1")
        self.assertEqual(json.loads(body)["object"], "chat.completion")
        # Streamed: SSE events through the TLS connection, ending in [DONE].
        stream_body = dict(CHAT, stream=True)
        status, headers, body, _ = https_request(port, self.ca1, "POST",
                                                 "/v1/chat/completions", stream_body)
        self.assertEqual(status, 200)
        self.assertIn("text/event-stream", headers.get("Content-Type", ""))
        events = [ln for ln in body.decode().splitlines() if ln.startswith("data: ")]
        self.assertGreaterEqual(len(events), 2)
        self.assertEqual(events[-1], "data: [DONE]")
        # curl: trusts CA 1, resolves localhost to loopback, HTTP/1.1 over ALPN.
        out = subprocess.run(
            ["curl", "-sS", "--max-time", "10", "--cacert", self.ca1,
             "--resolve", f"localhost:{port}:{harness.HOST}", "-o", "/dev/null",
             "-w", "%{http_code} %{http_version}", "-H", "Content-Type: application/json",
             "-d", json.dumps(CHAT), f"https://localhost:{port}/v1/chat/completions"],
            capture_output=True, text=True, timeout=20)
        self.assertEqual(out.stdout, "200 1.1", out.stderr)
        m = self.metrics(admin)
        self.assertGreaterEqual(metric_value(m, "radixmesh_tls_handshakes_total"), 3)

    def test_other_ca_refused_and_counted(self):
        port, admin, _ = self.start_tls_router(self.urls)
        with self.assertRaises(ssl.SSLCertVerificationError):
            https_request(port, self.ca2, "GET", "/health")
        out = subprocess.run(
            ["curl", "-sS", "--max-time", "10", "--cacert", self.ca2,
             "--resolve", f"localhost:{port}:{harness.HOST}", f"https://localhost:{port}/health"],
            capture_output=True, text=True, timeout=20)
        self.assertEqual(out.returncode, 60, out.stderr)  # peer certificate not verified
        harness.wait_until(
            lambda: (metric_value(self.metrics(admin), "radixmesh_tls_handshake_failures_total",
                                  'reason="certificate_rejected"') or 0) >= 2,
            timeout=5, what="certificate_rejected counted twice")
        # Still serving the clients that trust it.
        self.assertEqual(https_request(port, self.ca1, "GET", "/health")[0], 200)

    def test_plain_http_gets_400_tls_required(self):
        port, admin, _ = self.start_tls_router(self.urls)
        with socket.create_connection((harness.HOST, port), timeout=5) as s:
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            data = b""
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 400 "), data)
        self.assertIn(b"Connection: close", head)
        self.assertEqual(json.loads(body)["error"]["code"], "tls_required")
        # curl speaking http:// to it gets the same answer.
        out = subprocess.run(["curl", "-sS", "--max-time", "5", f"http://{harness.HOST}:{port}/v1/models"],
                             capture_output=True, text=True, timeout=10)
        self.assertEqual(json.loads(out.stdout)["error"]["code"], "tls_required")
        self.assertEqual(metric_value(self.metrics(admin), "radixmesh_tls_handshake_failures_total",
                                      'reason="plain_http"'), 2)

    def test_unfinished_handshake_closed_at_deadline(self):
        port, admin, _ = self.start_tls_router(self.urls, "--client-header-timeout-ms", "400")
        with socket.create_connection((harness.HOST, port), timeout=5) as s:
            s.sendall(b"\x16\x03\x01\x00")  # the start of a ClientHello, never finished
            started = time.monotonic()
            self.assertEqual(s.recv(1024), b"")  # closed by the router
            waited = time.monotonic() - started
        self.assertLess(waited, 3.0)
        self.assertGreater(waited, 0.2)
        self.assertEqual(metric_value(self.metrics(admin), "radixmesh_tls_handshake_failures_total",
                                      'reason="timeout"'), 1)
        self.assertEqual(https_request(port, self.ca1, "GET", "/health")[0], 200)

    def test_over_the_connection_cap_closed_without_a_plain_answer(self):
        port, admin, _ = self.start_tls_router(self.urls, "--max-connections", "1", ready=False)
        held = tls_socket(port, self.ca1)
        self.addCleanup(held.close)
        with socket.create_connection((harness.HOST, port), timeout=5) as s:
            self.assertEqual(s.recv(1024), b"")  # closed: no plain-text 503 to a TLS client
        self.assertEqual(metric_value(self.metrics(admin),
                                      "radixmesh_client_connections_refused_total",
                                      'reason="max_connections"'), 1)
        held.sendall(b"GET /health HTTP/1.1\r\nHost: r\r\n\r\n")
        self.assertIn(b" 200 ", held.recv(4096))

    def test_shutdown_closes_a_connection_in_its_handshake(self):
        port, admin, proc = self.start_tls_router(self.urls, "--shutdown-grace-ms", "0",
                                                  "--client-header-timeout-ms", "30000")
        with socket.create_connection((harness.HOST, port), timeout=10) as s:
            s.sendall(b"\x16\x03\x01\x00")  # a handshake that never finishes
            time.sleep(0.2)
            started = time.monotonic()
            code = proc.stop(timeout=8)
            took = time.monotonic() - started
        log = proc.log_path.read_text(errors="replace")
        self.assertEqual(code, 0, log[-2000:])
        self.assertLess(took, 4.0)  # not the 30 s handshake deadline
        self.assertNotIn("did not stop in time", log)

    def test_rotation_by_file_change(self):
        port, admin, _ = self.start_tls_router(self.urls, "--tls-reload-interval-ms", "200")
        self.assertEqual(tls_util.served_serial(port, self.ca1), 0x1001)
        # A new CA and serial: clients trusting only CA 2 get in once it is loaded.
        self.certs.install("other", "live")
        harness.wait_until(lambda: tls_util.served_serial(port, self.ca2) == 0x2001,
                           timeout=5, what="the new certificate served")
        self.assertEqual(metric_value(self.metrics(admin), "radixmesh_tls_reload_total",
                                      'result="ok"'), 1)
        status, _, _, _ = https_request(port, self.ca2, "POST", "/v1/chat/completions", CHAT)
        self.assertEqual(status, 200)

    def test_rotation_by_sighup(self):
        port, admin, proc = self.start_tls_router(self.urls,
                                                  "--tls-reload-interval-ms", "3600000")
        self.certs.install("s2", "live")
        time.sleep(0.5)
        self.assertEqual(tls_util.served_serial(port, self.ca1), 0x1001)  # no poll yet
        proc.signal(signal.SIGHUP)
        harness.wait_until(lambda: tls_util.served_serial(port, self.ca1) == 0x1002,
                           timeout=5, what="the new certificate served after SIGHUP")
        self.assertTrue(proc.alive())
        self.assertEqual(metric_value(self.metrics(admin), "radixmesh_tls_reload_total",
                                      'result="ok"'), 1)

    def test_bad_new_pair_keeps_the_old_one(self):
        port, admin, proc = self.start_tls_router(self.urls, "--tls-reload-interval-ms", "200")
        # A key that does not match, then a certificate that is not PEM.
        with open(self.certs.path("other.key"), "rb") as src:
            data = src.read()
        with open(self.certs.path("live.key.tmp"), "wb") as dst:
            dst.write(data)
        import os
        os.replace(self.certs.path("live.key.tmp"), self.certs.path("live.key"))
        harness.wait_until(
            lambda: (metric_value(self.metrics(admin), "radixmesh_tls_reload_total",
                                  'result="error"') or 0) >= 1,
            timeout=5, what="the failed reload counted")
        self.assertEqual(tls_util.served_serial(port, self.ca1), 0x1001)
        self.assertEqual(https_request(port, self.ca1, "POST", "/v1/chat/completions", CHAT)[0],
                         200)
        proc.signal(signal.SIGHUP)  # forced: fails again, still serving
        harness.wait_until(
            lambda: (metric_value(self.metrics(admin), "radixmesh_tls_reload_total",
                                  'result="error"') or 0) >= 2,
            timeout=5, what="the forced reload's failure counted")
        self.assertEqual(tls_util.served_serial(port, self.ca1), 0x1001)
        self.assertIn("previous certificate stays in use", proc.output())

    def test_start_refused_with_a_mismatched_pair(self):
        args = [harness.binary(router_util.ROUTER), "--host", harness.HOST,
                "--port", harness.free_port(), "--admin-port", harness.free_port(),
                "--tls-cert-file", self.certs.path("s1.pem"),
                "--tls-key-file", self.certs.path("other.key")]
        args = [str(a) for a in args]
        out = subprocess.run(args, capture_output=True, text=True, timeout=10)
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("does not match", out.stdout + out.stderr)
        out = subprocess.run(args[:-2], capture_output=True, text=True, timeout=10)
        self.assertIn("needs --tls-key-file", out.stdout + out.stderr)


def tls_socket(port, ca_file):
    raw = socket.create_connection((harness.HOST, port), timeout=10)
    return tls_util.client_context(ca_file).wrap_socket(raw, server_hostname="localhost")


def raw_chat(body):
    data = json.dumps(body).encode()
    return (b"POST /v1/chat/completions HTTP/1.1\r\nHost: r\r\n"
            b"Content-Type: application/json\r\nContent-Length: "
            + str(len(data)).encode() + b"\r\n\r\n" + data)


class ClientLeavesOverTls(TlsCase):
    """The router notices a TLS client leaving while its request waits for
    the worker or for an admission slot: by EOF, or by its close_notify."""

    def test_leaving_before_the_first_byte_cancels_upstream(self):
        sims = router_util.start_sims(self, 1, "--prefill-us-per-token", "20000",
                                      "--decode-us-per-token", "0")
        sim_port = sims[0][0]
        port, _, _ = self.start_tls_router([f"http://{harness.HOST}:{sim_port}"])
        body = router_util.chat_body([{"role": "user", "content": "x" * 4000}], max_tokens=5)
        for n, polite in enumerate((True, False), start=1):
            s = tls_socket(port, self.ca1)
            s.sendall(raw_chat(body))
            harness.wait_until(
                lambda: router_util.sim_metrics(sim_port).get("sim_in_flight", 0) >= 1,
                timeout=5, what="the request reached the worker")
            if polite:
                s = s.unwrap()  # close_notify first, then the TCP close
            s.close()
            harness.wait_until(
                lambda: router_util.sim_metrics(sim_port).get("sim_cancelled_total") == n,
                timeout=5, what=f"upstream cancellation {n} counted by the worker")
        self.assertEqual(https_request(port, self.ca1, "POST", "/v1/chat/completions", CHAT)[0],
                         200)

    def test_leaving_while_queued_frees_the_place(self):
        sims = router_util.start_sims(self, 1, "--prefill-us-per-token", "0",
                                      "--decode-us-per-token", "200000")
        sim_port = sims[0][0]
        port, admin, _ = self.start_tls_router([f"http://{harness.HOST}:{sim_port}"],
                                               "--max-in-flight-per-worker", "1")
        slow = router_util.chat_body([{"role": "user", "content": "hold the slot"}],
                                     max_tokens=30, stream=True)
        holder = tls_socket(port, self.ca1)
        self.addCleanup(holder.close)
        holder.sendall(raw_chat(slow))
        self.assertIn(b" 200 ", holder.recv(4096))  # streaming: the slot is taken
        waiter = tls_socket(port, self.ca1)
        waiter.sendall(raw_chat(CHAT))

        def depth():
            return metric_value(self.metrics(admin), "radixmesh_admission_queue_depth") or 0
        harness.wait_until(lambda: depth() == 1, timeout=5, what="the second request queued")
        waiter = waiter.unwrap()  # close_notify, TCP still open for a moment
        time.sleep(0.2)
        self.assertEqual(depth(), 0)
        waiter.close()
        self.assertEqual(metric_value(self.metrics(admin), "radixmesh_admission_rejected_total",
                                      'reason="client_gone"'), 1)


class UpstreamTls(TlsCase):
    def test_https_worker_pooled(self):
        sims = router_util.start_sims(self, 1)
        front = tls_util.TlsFront(sims[0][0], self.certs.path("s1.pem"), self.certs.path("s1.key"))
        self.addCleanup(front.close)
        url = f"https://localhost:{front.port}"
        port, admin, _ = self.start_tls_router(
            [url], "--upstream-ca-file", self.ca1, "--metrics-interval-ms", "0",
            "--health-interval-ms", "60000", "--threads", "1")  # one thread: one pool
        before = front.accepted
        for i in range(5):
            status, headers, body, _ = https_request(port, self.ca1, "POST",
                                                     "/v1/chat/completions", CHAT)
            self.assertEqual(status, 200, body)
            self.assertEqual(headers.get("x-radixmesh-worker"), url)
        stream_body = dict(CHAT, stream=True)
        status, _, body, _ = https_request(port, self.ca1, "POST", "/v1/chat/completions",
                                           stream_body)
        self.assertEqual(status, 200)
        self.assertTrue(body.decode().rstrip().endswith("data: [DONE]"))
        # Six requests, one upstream connection: keep-alive over TLS.
        self.assertEqual(front.accepted - before, 1)

    def test_load_poller_speaks_https_and_keeps_its_connection(self):
        sims = router_util.start_sims(self, 1)
        front = tls_util.TlsFront(sims[0][0], self.certs.path("s1.pem"), self.certs.path("s1.key"))
        self.addCleanup(front.close)
        url = f"https://localhost:{front.port}"
        port, admin, _ = self.start_tls_router(
            [url], "--upstream-ca-file", self.ca1, "--metrics-interval-ms", "100",
            "--health-interval-ms", "60000")

        def scrapes():
            return metric_value(self.metrics(admin), "radixmesh_worker_load_scrapes_total",
                                f'worker="{url}",result="ok"') or 0
        harness.wait_until(lambda: scrapes() >= 10, timeout=15, what="10 load scrapes over TLS")
        self.assertIsNotNone(metric_value(self.metrics(admin), "radixmesh_worker_reported_waiting",
                                          f'worker="{url}"'))
        # Keep-alive: the poller's scrapes reuse their connection (plus the
        # health checker's two at start-up). A scrape that outlives its
        # 200 ms bound on a loaded machine closes it, so allow a few new
        # ones; without keep-alive there would be one per scrape (12+).
        self.assertLessEqual(front.accepted, 5)

    def test_insecure_flag_accepts_an_unverifiable_worker(self):
        sims = router_util.start_sims(self, 1)
        front = tls_util.TlsFront(sims[0][0], self.certs.path("other.pem"),
                                  self.certs.path("other.key"))
        self.addCleanup(front.close)
        url = f"https://localhost:{front.port}"
        port, admin, proc = self.start_tls_router([url], "--upstream-tls-insecure",
                                                  "--metrics-interval-ms", "0")
        status, headers, body, _ = https_request(port, self.ca1, "POST",
                                                 "/v1/chat/completions", CHAT)
        self.assertEqual(status, 200, body)
        self.assertIn("https:// workers are not verified", proc.output())

    def test_untrusted_worker_fails_cleanly(self):
        sims = router_util.start_sims(self, 2)
        good = tls_util.TlsFront(sims[0][0], self.certs.path("s1.pem"), self.certs.path("s1.key"))
        self.addCleanup(good.close)
        bad = tls_util.TlsFront(sims[1][0], self.certs.path("s2.pem"), self.certs.path("s2.key"))
        self.addCleanup(bad.close)
        good_url = f"https://localhost:{good.port}"
        bad_url = f"https://localhost:{bad.port}"
        port, admin, proc = self.start_tls_router(
            [good_url, bad_url], "--upstream-ca-file", self.ca1, "--metrics-interval-ms", "0",
            "--health-interval-ms", "60000", "--max-retries", "0", "--policy", "round_robin")
        harness.wait_until(
            lambda: json.loads(harness.request(admin, "GET", "/admin/workers")[2]) and all(
                w.get("healthy") for w in json.loads(harness.request(admin, "GET",
                                                                     "/admin/workers")[2])
                ["workers"]),
            timeout=10, what="both workers healthy")
        # The bad worker's certificate now comes from another CA; its open
        # connections are dropped, so the next exchange must handshake again.
        bad.set_cert(self.certs.path("other.pem"), self.certs.path("other.key"))
        statuses = []
        for _ in range(6):
            status, _, body, _ = https_request(port, self.ca1, "POST", "/v1/chat/completions",
                                               CHAT)
            statuses.append(status)
            if status != 200:
                self.assertEqual(status, 502, body)
                self.assertEqual(json.loads(body)["error"]["code"], "upstream_failure")
        self.assertIn(502, statuses)
        self.assertIn(200, statuses)
        self.assertGreaterEqual(bad.handshake_failures, 1)
        m = self.metrics(admin)
        self.assertGreaterEqual(metric_value(m, "radixmesh_upstream_errors_total",
                                             f'worker="{bad_url}",kind="tls_handshake"') or 0, 1)
        self.assertIsNone(metric_value(m, "radixmesh_upstream_errors_total",
                                       f'worker="{good_url}",kind="tls_handshake"'))
        self.assertTrue(proc.alive())
        self.assertEqual(https_request(port, self.ca1, "GET", "/health")[0], 200)


if __name__ == "__main__":
    unittest.main()
