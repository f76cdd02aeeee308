"""Mesh tree sync with real routers and simulated workers on loopback.

Three routers in one mesh front the same three workers. A conversation whose
turns land on different routers ends up in every router's tree (equal
per-model digests in GET /admin/trees) within a few gossip rounds; the later
turn's delta carries only its new blocks (anchors). A router that joins late
converges by snapshot. Load of one router is visible to the others.
"""
import json
import tempfile
import time
import unittest

import harness
from harness import HOST, Cleanup, free_port, post_json, request, wait_http_ok, wait_until

GOSSIP_MS = 200
SIM = "tools/sim_worker/radixmesh-sim-worker"
MODEL = "m"


def metric(admin_port, name, labels=""):
    status, _, body = request(admin_port, "GET", "/metrics", timeout=2.0)
    if status != 200:
        raise RuntimeError(f"/metrics: {status}")
    want = f"{name}{{{labels}}}" if labels else name
    total = 0.0
    for line in body.decode().splitlines():
        if line.startswith(want + " ") or (not labels and line.startswith(name + "{")):
            total += float(line.split()[-1])
    return total


def tree(admin_port):
    status, _, body = request(admin_port, "GET", f"/admin/trees?model={MODEL}", timeout=2.0)
    if status != 200:
        return None
    trees = json.loads(body).get("trees", [])
    return trees[0] if trees else None


def digest(admin_port):
    t = tree(admin_port)
    return t["digest"] if t and t.get("blocks", 0) > 0 else None


def text(n, seed):
    words, i = [], 0
    while sum(len(w) + 1 for w in words) < n:
        words.append(f"s{seed}w{i}")
        i += 1
    return " ".join(words)[:n]


class Router:
    def __init__(self, test, name, workers, seeds=()):
        self.name = name
        self.port = free_port()
        self.admin_port = free_port()
        self.mesh_port = free_port()
        self.address = f"{HOST}:{self.mesh_port}"
        args = [harness.binary("router/radixmesh"),
                "--host", HOST, "--port", self.port,
                "--admin-host", HOST, "--admin-port", self.admin_port,
                "--threads", 1, "--node-id", name,
                "--mesh-port", self.mesh_port, "--mesh-advertise", self.address,
                "--gossip-interval-ms", GOSSIP_MS]
        for w in workers:
            args += ["--worker", w]
        for s in seeds:
            args += ["--peer", s]
        self.proc = test.spawn(args, f"meshsync-{name}")
        wait_http_ok(self.port, "/health", timeout=10.0, proc=self.proc)

    def chat(self, messages):
        status, body, _ = post_json(self.port, "/v1/chat/completions",
                                    {"model": MODEL, "max_tokens": 2, "messages": messages})
        if status != 200:
            raise AssertionError(f"{self.name}: chat status {status}: {body}")
        return body["choices"][0]["message"]["content"]

    def alive_peers(self):
        status, _, body = request(self.admin_port, "GET", "/admin/peers", timeout=2.0)
        if status != 200:
            return set()
        data = json.loads(body)
        if isinstance(data, dict):
            data = data.get("peers", [])
        return {p["node_id"] for p in data if p["state"] == "alive"}


class MeshSyncTest(Cleanup, unittest.TestCase):
    def setUp(self):
        self.workers = []
        for i in range(3):
            port = free_port()
            proc = self.spawn([harness.binary(SIM), "--host", HOST, "--port", port,
                               "--model", MODEL, "--decode-us-per-token", 100,
                               "--prefill-us-per-token", 0, "--id", f"w{i}"], f"meshsync-sim{i}")
            wait_http_ok(port, proc=proc)
            self.workers.append(f"http://{HOST}:{port}")

    def mesh(self, n):
        first = Router(self, "r0", self.workers)
        routers = [first] + [Router(self, f"r{i}", self.workers, seeds=[first.address])
                             for i in range(1, n)]
        names = {r.name for r in routers}
        wait_until(lambda: all(r.alive_peers() >= names - {r.name} for r in routers),
                   timeout=15.0, what="every router sees the others alive")
        return routers

    def converged(self, routers):
        ds = [digest(r.admin_port) for r in routers]
        return ds[0] is not None and all(d == ds[0] for d in ds)

    def test_turns_on_different_routers_converge_everywhere(self):
        routers = self.mesh(3)
        system = {"role": "system", "content": text(2000, 1)}
        messages = [system, {"role": "user", "content": text(600, 2)}]
        reply = routers[0].chat(messages)
        t0 = time.monotonic()
        wait_until(lambda: self.converged(routers), timeout=10.0,
                   what="first turn in every router's tree")
        first_turn_s = time.monotonic() - t0
        # Next turn on another router: only its new blocks travel.
        batch_bytes_before = metric(routers[1].admin_port, "radixmesh_mesh_bytes_sent_total",
                                    'type="delta_batch"')
        messages += [{"role": "assistant", "content": reply},
                     {"role": "user", "content": text(300, 3)}]
        routers[1].chat(messages)
        wait_until(lambda: self.converged(routers), timeout=10.0,
                   what="second turn in every router's tree")
        sent = metric(routers[1].admin_port, "radixmesh_mesh_bytes_sent_total",
                      'type="delta_batch"') - batch_bytes_before
        # The whole prompt is ~3 KB (~45 blocks of 64 bytes); the new tail is
        # ~6 blocks. Two peers, each sent the tail plus headers, well under
        # what the full chain (45 x 8 bytes per peer) would cost.
        self.assertGreater(sent, 0)
        self.assertLess(sent, 2 * (20 * 8 + 120))
        self.assertLess(first_turn_s, 10 * GOSSIP_MS / 1000.0 + 2.0)
        applied = sum(metric(r.admin_port, "radixmesh_mesh_deltas_applied_total",
                             'kind="insert"') for r in routers)
        self.assertGreaterEqual(applied, 4)  # two inserts, each on two peers

    def test_late_router_converges_by_snapshot(self):
        routers = self.mesh(2)
        for i in range(20):
            routers[i % 2].chat([{"role": "user", "content": text(1500, 100 + i)}])
        wait_until(lambda: self.converged(routers), timeout=10.0, what="two routers converge")
        late = Router(self, "late", self.workers, seeds=[routers[0].address])
        wait_until(lambda: self.converged(routers + [late]), timeout=15.0,
                   what="late router converges")
        # The merge is counted when its completion runs on the mesh thread
        # (next frame or gossip tick), just after the tree changed.
        wait_until(lambda: metric(late.admin_port, "radixmesh_mesh_snapshots_received_total") >= 1,
                   timeout=5.0, what="snapshot counted on the late router")


if __name__ == "__main__":
    unittest.main()
