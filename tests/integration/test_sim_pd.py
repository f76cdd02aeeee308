"""Black-box tests of the simulated worker's prefill/decode roles (--role,
--pd-protocol), driven directly over HTTP as a PD router would drive them:

- SGLang: the same body with bootstrap_host/port/room goes to a prefill and
  a decode worker at once; the decode waits (bounded) for the room at the
  prefill's KV endpoint and answers; the prefill's own answer is one token.
- vLLM: the prefill answers a do_remote_decode request with a
  kv_transfer_params naming itself; the decode given that object fetches the
  KV it names.

Both fail cleanly (OpenAI error bodies, within --pd-wait-ms) without a
prefill, at a wrong host or port, or with KV of another engine or prompt.
Timing assertions use wide margins: the machine is shared and small.
"""
import json
import math
import socket
import threading
import time
import unittest

import harness

SIM = "tools/sim_worker/radixmesh-sim-worker"


def metrics(port):
    status, _, data = harness.request(port, "GET", "/metrics")
    assert status == 200
    out = {}
    for line in data.decode().splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def words(n, seed):
    """Distinct text of about n bytes."""
    s, i = [], 0
    while sum(len(w) + 1 for w in s) < n:
        s.append(f"w{seed}x{i}")
        i += 1
    return " ".join(s)[:n]


def chat(content, max_tokens=4, **extra):
    body = {"model": "sim-model", "max_tokens": max_tokens,
            "messages": [{"role": "user", "content": content}]}
    body.update(extra)
    return body


def in_thread(fn, *args):
    """Runs fn(*args) in a thread; returns a function that joins it (bounded)
    and returns its result."""
    out = {}

    def run():
        out["v"] = fn(*args)

    t = threading.Thread(target=run, daemon=True)
    t.start()

    def join(timeout=30.0):
        t.join(timeout)
        if t.is_alive():
            raise TimeoutError("request thread still running")
        return out["v"]
    return join


def timed(fn, *args):
    t0 = time.monotonic()
    v = fn(*args)
    return v, time.monotonic() - t0


class PdCase(harness.Cleanup, unittest.TestCase):
    def start(self, *flags):
        port = harness.free_port()
        proc = self.spawn([harness.binary(SIM), "--port", port, *flags], "sim-pd")
        harness.wait_http_ok(port, proc=proc)
        return port

    def prefill(self, protocol, *flags):
        """(port, bootstrap port) of a prefill worker."""
        bport = harness.free_port()
        port = self.start("--role", "prefill", "--pd-protocol", protocol,
                          "--bootstrap-port", bport, "--id", "prefill-a", *flags)
        harness.wait_http_ok(bport)
        return port, bport

    def decode(self, protocol, *flags):
        return self.start("--role", "decode", "--pd-protocol", protocol, "--id", "decode-a",
                          *flags)

    def post(self, port, body, path="/v1/chat/completions"):
        status, parsed, _ = harness.post_json(port, path, body)
        return status, parsed


class SglangPdTest(PdCase):
    def pd_body(self, content, bport, room, host="127.0.0.1", **extra):
        return chat(content, bootstrap_host=host, bootstrap_port=bport, bootstrap_room=room,
                    **extra)

    def test_pair_serves_and_decode_waits_for_prefill(self):
        # 8000 bytes = 2000 tokens at 200 us: 0.4 s of prefill, on the prefill
        # side only; the decode waits for it, then decodes 4 tokens at 50 ms.
        pport, bport = self.prefill("sglang", "--prefill-us-per-token", "200",
                                    "--decode-us-per-token", "0")
        dport = self.decode("sglang", "--prefill-us-per-token", "200",
                            "--decode-us-per-token", "50000")
        body = self.pd_body(words(8000, 1), bport, 2**62 + 7)
        decode_done = in_thread(timed, self.post, dport, body)
        (pstatus, presp), _ = timed(self.post, pport, body)
        (dstatus, dresp), dtime = decode_done()

        self.assertEqual(pstatus, 200, presp)
        self.assertEqual(presp["system_fingerprint"], "prefill-a")
        self.assertEqual(presp["usage"]["completion_tokens"], 1)
        self.assertEqual(presp["usage"]["prompt_tokens_details"]["cached_tokens"], 0)

        self.assertEqual(dstatus, 200, dresp)
        self.assertEqual(dresp["system_fingerprint"], "decode-a")
        usage = dresp["usage"]
        # 8006 bytes of chat framing: 2002 tokens, as the prefill saw them.
        self.assertEqual(usage["prompt_tokens"], 2002)
        self.assertEqual(presp["usage"]["prompt_tokens"], 2002)
        self.assertEqual(usage["completion_tokens"], 4)
        # All of the prompt's KV came from the prefill worker.
        self.assertEqual(usage["prompt_tokens_details"]["cached_tokens"], 2002)
        # Waited for the prefill (0.4 s) plus 3 decode steps (0.15 s); no
        # second prefill of 0.4 s on the decode side.
        self.assertGreater(dtime, 0.5)
        self.assertLess(dtime, 0.9 + 1.0)

        pm, dm = metrics(pport), metrics(dport)
        self.assertEqual(pm["sim_pd_rooms_registered_total"], 1)
        self.assertEqual(pm["sim_pd_rooms_served_total"], 1)
        self.assertEqual(pm["sim_pd_rooms"], 0)
        self.assertEqual(dm['sim_pd_fetches_total{outcome="ok"}'], 1)
        self.assertEqual(dm["sim_pd_remote_tokens_total"], 2002)
        self.assertEqual(dm["sim_cached_tokens_total"], 0)

    def test_prefix_cache_is_the_prefill_workers(self):
        pport, bport = self.prefill("sglang", "--prefill-us-per-token", "200")
        dport = self.decode("sglang")
        text = words(8000, 2)
        # 2002 prompt tokens; the second prefill finds 125 whole blocks of 16.
        # The second names the prefill by a host name, resolved by the decode.
        for room, want_cached, host in ((11, 0, "127.0.0.1"), (12, 2000, "localhost")):
            body = self.pd_body(text, bport, room, host=host)
            decode_done = in_thread(self.post, dport, body)
            (pstatus, presp), ptime = timed(self.post, pport, body)
            dstatus, dresp = decode_done()
            self.assertEqual((pstatus, dstatus), (200, 200), (presp, dresp))
            self.assertEqual(presp["usage"]["prompt_tokens_details"]["cached_tokens"],
                             want_cached)
            self.assertEqual(dresp["usage"]["prompt_tokens_details"]["cached_tokens"], 2002)
        self.assertLess(ptime, 0.3)  # the second prefill hit its cache

    def test_streamed_decode_relays_events(self):
        pport, bport = self.prefill("sglang")
        dport = self.decode("sglang")
        body = self.pd_body(words(400, 3), bport, 5, max_tokens=3, stream=True,
                            stream_options={"include_usage": True})
        decode_done = in_thread(lambda: list(harness.sse_events(dport, "/v1/chat/completions",
                                                                body)))
        # The prefill's own (streamed) answer, which a router would discard.
        pevents = list(harness.sse_events(pport, "/v1/chat/completions", body))
        devents = [d for _, d in decode_done()]
        self.assertEqual(pevents[-1][1], "[DONE]")
        self.assertEqual(devents[-1], "[DONE]")
        chunks = [json.loads(d) for d in devents[:-1]]
        text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks
                       if c["choices"])
        self.assertEqual(len(text), 3 * 4)
        self.assertEqual(chunks[-1]["usage"]["completion_tokens"], 3)
        self.assertEqual(chunks[-1]["system_fingerprint"], "decode-a")

    def test_decode_without_prefill_fails_within_the_wait(self):
        _, bport = self.prefill("sglang")
        dport = self.decode("sglang", "--pd-wait-ms", "300")
        (status, resp), took = timed(self.post, dport, self.pd_body("hello", bport, 77))
        self.assertEqual(status, 504, resp)
        self.assertEqual(resp["error"]["code"], "kv_transfer_timeout")
        self.assertIn("room 77", resp["error"]["message"])
        self.assertGreater(took, 0.25)
        self.assertLess(took, 2.0)
        self.assertEqual(metrics(dport)['sim_pd_fetches_total{outcome="failed"}'], 1)
        # The worker keeps serving.
        self.assertEqual(harness.request(dport, "GET", "/health")[0], 200)

    def test_a_leaving_client_ends_the_wait(self):
        # A router that cancels the decode leg (the prefill leg failed) must
        # not leave the decode polling for the rest of --pd-wait-ms.
        _, bport = self.prefill("sglang")
        dport = self.decode("sglang", "--pd-wait-ms", "20000")
        body = json.dumps(self.pd_body("bye", bport, 5)).encode()
        with socket.create_connection(("127.0.0.1", dport), timeout=5) as s:
            s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
                      b"Content-Type: application/json\r\nContent-Length: "
                      + str(len(body)).encode() + b"\r\n\r\n" + body)
            harness.wait_until(lambda: metrics(dport)["sim_active_requests"] == 1,
                               timeout=5, what="the decode waiting")
        harness.wait_until(lambda: metrics(dport)["sim_cancelled_total"] == 1, timeout=5,
                           what="the wait cancelled")
        m = metrics(dport)
        self.assertEqual(m["sim_active_requests"], 0)
        self.assertEqual(m['sim_pd_fetches_total{outcome="failed"}'], 0)

    def test_wrong_host_or_port_fails_at_once(self):
        _, bport = self.prefill("sglang")
        dport = self.decode("sglang", "--pd-wait-ms", "5000")
        closed = harness.free_port()
        for host, port in (("127.0.0.1", closed), ("127.0.0.2", bport)):
            (status, resp), took = timed(self.post, dport, self.pd_body("hi", port, 1, host=host))
            self.assertEqual(status, 502, resp)
            self.assertEqual(resp["error"]["code"], "kv_transfer_failed")
            self.assertIn(f"{host}:{port}", resp["error"]["message"])
            self.assertLess(took, 2.0)  # refused: no use waiting the 5 s

    def test_requests_without_pd_fields_are_refused_or_served_locally(self):
        pport, _ = self.prefill("sglang")
        dport = self.decode("sglang")
        status, resp = self.post(pport, chat("hi"))
        self.assertEqual(status, 400)
        self.assertIn("bootstrap_room", resp["error"]["message"])
        status, resp = self.post(dport, chat("hi", bootstrap_room=3))
        self.assertEqual(status, 400)
        self.assertIn("bootstrap_host", resp["error"]["message"])
        status, resp = self.post(dport, chat("hi", bootstrap_room="x"))
        self.assertEqual(status, 400)
        local = self.decode("sglang", "--pd-local-prefill")
        status, resp = self.post(local, chat("hi"))
        self.assertEqual(status, 200, resp)
        self.assertEqual(resp["usage"]["completion_tokens"], 4)

    def test_room_table_is_bounded_in_size_and_time(self):
        pport, bport = self.prefill("sglang", "--pd-rooms", "2", "--pd-room-ttl-ms", "400")
        for room in (1, 2, 3):
            status, _ = self.post(pport, self.pd_body("p", bport, room))
            self.assertEqual(status, 200)
        self.assertEqual(metrics(pport)["sim_pd_rooms"], 2)
        self.assertEqual(metrics(pport)["sim_pd_rooms_evicted_total"], 1)
        self.assertEqual(harness.request(bport, "GET", "/pd/kv/1")[0], 404)  # the oldest went
        status, _, data = harness.request(bport, "GET", "/pd/kv/3")
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(data)["engine_id"], "prefill-a")
        self.assertEqual(harness.request(bport, "GET", "/pd/kv/3")[0], 404)  # handed over once
        time.sleep(0.6)  # room 2 outlives its ttl
        self.assertEqual(harness.request(bport, "GET", "/pd/kv/2")[0], 404)
        m = metrics(pport)
        self.assertEqual(m["sim_pd_rooms"], 0)
        self.assertEqual(m["sim_pd_rooms_expired_total"], 1)
        # A request body to the KV endpoint is not served.
        with self.assertRaises(Exception):
            status, _, _ = harness.request(bport, "GET", "/pd/kv/9", body=b"x" * 100, timeout=2)
            if status == 200:
                raise AssertionError("served")
            raise ConnectionError("closed")

    def test_default_role_ignores_pd_fields(self):
        port = self.start()
        status, resp = self.post(port, self.pd_body("hi", 1, 1))
        self.assertEqual(status, 200, resp)
        self.assertEqual(resp["usage"]["completion_tokens"], 4)
        self.assertNotIn("sim_pd_rooms", metrics(port))


class VllmPdTest(PdCase):
    PREFILL_PARAMS = {"do_remote_decode": True, "do_remote_prefill": False,
                      "remote_engine_id": None, "remote_block_ids": None,
                      "remote_host": None, "remote_port": None}

    def prefill_leg(self, port, body):
        leg = dict(body, kv_transfer_params=self.PREFILL_PARAMS, stream=False, max_tokens=1)
        return self.post(port, leg)

    def test_pair_serves_through_kv_transfer_params(self):
        pport, bport = self.prefill("vllm", "--prefill-us-per-token", "200")
        dport = self.decode("vllm", "--prefill-us-per-token", "200",
                            "--decode-us-per-token", "1000")
        body = chat(words(8000, 4), max_tokens=6)
        (status, presp), ptime = timed(self.prefill_leg, pport, body)
        self.assertEqual(status, 200, presp)
        self.assertGreater(ptime, 0.3)  # 2000 uncached tokens at 200 us
        self.assertEqual(presp["usage"]["completion_tokens"], 1)
        kv = presp["kv_transfer_params"]
        self.assertEqual(kv["do_remote_prefill"], True)
        self.assertEqual(kv["do_remote_decode"], False)
        self.assertEqual(kv["remote_engine_id"], "prefill-a")
        self.assertEqual(kv["remote_host"], "127.0.0.1")
        self.assertEqual(kv["remote_port"], bport)
        self.assertEqual(len(kv["remote_block_ids"]), math.ceil(2002 / 16))

        (status, dresp), dtime = timed(self.post, dport, dict(body, kv_transfer_params=kv))
        self.assertEqual(status, 200, dresp)
        self.assertEqual(dresp["system_fingerprint"], "decode-a")
        self.assertEqual(dresp["usage"]["completion_tokens"], 6)
        self.assertEqual(dresp["usage"]["prompt_tokens_details"]["cached_tokens"], 2002)
        self.assertLess(dtime, 0.3)  # no prefill on the decode side

        # The prefill's cache serves the next request with the same prompt.
        status, again = self.prefill_leg(pport, body)
        self.assertEqual(again["usage"]["prompt_tokens_details"]["cached_tokens"], 2000)
        self.assertNotEqual(again["kv_transfer_params"]["remote_block_ids"][0],
                            kv["remote_block_ids"][0])

        # The blocks were handed over once: a second decode with them waits in vain.
        slow = self.decode("vllm", "--pd-wait-ms", "300")
        (status, resp), took = timed(self.post, slow, dict(body, kv_transfer_params=kv))
        self.assertEqual(status, 504, resp)
        self.assertEqual(resp["error"]["code"], "kv_transfer_timeout")
        self.assertLess(took, 2.0)

    def test_decode_refuses_params_it_cannot_use(self):
        pport, bport = self.prefill("vllm")
        dport = self.decode("vllm", "--pd-wait-ms", "300")
        body = chat(words(400, 5))
        status, presp = self.prefill_leg(pport, body)
        kv = presp["kv_transfer_params"]

        # Without kv_transfer_params, or without the prefill's answer in it.
        status, resp = self.post(dport, body)
        self.assertEqual(status, 400)
        self.assertIn("kv_transfer_params", resp["error"]["message"])
        status, resp = self.post(dport, dict(body, kv_transfer_params={"do_remote_prefill": True}))
        self.assertEqual(status, 400)
        self.assertIn("remote_engine_id", resp["error"]["message"])

        # Another engine's id at this endpoint: refused at once.
        status, resp = self.post(dport, dict(body, kv_transfer_params=dict(
            kv, remote_engine_id="prefill-b")))
        self.assertEqual(status, 502, resp)
        self.assertIn("engine", resp["error"]["message"])

        # Nothing listens at the named port.
        status, resp = self.post(dport, dict(body, kv_transfer_params=dict(
            kv, remote_port=harness.free_port())))
        self.assertEqual(status, 502, resp)
        self.assertEqual(resp["error"]["code"], "kv_transfer_failed")

        # Another prompt than the one prefilled.
        status, resp = self.post(dport, dict(chat(words(800, 6)), kv_transfer_params=kv))
        self.assertEqual(status, 400, resp)
        self.assertEqual(resp["error"]["code"], "kv_mismatch")

        # Block ids the prefill never issued: no KV within the wait.
        (status, resp), took = timed(self.post, dport, dict(body, kv_transfer_params=dict(
            kv, remote_block_ids=[10**9, 10**9 + 1])))
        self.assertEqual(status, 504, resp)
        self.assertLess(took, 2.0)

    def test_prefill_needs_do_remote_decode_and_no_stream(self):
        pport, _ = self.prefill("vllm")
        status, resp = self.post(pport, chat("hi"))
        self.assertEqual(status, 400)
        self.assertIn("do_remote_decode", resp["error"]["message"])
        status, resp = self.post(pport, chat("hi", stream=True,
                                             kv_transfer_params=self.PREFILL_PARAMS))
        self.assertEqual(status, 400)
        self.assertIn("stream", resp["error"]["message"])

    def test_completions_endpoint_pair(self):
        pport, _ = self.prefill("vllm")
        dport = self.decode("vllm")
        body = {"model": "sim-model", "prompt": words(1000, 7), "max_tokens": 3}
        status, presp = self.post(pport, dict(body, kv_transfer_params=self.PREFILL_PARAMS,
                                              max_tokens=1), "/v1/completions")
        self.assertEqual(status, 200, presp)
        status, dresp = self.post(dport, dict(body, kv_transfer_params=presp[
            "kv_transfer_params"]), "/v1/completions")
        self.assertEqual(status, 200, dresp)
        self.assertEqual(dresp["object"], "text_completion")
        self.assertEqual(dresp["usage"]["completion_tokens"], 3)
        self.assertEqual(dresp["usage"]["prompt_tokens_details"]["cached_tokens"],
                         dresp["usage"]["prompt_tokens"])


if __name__ == "__main__":
    unittest.main()
