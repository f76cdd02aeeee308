"""Chaos with real processes: three meshed routers over three simulated
workers, under a steady load of multi-turn chats.

  - kill -9 one router under load, restart it: it rejoins, converges by
    snapshot, and clients of the other routers see no errors meanwhile;
  - a stalled router (SIGSTOP, then SIGCONT: the cheap partition, the process
    neither reads nor writes while stopped) heals and every tree converges;
    the time to converge is printed;
  - a peer that connects to a mesh port and never reads nor completes the
    handshake, plus garbage bytes on the mesh port: the router keeps serving,
    its RSS stays bounded, and the garbage is counted as rejected.

Skipped when the router binary has no mesh wired in.
"""
import os
import signal
import socket
import threading
import time
import unittest

import harness
from harness import HOST, Cleanup, post_json, wait_until
from mesh_util import MODEL, converged, metric, start_mesh, start_sims, text, tree, wait_alive

def has_mesh():
    """True when the router binary has the mesh wired in (its metrics exist)."""
    try:
        with open(harness.binary("router/radixmesh"), "rb") as f:
            return b"radixmesh_mesh_rejected_frames_total" in f.read()
    except OSError:
        return False


def rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


class Load:
    """Chats against some routers from one background thread until stopped.
    Every non-200 answer or exception is recorded with the router's name."""

    def __init__(self, routers, seed):
        self.routers, self.seed = routers, seed
        self.ok, self.errors = 0, []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        i = 0
        system = {"role": "system", "content": text(1500, self.seed, "c")}
        while not self._stop.is_set() and i < 5000:
            r = self.routers[i % len(self.routers)]
            messages = [system, {"role": "user", "content": text(300, self.seed * 1000 + i, "c")}]
            try:
                status, body, _ = post_json(r.port, "/v1/chat/completions",
                                            {"model": MODEL, "max_tokens": 2,
                                             "messages": messages}, timeout=10)
                if status == 200:
                    self.ok += 1
                else:
                    self.errors.append((r.name, status))
            except OSError as e:
                self.errors.append((r.name, repr(e)))
            i += 1

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=15)


@unittest.skipUnless(has_mesh(), "router built without the mesh")
class ChaosMeshTest(Cleanup, unittest.TestCase):
    def setUp(self):
        self.workers = start_sims(self, 3, "chaos")

    def mesh(self):
        return start_mesh(self, self.workers, 3, label="chaos")

    def test_kill9_router_under_load_rejoins_and_converges(self):
        r0, r1, r2 = self.mesh()
        load = Load([r0, r1], seed=1)
        try:
            wait_until(lambda: load.ok >= 10, timeout=20.0, what="load flowing")
            r2.proc.kill()  # SIGKILL: no leave message
            ok_at_kill = load.ok
            wait_until(lambda: load.ok >= ok_at_kill + 10, timeout=20.0,
                       what="load continues on the survivors")
            r2.start()  # same ports and id: a restarted node
            wait_alive([r0, r1, r2])
            t0 = time.monotonic()
            snapshots_before = 0.0
            wait_until(lambda: metric(r2.admin_port, "radixmesh_mesh_snapshots_received_total")
                       > snapshots_before, timeout=20.0, what="restarted node got a snapshot")
        finally:
            load.stop()
        # A delta lost while the restarted node caught up is repaired by a
        # snapshot: the first as soon as the same mismatch is seen twice, the
        # next ones after an exponential backoff (30 s, then 60 s; mesh/
        # sync_engine.h): the bound allows two repairs, plus a margin. (This
        # test found the restart that came back before its old connection
        # was seen closed and never converged: mesh/transport.cc.)
        try:
            wait_until(lambda: converged([r0, r1, r2]), timeout=100.0,
                       what="trees converge after the restart")
        except TimeoutError:
            for r in (r0, r1, r2):  # what the next look at this needs
                t = tree(r.admin_port, MODEL) or {}
                print(f"\n[chaos] {r.name}: " + ", ".join(
                    f"{k}={t.get(k)}" for k in ("digest", "blocks", "nodes", "tombstones")) +
                    "; " + ", ".join(f"{m}={metric(r.admin_port, 'radixmesh_mesh_' + m)}" for m in (
                        "anchors_requested_total", "snapshots_received_total",
                        "snapshots_sent_total")), flush=True)
            raise
        print(f"\n[chaos] kill -9 + restart: converged {time.monotonic() - t0:.2f}s after "
              f"rejoin; {load.ok} requests ok on the survivors", flush=True)
        self.assertEqual(load.errors, [], "clients of the surviving routers saw errors")

    def test_stalled_router_heals_and_trees_converge(self):
        r0, r1, r2 = self.mesh()
        load = Load([r0, r2], seed=2)
        try:
            wait_until(lambda: load.ok >= 5, timeout=20.0, what="load flowing")
            rss_before = rss_bytes(r0.proc.p.pid)
            r1.proc.signal(signal.SIGSTOP)  # also a peer that stops reading
            ok_at_stop = load.ok
            stopped_at = time.monotonic()
            # Held until the others stop seeing r1 alive: a real partition.
            wait_until(lambda: "r1" not in r0.alive_peers() and "r1" not in r2.alive_peers(),
                       timeout=30.0, what="r1 no longer alive for the others")
            detected_s = time.monotonic() - stopped_at
            wait_until(lambda: load.ok >= ok_at_stop + 60, timeout=40.0,
                       what="load continues while one router is stalled")
            # CHAOS_PARTITION_SECONDS holds the partition longer (the
            # documented run: 30 s), bounded.
            hold = min(float(os.environ.get("CHAOS_PARTITION_SECONDS", "0")), 120.0)
            while time.monotonic() - stopped_at < hold:
                time.sleep(0.5)
            partition_s = time.monotonic() - stopped_at
            rss_stalled = rss_bytes(r0.proc.p.pid)
        finally:
            load.stop()
            r1.proc.signal(signal.SIGCONT)
        t0 = time.monotonic()
        wait_alive([r0, r1, r2])
        alive_s = time.monotonic() - t0
        wait_until(lambda: converged([r0, r1, r2]), timeout=30.0,
                   what="trees converge after the stall heals")
        print(f"\n[chaos] SIGSTOP partition held {partition_s:.1f}s: detected in "
              f"{detected_s:.2f}s; {load.ok} requests ok on the others; after SIGCONT "
              f"alive again in {alive_s:.2f}s, trees converged in "
              f"{time.monotonic() - t0:.2f}s; r0 RSS {rss_before >> 20} -> {rss_stalled >> 20} MiB "
              f"while r1 read nothing", flush=True)
        self.assertEqual(load.errors, [])
        self.assertLess(rss_stalled - rss_before, 64 << 20, "sender memory bounded")

    def test_silent_peer_and_garbage_on_mesh_port(self):
        r0, r1, r2 = self.mesh()
        rss0 = rss_bytes(r0.proc.p.pid)
        # Peers that connect and never read nor finish the handshake.
        silent = []
        for _ in range(8):
            s = socket.create_connection((HOST, r0.mesh_port), timeout=5)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            silent.append(s)
        # Garbage: random bytes, a bogus header claiming a huge payload, HTTP.
        rejected0 = metric(r0.admin_port, "radixmesh_mesh_rejected_frames_total")
        for payload in (os.urandom(4096),
                        b"RXMH\x01\x20\x00\x00\xff\xff\xff\x7f" + b"\x00" * 4,
                        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"):
            with socket.create_connection((HOST, r0.mesh_port), timeout=5) as g:
                try:
                    g.sendall(payload)
                    g.settimeout(5)
                    g.recv(1024)  # the router closes the connection
                except OSError:
                    pass
        # The mesh and the data plane keep working under this.
        load = Load([r0, r1, r2], seed=3)
        try:
            wait_until(lambda: load.ok >= 30, timeout=30.0, what="load while peers misbehave")
        finally:
            load.stop()
        wait_until(lambda: converged([r0, r1, r2]), timeout=20.0, what="trees converge")
        self.assertEqual(load.errors, [])
        self.assertGreater(metric(r0.admin_port, "radixmesh_mesh_rejected_frames_total"),
                           rejected0, "garbage frames are counted as rejected")
        rss1 = rss_bytes(r0.proc.p.pid)
        print(f"\n[chaos] silent peers + garbage: RSS {rss0 >> 20} -> {rss1 >> 20} MiB",
              flush=True)
        self.assertLess(rss1 - rss0, 64 << 20, "memory bounded with silent peers")
        for s in silent:
            s.close()


if __name__ == "__main__":
    unittest.main()
