"""Hostile clients on the data plane, with real processes on loopback (one
router over simulated workers). Each test pins one row of the "Hostile
inputs" table in docs/reliability.md: what the router answers, and that it
keeps serving afterwards. Every loop is bounded in count and time.
"""
import json
import socket
import time
import unittest

import harness
import router_util as ru


def error_code(data):
    try:
        return json.loads(data)["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None


def read_until_close(s, timeout=5.0):
    """Everything the peer sends until it closes (or timeout); returns (bytes, closed)."""
    s.settimeout(timeout)
    out = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            return out, False
        except OSError:
            return out, True
        if not chunk:
            return out, True
        out += chunk
    return out, False


def status_of(reply):
    line = reply.split(b"\r\n", 1)[0]
    parts = line.split(b" ")
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None


def body_of(reply):
    return reply.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in reply else b""


class HostileHttpTest(harness.Cleanup, unittest.TestCase):
    def start(self, *flags, sims=1):
        self.sims = ru.start_sims(self, sims, "--prefill-us-per-token", "0",
                                  "--decode-us-per-token", "0")
        self.port, self.router = ru.start_router(self, self.sims, *flags)
        return self.port

    def assert_still_serving(self):
        s, _, b = ru.chat(self.port, [{"role": "user", "content": "still there?"}])
        self.assertEqual(s, 200, b)
        self.assertTrue(self.router.alive())

    def exchange(self, payload, timeout=5.0):
        """Sends payload on a new connection; returns (reply bytes, closed by the router)."""
        with socket.create_connection((harness.HOST, self.port), timeout=timeout) as s:
            s.sendall(payload)
            return read_until_close(s, timeout)

    # Item: deep JSON nesting is a malformed body (400), not a large one (413).
    def test_deeply_nested_json_is_400_not_413(self):
        self.start()
        for depth in (100, 100000):
            body = (b'{"model":"sim-model","messages":[{"role":"user","content":"x"}],"x":' +
                    b"[" * depth + b"]" * depth + b"}")
            status, _, data = harness.request(self.port, "POST", "/v1/chat/completions",
                                              body=body,
                                              headers={"Content-Type": "application/json"})
            with self.subTest(depth=depth):
                self.assertEqual(status, 400, data[:300])
                self.assertEqual(error_code(data), "invalid_request", data[:300])
                self.assertIn(b"nesting", data)
        self.assert_still_serving()


if __name__ == "__main__":
    unittest.main()
