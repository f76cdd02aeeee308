#!/usr/bin/env python3
"""Runs every test suite and prints one closing line: "N passed, N failed".

Suites:
  unit         doctest executables build/tests/**/unit_* (one count per test case)
  integration  Python unittest modules tests/integration/test_*.py, which start
               the real binaries on loopback (one count per test method)
  node         node:test files tests/node/*.test.mjs: the official openai client
               and the helm chart tests (one count per test)
  promtool     the operator alerts (helm/radixmesh/files/alerts.yaml):
               `promtool check rules`, `promtool test rules` on each
               tests/alerts/*.test.yaml, and `promtool check metrics` on the
               /metrics of a live router (mesh on) and simulated worker (one
               count each)
  tsan         the concurrency test cases of radix, policies and mesh again, built
               with clang ThreadSanitizer (build-tsan/); router's too with
               --sanitize-router
  asan         every unit executable again, built with clang under
               AddressSanitizer + UndefinedBehaviorSanitizer (build-asan/),
               then a few integration modules (ASAN_INTEGRATION) against
               the sanitized router and simulated worker
  fuzz         each libFuzzer target of tests/fuzz/ for a bounded time from
               its seed corpus (build-asan/; --fuzz-seconds per target)
  --no-sanitize-router leaves router/ and tools/ (unit_router, unit_tools,
  fuzz_http_request) out of asan and fuzz.

A suite that cannot run at all (crash, missing runner) counts as one failure,
so the summary never hides it.
"""
import argparse
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import time
import unittest
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parents[2]


class Tally:
    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.lines = []

    def add(self, suite, passed, failed, seconds):
        self.passed += passed
        self.failed += failed
        self.lines.append(f"{suite:<40} {passed:>5} passed {failed:>4} failed  {seconds:6.1f}s")


DOCTEST_SUMMARY = re.compile(r"test cases:\s*(\d+)\s*\|\s*(\d+) passed\s*\|\s*(\d+) failed")


def run_doctest(exe, tally, extra_args=(), label=None, env=None):
    label = label or exe.name
    start = time.monotonic()
    print(f"== {label}", flush=True)
    proc = subprocess.run([str(exe), "--no-colors", *extra_args], cwd=ROOT,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=900, env=env)
    out = proc.stdout
    m = None
    for m in DOCTEST_SUMMARY.finditer(out):
        pass
    if m is None:
        sys.stdout.write(out[-4000:])
        tally.add(label, 0, 1, time.monotonic() - start)
        return
    passed, failed = int(m.group(2)), int(m.group(3))
    if failed or proc.returncode != 0:
        sys.stdout.write(out[-20000:])
        if failed == 0:
            failed = 1  # a crash after the summary, or a sanitizer report
    tally.add(label, passed, failed, time.monotonic() - start)


def run_unit(build, tally):
    exes = sorted(p for p in (build / "tests").rglob("unit_*")
                  if p.is_file() and os.access(p, os.X_OK) and p.suffix == "")
    if not exes:
        print("no unit test executables found", flush=True)
        tally.add("unit (none found)", 0, 1, 0)
    for exe in exes:
        run_doctest(exe, tally)


class CountingResult(unittest.TextTestResult):
    pass


def run_integration(build, tally, pattern):
    start = time.monotonic()
    print("== integration", flush=True)
    os.environ["RADIXMESH_BUILD"] = str(build.resolve())
    suite_dir = ROOT / "tests" / "integration"
    sys.path.insert(0, str(suite_dir))
    suite = unittest.defaultTestLoader.discover(str(suite_dir), pattern=pattern,
                                                top_level_dir=str(suite_dir))
    runner = unittest.TextTestRunner(stream=sys.stdout, verbosity=2, resultclass=CountingResult)
    result = runner.run(suite)
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    passed = result.testsRun - failed - len(result.skipped)
    tally.add("integration (python)", passed, failed, time.monotonic() - start)


NODE_PASS = re.compile(r"^# pass (\d+)", re.M)
NODE_FAIL = re.compile(r"^# fail (\d+)", re.M)


def run_node(build, tally):
    files = sorted((ROOT / "tests" / "node").glob("*.test.mjs"))
    if not files:
        return
    start = time.monotonic()
    print("== node", flush=True)
    env = dict(os.environ, RADIXMESH_BUILD=str(build.resolve()))
    proc = subprocess.run(["node", "--test", "--test-reporter=tap", *map(str, files)],
                          cwd=ROOT / "tests" / "node", stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=900, env=env)
    out = proc.stdout
    p, f = NODE_PASS.search(out), NODE_FAIL.search(out)
    if not p or not f:
        sys.stdout.write(out[-4000:])
        tally.add("node", 0, 1, time.monotonic() - start)
        return
    passed, failed = int(p.group(1)), int(f.group(1))
    if failed:
        sys.stdout.write(out[-20000:])
    tally.add("node (openai client, helm chart)", passed, failed, time.monotonic() - start)


ALERT_RULES = "helm/radixmesh/files/alerts.yaml"


def run_promtool_case(tally, label, args, stdin=None):
    """One promtool invocation as one counted case (passed when it exits 0)."""
    start = time.monotonic()
    try:
        proc = subprocess.run(["promtool", *args], cwd=ROOT, input=stdin, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=120)
        ok, out = proc.returncode == 0, proc.stdout.decode(errors="replace")
    except (OSError, subprocess.TimeoutExpired) as e:
        ok, out = False, str(e)
    if not ok:
        sys.stdout.write(out[-4000:] + "\n")
    tally.add(label, 1 if ok else 0, 0 if ok else 1, time.monotonic() - start)


def fetch_metrics(port, proc, path="/metrics", timeout=10.0):
    """GET path on a just-started process, retried until it answers 200 or
    timeout seconds pass; None if it exits or never answers."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as r:
                if r.status == 200:
                    return r.read()
        except OSError:
            pass
        time.sleep(0.1)
    return None


def check_live_metrics(build, tally):
    """`promtool check metrics` on the exposition of a running simulated
    worker (engine dialect off: its vllm:/sglang: names copy real engines and
    contain ':', which the linter refuses) and a router over it with the mesh
    on (so the mesh families are there too)."""
    sys.path.insert(0, str(ROOT / "tools" / "bench"))
    from bench_lib import free_port  # loopback ports never handed out before
    start = time.monotonic()
    sim_port, port, admin, mesh = free_port(), free_port(), free_port(), free_port()
    procs = []

    def spawn(args):
        p = subprocess.Popen([str(a) for a in args], cwd=ROOT, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)
        procs.append(p)
        return p

    try:
        sim = spawn([build / "tools/sim_worker/radixmesh-sim-worker", "--host", "127.0.0.1",
                     "--port", sim_port, "--metrics-dialect", "none"])
        sim_text = fetch_metrics(sim_port, sim)
        router = spawn([build / "router/radixmesh", "--host", "127.0.0.1", "--port", port,
                        "--admin-host", "127.0.0.1", "--admin-port", admin, "--threads", 1,
                        "--mesh-port", mesh, "--mesh-advertise", f"127.0.0.1:{mesh}",
                        "--health-interval-ms", 200, "--worker", f"http://127.0.0.1:{sim_port}"])
        # Ready: the worker is known healthy, so its per-worker series exist.
        ready = fetch_metrics(port, router, "/readiness") is not None
        router_text = fetch_metrics(admin, router) if ready else None
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=5)
    for label, text in (("promtool check metrics (sim worker)", sim_text),
                        ("promtool check metrics (router, mesh on)", router_text)):
        if text is None:
            print(f"{label}: no /metrics from the process", flush=True)
            tally.add(label, 0, 1, time.monotonic() - start)
        else:
            run_promtool_case(tally, label, ["check", "metrics"], stdin=text)


def run_promtool(build, tally):
    """The alert rules and the exposition format, checked by promtool."""
    print("== promtool", flush=True)
    if shutil.which("promtool") is None:
        print("promtool not found: run tools/dev/install-deps --test", flush=True)
        tally.add("promtool (not installed)", 0, 1, 0)
        return
    run_promtool_case(tally, "promtool check rules",
                      ["check", "rules", ALERT_RULES])
    tests = sorted((ROOT / "tests" / "alerts").glob("*.test.yaml"))
    if not tests:
        tally.add("promtool test rules (none found)", 0, 1, 0)
    for t in tests:
        run_promtool_case(tally, f"promtool test {t.name.removesuffix('.test.yaml')}",
                          ["test", "rules", str(t.relative_to(ROOT))])
    check_live_metrics(build, tally)


# build-tsan/: clang ThreadSanitizer. -O1 keeps TSan's run time reasonable;
# line tables only (no full debug info) still give file:line in reports and
# halve the compile time of the Beast/coroutine sources (docs/reliability.md,
# CI cost).
TSAN_BUILD = "build-tsan"
TSAN_SETUP = {
    "b_sanitize": "thread", "b_lundef": False, "optimization": "1", "debug": False,
    "b_ndebug": "false", "benchmarks": False, "cpp_args": ["-gline-tables-only"],
}


def run_tsan(tally, with_router=False):
    """Concurrency cases under ThreadSanitizer, in their own build dir."""
    tsan = ROOT / TSAN_BUILD
    start = time.monotonic()
    print("== tsan build", flush=True)
    if not setup_build(tsan, TSAN_SETUP, tally, "tsan", start):
        return
    # Per target, the cases that cross threads. The mesh's: the node's stop
    # handshake and the push window armed from a router thread, and the
    # snapshot worker.
    cases = {"tests/radix/unit_radix": "*concurren*",
             "tests/policies/unit_policies": "*concurren*",
             "tests/mesh/unit_mesh": "graceful stop*,push flushes: a window armed*,"
                                     "the snapshot worker runs jobs off-thread*"}
    if with_router:
        cases["tests/router/unit_router"] = "*concurren*"
    targets = list(cases)
    if not ninja_targets(tsan, targets, tally, "tsan", start):
        return
    env = dict(os.environ, TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1")
    for t in targets:
        run_doctest(tsan / t, tally, extra_args=[f"--test-case={cases[t]}"],
                    label=f"tsan {pathlib.Path(t).name}", env=env)


ASAN_BUILD = "build-asan"
FUZZ_TARGETS = ["frame", "sync_payload", "snapshot", "delta_apply", "canonical_prompt", "address"]
# The request-path target links router/ (Beast, coroutines).
ROUTER_FUZZ_TARGETS = ["http_request"]
# Extra libFuzzer flags per target. http_request has ~90k coverage features
# (Beast and Asio templates): libFuzzer's entropic schedule then spends ~90%
# of the time updating feature frequencies (2 exec/s instead of ~120).
FUZZ_FLAGS = {"http_request": ["-entropic=0"]}
# Unit executables built and run under ASan+UBSan without router/ and tools/;
# with them, every unit_* of tests/.
ASAN_UNITS = ["radix", "policies", "mesh"]
# build-asan/: clang, ASan+UBSan, fuzz targets enabled. -O0 with line tables
# only: a clang ASan+UBSan compile of the Beast/coroutine sources at -O2 -g
# takes about 5x as long (docs/reliability.md, CI cost), and -O0 is what
# makes router/ and tools/ fit in CI (the fuzz targets run at -O0 too).
# clang 14 cannot emit -fsanitize=function checks for coroutine frames
# ("Cannot represent a difference across sections"); every other UBSan check
# stays on. Asserts stay on (b_ndebug=false).
ASAN_SETUP = {
    "b_sanitize": "address,undefined", "b_lundef": False, "optimization": "0", "debug": False,
    "b_ndebug": "false", "benchmarks": False, "fuzzers": True,
    "cpp_args": ["-fno-sanitize=function", "-gline-tables-only"],
    "cpp_link_args": ["-fno-sanitize=function"],
}


def meson_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list):
        return " ".join(v)
    return v


def setup_build(build, options, tally, label, start):
    """Configures `build` with clang and `options`: meson setup on first use,
    meson configure when an existing dir has other values, a fresh setup when
    it was made with another compiler. True when usable."""
    wanted = [f"-D{k}={meson_value(v)}" for k, v in options.items()]
    env = dict(os.environ, CXX="clang++", CC="clang")
    info_dir = build / "meson-info"
    configured = (build / "build.ninja").exists()
    clang = False
    if configured:
        try:
            info = json.loads((info_dir / "intro-buildoptions.json").read_text())
            have = {o["name"]: o["value"] for o in info}
            commands = json.loads((build / "compile_commands.json").read_text())
            clang = bool(commands) and "clang" in commands[0]["command"].split()[0]
        except (OSError, ValueError, KeyError, IndexError):
            have, clang = {}, False
        if clang and all(have.get(k) == v for k, v in options.items()):
            return True
    if configured and clang:
        cmd = ["meson", "configure", str(build), *wanted]
    else:  # new, or made with another compiler (an older g++ build-tsan/)
        shutil.rmtree(build, ignore_errors=True)
        cmd = ["meson", "setup", str(build), *wanted]
    r = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, env=env)
    if r.returncode:
        sys.stdout.write(r.stdout[-4000:])
        tally.add(f"{label} (setup)", 0, 1, time.monotonic() - start)
        return False
    return True


def setup_asan_build(tally, start):
    return setup_build(ROOT / ASAN_BUILD, ASAN_SETUP, tally, "asan", start)


def ninja_targets(build, targets, tally, label, start):
    r = subprocess.run(["ninja", "-C", str(build), "-j2", *targets], cwd=ROOT,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode:
        sys.stdout.write(r.stdout[-4000:])
        tally.add(f"{label} (build)", 0, 1, time.monotonic() - start)
        return False
    return True


SANITIZER_ENV = {
    "ASAN_OPTIONS": "halt_on_error=1:detect_leaks=1:abort_on_error=0",
    "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1",
}


UNIT_EXECUTABLE = re.compile(r"executable\(\s*'(unit_\w+)'")


def run_asan(tally, with_router=False):
    """Every unit executable under AddressSanitizer + UndefinedBehaviorSanitizer."""
    start = time.monotonic()
    print("== asan build", flush=True)
    if not setup_asan_build(tally, start):
        return
    # Every unit executable each tests/<folder>/meson.build declares (a
    # folder may have more than one, e.g. unit_router and unit_access).
    targets = []
    for build_file in sorted((ROOT / "tests").glob("*/meson.build")):
        folder = build_file.parent.name
        if not with_router and folder not in ASAN_UNITS:
            continue
        for name in UNIT_EXECUTABLE.findall(build_file.read_text()):
            targets.append(f"tests/{folder}/{name}")
    if not ninja_targets(ROOT / ASAN_BUILD, targets, tally, "asan", start):
        return
    env = dict(os.environ, **SANITIZER_ENV)
    for t in targets:
        run_doctest(ROOT / ASAN_BUILD / t, tally, label=f"asan {pathlib.Path(t).name}", env=env)


# Integration modules run again against the ASan+UBSan router and simulated
# worker (real processes, real sockets): the HTTP edge cases, chaos on the
# HTTP port and the admin API. Chosen for coverage of the router's error
# paths and for not depending on speed (the binaries are -O0).
ASAN_INTEGRATION = ["test_router_failures", "test_chaos_http", "test_admin_api"]
ASAN_INTEGRATION_TARGETS = ["router/radixmesh", "tools/sim_worker/radixmesh-sim-worker"]
UNITTEST_RAN = re.compile(r"^Ran (\d+) tests?", re.M)
UNITTEST_BAD = re.compile(r"(failures|errors|unexpected successes)=(\d+)")
UNITTEST_SKIPPED = re.compile(r"skipped=(\d+)")


def run_asan_integration(tally):
    """ASAN_INTEGRATION against sanitized binaries. Every process they start
    writes any sanitizer report (leaks at exit included) to a log directory;
    each report counts as a failure, so a report from a process the test
    did not watch closely still fails the suite."""
    start = time.monotonic()
    print("== asan integration", flush=True)
    build = ROOT / ASAN_BUILD
    if not ninja_targets(build, ASAN_INTEGRATION_TARGETS, tally, "asan integration", start):
        return
    logs = build / "sanitizer-logs"
    shutil.rmtree(logs, ignore_errors=True)
    logs.mkdir(parents=True)
    env = dict(os.environ, RADIXMESH_BUILD=str(build))
    env["ASAN_OPTIONS"] = SANITIZER_ENV["ASAN_OPTIONS"] + f":log_path={logs}/asan"
    env["UBSAN_OPTIONS"] = SANITIZER_ENV["UBSAN_OPTIONS"] + f":log_path={logs}/ubsan"
    try:
        r = subprocess.run([sys.executable, "-m", "unittest", "-v", *ASAN_INTEGRATION],
                           cwd=ROOT / "tests" / "integration", env=env, text=True,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=900)
        out = r.stdout
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode(errors="replace") if isinstance(e.stdout, bytes) else (
            e.stdout or "")
        out += "\nTIMEOUT after 900 s"
    sys.stdout.write(out[-6000:])
    ran = UNITTEST_RAN.search(out)
    failed = sum(int(n) for _, n in UNITTEST_BAD.findall(out))
    skipped = UNITTEST_SKIPPED.search(out)
    passed = (int(ran.group(1)) if ran else 0) - failed - (int(skipped.group(1)) if skipped else 0)
    if not ran:
        failed += 1
    reports = sorted(p for p in logs.iterdir() if p.is_file())
    for report in reports:
        print(f"-- sanitizer report {report.name}:\n{report.read_text(errors='replace')[:4000]}")
    tally.add("asan integration (router, sim worker)", max(passed, 0), failed + len(reports),
              time.monotonic() - start)


def run_fuzz(tally, seconds, with_router=False):
    """Each fuzz target for `seconds` from a scratch copy of its seed corpus.

    One count per target: passed when libFuzzer ends without a finding. A
    finding leaves its crash input in build-asan/fuzz-findings/<target>/."""
    start = time.monotonic()
    print("== fuzz build", flush=True)
    if not setup_asan_build(tally, start):
        return
    build = ROOT / ASAN_BUILD
    names = FUZZ_TARGETS + (ROUTER_FUZZ_TARGETS if with_router else [])
    targets = [f"tests/fuzz/fuzz_{n}" for n in names]
    if not ninja_targets(build, targets, tally, "fuzz", start):
        return
    env = dict(os.environ, **SANITIZER_ENV)
    for name in names:
        t0 = time.monotonic()
        print(f"== fuzz_{name} ({seconds}s)", flush=True)
        work = build / "fuzz-work" / name
        findings = build / "fuzz-findings" / name
        shutil.rmtree(work, ignore_errors=True)
        seeds = ROOT / "tests" / "fuzz" / "corpus" / name
        if seeds.is_dir():
            shutil.copytree(seeds, work)
        else:
            work.mkdir(parents=True)
        findings.mkdir(parents=True, exist_ok=True)
        cmd = [str(build / "tests" / "fuzz" / f"fuzz_{name}"), f"-max_total_time={seconds}",
               *FUZZ_FLAGS.get(name, []),
               "-rss_limit_mb=1024", "-timeout=10", "-max_len=16384", "-print_final_stats=1",
               f"-artifact_prefix={findings}/", str(work)]
        proc = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, timeout=seconds + 120, env=env)
        runs = re.search(r"stat::number_of_executed_units:\s*(\d+)", proc.stdout)
        ok = proc.returncode == 0
        if not ok:
            sys.stdout.write(proc.stdout[-8000:])
        label = f"fuzz_{name} ({runs.group(1) if runs else '?'} runs)"
        tally.add(label, 1 if ok else 0, 0 if ok else 1, time.monotonic() - t0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--only",
                    choices=["unit", "integration", "node", "promtool", "tsan", "asan", "fuzz"],
                    action="append")
    ap.add_argument("--pattern", default="test_*.py", help="integration test file pattern")
    ap.add_argument("--no-tsan", action="store_true")
    ap.add_argument("--no-asan", action="store_true")
    ap.add_argument("--no-fuzz", action="store_true")
    ap.add_argument("--fuzz-seconds", type=int, default=10, help="run time of each fuzz target")
    # router/ and tools/ under the sanitizers (the default): unit_router and
    # unit_tools under ASan+UBSan, a few integration modules against the
    # sanitized router and simulated worker, fuzz_http_request, and
    # unit_router's concurrent cases under TSan. A fresh-clone CI run took
    # 14.2 min without the TSan and integration parts (docs/reliability.md,
    # CI cost).
    ap.add_argument("--sanitize-router", dest="router_sanitizers", action="store_const",
                    const="all", default="all",
                    help="router/ and tools/ in every sanitizer suite (the default)")
    ap.add_argument("--sanitize-router-asan-only", dest="router_sanitizers",
                    action="store_const", const="asan",
                    help="router/ and tools/ under ASan and fuzz only, not TSan")
    ap.add_argument("--no-sanitize-router", dest="router_sanitizers", action="store_const",
                    const="none",
                    help="leave router/ and tools/ (unit_router, unit_tools, fuzz_http_request) "
                         "out of the asan, tsan and fuzz suites")
    args = ap.parse_args()
    build = (ROOT / args.build).resolve()
    only = set(args.only or ["unit", "integration", "node", "promtool", "tsan", "asan", "fuzz"])
    if args.no_tsan:
        only.discard("tsan")
    if args.no_asan:
        only.discard("asan")
    if args.no_fuzz:
        only.discard("fuzz")

    tally = Tally()
    if "unit" in only:
        run_unit(build, tally)
    if "integration" in only and list((ROOT / "tests" / "integration").glob(args.pattern)):
        run_integration(build, tally, args.pattern)
    if "node" in only:
        run_node(build, tally)
    if "promtool" in only:
        run_promtool(build, tally)
    if "tsan" in only:
        run_tsan(tally, args.router_sanitizers == "all")
    if "asan" in only:
        run_asan(tally, args.router_sanitizers != "none")
        if args.router_sanitizers != "none":
            run_asan_integration(tally)
    if "fuzz" in only:
        run_fuzz(tally, args.fuzz_seconds, args.router_sanitizers != "none")

    print("\n".join(["", "== summary"] + tally.lines))
    print(f"{tally.passed} passed, {tally.failed} failed")
    return 1 if tally.failed or tally.passed == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
