#!/usr/bin/env python3
"""Trace replay through the router (docs/benchmarks.md, "## trace replay").

Writes a synthetic Mooncake-format trace (the shape of the published
conversation traces: a few long shared system prefixes, multi-turn sessions
whose every turn repeats the session's earlier blocks, Poisson arrivals) and
replays it with radixmesh-loadgen --trace through one router over 8
simulated workers, for cache_aware and round_robin.

--routers: the same open-loop replay (long prompts: 2k-10k tokens) at
default flags over 1 router, 3 routers without the mesh, 3 and 5 meshed
routers, each request to a random router; interleaved rounds.

Usage: tools/bench/bench_trace.py [--build build] [--speedup 10] [--requests 600]
       tools/bench/bench_trace.py --routers [--rounds 3] [--speedup 30]
Prints a Markdown table. Only loopback; every process is stopped at the end.
"""
import argparse
import json
import pathlib
import random

from bench_lib import Cluster, loadavg, log, summary

ROOT = pathlib.Path(__file__).resolve().parents[2]


def synthetic_trace(path, requests, seed=11):
    """Sessions of 1..8 turns over 8 system prefixes of 4 blocks (2k tokens);
    each turn adds 1..2 blocks of history; arrivals ~ 10 requests/s of trace time."""
    rng = random.Random(seed)
    next_id = 1000
    systems = [[s * 10 + b for b in range(4)] for s in range(8)]
    t = 0.0
    live = []  # [ids, turns_left]
    lines = []
    while len(lines) < requests:
        t += rng.expovariate(10.0) * 1000
        if not live or rng.random() < 0.3:
            live.append([list(rng.choice(systems)), rng.randint(1, 8)])
        sess = rng.choice(live)
        for _ in range(rng.randint(1, 2)):
            sess[0].append(next_id)
            next_id += 1
        ids = list(sess[0])
        lines.append({"timestamp": int(t), "input_length": 512 * len(ids) - rng.randint(0, 400),
                      "output_length": rng.randint(8, 64), "hash_ids": ids})
        sess[1] -= 1
        if sess[1] == 0:
            live.remove(sess)
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    return lines


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=str(ROOT / "build"))
    ap.add_argument("--speedup", type=float, default=10)
    ap.add_argument("--requests", type=int, default=600)
    ap.add_argument("--out", default="/tmp/radixmesh-bench-trace")
    ap.add_argument("--routers", action="store_true", help="1 router vs 3 and 5 meshed routers")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--router-flags", default="",
                    help="comma-separated flags added to every router (an A/B of a setting)")
    a = ap.parse_args()
    a.extra = tuple(f for f in a.router_flags.split(",") if f)
    out = pathlib.Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    trace = out / "trace.jsonl"
    lines = synthetic_trace(trace, a.requests)
    log(f"trace: {len(lines)} requests over {lines[-1]['timestamp'] / 1000:.0f} s, "
        f"replayed {a.speedup}x")
    if a.routers:
        return compare_routers(a, out, trace)
    rows = []
    for policy in ("cache_aware", "round_robin"):
        with Cluster(a.build, out / "logs" / policy) as c:
            c.add_workers(8, prefill_us=50, decode_us=2000, kv_tokens=65536)
            targets = c.add_routers(1, policy=policy, extra=a.extra)
            la = loadavg()
            res = c.loadgen(["--trace", trace, "--trace-speedup", a.speedup, "--stream",
                             "--duration", 120, "--expect-workers", 8], targets=targets)
        rows.append({"policy": policy, "loadavg_1m": la, **summary(res)})
        log(f"trace {policy:11} hit {rows[-1]['hit_ratio']:.3f}")
    print("\n| policy | hit ratio | TTFT p50 ms | TTFT p99 ms | max/mean load | ok | load avg |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['policy']} | {r['hit_ratio']:.3f} | {r['ttft_p50_ms']:.0f} | "
              f"{r['ttft_p99_ms']:.0f} | {r['max_over_mean']:.2f} | {r['ok']} | "
              f"{r['loadavg_1m']:.1f} |")


def compare_routers(a, out, trace):
    configs = [("1 router", 1, False), ("3 routers, no mesh", 3, False),
               ("3 meshed routers", 3, True), ("5 meshed routers", 5, True)]
    rows = []
    for rnd in range(a.rounds):
        for name, n, mesh in configs:
            with Cluster(a.build, out / "logs" / f"{rnd}-{n}-{mesh}") as c:
                c.add_workers(8, prefill_us=50, decode_us=2000, kv_tokens=65536)
                targets = c.add_routers(n, mesh=mesh, gossip_ms=1000, extra=a.extra)
                la = loadavg()
                res = c.loadgen(["--trace", trace, "--trace-speedup", a.speedup, "--stream",
                                 "--duration", 120, "--expect-workers", 8, "--seed", 7 + rnd],
                                targets=targets)
            rows.append({"config": name, "round": rnd, "loadavg_1m": la, **summary(res)})
            r = rows[-1]
            log(f"round {rnd} {name:20} hit {r['hit_ratio']:.3f} TTFT p50 {r['ttft_p50_ms']:.0f} "
                f"p99 {r['ttft_p99_ms']:.0f} req/s {r['throughput_rps']:.0f}")
    print("\n| set-up | hit ratio (rounds) | TTFT p50 ms (rounds) | TTFT p99 ms (median) | "
          "req/s | load avg |")
    print("|---|---|---|---:|---:|---:|")
    for name, _, _ in configs:
        rs = [r for r in rows if r["config"] == name]
        hits = " / ".join(f"{r['hit_ratio']:.3f}" for r in rs)
        p50s = " / ".join(f"{r['ttft_p50_ms']:.0f}" for r in rs)

        def med(k):
            return sorted(r[k] for r in rs)[len(rs) // 2]
        print(f"| {name} | {hits} | {p50s} | {med('ttft_p99_ms'):.0f} | "
              f"{med('throughput_rps'):.0f} | {med('loadavg_1m'):.1f} |")
    (out / "routers.json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
