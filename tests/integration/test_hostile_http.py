"""Hostile clients on the data plane, with real processes on loopback (one
router over simulated workers). Each test pins one row of the "Hostile
inputs" table in docs/reliability.md: what the router answers, and that it
keeps serving afterwards. Every loop is bounded in count and time.
"""
import http.client
import json
import socket
import time
import unittest

import harness
import router_util as ru


def error_code(data):
    try:
        return json.loads(data)["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None


def read_until_close(s, timeout=5.0):
    """Everything the peer sends until it closes (or timeout); returns (bytes, closed)."""
    s.settimeout(timeout)
    out = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            return out, False
        except OSError:
            return out, True
        if not chunk:
            return out, True
        out += chunk
    return out, False


def status_of(reply):
    line = reply.split(b"\r\n", 1)[0]
    parts = line.split(b" ")
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None


def body_of(reply):
    return reply.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in reply else b""


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    raise RuntimeError("no VmRSS")


def metric(text, name):
    """The value of an unlabelled sample in Prometheus text."""
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


def chat_bytes(size):
    """A valid chat body of exactly `size` bytes."""
    head = b'{"model":"sim-model","max_tokens":1,"messages":[{"role":"user","content":"'
    tail = b'"}]}'
    return head + b"x" * (size - len(head) - len(tail)) + tail


def post_head(length, path="/v1/chat/completions", extra=b""):
    return (b"POST " + path.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + extra + b"Content-Length: " + str(length).encode() + b"\r\n\r\n")


class HostileHttpTest(harness.Cleanup, unittest.TestCase):
    def start(self, *flags, sims=1):
        self.sims = ru.start_sims(self, sims, "--prefill-us-per-token", "0",
                                  "--decode-us-per-token", "0")
        self.admin_port = harness.free_port()
        self.port, self.router = ru.start_router(self, self.sims, "--admin-host", harness.HOST,
                                                 "--admin-port", self.admin_port, *flags)
        return self.port

    def metrics(self):
        status, _, data = harness.request(self.admin_port, "GET", "/metrics")
        self.assertEqual(status, 200)
        return data.decode()

    def body_bytes_held(self):
        return metric(self.metrics(), "radixmesh_request_body_bytes")

    def assert_still_serving(self):
        s, _, b = ru.chat(self.port, [{"role": "user", "content": "still there?"}])
        self.assertEqual(s, 200, b)
        self.assertTrue(self.router.alive())

    def exchange(self, payload, timeout=5.0):
        """Sends payload on a new connection; returns (reply bytes, closed by the router)."""
        with socket.create_connection((harness.HOST, self.port), timeout=timeout) as s:
            s.sendall(payload)
            return read_until_close(s, timeout)

    # Item: deep JSON nesting is a malformed body (400), not a large one (413).
    def test_deeply_nested_json_is_400_not_413(self):
        self.start()
        for depth in (100, 100000):
            body = (b'{"model":"sim-model","messages":[{"role":"user","content":"x"}],"x":' +
                    b"[" * depth + b"]" * depth + b"}")
            status, _, data = harness.request(self.port, "POST", "/v1/chat/completions",
                                              body=body,
                                              headers={"Content-Type": "application/json"})
            with self.subTest(depth=depth):
                self.assertEqual(status, 400, data[:300])
                self.assertEqual(error_code(data), "invalid_request", data[:300])
                self.assertIn(b"nesting", data)
        self.assert_still_serving()

    # Item: a Content-Length header alone must not commit the declared body.
    def test_declared_content_length_alone_commits_no_memory(self):
        self.start()
        pid = self.router.p.pid
        self.assert_still_serving()
        before = rss_mib(pid)
        socks = []
        try:
            for _ in range(100):  # the attack: 75 bytes each, 8,388,000 declared
                s = socket.create_connection((harness.HOST, self.port), timeout=5)
                socks.append(s)
                s.sendall(post_head(8388000) + b"{")
            # Every header read and its body begun: each holds its first
            # storage step only (16 KiB), not 8 MB.
            harness.wait_until(lambda: self.body_bytes_held() >= 100 * 16 * 1024, timeout=10,
                               what="100 bodies begun")
            held = self.body_bytes_held()
            peak = max(rss_mib(pid) for _ in range(5) if time.sleep(0.1) is None)
            print(f"\n100 x Content-Length 8388000: RSS {before:.1f} -> {peak:.1f} MiB, "
                  f"body storage held {held / 1048576:.2f} MiB")
            self.assertLess(held, 100 * 64 * 1024, "at most 64 KiB of storage per begun body")
            self.assertLess(peak - before, 48, "RSS grew by the declared lengths (~800 MiB)")
            self.assert_still_serving()  # others are served meanwhile
        finally:
            for s in socks:
                s.close()
        harness.wait_until(lambda: self.body_bytes_held() == 0, timeout=10,
                           what="body storage given back on close")
        self.assert_still_serving()

    # Item: memory of large bodies goes back when their connections close.
    def test_body_memory_returns_after_close(self):
        self.start()
        pid = self.router.p.pid
        self.assert_still_serving()
        before = rss_mib(pid)
        length = 4 << 20
        socks = []
        try:
            for _ in range(12):  # 12 bodies of 4 MiB, all but the last byte sent
                s = socket.create_connection((harness.HOST, self.port), timeout=10)
                socks.append(s)
                s.sendall(post_head(length) + b"x" * (length - 1))
            harness.wait_until(lambda: self.body_bytes_held() >= 12 * length, timeout=20,
                               what="12 bodies of 4 MiB held")
            high = rss_mib(pid)
            self.assertGreater(high - before, 40, "the bodies really were held")
        finally:
            for s in socks:
                s.close()
        harness.wait_until(lambda: self.body_bytes_held() == 0, timeout=10,
                           what="body storage given back on close")
        after = harness.wait_until(lambda: (lambda r: r if r - before < 24 else None)(
            rss_mib(pid)), timeout=10, what="RSS back near its value before")
        print(f"\n12 x 4 MiB bodies held: RSS {before:.1f} -> {high:.1f} -> {after:.1f} MiB")
        self.assert_still_serving()

    # Item: the process-wide body budget answers 503 when spent, and counts it.
    def test_body_budget_spent_answers_503_then_recovers(self):
        limit = 1 << 20
        self.start("--max-body-bytes", limit, "--max-inflight-body-bytes", 2 * limit)
        full = chat_bytes(limit)
        with socket.create_connection((harness.HOST, self.port), timeout=10) as a:
            a.sendall(post_head(limit) + full[:-1])  # holds ~1 MiB, waits for its last byte
            harness.wait_until(lambda: self.body_bytes_held() >= limit, timeout=10,
                               what="first body held")
            with socket.create_connection((harness.HOST, self.port), timeout=10) as b:
                b.sendall(post_head(limit) + full)
                reply, closed = read_until_close(b)
            self.assertEqual(status_of(reply), 503, reply[:300])
            self.assertEqual(error_code(body_of(reply)), "request_body_budget_exhausted",
                             reply[:300])
            self.assertTrue(closed)
            a.sendall(full[-1:])  # the held request completes and is served
            reply = b""
            while b"}" not in reply.split(b"\r\n\r\n", 1)[-1]:
                chunk = a.recv(65536)
                if not chunk:
                    break
                reply += chunk
            self.assertEqual(status_of(reply), 200, reply[:300])
        text = self.metrics()
        self.assertEqual(metric(text, "radixmesh_request_body_budget_exhausted_total"), 1.0)
        self.assertEqual(metric(text, "radixmesh_request_body_budget_bytes"), 2.0 * limit)
        # The bodies are a pool of the memory broker (listed from its next tick on).
        harness.wait_until(
            lambda: 'radixmesh_memory_pool_bytes{pool="request_bodies"}' in self.metrics(),
            timeout=5, what="request_bodies in the broker's pools")
        status, _, data = harness.request(self.port, "POST", "/v1/chat/completions", body=full,
                                          headers={"Content-Type": "application/json"})
        self.assertEqual(status, 200, data[:300])  # budget free again

    def sim_requests(self):
        served = ru.sim_metrics(self.sims[0][0])
        return sum(v for k, v in served.items() if k.startswith("sim_requests_total"))

    # Item: Transfer-Encoding other than exactly "chunked" is refused before
    # the body is read (RFC 9112 6.1/6.3), so the body can never be read as
    # a second request.
    def test_transfer_encodings_other_than_chunked_are_refused(self):
        self.start()
        body = json.dumps(ru.chat_body([{"role": "user", "content": "smuggled?"}])).encode()
        chunked = b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n"
        smuggled = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
        cases = [
            (b"Transfer-Encoding: gzip, chunked\r\n", chunked, 501, "not_implemented"),
            (b"Transfer-Encoding: xchunked\r\n", smuggled, 400, "invalid_request"),
            (b"Transfer-Encoding: identity\r\n", smuggled, 400, "invalid_request"),
            (b"Transfer-Encoding: chunked, identity\r\n", smuggled, 400, "invalid_request"),
            (b"Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n", chunked, 501,
             "not_implemented"),
        ]
        for te, rest, want, code in cases:
            with self.subTest(te=te):
                t0 = time.monotonic()
                reply, closed = self.exchange(
                    b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
                    b"Content-Type: application/json\r\n" + te + b"\r\n" + rest)
                self.assertEqual(status_of(reply), want, reply[:300])
                self.assertEqual(error_code(body_of(reply)), code, reply[:300])
                self.assertTrue(closed, "the connection closes after a framing error")
                self.assertEqual(reply.count(b"HTTP/1.1 "), 1, "no second (smuggled) response")
                self.assertLess(time.monotonic() - t0, 4.0)
        # HTTP/1.0 with Transfer-Encoding: faulty framing.
        reply, closed = self.exchange(b"POST /v1/chat/completions HTTP/1.0\r\n"
                                      b"Transfer-Encoding: chunked\r\n\r\n" + chunked)
        self.assertEqual(status_of(reply), 400, reply[:300])
        self.assertEqual(self.sim_requests(), 0, "nothing was routed")
        # Exactly chunked still works.
        reply, _ = self.exchange(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
                                 b"Connection: close\r\nTransfer-Encoding: Chunked\r\n\r\n" +
                                 chunked)
        self.assertEqual(status_of(reply), 200, reply[:300])
        self.assert_still_serving()

    # Item: a chunk-size (or trailer) line ending in a bare LF is answered 400
    # at once, instead of waiting for a CRLF until the read deadline.
    def test_bare_lf_in_chunk_framing_is_400_at_once(self):
        self.start()
        head = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
                b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
        cases = [
            b"2\n{}\r\n0\r\n\r\n",           # chunk-size line
            b"2\r\n{}\r\n0\n\r\n",           # last-chunk line
            b"2\r\n{}\r\n0\r\nX-T: 1\n\r\n",  # trailer line
            b"2\r\n{}\n0\r\n\r\n",           # chunk data terminator
            b"2\n",                            # and nothing more: no wait for a CRLF
        ]
        for tail in cases:
            with self.subTest(tail=tail):
                t0 = time.monotonic()
                with socket.create_connection((harness.HOST, self.port), timeout=10) as s:
                    s.sendall(head + tail)  # the connection stays open on our side
                    reply, closed = read_until_close(s, timeout=8)
                elapsed = time.monotonic() - t0
                self.assertEqual(status_of(reply), 400, reply[:300])
                self.assertIn(b"malformed", body_of(reply))
                self.assertTrue(closed)
                self.assertLess(elapsed, 4.0, "answered at once, not at the read deadline")
        self.assertEqual(self.sim_requests(), 0)
        self.assert_still_serving()

    # Item: client deadlines are their own flags, not --idle-timeout-ms; a
    # late header or body gets 408 before the close, an idle connection is
    # closed silently, and none of them cuts a response in progress.
    def start_with_short_client_deadlines(self):
        self.sims = ru.start_sims(self, 1, "--prefill-us-per-token", "0",
                                  "--decode-us-per-token", "20000")  # 20 ms per token
        self.admin_port = harness.free_port()
        self.port, self.router = ru.start_router(
            self, self.sims, "--admin-host", harness.HOST, "--admin-port", self.admin_port,
            "--client-header-timeout-ms", "1000", "--client-body-timeout-ms", "1000",
            "--client-idle-timeout-ms", "1000", "--idle-timeout-ms", "60000")

    def test_slow_loris_header_gets_408_within_the_header_deadline(self):
        self.start_with_short_client_deadlines()
        with socket.create_connection((harness.HOST, self.port), timeout=10) as s:
            t0 = time.monotonic()
            s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n")
            reply = b""
            s.settimeout(0.2)
            for i in range(40):  # one header byte every 200 ms, for at most 8 s
                try:
                    s.sendall(b"X-Drip-%d: y\r\n" % i)
                except OSError:
                    break
                try:
                    chunk = s.recv(65536)
                except socket.timeout:
                    continue
                except OSError:
                    break
                if not chunk:
                    break
                reply += chunk
                if b"\r\n\r\n" in reply and b"}" in reply:
                    break
            elapsed = time.monotonic() - t0
        self.assertEqual(status_of(reply), 408, reply[:300])
        self.assertEqual(error_code(body_of(reply)), "request_timeout", reply[:300])
        self.assertLess(elapsed, 4.0, "408 at the 1 s header deadline, not --idle-timeout-ms")
        self.assertGreater(elapsed, 0.8)

    def test_late_body_gets_408_within_the_body_deadline(self):
        self.start_with_short_client_deadlines()
        with socket.create_connection((harness.HOST, self.port), timeout=10) as s:
            t0 = time.monotonic()
            s.sendall(post_head(100) + b'{"model"')
            reply, closed = read_until_close(s, timeout=8)
            elapsed = time.monotonic() - t0
        self.assertEqual(status_of(reply), 408, reply[:300])
        self.assertIn(b"request body not complete", body_of(reply))
        self.assertTrue(closed)
        self.assertLess(elapsed, 4.0)

    def test_idle_connections_close_silently_and_active_streams_are_not_cut(self):
        self.start_with_short_client_deadlines()
        body = json.dumps(ru.chat_body([{"role": "user", "content": "keep me"}])).encode()
        with socket.create_connection((harness.HOST, self.port), timeout=10) as s:
            s.sendall(post_head(len(body)) + body)  # one request, then idle
            s.settimeout(8)
            reply = s.recv(65536)
            self.assertEqual(status_of(reply), 200, reply[:300])
            t0 = time.monotonic()
            rest, closed = read_until_close(s, timeout=8)
            self.assertTrue(closed, "idle keep-alive connection closed")
            self.assertEqual(rest, b"", "closed without a response")
            self.assertLess(time.monotonic() - t0, 4.0)
        with socket.create_connection((harness.HOST, self.port), timeout=10) as s:
            rest, closed = read_until_close(s, timeout=8)  # a new connection that says nothing
            self.assertTrue(closed)
            self.assertEqual(rest, b"")
        # A 100-token stream takes about 2 s, twice every client deadline:
        # the deadlines bound the request's arrival, not its response.
        events = [d for _, d in harness.sse_events(
            self.port, "/v1/chat/completions",
            ru.chat_body([{"role": "user", "content": "long"}], max_tokens=100, stream=True),
            timeout=20)]
        self.assertEqual(events[-1], "[DONE]")

    # Item: idle keep-alive connections keep no body storage once the body
    # budget is half spent (they would hold what requests in flight need).
    def test_idle_connections_keep_no_body_storage_when_the_budget_is_half_spent(self):
        limit = 1 << 20
        self.start("--max-body-bytes", limit, "--max-inflight-body-bytes", 2 * limit)
        small = chat_bytes(40000)

        def served_on_keep_alive():
            s = socket.create_connection((harness.HOST, self.port), timeout=10)
            s.sendall(post_head(len(small)) + small)
            reply = s.recv(65536)
            self.assertEqual(status_of(reply), 200, reply[:300])
            return s

        idle = served_on_keep_alive()  # budget nearly free: its 40 KB storage is kept
        try:
            kept = self.body_bytes_held()
            self.assertGreater(kept, 40000)
            with socket.create_connection((harness.HOST, self.port), timeout=10) as a:
                a.sendall(post_head(limit) + chat_bytes(limit)[:-1])  # holds over half
                harness.wait_until(lambda: self.body_bytes_held() >= kept + limit, timeout=10,
                                   what="large body held")
                held = self.body_bytes_held()
                second = served_on_keep_alive()  # stays open, idle
                try:
                    harness.wait_until(lambda: self.body_bytes_held() == held, timeout=3,
                                       what="the idle connection keeps nothing past half")
                finally:
                    second.close()
        finally:
            idle.close()

    # Item: a response cut off mid-stream is not counted as status="200".
    def test_stream_cut_by_a_dying_worker_counts_as_incomplete(self):
        # --exit-after 1: the worker serves one request; reading the second
        # makes it exit at once, cutting the first one's stream mid-way.
        self.sims = ru.start_sims(self, 1, "--prefill-us-per-token", "0",
                                  "--decode-us-per-token", "20000", "--exit-after", "1")
        self.admin_port = harness.free_port()
        self.port, self.router = ru.start_router(self, self.sims, "--admin-host", harness.HOST,
                                                 "--admin-port", self.admin_port)
        body = ru.chat_body([{"role": "user", "content": "a long answer"}], max_tokens=200,
                            stream=True)
        events = []
        try:
            for _, data in harness.sse_events(self.port, "/v1/chat/completions", body,
                                              timeout=15):
                events.append(data)
                if len(events) == 3:  # mid-stream: a second request kills the worker
                    status, _, _ = harness.request(
                        self.port, "POST", "/v1/chat/completions",
                        ru.chat_body([{"role": "user", "content": "the last straw"}]),
                        timeout=15)
                    self.assertNotEqual(status, 200)
                self.assertLess(len(events), 400)
        except (OSError, http.client.HTTPException) as e:
            events.append(f"ended: {e!r}")
        self.assertGreaterEqual(len(events), 3, events)
        self.assertNotIn("[DONE]", events)
        text = self.metrics()
        self.assertEqual(labelled(text, "radixmesh_requests_total",
                                  'endpoint="chat",status="incomplete"'), 1.0)
        self.assertEqual(labelled(text, "radixmesh_requests_incomplete_total",
                                  'endpoint="chat",reason="upstream_reset"'), 1.0)
        self.assertEqual(labelled(text, "radixmesh_requests_total",
                                  'endpoint="chat",status="200"'), 0.0,
                         "the cut stream is not a 200")


def labelled(text, name, labels):
    """The value of name{labels} in Prometheus text (0 when absent)."""
    prefix = name + "{" + labels + "} "
    for line in text.splitlines():
        if line.startswith(prefix):
            return float(line[len(prefix):])
    return 0.0


if __name__ == "__main__":
    unittest.main()
