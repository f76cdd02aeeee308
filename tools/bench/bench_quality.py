"""Routing quality, scaling and memory parts of tools/bench/run.

Each part starts its own simulated workers and routers on loopback (fresh
caches per configuration, so one run's prompts never warm the next), drives
them with radixmesh-loadgen, and returns a JSON-ready dict. Every run is
bounded by the workload size, --duration and a subprocess timeout.
"""
import json
import pathlib

from bench_lib import (Cluster, cdf_file, cpu_seconds, gnuplot, http_get, loadavg, log,
                       rss_bytes, summary)

HERE = pathlib.Path(__file__).resolve().parent

# Simulated GPU workers: 50 µs per uncached prompt token (~20k tokens/s of
# prefill, a 7-8B model on one data-centre GPU), 2 ms per output token, a KV
# cache of 32k tokens (tight enough that a policy spraying every conversation
# over every worker evicts, as real caches do).
WORKER = {"prefill_us": 50, "decode_us": 2000, "kv_tokens": 32768}

# 32 system prompts (many applications share the fleet, more than workers):
# conversations of one system prompt are not forced onto one worker.
MULTITURN = ["--workload", "multiturn", "--system-prompts", 32, "--system-bytes", 4096,
             "--turn-bytes", 512, "--max-tokens", 16, "--stream"]
SHARED = ["--workload", "shared-prefix", "--prefix-bytes", 8192, "--turn-bytes", 256,
          "--max-tokens", 16, "--stream"]


def _workload(kind, quick):
    if kind == "multiturn":
        size = ["--conversations", 32 if quick else 64, "--turns", 4 if quick else 6]
        return MULTITURN + size + ["--concurrency", 16]
    if kind == "multiturn-2sys":
        # The hard case for load: 2 system prompts (> 30% of every prompt)
        # for the whole fleet, at a higher load (32 in flight).
        size = ["--conversations", 32 if quick else 64, "--turns", 4 if quick else 6]
        return MULTITURN + size + ["--system-prompts", 2, "--concurrency", 32]
    size = ["--groups", 8 if quick else 16, "--questions", 8 if quick else 16]
    return SHARED + size + ["--concurrency", 16]


def routing(build, outdir, quick):
    """cache_aware vs round_robin (one router) vs the oracle, 8 workers."""
    results = {"workers": 8, "worker_model": WORKER, "runs": []}
    for kind in ("multiturn", "shared-prefix", "multiturn-2sys"):
        for policy in ("cache_aware", "round_robin", "oracle"):
            with Cluster(build, outdir / "logs" / f"routing-{kind}-{policy}") as c:
                workers = c.add_workers(8, **WORKER)
                samples = outdir / f"samples-{kind}-{policy}.jsonl"
                flags = _workload(kind, quick) + ["--expect-workers", 8, "--seed", 1,
                                                  "--duration", 120]
                la = loadavg()
                if policy == "oracle":
                    res = c.loadgen(flags, pin=workers, samples=samples)
                else:
                    targets = c.add_routers(1, policy=policy)
                    res = c.loadgen(flags, targets=targets, samples=samples)
                row = {"workload": kind, "policy": policy, "loadavg_1m": la, **summary(res)}
                results["runs"].append(row)
                n = cdf_file(samples, outdir / f"cdf-{kind}-{policy}.dat")
                log(f"routing {kind:13} {policy:11} hit {row['hit_ratio']:.3f} "
                    f"TTFT p50 {row['ttft_p50_ms']:.1f} p99 {row['ttft_p99_ms']:.1f} ms "
                    f"spread {row['max_over_mean']:.2f}  ({n} ok, load {la:.1f})")
        by = {r["policy"]: r for r in results["runs"] if r["workload"] == kind}
        oracle = by["oracle"]["hit_ratio"] or 1e-9
        ca = by["cache_aware"]
        results.setdefault("target", {})[kind] = {
            "cache_aware_over_oracle": round(ca["hit_ratio"] / oracle, 3),
            "spread": ca["max_over_mean"],
            "met": ca["hit_ratio"] >= 0.9 * oracle and ca["max_over_mean"] <= 1.3,
        }
    for kind in ("multiturn", "shared-prefix"):
        gnuplot(HERE / "plot_ttft_cdf.gp", f"docs/img/ttft_cdf_{kind.replace('-', '_')}.png",
                dir=str(outdir), kind=kind)
    return results


def scaling(build, outdir, quick, mesh_available=True):
    """Hit ratio and TTFT vs routers (1,2,3,5; mesh and not) and vs workers."""
    # A delta rides the next gossip round (<= 200 ms) and one loopback hop;
    # 600 ms of think time is 3 rounds, margin on a loaded 2-core machine. A
    # person reads a reply for seconds, so with the default 1 s interval a
    # real deployment keeps the same think >> interval ratio.
    gossip_ms, think_ms = 200, 600
    # Conversation history dominates the prompt (short shared system prompt,
    # long turns): what a router must remember per conversation.
    flags = ["--workload", "multiturn", "--system-prompts", 32, "--system-bytes", 2048,
             "--turn-bytes", 1024, "--max-tokens", 32, "--stream",
             "--conversations", 32 if quick else 48, "--turns", 5 if quick else 8,
             "--concurrency", 32, "--think-ms", think_ms, "--seed", 2, "--duration", 120]
    results = {"gossip_interval_ms": gossip_ms, "think_ms": think_ms, "routers": [],
               "workers": []}
    counts = (1, 2, 3) if quick else (1, 2, 3, 5)
    for mesh in ((False, True) if mesh_available else (False,)):
        for n in counts:
            if mesh and n == 1:
                continue  # one router: the mesh has nothing to share; same as no mesh
            with Cluster(build, outdir / "logs" / f"scaling-r{n}-{'mesh' if mesh else 'solo'}") as c:
                c.add_workers(8, **WORKER)
                targets = c.add_routers(n, mesh=mesh, gossip_ms=gossip_ms)
                la = loadavg()
                res = c.loadgen(flags + ["--expect-workers", 8], targets=targets)
            row = {"routers": n, "mesh": mesh, "loadavg_1m": la, **summary(res)}
            results["routers"].append(row)
            log(f"scaling routers {n} mesh {mesh!s:5} hit {row['hit_ratio']:.3f} "
                f"TTFT p50 {row['ttft_p50_ms']:.1f} p99 {row['ttft_p99_ms']:.1f} ms (load {la:.1f})")
    wflags = _workload("multiturn", quick) + ["--seed", 3, "--duration", 120]
    for nw in (4, 8, 16):
        for policy in ("cache_aware", "round_robin"):
            with Cluster(build, outdir / "logs" / f"scaling-w{nw}-{policy}") as c:
                c.add_workers(nw, **WORKER)
                targets = c.add_routers(1, policy=policy)
                la = loadavg()
                res = c.loadgen(wflags + ["--expect-workers", nw], targets=targets)
            row = {"workers": nw, "policy": policy, "loadavg_1m": la, **summary(res)}
            results["workers"].append(row)
            log(f"scaling workers {nw:2} {policy:11} hit {row['hit_ratio']:.3f} "
                f"TTFT p50 {row['ttft_p50_ms']:.1f} p99 {row['ttft_p99_ms']:.1f} ms "
                f"spread {row['max_over_mean']:.2f} (load {la:.1f})")
    # Data for the plot: one line per router count, single-router value shared.
    single = next(r for r in results["routers"] if r["routers"] == 1)
    with open(outdir / "routers.dat", "w") as f:
        f.write("# routers hit_no_mesh hit_mesh\n")
        for n in counts:
            solo = next(r for r in results["routers"] if r["routers"] == n and not r["mesh"])
            mesh = next((r for r in results["routers"] if r["routers"] == n and r["mesh"]),
                        single if n == 1 else None)
            f.write(f"{n} {solo['hit_ratio']} {mesh['hit_ratio'] if mesh else 'NaN'}\n")
    gnuplot(HERE / "plot_routers.gp", "docs/img/hit_ratio_vs_routers.png",
            data=str(outdir / "routers.dat"))
    return results


def stickiness(samples_path):
    """Share of later turns (ok, and the previous turn ok) served by the
    previous turn's worker, from a loadgen --samples file."""
    turns = {}
    with open(samples_path) as f:
        for line in f:
            s = json.loads(line)
            if s.get("outcome") == "ok" and s.get("worker"):
                turns[(s["session"], s["turn"])] = s["worker"]
    same = total = 0
    for (session, turn), worker in turns.items():
        prev = turns.get((session, turn - 1))
        if turn > 0 and prev is not None:
            total += 1
            same += prev == worker
    return round(same / total, 4) if total else None


def conversation(build, outdir, quick):
    """Conversation speed: the next turn follows the reply at once (no think
    time), each request to a random router, default mesh flags (1 s gossip,
    2 ms push). 1/2/3/5 routers with the mesh, 3 without, and 3 with push
    off (--mesh-push-window-ms 0: tree and load changes only every round)."""
    configs = [(1, False, ()), (3, False, ()), (2, True, ()), (3, True, ()), (5, True, ()),
               (3, True, ("--mesh-push-window-ms", 0))]
    if quick:
        configs = [(1, False, ()), (3, True, ()), (3, True, ("--mesh-push-window-ms", 0))]
    results = {"worker_model": WORKER, "runs": []}
    for system_prompts in (4, 2):
        flags = ["--workload", "multiturn", "--system-prompts", system_prompts,
                 "--system-bytes", 4096, "--turn-bytes", 512, "--max-tokens", 16, "--stream",
                 "--conversations", 32 if quick else 64, "--turns", 4 if quick else 6,
                 "--concurrency", 32, "--think-ms", 0, "--seed", 4, "--duration", 120,
                 "--expect-workers", 8]
        for n, mesh, extra in configs:
            name = f"conv-s{system_prompts}-r{n}-{'mesh' if mesh else 'solo'}" + \
                ("-nopush" if extra else "")
            with Cluster(build, outdir / "logs" / name) as c:
                c.add_workers(8, **WORKER)
                # gossip_ms 1000: the router's default interval.
                targets = c.add_routers(n, mesh=mesh, gossip_ms=1000, extra=extra)
                la = loadavg()
                samples = outdir / f"samples-{name}.jsonl"
                cpu0 = sum(cpu_seconds(r["proc"].pid) for r in c.routers)
                res = c.loadgen(flags, targets=targets, samples=samples)
                cpu = sum(cpu_seconds(r["proc"].pid) for r in c.routers) - cpu0
            row = {"system_prompts": system_prompts, "routers": n, "mesh": mesh,
                   "push": mesh and not extra, "loadavg_1m": la,
                   "stickiness": stickiness(samples),
                   "router_cpu_us_per_request": round(cpu * 1e6 / max(1, res["requests"]["ok"])),
                   **summary(res)}
            results["runs"].append(row)
            log(f"conversation sys {system_prompts} routers {n} mesh {mesh!s:5} "
                f"push {row['push']!s:5} hit {row['hit_ratio']:.3f} sticky {row['stickiness']} "
                f"TTFT p50 {row['ttft_p50_ms']:.1f} p99 {row['ttft_p99_ms']:.1f} ms "
                f"{row['throughput_rps']:.0f} req/s spread {row['max_over_mean']:.2f} "
                f"router CPU {row['router_cpu_us_per_request']} us/req "
                f"(load {la:.1f})")
    return results


def memory(build, outdir, quick):
    """RSS of one router holding ~1M blocks, from outside (/proc VmRSS)."""
    prompts = 500 if quick else 2000
    system_bytes = 32768  # 512 blocks of 64 bytes per prompt
    with Cluster(build, outdir / "logs" / "memory") as c:
        c.add_workers(2, prefill_us=0, decode_us=0, kv_tokens=0)
        targets = c.add_routers(1, extra=["--max-blocks-per-worker", 4_000_000,
                                          "--memory-budget-bytes", 4 << 30])
        r = c.routers[0]
        # One small request first so the baseline includes warmed-up pools.
        c.loadgen(["--workload", "unique", "--unique-prompts", 4, "--system-bytes", 64,
                   "--turn-bytes", 16, "--max-tokens", 1, "--seed", 99], targets=targets)
        base = rss_bytes(r["proc"].pid)
        blocks0 = _tree_blocks(r["admin"])
        la = loadavg()
        res = c.loadgen(["--workload", "unique", "--unique-prompts", prompts,
                         "--system-bytes", system_bytes, "--turn-bytes", 64, "--max-tokens", 1,
                         "--concurrency", 8, "--seed", 4, "--duration", 300], targets=targets,
                        timeout=400)
        after = rss_bytes(r["proc"].pid)
        blocks = _tree_blocks(r["admin"])
        mem = _admin_json(r["admin"], "/admin/memory")
    added = max(1, blocks - blocks0)
    out = {"prompts": prompts, "prompt_bytes": system_bytes + 64, "requests_ok":
           res["requests"]["ok"], "blocks": blocks, "rss_base_bytes": base,
           "rss_after_bytes": after, "bytes_per_block": round((after - base) / added, 1),
           "tree_used_bytes": mem.get("used_bytes") if mem else None,
           "tree_bytes_per_block": round(mem["used_bytes"] / added, 1) if mem else None,
           "loadavg_1m": la}
    log(f"memory {blocks} blocks: RSS {base / 2**20:.1f} -> {after / 2**20:.1f} MiB, "
        f"{out['bytes_per_block']} B/block from outside (load {la:.1f})")
    return out


def _admin_json(port, path):
    try:
        return json.loads(http_get(port, path, timeout=5.0)[1])
    except (OSError, ValueError):
        return None


def _tree_blocks(admin):
    """Total blocks over every tree, from /admin/trees."""
    data = _admin_json(admin, "/admin/trees")
    if data is None:
        return 0
    trees = data.get("trees", data) if isinstance(data, dict) else data
    total = 0
    for t in trees if isinstance(trees, list) else []:
        total += int(t.get("blocks", t.get("nodes", 0)))
    return total

