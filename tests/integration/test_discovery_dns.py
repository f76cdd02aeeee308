"""Worker discovery from DNS (--workers-dns NAME:PORT) with a name that
resolves on loopback: the router finds the worker by itself, becomes ready and
routes to it. (Drain-then-remove of vanished addresses is covered by
tests/router/test_dns_discovery.cc with injected answers.)"""
import json
import unittest

import harness
import router_util


class DnsDiscoveryTest(harness.Cleanup, unittest.TestCase):
    def test_worker_found_through_dns_serves_requests(self):
        sims = router_util.start_sims(self, 1)
        sim_port = sims[0][0]
        port, admin = harness.free_port(), harness.free_port()
        proc = self.spawn([harness.binary(router_util.ROUTER), "--host", harness.HOST,
                           "--port", port, "--admin-port", admin, "--threads", "1",
                           "--workers-dns", f"localhost:{sim_port}", "--dns-interval-ms", "200",
                           "--health-interval-ms", "200"], "router-dns")
        # No --worker at all: readiness needs a healthy worker found through DNS.
        harness.wait_http_ok(port, path="/readiness", proc=proc, timeout=15)

        status, _, data = harness.request(admin, "GET", "/admin/workers")
        self.assertEqual(status, 200)
        urls = [w["url"] for w in json.loads(data)["workers"]]
        self.assertIn(f"http://127.0.0.1:{sim_port}", urls)

        status, hdrs, body = router_util.chat(port, [{"role": "user", "content": "hello"}])
        self.assertEqual(status, 200, body)
        self.assertEqual(hdrs.get("x-worker-id"), "w0")


if __name__ == "__main__":
    unittest.main()
