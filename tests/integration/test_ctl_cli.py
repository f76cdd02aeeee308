"""radixmesh-ctl against a live router: every subcommand in human and --json
output, and the error exits (unreachable router, bad token, unknown model,
usage errors) with one-line messages and non-zero codes.
"""
import json
import os
import subprocess
import tempfile
import unittest

import harness
from test_admin_api import MODEL, RouterFixture, long_prompt

CTL = "tools/ctl/radixmesh-ctl"


class CtlTest(RouterFixture, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.token_file = os.path.join(cls.tmp.name, "token")
        with open(cls.token_file, "w") as f:
            f.write("ctl-token\n")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def setUp(self):
        self.token = "ctl-token"
        self.workers = self.start_workers(2)
        self.start_router(self.workers, "--admin-token-file", self.token_file,
                          "--node-id", "ctl-node")
        self.wait_healthy(2)
        shared = long_prompt("ctl-shared", 150)
        for i in range(3):
            self.route(shared + f" q{i} " + long_prompt(f"ctl{i}", 40))

    def ctl(self, *args, expect=0, token=True, admin=None):
        env = dict(os.environ)
        env.pop("RADIXMESH_ADMIN_TOKEN", None)
        if token:
            env["RADIXMESH_ADMIN_TOKEN"] = self.token
        cmd = [harness.binary(CTL), "--admin", admin or f"http://127.0.0.1:{self.admin}",
               *map(str, args)]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=30, env=env)
        self.assertEqual(r.returncode, expect, f"{args}: {r.stdout}\n{r.stderr}")
        if expect != 0:
            lines = r.stderr.strip().splitlines()
            self.assertEqual(len(lines), 1, r.stderr)
            self.assertTrue(lines[0].startswith("radixmesh-ctl: "), r.stderr)
        return r

    def jctl(self, *args):
        return json.loads(self.ctl(*args, "--json").stdout)

    def test_status_and_peers(self):
        out = self.ctl("status").stdout
        self.assertIn("ctl-node", out)
        self.assertIn("2 total, 2 healthy", out)
        self.assertIn(MODEL, out)
        j = self.jctl("status")
        self.assertEqual(j["node_id"], "ctl-node")
        self.assertEqual(j["workers"]["total"], 2)
        self.assertIn("no peers", self.ctl("peers").stdout)
        self.assertEqual(self.jctl("peers")["peers"], [])

    def test_workers_subcommands(self):
        out = self.ctl("workers", "list").stdout.splitlines()
        self.assertTrue(out[0].startswith("URL"))
        self.assertEqual(len(out), 3)
        # Columns are aligned: every row starts its second column at the same offset.
        col = out[0].index("HEALTHY")
        for line in out[1:]:
            self.assertEqual(line[col - 2:col], "  ")
            self.assertIn(line[col:col + 3], ("yes", "no "))
        ws = self.jctl("workers", "list")["workers"]
        self.assertEqual(len(ws), 2)

        extra = self.start_workers(1)[0]
        url = f"http://127.0.0.1:{extra}"
        self.assertIn("added " + url, self.ctl("workers", "add", url).stdout)
        self.assertEqual(self.jctl("workers", "add", url)["url"], url)  # idempotent
        self.assertIn("draining " + url, self.ctl("workers", "drain", url).stdout)
        self.assertTrue(self.jctl("workers", "drain", url)["draining"])
        self.assertFalse(self.jctl("workers", "drain", url, "--undo")["draining"])
        self.assertIn("removed " + url, self.ctl("workers", "remove", url).stdout)
        self.ctl("workers", "remove", url, expect=1)
        self.assertEqual(len(self.jctl("workers", "list")["workers"]), 2)
        self.ctl("workers", "add", "ftp://nope", expect=1)
        self.ctl("workers", "frobnicate", url, expect=2)
        self.ctl("workers", "add", expect=2)

    def test_tree_subcommands(self):
        out = self.ctl("tree", "stats").stdout
        self.assertIn(MODEL, out)
        self.assertIn("NODES", out)
        stats = self.jctl("tree", "stats", "--model", MODEL)["trees"][0]
        self.assertGreater(stats["blocks"], 0)

        top = self.ctl("tree", "top", "--model", MODEL, "-n", "2").stdout.splitlines()
        self.assertTrue(top[0].startswith("MODEL"))
        self.assertEqual(len(top), 3)
        jt = self.jctl("tree", "top", "-n", "1")["trees"][0]["prefixes"]
        self.assertEqual(len(jt), 1)
        self.assertEqual(jt[0]["leaves_below"], 3)

        text = self.ctl("tree", "dump", "--model", MODEL).stdout
        self.assertIn(f"{MODEL}: {stats['nodes']} nodes", text)
        self.assertIn("└─ ", text)
        self.assertIn("http://127.0.0.1:", text)
        dot = self.ctl("tree", "dump", "--model", MODEL, "--format", "dot").stdout
        self.assertTrue(dot.startswith("digraph"))
        self.assertEqual(dot.count(" -> "), stats["nodes"])
        jd = self.jctl("tree", "dump", "--model", MODEL)
        self.assertEqual(jd["nodes"], stats["nodes"])
        self.ctl("tree", "dump", expect=2)  # --model required
        self.ctl("tree", "dump", "--model", MODEL, "--format", "svg", expect=2)

    def test_route_explain(self):
        prompt = long_prompt("explain-ctl")
        self.route(prompt)
        out = self.ctl("route", "explain", "--model", MODEL, "--prompt", prompt).stdout
        self.assertIn("reason   cache_hit", out)
        self.assertIn(" *", out)  # the chosen worker is marked
        j = self.jctl("route", "explain", "--model", MODEL, "--prompt", prompt)
        self.assertTrue(j["dry_run"])
        self.assertEqual(j["reason"], "cache_hit")
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump({"model": MODEL, "messages": [{"role": "user", "content": prompt}]}, f)
        self.addCleanup(os.unlink, f.name)
        jf = self.jctl("route", "explain", "--file", f.name)
        self.assertEqual(jf["chosen"], j["chosen"])
        self.ctl("route", "explain", "--model", MODEL, expect=2)  # neither --prompt nor --file

    def test_snapshot_save_and_inspect(self):
        path = os.path.join(self.tmp.name, "snap.bin")
        out = self.ctl("snapshot", "save", path, "--model", MODEL).stdout
        self.assertIn("saved", out)
        self.assertGreater(os.path.getsize(path), 16)
        stats = self.jctl("tree", "stats", "--model", MODEL)["trees"][0]
        # inspect is offline: no router, no token needed.
        r = subprocess.run([harness.binary(CTL), "--admin", "http://127.0.0.1:1", "snapshot",
                            "inspect", path, "--json"], capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        info = json.loads(r.stdout)
        self.assertEqual(info["model"], MODEL)
        self.assertEqual(info["blocks"], stats["blocks"])
        self.assertEqual(info["version"], 2)
        self.assertEqual(info["tombstones"], stats["tombstones"])
        self.assertIn(MODEL, self.ctl("snapshot", "inspect", path).stdout)
        self.assertEqual(self.jctl("snapshot", "save", path, "--model", MODEL)["file"], path)
        bad = os.path.join(self.tmp.name, "bad.bin")
        with open(bad, "wb") as f:
            f.write(b"not a snapshot at all" * 4)
        self.ctl("snapshot", "inspect", bad, expect=1)

    def test_error_exits(self):
        # Bad token and no token: 401 -> exit 1.
        r = self.ctl("status", token=False, expect=1)
        self.assertIn("unauthorized", r.stderr)
        r = self.ctl("status", "--token", "wrong", expect=1)
        self.assertIn("401", r.stderr)
        # Unknown model -> exit 1, for every subcommand that takes one.
        for args in (("tree", "stats", "--model", "nope"), ("tree", "top", "--model", "nope"),
                     ("tree", "dump", "--model", "nope"),
                     ("route", "explain", "--model", "nope", "--prompt", "hi"),
                     ("snapshot", "save", os.path.join(self.tmp.name, "x"), "--model", "nope")):
            r = self.ctl(*args, expect=1)
            self.assertIn("nope", r.stderr)
        # Unreachable -> exit 3.
        dead = harness.free_port()
        r = self.ctl("status", admin=f"http://127.0.0.1:{dead}", expect=3)
        self.assertIn("cannot reach", r.stderr)
        # Usage errors -> exit 2.
        self.ctl("frobnicate", expect=2)
        self.ctl("status", "--bogus", expect=2)
        self.ctl("status", admin="https://127.0.0.1:1", expect=2)
        self.assertIn("Commands:", self.ctl("--help").stdout)


if __name__ == "__main__":
    unittest.main()
