#!/usr/bin/env python3
"""Routing on what the workers report: measured (docs/benchmarks.md,
"## worker feedback").

pressure: 8 simulated workers with 8k-token KV caches, 16 shared documents
  of 12 KB (3k tokens: two fit per worker, three do not), 24 questions
  each, streamed, 32 in flight, each request to a random one of 3 routers.
  Rows: no mesh; meshed with the old open-loop tree (--cache-feedback=false
  --metrics-interval-ms 0); meshed at default flags; meshed with the
  tenant budget set by hand to the real capacity (512 blocks of 64 bytes)
  and the old open loop.
unasked: the pressure workload sent as most clients stream, without
  stream_options (loadgen --no-stream-options), so the responses carry no
  usage unless the router asks for it: default flags (--stream-usage on)
  against --stream-usage=false, and no mesh. The hit ratio is read off the
  workers (sim_cached_tokens_total / sim_prompt_tokens_total).
outside: 8 workers; 24 closed-loop clients send long requests straight to
  worker w0 (traffic no router sees) while the load generator sends the
  shared-prefix workload through the routers. Share of w0 among the
  routers' requests, with and without the /metrics scrape, 1 router and 3
  meshed routers. Fair share: 1/8.

Usage: tools/bench/bench_feedback.py [--build build] [--only pressure|unasked|outside] [--quick]
Prints Markdown tables. Only loopback; every process is stopped at the end.
"""
import argparse
import json
import pathlib
import threading
import time
import urllib.request

from bench_lib import Cluster, HOST, MODEL, loadavg, log, summary

ROOT = pathlib.Path(__file__).resolve().parents[2]
OLD = ["--cache-feedback=false", "--metrics-interval-ms", 0]


def shared(groups, questions, prefix, conc, seed):
    return ["--workload", "shared-prefix", "--groups", groups, "--questions", questions,
            "--prefix-bytes", prefix, "--turn-bytes", 256, "--max-tokens", 16, "--stream",
            "--concurrency", conc, "--seed", seed, "--duration", 120, "--expect-workers", 8]


def pressure(build, outdir, quick, seed, common=(), default_only=False):
    rows = []
    configs = [("3 routers, no mesh", False, []),
               ("3 meshed routers, open loop (before)", True, OLD),
               ("3 meshed routers, default flags", True, []),
               ("3 meshed routers, --capacity-estimate", True, ["--capacity-estimate"]),
               ("3 meshed routers, budget by hand, open loop", True,
                OLD + ["--max-blocks-per-worker", 512])]
    flags = shared(16, 12 if quick else 24, 12288, 32, seed)
    if default_only:
        configs = [c for c in configs if c[0].endswith("default flags")]
    for name, mesh, extra in configs:
        with Cluster(build, outdir / "logs" / f"pressure-{len(rows)}") as c:
            c.add_workers(8, prefill_us=50, decode_us=2000, kv_tokens=8192)
            targets = c.add_routers(3, mesh=mesh, extra=[*extra, *common])
            la = loadavg()
            res = c.loadgen(flags, targets=targets)
        row = {"config": name, "seed": seed, "loadavg_1m": la, **summary(res)}
        rows.append(row)
        log(f"pressure {name:45} hit {row['hit_ratio']:.3f} TTFT p99 {row['ttft_p99_ms']:.0f} ms")
    return rows


def workers_hit_ratio(urls):
    """cached / prompt tokens over every simulated worker's counters."""
    cached = prompt = 0.0
    for url in urls:
        port = int(url.rsplit(":", 1)[1])
        with urllib.request.urlopen(f"http://{HOST}:{port}/metrics", timeout=5) as r:
            for line in r.read().decode().splitlines():
                if line.startswith("sim_cached_tokens_total"):
                    cached += float(line.split()[-1])
                elif line.startswith("sim_prompt_tokens_total"):
                    prompt += float(line.split()[-1])
    return cached / prompt if prompt else 0.0


def unasked(build, outdir, quick, seed):
    rows = []
    configs = [("3 routers, no mesh", False, []),
               ("3 meshed routers, --stream-usage=false", True, ["--stream-usage=false"]),
               ("3 meshed routers, default flags", True, [])]
    flags = shared(16, 12 if quick else 24, 12288, 32, seed) + ["--no-stream-options"]
    for name, mesh, extra in configs:
        with Cluster(build, outdir / "logs" / f"unasked-{len(rows)}") as c:
            workers = c.add_workers(8, prefill_us=50, decode_us=2000, kv_tokens=8192)
            targets = c.add_routers(3, mesh=mesh, extra=extra)
            la = loadavg()
            res = c.loadgen(flags, targets=targets)
            hit = workers_hit_ratio(workers)
        row = {"config": name, "seed": seed, "loadavg_1m": la, **summary(res),
               "hit_ratio": round(hit, 4)}
        rows.append(row)
        log(f"unasked {name:45} hit {hit:.3f} TTFT p99 {row['ttft_p99_ms']:.0f} ms")
    return rows


class OutsideLoad:
    """Closed-loop clients posting long requests straight to one worker."""

    def __init__(self, url, clients, max_tokens):
        self.url, self.max_tokens, self.stop = url, max_tokens, threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True)
                        for i in range(clients)]

    def _run(self, i):
        n = 0
        while not self.stop.is_set():
            n += 1
            body = json.dumps({"model": MODEL, "max_tokens": self.max_tokens,
                               "messages": [{"role": "user", "content": f"outside {i} {n}"}]})
            req = urllib.request.Request(self.url + "/v1/chat/completions", body.encode(),
                                         {"Content-Type": "application/json"})
            try:
                urllib.request.urlopen(req, timeout=30).read()
            except OSError:
                time.sleep(0.05)

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=30)


def outside(build, outdir, quick):
    rows = []
    flags = shared(16, 8 if quick else 16, 8192, 16, 6)
    for routers, mesh in ((1, False), (3, True)):
        for scrape in (False, True):
            extra = [] if scrape else ["--metrics-interval-ms", 0]
            with Cluster(build, outdir / "logs" / f"outside-{len(rows)}") as c:
                workers = c.add_workers(8, prefill_us=50, decode_us=2000, kv_tokens=32768)
                targets = c.add_routers(routers, mesh=mesh, extra=extra)
                with OutsideLoad(workers[0], clients=24, max_tokens=64):
                    time.sleep(1.5)  # the queue builds; a scrape (500 ms) sees it
                    la = loadavg()
                    res = c.loadgen(flags, targets=targets)
            s = summary(res)
            per = s["per_worker"]
            total = sum(per.values()) or 1
            share = per.get("w0", 0) / total
            row = {"routers": routers, "mesh": mesh, "scrape": scrape, "share_w0": round(share, 3),
                   "fair": 0.125, "loadavg_1m": la, **s}
            rows.append(row)
            log(f"outside routers {routers} scrape {scrape!s:5} w0 share {share:.3f} "
                f"TTFT p99 {s['ttft_p99_ms']:.0f} ms")
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=str(ROOT / "build"))
    ap.add_argument("--only", choices=["pressure", "unasked", "outside"])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--seeds", default="5", help="pressure: comma-separated workload seeds")
    ap.add_argument("--out", default="/tmp/radixmesh-bench-feedback")
    ap.add_argument("--default-only", action="store_true",
                    help="pressure: only the default-flags row (A/B series of a setting)")
    ap.add_argument("--router-flags", default="",
                    help="pressure: comma-separated flags added to every router (an A/B of a setting)")
    a = ap.parse_args()
    outdir = pathlib.Path(a.out)
    outdir.mkdir(parents=True, exist_ok=True)
    result = {}
    if a.only in (None, "pressure"):
        result["pressure"] = []
        for seed in (int(s) for s in a.seeds.split(",")):
            result["pressure"] += pressure(a.build, outdir, a.quick, seed,
                                           tuple(f for f in a.router_flags.split(",") if f),
                                           a.default_only)
        print("\n| set-up | seed | hit ratio | TTFT p50 ms | TTFT p99 ms | load avg |")
        print("|---|---:|---:|---:|---:|---:|")
        for r in result["pressure"]:
            print(f"| {r['config']} | {r['seed']} | {r['hit_ratio']:.3f} | {r['ttft_p50_ms']:.0f} | "
                  f"{r['ttft_p99_ms']:.0f} | {r['loadavg_1m']:.1f} |")
    if a.only in (None, "unasked"):
        result["unasked"] = []
        for seed in (int(s) for s in a.seeds.split(",")):
            result["unasked"] += unasked(a.build, outdir, a.quick, seed)
        print("\n| clients without stream_options | seed | hit ratio (workers) | TTFT p50 ms | "
              "TTFT p99 ms | load avg |")
        print("|---|---:|---:|---:|---:|---:|")
        for r in result["unasked"]:
            print(f"| {r['config']} | {r['seed']} | {r['hit_ratio']:.3f} | {r['ttft_p50_ms']:.0f} | "
                  f"{r['ttft_p99_ms']:.0f} | {r['loadavg_1m']:.1f} |")
    if a.only in (None, "outside"):
        result["outside"] = outside(a.build, outdir, a.quick)
        print("\n| routers | /metrics scrape | share of the loaded worker (fair 0.125) | "
              "TTFT p99 ms | load avg |")
        print("|---|---|---:|---:|---:|")
        for r in result["outside"]:
            print(f"| {r['routers']}{' meshed' if r['mesh'] else ''} | "
                  f"{'500 ms' if r['scrape'] else 'off'} | {r['share_w0']:.3f} | "
                  f"{r['ttft_p99_ms']:.0f} | {r['loadavg_1m']:.1f} |")
    (outdir / "results.json").write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
