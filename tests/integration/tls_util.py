"""TLS helpers for the integration tests: certificates made with the openssl
CLI in a temp dir (nothing is committed), TLS client contexts, and a small
TLS-terminating front for a sim worker (an https:// worker).

Only loopback addresses; every wait is bounded in time.
"""
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading

import harness


class Certs:
    """A temp dir of CAs and server certificates (ECDSA P-256 unless rsa)."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="radixmesh-tls-")

    def path(self, name):
        return os.path.join(self.dir, name)

    def run(self, *args):
        subprocess.run(["openssl", *args], cwd=self.dir, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)

    def key_args(self, rsa):
        return (["-newkey", "rsa:2048"] if rsa
                else ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"])

    def ca(self, name, rsa=False):
        self.run("req", "-x509", *self.key_args(rsa), "-nodes", "-keyout", f"{name}.key",
                 "-out", f"{name}.pem", "-days", "2", "-subj", f"/CN={name}")
        return self.path(f"{name}.pem")

    def issue(self, name, ca, serial, rsa=False, san="DNS:localhost,IP:127.0.0.1"):
        """name.pem / name.key for CN=localhost, signed by ca, with `serial`."""
        self.run("req", *self.key_args(rsa), "-nodes", "-keyout", f"{name}.key", "-out",
                 f"{name}.csr", "-subj", "/CN=localhost")
        with open(self.path(f"{name}.ext"), "w") as f:
            f.write(f"subjectAltName={san}\n")
        self.run("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
                 "-set_serial", str(serial), "-out", f"{name}.pem", "-days", "2",
                 "-extfile", f"{name}.ext")
        return self.path(f"{name}.pem"), self.path(f"{name}.key")

    def install(self, name, dest):
        """Replaces dest.pem / dest.key with name's by rename (new inodes)."""
        for ext in ("pem", "key"):
            tmp = self.path(f"{dest}.{ext}.tmp")
            shutil.copyfile(self.path(f"{name}.{ext}"), tmp)
            os.replace(tmp, self.path(f"{dest}.{ext}"))

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def client_context(ca_file, alpn=("http/1.1",)):
    ctx = ssl.create_default_context(cafile=ca_file)
    if alpn:
        ctx.set_alpn_protocols(list(alpn))
    return ctx


def served_serial(port, ca_file, timeout=5.0):
    """The serial (int) of the certificate the TLS port serves, verified by
    ca_file; raises ssl.SSLError when it does not verify."""
    with socket.create_connection((harness.HOST, port), timeout=timeout) as raw:
        with client_context(ca_file).wrap_socket(raw, server_hostname="localhost") as s:
            return int(s.getpeercert()["serialNumber"], 16)


class TlsFront:
    """A TLS-terminating front on loopback: accepts TLS, forwards the bytes
    to backend_port in plain TCP. Counts the connections it accepted; set_cert
    swaps its certificate and drops every open connection."""

    def __init__(self, backend_port, cert, key):
        self.backend_port = int(backend_port)
        self.lock = threading.Lock()
        self.ctx = self._context(cert, key)
        self.accepted = 0
        self.handshake_failures = 0
        self.open = set()
        self.sock = socket.create_server((harness.HOST, 0))
        self.port = self.sock.getsockname()[1]
        self.closed = False
        threading.Thread(target=self._accept_loop, daemon=True).start()

    @staticmethod
    def _context(cert, key):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        return ctx

    def set_cert(self, cert, key):
        ctx = self._context(cert, key)
        with self.lock:
            self.ctx = ctx
            conns, self.open = self.open, set()
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            c.close()

    def close(self):
        self.closed = True
        self.sock.close()

    def _accept_loop(self):
        while not self.closed:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        conn.settimeout(30)
        with self.lock:
            ctx = self.ctx
        try:
            tls = ctx.wrap_socket(conn, server_side=True)
        except (ssl.SSLError, OSError):
            with self.lock:
                self.handshake_failures += 1
            conn.close()
            return
        try:
            back = socket.create_connection((harness.HOST, self.backend_port), timeout=30)
        except OSError:
            tls.close()
            return
        with self.lock:
            self.accepted += 1
            self.open.add(tls)
        threading.Thread(target=self._pump, args=(back, tls), daemon=True).start()
        self._pump(tls, back)

    @staticmethod
    def _pump(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
