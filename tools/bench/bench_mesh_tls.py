#!/usr/bin/env python3
"""Router CPU per request with the mesh over mutual TLS against plain mesh
(docs/benchmarks.md "## mesh", "Mesh mutual TLS").

Three meshed routers (default mesh flags: 1 s gossip, 2 ms push) over 8
simulated workers, the conversation-speed workload of bench_quality.py
(64 conversations x 6 turns, 4 system prompts, 32 in flight); the two
configurations interleaved (plain, TLS, plain, TLS, ...) for --rounds rounds.
CPU: the sum over every router thread of se.sum_exec_runtime
(/proc/PID/task/TID/sched, nanosecond accounting) across the loadgen run,
divided by the requests. Certificates (ECDSA P-256, one shared by the three
routers as from one Secret) are made with the openssl command line in a
temporary directory. Loopback only; every wait is bounded.

With --handshakes N (1-5000) it also times N mesh TLS handshakes against
one router, one new connection each from a client holding a certificate of
the mesh CA (Python's ssl module), and reports the router CPU per handshake.

  tools/bench/bench_mesh_tls.py [--build build] [--rounds 4] [--handshakes 500]
"""
import argparse
import pathlib
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from bench_lib import (LOADGEN, ROUTER, SIM, Cluster, ensure_built, http_get, loadavg,  # noqa: E402
                       log, sched_seconds)

WORKER = {"prefill_us": 50, "decode_us": 2000, "kv_tokens": 32768}
FLAGS = ["--workload", "multiturn", "--system-prompts", 4, "--system-bytes", 4096,
         "--turn-bytes", 512, "--max-tokens", 16, "--stream", "--conversations", 64,
         "--turns", 6, "--concurrency", 32, "--think-ms", 0, "--seed", 4, "--duration", 120,
         "--expect-workers", 8]


def make_certs(d):
    def run(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=30)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run("req", "-x509", *ec, "-keyout", f"{d}/ca.key", "-out", f"{d}/ca.crt", "-days", "1",
        "-subj", "/CN=bench-mesh-ca")
    run("req", *ec, "-keyout", f"{d}/tls.key", "-out", f"{d}/tls.csr", "-subj", "/CN=bench-mesh")
    run("x509", "-req", "-in", f"{d}/tls.csr", "-CA", f"{d}/ca.crt", "-CAkey", f"{d}/ca.key",
        "-set_serial", "1", "-days", "1", "-out", f"{d}/tls.crt")
    return ["--mesh-tls-cert-file", f"{d}/tls.crt", "--mesh-tls-key-file", f"{d}/tls.key",
            "--mesh-tls-ca-file", f"{d}/ca.crt"]


def metric(admin, name):
    body = http_get(admin, "/metrics")[1].decode()
    return sum(float(l.split()[-1]) for l in body.splitlines()
               if l.startswith(name + " ") or l.startswith(name + "{"))


def handshake_cost(build, logdir, d, tls_args, n):
    """Router CPU per mesh TLS handshake (acceptor side), n new connections."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.load_verify_locations(f"{d}/ca.crt")
    ctx.load_cert_chain(f"{d}/tls.crt", f"{d}/tls.key")
    with Cluster(build, logdir) as c:
        c.add_workers(1, **WORKER)
        c.add_routers(1, mesh=True, gossip_ms=1000, extra=tls_args)
        r = c.routers[0]
        args = [str(a) for a in r["proc"].args]
        mesh_port = int(args[args.index("--mesh-port") + 1])
        pid = r["proc"].pid
        cpu0, t0 = sched_seconds(pid), time.monotonic()
        for _ in range(n):
            with socket.create_connection(("127.0.0.1", mesh_port), timeout=5) as raw:
                with ctx.wrap_socket(raw):
                    pass
        wall = time.monotonic() - t0
        time.sleep(0.2)  # the router's side of the last closes
        cpu = sched_seconds(pid) - cpu0
        done = metric(r["admin"], "radixmesh_mesh_tls_handshakes_total")
    return {"handshakes": n, "counted": done, "router_us_per_handshake": cpu * 1e6 / n,
            "handshakes_per_s": n / wall}


def one_run(build, logdir, extra):
    with Cluster(build, logdir) as c:
        c.add_workers(8, **WORKER)
        targets = c.add_routers(3, mesh=True, gossip_ms=1000, extra=extra)
        la = loadavg()
        pids = [r["proc"].pid for r in c.routers]
        cpu0 = sum(sched_seconds(p) for p in pids)
        mesh0 = sum(sched_seconds(p, "rm-mesh") for p in pids)
        res = c.loadgen(FLAGS, targets=targets)
        cpu = sum(sched_seconds(p) for p in pids) - cpu0
        mesh = sum(sched_seconds(p, "rm-mesh") for p in pids) - mesh0
        ok = max(1, res["requests"]["ok"])
        sent = sum(metric(r["admin"], "radixmesh_mesh_bytes_sent_total") for r in c.routers)
        tls_ok = sum(metric(r["admin"], "radixmesh_mesh_tls_handshakes_total") for r in c.routers)
    return {"us_per_request": cpu * 1e6 / ok, "mesh_us_per_request": mesh * 1e6 / ok,
            "requests": ok, "loadavg": la,
            "mesh_bytes_sent": sent, "tls_handshakes": tls_ok}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--out", default="out/bench-mesh-tls")
    ap.add_argument("--handshakes", type=int, default=0)
    args = ap.parse_args()
    rounds = max(1, min(args.rounds, 20))
    ensure_built(args.build, [ROUTER, SIM, LOADGEN])
    out = pathlib.Path(args.out)
    with tempfile.TemporaryDirectory(prefix="bench-mesh-tls-") as d:
        tls_args = make_certs(d)
        if args.handshakes > 0:
            h = handshake_cost(args.build, out / "logs" / "handshakes", d, tls_args,
                               min(args.handshakes, 5000))
            print(f"handshakes: {h['handshakes']} ({h['counted']:.0f} counted), router "
                  f"{h['router_us_per_handshake']:.0f} us CPU per handshake, "
                  f"{h['handshakes_per_s']:.0f} handshakes/s from one client (load {loadavg():.1f})")
        runs = {"plain": [], "tls": []}
        for i in range(rounds):
            for name, extra in (("plain", []), ("tls", tls_args)):
                r = one_run(args.build, out / "logs" / f"{name}-{i}", extra)
                runs[name].append(r)
                log(f"round {i} {name:5}: {r['us_per_request']:.0f} us/req "
                    f"(mesh thread {r['mesh_us_per_request']:.0f}) over {r['requests']} "
                    f"requests, mesh {r['mesh_bytes_sent'] / r['requests']:.0f} B/req sent, "
                    f"{r['tls_handshakes']:.0f} TLS handshakes (load {r['loadavg']:.1f})")
    for key, what in (("us_per_request", "router"), ("mesh_us_per_request", "mesh thread")):
        for name, rs in runs.items():
            us = [r[key] for r in rs]
            print(f"{what} {name:5}: median {statistics.median(us):.0f} us/req "
                  f"(range {min(us):.0f}-{max(us):.0f}, {len(us)} runs)")
        plain = statistics.median(r[key] for r in runs["plain"])
        tls = statistics.median(r[key] for r in runs["tls"])
        print(f"{what}: TLS adds {tls - plain:+.1f} us/req ({(tls / plain - 1) * 100:+.1f} %) "
              "in the median")


if __name__ == "__main__":
    main()
