"""The router's routing behaviour over real simulated workers: conversation
affinity, shared-prefix stickiness with balanced load, and the baseline
policies doing what their names say.
"""
import collections
import unittest

import harness
import router_util as ru


class RouterRoutingTest(harness.Cleanup, unittest.TestCase):
    def test_second_turn_goes_to_the_worker_that_served_the_first(self):
        sims = ru.start_sims(self, 3, "--prefill-us-per-token", "0", "--decode-us-per-token", "0")
        port, _ = ru.start_router(self, sims)
        # Several conversations, each with a long distinctive first turn.
        for conv in range(6):
            first = [{"role": "system", "content": "You are helpful."},
                     {"role": "user", "content": ru.words(2000, conv)}]
            s1, h1, b1 = ru.chat(port, first)
            self.assertEqual(s1, 200, b1)
            worker = h1["x-radixmesh-worker"]
            self.assertTrue(worker.startswith("http://127.0.0.1:"))
            # The worker's own id header passes through.
            self.assertIn(h1["x-worker-id"], {"w0", "w1", "w2"})
            second = first + [{"role": "assistant", "content": b1["choices"][0]["message"]["content"]},
                              {"role": "user", "content": "and then? " + ru.words(300, 100 + conv)}]
            s2, h2, b2 = ru.chat(port, second)
            self.assertEqual(s2, 200, b2)
            self.assertEqual(h2["x-radixmesh-worker"], worker, f"conversation {conv}")
            self.assertEqual(h2["x-worker-id"], h1["x-worker-id"])
            # The worker reused the first turn's KV cache.
            cached = b2["usage"].get("prompt_tokens_details", {}).get("cached_tokens", 0)
            self.assertGreater(cached, 0)

    def test_shared_prefix_groups_stick_together_and_load_stays_balanced(self):
        sims = ru.start_sims(self, 3, "--prefill-us-per-token", "0", "--decode-us-per-token", "0")
        port, _ = ru.start_router(self, sims)
        groups = {g: ru.words(3000, 1000 + g) for g in range(6)}
        served = collections.defaultdict(set)
        per_worker = collections.Counter()
        for rnd in range(4):
            for g, prefix in groups.items():
                msg = [{"role": "system", "content": prefix},
                       {"role": "user", "content": f"question {rnd} of group {g}"}]
                s, h, b = ru.chat(port, msg)
                self.assertEqual(s, 200, b)
                served[g].add(h["x-radixmesh-worker"])
                per_worker[h["x-radixmesh-worker"]] += 1
        for g, workers in served.items():
            self.assertEqual(len(workers), 1, f"group {g} was split over {workers}")
        # Six groups over three workers: every worker gets some.
        self.assertEqual(len(per_worker), 3, per_worker)
        self.assertLessEqual(max(per_worker.values()), 2 * min(per_worker.values()) + 4,
                             per_worker)

    def test_round_robin_cycles_over_the_workers(self):
        sims = ru.start_sims(self, 3, "--prefill-us-per-token", "0", "--decode-us-per-token", "0")
        port, _ = ru.start_router(self, sims, policy="round_robin")
        seen = []
        for i in range(9):
            s, h, b = ru.chat(port, [{"role": "user", "content": "same prompt every time " * 20}])
            self.assertEqual(s, 200, b)
            seen.append(h["x-worker-id"])
        counts = collections.Counter(seen)
        self.assertEqual(sorted(counts.values()), [3, 3, 3], seen)
        # Consecutive requests never hit the same worker twice in a row.
        self.assertTrue(all(a != b for a, b in zip(seen, seen[1:])), seen)

    def test_consistent_hash_pins_sessions_by_header_and_user_field(self):
        sims = ru.start_sims(self, 4, "--prefill-us-per-token", "0", "--decode-us-per-token", "0")
        port, _ = ru.start_router(self, sims, policy="consistent_hash")
        by_session = {}
        for rnd in range(3):
            for sess in range(8):
                msg = [{"role": "user", "content": f"round {rnd} unrelated text {rnd * 7}"}]
                s, h, b = ru.chat(port, msg, headers={"X-Session-Id": f"session-{sess}"})
                self.assertEqual(s, 200, b)
                by_session.setdefault(sess, set()).add(h["x-worker-id"])
        for sess, workers in by_session.items():
            self.assertEqual(len(workers), 1, f"session {sess}: {workers}")
        self.assertGreater(len(set().union(*by_session.values())), 1)
        # Without the header, the OpenAI "user" field is the key.
        users = {}
        for rnd in range(3):
            for u in range(4):
                s, h, b = ru.chat(port, [{"role": "user", "content": f"x{rnd}"}], user=f"user-{u}")
                self.assertEqual(s, 200, b)
                users.setdefault(u, set()).add(h["x-worker-id"])
        for u, workers in users.items():
            self.assertEqual(len(workers), 1, f"user {u}: {workers}")

    def test_models_union_and_per_model_workers(self):
        a = ru.start_sims(self, 1, models=("alpha",))
        b = ru.start_sims(self, 1, models=("beta", "alpha"))
        port, _ = ru.start_router(self, a + b)

        def both_known():
            status, _, data = harness.request(port, "GET", "/v1/models")
            import json
            ids = [m["id"] for m in json.loads(data)["data"]]
            return status == 200 and ids == ["alpha", "beta"]
        harness.wait_until(both_known, timeout=5, what="models union")
        # beta is only on the second worker.
        for i in range(4):
            s, h, body = ru.chat(port, [{"role": "user", "content": f"beta {i}"}], model="beta")
            self.assertEqual(s, 200, body)
            self.assertEqual(h["x-radixmesh-worker"], f"http://127.0.0.1:{b[0][0]}")
        s, _, body = ru.chat(port, [{"role": "user", "content": "hi"}], model="gamma")
        self.assertEqual(s, 404)
        self.assertEqual(body["error"]["code"], "model_not_found")


if __name__ == "__main__":
    unittest.main()
