// Usage on every stream (router/stream_usage.h), seen by the official
// `openai` client: a router that asks the worker for usage (the default)
// and one that does not (--stream-usage=false) give the client identical
// streams, while only the first reads the worker's cached tokens.
// RADIXMESH_BUILD names the build directory (default: build).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import { HOST, freePort, start, stopAll, waitOk, metric } from "./harness.mjs";

const routers = {};  // name -> { client, admin }

// One simulated worker (always id w0, so both set-ups see the same worker
// and the same generated text) and one router over it.
async function startPair(name, routerFlags) {
  const simPort = await freePort();
  const sim = start("tools/sim_worker/radixmesh-sim-worker", [
    "--host", HOST, "--port", simPort, "--id", "w0", "--model", "sim-model",
    "--prefill-us-per-token", 0, "--decode-us-per-token", 1000,
  ]);
  await waitOk(simPort, "/health", sim);
  const port = await freePort();
  const admin = await freePort();
  const router = start("router/radixmesh", [
    "--host", HOST, "--port", port, "--admin-port", admin, "--threads", 2,
    "--health-interval-ms", 200, "--worker", `http://${HOST}:${simPort}`, ...routerFlags,
  ]);
  await waitOk(port, "/readiness", router);
  routers[name] = {
    client: new OpenAI({ apiKey: "sk-test", baseURL: `http://${HOST}:${port}/v1`, maxRetries: 0, timeout: 20000 }),
    admin,
  };
}

// Every chunk the client parsed, minus the per-request id and created.
async function collect(stream) {
  const out = [];
  for await (const chunk of stream) {
    const { id, created, ...rest } = chunk;
    assert.ok(id);
    out.push(rest);
  }
  return out;
}

before(async () => {
  await startPair("asks", []);
  await startPair("off", ["--stream-usage=false"]);
});

after(() => {
  stopAll();
});

const chatParams = {
  model: "sim-model",
  messages: [{ role: "user", content: "A long shared document ".repeat(60) + "and a question" }],
  max_tokens: 6,
  stream: true,
};
const completionParams = { model: "sim-model", prompt: "Once upon a time ".repeat(40), max_tokens: 5, stream: true };

test("streamed chat and completions are identical with and without the router asking for usage", async () => {
  for (let turn = 0; turn < 2; ++turn) {
    const chatAsks = await collect(await routers.asks.client.chat.completions.create(chatParams));
    const chatOff = await collect(await routers.off.client.chat.completions.create(chatParams));
    assert.deepEqual(chatAsks, chatOff);
    assert.equal(chatAsks.length, 6);
    assert.ok(chatAsks.every((c) => !("usage" in c) && c.choices.length === 1));
    const textAsks = await collect(await routers.asks.client.completions.create(completionParams));
    const textOff = await collect(await routers.off.client.completions.create(completionParams));
    assert.deepEqual(textAsks, textOff);
    assert.equal(textAsks.length, 5);
  }
  // Only the router that asked read the worker's usage (4 streams), and
  // kept every usage chunk from the client.
  assert.equal(await metric(routers.asks.admin, "radixmesh_stream_usage_total", 'result="dropped"'), 4);
  assert.equal(await metric(routers.asks.admin, "radixmesh_cache_prediction_error_ratio_count"), 4);
  assert.equal(await metric(routers.off.admin, "radixmesh_cache_prediction_error_ratio_count"), 0);
});

test("a client that asks for usage gets the same usage chunk from both", async () => {
  const params = { ...chatParams, stream_options: { include_usage: true } };
  const asks = await collect(await routers.asks.client.chat.completions.create(params));
  const off = await collect(await routers.off.client.chat.completions.create(params));
  assert.deepEqual(asks, off);
  const usage = asks.at(-1);
  assert.deepEqual(usage.choices, []);
  assert.ok(usage.usage.prompt_tokens > 0);
  assert.ok(usage.usage.prompt_tokens_details.cached_tokens > 0);  // a later turn of the same prompt
});
