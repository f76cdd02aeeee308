// End to end with the official `openai` v4 client: chat, completions and
// streaming chat through the radixmesh router over simulated workers.
// RADIXMESH_BUILD names the build directory (default: build).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import { HOST, freePort, start, stopAll, waitOk } from "./harness.mjs";

let client;

before(async () => {
  const simPorts = [await freePort(), await freePort()];
  const sims = simPorts.map((port, i) =>
    start("tools/sim_worker/radixmesh-sim-worker", [
      "--host", HOST, "--port", port, "--id", `w${i}`, "--model", "sim-model",
      "--prefill-us-per-token", 0, "--decode-us-per-token", 20000,
    ]));
  await Promise.all(simPorts.map((p, i) => waitOk(p, "/health", sims[i])));
  const port = await freePort();
  const router = start("router/radixmesh", [
    "--host", HOST, "--port", port, "--admin-port", await freePort(), "--threads", 2,
    "--health-interval-ms", 200,
    ...simPorts.flatMap((p) => ["--worker", `http://${HOST}:${p}`]),
  ]);
  await waitOk(port, "/readiness", router);
  client = new OpenAI({ apiKey: "sk-test", baseURL: `http://${HOST}:${port}/v1`, maxRetries: 0, timeout: 20000 });
});

after(() => {
  stopAll();
});

test("chat completion", async () => {
  const r = await client.chat.completions.create({
    model: "sim-model",
    messages: [{ role: "user", content: "Say hello" }],
    max_tokens: 4,
  });
  assert.equal(r.object, "chat.completion");
  assert.equal(r.choices.length, 1);
  assert.equal(typeof r.choices[0].message.content, "string");
  assert.ok(r.usage.prompt_tokens > 0);
});

test("completion", async () => {
  const r = await client.completions.create({ model: "sim-model", prompt: "Once upon a time", max_tokens: 3 });
  assert.equal(r.object, "text_completion");
  assert.equal(typeof r.choices[0].text, "string");
});

test("streaming chat delivers chunks as they are produced", async () => {
  const stream = await client.chat.completions.create({
    model: "sim-model",
    messages: [{ role: "user", content: "Stream five tokens" }],
    max_tokens: 5,
    stream: true,
  });
  const arrivals = [];
  let text = "";
  for await (const chunk of stream) {
    arrivals.push(Date.now());
    text += chunk.choices[0]?.delta?.content ?? "";
  }
  assert.ok(arrivals.length >= 5, `only ${arrivals.length} chunks`);
  assert.ok(text.length > 0);
  // 20 ms per token at the worker: the chunks were not delivered all at once.
  assert.ok(arrivals.at(-1) - arrivals[0] >= 40, `spread ${arrivals.at(-1) - arrivals[0]} ms`);
});

test("models list and errors surface as OpenAI errors", async () => {
  const models = await client.models.list();
  assert.deepEqual(models.data.map((m) => m.id), ["sim-model"]);
  await assert.rejects(
    client.chat.completions.create({ model: "missing", messages: [{ role: "user", content: "x" }] }),
    (e) => e.status === 404 && e.code === "model_not_found",
  );
});
