"""Test certificates for mesh mutual TLS, made with the openssl command line
in a temporary directory at test time (no key is committed): CAs by name and
ECDSA P-256 leaves signed by one of them."""
import os
import shutil
import subprocess
import tempfile


class Certs:
    def __init__(self, test):
        self.dir = tempfile.mkdtemp(prefix="radixmesh-mesh-tls-")
        test.addCleanup(shutil.rmtree, self.dir, True)
        self.serial = 0

    def _run(self, *args):
        subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=30)

    def path(self, name):
        return os.path.join(self.dir, name)

    def ca(self, name):
        """A self-signed CA; returns its certificate's path."""
        self._run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                  "-nodes", "-keyout", self.path(f"{name}-ca.key"), "-out",
                  self.path(f"{name}-ca.crt"), "-days", "2", "-subj", f"/CN={name}-ca")
        return self.path(f"{name}-ca.crt")

    def leaf(self, name, ca):
        """A leaf signed by CA `ca`; returns (cert, key) paths."""
        self.serial += 1
        key, csr, crt = self.path(f"{name}.key"), self.path(f"{name}.csr"), self.path(f"{name}.crt")
        self._run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                  "-keyout", key, "-out", csr, "-subj", f"/CN={name}")
        self._run("x509", "-req", "-in", csr, "-CA", self.path(f"{ca}-ca.crt"), "-CAkey",
                  self.path(f"{ca}-ca.key"), "-set_serial", str(1000 + self.serial), "-days", "2",
                  "-out", crt)
        return crt, key

    def args(self, name, ca, trust=None):
        """The three router flags for a new leaf `name` of `ca`, trusting `trust` (default: ca)."""
        crt, key = self.leaf(name, ca)
        return ["--mesh-tls-cert-file", crt, "--mesh-tls-key-file", key,
                "--mesh-tls-ca-file", self.path(f"{trust or ca}-ca.crt")]
