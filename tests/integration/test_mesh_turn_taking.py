"""Turn-taking across meshed routers at default mesh flags (1 s gossip).

Three routers front the same four simulated workers. Each conversation's
turns go to a different router each time, a few milliseconds after the
previous turn's response ended, as a plain load balancer in front of the
routers would send them. The next turn must land on the previous turn's
worker (x-radixmesh-worker): the previous turn's tree delta has to reach the
next router within milliseconds (pushed), not at the next gossip round.
"""
import json
import os
import time
import unittest

from harness import Cleanup, request
from mesh_util import MODEL, MeshRouter, start_sims, text, wait_alive

CONVERSATIONS = 12
TURNS = 3
GAP_S = 0.005  # between a response's end and the next turn


class MeshTurnTakingTest(Cleanup, unittest.TestCase):
    # Extra router flags (the defaults are what is under test). Set
    # RADIXMESH_TURN_TAKING_ARGS="--mesh-push-window-ms 0" to watch the test
    # fail on round-only gossip.
    # --expose-worker-address: the test reads x-radixmesh-worker, which is
    # hidden from clients by default.
    ARGS = ["--expose-worker-address"] + os.environ.get("RADIXMESH_TURN_TAKING_ARGS", "").split()

    def chat(self, router, messages):
        status, headers, body = request(
            router.port, "POST", "/v1/chat/completions",
            {"model": MODEL, "max_tokens": 4, "messages": messages}, timeout=10.0)
        self.assertEqual(status, 200, body[:300])
        reply = json.loads(body)["choices"][0]["message"]["content"]
        return headers["x-radixmesh-worker"], reply

    def test_next_turn_on_another_router_lands_on_the_previous_turns_worker(self):
        workers = start_sims(self, 4, "turns")
        r0 = MeshRouter(self, "r0", workers, label="turns", gossip_ms=None, extra_args=self.ARGS)
        routers = [r0] + [MeshRouter(self, f"r{i}", workers, seeds=[r0.address], label="turns",
                                     gossip_ms=None, extra_args=self.ARGS) for i in (1, 2)]
        wait_alive(routers, timeout=20.0)

        sticky, moves = 0, []
        for c in range(CONVERSATIONS):
            messages = [{"role": "system", "content": text(1500, c, "sys")},
                        {"role": "user", "content": text(400, c, "u0-")}]
            worker, reply = self.chat(routers[c % 3], messages)
            for k in range(1, TURNS):
                time.sleep(GAP_S)
                messages += [{"role": "assistant", "content": reply},
                             {"role": "user", "content": text(200, c * 10 + k, "u")}]
                nxt, reply = self.chat(routers[(c + k) % 3], messages)
                if nxt == worker:
                    sticky += 1
                else:
                    moves.append((c, k, worker, nxt))
                worker = nxt
        total = CONVERSATIONS * (TURNS - 1)
        # Every turn should stick; one straggler is tolerated on a loaded
        # machine. Without push a turn sticks only by chance (about 1 in 4).
        self.assertGreaterEqual(sticky, total - 1, f"turns that moved: {moves}")


if __name__ == "__main__":
    unittest.main()
