// Prefill/decode disaggregation end to end with the official `openai` client:
// one router per protocol (--pd-mode sglang, --pd-mode vllm) over simulated
// prefill and decode workers (--role). The simulated decode workers refuse
// requests the router did not pair correctly (no bootstrap room, or no
// kv_transfer_params from a prefill they can reach), so every answer below
// proves the flow; the workers' counters show each leg went where it should.
// RADIXMESH_BUILD names the build directory (default: build).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import { HOST, SIM, ROUTER, freePort, start, stopAll, waitOk, metric } from "./harness.mjs";

const routers = {};

async function simCount(port, name) {
  const text = await (await fetch(`http://${HOST}:${port}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(name + " "));
  return line ? Number(line.split(" ").pop()) : 0;
}

async function pdRouter(protocol) {
  const prefill = [];
  for (let i = 0; i < 2; i++) {
    const port = await freePort();
    const bootstrap = await freePort();
    const proc = start(SIM, [
      "--host", HOST, "--port", port, "--id", `${protocol}-p${i}`, "--model", "sim-model",
      "--role", "prefill", "--pd-protocol", protocol, "--bootstrap-port", bootstrap,
    ]);
    prefill.push({ port, bootstrap, proc });
  }
  const decodePort = await freePort();
  const decode = start(SIM, [
    "--host", HOST, "--port", decodePort, "--id", `${protocol}-d0`, "--model", "sim-model",
    "--role", "decode", "--pd-protocol", protocol, "--decode-us-per-token", 5000,
  ]);
  await Promise.all([...prefill.map((p) => waitOk(p.port, "/health", p.proc)),
    waitOk(decodePort, "/health", decode)]);
  const port = await freePort();
  const admin = await freePort();
  const router = start(ROUTER, [
    "--host", HOST, "--port", port, "--admin-port", admin, "--threads", 2,
    "--health-interval-ms", 200, "--pd-mode", protocol,
    ...prefill.flatMap((p) => ["--prefill", protocol === "sglang"
      ? `http://${HOST}:${p.port}?bootstrap_port=${p.bootstrap}` : `http://${HOST}:${p.port}`]),
    "--decode", `http://${HOST}:${decodePort}`,
  ]);
  await waitOk(port, "/readiness", router);
  return {
    admin, prefill, decodePort,
    client: new OpenAI({ apiKey: "sk-test", baseURL: `http://${HOST}:${port}/v1`, maxRetries: 0, timeout: 20000 }),
  };
}

before(async () => {
  routers.sglang = await pdRouter("sglang");
  routers.vllm = await pdRouter("vllm");
});

after(() => {
  stopAll();
});

const shared = "You are a careful assistant. ".repeat(40);

for (const protocol of ["sglang", "vllm"]) {
  test(`${protocol}: chat completion through a prefill and a decode worker`, async () => {
    const r = routers[protocol];
    const answer = await r.client.chat.completions.create({
      model: "sim-model", max_tokens: 4,
      messages: [{ role: "system", content: shared }, { role: "user", content: "first" }],
    });
    assert.equal(answer.object, "chat.completion");
    assert.equal(answer.system_fingerprint, `${protocol}-d0`);
    assert.equal(answer.usage.completion_tokens, 4);
  });

  test(`${protocol}: streamed chat arrives token by token from the decode worker`, async () => {
    const r = routers[protocol];
    const stream = await r.client.chat.completions.create({
      model: "sim-model", max_tokens: 5, stream: true,
      messages: [{ role: "system", content: shared }, { role: "user", content: "second" }],
    });
    let chunks = 0;
    let text = "";
    for await (const chunk of stream) {
      assert.equal(chunk.system_fingerprint, `${protocol}-d0`);
      text += chunk.choices[0]?.delta?.content ?? "";
      chunks += 1;
    }
    assert.equal(chunks, 5);
    assert.ok(text.length > 0);
  });

  test(`${protocol}: completions, plain and streamed`, async () => {
    const r = routers[protocol];
    const plain = await r.client.completions.create({ model: "sim-model", prompt: shared + "third", max_tokens: 3 });
    assert.equal(plain.object, "text_completion");
    assert.equal(plain.usage.completion_tokens, 3);
    const stream = await r.client.completions.create({
      model: "sim-model", prompt: shared + "fourth", max_tokens: 3, stream: true,
    });
    let texts = 0;
    for await (const chunk of stream) if (typeof chunk.choices[0]?.text === "string") texts += 1;
    assert.equal(texts, 3);
  });

  test(`${protocol}: the shared system prompt stayed on one prefill worker`, async () => {
    const r = routers[protocol];
    const chats = await Promise.all(r.prefill.map((p) => simCount(p.port, 'sim_requests_total{endpoint="chat"}')));
    assert.deepEqual(chats.slice().sort(), [0, 2]);
    assert.equal(await metric(r.admin, "radixmesh_pd_legs_total", 'role="prefill",outcome="ok"'), 4);
    assert.equal(await metric(r.admin, "radixmesh_pd_legs_total", 'role="decode",outcome="ok"'), 4);
  });
}
