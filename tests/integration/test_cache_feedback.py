"""Cached-token feedback: a worker that reports fewer cached tokens than the
tree predicted (here: its cache was flushed) is forgotten by the tree, and
through the mesh by every router's tree, within a few requests; streamed
responses feed it as well as whole bodies.
"""
import json
import unittest

import harness
import mesh_util as mu
import router_util as ru


def worker_blocks(admin_port, url):
    status, _, data = harness.request(admin_port, "GET", "/admin/workers", timeout=2.0)
    if status != 200:
        raise RuntimeError(f"/admin/workers: {status}")
    for w in json.loads(data)["workers"]:
        if w["url"] == url:
            return w["tree_blocks"]
    raise KeyError(url)


def chat_on(port, doc, model, stream=False):
    """One request for a document; returns the worker id that served it."""
    body = {"model": model, "max_tokens": 2, "messages": [{"role": "user", "content": doc}]}
    if stream:
        body["stream"] = True
    status, hdrs, data = harness.request(port, "POST", "/v1/chat/completions", body, timeout=30)
    if status != 200:
        raise AssertionError(f"status {status}: {data[:300]!r}")
    return hdrs["x-radixmesh-worker"]


def flush(url):
    port = int(url.rsplit(":", 1)[1])
    status, _, data = harness.request(port, "POST", "/flush_cache", b"")
    assert status == 200, (status, data)
    return json.loads(data)["flushed_blocks"]


class CacheFeedbackTest(harness.Cleanup, unittest.TestCase):
    def test_flushed_worker_is_forgotten_by_every_meshed_tree(self):
        urls = mu.start_sims(self, 3, "fb")
        routers = mu.start_mesh(self, urls, 3, label="fb")
        r0, r1 = routers[0], routers[1]
        docs = [mu.text(3000, d, "doc") for d in range(9)]
        holder = {d: chat_on(r0.port, doc, mu.MODEL) for d, doc in enumerate(docs)}
        # A second round on r0: the tree predicts, the worker agrees.
        for d, doc in enumerate(docs):
            self.assertEqual(chat_on(r0.port, doc, mu.MODEL), holder[d])
        victim = holder[0]
        mine = [d for d in holder if holder[d] == victim]
        harness.wait_until(lambda: mu.converged(routers), timeout=15, what="trees converge")
        before = [worker_blocks(r.admin_port, victim) for r in routers]
        self.assertTrue(all(b >= 40 * len(mine) for b in before), before)

        self.assertGreater(flush(victim), 0)
        # Through another router: one request per document the victim held.
        # Each is routed by the (now wrong) tree to the victim, which reports
        # 0 cached tokens: that router trims, the mesh carries the eviction.
        for d in mine:
            self.assertEqual(chat_on(r1.port, docs[d], mu.MODEL), victim)
        harness.wait_until(
            lambda: all(worker_blocks(r.admin_port, victim) == 0 for r in routers),
            timeout=15, what="every router forgets the flushed worker")
        # The router that trimmed marks the victim as evicting (its cache
        # lost what it was sent), and only the victim.
        status, _, data = harness.request(r1.admin_port, "GET", "/admin/workers")
        evicting = {w["url"]: w["evicting"] for w in json.loads(data)["workers"]}
        self.assertEqual(evicting, {u: u == victim for u in urls})
        # The other workers' tenancy is untouched.
        others = [u for u in urls if u != victim and u in holder.values()]
        for u in others:
            self.assertGreater(worker_blocks(r0.admin_port, u), 0)
        self.assertGreaterEqual(
            mu.metric(r1.admin_port, "radixmesh_cache_feedback_total", 'outcome="trimmed"'),
            len(mine))
        self.assertGreaterEqual(
            mu.metric(r0.admin_port, "radixmesh_cache_feedback_total", 'outcome="agrees"'),
            len(docs))

    def test_stream_usage_chunk_feeds_the_tree_and_the_error_histogram(self):
        sims = ru.start_sims(self, 2, "--decode-us-per-token", "0")
        port, router = ru.start_router(self, sims)
        admin = router.admin_port
        doc = ru.words(4000, 77)
        url = chat_on(port, doc, "sim-model", stream=True)
        self.assertGreater(worker_blocks(admin, url), 50)
        self.assertEqual(chat_on(port, doc, "sim-model", stream=True), url)
        flush(url)
        self.assertEqual(chat_on(port, doc, "sim-model", stream=True), url)
        # Read after the stream's last byte went out: wait for the trim.
        harness.wait_until(lambda: worker_blocks(admin, url) == 0, timeout=5,
                           what="the flushed worker's blocks to be trimmed")
        self.assertEqual(
            mu.metric(admin, "radixmesh_cache_feedback_total", 'outcome="trimmed"'), 1)
        self.assertEqual(mu.metric(admin, "radixmesh_cache_prediction_error_ratio_count"), 3)
        # The trimmed prediction was a full miss: error 1 (the +Inf bucket
        # and le="1" hold it, le="0.5" does not).
        self.assertEqual(
            mu.metric(admin, "radixmesh_cache_prediction_error_ratio_bucket", 'le="0.5"'), 2)

    def test_off_switch_keeps_the_open_loop_tree(self):
        sims = ru.start_sims(self, 1, "--decode-us-per-token", "0")
        port, router = ru.start_router(self, sims, "--cache-feedback=false")
        admin = router.admin_port
        doc = ru.words(3000, 78)
        url = chat_on(port, doc, "sim-model")
        flush(url)
        chat_on(port, doc, "sim-model")
        self.assertGreater(worker_blocks(admin, url), 0)

    def test_capacity_estimate_lowers_a_full_workers_budget(self):
        # 1,024-token cache (64 blocks of 64 bytes): one 4 KB document fills it.
        sims = ru.start_sims(self, 1, "--decode-us-per-token", "0", "--kv-capacity-tokens", "1024")
        port, router = ru.start_router(self, sims, "--capacity-estimate",
                                       "--metrics-interval-ms", "100")
        admin = router.admin_port

        def budget():
            status, _, data = harness.request(admin, "GET", "/admin/workers")
            return json.loads(data)["workers"][0]["budget_blocks"]

        ceiling = budget()
        docs = [ru.words(4000, 300 + d) for d in range(3)]
        url = None
        for doc in docs:
            url = chat_on(port, doc, "sim-model")
        # The worker's cache is full; wait for a scrape to say so.
        harness.wait_until(
            lambda: (json.loads(harness.request(admin, "GET", "/admin/workers")[2])
                     ["workers"][0]["reported_load"] or {}).get("kv_usage", 0) >= 0.9,
            timeout=10, what="the worker to report a full KV cache")
        claimed = worker_blocks(admin, url)
        self.assertGreater(claimed, 150)  # the tree still attributes all three
        chat_on(port, docs[0], "sim-model")  # evicted long ago: reported 0 cached
        # The router reads the report after the response's last byte went out,
        # so the client can see the answer a moment before the trim.
        harness.wait_until(lambda: budget() < ceiling, timeout=5,
                           what="the estimate to lower the budget")
        self.assertLessEqual(budget(), int(0.9 * claimed))


if __name__ == "__main__":
    unittest.main()
