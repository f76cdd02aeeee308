"""Chaos on the data plane with real processes (one router, simulated workers):

  - garbage bytes on the HTTP port (random bytes, a broken request line, an
    absurd Content-Length, a header flood, a half-sent request then close):
    each connection gets 400/413/431 or is closed, and the router keeps
    answering normal requests;
  - a worker killed (SIGKILL) in the middle of a streamed answer: the client's
    stream ends (an error event, or the chunked body cut so the client sees
    an incomplete response) within a bounded
    time, never hangs; requests sent after the kill succeed on the other
    worker (retry before the first byte).
"""
import http.client
import os
import socket
import time
import unittest

import harness
from harness import HOST, Cleanup, free_port, post_json, wait_http_ok

SIM = "tools/sim_worker/radixmesh-sim-worker"
MODEL = "m"


def raw_exchange(port, payload, timeout=5.0):
    """Sends raw bytes, returns whatever the router answers before closing."""
    with socket.create_connection((HOST, port), timeout=timeout) as s:
        try:
            s.sendall(payload)
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        out = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        return out


class ChaosHttpTest(Cleanup, unittest.TestCase):
    def start(self, decode_us=0):
        self.sims = []
        for i in range(2):
            port = free_port()
            proc = self.spawn([harness.binary(SIM), "--host", HOST, "--port", port,
                               "--model", MODEL, "--decode-us-per-token", decode_us,
                               "--prefill-us-per-token", 0, "--id", f"w{i}"], f"chaos-http-sim{i}")
            wait_http_ok(port, proc=proc)
            self.sims.append((port, proc))
        self.port = free_port()
        args = [harness.binary("router/radixmesh"), "--host", HOST, "--port", self.port,
                "--admin-host", HOST, "--admin-port", free_port(), "--threads", 2,
                "--health-interval-ms", 200]
        for p, _ in self.sims:
            args += ["--worker", f"http://{HOST}:{p}"]
        self.router = self.spawn(args, "chaos-http-router")
        wait_http_ok(self.port, "/readiness", timeout=15.0, proc=self.router)

    def chat_ok(self, text="hello"):
        status, body, raw = post_json(self.port, "/v1/chat/completions",
                                      {"model": MODEL, "max_tokens": 2,
                                       "messages": [{"role": "user", "content": text}]},
                                      timeout=15)
        self.assertEqual(status, 200, raw[:300])

    def test_garbage_on_http_port(self):
        self.start()
        cases = [
            os.urandom(8192),
            b"\x00\xff\x16\x03\x01\x02\x00" * 100,  # TLS-ish binary
            b"GARBAGE / HTTP/9.9\r\n\r\n",
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: "
            b"99999999999999999999\r\n\r\n{}",
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n" + b"X-Flood: " + b"a" * 200000
            + b"\r\n\r\n",
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"mo",
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"zz\r\n",
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n\r\n\xff\xfe{]]]]]]",
        ]
        for payload in cases:
            answer = raw_exchange(self.port, payload)
            if answer:
                status_line = answer.split(b"\r\n", 1)[0]
                self.assertTrue(status_line.startswith(b"HTTP/1.1 4"),
                                f"{payload[:40]!r} -> {status_line!r}")
            self.assertTrue(self.router.alive(), f"router died on {payload[:40]!r}")
        self.chat_ok()
        status, _, _ = harness.request(self.port, "GET", "/health")
        self.assertEqual(status, 200)

    def test_worker_killed_mid_stream(self):
        self.start(decode_us=20000)  # 20 ms per token: a 200-token answer takes 4 s
        body = {"model": MODEL, "max_tokens": 200, "stream": True,
                "messages": [{"role": "user", "content": "a long answer please"}]}
        events = []
        t0 = time.monotonic()
        killed = False
        try:
            for _, data in harness.sse_events(self.port, "/v1/chat/completions", body,
                                              timeout=15):
                events.append(data)
                if len(events) == 3 and not killed:
                    for _, proc in self.sims:  # kill the worker that serves this stream
                        proc.kill()
                    killed = True
                self.assertLess(len(events), 400)
        except (OSError, RuntimeError, http.client.HTTPException) as e:
            events.append(f"ended: {e!r}")
        elapsed = time.monotonic() - t0
        self.assertTrue(killed, events)
        self.assertLess(elapsed, 10.0, "the stream ended promptly after the kill")
        self.assertNotIn("[DONE]", events[3:], "a cut stream must not look complete")
        self.assertTrue(self.router.alive())

    def test_requests_after_a_worker_dies_are_retried_on_another(self):
        self.start()
        self.chat_ok("warm up")
        self.sims[0][1].kill()
        for i in range(10):  # before health checks notice: retries before the first byte
            self.chat_ok(f"after the kill {i}")


if __name__ == "__main__":
    unittest.main()
