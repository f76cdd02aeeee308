"""End to end: what the mesh buys. 8 simulated workers; a multi-turn workload
(tools/loadgen) where every turn goes to a random router. Cache hit ratio of
one router seeing all the traffic, of 3 routers with the mesh and of 3
routers without it, printed side by side. With the mesh, the ratio must
reach 0.9 x the single router's (the issue's target); without it, affinity
collapses.
"""
import json
import subprocess
import sys
import unittest

import harness
from harness import HOST, Cleanup, free_port, request, wait_http_ok, wait_until

SIM = "tools/sim_worker/radixmesh-sim-worker"
LOADGEN = "tools/loadgen/radixmesh-loadgen"
GOSSIP_MS = 100
MODEL = "m"


class MeshHitRatioTest(Cleanup, unittest.TestCase):
    def setUp(self):
        self.workers = []
        for i in range(8):
            port = free_port()
            proc = self.spawn([harness.binary(SIM), "--host", HOST, "--port", port,
                               "--model", MODEL, "--id", f"w{i}",
                               "--decode-us-per-token", 3000, "--prefill-us-per-token", 2],
                              f"hitratio-sim{i}")
            wait_http_ok(port, proc=proc)
            self.workers.append(f"http://{HOST}:{port}")

    def routers(self, n, mesh):
        out, seeds = [], []
        for i in range(n):
            port, admin = free_port(), free_port()
            args = [harness.binary("router/radixmesh"), "--host", HOST, "--port", port,
                    "--admin-host", HOST, "--admin-port", admin, "--threads", 1,
                    "--node-id", f"r{i}"]
            for w in self.workers:
                args += ["--worker", w]
            if mesh:
                mport = free_port()
                args += ["--mesh-port", mport, "--mesh-advertise", f"{HOST}:{mport}",
                         "--gossip-interval-ms", GOSSIP_MS]
                for s in seeds:
                    args += ["--peer", s]
                seeds.append(f"{HOST}:{mport}")
            proc = self.spawn(args, f"hitratio-r{i}-{'mesh' if mesh else 'solo'}")
            wait_http_ok(port, "/health", timeout=10.0, proc=proc)
            out.append((port, admin, proc))
        if mesh and n > 1:
            def all_alive():
                for _, admin, _ in out:
                    status, _, body = request(admin, "GET", "/admin/peers", timeout=2.0)
                    data = json.loads(body) if status == 200 else []
                    if isinstance(data, dict):
                        data = data.get("peers", [])
                    if sum(1 for p in data if p["state"] == "alive") < n - 1:
                        return False
                return True
            wait_until(all_alive, timeout=15.0, what="mesh formed")
        return out

    def run_load(self, routers, seed):
        flags = ["--json", "--workload", "multiturn", "--model", MODEL,
                 "--conversations", 24, "--turns", 5, "--system-prompts", 4,
                 "--system-bytes", 2048, "--turn-bytes", 256, "--max-tokens", 16,
                 "--concurrency", 4, "--seed", seed, "--duration", 60]
        for port, _, _ in routers:
            flags += ["--target", f"http://{HOST}:{port}"]
        p = subprocess.run([harness.binary(LOADGEN), *map(str, flags)],
                           capture_output=True, text=True, timeout=90)
        self.assertEqual(p.returncode, 0, p.stderr)
        return json.loads(p.stdout)["cache_hit_ratio"]

    def stop_all(self, routers):
        for _, _, proc in routers:
            proc.stop()

    def test_hit_ratio_with_and_without_the_mesh(self):
        # Each configuration runs against workers whose caches already hold
        # the earlier runs' prompts; a different seed gives new conversations.
        solo = self.routers(1, mesh=False)
        single = self.run_load(solo, seed=1)
        self.stop_all(solo)

        meshed = self.routers(3, mesh=True)
        with_mesh = self.run_load(meshed, seed=2)
        self.stop_all(meshed)

        apart = self.routers(3, mesh=False)
        without = self.run_load(apart, seed=3)
        self.stop_all(apart)

        print(f"\ncache hit ratio: single router {single:.3f} | 3 routers + mesh {with_mesh:.3f}"
              f" | 3 routers, no mesh {without:.3f}", file=sys.stderr)
        self.assertGreater(single, 0.3)
        self.assertGreaterEqual(with_mesh, 0.9 * single)
        self.assertGreater(with_mesh, without)


if __name__ == "__main__":
    unittest.main()
