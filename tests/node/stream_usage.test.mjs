// Usage on every stream (router/stream_usage.h), seen by the official
// `openai` client: a router that asks the worker for usage (the default)
// and one that does not (--stream-usage=false) give the client identical
// streams, while only the first reads the worker's cached tokens.
// RADIXMESH_BUILD names the build directory (default: build).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import OpenAI from "openai";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const build = path.resolve(root, process.env.RADIXMESH_BUILD ?? "build");
const HOST = "127.0.0.1";
const procs = [];
const routers = {};  // name -> { client, admin }

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, HOST, () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function start(bin, args) {
  const p = spawn(path.join(build, bin), args.map(String), { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  p.stderr.on("data", (d) => { log = (log + d).slice(-4000); });
  p.logTail = () => log;
  procs.push(p);
  return p;
}

async function waitOk(port, urlPath, proc, timeoutMs = 15000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`exited early: ${proc.logTail()}`);
    try {
      const r = await fetch(`http://${HOST}:${port}${urlPath}`, { signal: AbortSignal.timeout(1000) });
      if (r.status === 200) return;
    } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${urlPath} on ${port}`);
}

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

// One sample when labels are given, else the sum of every sample (as
// tests/integration/mesh_util.py's metric()).
async function metric(admin, name, labels = "") {
  const text = await (await fetch(`http://${HOST}:${admin}/metrics`)).text();
  let total = 0;
  for (const line of text.split("\n")) {
    if (labels ? line.startsWith(`${name}{${labels}} `) : line.startsWith(`${name} `) || line.startsWith(`${name}{`)) {
      total += Number(line.trim().split(/\s+/).at(-1));
    }
  }
  return total;
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
  for (const p of procs) if (p.exitCode === null) p.kill("SIGKILL");
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
