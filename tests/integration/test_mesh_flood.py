"""A mesh handshake flood must not keep a new peer out (issue 17, item 4).

1,000 connections to a router's mesh port that never send a byte, from 40
loopback source addresses, each reopened as soon as the router closes it,
while a new router seeded from the flooded one starts: it must join (both
see each other alive) within a few seconds, during the flood. Before the
fix the first 64 silent connections held every handshake slot for 5 s and
the flood refilled them at once, so the new router stayed out for as long
as the flood lasted. The dropped connections must show in /metrics.

Bounded: the flood stops when the test ends or after 60 s; loopback only.
"""
import errno
import selectors
import socket
import threading
import time
import unittest

import harness
from harness import HOST, Cleanup, wait_until
from mesh_util import MeshRouter, metric
from test_chaos_mesh import has_mesh


class SilentFlood:
    """n silent connections spread over `sources` loopback addresses,
    reopened whenever the router closes one, from one background thread."""

    def __init__(self, port, n=1000, sources=40, max_seconds=60.0):
        self.port, self.n, self.max_seconds = port, n, max_seconds
        self.sources = [f"127.0.1.{i + 1}" for i in range(sources)]
        self.opened = self.reopened = self.failed = 0
        self._stop = threading.Event()
        self._sel = selectors.DefaultSelector()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _open(self, source):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            s.bind((source, 0))
            err = s.connect_ex((HOST, self.port))
        except OSError:
            s.close()
            self.failed += 1
            return
        if err not in (0, errno.EINPROGRESS):
            s.close()
            self.failed += 1
            return
        self._sel.register(s, selectors.EVENT_READ, source)
        self.opened += 1

    def _run(self):
        deadline = time.monotonic() + self.max_seconds
        for i in range(self.n):
            self._open(self.sources[i % len(self.sources)])
        while not self._stop.is_set() and time.monotonic() < deadline:
            missing = self.n - len(self._sel.get_map())
            for i in range(missing):  # refused or failed opens: try again
                self._open(self.sources[i % len(self.sources)])
            for key, _ in self._sel.select(timeout=0.05):
                s = key.fileobj
                try:
                    data = s.recv(64)
                except OSError:
                    data = b""
                if data:
                    continue  # the router never speaks first to an acceptor; ignore
                self._sel.unregister(s)
                s.close()
                self.reopened += 1
                self._open(key.data)
        for key in list(self._sel.get_map().values()):
            key.fileobj.close()
        self._sel.close()

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=15)


@unittest.skipUnless(has_mesh(), "router built without the mesh")
class MeshHandshakeFloodTest(Cleanup, unittest.TestCase):
    def test_new_router_joins_during_a_silent_connection_flood(self):
        r0 = MeshRouter(self, "r0", label="flood")
        flood = SilentFlood(r0.mesh_port)
        self.addCleanup(flood.stop)
        wait_until(lambda: flood.reopened >= 1000, timeout=20.0,
                   what="the flood is reconnecting")
        t0 = time.monotonic()
        r1 = MeshRouter(self, "r1", seeds=[r0.address], label="flood")
        started_s = time.monotonic() - t0
        wait_until(lambda: "r1" in r0.alive_peers() and "r0" in r1.alive_peers(),
                   timeout=10.0, interval=0.05, what="r1 joins r0 during the flood")
        joined_s = time.monotonic() - t0
        self.assertTrue(flood._thread.is_alive(), "the flood lasted until the join")
        reopened = flood.reopened
        dropped = metric(r0.admin_port, "radixmesh_mesh_handshakes_dropped_total")
        accepted = metric(r0.admin_port, "radixmesh_mesh_connections_total",
                          'direction="accepted"')
        flood.stop()
        print(f"\n[flood] r1 started in {started_s:.2f}s, joined r0 {joined_s:.2f}s after "
              f"its start during a flood of {flood.n} silent connections ({reopened} reopened); "
              f"r0 accepted {accepted:.0f}, dropped {dropped:.0f} in handshake", flush=True)
        self.assertGreater(dropped, 0, "dropped handshakes are counted")
        self.assertGreaterEqual(accepted, reopened, "accepted connections are counted")


if __name__ == "__main__":
    unittest.main()
