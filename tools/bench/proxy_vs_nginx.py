#!/usr/bin/env python3
"""Proxy throughput per core against nginx, in the shape of issue 15's table.

Set-up, all on loopback:
  - backends: one nginx (worker_processes 1) on three ports answering a fixed
    small chat completion (`return 200`), keep-alive;
  - proxies, each one thread pinned to PROXY_CPU (1): nginx round robin
    (`worker_processes 1`, upstream keepalive), nginx `hash $body_prefix`
    (the body's first 512 bytes, consistent), radixmesh round_robin and
    radixmesh cache_aware (`--threads 1`, default flags otherwise);
  - load: `wrk -t1 -c32` pinned to LOAD_CPU (0) with the backends; its Lua
    script sends bodies from 64 prefix groups x 8 questions (a group's shared
    system prompt of the chosen size, then one of 8 questions), picked at
    random per request;
  - three body sizes (200 B, 16 KB, 32 KB system prompts); ROUNDS interleaved
    rounds of DURATION s per proxy (every proxy once per round, so a machine
    that drifts affects all alike); the median of the rounds is reported with
    the proxy's CPU per request (user + system, from /proc).

--stream measures CPU per streamed request instead: the backends are
simulated workers sending an SSE response of 32 events (one per token, no
delay), relayed by nginx (`proxy_buffering off`) and radixmesh; reported are
the rate wrk reaches and the proxy's CPU microseconds per streamed request.

Usage: tools/bench/proxy_vs_nginx.py [--build build] [--rounds 3] [--duration 6]
       [--sizes 200,16384,32768] [--stream]
Prints a Markdown table. Every process is stopped at the end.
"""
import argparse
import json
import os
import pathlib
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from bench_lib import free_port  # noqa: E402
from proxy_bench import cpu_seconds, process_tree, wait_ok  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
PROXY_CPU, LOAD_CPU = "1", "0"
ANSWER = json.dumps({
    "id": "chatcmpl-static", "object": "chat.completion", "created": 0, "model": "sim-model",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello!"},
                 "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 12, "completion_tokens": 2, "total_tokens": 14}})


def bodies(system_bytes, groups=64, questions=8, seed=15):
    """groups x questions chat bodies: a group's system prompt, then a question."""
    rng = random.Random(seed + system_bytes)
    vocab = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel",
             "india", "juliet", "kilo", "lima", "mike", "november", "oscar", "papa"]
    out = []
    for g in range(groups):
        words, size = [f"group{g}"], 0
        while size < system_bytes:
            w = rng.choice(vocab)
            words.append(w)
            size += len(w) + 1
        system = " ".join(words)[:system_bytes]
        for q in range(questions):
            out.append(json.dumps({
                "model": "sim-model", "max_tokens": 1,
                "messages": [{"role": "system", "content": system},
                             {"role": "user", "content": f"Question {q}: what about {rng.choice(vocab)}?"}]}))
    return out


def lua_script(tmp, name, body_list, stream=False):
    path = pathlib.Path(tmp) / f"{name}.lua"
    items = ",\n".join(json.dumps(b) for b in body_list)
    path.write_text(
        "local bodies = {\n" + items + "\n}\n"
        "math.randomseed(15)\n"
        "request = function()\n"
        "  local b = bodies[math.random(#bodies)]\n"
        '  return wrk.format("POST", "/v1/chat/completions", '
        '{["Content-Type"] = "application/json"}, b)\n'
        "end\n")
    return path


def run_wrk(url, script, conns, duration):
    cmd = ["taskset", "-c", LOAD_CPU, "wrk", "-t", "1", "-c", str(conns), "-d", f"{duration}s",
           "-s", str(script), url]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 30).stdout
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not m:
        raise RuntimeError(f"wrk printed no rate:\n{out}")
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    total = re.search(r"(\d+) requests in", out)
    return {"rps": float(m.group(1)), "requests": int(total.group(1)) if total else 0,
            "non2xx": int(non2xx.group(1)) if non2xx else 0}


def temp_paths(tmp, name):
    """nginx's temporary directories, one set per instance."""
    return "\n".join(f"  {k}_temp_path {tmp}/{name}-{k};" for k in
                     ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))


def backends_conf(tmp, ports):
    servers = "\n".join(f"""  server {{
    listen {HOST}:{p};
    location / {{ default_type application/json; return 200 '{ANSWER}'; }}
  }}""" for p in ports)
    conf = f"""worker_processes 1;
daemon off;
pid {tmp}/backends.pid;
error_log {tmp}/backends-error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
{temp_paths(tmp, "backends")}
  client_max_body_size 8m;
  client_body_buffer_size 64k;
  keepalive_requests 1000000;
{servers}
}}
"""
    path = pathlib.Path(tmp) / "backends.conf"
    path.write_text(conf)
    return path


def proxy_conf(tmp, name, port, ports, hash_body):
    ups = "\n".join(f"    server {HOST}:{p};" for p in ports)
    balance = "    hash $body_prefix consistent;\n" if hash_body else ""
    # $request_body is in memory (client_body_buffer_size above the largest
    # body), so a regex map can take its first 512 bytes.
    body_map = ('  map $request_body $body_prefix { "~^(?<p>[\\s\\S]{0,512})" $p; }\n'
                if hash_body else "")
    conf = f"""worker_processes 1;
daemon off;
pid {tmp}/{name}.pid;
error_log {tmp}/{name}-error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
{temp_paths(tmp, name)}
  client_max_body_size 8m;
  client_body_buffer_size 128k;
  keepalive_requests 1000000;
{body_map}  upstream backends {{
{balance}{ups}
    keepalive 64;
  }}
  server {{
    listen {HOST}:{port};
    location / {{
      proxy_pass http://backends;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }}
  }}
}}
"""
    path = pathlib.Path(tmp) / f"{name}.conf"
    path.write_text(conf)
    return path


class Procs:
    def __init__(self):
        self.procs = []

    def start(self, args, cpu):
        p = subprocess.Popen(["taskset", "-c", cpu] + [str(a) for a in args],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.procs.append(p)
        return p

    def stop(self):
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()


def start_nginx(procs, tmp, conf, cpu):
    return procs.start([shutil.which("nginx") or "/usr/sbin/nginx", "-c", conf, "-p", tmp,
                        "-e", f"{tmp}/nginx-startup.log"], cpu)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.environ.get("RADIXMESH_BUILD", str(ROOT / "build")))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=6)
    ap.add_argument("--conns", type=int, default=32)
    ap.add_argument("--sizes", default="200,16384,32768")
    ap.add_argument("--targets", default="nginx_rr,nginx_hash,rm_round_robin,rm_cache_aware")
    ap.add_argument("--stream", action="store_true", help="CPU per streamed request instead")
    ap.add_argument("--baseline", help="another build directory: its radixmesh runs too, as "
                    "rm_*@base, interleaved with the others (before/after figures)")
    args = ap.parse_args()
    build = pathlib.Path(args.build)
    tmp = tempfile.mkdtemp(prefix="proxy-vs-nginx-")
    procs = Procs()
    try:
        if args.stream:
            return stream_main(args, build, tmp, procs)
        backend_ports = [free_port() for _ in range(3)]
        start_nginx(procs, tmp, backends_conf(tmp, backend_ports), LOAD_CPU)
        for p in backend_ports:
            wait_ok(p, "/")
        targets, owners = {}, {}
        wanted = args.targets.split(",")
        for name, hash_body in (("nginx_rr", False), ("nginx_hash", True)):
            if name not in wanted:
                continue
            port = free_port()
            p = start_nginx(procs, tmp, proxy_conf(tmp, name, port, backend_ports, hash_body),
                            PROXY_CPU)
            wait_ok(port, "/")
            targets[name], owners[name] = port, p.pid
        builds = [("", build)] + ([("@base", pathlib.Path(args.baseline))] if args.baseline else [])
        for (suffix, rbuild), policy in ((b, p) for b in builds
                                         for p in ("round_robin", "cache_aware")):
            name = f"rm_{policy}"
            if name not in wanted:
                continue
            name += suffix
            port = free_port()
            p = procs.start([rbuild / "router/radixmesh", "--host", HOST, "--port", port,
                             "--admin-port", free_port(), "--threads", 1, "--policy", policy,
                             "--log-level", "warn", "--default-model", "sim-model",
                             *sum((["--worker", f"http://{HOST}:{b}"] for b in backend_ports), [])],
                            PROXY_CPU)
            wait_ok(port, "/health")
            time.sleep(0.5)
            targets[name], owners[name] = port, p.pid
        results = {}
        for size in [int(s) for s in args.sizes.split(",")]:
            script = lua_script(tmp, f"bodies{size}", bodies(size))
            runs = {t: [] for t in targets}
            for rnd in range(args.rounds):
                for name, port in targets.items():
                    url = f"http://{HOST}:{port}"
                    run_wrk(url, script, 4, 1)  # warm-up
                    pids = process_tree(owners[name])
                    c0 = cpu_seconds(pids)
                    r = run_wrk(url, script, args.conns, args.duration)
                    c1 = cpu_seconds(pids)
                    n = max(1, r["requests"])
                    r["cpu_us"] = ((c1[0] - c0[0]) + (c1[1] - c0[1])) * 1e6 / n
                    runs[name].append(r)
                    print(f"# {size:>6} B round {rnd} {name:16} {r['rps']:9.0f} req/s "
                          f"cpu/req {r['cpu_us']:6.1f} us non2xx {r['non2xx']}",
                          file=sys.stderr, flush=True)
            results[size] = {t: (statistics.median(x["rps"] for x in rs),
                                 statistics.median(x["cpu_us"] for x in rs),
                                 sum(x["non2xx"] for x in rs)) for t, rs in runs.items()}
        names = list(targets)
        print("| system prompt | " + " | ".join(names) + " |")
        print("|---|" + "---|" * len(names))
        for size, res in results.items():
            base = res.get("nginx_rr", (0, 0, 0))[0]
            cells = []
            for t in names:
                rps, cpu, bad = res[t]
                ratio = f" ({rps / base:.2f}x)" if base and t != "nginx_rr" else ""
                cells.append(f"{rps:,.0f}{ratio}, {cpu:.1f} us CPU" + (f", {bad} non-2xx" if bad else ""))
            print(f"| {size} B | " + " | ".join(cells) + " |")
    finally:
        procs.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def stream_main(args, build, tmp, procs):
    sim_ports = [free_port() for _ in range(3)]
    for i, p in enumerate(sim_ports):
        procs.start([build / "tools/sim_worker/radixmesh-sim-worker", "--host", HOST, "--port", p,
                     "--id", f"w{i}", "--prefill-us-per-token", 0, "--decode-us-per-token", 0,
                     "--concurrency", 1024, "--max-queue", 4096], LOAD_CPU)
    for p in sim_ports:
        wait_ok(p)
    targets, owners = {}, {}
    port = free_port()
    p = start_nginx(procs, tmp, proxy_conf(tmp, "nginx_rr", port, sim_ports, False), PROXY_CPU)
    wait_ok(port, "/health")
    targets["nginx (proxy_buffering off)"], owners["nginx (proxy_buffering off)"] = port, p.pid
    for policy in ("round_robin", "cache_aware"):
        port = free_port()
        p = procs.start([build / "router/radixmesh", "--host", HOST, "--port", port,
                         "--admin-port", free_port(), "--threads", 1, "--policy", policy,
                         "--log-level", "warn",
                         *sum((["--worker", f"http://{HOST}:{s}"] for s in sim_ports), [])],
                        PROXY_CPU)
        wait_ok(port, "/readiness")
        targets[f"radixmesh {policy}"], owners[f"radixmesh {policy}"] = port, p.pid
    body_list = [json.dumps({"model": "sim-model", "max_tokens": 32, "stream": True,
                             "messages": [{"role": "user", "content": f"stream {i} please"}]})
                 for i in range(64)]
    script = lua_script(tmp, "stream", body_list)
    runs = {t: [] for t in targets}
    for rnd in range(args.rounds):
        for name, port in targets.items():
            url = f"http://{HOST}:{port}"
            run_wrk(url, script, 4, 1)
            pids = process_tree(owners[name])
            c0 = cpu_seconds(pids)
            r = run_wrk(url, script, args.conns, args.duration)
            c1 = cpu_seconds(pids)
            r["user_us"] = (c1[0] - c0[0]) * 1e6 / max(1, r["requests"])
            r["sys_us"] = (c1[1] - c0[1]) * 1e6 / max(1, r["requests"])
            runs[name].append(r)
            print(f"# stream round {rnd} {name:28} {r['rps']:8.0f} req/s cpu/req user "
                  f"{r['user_us']:5.1f} sys {r['sys_us']:5.1f} us non2xx {r['non2xx']}",
                  file=sys.stderr, flush=True)
    print("| proxy | streamed req/s | CPU per streamed request, user + sys (us) |")
    print("|---|---|---|")
    for name, rs in runs.items():
        print(f"| {name} | {statistics.median(x['rps'] for x in rs):,.0f} | "
              f"{statistics.median(x['user_us'] for x in rs):.1f} + "
              f"{statistics.median(x['sys_us'] for x in rs):.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main() or 0)
