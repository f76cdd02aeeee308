"""--port 0 / --admin-port 0 bind ports the kernel picks and --port-file
reports them (issue 16 item 3): what the tests now start routers with."""
import json
import os
import tempfile
import unittest

import harness
import router_util as ru


class PortFileTest(harness.Cleanup, unittest.TestCase):
    def test_any_free_port_is_bound_and_reported(self):
        sims = ru.start_sims(self, 1)
        with tempfile.TemporaryDirectory() as d:
            files = [os.path.join(d, f"r{i}.json") for i in range(2)]
            mesh_port = harness.free_port()
            procs = []
            for i, f in enumerate(files):
                extra = ["--mesh-port", mesh_port] if i == 0 else []
                procs.append(self.spawn(
                    [harness.binary(ru.ROUTER), "--host", harness.HOST, "--port", 0,
                     "--admin-port", 0, "--port-file", f, "--threads", 1,
                     "--worker", f"http://{harness.HOST}:{sims[0][0]}", *extra], f"router{i}"))

            def read(f):
                with open(f) as fh:
                    return json.load(fh)
            ports = [harness.wait_until(lambda f=f: read(f), timeout=15, what=f) for f in files]
            # Only the file, never its temporary, is left behind.
            self.assertEqual(sorted(os.listdir(d)), ["r0.json", "r1.json"])
        self.assertEqual(ports[0]["mesh_port"], int(mesh_port))
        self.assertEqual(ports[1]["mesh_port"], 0)
        seen = [p["port"] for p in ports] + [p["admin_port"] for p in ports]
        self.assertTrue(all(p > 0 for p in seen), ports)
        self.assertEqual(len(set(seen)), 4, ports)  # two routers, four distinct ports
        for p in ports:
            harness.wait_http_ok(p["port"], "/readiness")
            status, _, body = harness.request(p["admin_port"], "GET", "/metrics")
            self.assertEqual(status, 200)
            self.assertIn(b"radixmesh_requests_total", body)
        self.assertIn(f"bound ports written to {files[0]}", procs[0].output())


if __name__ == "__main__":
    unittest.main()
