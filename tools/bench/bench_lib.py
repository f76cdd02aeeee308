"""Shared pieces of the benchmark runner (tools/bench/run): building, process
management on loopback, the simulated workers / routers / load generator, RSS
and load-average readings, result files.

Contract: every process started here is registered with a Cluster and stopped
(SIGTERM, then SIGKILL after a bounded wait) when the Cluster closes; every
wait is bounded in time. Only 127.0.0.1 is used. Python 3 stdlib only.
"""
import json
import os
import pathlib
import random
import signal
import socket
import subprocess
import time
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
MODEL = "sim-model"
SIM = "tools/sim_worker/radixmesh-sim-worker"
ROUTER = "router/radixmesh"
LOADGEN = "tools/loadgen/radixmesh-loadgen"


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def loadavg():
    """The 1-minute load average, recorded next to every result."""
    try:
        return float(pathlib.Path("/proc/loadavg").read_text().split()[0])
    except OSError:
        return -1.0


def machine():
    cpu = "unknown"
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "loadavg_1m": loadavg()}


def ensure_built(build, targets):
    """Configures build/ if needed and builds the given ninja targets (-j2)."""
    build = pathlib.Path(build)
    if not (build / "build.ninja").exists():
        log(f"configuring {build}")
        subprocess.run(["meson", "setup", str(build), "--buildtype=release"], cwd=ROOT,
                       check=True, stdout=subprocess.DEVNULL)
    missing = [t for t in targets if not (build / t).exists()]
    log(f"building {' '.join(targets)}" + (f" (missing: {len(missing)})" if missing else ""))
    subprocess.run(["ninja", "-C", str(build), "-j2", *targets], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)


_HANDED_OUT = set()


def _ephemeral_low():
    try:
        return int(pathlib.Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


# Ports come from below the kernel's ephemeral range: a port the OS offers
# for bind(0) is one it may also give any outbound connection of a suite
# running beside this one before the process under test binds it.
_PORT_LOW = 10000
_PORT_HIGH = max(_PORT_LOW + 1000, _ephemeral_low())
_PORT_RNG = random.Random(os.getpid() ^ time.monotonic_ns())


def free_port():
    """A free loopback port outside the ephemeral range, never one handed out
    before by this process (the OS may offer a just-closed port again)."""
    for _ in range(200):
        port = _PORT_RNG.randrange(_PORT_LOW, _PORT_HIGH)
        if port in _HANDED_OUT:
            continue
        with socket.socket() as s:
            try:
                s.bind((HOST, port))
            except OSError:
                continue
        _HANDED_OUT.add(port)
        return port
    raise RuntimeError("no free loopback port after 200 tries")


def http_get(port, path, timeout=2.0):
    with urllib.request.urlopen(f"http://{HOST}:{port}{path}", timeout=timeout) as r:
        return r.status, r.read()


def wait_ok(port, path="/health", timeout=15.0, proc=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process for port {port} exited ({proc.returncode})")
        try:
            if http_get(port, path, timeout=1.0)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"{HOST}:{port}{path} not ready after {timeout} s")


def rss_bytes(pid):
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def cpu_seconds(pid):
    """User + system CPU time of a process so far (/proc/PID/stat)."""
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def sched_seconds(pid, thread=None):
    """CPU of every thread of a process so far (or of the threads named
    `thread`), from the scheduler's nanosecond accounting
    (/proc/PID/task/TID/sched, se.sum_exec_runtime in ms): finer than the
    10 ms ticks of cpu_seconds."""
    total = 0.0
    for task in pathlib.Path(f"/proc/{pid}/task").iterdir():
        try:
            if thread and (task / "comm").read_text().strip() != thread:
                continue
            for line in (task / "sched").read_text().splitlines():
                if line.startswith("se.sum_exec_runtime"):
                    total += float(line.split(":")[1]) / 1000.0
        except OSError:
            pass  # a thread that just ended
    return total


def metric_sum(admin_port, name, match=""):
    """Sum of a metric's samples on a router's /metrics whose line contains
    `match` (e.g. a label pair); 0 when absent. Only that metric: a longer
    name that starts with it does not count."""
    total = 0.0
    for line in http_get(admin_port, "/metrics")[1].decode().splitlines():
        if line.startswith((name + "{", name + " ")) and match in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


class Cluster:
    """Simulated workers and routers of one configuration; a context manager
    that stops everything it started."""

    def __init__(self, build, logdir):
        self.build = pathlib.Path(build)
        self.logdir = pathlib.Path(logdir)
        self.logdir.mkdir(parents=True, exist_ok=True)
        self.procs = []
        self.workers = []   # URLs
        self.routers = []   # dicts: port, admin, proc

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def spawn(self, args, name):
        out = open(self.logdir / f"{name}.log", "wb")
        p = subprocess.Popen([str(a) for a in args], stdout=out, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, cwd=ROOT, start_new_session=True)
        out.close()
        self.procs.append(p)
        return p

    def add_workers(self, n, prefill_us=50, decode_us=2000, kv_tokens=32768, extra=()):
        for _ in range(n):
            i = len(self.workers)
            port = free_port()
            p = self.spawn([self.build / SIM, "--host", HOST, "--port", port, "--model", MODEL,
                            "--id", f"w{i}", "--prefill-us-per-token", prefill_us,
                            "--decode-us-per-token", decode_us, "--kv-capacity-tokens", kv_tokens,
                            "--concurrency", 16, "--max-queue", 4096, *extra], f"sim{i}")
            wait_ok(port, proc=p)
            self.workers.append(f"http://{HOST}:{port}")
        return self.workers

    def add_routers(self, n, policy="cache_aware", mesh=False, gossip_ms=200, extra=()):
        seeds = []
        for i in range(n):
            port, admin = free_port(), free_port()
            args = [self.build / ROUTER, "--host", HOST, "--port", port, "--admin-host", HOST,
                    "--admin-port", admin, "--threads", 1, "--policy", policy,
                    "--node-id", f"r{i}", "--health-interval-ms", 500, *extra]
            for w in self.workers:
                args += ["--worker", w]
            if mesh:
                mport = free_port()
                args += ["--mesh-port", mport, "--mesh-advertise", f"{HOST}:{mport}",
                         "--gossip-interval-ms", gossip_ms]
                for s in seeds:
                    args += ["--peer", s]
                seeds.append(f"{HOST}:{mport}")
            p = self.spawn(args, f"router{i}-{policy}{'-mesh' if mesh else ''}")
            wait_ok(port, "/readiness", timeout=20.0, proc=p)
            self.routers.append({"port": port, "admin": admin, "proc": p})
        if mesh and n > 1:
            self.wait_mesh(n)
        return [f"http://{HOST}:{r['port']}" for r in self.routers]

    def wait_mesh(self, n, timeout=20.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ok = True
            for r in self.routers:
                try:
                    data = json.loads(http_get(r["admin"], "/admin/peers")[1])
                except (OSError, ValueError):
                    ok = False
                    break
                if isinstance(data, dict):
                    data = data.get("peers", [])
                if sum(1 for p in data if p.get("state") == "alive") < n - 1:
                    ok = False
                    break
            if ok:
                return
            time.sleep(0.1)
        raise TimeoutError(f"mesh of {n} routers did not form in {timeout} s")

    def loadgen(self, flags, targets=None, pin=None, samples=None, timeout=240):
        args = [self.build / LOADGEN, "--json", "--model", MODEL, *flags]
        if pin:
            args += ["--pin-by-conversation", ",".join(pin)]
        for t in targets or []:
            args += ["--target", t]
        if samples:
            args += ["--samples", samples]
        p = subprocess.run([str(a) for a in args], capture_output=True, text=True,
                           timeout=timeout, cwd=ROOT)
        if p.returncode != 0:
            raise RuntimeError(f"loadgen failed ({p.returncode}): {p.stderr[-2000:]}")
        return json.loads(p.stdout)

    def close(self):
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        for p in self.procs:
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=5)
        self.procs.clear()


def summary(res):
    """The fields a results table needs from one loadgen --json report."""
    return {
        "hit_ratio": round(res["cache_hit_ratio"], 4),
        "ttft_p50_ms": res["ttft_ms"]["p50"],
        "ttft_p99_ms": res["ttft_ms"]["p99"],
        "latency_p50_ms": res["latency_ms"]["p50"],
        "throughput_rps": round(res["throughput_rps"], 1),
        "max_over_mean": round(res["workers"]["max_over_mean"], 3),
        "per_worker": res["workers"].get("per_worker", {}),
        "ok": res["requests"]["ok"],
        "failed": res["requests"]["failed"],
    }


def write_json(path, obj):
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(obj, indent=1) + "\n")
    tmp.replace(path)


def cdf_file(samples_path, out_path, max_points=400):
    """Writes 'ttft_ms fraction' lines (the empirical CDF of ok requests)."""
    ttfts = []
    with open(samples_path) as f:
        for line in f:
            s = json.loads(line)
            if s.get("outcome") == "ok":
                ttfts.append(s["ttft_ms"])
    ttfts.sort()
    n = len(ttfts)
    step = max(1, n // max_points)
    with open(out_path, "w") as f:
        for i in range(0, n, step):
            f.write(f"{ttfts[i]:.3f} {(i + 1) / n:.4f}\n")
        if n:
            f.write(f"{ttfts[-1]:.3f} 1.0\n")
    return n


def gnuplot(script, out_png, **vars):
    """Runs a gnuplot script with -e variable definitions; False if no gnuplot."""
    defs = "; ".join(f"{k}='{v}'" for k, v in vars.items())
    defs += f"; out='{out_png}'"
    try:
        subprocess.run(["gnuplot", "-e", defs, str(script)], cwd=ROOT, check=True,
                       capture_output=True, timeout=60)
        return True
    except FileNotFoundError:
        log("gnuplot not found (tools/dev/install-deps --bench); plot skipped")
        return False
    except subprocess.CalledProcessError as e:
        log(f"gnuplot failed: {e.stderr.decode(errors='replace')[-500:]}")
        return False

