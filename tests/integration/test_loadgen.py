"""Black-box tests of the load generator (radixmesh-loadgen) against two
simulated workers on loopback: the --json report has the documented fields,
its counts add up, the run is bounded, failures are classified, and
perfect affinity (--pin-by-conversation) shows a clearly higher cache hit
ratio than random targets on a multi-turn workload.
"""
import json
import os
import subprocess
import tempfile
import unittest

import harness

SIM = "tools/sim_worker/radixmesh-sim-worker"
LOADGEN = "tools/loadgen/radixmesh-loadgen"

# Fields of the --json report documented in docs/load-generator.md.
TOP_FIELDS = {"workload", "endpoint", "mode", "concurrency", "rate", "stream", "seed",
              "targets", "pinned", "per_target", "requests", "duration_s", "throughput_rps",
              "output_tokens_per_s", "ttft_ms", "latency_ms", "tokens", "cache_hit_ratio",
              "workers"}
PCT_FIELDS = {"p50", "p90", "p99", "mean", "max"}


class LoadgenTest(harness.Cleanup, unittest.TestCase):
    def setUp(self):
        self.urls = []
        for i in range(2):
            port = harness.free_port()
            proc = self.spawn([harness.binary(SIM), "--port", port, "--id", f"w{i}",
                               "--decode-us-per-token", "200", "--prefill-us-per-token", "2"],
                              f"sim{i}")
            harness.wait_http_ok(port, proc=proc)
            self.urls.append(f"http://{harness.HOST}:{port}")

    def loadgen(self, *flags, expect_ok=True):
        p = subprocess.run([harness.binary(LOADGEN), "--json", *map(str, flags)],
                           capture_output=True, text=True, timeout=60)
        if expect_ok:
            self.assertEqual(p.returncode, 0, p.stderr)
        return json.loads(p.stdout)

    def targets(self):
        return [a for u in self.urls for a in ("--target", u)]

    def test_trace_replay_shares_prefixes_by_hash_id_and_keeps_time(self):
        # 12 requests over 1.2 s of trace time, replayed 4x faster: the run
        # takes at least 0.3 s. Ids 1..4 open every prompt, so after the
        # first request to each worker most prompt tokens are cached.
        lines = [json.dumps({"timestamp": 100 * i, "input_length": 2048 + 100,
                             "output_length": 2, "hash_ids": [1, 2, 3, 4, 100 + i]})
                 for i in range(12)]
        with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
            f.write("\n".join(lines) + "\n")
            path = f.name
        try:
            r = self.loadgen(*self.targets(), "--trace", path, "--trace-speedup", 4,
                             "--trace-block-tokens", 512)
        finally:
            os.unlink(path)
        self.assertEqual(r["workload"], "trace")
        self.assertEqual(r["requests"]["sent"], 12)
        self.assertEqual(r["requests"]["ok"], 12)
        self.assertEqual(r["tokens"]["completion"], 24)
        self.assertGreaterEqual(r["duration_s"], 1.1 / 4)
        # 12 prompts of 2148 tokens; at most two cold starts of 2048 shared tokens.
        self.assertGreater(r["cache_hit_ratio"], 0.75)

    def test_trace_with_a_bad_line_is_refused(self):
        with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
            f.write('{"timestamp": 0, "input_length": 10, "output_length": 1, "hash_ids": [1]}\n')
            f.write('{"timestamp": 5}\n')
            path = f.name
        try:
            p = subprocess.run([harness.binary(LOADGEN), *self.targets(), "--trace", path],
                               capture_output=True, text=True, timeout=30)
        finally:
            os.unlink(path)
        self.assertEqual(p.returncode, 2)
        self.assertIn("line 2:", p.stderr)

    def test_json_report_fields_and_counts(self):
        r = self.loadgen(*self.targets(), "--workload", "mixed", "--conversations", 4,
                         "--turns", 3, "--groups", 2, "--questions", 3, "--unique-prompts", 4,
                         "--max-tokens", 4, "--concurrency", 4, "--stream")
        self.assertLessEqual(TOP_FIELDS, set(r))
        self.assertLessEqual(PCT_FIELDS, set(r["ttft_ms"]))
        self.assertLessEqual(PCT_FIELDS, set(r["latency_ms"]))
        req = r["requests"]
        planned = 4 * 3 + 2 * 3 + 4
        self.assertEqual(req["planned"], planned)
        self.assertEqual(req["sent"], planned)
        self.assertEqual(req["ok"] + req["failed"], req["sent"])
        self.assertEqual(req["failed"], 0, req)
        self.assertEqual(sum(r["workers"]["per_worker"].values()), req["ok"])
        self.assertEqual(set(r["workers"]["per_worker"]), {"w0", "w1"})
        self.assertEqual(set(r["per_target"]), set(self.urls))
        self.assertEqual(sum(r["per_target"].values()), req["sent"])
        self.assertEqual(r["tokens"]["completion"], 4 * planned)
        self.assertEqual(r["tokens"]["responses_without_usage"], 0)
        self.assertGreater(r["cache_hit_ratio"], 0)
        self.assertLessEqual(r["ttft_ms"]["p50"], r["latency_ms"]["p50"])
        self.assertLessEqual(r["ttft_ms"]["p50"], r["ttft_ms"]["p99"])
        self.assertGreater(r["throughput_rps"], 0)

    def test_samples_file_has_one_line_per_request(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "samples.jsonl")
            r = self.loadgen(*self.targets(), "--workload", "multiturn", "--conversations", 3,
                             "--turns", 2, "--max-tokens", 2, "--stream", "--samples", path)
            with open(path) as f:
                lines = [json.loads(line) for line in f]
        self.assertEqual(len(lines), r["requests"]["sent"])
        self.assertEqual(sorted((x["session"], x["turn"]) for x in lines),
                         [(c, t) for c in range(3) for t in range(2)])
        for x in lines:
            self.assertEqual(x["outcome"], "ok")
            self.assertIn(x["worker"], ("w0", "w1"))
            self.assertIn(x["target"], self.urls)
            self.assertLessEqual(x["ttft_ms"], x["latency_ms"])
        second_turns = [x for x in lines if x["turn"] == 1]
        self.assertTrue(all(x["prompt_tokens"] > 0 for x in second_turns))

    def test_bounded_by_requests(self):
        r = self.loadgen(*self.targets(), "--workload", "unique", "--unique-prompts", 50,
                         "--requests", 7, "--max-tokens", 2)
        self.assertEqual(r["requests"]["planned"], 7)
        self.assertEqual(r["requests"]["sent"], 7)
        self.assertEqual(r["requests"]["ok"], 7)
        # Open loop is bounded the same way.
        r = self.loadgen(*self.targets(), "--workload", "shared-prefix", "--rate", 200,
                         "--requests", 9, "--max-tokens", 2)
        self.assertEqual(r["mode"], "open")
        self.assertEqual(r["requests"]["sent"], 9)

    def test_bounded_by_duration(self):
        r = self.loadgen(*self.targets(), "--workload", "unique", "--unique-prompts", 100000,
                         "--duration", 0.5, "--concurrency", 2, "--max-tokens", 2)
        self.assertGreater(r["requests"]["sent"], 0)
        self.assertLess(r["requests"]["sent"], 100000)
        self.assertLess(r["duration_s"], 5)

    def test_pinned_multiturn_hits_more_than_random_targets(self):
        shape = ["--workload", "multiturn", "--conversations", 12, "--turns", 6,
                 "--system-prompts", 12, "--system-bytes", 256, "--turn-bytes", 800,
                 "--max-tokens", 8, "--concurrency", 6]
        # Different seeds: the second run must not reuse the first one's cache.
        rnd = self.loadgen(*self.targets(), *shape, "--seed", 3)
        pin = self.loadgen("--pin-by-conversation", ",".join(self.urls), *shape, "--seed", 7)
        self.assertTrue(pin["pinned"])
        self.assertEqual(rnd["requests"]["ok"], 72)
        self.assertEqual(pin["requests"]["ok"], 72)
        # Pinned: every later turn finds its whole history cached.
        self.assertGreater(pin["cache_hit_ratio"], 0.6)
        self.assertGreater(pin["cache_hit_ratio"], rnd["cache_hit_ratio"] + 0.15,
                           (pin["cache_hit_ratio"], rnd["cache_hit_ratio"]))
        # Conversation c on worker c % 2: an even split.
        self.assertEqual(sorted(pin["workers"]["per_worker"].values()), [36, 36])

    def test_failures_are_classified(self):
        port = harness.free_port()
        proc = self.spawn([harness.binary(SIM), "--port", port, "--error-rate", "1.0"], "sim500")
        harness.wait_http_ok(port, proc=proc)
        dead = f"http://{harness.HOST}:{harness.free_port()}"  # nothing listens there
        r = self.loadgen("--target", f"http://{harness.HOST}:{port}", "--workload", "unique",
                         "--unique-prompts", 5, expect_ok=False)
        self.assertEqual(r["requests"]["failed_by_cause"], {"http_500": 5})
        r = self.loadgen("--target", dead, "--workload", "unique", "--unique-prompts", 3,
                         expect_ok=False)
        self.assertEqual(r["requests"]["failed_by_cause"], {"connect": 3})
        self.assertEqual(r["requests"]["ok"], 0)

    def test_timeout_is_a_cause(self):
        port = harness.free_port()
        proc = self.spawn([harness.binary(SIM), "--port", port, "--decode-us-per-token",
                           "100000"], "slowsim")
        harness.wait_http_ok(port, proc=proc)
        r = self.loadgen("--target", f"http://{harness.HOST}:{port}", "--workload", "unique",
                         "--unique-prompts", 2, "--max-tokens", 50, "--timeout-ms", 200,
                         expect_ok=False)
        self.assertEqual(r["requests"]["failed_by_cause"], {"timeout": 2})


if __name__ == "__main__":
    unittest.main()
