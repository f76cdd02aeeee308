"""Usage on every stream (issue 13 item 3, router/stream_usage.h): a client
that streams without stream_options gets exactly the events it would get
from the worker directly, while the router asks the worker for the usage
chunk, reads the cached tokens from it and drops it; a worker that changes
its other chunks when asked (vLLM 0.5: "usage": null in each) is no longer
asked after the first such stream.
"""
import http.client
import http.server
import json
import threading
import unittest

import harness
import mesh_util as mu
import router_util as ru


def raw_stream(port, body):
    """POST a streamed chat; returns (status, headers, [event text]) with the
    body read to its end (chunked decoding by http.client)."""
    conn = http.client.HTTPConnection(harness.HOST, port, timeout=30)
    try:
        conn.request("POST", "/v1/chat/completions", body=json.dumps(body).encode(),
                     headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        data = r.read().decode()
        hdrs = {k.lower(): v for k, v in r.getheaders()}
        events = [e for e in data.split("\n\n") if e]
        return r.status, hdrs, events
    finally:
        conn.close()


def normalised(events):
    """Events with the per-request fields (id, created) blanked."""
    out = []
    for e in events:
        self_data = e[len("data: "):] if e.startswith("data: ") else e
        if self_data == "[DONE]":
            out.append(self_data)
            continue
        j = json.loads(self_data)
        j.pop("id", None)
        j.pop("created", None)
        out.append(json.dumps(j, sort_keys=True))
    return out


def stream_body(text, **extra):
    body = ru.chat_body([{"role": "user", "content": text}], max_tokens=4, stream=True)
    body.update(extra)
    return body


class StreamUsageTest(harness.Cleanup, unittest.TestCase):
    def setUp(self):
        super().setUp()
        # Two identical workers (same id, same seed): the router's, and one
        # the test asks directly. A sim's text depends on its request count,
        # so the n-th request to each gets the same tokens.
        self.sims = ru.start_sims(self, 1, "--decode-us-per-token", "0")
        self.sim_port = ru.start_sims(self, 1, "--decode-us-per-token", "0")[0][0]

    def admin(self, router):
        return router.admin_port

    def test_client_gets_the_workers_events_and_the_router_reads_usage(self):
        port, router = ru.start_router(self, self.sims)
        admin = self.admin(router)
        doc = ru.words(2000, 5)
        # Twice (the second is a cache hit): what the worker itself sends a
        # client that did not ask for usage, and what the router relays.
        for _ in range(2):
            status, _, direct = raw_stream(self.sim_port, stream_body(doc))
            self.assertEqual(status, 200)
            self.assertFalse(any('"usage"' in e for e in direct), direct)
            status, _, via = raw_stream(port, stream_body(doc))
            self.assertEqual(status, 200)
            self.assertEqual(normalised(via), normalised(direct))
        # The router did ask, read and drop it: feedback saw both streams.
        self.assertEqual(mu.metric(admin, "radixmesh_stream_usage_total", 'result="dropped"'), 2)
        self.assertEqual(mu.metric(admin, "radixmesh_cache_prediction_error_ratio_count"), 2)
        self.assertEqual(
            mu.metric(admin, "radixmesh_cache_feedback_total", 'outcome="agrees"'), 2)

    def test_a_client_that_asks_for_usage_gets_it_untouched(self):
        port, router = ru.start_router(self, self.sims)
        admin = self.admin(router)
        body = stream_body(ru.words(500, 6), stream_options={"include_usage": True})
        _, _, direct = raw_stream(self.sim_port, body)
        _, _, via = raw_stream(port, body)
        self.assertEqual(normalised(via), normalised(direct))
        usage = [json.loads(e[6:]) for e in via if '"usage"' in e]
        self.assertEqual(len(usage), 1)
        self.assertEqual(usage[0]["choices"], [])
        # Asked by the client, not by the router: nothing dropped, and the
        # feedback still read it.
        self.assertEqual(mu.metric(admin, "radixmesh_stream_usage_total", 'result="dropped"'), 0)
        self.assertEqual(mu.metric(admin, "radixmesh_cache_prediction_error_ratio_count"), 1)
        # stream_options without include_usage (or null) is the client's
        # choice too: no usage, none added.
        for opts in ({}, None, {"include_usage": False}):
            _, _, via = raw_stream(port, stream_body(ru.words(500, 7), stream_options=opts))
            self.assertFalse(any('"usage"' in e for e in via), (opts, via))
        self.assertEqual(mu.metric(admin, "radixmesh_cache_prediction_error_ratio_count"), 1)

    def test_off_switch_sends_the_body_as_is(self):
        port, router = ru.start_router(self, self.sims, "--stream-usage=false")
        admin = self.admin(router)
        _, _, via = raw_stream(port, stream_body(ru.words(800, 8)))
        self.assertFalse(any('"usage"' in e for e in via))
        self.assertEqual(mu.metric(admin, "radixmesh_cache_prediction_error_ratio_count"), 0)
        self.assertEqual(mu.metric(admin, "radixmesh_stream_usage_total", 'result="dropped"'), 0)


class Vllm05Worker:
    """Streams as vLLM 0.5 did with include_usage: "usage": null in every
    content chunk, then the usage chunk. Records each request body."""

    def __init__(self, test):
        bodies = self.bodies = []

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                body = b'{"status":"ok"}' if self.path == "/health" else b"{}"
                self.send_response(200 if self.path == "/health" else 404)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                req = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                bodies.append(req)
                usage = (req.get("stream_options") or {}).get("include_usage", False)
                events = []
                for word in ("a", "b"):
                    chunk = {"id": "x", "object": "chat.completion.chunk", "model": "sim-model",
                             "choices": [{"index": 0, "delta": {"content": word},
                                          "finish_reason": None}]}
                    if usage:
                        chunk["usage"] = None
                    events.append(chunk)
                if usage:
                    events.append({"id": "x", "object": "chat.completion.chunk",
                                   "model": "sim-model", "choices": [],
                                   "usage": {"prompt_tokens": 10, "completion_tokens": 2,
                                             "total_tokens": 12}})
                data = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                raw = data.encode()
                self.wfile.write(f"{len(raw):x}\r\n".encode() + raw + b"\r\n0\r\n\r\n")

        self.server = http.server.ThreadingHTTPServer((harness.HOST, 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        test.addCleanup(self.server.server_close)
        test.addCleanup(self.server.shutdown)


class ChangedChunksTest(harness.Cleanup, unittest.TestCase):
    def test_a_worker_that_changes_its_chunks_is_no_longer_asked(self):
        worker = Vllm05Worker(self)
        port, router = ru.start_router(self, [(worker.port, None, "v05")])
        admin = router.admin_port
        _, _, first = raw_stream(port, stream_body("hello"))
        self.assertIn("stream_options", worker.bodies[-1])
        # The usage chunk itself was still kept from the client.
        self.assertFalse(any('"choices": []' in e for e in first), first)
        self.assertEqual(
            mu.metric(admin, "radixmesh_stream_usage_total", 'result="worker_off"'), 1)
        for _ in range(2):
            _, _, later = raw_stream(port, stream_body("hello again"))
            self.assertNotIn("stream_options", worker.bodies[-1])
            self.assertFalse(any('"usage"' in e for e in later), later)
        self.assertEqual(
            mu.metric(admin, "radixmesh_stream_usage_total", 'result="worker_off"'), 1)


if __name__ == "__main__":
    unittest.main()
