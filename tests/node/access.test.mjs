// API keys and rate limits end to end with the official `openai` v4 client:
// the router runs with --api-keys-file over simulated workers. A missing or
// wrong key is an AuthenticationError (401 invalid_api_key), a good key chats
// and streams, an empty token bucket is a RateLimitError (429) carrying
// Retry-After, which the client's own retry honours, and a key added to the
// file is accepted without a restart.
// RADIXMESH_BUILD names the build directory (default: build).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import OpenAI from "openai";
import { HOST, freePort, start, stopAll, waitOk } from "./harness.mjs";

const GOOD = "sk-good-0123456789abcdef";
const LIMITED = "sk-limited-0123456789abcdef";
const LATER = "sk-later-0123456789abcdef";
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "radixmesh-access-"));
const keysFile = path.join(tmp, "api-keys");
let baseURL;
let adminPort;
let router;

// The file is replaced whole (write + rename), as a Secret volume update is.
function writeKeys(lines) {
  const next = `${keysFile}.next`;
  fs.writeFileSync(next, lines.join("\n") + "\n");
  fs.renameSync(next, keysFile);
}

function client(apiKey, opts = {}) {
  return new OpenAI({ apiKey, baseURL, maxRetries: 0, timeout: 20000, ...opts });
}

async function metric(name) {
  const r = await fetch(`http://${HOST}:${adminPort}/metrics`, { signal: AbortSignal.timeout(5000) });
  assert.equal(r.status, 200);
  const text = await r.text();
  const line = text.split("\n").find((l) => l.startsWith(name + " "));
  return line ? Number(line.slice(name.length + 1)) : 0;
}

const hello = { model: "sim-model", messages: [{ role: "user", content: "Say hello" }], max_tokens: 2 };

before(async () => {
  writeKeys([
    "# keys of the access test",
    `${GOOD} name=team-a`,
    `${LIMITED} name=limited rps=1 burst=2`,
  ]);
  const simPorts = [await freePort(), await freePort()];
  const sims = simPorts.map((port, i) =>
    start("tools/sim_worker/radixmesh-sim-worker", [
      "--host", HOST, "--port", port, "--id", `w${i}`, "--model", "sim-model",
      "--prefill-us-per-token", 0, "--decode-us-per-token", 5000,
    ]));
  await Promise.all(simPorts.map((p, i) => waitOk(p, "/health", sims[i])));
  const port = await freePort();
  adminPort = await freePort();
  // A long tail of the log is kept: tests check that no key is ever in it.
  router = start("router/radixmesh", [
    "--host", HOST, "--port", port, "--admin-port", adminPort, "--threads", 2,
    "--health-interval-ms", 200, "--api-keys-file", keysFile, "--api-keys-poll-ms", 100,
    ...simPorts.flatMap((p) => ["--worker", `http://${HOST}:${p}`]),
  ], 64000);
  await waitOk(port, "/readiness", router);  // the probes need no key
  baseURL = `http://${HOST}:${port}/v1`;
});

after(() => {
  stopAll();
  fs.rmSync(tmp, { recursive: true, force: true });
});

test("no key: AuthenticationError 401 invalid_api_key", async () => {
  const noKey = client("unused", { defaultHeaders: { Authorization: null } });
  const before = await metric('radixmesh_auth_failures_total{reason="missing"}');
  await assert.rejects(noKey.chat.completions.create(hello), (e) => {
    assert.ok(e instanceof OpenAI.AuthenticationError, `got ${e?.constructor?.name}: ${e}`);
    assert.equal(e.status, 401);
    assert.equal(e.code, "invalid_api_key");
    assert.match(e.message, /Authorization: Bearer/);
    return true;
  });
  await assert.rejects(noKey.models.list(), (e) => e.status === 401);
  assert.equal(await metric('radixmesh_auth_failures_total{reason="missing"}'), before + 2);
});

test("wrong key: AuthenticationError 401, and the key is not echoed", async () => {
  const wrong = "sk-wrong-0123456789abcdef";
  await assert.rejects(client(wrong).chat.completions.create(hello), (e) => {
    assert.ok(e instanceof OpenAI.AuthenticationError);
    assert.equal(e.status, 401);
    assert.equal(e.code, "invalid_api_key");
    assert.ok(!JSON.stringify(e.error).includes(wrong), "the key is echoed in the body");
    return true;
  });
  assert.ok(!router.logTail().includes(wrong), "the key is in the router's log");
});

test("good key: chat and streamed chat", async () => {
  const c = client(GOOD);
  const r = await c.chat.completions.create(hello);
  assert.equal(r.object, "chat.completion");
  assert.equal(typeof r.choices[0].message.content, "string");
  const stream = await c.chat.completions.create({ ...hello, max_tokens: 5, stream: true });
  let chunks = 0;
  let text = "";
  for await (const chunk of stream) {
    ++chunks;
    text += chunk.choices[0]?.delta?.content ?? "";
  }
  assert.ok(chunks >= 5, `only ${chunks} chunks`);
  assert.ok(text.length > 0);
  const models = await c.models.list();
  assert.deepEqual(models.data.map((m) => m.id), ["sim-model"]);
});

test("rps=1 burst=2: the third quick request is a RateLimitError with Retry-After", async () => {
  await new Promise((r) => setTimeout(r, 2100));  // a full bucket, whatever ran before
  const c = client(LIMITED);
  const limited = 'radixmesh_rate_limited_total{tenant="limited"}';
  const before = await metric(limited);
  await c.chat.completions.create(hello);
  await c.chat.completions.create(hello);
  await assert.rejects(c.chat.completions.create(hello), (e) => {
    assert.ok(e instanceof OpenAI.RateLimitError, `got ${e?.constructor?.name}: ${e}`);
    assert.equal(e.status, 429);
    assert.equal(e.code, "rate_limit_exceeded");
    const retryAfter = Number(e.headers["retry-after"]);
    assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 2,
      `Retry-After ${e.headers["retry-after"]}`);
    assert.ok(!JSON.stringify(e.error).includes(LIMITED));
    return true;
  });
  assert.equal(await metric(limited), before + 1);
});

test("the client's own retry waits Retry-After and then succeeds", async (t) => {
  await new Promise((r) => setTimeout(r, 2100));
  const quick = client(LIMITED);
  await quick.chat.completions.create(hello);
  await quick.chat.completions.create(hello);  // the bucket is empty now
  const limited = 'radixmesh_rate_limited_total{tenant="limited"}';
  const before = await metric(limited);
  const patient = client(LIMITED, { maxRetries: 1 });
  const t0 = Date.now();
  const r = await patient.chat.completions.create(hello);
  const waited = Date.now() - t0;
  t.diagnostic(`one 429, then a success after ${waited} ms`);
  assert.equal(r.object, "chat.completion");
  // One 429 then a success. Without Retry-After the client would have slept
  // its own backoff of 0.375-0.5 s; it slept the 1 s the router asked for.
  assert.equal(await metric(limited), before + 1);
  assert.ok(waited >= 950, `retried after ${waited} ms`);
  assert.ok(waited < 5000, `retried after ${waited} ms`);
});

test("a key added to the file is accepted without a restart", async () => {
  const later = client(LATER);
  await assert.rejects(later.chat.completions.create(hello), (e) => e.status === 401);
  const reloads = await metric('radixmesh_api_keys_reloads_total{result="ok"}');
  writeKeys([
    `${GOOD} name=team-a`,
    `${LIMITED} name=limited rps=1 burst=2`,
    `${LATER} name=team-b`,
  ]);
  const deadline = Date.now() + 10000;
  let status = 0;
  while (Date.now() < deadline) {
    try {
      await later.chat.completions.create(hello);
      status = 200;
      break;
    } catch (e) {
      status = e.status;
      if (e.status !== 401) throw e;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(status, 200, "the new key was never accepted");
  assert.equal(router.exitCode, null);
  assert.ok(await metric('radixmesh_api_keys_reloads_total{result="ok"}') > reloads);
  assert.equal(await metric("radixmesh_api_keys"), 3);
  // The old keys still work, and no key text reached the log or the metrics.
  await client(GOOD).chat.completions.create(hello);
  const text = await (await fetch(`http://${HOST}:${adminPort}/metrics`)).text();
  for (const k of [GOOD, LIMITED, LATER]) {
    assert.ok(!text.includes(k), "a key is in /metrics");
    assert.ok(!router.logTail().includes(k), "a key is in the router's log");
  }
});
