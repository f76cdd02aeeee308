"""Mesh mutual TLS with real routers on loopback (certificates made at test
time, tests/integration/mesh_tls_certs.py).

Three routers whose certificates come from one CA form a mesh over TLS (with
the HMAC secret on top) and share tree deltas; an intruder with a certificate
of another CA and the right secret is refused by the TLS layer before any mesh
frame: the members count it and never list it, the intruder counts its
refusals, and the members keep working. SIGHUP re-reads the files: a new
certificate is served to new connections, a bad set keeps the old one.
"""
import shutil
import signal
import socket
import ssl
import tempfile
import unittest

from harness import HOST, Cleanup, wait_until
from mesh_tls_certs import Certs
from mesh_util import MeshRouter, converged, metric, start_sims, text, wait_alive

SECRET = "mesh-tls-secret"
FAILURES = "radixmesh_mesh_tls_handshake_failures_total"


def served_certificate(port, certs, client):
    """DER of the certificate the mesh port serves to a new TLS client holding
    `client` (cert, key) of the mesh CA."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.load_verify_locations(certs.path("mesh-ca.crt"))
    ctx.load_cert_chain(*client)
    with socket.create_connection((HOST, port), timeout=5) as raw:
        with ctx.wrap_socket(raw) as tls:
            return tls.getpeercert(binary_form=True)


def refused_without_certificate(port, certs):
    """A TLS client trusting the mesh CA but holding no certificate: True when
    the mesh port refuses it (in the handshake, or with TLS 1.3 on the first
    read after it)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.load_verify_locations(certs.path("mesh-ca.crt"))
    with socket.create_connection((HOST, port), timeout=5) as raw:
        try:
            with ctx.wrap_socket(raw) as tls:
                tls.sendall(b"hello")
                return tls.recv(16) == b""
        except (ssl.SSLError, ConnectionError):
            return True


def der(path):
    with open(path) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


class MeshTlsTest(Cleanup, unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="radixmesh-mesh-tls-test-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.certs = Certs(self)
        self.certs.ca("mesh")
        self.certs.ca("other")

    def router(self, name, workers=(), seeds=(), ca="mesh", trust=None):
        return MeshRouter(self, name, workers, seeds=seeds, secret=SECRET, label="meshtls",
                          extra_args=self.certs.args(name, ca, trust))

    def test_members_converge_and_an_intruder_of_another_ca_is_refused(self):
        workers = start_sims(self, 1, "meshtls")
        r0 = self.router("r0", workers)
        r1 = self.router("r1", workers, seeds=[r0.address])
        r2 = self.router("r2", workers, seeds=[r0.address])
        routers = [r0, r1, r2]
        wait_alive(routers, timeout=10.0)
        r0.chat([{"role": "user", "content": text(1500, 1)}])
        wait_until(lambda: converged(routers), timeout=10.0, what="a delta reaches every router")
        for r in routers:
            self.assertGreaterEqual(metric(r.admin_port, "radixmesh_mesh_tls_handshakes_total"), 2)
            self.assertEqual(metric(r.admin_port, FAILURES), 0)

        # The right secret, a certificate of another CA (it trusts the mesh
        # CA, so only the members' verification stops it).
        intruder = self.router("intruder", workers, seeds=[r0.address, r1.address],
                               ca="other", trust="mesh")
        wait_until(lambda: metric(r0.admin_port, FAILURES, 'reason="bad_certificate"') >= 1
                   and metric(r1.admin_port, FAILURES, 'reason="bad_certificate"') >= 1
                   and metric(intruder.admin_port, FAILURES, 'reason="peer_refused"') >= 2,
                   timeout=10.0, what="the intruder refused by r0 and r1, and counting it")
        # Refused before any mesh frame: the HMAC layer never saw it.
        self.assertEqual(metric(r0.admin_port, "radixmesh_mesh_rejected_frames_total"), 0)
        for r in routers:
            self.assertNotIn("intruder", r.peers())
        self.assertEqual(intruder.peers(), {})
        # The members keep working: a new delta from r1 reaches the others.
        r1.chat([{"role": "user", "content": text(1500, 2)}])
        wait_until(lambda: converged(routers), timeout=10.0, what="members converge again")
        self.assertEqual({n for n in r0.alive_peers()}, {"r1", "r2"})
        # Logged once for the peer, not once per attempt.
        refused = [l for l in r0.proc.output().splitlines() if "TLS refused" in l]
        self.assertEqual(len(refused), 1, refused)
        self.assertIn("bad_certificate", refused[0])

    def test_sighup_serves_new_certificates_to_new_connections(self):
        r0 = self.router("r0")
        client = self.certs.leaf("client", "mesh")
        crt, key = self.certs.path("r0.crt"), self.certs.path("r0.key")
        first = served_certificate(r0.mesh_port, self.certs, client)
        self.assertEqual(first, der(crt))
        # Rotate (a new leaf, new serial) by replacing the files; SIGHUP.
        new_crt, new_key = self.certs.leaf("r0-next", "mesh")
        shutil.copyfile(new_crt, crt)
        shutil.copyfile(new_key, key)
        r0.proc.signal(signal.SIGHUP)
        wait_until(lambda: metric(r0.admin_port, "radixmesh_mesh_tls_reloads_total",
                                  'result="ok"') == 1, timeout=5.0, what="reload counted")
        self.assertEqual(served_certificate(r0.mesh_port, self.certs, client), der(new_crt))
        # A key that does not match: refused, the previous pair stays in use.
        _, stray_key = self.certs.leaf("stray", "mesh")
        shutil.copyfile(stray_key, key)
        r0.proc.signal(signal.SIGHUP)
        wait_until(lambda: metric(r0.admin_port, "radixmesh_mesh_tls_reloads_total",
                                  'result="error"') == 1, timeout=5.0, what="bad reload counted")
        self.assertEqual(served_certificate(r0.mesh_port, self.certs, client), der(new_crt))
        self.assertTrue(r0.proc.alive())
        self.assertIn("TLS reload failed", r0.proc.output())
        # A client without a certificate is refused and counted as such.
        self.assertTrue(refused_without_certificate(r0.mesh_port, self.certs))
        wait_until(lambda: metric(r0.admin_port, FAILURES, 'reason="no_certificate"') == 1,
                   timeout=5.0, what="no_certificate counted")


if __name__ == "__main__":
    unittest.main()
