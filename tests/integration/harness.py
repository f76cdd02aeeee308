"""Shared helpers for integration tests: start the real binaries on loopback
with ports chosen at run time, talk HTTP to them, and always clean up.

Only loopback addresses are used. Every wait is bounded in time.
"""
import http.client
import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
# free_port: a loopback port never handed out before by this process (the
# OS may offer a just-closed one again, and --port and --admin-port must
# differ); one copy, shared with the demo and the benchmarks.
sys.path.insert(0, str(ROOT / "tools" / "bench"))
from bench_lib import free_port  # noqa: E402,F401
BUILD = pathlib.Path(os.environ.get("RADIXMESH_BUILD", ROOT / "build"))
HOST = "127.0.0.1"


def sanitized_build():
    """True when BUILD was configured with a sanitizer (build-asan/). Their
    runtimes need descriptors of their own: UBSan's vptr check probes memory
    through a pipe and reports a false "invalid vptr" when none is left."""
    try:
        info = json.loads((BUILD / "meson-info" / "intro-buildoptions.json").read_text())
    except (OSError, ValueError):
        return False
    return any(o.get("name") == "b_sanitize" and o.get("value") not in ("none", "")
               for o in info)


def binary(rel):
    """Path of a built binary, e.g. binary('router/radixmesh')."""
    p = BUILD / rel
    if not p.exists():
        raise FileNotFoundError(f"{p} is not built")
    return str(p)


class Proc:
    """A child process whose output goes to a log file; killed on stop()."""

    def __init__(self, args, name, env=None):
        self.name = name
        self.args = [str(a) for a in args]
        logdir = BUILD / "test-logs"
        logdir.mkdir(parents=True, exist_ok=True)
        self.log_path = logdir / f"{name}-{os.getpid()}-{time.monotonic_ns()}.log"
        self.log = open(self.log_path, "wb")
        self.p = subprocess.Popen(self.args, stdout=self.log, stderr=subprocess.STDOUT,
                                  env=dict(os.environ, **(env or {})),
                                  start_new_session=True)

    def alive(self):
        return self.p.poll() is None

    def output(self):
        self.log.flush()
        return self.log_path.read_text(errors="replace")

    def signal(self, sig):
        if self.alive():
            self.p.send_signal(sig)

    def stop(self, sig=None, timeout=10.0):
        """Stops the process (SIGTERM, then SIGKILL after timeout); returns its exit code."""
        sig = signal.SIGTERM if sig is None else sig  # the method above shadows the module here
        if self.alive():
            self.p.send_signal(sig)
            try:
                self.p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(timeout=5)
        self.log.close()
        return self.p.returncode

    def kill(self):
        return self.stop(sig=signal.SIGKILL, timeout=5)


class Cleanup:
    """Mixin for unittest.TestCase: self.spawn() processes are stopped in tearDown."""

    def spawn(self, args, name, env=None):
        proc = Proc(args, name, env)
        self.addCleanup(proc.stop)
        return proc


def wait_until(pred, timeout=10.0, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    last_exc = None
    while time.monotonic() < deadline:
        try:
            v = pred()
            if v:
                return v
        except Exception as e:  # noqa: BLE001 - polling until ready
            last_exc = e
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}: {last_exc}")


def wait_http_ok(port, path="/health", timeout=10.0, proc=None):
    def ready():
        if proc is not None and not proc.alive():
            raise RuntimeError(f"{proc.name} exited early:\n{proc.output()[-3000:]}")
        status, _, _ = request(port, "GET", path, timeout=1.0)
        return status == 200
    return wait_until(ready, timeout=timeout, what=f"GET {path} on port {port}")


def request(port, method, path, body=None, headers=None, timeout=10.0, host=HOST):
    """One HTTP/1.1 request; returns (status, headers dict lower-cased, body bytes)."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            headers = dict(headers or {}, **{"Content-Type": "application/json"})
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        data = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data
    finally:
        conn.close()


def post_json(port, path, obj, headers=None, timeout=30.0):
    """POST a JSON body; returns (status, parsed JSON or None, raw bytes)."""
    status, _, data = request(port, "POST", path, obj, headers, timeout)
    try:
        parsed = json.loads(data) if data else None
    except ValueError:
        parsed = None
    return status, parsed, data


def sse_events(port, path, obj, timeout=30.0):
    """POST a streaming request; yields (arrival_time, data_str) per SSE event as it arrives."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    body = json.dumps(obj).encode()
    conn.request("POST", path, body=body, headers={"Content-Type": "application/json"})
    r = conn.getresponse()
    if r.status != 200:
        raise RuntimeError(f"status {r.status}: {r.read()[:500]!r}")
    try:
        buf = b""
        while True:
            chunk = r.read1(65536)
            if not chunk:
                return
            buf += chunk
            while b"\n\n" in buf:
                event, buf = buf.split(b"\n\n", 1)
                now = time.monotonic()
                for line in event.split(b"\n"):
                    if line.startswith(b"data:"):
                        yield now, line[5:].strip().decode()
    finally:
        conn.close()
