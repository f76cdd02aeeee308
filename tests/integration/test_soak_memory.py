"""Soak: many distinct prompts through one router with a small memory budget.

A router with --memory-budget-bytes of a few MiB over three simulated workers
receives distinct long prompts from several client threads for a bounded time
(SOAK_SECONDS, default 40), or until SOAK_PROMPTS prompts were sent if that
is set first (the documented long run: SOAK_PROMPTS=1000000). Asserted:

  - the trees stay within the budget (radixmesh_memory_used_bytes <= budget
    plus one tick of inserts) and the broker's tier rises above 0 (normal)
    while /metrics shows it;
  - the router's RSS stays under its idle RSS + budget + a fixed overhead,
    and does not grow over the second half of the run (trees full, eviction
    keeps pace);
  - the longest tree-lock hold (radixmesh_lock_hold_max_seconds, measured by
    the tree) stays small under this load;
  - no request fails.
The figures are printed for docs/reliability.md.
"""
import http.client
import json
import os
import threading
import time
import unittest

import harness
from harness import HOST, Cleanup, free_port, request, wait_http_ok

SIM = "tools/sim_worker/radixmesh-sim-worker"
MODEL = "m"
BUDGET = 8 << 20
OVERHEAD = 96 << 20  # allocator slack, thread stacks, connection buffers
SECONDS = float(os.environ.get("SOAK_SECONDS", "40"))
PROMPTS = int(os.environ.get("SOAK_PROMPTS", "0"))  # 0: run for SECONDS
THREADS = 6
PROMPT_BYTES = 4096  # 64 blocks of 64 bytes per prompt


def metrics(port):
    status, _, body = request(port, "GET", "/metrics", timeout=5.0)
    assert status == 200, status
    out = {}
    for line in body.decode().splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


class SoakMemoryTest(Cleanup, unittest.TestCase):
    def test_distinct_prompts_stay_within_budget(self):
        workers = []
        for i in range(3):
            port = free_port()
            proc = self.spawn([harness.binary(SIM), "--host", HOST, "--port", port,
                               "--model", MODEL, "--decode-us-per-token", 0,
                               "--prefill-us-per-token", 0, "--id", f"w{i}"], f"soak-sim{i}")
            wait_http_ok(port, proc=proc)
            workers.append(f"http://{HOST}:{port}")
        port, admin = free_port(), free_port()
        args = [harness.binary("router/radixmesh"), "--host", HOST, "--port", port,
                "--admin-host", HOST, "--admin-port", admin, "--threads", 2,
                "--memory-budget-bytes", BUDGET, "--health-interval-ms", 500]
        for w in workers:
            args += ["--worker", w]
        router = self.spawn(args, "soak-router")
        wait_http_ok(port, "/readiness", timeout=15.0, proc=router)
        pid = router.p.pid
        rss_idle = rss_bytes(pid)

        sent = [0] * THREADS
        errors = []
        stop = threading.Event()

        def client(t):
            conn = http.client.HTTPConnection(HOST, port, timeout=10)
            i = 0
            while not stop.is_set() and i < 10_000_000:
                # Distinct from the first byte: every prompt is a new chain.
                head = f"soak t{t} n{i} "
                content = (head * (PROMPT_BYTES // len(head) + 1))[:PROMPT_BYTES]
                body = json.dumps({"model": MODEL, "max_tokens": 1,
                                   "messages": [{"role": "user", "content": content}]})
                try:
                    conn.request("POST", "/v1/chat/completions", body,
                                 {"Content-Type": "application/json"})
                    resp = conn.getresponse()
                    resp.read()
                    if resp.status != 200:
                        errors.append(resp.status)
                except OSError as e:
                    errors.append(repr(e))
                    conn.close()
                    conn = http.client.HTTPConnection(HOST, port, timeout=10)
                sent[t] += 1
                i += 1
            conn.close()

        threads = [threading.Thread(target=client, args=(t,), daemon=True)
                   for t in range(THREADS)]
        for th in threads:
            th.start()
        start = time.monotonic()
        samples = []  # (t, rss, used, tier, lock_hold)
        while time.monotonic() - start < SECONDS and not (PROMPTS and sum(sent) >= PROMPTS):
            time.sleep(1.0)
            m = metrics(admin)
            samples.append((time.monotonic() - start, rss_bytes(pid),
                            m.get("radixmesh_memory_used_bytes", 0),
                            m.get("radixmesh_memory_tier", 0),
                            m.get('radixmesh_lock_hold_max_seconds{lock="tree_shard"}', 0)))
        stop.set()
        for th in threads:
            th.join(timeout=15)
        elapsed = time.monotonic() - start
        total = sum(sent)
        m = metrics(admin)
        rss_max = max(s[1] for s in samples)
        used_max = max(s[2] for s in samples)
        tiers = sorted({int(s[3]) for s in samples})
        hold = max(max(s[4] for s in samples),
                   m.get('radixmesh_lock_hold_max_seconds{lock="tree_shard"}', 0))
        half = [s for s in samples if s[0] >= elapsed / 2]
        growth = (half[-1][1] - min(s[1] for s in half)) if half else 0
        # RSS at each quarter of the run: flat once the trees are full.
        quarters = [max(x[1] for x in samples if x[0] <= elapsed * q / 4) / 2**20
                    for q in (1, 2, 3, 4)]
        print(f"\n[soak] RSS max by quarter of the run: "
              f"{' / '.join(f'{q:.1f}' for q in quarters)} MiB", flush=True)
        print(f"\n[soak] {total} distinct prompts in {elapsed:.0f}s "
              f"({total / elapsed:.0f}/s), {len(errors)} errors; budget {BUDGET >> 20} MiB, "
              f"tree bytes max {used_max / 2**20:.1f} MiB, tiers seen {tiers}; RSS idle "
              f"{rss_idle / 2**20:.1f} MiB, max {rss_max / 2**20:.1f} MiB, growth over the "
              f"second half {growth / 2**20:.1f} MiB; longest tree-lock hold "
              f"{hold * 1e3:.2f} ms", flush=True)

        self.assertEqual(errors, [])
        self.assertGreater(total, 1000)
        self.assertIn("radixmesh_memory_tier", m)
        self.assertLessEqual(used_max, BUDGET * 1.25, "trees stay near the budget")
        self.assertTrue(any(t > 0 for t in tiers), f"broker tier rose under pressure: {tiers}")
        self.assertLess(rss_max, rss_idle + BUDGET + OVERHEAD)
        self.assertLess(growth, 16 << 20, "no RSS growth once the trees are full")
        # Wall time, so a holder preempted on a busy 2-core machine counts too.
        self.assertLess(hold, 0.2, "longest tree-lock hold")


if __name__ == "__main__":
    unittest.main()
