#!/usr/bin/env python3
"""The demo: what cache-aware routing and the mesh buy, on one machine.

Starts 8 simulated workers and 3 routers on loopback, runs the same multi-turn
workload (each turn sent to a random router, as behind a plain load balancer)
under three set-ups, and prints one table side by side:

  round_robin            3 routers, no cache awareness
  cache_aware, no mesh   3 routers, each with its own tree (sees 1/3 of history)
  cache_aware + mesh     3 routers gossiping tenant deltas: one shared view
  oracle (pinned)        no router: each conversation pinned to one worker, the
                         best affinity possible (and no load balancing at all)

Every set-up starts from cold workers (fresh processes, empty KV caches) and
fresh routers; everything started is stopped at the end, also on Ctrl-C.

With --pd sglang (or vllm) the demo compares prefill/decode disaggregation
instead: the same meshed routers and workload over 8 plain workers, then over
4 prefill + 4 decode workers (--pd-mode). The PD row's hit ratio is the
prefill workers' own (their cached / prompt tokens): a decode worker reports
every prompt token as cached, since its KV came from the prefill.
"""
import argparse
import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools" / "bench"))
from bench_lib import free_port  # noqa: E402

HOST = "127.0.0.1"


class Fleet:
    """Processes started by the demo; stop() ends them all."""

    def __init__(self, logdir):
        self.procs = []
        self.logdir = logdir

    def start(self, name, args):
        log = open(self.logdir / f"{name}.log", "wb")
        p = subprocess.Popen([str(a) for a in args], stdout=log, stderr=subprocess.STDOUT,
                             start_new_session=True)
        self.procs.append((name, p, log))
        return p

    def stop(self):
        for _, p, _ in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        for _, p, log in self.procs:
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            log.close()
        self.procs = []


def http_get(port, path, timeout=1.0):
    with urllib.request.urlopen(f"http://{HOST}:{port}{path}", timeout=timeout) as r:
        return r.status, r.read()


def wait_ready(port, path, fleet, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for name, p, _ in fleet.procs:
            if p.poll() is not None:
                log = (fleet.logdir / f"{name}.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{name} exited early:\n{log}")
        try:
            if http_get(port, path)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"port {port} not ready on {path} after {timeout}s")


def sim_counters(port, names):
    with urllib.request.urlopen(f"http://{HOST}:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    out = dict.fromkeys(names, 0.0)
    for line in text.splitlines():
        parts = line.split(" ")
        if len(parts) == 2 and parts[0] in out:
            out[parts[0]] = float(parts[1])
    return out


def run_setup(build, args, label, policy, mesh, routers, logdir, oracle=False, pd=None):
    fleet = Fleet(logdir)
    try:
        worker_ports = [free_port() for _ in range(args.workers)]
        # PD: the first half prefill workers (with a bootstrap port each), the rest decode.
        prefill_count = args.workers // 2 if pd else 0
        bootstrap = [free_port() for _ in range(prefill_count)]
        for i, port in enumerate(worker_ports):
            role = []
            if pd:
                role = ["--pd-protocol", pd, "--role", "prefill" if i < prefill_count else "decode"]
                if i < prefill_count:
                    role += ["--bootstrap-port", bootstrap[i]]
            fleet.start(f"worker{i}", [
                build / "tools/sim_worker/radixmesh-sim-worker", "--port", port,
                "--id", f"worker-{i}", "--model", "sim-model",
                "--prefill-us-per-token", args.prefill_us, "--decode-us-per-token", args.decode_us,
                "--kv-capacity-tokens", args.kv_tokens, "--concurrency", 8, *role])
        for port in worker_ports:
            wait_ready(port, "/health", fleet)

        if oracle:  # no routers: each conversation pinned to one worker
            routers = 0
        router_ports = [free_port() for _ in range(routers)]
        mesh_ports = [free_port() for _ in range(routers)]
        for i in range(routers):
            cmd = [build / "router/radixmesh", "--host", HOST, "--port", router_ports[i],
                   "--admin-port", free_port(), "--policy", policy, "--threads", 1,
                   "--health-interval-ms", 500, "--node-id", f"router-{i}"]
            if pd:
                cmd += ["--pd-mode", pd]
                for j, port in enumerate(worker_ports):
                    if j < prefill_count:
                        query = f"?bootstrap_port={bootstrap[j]}" if pd == "sglang" else ""
                        cmd += ["--prefill", f"http://{HOST}:{port}{query}"]
                    else:
                        cmd += ["--decode", f"http://{HOST}:{port}"]
            else:
                for port in worker_ports:
                    cmd += ["--worker", f"http://{HOST}:{port}"]
            if mesh:
                cmd += ["--mesh-port", mesh_ports[i], "--mesh-advertise", f"{HOST}:{mesh_ports[i]}",
                        "--gossip-interval-ms", args.gossip_ms]
                for j in range(routers):
                    if j != i:
                        cmd += ["--peer", f"{HOST}:{mesh_ports[j]}"]
            fleet.start(f"router{i}", cmd)
        for port in router_ports:
            wait_ready(port, "/readiness", fleet)
        if mesh:
            time.sleep(1.0)  # let membership settle: every router sees the others alive

        cmd = [build / "tools/loadgen/radixmesh-loadgen", "--workload", "multiturn",
               "--conversations", args.conversations, "--turns", args.turns,
               "--system-prompts", args.system_prompts, "--system-bytes", args.system_bytes,
               "--turn-bytes", args.turn_bytes, "--max-tokens", args.max_tokens,
               "--concurrency", args.concurrency, "--seed", args.seed,
               "--think-ms", args.think_ms, "--duration", args.duration,
               "--expect-workers", args.workers - prefill_count, "--json"]
        if oracle:
            cmd += ["--pin-by-conversation", ",".join(f"http://{HOST}:{p}" for p in worker_ports)]
        for port in router_ports:
            cmd += ["--target", f"http://{HOST}:{port}"]
        out = subprocess.run([str(c) for c in cmd], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, timeout=args.duration + 60)
        if out.returncode != 0:
            raise RuntimeError(f"loadgen failed ({out.returncode}): {out.stderr[-2000:]}")
        result = json.loads(out.stdout)
        if pd:  # the prefill workers' own hit ratio (see the module comment)
            names = ("sim_prompt_tokens_total", "sim_cached_tokens_total")
            totals = [sim_counters(p, names) for p in worker_ports[:prefill_count]]
            prompt = sum(t[names[0]] for t in totals)
            result["cache_hit_ratio"] = sum(t[names[1]] for t in totals) / max(prompt, 1.0)
        return result
    finally:
        fleet.stop()


def row(label, r):
    req = r["requests"]
    return (f"{label:<24} {r['cache_hit_ratio']:>9.3f} {r['ttft_ms']['p50']:>9.1f} "
            f"{r['ttft_ms']['p99']:>9.1f} {r['throughput_rps']:>8.1f} "
            f"{r['workers']['max_over_mean']:>9.2f} {req['ok']:>6}/{req['failed']:<4}")


def run_all(build, args, logdir, setups):
    """Runs each (label, run_setup keywords) in turn; their results by label."""
    results = {}
    for label, setup in setups:
        t0 = time.monotonic()
        print(f"-> {label}: starting workers and routers, running the workload ...", flush=True)
        r = run_setup(build, args, label, routers=args.routers, logdir=logdir, **setup)
        results[label] = r
        print(f"   done in {time.monotonic() - t0:.1f}s: hit ratio {r['cache_hit_ratio']:.3f}, "
              f"TTFT p50 {r['ttft_ms']['p50']:.1f} ms", flush=True)
    return results


def print_table(setups, results):
    print()
    print(f"{'set-up':<24} {'hit ratio':>9} {'TTFT p50':>9} {'TTFT p99':>9} {'req/s':>8} "
          f"{'max/mean':>9} {'ok/failed':>11}")
    print("-" * 86)
    for label, _ in setups:
        print(row(label, results[label]))


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build")
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--routers", type=int, default=3)
    ap.add_argument("--conversations", type=int, default=64)
    ap.add_argument("--turns", type=int, default=8)
    ap.add_argument("--system-prompts", type=int, default=8)
    ap.add_argument("--system-bytes", type=int, default=3000)
    ap.add_argument("--turn-bytes", type=int, default=1200)
    ap.add_argument("--max-tokens", type=int, default=48)
    ap.add_argument("--concurrency", type=int, default=24)
    ap.add_argument("--think-ms", type=int, default=500,
                    help="pause between a reply and the same conversation's next turn")
    ap.add_argument("--prefill-us", type=float, default=60,
                    help="simulated prefill cost per uncached prompt token (us)")
    ap.add_argument("--decode-us", type=float, default=1500,
                    help="simulated decode cost per output token (us)")
    ap.add_argument("--kv-tokens", type=int, default=60000, help="simulated KV capacity per worker")
    ap.add_argument("--gossip-ms", type=int, default=200, help="mesh gossip interval")
    ap.add_argument("--duration", type=int, default=60, help="bound on each workload run (s)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    ap.add_argument("--pd", choices=["sglang", "vllm"],
                    help="compare prefill/decode disaggregation (half the workers prefill, "
                         "half decode) with plain workers instead")
    args = ap.parse_args()
    if args.pd:
        return pd_main(args)

    build = (ROOT / args.build).resolve()
    logdir = build / "demo-logs"
    logdir.mkdir(parents=True, exist_ok=True)
    setups = [
        ("round_robin", dict(policy="round_robin", mesh=False)),
        ("cache_aware, no mesh", dict(policy="cache_aware", mesh=False)),
        ("cache_aware + mesh", dict(policy="cache_aware", mesh=True)),
        ("oracle (pinned)", dict(policy=None, mesh=False, oracle=True)),
    ]
    print(f"radixmesh demo: {args.routers} routers, {args.workers} simulated workers, "
          f"{args.conversations} conversations x {args.turns} turns, each turn to a random router")
    print(f"(simulated prefill {args.prefill_us:g} us per uncached token; logs in {logdir})\n")
    results = run_all(build, args, logdir, setups)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print_table(setups, results)
    rr = results["round_robin"]
    best = results["cache_aware + mesh"]
    local = results["cache_aware, no mesh"]
    print()
    if rr["ttft_ms"]["p50"] > 0:
        print(f"cache-aware routing with the mesh: hit ratio {best['cache_hit_ratio']:.2f} vs "
              f"{rr['cache_hit_ratio']:.2f} round robin; TTFT p50 "
              f"{rr['ttft_ms']['p50'] / max(best['ttft_ms']['p50'], 1e-9):.1f}x lower.")
    print(f"the mesh vs per-replica trees: hit ratio {best['cache_hit_ratio']:.2f} vs "
          f"{local['cache_hit_ratio']:.2f}; a perfect-affinity oracle (every conversation "
          f"pinned to one worker, no balancing) reaches {results['oracle (pinned)']['cache_hit_ratio']:.2f}.")
    failed = sum(r["requests"]["failed"] for r in results.values())
    return 1 if failed else 0


def pd_main(args):
    build = (ROOT / args.build).resolve()
    logdir = build / "demo-logs"
    logdir.mkdir(parents=True, exist_ok=True)
    half = args.workers // 2
    setups = [
        (f"plain, {args.workers} workers", dict(policy="cache_aware", mesh=True)),
        (f"PD {args.pd}, {half}+{args.workers - half}",
         dict(policy="cache_aware", mesh=True, pd=args.pd)),
    ]
    print(f"radixmesh PD demo: {args.routers} meshed cache_aware routers, "
          f"{args.conversations} conversations x {args.turns} turns, each turn to a random router")
    print(f"(simulated prefill {args.prefill_us:g} us per uncached token, decode "
          f"{args.decode_us:g} us per token; logs in {logdir})\n")
    results = run_all(build, args, logdir, setups)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print_table(setups, results)
    failed = sum(r["requests"]["failed"] for r in results.values())
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
