#!/usr/bin/env python3
"""Trace replay through the router (docs/benchmarks.md, "## trace replay").

Writes a synthetic Mooncake-format trace (the shape of the published
conversation traces: a few long shared system prefixes, multi-turn sessions
whose every turn repeats the session's earlier blocks, Poisson arrivals) and
replays it with radixmesh-loadgen --trace through one router over 8
simulated workers, for cache_aware and round_robin.

Usage: tools/bench/bench_trace.py [--build build] [--speedup 10] [--requests 600]
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
    a = ap.parse_args()
    out = pathlib.Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    trace = out / "trace.jsonl"
    lines = synthetic_trace(trace, a.requests)
    log(f"trace: {len(lines)} requests over {lines[-1]['timestamp'] / 1000:.0f} s, "
        f"replayed {a.speedup}x")
    rows = []
    for policy in ("cache_aware", "round_robin"):
        with Cluster(a.build, out / "logs" / policy) as c:
            c.add_workers(8, prefill_us=50, decode_us=2000, kv_tokens=65536)
            targets = c.add_routers(1, policy=policy)
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


if __name__ == "__main__":
    main()
