"""Routing on the load workers report in /metrics: a worker kept busy by a
client the router never sees gets a clearly smaller share of the router's
traffic, and the reported numbers show in the admin API, route explain and
the router's /metrics.
"""
import collections
import json
import random
import threading
import unittest

import harness
import router_util as ru


class OutsideLoad:
    """Closed-loop clients sending long requests straight to one sim worker."""

    def __init__(self, port, clients, max_tokens):
        self.port, self.stop_flag = port, threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(i, max_tokens), daemon=True)
                        for i in range(clients)]

    def _run(self, i, max_tokens):
        n = 0
        while not self.stop_flag.is_set():
            n += 1
            try:
                ru.chat(self.port, [{"role": "user", "content": f"outside {i} {n}"}],
                        max_tokens=max_tokens)
            except OSError:
                pass

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop_flag.set()
        for t in self.threads:
            t.join(timeout=30)


def admin_port(router_proc):
    return router_proc.admin_port


class WorkerLoadTest(harness.Cleanup, unittest.TestCase):
    def _reported(self, admin, sim_port):
        status, _, data = harness.request(admin, "GET", "/admin/workers")
        self.assertEqual(status, 200)
        for w in json.loads(data)["workers"]:
            if w["url"].endswith(f":{sim_port}"):
                return w.get("reported_load")
        self.fail(f"worker :{sim_port} not listed")

    def test_worker_loaded_from_outside_gets_at_most_half_its_share(self):
        n_workers = 4
        sims = ru.start_sims(self, n_workers, "--prefill-us-per-token", "0",
                             "--decode-us-per-token", "20000", "--concurrency", "4")
        port, router = ru.start_router(self, sims, "--metrics-interval-ms", "100")
        admin = admin_port(router)
        busy_port, _, busy_id = sims[0]

        # Shared documents, each first sent once so the tree spreads them over
        # every worker (about a quarter of them live on the busy one).
        docs = [ru.words(2500, 500 + d) for d in range(16)]
        holders = {}
        for d, doc in enumerate(docs):
            status, hdrs, body = ru.chat(port, [{"role": "user", "content": doc}], max_tokens=1)
            self.assertEqual(status, 200, body)
            holders[d] = hdrs["x-worker-id"]
        self.assertIn(busy_id, holders.values(), "no document landed on the busy worker")

        with OutsideLoad(busy_port, clients=12, max_tokens=25):
            # The router sees the queue it never caused.
            report = harness.wait_until(
                lambda: (r := self._reported(admin, busy_port)) and r["waiting"] >= 4 and r,
                timeout=15, what="the busy worker's queue in /admin/workers")
            self.assertGreaterEqual(report["running"], 4)
            self.assertIsNotNone(report["kv_usage"])

            served = collections.Counter()
            lock = threading.Lock()
            rng = random.Random(7)
            plan = [rng.randrange(len(docs)) for _ in range(96)]

            def client(k):
                for i in range(k, len(plan), 6):
                    d = plan[i]
                    msgs = [{"role": "user", "content": docs[d] + f" question {i}"}]
                    status, hdrs, body = ru.chat(port, msgs, max_tokens=2)
                    self.assertEqual(status, 200, body)
                    with lock:
                        served[hdrs["x-worker-id"]] += 1

            threads = [threading.Thread(target=client, args=(k,)) for k in range(6)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=120)

            # Explain names the busy worker's report too.
            status, _, data = harness.request(
                admin, "POST", "/admin/route/explain",
                {"model": "sim-model", "messages": [{"role": "user", "content": docs[0]}]})
            self.assertEqual(status, 200, data)
            entry = [w for w in json.loads(data)["workers"]
                     if w["url"].endswith(f":{busy_port}")][0]
            self.assertIsNotNone(entry["reported_load"])
            self.assertGreater(entry["reported_load"]["waiting"], 0)

            status, _, text = harness.request(admin, "GET", "/metrics")
            self.assertEqual(status, 200)
            self.assertIn(f'radixmesh_worker_reported_waiting{{worker="http://127.0.0.1:{busy_port}"}}',
                          text.decode())

        total = sum(served.values())
        self.assertEqual(total, len(plan))
        fair = total / n_workers
        print(f"\noutside-loaded worker share: {served[busy_id]}/{total} (fair {fair:.0f})")
        self.assertLessEqual(served[busy_id], fair / 2,
                             f"busy worker got {served[busy_id]} of {total}: {dict(served)}")

    def test_sglang_dialect_is_read_and_a_silent_worker_goes_stale(self):
        sims = ru.start_sims(self, 2, "--metrics-dialect", "sglang", "--decode-us-per-token", "0")
        port, router = ru.start_router(self, sims, "--metrics-interval-ms", "100")
        admin = admin_port(router)
        sport, sproc, _ = sims[1]
        report = harness.wait_until(lambda: self._reported(admin, sport), timeout=10,
                                    what="an SGLang-dialect report")
        self.assertEqual(report["waiting"], 0)
        self.assertIsNotNone(report["kv_usage"])
        # A worker that stops answering: its report ages out (3 polls + timeout).
        sproc.kill()
        harness.wait_until(lambda: self._reported(admin, sport) is None, timeout=10,
                           what="the dead worker's report to go stale")
        self.assertIsNotNone(self._reported(admin, sims[0][0]))

    def test_a_new_conversation_leaves_a_busy_holder_and_the_next_turn_stays(self):
        sims = ru.start_sims(self, 2, "--prefill-us-per-token", "0",
                             "--decode-us-per-token", "20000", "--concurrency", "8")
        port, router = ru.start_router(self, sims, "--metrics-interval-ms", "100")
        admin = admin_port(router)
        system = {"role": "system", "content": ru.words(400, 71)}
        turn0 = [system, {"role": "user", "content": ru.words(60, 72)}]
        status, hdrs, body = ru.chat(port, turn0, max_tokens=1)
        self.assertEqual(status, 200, body)
        holder = hdrs["x-worker-id"]
        holder_port = [p for p, _, wid in sims if wid == holder][0]

        def explain(messages):
            status, _, data = harness.request(admin, "POST", "/admin/route/explain",
                                              {"model": "sim-model", "messages": messages})
            self.assertEqual(status, 200, data)
            ex = json.loads(data)
            ex["chosen_id"] = [wid for p, _, wid in sims if ex["chosen"].endswith(f":{p}")][0]
            return ex

        next_turn = turn0 + [{"role": "assistant", "content": "ok"},
                             {"role": "user", "content": ru.words(60, 73)}]
        new_conversation = [system, {"role": "user", "content": ru.words(60, 74)}]
        # Idle: both follow the system prompt's holder.
        ex = explain(new_conversation)
        self.assertTrue(ex["branches"])
        self.assertEqual((ex["reason"], ex["chosen_id"]), ("cache_hit", holder))

        # Six requests the router never sees keep the holder busy: 6 running
        # against 0 is not an imbalance (gap <= 8), but more than the branch
        # slack (2) above the mean load (3).
        with OutsideLoad(holder_port, clients=6, max_tokens=100):
            harness.wait_until(
                lambda: (r := self._reported(admin, holder_port)) and r["running"] >= 6,
                timeout=15, what="the holder's 6 running requests in /admin/workers")
            ex = explain(next_turn)
            self.assertFalse(ex["branches"])
            self.assertEqual((ex["reason"], ex["chosen_id"]), ("cache_hit", holder))
            ex = explain(new_conversation)
            self.assertTrue(ex["branches"])
            self.assertEqual(ex["reason"], "branch_least_loaded")
            self.assertNotEqual(ex["chosen_id"], holder)
            # Routed for real, the new conversation lands there too.
            status, hdrs, body = ru.chat(port, new_conversation, max_tokens=1)
            self.assertEqual(status, 200, body)
            self.assertNotEqual(hdrs["x-worker-id"], holder)


if __name__ == "__main__":
    unittest.main()
