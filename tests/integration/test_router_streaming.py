"""Streaming through the router: SSE events pass one by one with the
worker's timing, a client that disconnects cancels the upstream request, and
a graceful shutdown lets an in-flight stream finish.
"""
import http.client
import json
import signal
import socket
import time
import unittest

import harness
import router_util as ru


class RouterStreamingTest(harness.Cleanup, unittest.TestCase):
    def test_sse_events_arrive_one_by_one_with_worker_timing(self):
        # 150 ms per token, one token per event.
        sims = ru.start_sims(self, 2, "--prefill-us-per-token", "0",
                             "--decode-us-per-token", "150000")
        port, _ = ru.start_router(self, sims)
        body = ru.chat_body([{"role": "user", "content": "stream please"}], max_tokens=6,
                            stream=True)
        arrivals, datas = [], []
        for t, data in harness.sse_events(port, "/v1/chat/completions", body, timeout=20):
            arrivals.append(t)
            datas.append(data)
        self.assertEqual(datas[-1], "[DONE]")
        chunks = [json.loads(d) for d in datas[:-1]]
        self.assertGreaterEqual(len(chunks), 6)
        # Events were not buffered: consecutive token events are spaced by
        # roughly the decode delay (wide margins: shared machine).
        token_times = [t for t, c in zip(arrivals, chunks)
                       if c.get("choices") and c["choices"][0].get("delta", {}).get("content")]
        gaps = [b - a for a, b in zip(token_times, token_times[1:])]
        self.assertGreaterEqual(len(gaps), 4, gaps)
        self.assertGreater(min(gaps), 0.06, gaps)
        self.assertGreater(arrivals[-1] - arrivals[0], 0.5)

    def test_client_disconnect_cancels_the_upstream_request(self):
        sims = ru.start_sims(self, 1, "--prefill-us-per-token", "0",
                             "--decode-us-per-token", "100000")
        sim_port = sims[0][0]
        port, _ = ru.start_router(self, sims)
        body = json.dumps(ru.chat_body([{"role": "user", "content": "long story"}],
                                       max_tokens=200, stream=True)).encode()
        sock = socket.create_connection((harness.HOST, port), timeout=10)
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: r\r\n"
                     b"Content-Type: application/json\r\nContent-Length: "
                     + str(len(body)).encode() + b"\r\n\r\n" + body)
        got = b""
        while got.count(b"data:") < 2:
            chunk = sock.recv(4096)
            self.assertTrue(chunk, "router closed early")
            got += chunk
        self.assertIn(b"200", got.split(b"\r\n", 1)[0])
        sock.close()
        harness.wait_until(lambda: ru.sim_metrics(sim_port).get("sim_cancelled_total") == 1,
                           timeout=5, what="upstream cancellation counted by the worker")
        # The router still serves.
        s, _, b = ru.chat(port, [{"role": "user", "content": "after"}], max_tokens=1)
        self.assertEqual(s, 200, b)

    def test_client_disconnect_before_the_first_byte_cancels_the_upstream_request(self):
        # Nothing flows to the client while the worker computes its prefill,
        # so only the router's watch on the client socket can notice.
        sims = ru.start_sims(self, 1, "--prefill-us-per-token", "20000",
                             "--decode-us-per-token", "0")
        sim_port = sims[0][0]
        port, _ = ru.start_router(self, sims)
        body = json.dumps(ru.chat_body([{"role": "user", "content": "x" * 4000}],
                                       max_tokens=5)).encode()
        sock = socket.create_connection((harness.HOST, port), timeout=10)
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: r\r\n"
                     b"Content-Type: application/json\r\nContent-Length: "
                     + str(len(body)).encode() + b"\r\n\r\n" + body)
        harness.wait_until(lambda: ru.sim_metrics(sim_port).get("sim_requests_total", 0) >= 1
                           or ru.sim_metrics(sim_port).get("sim_in_flight", 0) >= 1,
                           timeout=5, what="the request reached the worker")
        sock.close()
        harness.wait_until(lambda: ru.sim_metrics(sim_port).get("sim_cancelled_total") == 1,
                           timeout=5, what="upstream cancellation counted by the worker")
        s, _, b = ru.chat(port, [{"role": "user", "content": "after"}], max_tokens=1)
        self.assertEqual(s, 200, b)

    def test_graceful_shutdown_finishes_an_in_flight_stream(self):
        sims = ru.start_sims(self, 1, "--prefill-us-per-token", "0",
                             "--decode-us-per-token", "100000")
        port, router = ru.start_router(self, sims, "--shutdown-grace-ms", "8000")
        body = ru.chat_body([{"role": "user", "content": "finish me"}], max_tokens=10, stream=True)
        events = harness.sse_events(port, "/v1/chat/completions", body, timeout=20)
        first = next(events)
        self.assertTrue(first[1])
        router.signal(signal.SIGTERM)
        rest = [d for _, d in events]
        self.assertEqual(rest[-1], "[DONE]")
        self.assertGreaterEqual(len(rest), 9)
        harness.wait_until(lambda: not router.alive(), timeout=10, what="router exit")
        self.assertEqual(router.p.returncode, 0)

    def test_new_connections_are_refused_while_draining(self):
        sims = ru.start_sims(self, 1, "--prefill-us-per-token", "0",
                             "--decode-us-per-token", "200000")
        port, router = ru.start_router(self, sims, "--shutdown-grace-ms", "5000")
        # Keep one stream in flight so the router stays in its drain phase.
        conn = http.client.HTTPConnection(harness.HOST, port, timeout=10)
        conn.request("POST", "/v1/chat/completions",
                     body=json.dumps(ru.chat_body([{"role": "user", "content": "x"}],
                                                  max_tokens=10, stream=True)),
                     headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        self.assertEqual(resp.status, 200)
        router.signal(signal.SIGTERM)
        # New connections are refused once the listener has closed.
        def refused():
            try:
                harness.request(port, "GET", "/readiness", timeout=1)
                return False
            except OSError:
                return True
        harness.wait_until(refused, timeout=5, what="listener closed")
        resp.read()
        conn.close()
        harness.wait_until(lambda: not router.alive(), timeout=10, what="router exit")


if __name__ == "__main__":
    unittest.main()
