"""A real Prometheus (the `prometheus` package tools/dev/install-deps --test
installs) scraping running routers with the operator alerts of
helm/radixmesh/files/alerts.yaml loaded: the rules' metric names and labels
match what the routers export, and the alerts fire on real failures.

Three routers on loopback, scraped every second:
  lone    one worker answering every request 500 and one address nobody
          listens on: its breaker opens, it has no healthy worker, 5xx.
  r0, r1  a two-router mesh over a healthy worker; r1 is then killed, and
          r0 declares it dead.
The rules are loaded from a copy of the file with every `for:` set to 0s
(the real durations are minutes); the expressions are the file's own.
About 14 s: Prometheus 2.42 scrapes new targets only after its 5 s
discovery batching, and a dead peer takes a few gossip rounds.
"""
import json
import math
import os
import re
import shutil
import signal
import tempfile
import time
import unittest
import urllib.parse
import urllib.request

import harness
import mesh_util
from harness import HOST, free_port

RULES = harness.ROOT / "helm" / "radixmesh" / "files" / "alerts.yaml"
SIM = "tools/sim_worker/radixmesh-sim-worker"
JOB = "radixmesh"
TIMEOUT = 20.0


def rules_without_for(text):
    """The rule file with every alert's `for:` set to 0s; returns (text, count)."""
    return re.subn(r"^(\s+)for: \S+$", r"\1for: 0s", text, flags=re.M)


class Prometheus:
    """A prometheus server on loopback with a temporary config and TSDB."""

    def __init__(self, test, tmp, targets, rules_file):
        self.port = free_port()
        config = os.path.join(tmp, "prometheus.yml")
        with open(config, "w") as f:
            f.write(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\n"
                "  evaluation_interval: 1s\n"
                f"rule_files:\n  - {json.dumps(rules_file)}\n"
                f"scrape_configs:\n  - job_name: {JOB}\n    static_configs:\n"
                f"      - targets: {json.dumps(targets)}\n")
        self.proc = test.spawn([shutil.which("prometheus"), f"--config.file={config}",
                                f"--storage.tsdb.path={os.path.join(tmp, 'tsdb')}",
                                f"--web.listen-address={HOST}:{self.port}",
                                "--log.level=warn"], "prometheus")
        harness.wait_http_ok(self.port, "/-/ready", timeout=TIMEOUT, proc=self.proc)

    def api(self, path, **params):
        url = f"http://{HOST}:{self.port}/api/v1/{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        with urllib.request.urlopen(url, timeout=5) as r:
            body = json.load(r)
        if body.get("status") != "success":
            raise AssertionError(f"{path}: {body}")
        return body["data"]

    def query(self, expr):
        """[(labels, value)] of an instant query."""
        return [(s["metric"], float(s["value"][1]))
                for s in self.api("query", query=expr)["result"]]

    def firing(self):
        """{(alertname, instance)} of the alerts firing now, with their labels."""
        out = {}
        for a in self.api("alerts")["alerts"]:
            if a["state"] == "firing":
                out[(a["labels"]["alertname"], a["labels"].get("instance"))] = a["labels"]
        return out


@unittest.skipIf(not harness.BUILD.joinpath("router/radixmesh").exists(), "router not built")
class PrometheusScrapeTest(harness.Cleanup, unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.tmp = self._tmp.name
        self.addCleanup(self._tmp.cleanup)
        # CI installs it (tools/dev/install-deps --test): missing is a failure.
        for tool in ("prometheus", "promtool"):
            self.assertIsNotNone(shutil.which(tool),
                                 f"{tool} not found: run tools/dev/install-deps --test")

    def start_sim(self, name, *flags):
        port = free_port()
        proc = self.spawn([harness.binary(SIM), "--host", HOST, "--port", port, "--id", name,
                           "--model", mesh_util.MODEL, "--decode-us-per-token", 100,
                           "--prefill-us-per-token", 0, "--metrics-dialect", "none",
                           *flags], name)
        harness.wait_http_ok(port, proc=proc)
        return f"http://{HOST}:{port}"

    def test_alerts_fire_on_scraped_routers(self):
        text, n = rules_without_for(RULES.read_text())
        self.assertEqual(n, text.count("- alert: "), "every alert's for: rewritten")
        rules = os.path.join(self.tmp, "alerts.yaml")
        with open(rules, "w") as f:
            f.write(text)

        good = self.start_sim("sim-good")
        failing = self.start_sim("sim-500", "--error-rate", "1.0")
        nobody = f"http://{HOST}:{free_port()}"
        lone_port, lone_admin = free_port(), free_port()
        lone = self.spawn([harness.binary("router/radixmesh"), "--host", HOST,
                           "--port", lone_port, "--admin-host", HOST,
                           "--admin-port", lone_admin, "--threads", 1,
                           "--health-interval-ms", 200, "--worker", failing,
                           # Open stays open: no half-open probe during the test.
                           "--breaker-cooldown-ms", 600000,
                           "--worker", nobody], "router-lone")
        harness.wait_http_ok(lone_port, "/readiness", timeout=TIMEOUT, proc=lone)
        # A 100 ms gossip round: r1 is declared dead within about 3 s.
        r0 = mesh_util.MeshRouter(self, "r0", [good], label="prom", gossip_ms=100)
        r1 = mesh_util.MeshRouter(self, "r1", [good], seeds=[r0.address], label="prom",
                                  gossip_ms=100)
        mesh_util.wait_alive([r0, r1], TIMEOUT)
        instances = {f"{HOST}:{lone_admin}": "lone", f"{HOST}:{r0.admin_port}": "r0",
                     f"{HOST}:{r1.admin_port}": "r1"}
        lone_i, r0_i, r1_i = list(instances)

        prom = Prometheus(self, self.tmp, list(instances), rules)
        self.assertEqual(len(prom.api("rules")["groups"][0]["rules"]), n)
        harness.wait_until(
            lambda: len(prom.query(f'up{{job="{JOB}"}} == 1')) == 3,
            timeout=TIMEOUT, interval=0.2, what="all three routers scraped (up == 1)")

        # Healthy so far: nothing fires anywhere.
        self.assertEqual(prom.firing(), {})

        # Traffic after the first scrape, so the counters' rates see it: the
        # lone router's worker fails until its breaker opens (then 503s).
        # rate() divides by its whole 5-minute window: 60 requests are
        # 0.2/s, over the rule's 0.1/s floor. r0's requests reach r1
        # through the mesh.
        statuses = set()
        for i in range(60):
            status, _, _ = harness.request(
                lone_port, "POST", "/v1/chat/completions",
                {"model": mesh_util.MODEL, "max_tokens": 1,
                 "messages": [{"role": "user", "content": f"fail {i}"}]})
            statuses.add(status)
            if i % 8 == 0:
                r0.chat([{"role": "user", "content": mesh_util.text(200, i)}])
                time.sleep(0.1)
        self.assertEqual(statuses, {500, 503})

        # The convergence-lag rule's own expression (as Prometheus loaded it,
        # threshold cut off) on r1's real series: a mean delay far below 1 s.
        lag_rule = next(r for r in prom.api("rules")["groups"][0]["rules"]
                        if r["name"] == "RadixmeshMeshConvergenceLag")
        lag_expr = lag_rule["query"].rsplit(">", 1)[0]
        # NaN (0/0) until the window holds a record from two scrapes: wait for a number.
        lag = harness.wait_until(
            lambda: [v for labels, v in prom.query(lag_expr)
                     if labels["instance"] == r1_i and not math.isnan(v)],
            timeout=TIMEOUT, interval=0.2, what="r1's mean convergence lag")
        self.assertLess(lag[0], 1.0, lag)
        # The two counters agree with the since-start mean gauge (one read).
        _, _, body = harness.request(r1.admin_port, "GET", "/metrics")
        samples = dict(line.rsplit(" ", 1) for line in body.decode().splitlines()
                       if line.startswith("radixmesh_mesh_convergence_lag_"))
        records = float(samples["radixmesh_mesh_convergence_lag_records_total"])
        self.assertGreater(records, 0)
        self.assertAlmostEqual(
            float(samples["radixmesh_mesh_convergence_lag_seconds_total"]) / records,
            float(samples["radixmesh_mesh_convergence_lag_seconds_avg"]), places=6)

        r1.proc.signal(signal.SIGKILL)

        want = {("RadixmeshNoHealthyWorkers", lone_i), ("RadixmeshWorkerBreakerOpen", lone_i),
                ("Radixmesh5xxRate", lone_i), ("RadixmeshMeshPeerDown", r0_i)}
        seen = {}

        def all_firing():
            seen.clear()
            seen.update(prom.firing())
            return want <= set(seen)
        try:
            harness.wait_until(all_firing, timeout=TIMEOUT, interval=0.25, what="alerts")
        except TimeoutError:
            self.fail(f"firing {sorted(seen)}, want {sorted(want)} "
                      f"({', '.join(f'{i} = {n}' for i, n in instances.items())})")
        fired = seen
        self.assertEqual(fired[("RadixmeshWorkerBreakerOpen", lone_i)]["worker"], failing)
        self.assertEqual(fired[("RadixmeshNoHealthyWorkers", lone_i)]["severity"], "critical")
        self.assertEqual(fired[("RadixmeshMeshPeerDown", r0_i)]["state"], "dead")
        # Nothing else: r0 keeps its healthy worker, no memory pressure, the
        # mesh lag is milliseconds, and no hit ratio an hour old to compare.
        self.assertEqual(set(fired) - want, set())


if __name__ == "__main__":
    unittest.main()
