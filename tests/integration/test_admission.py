"""Admission control and API keys with real processes on loopback (issue 18
items 2-4): a router with --max-in-flight-per-worker 2 --max-queue 4
--queue-timeout-ms 2000 in front of two slow simulated workers, overloaded
with concurrent streamed requests; and 401/429 answers with their metrics.

The workers report the most requests they ever served at once
(sim_active_requests_peak), so "no worker above the cap" is measured where it
matters, at the worker, not taken from the router's own count.

Every loop is bounded in count and time; timing margins are wide (the
machine is small and shared).
"""
import json
import pathlib
import socket
import tempfile
import threading
import time
import unittest

import harness
import router_util

CAP = 2
QUEUE = 4
TIMEOUT_MS = 2000
DECODE_US = 50000  # 50 ms per output token


def metric_value(text, name, labels=""):
    """The value of one sample in a Prometheus exposition (None when absent)."""
    key = name + (("{" + labels + "}") if labels else "")
    for line in text.splitlines():
        if line.startswith(key + " "):
            return float(line.rsplit(" ", 1)[1])
    return None


class Router:
    """A router with its admin port known."""

    def __init__(self, test, sims, *flags):
        self.port = harness.free_port()
        self.admin_port = harness.free_port()
        args = [harness.binary(router_util.ROUTER), "--host", harness.HOST, "--port", self.port,
                "--admin-port", self.admin_port, "--threads", "2",
                "--health-interval-ms", "200", "--log-level", "info", "--policy", "round_robin"]
        for sport, _, _ in sims:
            args += ["--worker", f"http://{harness.HOST}:{sport}"]
        self.proc = test.spawn(args + list(flags), "router")
        harness.wait_http_ok(self.port, path="/readiness", proc=self.proc)

    def metrics(self):
        status, _, data = harness.request(self.admin_port, "GET", "/metrics", timeout=5)
        assert status == 200, status
        return data.decode()

    def metric(self, name, labels=""):
        return metric_value(self.metrics(), name, labels) or 0.0

    def wait_metric(self, name, want, timeout=5.0, labels=""):
        return harness.wait_until(lambda: self.metric(name, labels) == want, timeout=timeout,
                                  what=f"{name}{{{labels}}} == {want}")


def streamed(port, tokens, content, headers=None):
    """One streamed chat request read to its end; returns a dict with status,
    headers, the error body (if any), whether [DONE] arrived, and timings."""
    out = {"sent": time.monotonic()}
    body = router_util.chat_body([{"role": "user", "content": content}], max_tokens=tokens,
                                 stream=True)
    try:
        status, hdrs, data = harness.request(port, "POST", "/v1/chat/completions", body,
                                             headers=headers, timeout=30)
    except Exception as e:  # noqa: BLE001 - reported as a failed result
        out.update(status=None, error=repr(e), done=time.monotonic())
        return out
    out.update(status=status, headers=hdrs, done=time.monotonic())
    out["complete"] = data.rstrip().endswith(b"data: [DONE]")
    if status != 200:
        try:
            out["error"] = json.loads(data)["error"]
        except (ValueError, KeyError):
            out["error"] = {"raw": data[:300]}
    return out


def concurrently(fns, timeout=30):
    """Runs the callables in threads started together; returns their results."""
    results = [None] * len(fns)
    barrier = threading.Barrier(len(fns))

    def run(i):
        try:
            barrier.wait(timeout=10)
        except threading.BrokenBarrierError:
            pass
        results[i] = fns[i]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(fns))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    return results


class RawRequest:
    """A streamed request on a socket of its own that the test reads or
    closes when it wants (a client that may walk away)."""

    def __init__(self, test, port, content, tokens=4):
        body = json.dumps(router_util.chat_body([{"role": "user", "content": content}],
                                                max_tokens=tokens, stream=True)).encode()
        self.sock = socket.create_connection((harness.HOST, port), timeout=10)
        self.sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: router\r\n"
                          b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                          % len(body) + body)
        self.sent = time.monotonic()
        test.addCleanup(self.close)

    def response_head(self, timeout=10.0):
        """(status, headers, body bytes read so far, arrival time) of the response."""
        self.sock.settimeout(timeout)
        data = b""
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in data and time.monotonic() < deadline:
            chunk = self.sock.recv(65536)
            if not chunk:
                break
            data += chunk
        arrived = time.monotonic()
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.decode(errors="replace").split("\r\n")
        status = int(lines[0].split(" ")[1]) if lines and lines[0].startswith("HTTP/") else None
        hdrs = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            hdrs[k.strip().lower()] = v.strip()
        if "content-length" in hdrs:
            want = int(hdrs["content-length"])
            while len(rest) < want and time.monotonic() < deadline:
                chunk = self.sock.recv(65536)
                if not chunk:
                    break
                rest += chunk
        return status, hdrs, rest, arrived

    def read_until(self, data, marker, timeout=10.0):
        """Reads on until `marker` is in what arrived (or the peer closes)."""
        self.sock.settimeout(timeout)
        deadline = time.monotonic() + timeout
        while marker not in data and time.monotonic() < deadline:
            chunk = self.sock.recv(65536)
            if not chunk:
                break
            data += chunk
        return data

    def close(self):
        self.sock.close()


class AdmissionOverloadTest(harness.Cleanup, unittest.TestCase):
    def setUp(self):
        # Each sim could run 8 at once: only the router's cap keeps it at 2.
        self.sims = router_util.start_sims(self, 2, "--prefill-us-per-token", "0",
                                           "--decode-us-per-token", str(DECODE_US),
                                           "--concurrency", "8")
        self.router = Router(self, self.sims, "--max-in-flight-per-worker", str(CAP),
                             "--max-queue", str(QUEUE), "--queue-timeout-ms", str(TIMEOUT_MS))

    def sim_peaks(self):
        return [router_util.sim_metrics(p)["sim_active_requests_peak"] for p, _, _ in self.sims]

    def assert_overflow(self, r):
        self.assertEqual(r["status"], 503, r)
        self.assertEqual(r["error"].get("code"), "admission_queue_full", r)
        self.assertEqual(r["headers"].get("retry-after"), "1", r)

    def test_twenty_streams_cap_queue_overflow_and_wait_histogram(self):
        # 20 tokens x 50 ms: each admitted stream holds its slot ~1 s, so all
        # 20 arrive while the first 4 run; 4 queue and get their slot after
        # ~1 s (well inside the 2 s timeout); 12 are refused at once.
        n = 20
        results = concurrently([lambda i=i: streamed(self.router.port, 20, f"overload {i}")
                                for i in range(n)])
        by_status = {}
        for r in results:
            by_status.setdefault(r["status"], []).append(r)
        refused = by_status.get(503, [])
        ok = by_status.get(200, [])
        self.assertEqual(sorted(by_status), [200, 503], by_status.keys())
        # (b) exactly the overflow beyond cap x workers + queue.
        self.assertEqual(len(refused), n - (CAP * len(self.sims) + QUEUE))
        for r in refused:
            self.assert_overflow(r)
            self.assertLess(r["done"] - r["sent"], 1.0, "a refusal should not wait")
        # (e) all others complete, with the whole stream.
        self.assertEqual(len(ok), CAP * len(self.sims) + QUEUE)
        for r in ok:
            self.assertTrue(r["complete"], r)
        # (a) measured at the workers: never more than the cap, and the cap was reached.
        self.assertEqual(self.sim_peaks(), [CAP, CAP])
        # (f) the queued four waited about one stream's length each.
        m = self.router.metrics()
        count = metric_value(m, "radixmesh_admission_queue_wait_seconds_count")
        total = metric_value(m, "radixmesh_admission_queue_wait_seconds_sum")
        self.assertEqual(count, QUEUE)
        self.assertGreater(total / count, 0.5)
        self.assertLess(total / count, TIMEOUT_MS / 1000)
        self.assertEqual(metric_value(m, "radixmesh_admission_rejected_total",
                                      'reason="queue_full"'), n - CAP * len(self.sims) - QUEUE)
        self.assertEqual(metric_value(m, "radixmesh_admission_queue_depth"), 0)

    def test_queued_requests_time_out_and_a_leaving_client_frees_its_place(self):
        # Four 80-token streams (~4 s) keep both workers at the cap for
        # longer than the queue timeout.
        busy = [RawRequest(self, self.router.port, f"busy {i}", tokens=80) for i in range(4)]
        started = []
        for b in busy:
            status, _, rest, _ = b.response_head()
            self.assertEqual(status, 200)
            started.append(rest)
        queued = [RawRequest(self, self.router.port, f"queued {i}") for i in range(QUEUE)]
        self.router.wait_metric("radixmesh_admission_queue_depth", QUEUE)
        # (d) one queued client leaves: its place is free at once ...
        queued[1].close()
        t0 = time.monotonic()
        self.router.wait_metric("radixmesh_admission_queue_depth", QUEUE - 1, timeout=2)
        self.assertLess(time.monotonic() - t0, 0.5)
        self.assertEqual(self.router.metric("radixmesh_admission_rejected_total",
                                            'reason="client_gone"'), 1)
        # ... so the next request is queued, not refused; the one after is refused.
        late = RawRequest(self, self.router.port, "late")
        self.router.wait_metric("radixmesh_admission_queue_depth", QUEUE)
        overflow = RawRequest(self, self.router.port, "overflow")
        status, hdrs, body, _ = overflow.response_head()
        self.assertEqual(status, 503)
        self.assertEqual(json.loads(body)["error"]["code"], "admission_queue_full")
        self.assertEqual(hdrs.get("retry-after"), "1")
        # (c) the workers stay busy: every waiter gets 503 admission_queue_timeout
        # after about --queue-timeout-ms from its own arrival.
        for q in [queued[0], queued[2], queued[3], late]:
            status, hdrs, body, arrived = q.response_head(timeout=10)
            self.assertEqual(status, 503)
            self.assertEqual(json.loads(body)["error"]["code"], "admission_queue_timeout")
            self.assertEqual(hdrs.get("retry-after"), "1")
            waited = arrived - q.sent
            self.assertGreater(waited, TIMEOUT_MS / 1000 - 0.1)
            self.assertLess(waited, TIMEOUT_MS / 1000 + 1.5)
        # (e) the busy streams were never disturbed and end normally.
        for b, rest in zip(busy, started):
            self.assertIn(b"data: [DONE]", b.read_until(rest, b"data: [DONE]"))
        self.assertEqual(self.sim_peaks(), [CAP, CAP])
        m = self.router.metrics()
        self.assertEqual(metric_value(m, "radixmesh_admission_rejected_total",
                                      'reason="timeout"'), 4)
        # (f) every queued request is in the histogram, whatever its outcome:
        # four timeouts and the one that left.
        self.assertEqual(metric_value(m, "radixmesh_admission_queue_wait_seconds_count"), 5)
        self.assertEqual(metric_value(m, "radixmesh_admission_queue_depth"), 0)


class DefaultFlagsTest(harness.Cleanup, unittest.TestCase):
    def test_without_a_cap_nothing_queues_and_workers_take_everything(self):
        sims = router_util.start_sims(self, 2, "--prefill-us-per-token", "0",
                                      "--decode-us-per-token", str(DECODE_US),
                                      "--concurrency", "8")
        router = Router(self, sims)
        results = concurrently([lambda i=i: streamed(router.port, 20, f"free {i}")
                                for i in range(8)])
        self.assertEqual([r["status"] for r in results], [200] * 8)
        peaks = [router_util.sim_metrics(p)["sim_active_requests_peak"] for p, _, _ in sims]
        self.assertEqual(sum(peaks), 8, peaks)  # all at once, nothing held back
        m = router.metrics()
        self.assertIn(metric_value(m, "radixmesh_admission_queue_wait_seconds_count"), (None, 0))


class ApiKeysTest(harness.Cleanup, unittest.TestCase):
    GOOD = "sk-py-good-0123456789abcdef"
    LIMITED = "sk-py-limited-0123456789abcdef"

    def setUp(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.keys = pathlib.Path(tmp.name) / "api-keys"
        self.keys.write_text(f"# python access test\n{self.GOOD} name=team-a\n"
                             f"{self.LIMITED} name=limited rps=1 burst=2\n")
        self.sims = router_util.start_sims(self, 1, "--decode-us-per-token", "0")
        self.router = Router(self, self.sims, "--api-keys-file", str(self.keys),
                             "--log-level", "trace")

    def post(self, key=None):
        headers = {"Authorization": f"Bearer {key}"} if key is not None else None
        t0 = time.monotonic()
        status, hdrs, parsed = router_util.chat(self.router.port,
                                                [{"role": "user", "content": "hi"}],
                                                headers=headers)
        return status, hdrs, parsed, time.monotonic() - t0

    def test_401_429_metrics_and_no_key_text_anywhere(self):
        wrong = "sk-py-wrong-0123456789abcdef"
        for key, reason in [(None, "missing"), (wrong, "invalid"), ("", "missing")]:
            status, _, body, took = self.post(key)
            self.assertEqual(status, 401, (key, body))
            self.assertEqual(body["error"]["code"], "invalid_api_key")
            self.assertLess(took, 1.0)
        status, _, body, _ = self.post(self.GOOD)
        self.assertEqual(status, 200, body)
        statuses = []
        retry_after = None
        for _ in range(3):
            status, hdrs, body, took = self.post(self.LIMITED)
            statuses.append(status)
            self.assertLess(took, 1.0)
            if status == 429:
                self.assertEqual(body["error"]["code"], "rate_limit_exceeded")
                retry_after = hdrs.get("retry-after")
        self.assertEqual(statuses, [200, 200, 429])
        self.assertIn(retry_after, ("1", "2"))
        # The probes need no key.
        self.assertEqual(harness.request(self.router.port, "GET", "/health")[0], 200)
        self.assertEqual(harness.request(self.router.port, "GET", "/readiness")[0], 200)
        m = self.router.metrics()
        self.assertEqual(metric_value(m, "radixmesh_auth_failures_total", 'reason="missing"'), 2)
        self.assertEqual(metric_value(m, "radixmesh_auth_failures_total", 'reason="invalid"'), 1)
        self.assertEqual(metric_value(m, "radixmesh_rate_limited_total", 'tenant="limited"'), 1)
        self.assertIsNone(metric_value(m, "radixmesh_rate_limited_total", 'tenant="team-a"'))
        self.assertEqual(metric_value(m, "radixmesh_api_keys"), 2)
        # A reload with a bad line keeps the old keys and names the line, not the key.
        self.keys.write_text(f"{self.GOOD} name=team-a\n{self.LIMITED} colour=blue\n")
        self.router.wait_metric("radixmesh_api_keys_reloads_total", 1, labels='result="error"')
        self.assertEqual(self.post(self.GOOD)[0], 200)
        log = self.router.proc.output()
        m = self.router.metrics()
        for k in (self.GOOD, self.LIMITED, wrong):
            self.assertNotIn(k, log)
            self.assertNotIn(k, m)


if __name__ == "__main__":
    unittest.main()
