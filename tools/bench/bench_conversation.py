#!/usr/bin/env python3
"""Conversation speed, repeated: medians of interleaved rounds, optionally
two builds side by side (A/B).

The workload of `tools/bench/run --only conversation` (bench_quality.py,
conversation()): 8 simulated workers, 64 conversations x 6 turns, 4 KB system
prompts (4 of them, then 2), 512-byte user turns, 16-token streamed replies,
32 in flight, next turn at once, each request to a random router, default
router and mesh flags. One round runs every configuration once per build, in
the same order (1 router, 3 without the mesh, 3 and 5 meshed); --rounds
rounds; the table is the median per (build, configuration) and the range.

Per run: hit ratio, next-turn stickiness, TTFT p50/p99, the share of
decisions the imbalance rule made (radixmesh_policy_decisions_total
{reason="imbalance_least_loaded"} over all decisions, summed over routers),
the share the branch rule made (reason="branch_least_loaded"),
router CPU per request from the scheduler's nanosecond accounting of every
router thread over the loadgen run (and of the mesh's own thread, rm-mesh,
alone), and mesh frames sent per request (all types, all routers:
radixmesh_mesh_frames_sent_total).

  tools/bench/bench_conversation.py --rounds 5
  tools/bench/bench_conversation.py --rounds 4 --baseline /path/to/old/build
  tools/bench/bench_conversation.py --rounds 10 --system-prompts 2 \
      --setups r1,r3
  tools/bench/bench_conversation.py --rounds 4 --baseline-flags=--branch-slack=1000000

--baseline-flags runs the same build a second time as the baseline, with
those router flags added (comma-separated): an A/B of a setting.

Loopback only; every process is stopped when its configuration ends; each
loadgen run is bounded (--duration 120, subprocess timeout).
"""
import argparse
import json
import pathlib
import statistics
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from bench_lib import ROOT, Cluster, loadavg, log, metric_sum, sched_seconds, summary  # noqa: E402
from bench_quality import WORKER, stickiness  # noqa: E402

# (key for --setups, label, routers, mesh)
CONFIGS = [("r1", "1 router", 1, False), ("r3-solo", "3 routers, no mesh", 3, False),
           ("r3", "3 meshed", 3, True), ("r5", "5 meshed", 5, True)]
DECISIONS = "radixmesh_policy_decisions_total"
FRAMES = "radixmesh_mesh_frames_sent_total"
MESH_THREAD = "rm-mesh"  # the mesh's own thread (router/mesh_glue.cc)


def flags(system_prompts):
    return ["--workload", "multiturn", "--system-prompts", system_prompts,
            "--system-bytes", 4096, "--turn-bytes", 512, "--max-tokens", 16, "--stream",
            "--conversations", 64, "--turns", 6, "--concurrency", 32, "--think-ms", 0,
            "--seed", 4, "--duration", 120, "--expect-workers", 8]


def run_one(build, outdir, tag, system_prompts, n, mesh, extra=()):
    name = f"{tag}-s{system_prompts}-r{n}-{'mesh' if mesh else 'solo'}"
    with Cluster(build, outdir / "logs" / name) as c:
        c.add_workers(8, **WORKER)
        targets = c.add_routers(n, mesh=mesh, gossip_ms=1000, extra=extra)
        samples = outdir / f"samples-{name}.jsonl"
        la = loadavg()
        cpu0 = sum(sched_seconds(r["proc"].pid) for r in c.routers)
        mesh0 = sum(sched_seconds(r["proc"].pid, MESH_THREAD) for r in c.routers)
        res = c.loadgen(flags(system_prompts), targets=targets, samples=samples)
        cpu = sum(sched_seconds(r["proc"].pid) for r in c.routers) - cpu0
        mesh_cpu = sum(sched_seconds(r["proc"].pid, MESH_THREAD) for r in c.routers) - mesh0
        imbalance = sum(metric_sum(r["admin"], DECISIONS, 'reason="imbalance_least_loaded"')
                        for r in c.routers)
        branch = sum(metric_sum(r["admin"], DECISIONS, 'reason="branch_least_loaded"')
                     for r in c.routers)
        decisions = sum(metric_sum(r["admin"], DECISIONS) for r in c.routers)
        frames = sum(metric_sum(r["admin"], FRAMES) for r in c.routers)
    s = summary(res)
    return {"hit": s["hit_ratio"], "sticky": stickiness(samples),
            "p50": s["ttft_p50_ms"], "p99": s["ttft_p99_ms"],
            "imbalance": round(imbalance / max(1.0, decisions), 4),
            "branch": round(branch / max(1.0, decisions), 4),
            "cpu_us": round(cpu * 1e6 / max(1, res["requests"]["ok"])),
            "mesh_cpu_us": round(mesh_cpu * 1e6 / max(1, res["requests"]["ok"])),
            "frames": round(frames / max(1, res["requests"]["ok"]), 2),
            "rps": s["throughput_rps"], "load": la}


def fmt(values, digits):
    med = statistics.median(values)
    if len(values) < 2:
        return f"{med:.{digits}f}"
    return f"{med:.{digits}f} ({min(values):.{digits}f}-{max(values):.{digits}f})"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=str(ROOT / "build"))
    ap.add_argument("--baseline", help="a second build dir, run interleaved with --build")
    ap.add_argument("--baseline-flags", help="comma-separated router flags: the same build, "
                    "run again as the baseline with these added")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--system-prompts", default="4,2")
    ap.add_argument("--setups", default=",".join(c[0] for c in CONFIGS),
                    help="comma-separated, of: " + ", ".join(f"{c[0]} ({c[1]})" for c in CONFIGS))
    ap.add_argument("--out", default="/tmp/radixmesh-bench-conversation")
    args = ap.parse_args()
    outdir = pathlib.Path(args.out)
    outdir.mkdir(parents=True, exist_ok=True)
    builds = [("new", args.build, ())]
    if args.baseline:
        builds.append(("base", args.baseline, ()))
    if args.baseline_flags:
        builds.append(("base-flags", args.build, tuple(args.baseline_flags.split(","))))
    prompts = [int(x) for x in args.system_prompts.split(",")]
    keys = args.setups.split(",")
    unknown = set(keys) - {c[0] for c in CONFIGS}
    if unknown:
        ap.error(f"unknown set-ups: {sorted(unknown)}")
    setups = [c[1:] for c in CONFIGS if c[0] in keys]
    runs = {}
    for rnd in range(args.rounds):
        for sp in prompts:
            for label, n, mesh in setups:
                for tag, build, extra in builds:
                    r = run_one(build, outdir, f"{tag}{rnd}", sp, n, mesh, extra)
                    runs.setdefault((tag, sp, label), []).append(r)
                    log(f"round {rnd} {tag} sys {sp} {label}: hit {r['hit']:.3f} sticky "
                        f"{r['sticky']} p50 {r['p50']:.1f} p99 {r['p99']:.1f} imbalance "
                        f"{r['imbalance']:.3f} branch {r['branch']:.3f} cpu {r['cpu_us']} us/req (mesh thread "
                        f"{r['mesh_cpu_us']}) frames {r['frames']}/req "
                        f"{r['rps']:.0f} req/s "
                        f"(load {r['load']:.1f})")
    (outdir / "runs.json").write_text(json.dumps(
        [{"build": t, "system_prompts": sp, "config": c, "runs": v}
         for (t, sp, c), v in runs.items()], indent=1))
    print("| system prompts | build | set-up | hit ratio | next-turn stickiness | TTFT p50 ms "
          "| TTFT p99 ms | imbalance decisions | branch decisions | router CPU µs/req "
          "| of which mesh thread | mesh frames sent/req |")
    print("|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for sp in prompts:
        for label, _, _ in setups:
            for tag, _, _ in builds:
                v = runs[(tag, sp, label)]
                col = lambda k: [x[k] for x in v if x[k] is not None]  # noqa: E731
                print(f"| {sp} | {tag} | {label} | {fmt(col('hit'), 3)} | {fmt(col('sticky'), 3)} "
                      f"| {fmt(col('p50'), 1)} | {fmt(col('p99'), 1)} | "
                      f"{fmt(col('imbalance'), 3)} | {fmt(col('branch'), 3)} | {fmt(col('cpu_us'), 0)} | {fmt(col('mesh_cpu_us'), 0)} | {fmt(col('frames'), 2)} |")


if __name__ == "__main__":
    main()
