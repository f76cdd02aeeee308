"""Shared set-up for the router's integration tests: start simulated workers
and a radixmesh router over them on loopback, with ports chosen at run time.
"""
import json
import os
import shutil
import tempfile
import time

import harness

SIM = "tools/sim_worker/radixmesh-sim-worker"
ROUTER = "router/radixmesh"


def start_sims(test, n, *flags, models=("sim-model",)):
    """Starts n sim workers; returns [(port, proc, worker_id)]. Ids are w0..wN-1."""
    out = []
    for i in range(n):
        port = harness.free_port()
        args = [harness.binary(SIM), "--host", harness.HOST, "--port", port, "--id", f"w{i}"]
        for m in models:
            args += ["--model", m]
        proc = test.spawn(args + list(flags), f"sim-w{i}")
        out.append((port, proc, f"w{i}"))
    for port, proc, _ in out:
        harness.wait_http_ok(port, proc=proc)
    return out


def start_router(test, sims, *flags, policy="cache_aware", ready=True, name="router"):
    """Starts the router over the given sims on ports it picks itself
    (--port 0 --admin-port 0, read back from --port-file: no race for free
    ports); waits for /readiness (or /health when not ready). Returns
    (port, proc); proc.port and proc.admin_port name its ports."""
    port_dir = tempfile.mkdtemp(prefix="radixmesh-ports-")
    test.addCleanup(shutil.rmtree, port_dir, True)
    port_file = os.path.join(port_dir, "ports.json")
    args = [harness.binary(ROUTER), "--host", harness.HOST, "--port", 0,
            "--admin-port", 0, "--port-file", port_file, "--threads", "2", "--policy", policy,
            "--health-interval-ms", "200", "--log-level", "info",
            # Routing tests check which worker served (x-radixmesh-worker).
            "--expose-worker-address"]
    for sport, _, _ in sims:
        args += ["--worker", f"http://{harness.HOST}:{sport}"]
    proc = test.spawn(args + list(flags), name)

    def bound():
        if not proc.alive():
            raise RuntimeError(f"{name} exited early:\n{proc.output()[-3000:]}")
        with open(port_file) as f:
            return json.load(f)
    ports = harness.wait_until(bound, timeout=15, what=f"{name}'s --port-file")
    proc.port, proc.admin_port = ports["port"], ports["admin_port"]
    harness.wait_http_ok(proc.port, path="/readiness" if ready else "/health", proc=proc)
    return proc.port, proc


def chat_body(messages, max_tokens=1, stream=False, model="sim-model", **extra):
    body = {"model": model, "max_tokens": max_tokens, "messages": messages}
    if stream:
        body["stream"] = True
    body.update(extra)
    return body


def chat(port, messages, headers=None, **kw):
    """POST a chat request; returns (status, headers, parsed body or None)."""
    status, hdrs, data = harness.request(port, "POST", "/v1/chat/completions",
                                         chat_body(messages, **kw), headers=headers, timeout=30)
    try:
        parsed = json.loads(data) if data else None
    except ValueError:
        parsed = None
    return status, hdrs, parsed


def sim_metrics(port):
    status, _, data = harness.request(port, "GET", "/metrics")
    assert status == 200, status
    out = {}
    for line in data.decode().splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def words(n, seed):
    """Distinct text of about n bytes."""
    s, i = [], 0
    while sum(len(w) + 1 for w in s) < n:
        s.append(f"t{seed}y{i}")
        i += 1
    return " ".join(s)[:n]


def wait_status(port, path, want, timeout=10.0):
    def ok():
        status, _, _ = harness.request(port, "GET", path, timeout=1.0)
        return status == want
    return harness.wait_until(ok, timeout=timeout, what=f"GET {path} == {want}")


def now():
    return time.monotonic()
