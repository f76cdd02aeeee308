#!/usr/bin/env python3
"""Proxy overhead benchmark: radixmesh vs nginx as plain reverse proxies over
the same simulated workers, with wrk as the load generator, on one machine.

For each body (a small chat request and a 32 KB prompt) it measures:
  - throughput: wrk -c CONNS for DURATION seconds -> requests/s;
  - latency:    wrk -c 1 for LAT_DURATION seconds -> p50/p99, and the added
                latency = proxied - direct-to-worker (same body, same worker
                settings).
Both proxies get the same number of worker threads (--threads / 
worker_processes). The workers answer at once (0 prefill/decode delay), so
the proxy is what is measured.

Usage: tools/bench/proxy_bench.py [--build build] [--threads 1] [--duration 10] [--pin]
       [--policies cache_aware,round_robin] [--bodies small,32k] [--rounds 1]
Prints a Markdown table (paste into docs/benchmarks.md "## proxy").
Only loopback; every process is stopped at the end.
"""
import argparse
import json
import os
import pathlib
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parents[2]
from bench_lib import free_port  # noqa: E402  (same directory)

HOST = "127.0.0.1"


def wait_ok(port, path="/health", timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://{HOST}:{port}{path}", timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"port {port}{path} not ready")


def body_small():
    return json.dumps({"model": "sim-model", "max_tokens": 1,
                       "messages": [{"role": "user", "content": "Hello, how are you?"}]})


def body_32k():
    text = ("The quick brown fox jumps over the lazy dog. " * 800)[:32 * 1024]
    return json.dumps({"model": "sim-model", "max_tokens": 1,
                       "messages": [{"role": "user", "content": text}]})


# CPU pinning (--pin): the proxies on PROXY_CPU, workers and wrk on LOAD_CPU.
PIN = {"proxy": [], "load": []}


def wrk(url, body, conns, duration, threads, tmp):
    script = pathlib.Path(tmp) / "post.lua"
    script.write_text(
        'wrk.method = "POST"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        f"wrk.body = {json.dumps(body)}\n")
    out = subprocess.run(PIN["load"] + ["wrk", "-t", str(threads), "-c", str(conns), "-d", f"{duration}s",
                          "--latency", "-s", str(script), url],
                         capture_output=True, text=True, timeout=duration + 30).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = {}
    for pct in ("50", "99"):
        m = re.search(rf"\s{pct}(?:\.000)?%\s+([\d.]+)(us|ms|s)\b", out)
        v, unit = float(m.group(1)), m.group(2)
        lat[pct] = v * {"us": 1, "ms": 1e3, "s": 1e6}[unit]
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    socket_errors = re.search(r"Socket errors:.*", out)
    return {"rps": rps, "p50_us": lat["50"], "p99_us": lat["99"],
            "non2xx": int(errors.group(1)) if errors else 0,
            "socket_errors": socket_errors.group(0) if socket_errors else ""}


def cpu_seconds(pids):
    """User and system CPU seconds used so far by these processes."""
    tick = os.sysconf("SC_CLK_TCK")
    user = system = 0.0
    for pid in pids:
        try:
            fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        user += int(fields[11]) / tick
        system += int(fields[12]) / tick
    return user, system


def process_tree(pid):
    """pid and its children (nginx: the master and its worker processes)."""
    out = [pid]
    try:
        out += [int(c) for c in pathlib.Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        pass
    return out


def nginx_conf(tmp, port, workers, threads):
    ups = "\n".join(f"    server {HOST}:{p};" for p in workers)
    conf = f"""
worker_processes {threads};
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {tmp}/body;
  proxy_temp_path {tmp}/proxy;
  fastcgi_temp_path {tmp}/fastcgi;
  uwsgi_temp_path {tmp}/uwsgi;
  scgi_temp_path {tmp}/scgi;
  client_max_body_size 8m;
  client_body_buffer_size 64k;
  upstream sims {{
{ups}
    keepalive 64;
  }}
  server {{
    listen {HOST}:{port};
    location / {{
      proxy_pass http://sims;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }}
  }}
}}
"""
    path = pathlib.Path(tmp) / "nginx.conf"
    path.write_text(conf)
    return path


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.environ.get("RADIXMESH_BUILD", str(ROOT / "build")))
    ap.add_argument("--threads", type=int, default=1, help="proxy worker threads (both proxies)")
    ap.add_argument("--workers", type=int, default=2, help="simulated workers")
    ap.add_argument("--conns", type=int, default=32)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--lat-duration", type=int, default=5)
    ap.add_argument("--policies", default="cache_aware,round_robin",
                    help="one radixmesh per policy, comma-separated")
    ap.add_argument("--pin", action="store_true",
                    help="proxies on CPU 1, workers and wrk on CPU 0 (taskset)")
    ap.add_argument("--bodies", default="small,32k", help="which bodies: small, 32k")
    ap.add_argument("--rounds", type=int, default=1,
                    help="throughput runs per target, interleaved across targets so a "
                         "machine that drifts affects all alike; the median is reported")
    args = ap.parse_args()
    if args.pin:
        PIN["proxy"] = ["taskset", "-c", "1"]
        PIN["load"] = ["taskset", "-c", "0"]
    build = pathlib.Path(args.build)
    sim_bin = build / "tools/sim_worker/radixmesh-sim-worker"
    router_bin = build / "router/radixmesh"
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    procs = []
    tmp = tempfile.mkdtemp(prefix="proxy-bench-")
    try:
        sims = []
        for i in range(args.workers):
            p = free_port()
            procs.append(subprocess.Popen(
                PIN["load"] + [str(sim_bin), "--host", HOST, "--port", str(p), "--id", f"w{i}",
                 "--prefill-us-per-token", "0", "--decode-us-per-token", "0",
                 "--concurrency", "1024", "--max-queue", "4096"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            sims.append(p)
        for p in sims:
            wait_ok(p)
        targets = {"direct": sims[0]}
        owners = {"direct": procs[0].pid}  # whose CPU time is counted per request
        for policy in args.policies.split(","):
            rport = free_port()
            proc = subprocess.Popen(
                PIN["proxy"] + [str(router_bin), "--host", HOST, "--port", str(rport), "--admin-port",
                 str(free_port()), "--threads", str(args.threads), "--policy", policy,
                 "--log-level", "warn"] +
                sum((["--worker", f"http://{HOST}:{p}"] for p in sims), []),
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            procs.append(proc)
            wait_ok(rport, "/readiness")
            targets[f"radixmesh {policy}"] = rport
            owners[f"radixmesh {policy}"] = proc.pid
        nport = free_port()
        conf = nginx_conf(tmp, nport, sims, args.threads)
        procs.append(subprocess.Popen(PIN["proxy"] + [nginx, "-c", str(conf), "-p", tmp, "-e",
                                       f"{tmp}/nginx-error.log"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        time.sleep(0.5)
        targets["nginx"] = nport
        owners["nginx"] = procs[-1].pid
        rows = []
        wanted = set(args.bodies.split(","))
        bodies = [(n, b) for key, n, b in (("small", "small chat", body_small()),
                                           ("32k", "32 KB prompt", body_32k())) if key in wanted]
        for name, body in bodies:
            res = {}
            runs = {t: [] for t in targets}
            for _ in range(args.rounds):
                for tname, port in targets.items():
                    url = f"http://{HOST}:{port}/v1/chat/completions"
                    wrk(url, body, 4, 1, 1, tmp)  # warm-up: connections, caches
                    pids = process_tree(owners[tname])
                    cpu0 = cpu_seconds(pids)
                    thr = wrk(url, body, args.conns, args.duration, 1, tmp)
                    cpu1 = cpu_seconds(pids)
                    requests = max(1.0, thr["rps"] * args.duration)
                    thr["user_us"] = (cpu1[0] - cpu0[0]) * 1e6 / requests
                    thr["sys_us"] = (cpu1[1] - cpu0[1]) * 1e6 / requests
                    runs[tname].append(thr)
                    if args.rounds > 1:
                        print(f"#   round {tname:22} {thr['rps']:9.0f} req/s  cpu/req user "
                              f"{thr['user_us']:5.1f} sys {thr['sys_us']:5.1f} us",
                              file=sys.stderr, flush=True)
            for tname, port in targets.items():
                url = f"http://{HOST}:{port}/v1/chat/completions"
                thr = sorted(runs[tname], key=lambda r: r["rps"])[len(runs[tname]) // 2]
                lat = wrk(url, body, 1, args.lat_duration, 1, tmp)
                res[tname] = (thr, lat)
                print(f"# {name:12} {tname:22} {thr['rps']:9.0f} req/s  "
                      f"c1 p50 {lat['p50_us']:7.0f} us p99 {lat['p99_us']:7.0f} us  "
                      f"cpu/req user {thr['user_us']:5.1f} sys {thr['sys_us']:5.1f} us  "
                      f"non2xx {thr['non2xx'] + lat['non2xx']} {thr['socket_errors']}",
                      file=sys.stderr, flush=True)
            rows.append((name, res))
        print(f"| body | target | req/s (c={args.conns}) | p50 c=1 (µs) | p99 c=1 (µs) "
              f"| added p50 (µs) | added p99 (µs) | CPU/request user+sys (µs) |")
        print("|---|---|---|---|---|---|---|---|")
        for name, res in rows:
            d = res["direct"][1]
            for tname, (thr, lat) in res.items():
                added50 = "" if tname == "direct" else f"{lat['p50_us'] - d['p50_us']:.0f}"
                added99 = "" if tname == "direct" else f"{lat['p99_us'] - d['p99_us']:.0f}"
                print(f"| {name} | {tname} | {thr['rps']:.0f} | {lat['p50_us']:.0f} | "
                      f"{lat['p99_us']:.0f} | {added50} | {added99} | "
                      f"{thr['user_us']:.1f} + {thr['sys_us']:.1f} |")
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
