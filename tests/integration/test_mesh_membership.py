"""Mesh membership with real routers on loopback: three routers find each
other through one seed each (GET /admin/peers), a router killed with SIGKILL
is declared dead by the others within a bounded time, garbage and
wrong-secret connections to the mesh port are rejected while the node keeps
serving, and a graceful stop is seen as "left".
"""
import os
import signal
import socket
import tempfile
import time
import unittest

from harness import HOST, Cleanup, free_port, request, wait_until
from mesh_util import GOSSIP_MS, MeshRouter, metric


class MeshMembershipTest(Cleanup, unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.tmp = self._tmp.name
        self.addCleanup(self._tmp.cleanup)

    def test_three_routers_find_each_other_and_a_killed_one_is_declared_dead(self):
        a = MeshRouter(self, "a", secret="s3cret")
        b = MeshRouter(self, "b", seeds=[a.address], secret="s3cret")
        c = MeshRouter(self, "c", seeds=[b.address], secret="s3cret")  # knows only b
        wait_until(lambda: a.sees({"b": "alive", "c": "alive"})
                   and b.sees({"a": "alive", "c": "alive"})
                   and c.sees({"a": "alive", "b": "alive"}),
                   timeout=10.0, what="every router sees the other two alive")
        self.assertEqual(a.peers()["c"]["address"], c.address)
        self.assertEqual(metric(a.admin_port, "radixmesh_mesh_peers", 'state="alive"'), 2.0)

        c.proc.signal(signal.SIGKILL)
        t0 = time.monotonic()
        wait_until(lambda: a.sees({"c": "dead"}) and b.sees({"c": "dead"}),
                   timeout=20.0, what="c declared dead by a and b")
        took = time.monotonic() - t0
        print(f"\nkilled router declared dead after {took:.1f} s (gossip {GOSSIP_MS} ms)")
        self.assertTrue(a.sees({"b": "alive"}) and b.sees({"a": "alive"}))
        self.assertEqual(metric(a.admin_port, "radixmesh_mesh_peers", 'state="dead"'), 1.0)

    def test_garbage_and_wrong_secret_are_rejected_and_the_node_keeps_serving(self):
        a = MeshRouter(self, "a", secret="right")
        with socket.create_connection((HOST, a.mesh_port), timeout=5) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + os.urandom(64))
            s.settimeout(5)
            self.assertEqual(s.recv(100), b"")  # closed by the node
        wait_until(lambda: metric(a.admin_port, "radixmesh_mesh_rejected_frames_total",
                                  'reason="bad_magic"') >= 1, timeout=5.0, what="bad_magic counted")

        # A frame header claiming a 64 MiB payload is refused from the header alone.
        header = b"RXMH" + bytes([1, 1, 0, 0]) + (64 << 20).to_bytes(4, "little") + b"\0" * 4
        with socket.create_connection((HOST, a.mesh_port), timeout=5) as s:
            s.sendall(header)
            s.settimeout(5)
            self.assertEqual(s.recv(100), b"")
        wait_until(lambda: metric(a.admin_port, "radixmesh_mesh_rejected_frames_total",
                                  'reason="too_large"') >= 1, timeout=5.0, what="too_large counted")

        intruder = MeshRouter(self, "intruder", seeds=[a.address], secret="wrong")
        wait_until(lambda: metric(a.admin_port, "radixmesh_mesh_rejected_frames_total",
                                  'reason="auth_failed"') >= 1, timeout=10.0,
                   what="auth_failed counted")
        self.assertNotIn("intruder", a.peers())
        self.assertEqual(intruder.peers(), {})  # learned nothing about the cluster

        # Still serving data and admin, and a legitimate peer still joins.
        self.assertEqual(request(a.port, "GET", "/health")[0], 200)
        b = MeshRouter(self, "b", seeds=[a.address], secret="right")
        wait_until(lambda: a.sees({"b": "alive"}) and b.sees({"a": "alive"}),
                   timeout=10.0, what="a and b see each other")
        self.assertNotIn("intruder", b.peers())

    def test_graceful_stop_is_seen_as_left(self):
        a = MeshRouter(self, "a")
        b = MeshRouter(self, "b", seeds=[a.address])
        wait_until(lambda: a.sees({"b": "alive"}), timeout=10.0, what="a sees b")
        b.proc.stop()  # SIGTERM: graceful leave
        wait_until(lambda: a.sees({"b": "left"}), timeout=10.0, what="a sees b left")

    def test_peers_dns_is_resolved_again_every_dns_interval(self):
        # a finds its peers through DNS (localhost:PORT) every
        # --dns-interval-ms. b starts after a's first resolution found
        # nobody listening, and b has no seed: a can only find b by
        # resolving again, which the mesh once did every 30 s whatever the
        # flag said.
        port_b = free_port()
        a = MeshRouter(self, "a", extra_args=["--peers-dns", f"localhost:{port_b}",
                                              "--dns-interval-ms", 200])
        time.sleep(0.5)
        b = MeshRouter(self, "b", mesh_port=port_b)
        wait_until(lambda: a.sees({"b": "alive"}) and b.sees({"a": "alive"}), timeout=5.0,
                   what="a finds b through a later DNS resolution")


if __name__ == "__main__":
    unittest.main()
