#!/usr/bin/env python3
"""Runs every test suite and prints one closing line: "N passed, N failed".

Suites:
  unit         doctest executables build/tests/**/unit_* (one count per test case)
  integration  Python unittest modules tests/integration/test_*.py, which start
               the real binaries on loopback (one count per test method)
  node         node:test files tests/node/*.test.mjs: the official openai client
               and the helm chart tests (one count per test)
  tsan         the concurrency test cases again, built with ThreadSanitizer
               (only when build-tsan/ exists or --tsan is given)

A suite that cannot run at all (crash, missing runner) counts as one failure,
so the summary never hides it.
"""
import argparse
import os
import pathlib
import re
import subprocess
import sys
import time
import unittest

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


def run_tsan(tally):
    """Concurrency cases under ThreadSanitizer, in their own build dir."""
    tsan = ROOT / "build-tsan"
    start = time.monotonic()
    print("== tsan build", flush=True)
    if not (tsan / "build.ninja").exists():
        r = subprocess.run(["meson", "setup", str(tsan), "-Db_sanitize=thread",
                            "-Dbuildtype=debugoptimized", "-Dbenchmarks=false"],
                           cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if r.returncode:
            sys.stdout.write(r.stdout[-4000:])
            tally.add("tsan (setup)", 0, 1, time.monotonic() - start)
            return
    targets = ["tests/radix/unit_radix", "tests/policies/unit_policies"]
    r = subprocess.run(["ninja", "-C", str(tsan), *targets], cwd=ROOT,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode:
        sys.stdout.write(r.stdout[-4000:])
        tally.add("tsan (build)", 0, 1, time.monotonic() - start)
        return
    env = dict(os.environ, TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1")
    for t in targets:
        run_doctest(tsan / t, tally, extra_args=["--test-case=*concurren*"],
                    label=f"tsan {pathlib.Path(t).name}", env=env)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--only", choices=["unit", "integration", "node", "tsan"], action="append")
    ap.add_argument("--pattern", default="test_*.py", help="integration test file pattern")
    ap.add_argument("--no-tsan", action="store_true")
    args = ap.parse_args()
    build = (ROOT / args.build).resolve()
    only = set(args.only or ["unit", "integration", "node", "tsan"])
    if args.no_tsan:
        only.discard("tsan")

    tally = Tally()
    if "unit" in only:
        run_unit(build, tally)
    if "integration" in only and list((ROOT / "tests" / "integration").glob(args.pattern)):
        run_integration(build, tally, args.pattern)
    if "node" in only:
        run_node(build, tally)
    if "tsan" in only:
        run_tsan(tally)

    print("\n".join(["", "== summary"] + tally.lines))
    print(f"{tally.passed} passed, {tally.failed} failed")
    return 1 if tally.failed or tally.passed == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
