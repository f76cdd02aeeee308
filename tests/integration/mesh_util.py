"""Shared set-up of the mesh integration tests: routers joined in one mesh on
loopback, simulated workers behind them, and the admin reads the tests make
(peers, metrics, per-model tree digests).
"""
import json
import os

import harness
from harness import HOST, free_port, post_json, request, wait_http_ok, wait_until

GOSSIP_MS = 200
SIM = "tools/sim_worker/radixmesh-sim-worker"
MODEL = "m"


def metric(admin_port, name, labels=""):
    """One sample of /metrics when labels are given (e.g. 'state="alive"'),
    else the sum of every sample of the metric."""
    status, _, body = request(admin_port, "GET", "/metrics", timeout=2.0)
    if status != 200:
        raise RuntimeError(f"/metrics: {status}")
    total = 0.0
    for line in body.decode().splitlines():
        if labels:
            if line.startswith(f"{name}{{{labels}}} "):
                return float(line.split()[-1])
        elif line.startswith(name + " ") or line.startswith(name + "{"):
            total += float(line.split()[-1])
    return total


def peers(admin_port):
    """{node_id: peer} as GET /admin/peers lists them."""
    status, _, body = request(admin_port, "GET", "/admin/peers", timeout=2.0)
    if status != 200:
        raise RuntimeError(f"/admin/peers: {status}")
    data = json.loads(body)
    if isinstance(data, dict):
        data = data.get("peers", [])
    return {p["node_id"]: p for p in data}


def tree(admin_port, model=MODEL):
    """The model's entry of GET /admin/trees, or None (no tree, or no answer)."""
    try:
        status, _, body = request(admin_port, "GET", f"/admin/trees?model={model}", timeout=2.0)
    except OSError:
        return None
    if status != 200:
        return None
    trees = json.loads(body).get("trees", [])
    return trees[0] if trees else None


def digest(admin_port, model=MODEL):
    """The model tree's digest, or None while it is empty or unreachable."""
    t = tree(admin_port, model)
    return t["digest"] if t and t.get("blocks", 0) > 0 else None


def text(n, seed, tag="s"):
    """Distinct text of n bytes for a seed."""
    words, i = [], 0
    while sum(len(w) + 1 for w in words) < n:
        words.append(f"{tag}{seed}w{i}")
        i += 1
    return " ".join(words)[:n]


def start_sims(test, n, name):
    """n simulated workers serving MODEL (0.1 ms per output token, no prefill
    delay); returns their URLs."""
    urls = []
    for i in range(n):
        port = free_port()
        proc = test.spawn([harness.binary(SIM), "--host", HOST, "--port", port,
                           "--model", MODEL, "--decode-us-per-token", 100,
                           "--prefill-us-per-token", 0, "--id", f"w{i}"], f"{name}-sim{i}")
        wait_http_ok(port, proc=proc)
        urls.append(f"http://{HOST}:{port}")
    return urls


class MeshRouter:
    """One router process in the mesh. With workers it is ready when
    /readiness answers; without, when /health does. start() again after a
    kill restarts it on the same ports."""

    def __init__(self, test, name, workers=(), seeds=(), secret=None, label="mesh",
                 gossip_ms=GOSSIP_MS, extra_args=(), mesh_port=None):
        """gossip_ms None: the router's default gossip interval; mesh_port:
        one chosen beforehand (e.g. named in another router's flags)."""
        self.test, self.name, self.label = test, name, label
        self.gossip_ms, self.extra_args = gossip_ms, list(extra_args)
        self.workers, self.seeds = list(workers), list(seeds)
        self.port, self.admin_port = free_port(), free_port()
        self.mesh_port = mesh_port or free_port()
        self.address = f"{HOST}:{self.mesh_port}"
        self.secret_file = None
        if secret is not None:
            self.secret_file = os.path.join(test.tmp, f"{name}.secret")
            with open(self.secret_file, "w") as f:
                f.write(secret + "\n")
        self.start()

    def start(self):
        args = [harness.binary("router/radixmesh"),
                "--host", HOST, "--port", self.port,
                "--admin-host", HOST, "--admin-port", self.admin_port,
                "--threads", 1, "--node-id", self.name,
                "--mesh-port", self.mesh_port, "--mesh-advertise", self.address,
                "--health-interval-ms", 200,
                # Tests check which worker served (x-radixmesh-worker).
                "--expose-worker-address"] + self.extra_args
        if self.gossip_ms is not None:
            args += ["--gossip-interval-ms", self.gossip_ms]
        for w in self.workers:
            args += ["--worker", w]
        for s in self.seeds:
            args += ["--peer", s]
        if self.secret_file:
            args += ["--mesh-secret-file", self.secret_file]
        self.proc = self.test.spawn(args, f"{self.label}-{self.name}")
        wait_http_ok(self.port, "/readiness" if self.workers else "/health", timeout=15.0,
                     proc=self.proc)

    def chat(self, messages):
        """One chat through this router; returns the reply text."""
        status, body, _ = post_json(self.port, "/v1/chat/completions",
                                    {"model": MODEL, "max_tokens": 2, "messages": messages})
        if status != 200:
            raise AssertionError(f"{self.name}: chat status {status}: {body}")
        return body["choices"][0]["message"]["content"]

    def peers(self):
        return peers(self.admin_port)

    def alive_peers(self):
        try:
            return {n for n, p in self.peers().items() if p["state"] == "alive"}
        except (OSError, RuntimeError):
            return set()

    def sees(self, states):
        """True when this router sees exactly these {node_id: state}."""
        p = self.peers()
        return all(n in p and p[n]["state"] == s for n, s in states.items())


def start_mesh(test, workers, n, label="mesh", timeout=20.0):
    """n routers over the same workers, r1.. seeded with r0; waits until every
    router sees every other alive."""
    first = MeshRouter(test, "r0", workers, label=label)
    routers = [first] + [MeshRouter(test, f"r{i}", workers, seeds=[first.address], label=label)
                         for i in range(1, n)]
    wait_alive(routers, timeout)
    return routers


def wait_alive(routers, timeout=20.0):
    names = {r.name for r in routers}
    wait_until(lambda: all(r.alive_peers() >= names - {r.name} for r in routers),
               timeout=timeout, what="every router sees the others alive")


def converged(routers, model=MODEL):
    """Every router's tree for the model has the same non-empty digest."""
    ds = [digest(r.admin_port, model) for r in routers]
    return ds[0] is not None and all(d == ds[0] for d in ds)
