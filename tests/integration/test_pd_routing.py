"""The router's prefill/decode flows (--pd-mode sglang|vllm) end to end: real
router, real simulated prefill and decode workers (--role), real HTTP.

The simulated decode workers fail unless the router did its part: an SGLang
decode needs bootstrap_host/port/room naming a prefill that computed the
same prompt in that room; a vLLM decode needs kv_transfer_params issued by a
prefill worker for that prompt. A 200 from a decode worker therefore proves
the pair was formed correctly; the workers' own counters say which worker
did what.
"""
import http.client
import http.server
import json
import socket
import subprocess
import threading
import time
import unittest

import harness
import router_util as ru

SIM = ru.SIM


def count(port, name):
    return ru.sim_metrics(port).get(name, 0.0)


def chat_requests(port):
    return count(port, 'sim_requests_total{endpoint="chat"}')


def router_metric(admin_port, name, labels):
    _, _, data = harness.request(admin_port, "GET", "/metrics")
    for line in data.decode().splitlines():
        if line.startswith(name + "{") and all(l in line for l in labels):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def legs(admin_port, role, outcome):
    return router_metric(admin_port, "radixmesh_pd_legs_total",
                         [f'role="{role}"', f'outcome="{outcome}"'])


class PdRouterCase(harness.Cleanup, unittest.TestCase):
    protocol = "sglang"

    def sim(self, name, *flags):
        port = harness.free_port()
        proc = self.spawn([harness.binary(SIM), "--host", harness.HOST, "--port", port,
                           "--id", name, *flags], f"sim-{name}")
        harness.wait_http_ok(port, proc=proc)
        return port, proc

    def prefill(self, name, *flags):
        """(port, proc, bootstrap port) of a prefill worker."""
        bport = harness.free_port()
        port, proc = self.sim(name, "--role", "prefill", "--pd-protocol", self.protocol,
                              "--bootstrap-port", bport, *flags)
        return port, proc, bport

    def decode(self, name, *flags):
        return self.sim(name, "--role", "decode", "--pd-protocol", self.protocol, *flags)

    def pd_router(self, prefills, decodes, *flags):
        args = ["--pd-mode", self.protocol]
        for port, _, bport in prefills:
            url = f"http://{harness.HOST}:{port}"
            args += ["--prefill", f"{url}?bootstrap_port={bport}" if self.protocol == "sglang"
                     else url]
        for port, _ in decodes:
            args += ["--decode", f"http://{harness.HOST}:{port}"]
        return ru.start_router(self, [], *args, *flags)

    def post(self, port, body, path="/v1/chat/completions"):
        status, parsed, raw = harness.post_json(port, path, body)
        return status, parsed if parsed is not None else raw


def prompt(prefix_seed, suffix_seed, n=2048):
    return ru.words(n, prefix_seed) + " question " + ru.words(64, suffix_seed)


class SglangPdRouterTest(PdRouterCase):
    protocol = "sglang"

    def setUp(self):
        self.prefills = [self.prefill("p0"), self.prefill("p1")]
        self.decodes = [self.decode("d0", "--decode-us-per-token", "20000"),
                        self.decode("d1", "--decode-us-per-token", "20000")]
        self.port, self.router = self.pd_router(self.prefills, self.decodes)

    def test_chat_stream_completions_and_generate_through_the_pair(self):
        before_p = sum(chat_requests(p) for p, _, _ in self.prefills)
        before_d = sum(chat_requests(p) for p, _ in self.decodes)
        status, body = self.post(self.port, ru.chat_body(
            [{"role": "user", "content": prompt(1, 1)}], max_tokens=3))
        self.assertEqual(status, 200, body)
        self.assertIn(body["system_fingerprint"], ("d0", "d1"))  # the decode's answer
        self.assertEqual(body["usage"]["completion_tokens"], 3)
        events = [e for _, e in harness.sse_events(self.port, "/v1/chat/completions", ru.chat_body(
            [{"role": "user", "content": prompt(1, 2)}], max_tokens=3, stream=True))]
        self.assertEqual(events[-1], "[DONE]")
        self.assertEqual(len(events), 4)  # three tokens, one event each, nothing of the prefill
        # One prefill and one decode request per client request.
        self.assertEqual(sum(chat_requests(p) for p, _, _ in self.prefills) - before_p, 2)
        self.assertEqual(sum(chat_requests(p) for p, _ in self.decodes) - before_d, 2)

        status, body = self.post(self.port, {"model": "sim-model", "prompt": prompt(2, 1),
                                             "max_tokens": 2}, "/v1/completions")
        self.assertEqual(status, 200, body)
        status, body = self.post(self.port, {"text": prompt(3, 1),
                                             "sampling_params": {"max_new_tokens": 2}},
                                 "/generate")
        self.assertEqual(status, 200, body)
        self.assertEqual(legs(self.router.admin_port, "prefill", "ok"), 4)
        self.assertEqual(legs(self.router.admin_port, "decode", "ok"), 4)

    def test_shared_prefix_sticks_to_one_prefill_worker(self):
        for i in range(8):
            status, body = self.post(self.port, ru.chat_body(
                [{"role": "user", "content": prompt(7, 100 + i)}], max_tokens=1))
            self.assertEqual(status, 200, body)
        served = sorted(chat_requests(p) for p, _, _ in self.prefills)
        self.assertEqual(served, [0, 8])
        sticky = max(self.prefills, key=lambda p: chat_requests(p[0]))
        # The prefix was computed once and then found in that worker's cache.
        self.assertGreater(count(sticky[0], "sim_cached_tokens_total"), 7 * 400)

    def test_prefill_that_dies_is_replaced_by_a_new_pair(self):
        body = ru.chat_body([{"role": "user", "content": prompt(9, 1)}], max_tokens=1)
        self.assertEqual(self.post(self.port, body)[0], 200)
        dead = max(self.prefills, key=lambda p: chat_requests(p[0]))
        alive = [p for p in self.prefills if p is not dead][0]
        dead[1].kill()  # before any health check can notice
        status, answer = self.post(self.port, ru.chat_body(
            [{"role": "user", "content": prompt(9, 2)}], max_tokens=2))
        self.assertEqual(status, 200, answer)
        self.assertEqual(chat_requests(alive[0]), 1)
        self.assertGreaterEqual(legs(self.router.admin_port, "prefill", "failed"), 1)
        self.assertGreaterEqual(router_metric(self.router.admin_port, "radixmesh_upstream_retries_total",
                                              []), 1)

    def test_decode_that_dies_mid_stream_ends_the_stream_and_nothing_else(self):
        conn = http.client.HTTPConnection(harness.HOST, self.port, timeout=30)
        conn.request("POST", "/v1/chat/completions", body=json.dumps(ru.chat_body(
            [{"role": "user", "content": prompt(11, 1)}], max_tokens=100, stream=True)),
            headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        self.assertEqual(r.status, 200)
        first = r.read1(65536).decode()
        serving = json.loads(first.split("data: ", 1)[1].split("\n", 1)[0])["system_fingerprint"]
        victim = [d for d, name in zip(self.decodes, ("d0", "d1")) if name == serving][0]
        victim[1].kill()
        rest = b""
        t0 = time.monotonic()
        while time.monotonic() - t0 < 20:
            try:
                chunk = r.read1(65536)
            except (http.client.IncompleteRead, ConnectionError):
                break
            if not chunk:
                break
            rest += chunk
        conn.close()
        self.assertNotIn(b"[DONE]", rest)  # cut, not completed
        self.assertLess(time.monotonic() - t0, 20)
        # The router keeps serving, through the other decode worker.
        status, body = self.post(self.port, ru.chat_body(
            [{"role": "user", "content": prompt(11, 2)}], max_tokens=2))
        self.assertEqual(status, 200, body)
        self.assertNotEqual(body["system_fingerprint"], serving)
        self.assertTrue(self.router.alive())

    def test_a_silent_prefill_is_left_out_of_the_new_pair(self):
        # A prefill worker that passes its health checks but never answers a
        # request, advertising a bootstrap port nothing listens on: its
        # decode fails at once (502), and the retry must pair another
        # prefill worker, not the silent one its session sticks to.
        release = threading.Event()
        self.addCleanup(release.set)

        class Silent(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                body = b'{"object":"list","data":[{"id":"sim-model"}]}'
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                release.wait(30)  # read nothing, answer nothing

            def log_message(self, *args):
                pass
        silent = http.server.ThreadingHTTPServer((harness.HOST, 0), Silent)
        silent.daemon_threads = True
        threading.Thread(target=silent.serve_forever, daemon=True).start()
        self.addCleanup(silent.server_close)
        self.addCleanup(silent.shutdown)
        nowhere = harness.free_port()
        good = self.prefills[0]
        decode = self.decodes[0]
        port, router = ru.start_router(
            self, [], "--pd-mode", "sglang",
            "--prefill", f"http://{harness.HOST}:{silent.server_address[1]}?bootstrap_port={nowhere}",
            "--prefill", f"http://{harness.HOST}:{good[0]}?bootstrap_port={good[2]}",
            "--decode", f"http://{harness.HOST}:{decode[0]}",
            # Sessions stick to one prefill worker: a retry that paired the
            # silent one again would fail again.
            "--prefill-policy", "consistent_hash")
        t0 = time.monotonic()
        for i in range(8):
            status, body, _ = harness.post_json(port, "/v1/chat/completions", ru.chat_body(
                [{"role": "user", "content": prompt(15, i)}], max_tokens=1),
                headers={"X-Session-Id": f"session-{i}"})
            self.assertEqual(status, 200, body)
        self.assertLess(time.monotonic() - t0, 20)  # no first-byte timeout waited out
        self.assertEqual(chat_requests(good[0]), 8)
        self.assertGreaterEqual(legs(router.admin_port, "prefill", "cancelled"), 1)  # it was tried

    def test_admin_lists_both_pools_and_explains_both_choices(self):
        status, _, data = harness.request(self.router.admin_port, "GET", "/admin/workers")
        self.assertEqual(status, 200)
        roles = sorted(w["role"] for w in json.loads(data)["workers"])
        self.assertEqual(roles, ["decode", "decode", "prefill", "prefill"])
        status, _, data = harness.request(
            self.router.admin_port, "POST", "/admin/route/explain",
            ru.chat_body([{"role": "user", "content": prompt(13, 1)}]))
        self.assertEqual(status, 200, data)
        explained = json.loads(data)
        self.assertEqual(explained["role"], "prefill")
        self.assertEqual(explained["policy"], "cache_aware")
        self.assertEqual(explained["decode"]["policy"], "least_load")
        prefill_urls = {f"http://{harness.HOST}:{p}" for p, _, _ in self.prefills}
        decode_urls = {f"http://{harness.HOST}:{p}" for p, _ in self.decodes}
        self.assertIn(explained["chosen"], prefill_urls)
        self.assertIn(explained["decode"]["chosen"], decode_urls)
        # The admin CLI shows which pool each worker is in, and counts both.
        out = subprocess.run([harness.binary("tools/ctl/radixmesh-ctl"), "--admin",
                              f"http://{harness.HOST}:{self.router.admin_port}", "workers"],
                             capture_output=True, text=True, timeout=10)
        self.assertEqual(out.returncode, 0, out.stderr)
        lines = out.stdout.splitlines()
        self.assertEqual(lines[0].split()[:2], ["URL", "ROLE"])
        self.assertEqual(sorted(line.split()[1] for line in lines[1:]),
                         ["decode", "decode", "prefill", "prefill"])
        status, _, data = harness.request(self.router.admin_port, "GET", "/admin/status")
        summary = json.loads(data)
        self.assertEqual(summary["workers"]["total"], 4)
        self.assertEqual(summary["pd_mode"], "sglang")
        self.assertEqual(summary["models"], ["sim-model"])  # not the decode pool's tree name


class VllmPdRouterTest(PdRouterCase):
    protocol = "vllm"

    def setUp(self):
        self.prefills = [self.prefill("p0"), self.prefill("p1")]
        self.decodes = [self.decode("d0")]
        self.port, self.router = self.pd_router(self.prefills, self.decodes)

    def test_chat_and_streamed_completions_carry_the_prefills_kv_params(self):
        status, body = self.post(self.port, ru.chat_body(
            [{"role": "user", "content": prompt(21, 1)}], max_tokens=3))
        self.assertEqual(status, 200, body)
        self.assertEqual(body["system_fingerprint"], "d0")
        self.assertEqual(body["usage"]["completion_tokens"], 3)  # the client's max_tokens
        events = [e for _, e in harness.sse_events(self.port, "/v1/completions", {
            "model": "sim-model", "prompt": prompt(21, 2), "max_tokens": 3, "stream": True})]
        self.assertEqual(events[-1], "[DONE]")
        self.assertEqual(len(events), 4)
        self.assertEqual(sum(chat_requests(p) for p, _, _ in self.prefills), 1)
        self.assertEqual(sum(count(p, 'sim_requests_total{endpoint="completions"}')
                             for p, _, _ in self.prefills), 1)
        self.assertEqual(legs(self.router.admin_port, "decode", "ok"), 2)

    def test_prefill_errors_are_retried_on_another_prefill_worker(self):
        body = ru.chat_body([{"role": "user", "content": prompt(23, 1)}], max_tokens=1)
        self.assertEqual(self.post(self.port, body)[0], 200)
        dead = max(self.prefills, key=lambda p: chat_requests(p[0]))
        alive = [p for p in self.prefills if p is not dead][0]
        dead[1].kill()
        status, answer = self.post(self.port, ru.chat_body(
            [{"role": "user", "content": prompt(23, 2)}], max_tokens=2))
        self.assertEqual(status, 200, answer)
        self.assertEqual(chat_requests(alive[0]), 1)
        self.assertEqual(legs(self.router.admin_port, "prefill", "failed"), 1)

    def test_bypass_sends_short_uncached_prompts_to_decode_alone(self):
        decode = self.decode("dl", "--pd-local-prefill")
        port, router = self.pd_router(self.prefills, [decode], "--pd-bypass-bytes", "100000")
        before = sum(chat_requests(p) for p, _, _ in self.prefills)
        for i in range(3):
            status, body = self.post(port, ru.chat_body(
                [{"role": "user", "content": prompt(25, i, n=256)}], max_tokens=1))
            self.assertEqual(status, 200, body)
            self.assertEqual(body["system_fingerprint"], "dl")
        self.assertEqual(sum(chat_requests(p) for p, _, _ in self.prefills), before)
        self.assertEqual(legs(router.admin_port, "prefill", "bypassed"), 3)


class PdConfigTest(harness.Cleanup, unittest.TestCase):
    def refused(self, *args):
        proc = self.spawn([harness.binary(ru.ROUTER), "--port", 0, "--admin-port", 0, *args],
                          "router-pd-config")
        harness.wait_until(lambda: not proc.alive(), timeout=10, what="the router to exit")
        self.assertNotEqual(proc.p.returncode, 0)
        return proc.output()

    def test_worker_flags_are_refused_in_pd_mode(self):
        out = self.refused("--pd-mode", "sglang", "--worker", "http://127.0.0.1:9",
                           "--prefill", "http://127.0.0.1:10", "--decode", "http://127.0.0.1:11")
        self.assertIn("--worker", out)
        self.assertIn("--prefill", out)

    def test_both_pools_are_required_and_bypass_is_vllm_only(self):
        self.assertIn("--decode", self.refused("--pd-mode", "vllm", "--prefill",
                                               "http://127.0.0.1:10"))
        self.assertIn("--pd-bypass-bytes", self.refused(
            "--pd-mode", "sglang", "--prefill", "http://127.0.0.1:10", "--decode",
            "http://127.0.0.1:11", "--pd-bypass-bytes", "10"))
        self.assertIn("bootstrap_port", self.refused(
            "--pd-mode", "sglang", "--prefill", "http://127.0.0.1:10?bootstrap_port=0",
            "--decode", "http://127.0.0.1:11"))


if __name__ == "__main__":
    unittest.main()
