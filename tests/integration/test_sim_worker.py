"""Black-box tests of the simulated worker (radixmesh-sim-worker): its prefix
KV-cache model, timing model, streaming shape, batch limit and fault
injection, as the router's tests, the demo and the benchmarks rely on them.

Timing assertions use wide margins: the machine is shared and small.
"""
import base64
import json
import socket
import struct
import threading
import time
import unittest

import harness

SIM = "tools/sim_worker/radixmesh-sim-worker"


def chat(content, max_tokens=1, stream=False, messages=None, model="sim-model"):
    body = {"model": model, "max_tokens": max_tokens,
            "messages": messages or [{"role": "user", "content": content}]}
    if stream:
        body["stream"] = True
    return body


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


class SimWorkerTest(harness.Cleanup, unittest.TestCase):
    def start(self, *flags):
        port = harness.free_port()
        proc = self.spawn([harness.binary(SIM), "--port", port, *flags], "sim")
        harness.wait_http_ok(port, proc=proc)
        return port, proc

    def timed_post(self, port, body, path="/v1/chat/completions"):
        t0 = time.monotonic()
        status, parsed, raw = harness.post_json(port, path, body)
        return status, parsed, time.monotonic() - t0

    def test_models_health_and_worker_id(self):
        port, _ = self.start("--model", "alpha", "--model", "beta", "--id", "w-7")
        status, headers, data = harness.request(port, "GET", "/v1/models")
        self.assertEqual(status, 200)
        self.assertEqual(headers.get("x-worker-id"), "w-7")
        listing = json.loads(data)
        self.assertEqual(listing["object"], "list")
        self.assertEqual([m["id"] for m in listing["data"]], ["alpha", "beta"])
        status, body, _ = self.timed_post(port, chat("hi", model="beta"))
        self.assertEqual(status, 200)
        self.assertEqual(body["system_fingerprint"], "w-7")
        self.assertEqual(body["model"], "beta")
        status, body, _ = self.timed_post(port, chat("hi", model="gamma"))
        self.assertEqual(status, 404)
        self.assertEqual(body["error"]["code"], "model_not_found")

    def test_second_identical_prompt_is_cached_and_faster(self):
        # 8000 bytes = 2000 tokens at 200 us each: 0.4 s of prefill when cold.
        port, _ = self.start("--prefill-us-per-token", "200", "--decode-us-per-token", "0")
        body = chat(words(8000, 1))
        s1, r1, t1 = self.timed_post(port, body)
        s2, r2, t2 = self.timed_post(port, body)
        self.assertEqual((s1, s2), (200, 200))
        self.assertEqual(r1["usage"]["prompt_tokens_details"]["cached_tokens"], 0)
        cached = r2["usage"]["prompt_tokens_details"]["cached_tokens"]
        prompt = r2["usage"]["prompt_tokens"]
        self.assertGreater(cached, prompt - 32)  # all full blocks
        self.assertLessEqual(cached, prompt)
        self.assertGreater(t1, 0.35)
        self.assertLess(t2, t1 / 2)

    def test_later_turn_reports_earlier_turn_cached(self):
        port, _ = self.start("--decode-us-per-token", "0", "--prefill-us-per-token", "0")
        history = [{"role": "system", "content": words(3000, 2)},
                   {"role": "user", "content": words(500, 3)}]
        s1, r1, _ = self.timed_post(port, chat(None, max_tokens=8, messages=history))
        self.assertEqual(s1, 200)
        p1 = r1["usage"]["prompt_tokens"]
        reply = r1["choices"][0]["message"]["content"]
        self.assertEqual(r1["usage"]["completion_tokens"], 8)
        history += [{"role": "assistant", "content": reply},
                    {"role": "user", "content": words(400, 4)}]
        s2, r2, _ = self.timed_post(port, chat(None, messages=history))
        self.assertEqual(s2, 200)
        cached = r2["usage"]["prompt_tokens_details"]["cached_tokens"]
        # Every full 16-token block of turn 1 is reused by turn 2.
        self.assertGreaterEqual(cached, (p1 // 16 - 1) * 16)
        self.assertLess(cached, r2["usage"]["prompt_tokens"])

    def test_lru_capacity_evicts_the_oldest_prefix(self):
        # 100 blocks of 16 tokens; each prompt is 40 blocks.
        port, _ = self.start("--kv-capacity-tokens", "1600", "--decode-us-per-token", "0",
                             "--prefill-us-per-token", "0")
        prompts = [chat(words(2560, 10 + i)) for i in range(4)]

        def cached(body):
            status, r, _ = self.timed_post(port, body)
            self.assertEqual(status, 200)
            return r["usage"]["prompt_tokens_details"]["cached_tokens"]

        self.assertEqual(cached(prompts[0]), 0)
        self.assertGreater(cached(prompts[0]), 500)
        for body in prompts[1:]:
            self.assertEqual(cached(body), 0)
        m = metrics(port)
        self.assertLessEqual(m["sim_kv_blocks"], 100)
        self.assertGreater(m["sim_kv_evictions_total"], 0)
        self.assertEqual(cached(prompts[0]), 0)  # the oldest prefix is gone
        self.assertGreater(cached(prompts[3]), 500)  # the newest is kept

    def test_stream_chunks_are_spaced_by_the_decode_delay(self):
        port, _ = self.start("--decode-us-per-token", "60000", "--prefill-us-per-token", "0")
        body = chat("tell me", max_tokens=6, stream=True)
        # Without stream_options.include_usage: no usage anywhere (as OpenAI).
        plain = [d for _, d in harness.sse_events(port, "/v1/chat/completions", body)]
        self.assertEqual(plain[-1], "[DONE]")
        self.assertEqual(len(plain), 6 + 1)
        self.assertFalse(any('"usage"' in d for d in plain), plain)
        body["stream_options"] = {"include_usage": True}
        events = list(harness.sse_events(port, "/v1/chat/completions", body))
        self.assertEqual(events[-1][1], "[DONE]")
        chunks = [(t, json.loads(d)) for t, d in events[:-1]]
        content = [(t, c) for t, c in chunks if c["choices"]]
        self.assertEqual(len(content), 6)
        self.assertEqual(content[0][1]["choices"][0]["delta"]["role"], "assistant")
        self.assertEqual(content[-1][1]["choices"][0]["finish_reason"], "length")
        for c in chunks:
            self.assertEqual(c[1]["object"], "chat.completion.chunk")
        gaps = [b[0] - a[0] for a, b in zip(content, content[1:])]
        self.assertTrue(all(g > 0.035 for g in gaps), gaps)
        self.assertLess(sorted(gaps)[len(gaps) // 2], 0.2, gaps)
        usage = chunks[-1][1]["usage"]
        self.assertEqual(chunks[-1][1]["choices"], [])
        self.assertEqual(usage["completion_tokens"], 6)
        self.assertIn("cached_tokens", usage["prompt_tokens_details"])
        text = "".join(c["choices"][0]["delta"]["content"] for _, c in content)
        self.assertEqual(len(text), 24)  # 4 bytes per token

    def test_stall_mid_stream(self):
        port, _ = self.start("--decode-us-per-token", "0", "--stall-after-chunks", "2",
                             "--stall-ms", "300")
        events = list(harness.sse_events(port, "/v1/chat/completions",
                                         chat("x", max_tokens=4, stream=True)))
        self.assertEqual(events[-1][1], "[DONE]")
        times = [t for t, _ in events]
        gaps = [b - a for a, b in zip(times, times[1:])]
        # The pause falls between the 2nd and the 3rd chunk, nowhere else.
        self.assertGreater(gaps[1], 0.25, gaps)
        self.assertLess(max(gaps[:1] + gaps[2:]), 0.2, gaps)

    def test_tokens_per_chunk_and_other_stream_shapes(self):
        port, _ = self.start("--decode-us-per-token", "0", "--tokens-per-chunk", "4")
        events = [d for _, d in harness.sse_events(
            port, "/v1/completions", {"model": "sim-model", "prompt": "abc", "max_tokens": 10,
                                      "stream": True,
                                      "stream_options": {"include_usage": True}})]
        self.assertEqual(events[-1], "[DONE]")
        parsed = [json.loads(d) for d in events[:-1]]
        self.assertEqual([len(p["choices"][0]["text"]) for p in parsed[:-1]], [16, 16, 8])
        self.assertEqual(parsed[-1]["usage"]["completion_tokens"], 10)
        events = [d for _, d in harness.sse_events(
            port, "/generate", {"text": "abc", "sampling_params": {"max_new_tokens": 8},
                                "stream": True})]
        self.assertEqual(events[-1], "[DONE]")
        last = json.loads(events[-2])
        self.assertEqual(len(last["text"]), 32)  # SGLang streams the cumulative text
        self.assertEqual(last["meta_info"]["completion_tokens"], 8)

    def test_http10_stream_is_raw_and_ends_with_the_connection(self):
        # nginx talks HTTP/1.0 to upstreams by default: no chunked encoding.
        port, _ = self.start("--decode-us-per-token", "0")
        body = json.dumps(dict(chat("x", max_tokens=3, stream=True),
                               stream_options={"include_usage": True})).encode()
        with socket.create_connection((harness.HOST, port), timeout=5) as s:
            s.sendall(b"POST /v1/chat/completions HTTP/1.0\r\nContent-Length: %d\r\n\r\n"
                      % len(body) + body)
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        head, _, payload = data.partition(b"\r\n\r\n")
        self.assertNotIn(b"chunked", head.lower())
        self.assertTrue(payload.startswith(b"data: {"), payload[:40])
        self.assertTrue(payload.endswith(b"data: [DONE]\n\n"), payload[-40:])
        self.assertEqual(payload.count(b"data: "), 3 + 2)  # 3 tokens, usage, [DONE]

    def test_generate_completions_embeddings_non_streaming(self):
        port, _ = self.start("--decode-us-per-token", "0", "--prefill-us-per-token", "0")
        ids = list(range(1, 200))
        for _ in range(2):
            status, r, _ = self.timed_post(port, {"input_ids": ids,
                                                  "sampling_params": {"max_new_tokens": 3}},
                                           "/generate")
        self.assertEqual(status, 200)
        self.assertEqual(r["meta_info"]["prompt_tokens"], 199)
        self.assertEqual(r["meta_info"]["cached_tokens"], 192)
        self.assertEqual(len(r["text"]), 12)
        status, r, _ = self.timed_post(port, {"model": "sim-model", "prompt": "once upon",
                                              "max_tokens": 2}, "/v1/completions")
        self.assertEqual(status, 200)
        self.assertEqual(r["object"], "text_completion")
        self.assertEqual(len(r["choices"][0]["text"]), 8)
        status, r, _ = self.timed_post(port, {"model": "sim-model", "input": ["a", "b"]},
                                       "/v1/embeddings")
        self.assertEqual(status, 200)
        self.assertEqual(len(r["data"]), 2)
        self.assertEqual(len(r["data"][0]["embedding"]), 8)
        # The openai client asks for base64 (little-endian float32) by default.
        status, r, _ = self.timed_post(port, {"model": "sim-model", "input": "a",
                                              "encoding_format": "base64"}, "/v1/embeddings")
        self.assertEqual(status, 200)
        vec = struct.unpack("<8f", base64.b64decode(r["data"][0]["embedding"]))
        self.assertTrue(all(-1.0 <= v <= 1.0 for v in vec), vec)

    def test_responses_api(self):
        port, _ = self.start("--decode-us-per-token", "0", "--prefill-us-per-token", "0")
        body = {"model": "sim-model", "instructions": "brief", "input": words(400, 30),
                "max_output_tokens": 3}
        for _ in range(2):
            status, r, _ = self.timed_post(port, body, "/v1/responses")
        self.assertEqual(status, 200)
        self.assertEqual(r["object"], "response")
        self.assertEqual(r["status"], "completed")
        self.assertEqual(len(r["output"][0]["content"][0]["text"]), 12)
        self.assertEqual(r["usage"]["output_tokens"], 3)
        self.assertGreater(r["usage"]["input_tokens_details"]["cached_tokens"], 0)
        events = [json.loads(d) for _, d in harness.sse_events(
            port, "/v1/responses", dict(body, stream=True))]
        types = [e["type"] for e in events]
        self.assertEqual(types, ["response.created"] + ["response.output_text.delta"] * 3
                         + ["response.completed"])
        self.assertEqual([e["sequence_number"] for e in events], list(range(5)))
        done = events[-1]["response"]
        self.assertEqual(done["output"][0]["content"][0]["text"],
                         "".join(e["delta"] for e in events[1:4]))

    def test_concurrency_limit_queues_and_max_queue_rejects(self):
        # One slot, one queue place; each request holds its slot for ~0.4 s.
        port, _ = self.start("--concurrency", "1", "--max-queue", "1", "--kv-capacity-tokens",
                             "0", "--prefill-us-per-token", "1000", "--decode-us-per-token", "0")
        results = {}

        def send(name):
            results[name] = self.timed_post(port, chat(words(1600, 20)))

        first = threading.Thread(target=send, args=("first",))
        first.start()
        harness.wait_until(lambda: metrics(port)["sim_in_flight"] == 1, timeout=5)
        second = threading.Thread(target=send, args=("second",))
        second.start()
        harness.wait_until(lambda: metrics(port)["sim_queue_depth"] == 1, timeout=5)
        status, body, _ = self.timed_post(port, chat("one too many"))
        self.assertEqual(status, 429)
        self.assertEqual(body["error"]["code"], "rate_limit_exceeded")
        first.join(10)
        second.join(10)
        self.assertEqual(results["first"][0], 200)
        self.assertEqual(results["second"][0], 200)
        # The queued request waited for the first one's whole prefill.
        self.assertGreater(results["second"][2], results["first"][2] + 0.2)

    def test_active_requests_peak_counts_overlap_only(self):
        # Three requests at once (one still queued for the single batch slot
        # counts too), then three one after another: the peak stays 3.
        port, _ = self.start("--concurrency", "1", "--decode-us-per-token", "100000",
                             "--prefill-us-per-token", "0")
        m = metrics(port)
        self.assertEqual((m["sim_active_requests"], m["sim_active_requests_peak"]), (0, 0))
        threads = [threading.Thread(target=self.timed_post,
                                    args=(port, chat(f"r{i}", max_tokens=3)))
                   for i in range(3)]
        for t in threads:
            t.start()
        harness.wait_until(lambda: metrics(port)["sim_active_requests"] == 3, timeout=5,
                           what="three requests in service")
        for t in threads:
            t.join(10)
        m = metrics(port)
        self.assertEqual(m["sim_active_requests"], 0)
        self.assertEqual(m["sim_active_requests_peak"], 3)
        for i in range(3):
            self.assertEqual(self.timed_post(port, chat(f"s{i}", max_tokens=1))[0], 200)
        self.assertEqual(metrics(port)["sim_active_requests_peak"], 3)

    def test_error_rate_one_answers_500(self):
        port, _ = self.start("--error-rate", "1.0")
        for _ in range(3):
            status, body, _ = self.timed_post(port, chat("x"))
            self.assertEqual(status, 500)
            self.assertEqual(body["error"]["type"], "server_error")
        status, _, _ = harness.request(port, "GET", "/health")
        self.assertEqual(status, 200)

    def test_exit_after_ends_the_process(self):
        port, proc = self.start("--exit-after", "2", "--decode-us-per-token", "0")
        for _ in range(2):
            self.assertEqual(self.timed_post(port, chat("x"))[0], 200)
        with self.assertRaises((ConnectionError, OSError, http_errors())):
            harness.post_json(port, "/v1/chat/completions", chat("x"), timeout=5)
        harness.wait_until(lambda: not proc.alive(), timeout=5, what="sim exit")
        self.assertEqual(proc.p.returncode, 3)

    def test_bad_input_statuses_and_still_serving(self):
        port, _ = self.start("--max-body-bytes", "1000", "--decode-us-per-token", "0")
        status, _, data = harness.request(port, "POST", "/v1/chat/completions", b"{nope",
                                          {"Content-Type": "application/json"})
        self.assertEqual(status, 400)
        self.assertIn("message", json.loads(data)["error"])
        status, body, _ = self.timed_post(port, {"model": "sim-model"})
        self.assertEqual(status, 400)
        status, _, data = harness.request(port, "GET", "/v1/chat/completions")
        self.assertEqual(status, 405)
        status, _, data = harness.request(port, "GET", "/nowhere")
        self.assertEqual(status, 404)
        status, _, data = harness.request(port, "POST", "/v1/completions", b"x" * 5000)
        self.assertEqual(status, 413)
        self.assertEqual(self.timed_post(port, chat("still here"))[0], 200)

    def test_client_disconnect_mid_stream_is_counted_cancelled(self):
        port, _ = self.start("--decode-us-per-token", "50000", "--prefill-us-per-token", "0")
        body = json.dumps(chat("long answer", max_tokens=200, stream=True)).encode()
        s = socket.create_connection((harness.HOST, port), timeout=5)
        s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: sim\r\n"
                  b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
                  + body)
        got = b""
        while b"data:" not in got:
            got += s.recv(4096)
        s.close()
        harness.wait_until(lambda: metrics(port)["sim_cancelled_total"] == 1, timeout=3,
                           what="cancellation counted")
        m = metrics(port)
        self.assertEqual(m["sim_in_flight"], 0)
        # Far fewer than the 200 tokens asked were produced.
        self.assertLess(m["sim_completion_tokens_total"], 50)


def http_errors():
    import http.client
    return http.client.HTTPException


if __name__ == "__main__":
    unittest.main()
