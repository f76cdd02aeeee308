"""Failure handling of the router: a worker killed mid-run, all workers down,
upstream errors, and every kind of bad client input answered with its status
and an OpenAI-style error body while the router keeps serving.
"""
import concurrent.futures
import json
import socket
import time
import unittest

import harness
import mesh_util as mu
import router_util as ru


def error_code(data):
    try:
        return json.loads(data)["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None


class RouterFailureTest(harness.Cleanup, unittest.TestCase):
    def assert_still_serving(self, port):
        status, _, _ = harness.request(port, "GET", "/health")
        self.assertEqual(status, 200)
        s, _, b = ru.chat(port, [{"role": "user", "content": "still there?"}])
        self.assertEqual(s, 200, b)

    def test_worker_killed_mid_run_requests_retry_elsewhere_and_nothing_hangs(self):
        # 20 ms of prefill per request: requests are in flight when the kill lands.
        sims = ru.start_sims(self, 3, "--prefill-us-per-token", "200",
                             "--decode-us-per-token", "0")
        port, router = ru.start_router(self, sims, "--max-retries", "2", "--breaker-failures", "2")
        admin = router.admin_port
        victim = sims[1][1]

        def one(i):
            start = time.monotonic()
            s, h, b = ru.chat(port, [{"role": "user", "content": ru.words(400, 5000 + i)}])
            return s, time.monotonic() - start

        results = []
        with concurrent.futures.ThreadPoolExecutor(max_workers=6) as pool:
            futures = [pool.submit(one, i) for i in range(120)]
            # Kill once a sixth has been answered, so that it lands mid-run
            # however fast the machine is.
            harness.wait_until(lambda: sum(f.done() for f in futures) >= 20, timeout=20,
                               interval=0.005, what="20 answers before the kill")
            victim.kill()
            self.assertGreater(sum(1 for f in futures if not f.done()), 40)
            for f in futures:
                results.append(f.result(timeout=30))
        statuses = [s for s, _ in results]
        self.assertEqual(statuses.count(200), len(statuses), statuses)
        self.assertLess(max(t for _, t in results), 10.0)
        # ... and in the middle of requests to the victim: they were retried
        # elsewhere (a kill between requests needs no retry).
        self.assertGreater(mu.metric(admin, "radixmesh_upstream_retries_total"), 0)
        # The dead worker leaves routing: later requests never go there.
        dead_url = f"http://127.0.0.1:{sims[1][0]}"
        for i in range(10):
            s, h, b = ru.chat(port, [{"role": "user", "content": f"after kill {i}"}])
            self.assertEqual(s, 200, b)
            self.assertNotEqual(h["x-radixmesh-worker"], dead_url)

    def test_all_workers_down_answers_503_then_recovers_readiness(self):
        sims = ru.start_sims(self, 2, "--prefill-us-per-token", "0", "--decode-us-per-token", "0")
        port, _ = ru.start_router(self, sims)
        for _, proc, _ in sims:
            proc.kill()
        for i in range(3):
            s, _, b = ru.chat(port, [{"role": "user", "content": f"anyone {i}"}])
            self.assertEqual(s, 503, b)
            self.assertEqual(b["error"]["code"], "no_healthy_worker")
        ru.wait_status(port, "/readiness", 503)
        status, _, _ = harness.request(port, "GET", "/health")
        self.assertEqual(status, 200)

    def test_upstream_5xx_is_retried_on_another_worker(self):
        bad = ru.start_sims(self, 1, "--error-rate", "1.0")
        good = ru.start_sims(self, 1, "--prefill-us-per-token", "0", "--decode-us-per-token", "0")
        port, _ = ru.start_router(self, bad + good, policy="round_robin")
        for i in range(6):
            s, h, b = ru.chat(port, [{"role": "user", "content": f"retry me {i}"}])
            self.assertEqual(s, 200, b)
            self.assertEqual(h["x-radixmesh-worker"], f"http://127.0.0.1:{good[0][0]}")

    def test_only_failing_worker_passes_its_error_through_after_retries(self):
        bad = ru.start_sims(self, 1, "--error-rate", "1.0")
        port, _ = ru.start_router(self, bad, "--breaker-failures", "100")
        s, h, b = ru.chat(port, [{"role": "user", "content": "x"}])
        self.assertEqual(s, 500)
        self.assertIn("x-radixmesh-worker", h)

    def test_bad_inputs_get_their_status_and_the_router_keeps_serving(self):
        sims = ru.start_sims(self, 1, "--prefill-us-per-token", "0", "--decode-us-per-token", "0")
        port, _ = ru.start_router(self, sims, "--max-body-bytes", "4096")
        cases = [
            ("POST", "/v1/chat/completions", b"{not json", 400, "invalid_request"),
            ("POST", "/v1/chat/completions", b"[1,2]", 400, "invalid_request"),
            ("POST", "/v1/chat/completions", json.dumps({"model": "sim-model",
                                                         "messages": "nope"}).encode(),
             400, "invalid_request"),
            ("POST", "/v1/chat/completions", json.dumps(
                {"model": "sim-model",
                 "messages": [{"role": "user", "content": "x" * 10000}]}).encode(),
             413, "body_too_large"),
            ("POST", "/v1/chat/completions", json.dumps(
                {"model": "no-such-model", "messages": [{"role": "user", "content": "x"}]}).encode(),
             404, "model_not_found"),
            ("GET", "/v1/chat/completions", None, 405, "method_not_allowed"),
            ("POST", "/v1/models", b"{}", 405, "method_not_allowed"),
            ("GET", "/v2/nothing", None, 404, "not_found"),
            ("POST", "/generate", b"{\"text\": 5}", 400, "invalid_request"),
        ]
        for method, path, body, want, code in cases:
            with self.subTest(path=path, want=want):
                headers = {"Content-Type": "application/json"} if body is not None else {}
                status, hdrs, data = harness.request(port, method, path, body=body,
                                                     headers=headers)
                self.assertEqual(status, want, data[:300])
                self.assertEqual(error_code(data), code, data[:300])
                self.assertTrue(hdrs.get("content-type", "").startswith("application/json"))
                self.assert_still_serving(port)

    def test_malformed_http_and_huge_headers_are_refused(self):
        sims = ru.start_sims(self, 1, "--prefill-us-per-token", "0", "--decode-us-per-token", "0")
        port, _ = ru.start_router(self, sims)
        with socket.create_connection((harness.HOST, port), timeout=5) as s:
            s.sendall(b"THIS IS NOT HTTP\r\n\r\n")
            reply = s.recv(4096)
            self.assertTrue(reply.startswith(b"HTTP/1.1 400"), reply[:100])
        with socket.create_connection((harness.HOST, port), timeout=5) as s:
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100000 + b"\r\n\r\n")
            reply = s.recv(4096)
            self.assertTrue(reply.startswith(b"HTTP/1.1 431"), reply[:100])
        # The 64 KiB limit is on the whole header, request line included,
        # wherever the reads split it: 10 bytes over is refused, 100 under
        # is served (Beast alone counts only the fields after the line).
        limit = 64 * 1024
        for total, want in ((limit + 10, b"HTTP/1.1 431"), (limit - 100, b"HTTP/1.1 200")):
            start = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Pad: "
            head = start + b"a" * (total - len(start) - 4) + b"\r\n\r\n"
            self.assertEqual(len(head), total)
            with socket.create_connection((harness.HOST, port), timeout=5) as s:
                s.sendall(head[:3000])
                time.sleep(0.05)
                s.sendall(head[3000:])
                reply = s.recv(4096)
                self.assertTrue(reply.startswith(want), (total, reply[:100]))
        self.assert_still_serving(port)

    def test_keep_alive_and_pipelined_requests_are_answered_in_order(self):
        sims = ru.start_sims(self, 1, "--prefill-us-per-token", "0", "--decode-us-per-token", "0")
        port, _ = ru.start_router(self, sims)
        body = json.dumps(ru.chat_body([{"role": "user", "content": "pipelined"}])).encode()
        req = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: r\r\nContent-Type: application/json\r\n"
               b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        with socket.create_connection((harness.HOST, port), timeout=10) as s:
            s.sendall(req + b"GET /health HTTP/1.1\r\nHost: r\r\n\r\n" + req)
            data = self.read_until_ok(s, 3)
            self.assertEqual(data.count(b"HTTP/1.1 200"), 3, data[:2000])
            first_health = data.find(b'{"status":"ok"}')
            self.assertGreater(first_health, data.find(b"chat.completion"))

    def test_a_pipelined_request_right_after_a_large_body_is_answered(self):
        # The body outgrows the head's 4 KiB read-ahead, so the rest of it is
        # read straight into the body's storage: the pipelined requests that
        # arrive right behind it must be neither lost nor taken as body.
        sims = ru.start_sims(self, 1, "--prefill-us-per-token", "0", "--decode-us-per-token", "0")
        port, _ = ru.start_router(self, sims)
        for size in (20000, 20000 + 17, 70000):
            body = json.dumps(ru.chat_body([{"role": "user", "content": "x" * size}])).encode()
            req = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: r\r\n"
                   b"Content-Type: application/json\r\n"
                   b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
            health = b"GET /health HTTP/1.1\r\nHost: r\r\n\r\n"
            with socket.create_connection((harness.HOST, port), timeout=10) as s:
                s.sendall(req + health + req + health)
                data = self.read_until_ok(s, 4)
                self.assertEqual(data.count(b"HTTP/1.1 200"), 4, (size, data[:2000]))
                self.assertEqual(data.count(b"chat.completion"), 2, size)
                self.assertEqual(data.count(b'{"status":"ok"}'), 2, size)
                self.assertNotIn(b"HTTP/1.1 400", data)
        self.assert_still_serving(port)

    def read_until_ok(self, s, n, timeout=10):
        """What socket s sends until n "200" status lines arrived, it closed,
        or timeout seconds passed."""
        data = b""
        deadline = time.monotonic() + timeout
        while data.count(b"HTTP/1.1 200") < n and time.monotonic() < deadline:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        return data

    def read_response(self, s, timeout=10):
        """One HTTP/1.1 response with a Content-Length body, from socket s."""
        data = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            head_end = data.find(b"\r\n\r\n")
            if head_end >= 0:
                head = data[:head_end].decode("latin-1").lower()
                length = int(head.split("content-length:")[1].split("\r\n")[0])
                if len(data) >= head_end + 4 + length:
                    return head, data[head_end + 4:head_end + 4 + length]
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        self.fail(f"no complete response: {data[:300]!r}")

    def test_request_bodies_in_pieces_chunked_or_cut_short(self):
        sims = ru.start_sims(self, 1, "--prefill-us-per-token", "0", "--decode-us-per-token", "0")
        port, _ = ru.start_router(self, sims)
        # 40 KB prompt: more than the connection's read-ahead, so most of the
        # body is read after the header, in pieces that arrive 50 ms apart.
        body = json.dumps(ru.chat_body([{"role": "user", "content": "p" * 40000}])).encode()
        head = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: r\r\n"
                b"Content-Type: application/json\r\nContent-Length: " +
                str(len(body)).encode() + b"\r\n\r\n")
        with socket.create_connection((harness.HOST, port), timeout=10) as s:
            s.sendall(head + body[:100])
            for i in range(100, len(body), 15000):
                time.sleep(0.05)
                s.sendall(body[i:i + 15000])
            rhead, rbody = self.read_response(s)
            self.assertTrue(rhead.startswith("http/1.1 200"), rhead)
            reply = json.loads(rbody)
            self.assertEqual(reply["usage"]["prompt_tokens"] > 0, True)
            # Same connection, chunked request body (no Content-Length).
            chunks = b"".join(b"%x\r\n" % len(body[i:i + 7000]) + body[i:i + 7000] + b"\r\n"
                              for i in range(0, len(body), 7000)) + b"0\r\n\r\n"
            s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: r\r\n"
                      b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" +
                      chunks)
            rhead, rbody = self.read_response(s)
            self.assertTrue(rhead.startswith("http/1.1 200"), rhead)
            self.assertEqual(json.loads(rbody)["usage"]["prompt_tokens"],
                             reply["usage"]["prompt_tokens"])
        # A client that promises 40 KB, sends 1 KB and leaves: nothing is
        # routed (the worker sees only the two requests above), and the
        # router keeps serving.
        with socket.create_connection((harness.HOST, port), timeout=10) as s:
            s.sendall(head + body[:1000])
        time.sleep(0.2)
        served = {k: v for k, v in ru.sim_metrics(sims[0][0]).items()
                  if k.startswith("sim_requests_total")}
        self.assertEqual(sum(served.values()), 2, served)
        self.assert_still_serving(port)
    def test_head_requests_get_headers_only(self):
        sims = ru.start_sims(self, 1, "--prefill-us-per-token", "0", "--decode-us-per-token", "0")
        port, _ = ru.start_router(self, sims)
        # HEAD then GET on one keep-alive connection: the HEAD answer carries
        # the GET body's Content-Length but no body, so the next bytes are
        # the GET's status line (RFC 9110 9.3.2).
        for path in ("/health", "/readiness", "/v1/models", "/nothing-here"):
            with self.subTest(path=path), \
                    socket.create_connection((harness.HOST, port), timeout=10) as s:
                s.sendall(f"HEAD {path} HTTP/1.1\r\nHost: r\r\n\r\n"
                          f"GET /health HTTP/1.1\r\nHost: r\r\n\r\n".encode())
                data = b""
                deadline = time.monotonic() + 10
                while data.count(b"HTTP/1.1 ") < 2 or not data.endswith(b"}"):
                    if time.monotonic() > deadline:
                        break
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                head_end = data.find(b"\r\n\r\n")
                self.assertGreater(head_end, 0, data[:200])
                self.assertIn(b"content-length:", data[:head_end].lower())
                # Right after the HEAD answer's header: the GET's response.
                self.assertTrue(data[head_end + 4:].startswith(b"HTTP/1.1 200"), data[:400])
                self.assertTrue(data.endswith(b'{"status":"ok"}'), data[-100:])


if __name__ == "__main__":
    unittest.main()
