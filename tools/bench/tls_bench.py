#!/usr/bin/env python3
"""TLS benchmark: what data-plane TLS costs the router, on loopback.

Three routers over the same simulated workers (answering at once): plain
HTTP, TLS with an ECDSA P-256 certificate, TLS with an RSA 2048 one (certs
made with the openssl CLI in a temp dir). wrk is the client.

  - handshakes, new connection per request (GET /health, Connection: close):
    (a) full handshakes: a Python ssl client that never resumes a session
        (--handshake-threads threads; the GIL is released during the handshake);
    (b) wrk, which resumes its TLS session on every reconnect (it keeps the
        session across SSL_clear), so no certificate signature is made.
    Reports connections/s and the router's CPU per connection; TLS minus
    plain is the handshake's cost.
  - keep-alive: the proxy bench's workload (tools/bench/proxy_bench.py: POST
    of a small chat body or a 32 KB prompt, 32 connections): requests/s and
    router CPU per request, plain vs TLS (ECDSA).

Rounds are interleaved across targets (plain, ecdsa, rsa, plain, ...) and
the median is reported, as in the proxy bench.

Usage: tools/bench/tls_bench.py [--build build] [--threads 1] [--duration 5]
       [--rounds 3] [--bodies small,32k]
Prints Markdown tables (docs/benchmarks.md "## TLS"). Only loopback; every
process is stopped at the end; every run is bounded by --duration.
"""
import argparse
import os
import socket
import ssl
import threading
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from bench_lib import free_port  # noqa: E402
from proxy_bench import HOST, ROOT, body_32k, body_small, cpu_seconds, wait_ok, wrk  # noqa: E402


def openssl(tmp, *args):
    subprocess.run(["openssl", *args], cwd=tmp, check=True, timeout=60,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def make_cert(tmp, name, key_args):
    openssl(tmp, "req", "-x509", *key_args, "-nodes", "-keyout", f"{name}.key", "-out",
            f"{name}.pem", "-days", "1", "-subj", "/CN=localhost",
            "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1")
    return os.path.join(tmp, f"{name}.pem"), os.path.join(tmp, f"{name}.key")


def run_wrk_headers(url, conns, duration, headers, tmp):
    """wrk GET with extra headers; returns requests/s and the completed count."""
    script = pathlib.Path(tmp) / "get.lua"
    script.write_text("".join(f'wrk.headers["{k}"] = "{v}"\n' for k, v in headers.items()))
    out = subprocess.run(["wrk", "-t", "1", "-c", str(conns), "-d", f"{duration}s", "-s",
                          str(script), url], capture_output=True, text=True,
                         timeout=duration + 30).stdout
    import re
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    return rps, total


def full_handshakes(port, tls, duration, threads):
    """New connection (and for TLS a full handshake, no resumption) per GET
    /health for `duration` seconds from `threads` threads; (rps, count)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["http/1.1"])
    request = b"GET /health HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n"
    counts = [0] * threads
    deadline = time.monotonic() + duration

    def loop(i):
        while time.monotonic() < deadline:
            try:
                raw = socket.create_connection((HOST, port), timeout=5)
                s = ctx.wrap_socket(raw, server_hostname="localhost") if tls else raw
                with s:
                    s.sendall(request)
                    data = b""
                    while b"\r\n\r\n" not in data or not data.endswith(b"}"):
                        chunk = s.recv(4096)
                        if not chunk:
                            break
                        data += chunk
                if data.startswith(b"HTTP/1.1 200"):
                    counts[i] += 1
            except (OSError, ssl.SSLError):
                pass

    started = time.monotonic()
    ts = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    n = sum(counts)
    return n / (time.monotonic() - started), n


def measure(pid, fn):
    """Runs fn() -> (rps, requests); returns rps and router CPU µs per request."""
    u0, s0 = cpu_seconds([pid])
    rps, n = fn()
    u1, s1 = cpu_seconds([pid])
    n = max(n, 1)
    return rps, (u1 - u0) * 1e6 / n, (s1 - s0) * 1e6 / n


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.environ.get("RADIXMESH_BUILD", str(ROOT / "build")))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--conns", type=int, default=32)
    ap.add_argument("--handshake-conns", type=int, default=8)
    ap.add_argument("--handshake-threads", type=int, default=4)
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--bodies", default="small,32k")
    args = ap.parse_args()
    build = pathlib.Path(args.build)
    sim_bin = build / "tools/sim_worker/radixmesh-sim-worker"
    router_bin = build / "router/radixmesh"
    tmp = tempfile.mkdtemp(prefix="tls-bench-")
    procs = []
    try:
        certs = {
            "ecdsa": make_cert(tmp, "ecdsa", ["-newkey", "ec", "-pkeyopt",
                                              "ec_paramgen_curve:P-256"]),
            "rsa": make_cert(tmp, "rsa", ["-newkey", "rsa:2048"]),
        }
        sims = []
        for i in range(2):
            p = free_port()
            procs.append(subprocess.Popen(
                [str(sim_bin), "--host", HOST, "--port", str(p), "--id", f"w{i}",
                 "--prefill-us-per-token", "0", "--decode-us-per-token", "0",
                 "--concurrency", "1024", "--max-queue", "4096"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            sims.append(p)
        for p in sims:
            wait_ok(p)
        targets = {}  # name -> (url base, pid)
        for name in ("plain", "ecdsa", "rsa"):
            port = free_port()
            cmd = [str(router_bin), "--host", HOST, "--port", str(port), "--admin-port",
                   str(free_port()), "--threads", str(args.threads), "--log-level", "warn"]
            cmd += sum((["--worker", f"http://{HOST}:{p}"] for p in sims), [])
            if name != "plain":
                cmd += ["--tls-cert-file", certs[name][0], "--tls-key-file", certs[name][1]]
            procs.append(subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL))
            scheme = "http" if name == "plain" else "https"
            targets[name] = (f"{scheme}://{HOST}:{port}", procs[-1].pid)
            # Ready: the plain one answers /readiness; the TLS ones after a
            # moment (their workers are the same, checked by the plain one).
            if name == "plain":
                wait_ok(port, "/readiness")
        time.sleep(1.0)

        # Handshakes: a new connection per request.
        def port_of(base):
            return int(base.rsplit(":", 1)[1])

        clients = {
            f"full handshakes (Python ssl, {args.handshake_threads} threads, no resumption)":
                lambda name, base: full_handshakes(port_of(base), name != "plain",
                                                   args.duration, args.handshake_threads),
            f"wrk, {args.handshake_conns} connections (TLS sessions resumed)":
                lambda name, base: run_wrk_headers(base + "/health", args.handshake_conns,
                                                   args.duration, {"Connection": "close"}, tmp),
        }
        for title, client in clients.items():
            hs = {name: [] for name in targets}
            for _ in range(args.rounds):
                for name, (base, pid) in targets.items():
                    hs[name].append(measure(pid, lambda: client(name, base)))
            print(f"### new connection per request: {title}, median of {args.rounds}\n")
            print("| target | connections/s | router CPU/connection user + sys (µs) |"
                  " minus plain (µs) |")
            print("|---|---:|---:|---:|")
            plain_cpu = None
            for name, runs in hs.items():
                rps = statistics.median(r[0] for r in runs)
                user = statistics.median(r[1] for r in runs)
                system = statistics.median(r[2] for r in runs)
                if name == "plain":
                    plain_cpu = user + system
                extra = "" if name == "plain" else f"{user + system - plain_cpu:.0f}"
                print(f"| {name} | {rps:,.0f} | {user:.1f} + {system:.1f} | {extra} |")
            print()

        bodies = {"small": body_small(), "32k": body_32k()}
        for body_name in args.bodies.split(","):
            body = bodies[body_name]
            ka = {name: [] for name in ("plain", "ecdsa")}
            for _ in range(args.rounds):
                for name in ka:
                    base, pid = targets[name]
                    def run(url=base + "/v1/chat/completions"):
                        r = wrk(url, body, args.conns, args.duration, 1, tmp)
                        return r["rps"], int(r["rps"] * args.duration)
                    ka[name].append(measure(pid, run))
            print(f"\n### keep-alive, {body_name} body ({args.conns} connections, "
                  f"median of {args.rounds})\n")
            print("| target | requests/s | router CPU/request user + sys (µs) |")
            print("|---|---:|---:|")
            for name, runs in ka.items():
                rps = statistics.median(r[0] for r in runs)
                user = statistics.median(r[1] for r in runs)
                system = statistics.median(r[2] for r in runs)
                print(f"| {'TLS (ECDSA)' if name == 'ecdsa' else 'plain'} | {rps:,.0f} | "
                      f"{user:.1f} + {system:.1f} |")
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
