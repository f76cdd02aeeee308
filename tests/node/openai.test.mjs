// End to end with the official `openai` v4 client: chat, completions and
// streaming chat through the radixmesh router over simulated workers.
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
let client;

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
  for (const p of procs) if (p.exitCode === null) p.kill("SIGKILL");
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
