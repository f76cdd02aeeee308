// Shared set-up of the node tests: the build's binaries started as child
// processes on loopback, free ports, readiness waits, /metrics samples.
// RADIXMESH_BUILD names the build directory (default: build).
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const build = path.resolve(root, process.env.RADIXMESH_BUILD ?? "build");
export const HOST = "127.0.0.1";
export const SIM = "tools/sim_worker/radixmesh-sim-worker";
export const ROUTER = "router/radixmesh";

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, HOST, () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// Every process started here, for stopAll() in an after() hook.
const procs = [];

// Starts build/<bin> with args; its stderr's last `keep` characters stay
// readable as proc.logTail().
export function start(bin, args, keep = 4000) {
  const p = spawn(path.join(build, bin), args.map(String), { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  p.stderr.on("data", (d) => { log = (log + d).slice(-keep); });
  p.logTail = () => log;
  procs.push(p);
  return p;
}

export function stopAll() {
  for (const p of procs) if (p.exitCode === null) p.kill("SIGKILL");
}

// Resolves once GET urlPath answers 200; rejects when proc exits or after timeoutMs.
export async function waitOk(port, urlPath, proc, timeoutMs = 15000) {
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

// One sample of /metrics when labels are given, else the sum of every
// sample (as tests/integration/mesh_util.py's metric()).
export async function metric(adminPort, name, labels = "") {
  const text = await (await fetch(`http://${HOST}:${adminPort}/metrics`)).text();
  let total = 0;
  for (const line of text.split("\n")) {
    if (labels ? line.startsWith(`${name}{${labels}} `) : line.startsWith(`${name} `) || line.startsWith(`${name}{`)) {
      total += Number(line.trim().split(/\s+/).at(-1));
    }
  }
  return total;
}
