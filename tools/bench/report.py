#!/usr/bin/env python3
"""Prints the Markdown result tables of docs/benchmarks.md ("routing quality",
"scaling", "memory") from tools/bench/run's JSON results.

  tools/bench/report.py [--results build/bench-results]
"""
import argparse
import json
import os
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[2]


def load(results, part):
    p = results / f"{part}.json"
    return json.loads(p.read_text()) if p.exists() else None


def routing(doc):
    r = doc["results"]
    print(f"routing ({doc['date_utc']}, quick={doc['quick']})\n")
    print("| workload | policy | hit ratio | TTFT p50 ms | TTFT p99 ms | max/mean load | req/s | load avg |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for x in r["runs"]:
        print(f"| {x['workload']} | {x['policy']} | {x['hit_ratio']:.3f} | {x['ttft_p50_ms']:.1f} | "
              f"{x['ttft_p99_ms']:.1f} | {x['max_over_mean']:.2f} | {x['throughput_rps']:.0f} | "
              f"{x['loadavg_1m']:.1f} |")
    print()
    for kind, t in r.get("target", {}).items():
        print(f"- {kind}: cache_aware / oracle hit ratio {t['cache_aware_over_oracle']:.3f}, "
              f"max/mean load {t['spread']:.2f}: target {'met' if t['met'] else 'NOT met'}")
    print()


def scaling(doc):
    r = doc["results"]
    print(f"scaling ({doc['date_utc']}, quick={doc['quick']}, gossip {r['gossip_interval_ms']} ms, "
          f"think {r['think_ms']} ms)\n")
    print("| routers | mesh | hit ratio | TTFT p50 ms | TTFT p99 ms | max/mean load | load avg |")
    print("|---:|---|---:|---:|---:|---:|---:|")
    for x in r["routers"]:
        print(f"| {x['routers']} | {'yes' if x['mesh'] else 'no'} | {x['hit_ratio']:.3f} | "
              f"{x['ttft_p50_ms']:.1f} | {x['ttft_p99_ms']:.1f} | {x['max_over_mean']:.2f} | "
              f"{x['loadavg_1m']:.1f} |")
    print()
    print("| workers | policy | hit ratio | TTFT p50 ms | TTFT p99 ms | max/mean load | load avg |")
    print("|---:|---|---:|---:|---:|---:|---:|")
    for x in r["workers"]:
        print(f"| {x['workers']} | {x['policy']} | {x['hit_ratio']:.3f} | {x['ttft_p50_ms']:.1f} | "
              f"{x['ttft_p99_ms']:.1f} | {x['max_over_mean']:.2f} | {x['loadavg_1m']:.1f} |")
    print()


def memory(doc):
    r = doc["results"]
    print(f"memory ({doc['date_utc']}, quick={doc['quick']})\n")
    print("| blocks | RSS before | RSS after | bytes/block (RSS) | bytes/block (tree accounting) | load avg |")
    print("|---:|---:|---:|---:|---:|---:|")
    tb = r.get("tree_bytes_per_block")
    print(f"| {r['blocks']:,} | {r['rss_base_bytes'] / 2**20:.1f} MiB | "
          f"{r['rss_after_bytes'] / 2**20:.1f} MiB | {r['bytes_per_block']:.1f} | "
          f"{tb if tb is not None else 'n/a'} | {r['loadavg_1m']:.1f} |")
    print()


def main():
    ap = argparse.ArgumentParser()
    default = pathlib.Path(os.environ.get("RADIXMESH_BUILD", "build")) / "bench-results"
    ap.add_argument("--results", default=str(default))
    args = ap.parse_args()
    results = (ROOT / args.results).resolve()
    for part, fn in (("routing", routing), ("scaling", scaling), ("memory", memory)):
        doc = load(results, part)
        if doc:
            fn(doc)


if __name__ == "__main__":
    main()
