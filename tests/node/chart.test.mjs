// Helm chart tests: a real helm v3 binary lints the chart and renders it with
// default and non-default values; the rendered objects are checked against
// each other (ports in flags = container ports = Service/probe targets,
// selectors = pod labels, mounts = file flags) and against the daemon's own
// option table in router/config_options.cc (every flag and config key the
// chart passes exists). The built daemon is then run with the rendered
// command line, mounted files and environment (--print-config) to show it
// accepts them. `helm install` and `helm upgrade` run against a stub API
// server on loopback to show that generated Secrets survive upgrades. The
// container recipe helm/Dockerfile is checked for the same binaries, ports,
// user and runtime libraries as the chart and the build.
//
// Run: cd tests/node && node --test chart.test.mjs
// Needs the helm binary from tools/dev/install-deps --test and the daemon
// from tools/dev/build (build/router/radixmesh, or $RADIXMESH_BUILD/router/).
// Without either, the tests that need it fail and say so.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import YAML from 'yaml';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../..');
const HELM = path.resolve(HERE, '../../tools/dev/.helm/helm/helm');
const CHART = path.join(ROOT, 'helm', 'radixmesh');
const DOCKERFILE = path.join(ROOT, 'helm', 'Dockerfile');
const HELM_TIMEOUT_MS = 60_000;

// ---------------------------------------------------------------- helpers

function helm(args) {
  if (!fs.existsSync(HELM)) {
    throw new Error(`helm binary not found at ${path.relative(ROOT, HELM)}: ` +
      'run tools/dev/install-deps --test (tools/dev/test does it)');
  }
  try {
    return execFileSync(HELM, args, {
      encoding: 'utf8', timeout: HELM_TIMEOUT_MS, stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (e) {
    const err = new Error(`helm ${args.join(' ')} failed:\n${e.stdout ?? ''}${e.stderr ?? ''}`);
    err.stdout = e.stdout;
    err.stderr = e.stderr;
    throw err;
  }
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'radixmesh-chart-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));

function valuesFile(name, text) {
  const f = path.join(tmp, name);
  fs.writeFileSync(f, text);
  return f;
}

// The non-default values: every optional feature on, every port moved.
const CUSTOM_NS = 'llm';
const CUSTOM_VALUES = valuesFile('custom.yaml', `
replicaCount: 5
fullnameOverride: edge
clusterDomain: k8s.example
image:
  repository: registry.example/radixmesh
  tag: "1.2.3"
  pullPolicy: Always
imagePullSecrets:
  - name: regcred
ports:
  data: 8080
  admin: 9100
  mesh: 17946
service:
  type: LoadBalancer
  port: 80
workers:
  dns: vllm-headless.inference.svc.cluster.local:8000
  urls:
    - http://10.0.0.5:8000
    - http://10.0.0.6:8000
mesh:
  extraPeers:
    - other-router-0.other.llm.svc.k8s.example:7946
  secret:
    existingSecret: my-mesh-key
    key: key
metrics:
  serviceMonitor:
    enabled: true
    interval: 15s
    labels:
      release: prometheus
autoscaling:
  enabled: true
  minReplicas: 3
  maxReplicas: 12
  targetCPUUtilizationPercentage: 60
  targetMemoryUtilizationPercentage: 80
config:
  policy: cost
  cost-load-weight: 0.8
  block-bytes: 128
  log-level: debug
extraArgs:
  - --default-model=llama-3-8b
podAnnotations:
  team: infra
podLabels:
  tier: routing
nodeSelector:
  pool: routers
tolerations:
  - key: dedicated
    operator: Equal
    value: routers
    effect: NoSchedule
podDisruptionBudget:
  minAvailable: 2
`);

function render({ files = [], sets = [], namespace = 'default', release = 'rm' } = {}) {
  const args = ['template', release, CHART, '--namespace', namespace];
  for (const f of files) args.push('--values', f);
  for (const s of sets) args.push('--set', s);
  const out = helm(args);
  const docs = YAML.parseAllDocuments(out).map((d) => {
    if (d.errors.length) throw new Error(`rendered YAML does not parse: ${d.errors[0].message}`);
    return d.toJS();
  });
  return docs.filter((d) => d && typeof d === 'object');
}

// Rendered once per values set, on first use (a failure fails each test that needs it).
const cache = new Map();
function rendered(key, opts) {
  if (!cache.has(key)) {
    try {
      cache.set(key, { objs: render(opts) });
    } catch (e) {
      cache.set(key, { error: e });
    }
  }
  const r = cache.get(key);
  if (r.error) throw r.error;
  return r.objs;
}
const defaults = () => rendered('default', {});
const custom = () => rendered('custom', { files: [CUSTOM_VALUES], namespace: CUSTOM_NS });

const ofKind = (objs, kind) => objs.filter((o) => o.kind === kind);
function one(objs, kind, pred = () => true) {
  const found = ofKind(objs, kind).filter(pred);
  assert.equal(found.length, 1, `expected exactly one ${kind}, found ${found.length}`);
  return found[0];
}
const sts = (objs) => one(objs, 'StatefulSet');
const podSpec = (objs) => sts(objs).spec.template.spec;
function container(objs) {
  const cs = podSpec(objs).containers;
  const c = cs.find((x) => x.name === 'radixmesh');
  assert.ok(c, 'no container named radixmesh');
  return c;
}

// Container args as flag -> list of values; accepts "--f=v" and "--f v".
function flags(objs) {
  const c = container(objs);
  assert.ok(!c.command, 'the chart must not override the image ENTRYPOINT');
  const args = c.args ?? [];
  const m = new Map();
  for (let i = 0; i < args.length; i++) {
    const a = String(args[i]);
    assert.ok(a.startsWith('--'), `argument ${JSON.stringify(a)} is not a flag`);
    let name, value;
    const eq = a.indexOf('=');
    if (eq > 0) {
      name = a.slice(2, eq);
      value = a.slice(eq + 1);
    } else {
      name = a.slice(2);
      value = i + 1 < args.length && !String(args[i + 1]).startsWith('--') ? String(args[++i]) : '';
    }
    if (!m.has(name)) m.set(name, []);
    m.get(name).push(value);
  }
  return m;
}
function flag(objs, name) {
  const v = flags(objs).get(name);
  assert.ok(v, `flag --${name} not passed to the daemon`);
  assert.equal(v.length, 1, `flag --${name} passed ${v.length} times`);
  return v[0];
}

// Resolves a probe or Service targetPort (name or number) to a container port number.
function containerPort(objs, ref) {
  const ports = container(objs).ports ?? [];
  if (typeof ref === 'number') {
    assert.ok(ports.some((p) => p.containerPort === ref), `no container port ${ref}`);
    return ref;
  }
  const p = ports.find((x) => x.name === ref);
  assert.ok(p, `no container port named ${ref}`);
  return p.containerPort;
}

const podLabels = (objs) => sts(objs).spec.template.metadata.labels;
function selects(selector, labels) {
  assert.ok(selector && Object.keys(selector).length > 0, 'empty selector');
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

function headless(objs) {
  return one(objs, 'Service', (s) => s.spec.clusterIP === 'None');
}
function clientService(objs) {
  return one(objs, 'Service', (s) => s.spec.clusterIP !== 'None' &&
    s.spec.ports.some((p) => p.name === 'http'));
}

// File a path flag points to, resolved through the volume mounts to the
// volume that provides it: returns { volume, item }.
function mountedFile(objs, filePath) {
  const c = container(objs);
  const mount = (c.volumeMounts ?? []).find((m) => filePath.startsWith(m.mountPath + '/'));
  assert.ok(mount, `${filePath} is not under any volume mount`);
  const rel = filePath.slice(mount.mountPath.length + 1);
  const volume = podSpec(objs).volumes.find((v) => v.name === mount.name);
  assert.ok(volume, `volume ${mount.name} is mounted but not defined`);
  const src = volume.secret ?? volume.configMap;
  assert.ok(src, `volume ${mount.name} is neither a Secret nor a ConfigMap`);
  let key = rel;
  if (src.items) {
    const item = src.items.find((i) => i.path === rel);
    assert.ok(item, `volume ${mount.name} has no item at ${rel}`);
    key = item.key;
  }
  return { volume, key, mount };
}

// Flag names the daemon knows, read from its option table.
function daemonOptions() {
  const src = path.join(ROOT, 'router', 'config_options.cc');
  assert.ok(fs.existsSync(src), 'router/config_options.cc (the daemon option table) is missing');
  const text = fs.readFileSync(src, 'utf8');
  const names = new Set();
  for (const m of text.matchAll(/^\s*\{"([a-z0-9-]+)",\s*"/gm)) names.add(m[1]);
  assert.ok(names.size > 20, `only ${names.size} options parsed from router/config_options.cc`);
  return names;
}

function renderFails(opts, pattern) {
  assert.throws(() => render(opts), (e) => {
    assert.match(String(e.message), pattern);
    return true;
  });
}

// ---------------------------------------------------------------- lint

test('helm lint --strict passes with default values', () => {
  const out = helm(['lint', '--strict', CHART]);
  assert.match(out, /1 chart\(s\) linted, 0 chart\(s\) failed/);
});

test('helm lint --strict passes with non-default values', () => {
  const out = helm(['lint', '--strict', CHART, '--namespace', CUSTOM_NS, '--values', CUSTOM_VALUES]);
  assert.match(out, /1 chart\(s\) linted, 0 chart\(s\) failed/);
});

// ---------------------------------------------------------------- default values

test('default: renders the router StatefulSet, both Services, ConfigMap, mesh Secret, PDB, ServiceAccount', () => {
  const objs = defaults();
  const kinds = objs.map((o) => o.kind).sort();
  assert.deepEqual(kinds, ['ConfigMap', 'PodDisruptionBudget', 'Secret', 'Service', 'Service',
    'ServiceAccount', 'StatefulSet']);
  for (const o of objs) assert.equal(o.metadata.namespace, 'default', `${o.kind} ${o.metadata.name} namespace`);
});

test('default: the data port flag, container port, client Service target and headless Service match', () => {
  const objs = defaults();
  const port = Number(flag(objs, 'port'));
  assert.equal(port, 8000);
  assert.equal(flag(objs, 'host'), '0.0.0.0');
  const svc = clientService(objs);
  assert.equal(svc.spec.ports.length, 1);
  assert.equal(containerPort(objs, svc.spec.ports[0].targetPort), port);
  const meshPort = Number(flag(objs, 'mesh-port'));
  assert.equal(containerPort(objs, 'mesh'), meshPort);
  const hs = headless(objs);
  assert.deepEqual(hs.spec.ports.map((p) => [p.port, containerPort(objs, p.targetPort)]),
    [[meshPort, meshPort]]);
});

test('default: liveness probes /health and readiness probes /readiness on the data port', () => {
  const objs = defaults();
  const c = container(objs);
  const port = Number(flag(objs, 'port'));
  assert.equal(c.livenessProbe.httpGet.path, '/health');
  assert.equal(containerPort(objs, c.livenessProbe.httpGet.port), port);
  assert.equal(c.readinessProbe.httpGet.path, '/readiness');
  assert.equal(containerPort(objs, c.readinessProbe.httpGet.port), port);
});

test('default: the headless Service selects the router pods and publishes not-ready addresses', () => {
  const objs = defaults();
  const hs = headless(objs);
  assert.equal(hs.spec.publishNotReadyAddresses, true);
  assert.ok(selects(hs.spec.selector, podLabels(objs)), 'headless selector does not match pod labels');
  assert.equal(sts(objs).spec.serviceName, hs.metadata.name, 'StatefulSet serviceName is not the headless Service');
  assert.ok(selects(sts(objs).spec.selector.matchLabels, podLabels(objs)));
});

test('default: the client Service selects the router pods, is not headless and has no stickiness', () => {
  const objs = defaults();
  const svc = clientService(objs);
  assert.ok(selects(svc.spec.selector, podLabels(objs)));
  assert.equal(svc.spec.type, 'ClusterIP');
  assert.ok(!svc.spec.sessionAffinity || svc.spec.sessionAffinity === 'None');
  assert.ok(!svc.spec.publishNotReadyAddresses, 'clients must only reach ready routers');
});

test('default: the mesh secret is mounted and --mesh-secret-file points at it', () => {
  const objs = defaults();
  const file = flag(objs, 'mesh-secret-file');
  const { volume, key, mount } = mountedFile(objs, file);
  assert.equal(mount.readOnly, true);
  assert.ok(volume.secret, '--mesh-secret-file is not backed by a Secret');
  const secret = one(objs, 'Secret', (s) => s.metadata.name === volume.secret.secretName);
  assert.ok(secret.data && secret.data[key], `Secret ${secret.metadata.name} has no key ${key}`);
  const value = Buffer.from(secret.data[key], 'base64').toString();
  assert.ok(value.length >= 32, `generated mesh key is only ${value.length} characters`);
});

test('default: a generated mesh key differs between installs (random, not a constant)', () => {
  const key = (objs) => Object.values(one(objs, 'Secret').data)[0];
  assert.notEqual(key(render()), key(render()));
});

test('default: the mesh is wired from the pod: node id, advertised pod IP, peers via the headless FQDN', () => {
  const objs = defaults();
  const c = container(objs);
  const env = Object.fromEntries(c.env.map((e) => [e.name, e.valueFrom?.fieldRef?.fieldPath]));
  assert.equal(flag(objs, 'node-id'), '$(POD_NAME)');
  assert.equal(env.POD_NAME, 'metadata.name');
  const meshPort = flag(objs, 'mesh-port');
  assert.equal(flag(objs, 'mesh-advertise'), `$(POD_IP):${meshPort}`);
  assert.equal(env.POD_IP, 'status.podIP');
  assert.equal(flag(objs, 'peers-dns'),
    `${headless(objs).metadata.name}.default.svc.cluster.local:${meshPort}`);
});

test('default: the admin port is loopback-bound and in no Service', () => {
  const objs = defaults();
  const admin = Number(flag(objs, 'admin-port'));
  assert.equal(flag(objs, 'admin-host'), '127.0.0.1');
  assert.ok(!flags(objs).has('admin-token-file'));
  for (const s of ofKind(objs, 'Service')) {
    for (const p of s.spec.ports) {
      assert.notEqual(p.port, admin, `Service ${s.metadata.name} exposes the admin port`);
      assert.notEqual(p.targetPort, admin, `Service ${s.metadata.name} targets the admin port`);
      if (typeof p.targetPort === 'string') {
        assert.notEqual(containerPort(objs, p.targetPort), admin);
      }
    }
  }
  assert.ok(!(container(objs).ports ?? []).some((p) => p.containerPort === admin),
    'admin port declared as a container port while loopback-only');
});

test('default: no HorizontalPodAutoscaler, and the StatefulSet sets replicas', () => {
  const objs = defaults();
  assert.equal(ofKind(objs, 'HorizontalPodAutoscaler').length, 0);
  assert.equal(sts(objs).spec.replicas, 3);
});

test('default: no ServiceMonitor', () => {
  assert.equal(ofKind(defaults(), 'ServiceMonitor').length, 0);
});

test('default: pod and container run as non-root with a read-only root filesystem and no capabilities', () => {
  const objs = defaults();
  const pod = podSpec(objs).securityContext;
  const sc = container(objs).securityContext;
  assert.equal(pod.runAsNonRoot, true);
  assert.equal(sc.runAsNonRoot, true);
  assert.ok(sc.runAsUser > 0, 'runAsUser must be a non-zero uid');
  assert.equal(sc.readOnlyRootFilesystem, true);
  assert.equal(sc.allowPrivilegeEscalation, false);
  assert.deepEqual(sc.capabilities.drop, ['ALL']);
  assert.equal(sc.seccompProfile.type, 'RuntimeDefault');
  assert.equal(pod.seccompProfile.type, 'RuntimeDefault');
  assert.equal(podSpec(objs).automountServiceAccountToken, false);
});

test('default: a writable /tmp is mounted since the root filesystem is read-only', () => {
  const objs = defaults();
  const m = container(objs).volumeMounts.find((v) => v.mountPath === '/tmp');
  assert.ok(m, 'no /tmp mount');
  assert.ok(podSpec(objs).volumes.find((v) => v.name === m.name).emptyDir);
});

test('default: a PodDisruptionBudget covers the router pods', () => {
  const objs = defaults();
  const pdb = one(objs, 'PodDisruptionBudget');
  assert.equal(pdb.apiVersion, 'policy/v1');
  assert.ok(selects(pdb.spec.selector.matchLabels, podLabels(objs)));
  assert.equal(pdb.spec.maxUnavailable, 1);
});

test('default: the ConfigMap holds parseable JSON, mounted where --config points', () => {
  const objs = defaults();
  const { volume, key } = mountedFile(objs, flag(objs, 'config'));
  assert.ok(volume.configMap, '--config is not backed by a ConfigMap');
  const cm = one(objs, 'ConfigMap', (c) => c.metadata.name === volume.configMap.name);
  const cfg = JSON.parse(cm.data[key]);
  assert.equal(cfg.policy, 'cache_aware');
  assert.equal(typeof cfg['block-bytes'], 'number');
  assert.equal(cfg['block-bytes'], 64);
  assert.equal(cfg['memory-budget-bytes'], 536870912, 'large integers must stay exact integers');
});

test('daemon: every flag and config key the chart passes is in the daemon option table', () => {
  const known = daemonOptions();
  for (const objs of [defaults(), custom(), pdSglang(), pdVllm()]) {
    for (const name of flags(objs).keys()) assert.ok(known.has(name), `unknown daemon flag --${name}`);
    const { key } = mountedFile(objs, flag(objs, 'config'));
    const cfg = JSON.parse(one(objs, 'ConfigMap').data[key]);
    for (const k of Object.keys(cfg)) assert.ok(known.has(k), `unknown daemon config key ${k}`);
  }
});

test('default: topology spread over zones and nodes selects the router pods', () => {
  const objs = defaults();
  const tsc = podSpec(objs).topologySpreadConstraints;
  assert.deepEqual(tsc.map((t) => t.topologyKey), ['topology.kubernetes.io/zone', 'kubernetes.io/hostname']);
  for (const t of tsc) assert.ok(selects(t.labelSelector.matchLabels, podLabels(objs)));
});

test('default: the image tag is the chart appVersion', () => {
  const chart = YAML.parse(fs.readFileSync(path.join(CHART, 'Chart.yaml'), 'utf8'));
  assert.equal(container(defaults()).image, `radixmesh/radixmesh:${chart.appVersion}`);
});

test('default: changing the config changes the pod template checksum (pods roll)', () => {
  const sum = (objs) => sts(objs).spec.template.metadata.annotations['checksum/config'];
  const a = sum(defaults());
  const b = sum(render({ sets: ['config.policy=round_robin'] }));
  assert.ok(a && b);
  assert.notEqual(a, b);
});

// ---------------------------------------------------------------- non-default values

test('custom: the worker DNS name lands in --workers-dns', () => {
  assert.equal(flag(custom(), 'workers-dns'), 'vllm-headless.inference.svc.cluster.local:8000');
  assert.ok(!flags(defaults()).has('workers-dns'));
});

test('custom: static worker URLs land as --worker flags', () => {
  assert.deepEqual(flags(custom()).get('worker'), ['http://10.0.0.5:8000', 'http://10.0.0.6:8000']);
  assert.ok(!flags(defaults()).has('worker'));
});

test('custom: moved ports flow to flags, container ports, Services and probes', () => {
  const objs = custom();
  assert.equal(flag(objs, 'port'), '8080');
  assert.equal(flag(objs, 'admin-port'), '9100');
  assert.equal(flag(objs, 'mesh-port'), '17946');
  const svc = clientService(objs);
  assert.equal(svc.spec.type, 'LoadBalancer');
  assert.equal(svc.spec.ports[0].port, 80);
  assert.equal(containerPort(objs, svc.spec.ports[0].targetPort), 8080);
  const c = container(objs);
  assert.equal(containerPort(objs, c.livenessProbe.httpGet.port), 8080);
  assert.equal(containerPort(objs, c.readinessProbe.httpGet.port), 8080);
  assert.equal(headless(objs).spec.ports[0].port, 17946);
  assert.equal(flag(objs, 'peers-dns'), `edge-mesh.${CUSTOM_NS}.svc.k8s.example:17946`);
  assert.equal(flag(objs, 'mesh-advertise'), '$(POD_IP):17946');
});

test('custom: HPA (autoscaling/v2) targets the StatefulSet, which then leaves replicas to it', () => {
  const objs = custom();
  const hpa = one(objs, 'HorizontalPodAutoscaler');
  assert.equal(hpa.apiVersion, 'autoscaling/v2');
  assert.equal(hpa.spec.scaleTargetRef.kind, 'StatefulSet');
  assert.equal(hpa.spec.scaleTargetRef.name, sts(objs).metadata.name);
  assert.equal(hpa.spec.minReplicas, 3);
  assert.equal(hpa.spec.maxReplicas, 12);
  assert.deepEqual(hpa.spec.metrics.map((m) => [m.resource.name, m.resource.target.averageUtilization]),
    [['cpu', 60], ['memory', 80]]);
  assert.equal(sts(objs).spec.replicas, undefined);
});

test('custom: ServiceMonitor scrapes /metrics on the admin port through a Service selecting the pods', () => {
  const objs = custom();
  const sm = one(objs, 'ServiceMonitor');
  assert.equal(sm.apiVersion, 'monitoring.coreos.com/v1');
  assert.equal(sm.metadata.labels.release, 'prometheus');
  assert.equal(sm.spec.endpoints.length, 1);
  const ep = sm.spec.endpoints[0];
  assert.equal(ep.path, '/metrics');
  assert.equal(ep.interval, '15s');
  const svcs = ofKind(objs, 'Service').filter((s) => selects(sm.spec.selector.matchLabels, s.metadata.labels));
  assert.equal(svcs.length, 1, `ServiceMonitor selects ${svcs.length} Services`);
  const svc = svcs[0];
  assert.notEqual(svc.spec.clusterIP, 'None');
  assert.ok(selects(svc.spec.selector, podLabels(objs)));
  const p = svc.spec.ports.find((x) => x.name === ep.port);
  assert.ok(p, `the Service has no port named ${ep.port}`);
  assert.equal(containerPort(objs, p.targetPort), Number(flag(objs, 'admin-port')));
  assert.equal(svc.spec.ports.length, 1, 'the admin Service must carry only the admin port');
});

test('custom: with a ServiceMonitor the admin API binds 0.0.0.0 with a mounted token that the scrape uses', () => {
  const objs = custom();
  assert.equal(flag(objs, 'admin-host'), '0.0.0.0');
  const { volume, key } = mountedFile(objs, flag(objs, 'admin-token-file'));
  assert.ok(volume.secret);
  const secret = one(objs, 'Secret', (s) => s.metadata.name === volume.secret.secretName);
  assert.ok(Buffer.from(secret.data[key], 'base64').toString().length >= 32);
  const cred = one(objs, 'ServiceMonitor').spec.endpoints[0].authorization;
  assert.equal(cred.type, 'Bearer');
  assert.deepEqual([cred.credentials.name, cred.credentials.key], [volume.secret.secretName, key]);
});

test('custom: admin.expose alone creates the admin Service with a token but no ServiceMonitor', () => {
  const objs = render({ sets: ['admin.expose=true'] });
  assert.equal(flag(objs, 'admin-host'), '0.0.0.0');
  assert.ok(flags(objs).has('admin-token-file'));
  assert.equal(ofKind(objs, 'ServiceMonitor').length, 0);
  assert.ok(ofKind(objs, 'Service').some((s) => s.spec.ports.some((p) => p.port === 9000)));
});

test('custom: an existing mesh Secret is mounted instead of a generated one', () => {
  const objs = custom();
  const file = flag(objs, 'mesh-secret-file');
  const { volume, key } = mountedFile(objs, file);
  assert.equal(volume.secret.secretName, 'my-mesh-key');
  assert.equal(key, 'key');
  assert.ok(!ofKind(objs, 'Secret').some((s) => s.metadata.name === 'my-mesh-key'),
    'the chart must not create a Secret it was told exists');
});

test('mesh TLS: off by default (no --mesh-tls-* flag, no TLS volume)', () => {
  const objs = defaults();
  for (const f of ['mesh-tls-cert-file', 'mesh-tls-key-file', 'mesh-tls-ca-file'])
    assert.ok(!flags(objs).has(f), `--${f} passed by default`);
  assert.ok(!podSpec(objs).volumes.some((v) => v.name === 'mesh-tls'));
});

test('mesh TLS: enabled mounts the Secret\'s ca.crt, tls.crt, tls.key where the flags point', () => {
  const objs = rendered('mesh-tls', {
    sets: ['mesh.tls.enabled=true', 'mesh.tls.secretName=rm-mesh-tls'],
  });
  const want = { 'mesh-tls-cert-file': 'tls.crt', 'mesh-tls-key-file': 'tls.key',
    'mesh-tls-ca-file': 'ca.crt' };
  for (const [f, k] of Object.entries(want)) {
    const { volume, key, mount } = mountedFile(objs, flag(objs, f));
    assert.equal(volume.secret.secretName, 'rm-mesh-tls', `--${f}`);
    assert.equal(key, k, `--${f}`);
    assert.equal(mount.readOnly, true);
    // A subPath mount would never see a rotated Secret.
    assert.ok(!mount.subPath, `--${f} is mounted with subPath`);
  }
  // The HMAC secret stays on top, and the chart does not create the TLS Secret.
  flag(objs, 'mesh-secret-file');
  assert.ok(!ofKind(objs, 'Secret').some((x) => x.metadata.name === 'rm-mesh-tls'));
  // The daemon knows the flags the chart passes.
  const known = daemonOptions();
  for (const f of Object.keys(want)) assert.ok(known.has(f), `daemon has no --${f}`);
});

test('mesh TLS: enabled without a Secret name fails to render, naming the value', () => {
  renderFails({ sets: ['mesh.tls.enabled=true'] }, /mesh\.tls\.secretName is required/);
});

test('custom: a mesh key given in values is used as is', () => {
  const objs = render({ sets: ['mesh.secret.value=s3cr3t-shared-by-all-routers'] });
  const { volume, key } = mountedFile(objs, flag(objs, 'mesh-secret-file'));
  const secret = one(objs, 'Secret', (s) => s.metadata.name === volume.secret.secretName);
  assert.equal(Buffer.from(secret.data[key], 'base64').toString(), 's3cr3t-shared-by-all-routers');
});

// Operator alerts: files/alerts.yaml is the one copy of the rules; the
// PrometheusRule wraps its groups.
const ALERTS_FILE = path.join(CHART, 'files', 'alerts.yaml');
const ALERTS_VALUES = valuesFile('alerts.yaml', `
alerts:
  enabled: true
  labels:
    release: prometheus
`);
const alerts = () => rendered('alerts', { files: [ALERTS_VALUES], namespace: CUSTOM_NS });
const alertRules = (groups) => groups.flatMap((g) => g.rules);

test('alerts: helm lint --strict passes with the PrometheusRule enabled', () => {
  const out = helm(['lint', '--strict', CHART, '--namespace', CUSTOM_NS, '--values', ALERTS_VALUES]);
  assert.match(out, /1 chart\(s\) linted, 0 chart\(s\) failed/);
});

test('alerts: default renders no PrometheusRule', () => {
  assert.equal(ofKind(defaults(), 'PrometheusRule').length, 0);
  assert.equal(ofKind(custom(), 'PrometheusRule').length, 0);
});

test('alerts: enabled renders one PrometheusRule whose groups equal files/alerts.yaml', () => {
  const objs = alerts();
  const rule = one(objs, 'PrometheusRule');
  assert.equal(rule.apiVersion, 'monitoring.coreos.com/v1');
  assert.equal(rule.metadata.namespace, CUSTOM_NS);
  assert.equal(rule.metadata.name, sts(objs).metadata.name);
  assert.equal(rule.metadata.labels.release, 'prometheus');
  assert.equal(rule.metadata.labels['app.kubernetes.io/name'], 'radixmesh');
  const file = YAML.parse(fs.readFileSync(ALERTS_FILE, 'utf8'));
  assert.deepEqual(rule.spec.groups, file.groups);
  // The seven conditions of the runbook (memory has two severities).
  const names = alertRules(file.groups).map((r) => r.alert).sort();
  assert.deepEqual(names, ['Radixmesh5xxRate', 'RadixmeshCacheHitRatioCollapse',
    'RadixmeshMemoryTierCritical', 'RadixmeshMemoryTierHigh', 'RadixmeshMeshConvergenceLag',
    'RadixmeshMeshPeerDown', 'RadixmeshNoHealthyWorkers', 'RadixmeshWorkerBreakerOpen']);
  for (const r of alertRules(file.groups)) {
    assert.ok(['warning', 'critical'].includes(r.labels?.severity), `${r.alert}: severity`);
    assert.ok(r.annotations?.summary && r.annotations?.description, `${r.alert}: annotations`);
    assert.match(r.for ?? '', /^\d+[smh]$/, `${r.alert}: for`);
  }
});

test('alerts: every alert has a runbook entry in docs/deployment.md', () => {
  const doc = fs.readFileSync(path.join(ROOT, 'docs', 'deployment.md'), 'utf8');
  const section = doc.split(/^## (?:\d+\. )?Alerts$/m)[1]?.split(/^## /m)[0];
  assert.ok(section, 'docs/deployment.md has no "## Alerts" section');
  const file = YAML.parse(fs.readFileSync(ALERTS_FILE, 'utf8'));
  for (const r of alertRules(file.groups)) {
    assert.ok(section.includes(`\`${r.alert}\``), `no runbook entry for ${r.alert}`);
  }
});

test('alerts: ruleLabels reach every alert, and an alert keeps its own severity', () => {
  const objs = render({ sets: ['alerts.enabled=true', 'alerts.ruleLabels.team=inference',
    'alerts.ruleLabels.severity=info'] });
  const rules = alertRules(one(objs, 'PrometheusRule').spec.groups);
  const file = alertRules(YAML.parse(fs.readFileSync(ALERTS_FILE, 'utf8')).groups);
  assert.equal(rules.length, file.length);
  rules.forEach((r, i) => {
    assert.equal(r.labels.team, 'inference', r.alert);
    assert.equal(r.labels.severity, file[i].labels.severity, r.alert);
    assert.equal(r.expr, file[i].expr, r.alert);
  });
  renderFails({ sets: ['alerts.enabled=yes'] }, /alerts/);
});

// API keys from an existing Secret, rate-limit defaults and admission.
const ACCESS_VALUES = valuesFile('access.yaml', `
auth:
  apiKeys:
    existingSecret: rm-api-keys
    key: keys.txt
    pollMs: 500
  forwardAuthorization: true
  rateLimit:
    rps: 2.5
    burst: 10
admission:
  maxInFlightPerWorker: 4
  maxQueue: 16
  queueTimeoutMs: 2000
`);
const access = () => rendered('access', { files: [ACCESS_VALUES] });

test('access: the API keys Secret is mounted read-only, whole, where --api-keys-file points', () => {
  const objs = access();
  const { volume, key, mount } = mountedFile(objs, flag(objs, 'api-keys-file'));
  assert.equal(volume.secret.secretName, 'rm-api-keys');
  assert.equal(key, 'keys.txt');
  assert.equal(mount.readOnly, true);
  // A subPath mount would never see a rotated Secret.
  assert.equal(mount.subPath, undefined);
  assert.ok(!ofKind(objs, 'Secret').some((s) => s.metadata.name === 'rm-api-keys'),
    'the chart must not create the keys Secret');
  assert.equal(flag(objs, 'api-keys-poll-ms'), '500');
  assert.equal(flag(objs, 'forward-authorization'), '');
});

test('access: rate-limit defaults and admission values become flags', () => {
  const objs = access();
  assert.equal(flag(objs, 'rate-limit-rps'), '2.5');
  assert.equal(flag(objs, 'rate-limit-burst'), '10');
  assert.equal(flag(objs, 'max-in-flight-per-worker'), '4');
  assert.equal(flag(objs, 'max-queue'), '16');
  assert.equal(flag(objs, 'queue-timeout-ms'), '2000');
  // Admission without keys, and keys without limits, stand alone.
  const capOnly = flags(render({ sets: ['admission.maxInFlightPerWorker=2'] }));
  assert.deepEqual(capOnly.get('max-in-flight-per-worker'), ['2']);
  assert.deepEqual(capOnly.get('max-queue'), ['256']);
  assert.ok(!capOnly.has('api-keys-file'));
  const keysOnly = flags(render({ sets: ['auth.apiKeys.existingSecret=k'] }));
  assert.ok(keysOnly.has('api-keys-file'));
  for (const f of ['rate-limit-rps', 'rate-limit-burst', 'forward-authorization', 'max-in-flight-per-worker']) {
    assert.ok(!keysOnly.has(f), `--${f} passed without being asked for`);
  }
});

test('access: by default no access flag is passed and no keys volume mounted', () => {
  const objs = defaults();
  const f = flags(objs);
  for (const name of ['api-keys-file', 'api-keys-poll-ms', 'forward-authorization', 'rate-limit-rps',
    'rate-limit-burst', 'max-in-flight-per-worker', 'max-queue', 'queue-timeout-ms']) {
    assert.ok(!f.has(name), `--${name} passed by default`);
  }
  assert.ok(!podSpec(objs).volumes.some((v) => v.name === 'api-keys'));
});

test('access: the same settings through config are refused, and bad values by the schema', () => {
  renderFails({ sets: ['config.max-queue=5'] }, /config\.max-queue is set by the chart/);
  renderFails({ sets: ['config.api-keys-file=/x'] }, /config\.api-keys-file is set by the chart/);
  renderFails({ sets: ['admission.maxInFlightPerWorker=-1'] }, /maxInFlightPerWorker/);
  renderFails({ sets: ['admission.queueTimeoutMs=0'] }, /queueTimeoutMs/);
  renderFails({ sets: ['auth.apiKeys.pollMs=10'] }, /pollMs/);
});

test('custom: the ConfigMap JSON carries the configured settings', () => {
  const objs = custom();
  const { key } = mountedFile(objs, flag(objs, 'config'));
  const cfg = JSON.parse(one(objs, 'ConfigMap').data[key]);
  assert.equal(cfg.policy, 'cost');
  assert.equal(cfg['cost-load-weight'], 0.8);
  assert.equal(cfg['block-bytes'], 128);
  assert.equal(cfg['log-level'], 'debug');
});

test('custom: image, pull secrets, scheduling, annotations, extra peers and args are applied', () => {
  const objs = custom();
  const spec = podSpec(objs);
  const c = container(objs);
  assert.equal(c.image, 'registry.example/radixmesh:1.2.3');
  assert.equal(c.imagePullPolicy, 'Always');
  assert.deepEqual(spec.imagePullSecrets, [{ name: 'regcred' }]);
  assert.deepEqual(spec.nodeSelector, { pool: 'routers' });
  assert.equal(spec.tolerations[0].key, 'dedicated');
  assert.equal(sts(objs).spec.template.metadata.annotations.team, 'infra');
  assert.equal(podLabels(objs).tier, 'routing');
  assert.deepEqual(flags(objs).get('peer'), ['other-router-0.other.llm.svc.k8s.example:7946']);
  assert.equal(flag(objs, 'default-model'), 'llama-3-8b');
  assert.equal(one(objs, 'PodDisruptionBudget').spec.minAvailable, 2);
});

test('custom: IPv6 pods advertise a bracketed address', () => {
  const objs = render({ sets: ['mesh.ipFamily=IPv6'] });
  assert.equal(flag(objs, 'mesh-advertise'), '[$(POD_IP)]:7946');
});

test('custom: with the mesh disabled no mesh flags, port or Secret are rendered', () => {
  const objs = render({ sets: ['mesh.enabled=false'] });
  const f = flags(objs);
  for (const name of ['mesh-port', 'mesh-advertise', 'peers-dns', 'mesh-secret-file']) {
    assert.ok(!f.has(name), `--${name} passed with the mesh disabled`);
  }
  assert.equal(ofKind(objs, 'Secret').length, 0);
  assert.ok(!(container(objs).ports ?? []).some((p) => p.name === 'mesh'));
});

const withTls = () => rendered('tls', {
  sets: ['tls.enabled=true', 'tls.secretName=router-cert', 'tls.reloadIntervalMs=2000',
    'upstreamTls.caConfigMapName=worker-ca', 'workers.urls[0]=https://vllm-0.vllm:8443'],
});

test('tls: the certificate Secret is mounted whole, the flags point into it, probes speak HTTPS', () => {
  const objs = withTls();
  const cert = flag(objs, 'tls-cert-file');
  const key = flag(objs, 'tls-key-file');
  const c = mountedFile(objs, cert);
  assert.equal(c.volume.secret.secretName, 'router-cert');
  assert.equal(c.key, 'tls.crt');
  assert.ok(!c.mount.subPath, 'a subPath mount would never see a rotated Secret');
  assert.equal(c.mount.readOnly, true);
  const k = mountedFile(objs, key);
  assert.equal(k.volume.name, c.volume.name);
  assert.equal(k.key, 'tls.key');
  assert.equal(flag(objs, 'tls-reload-interval-ms'), '2000');
  const ca = mountedFile(objs, flag(objs, 'upstream-ca-file'));
  assert.equal(ca.volume.configMap.name, 'worker-ca');
  assert.equal(ca.key, 'ca.crt');
  assert.deepEqual(flags(objs).get('worker'), ['https://vllm-0.vllm:8443']);
  const pod = container(objs);
  assert.equal(pod.livenessProbe.httpGet.scheme, 'HTTPS');
  assert.equal(pod.readinessProbe.httpGet.scheme, 'HTTPS');
  assert.ok(!ofKind(objs, 'Secret').some((s) => s.metadata.name === 'router-cert'),
    'the chart must not create the certificate Secret');
  // Off by default: no TLS flags, volumes or HTTPS probes.
  const d = defaults();
  for (const f of ['tls-cert-file', 'tls-key-file', 'upstream-ca-file']) assert.ok(!flags(d).has(f));
  assert.ok(!podSpec(d).volumes.some((v) => v.name === 'tls' || v.name === 'upstream-ca'));
  assert.equal(container(d).readinessProbe.httpGet.scheme, undefined);
});

test('tls: enabled without a Secret, or two CA sources, is refused', () => {
  renderFails({ sets: ['tls.enabled=true'] }, /tls\.secretName/);
  renderFails({ sets: ['upstreamTls.caSecretName=a', 'upstreamTls.caConfigMapName=b'] }, /not both/);
  renderFails({ sets: ['config.tls-cert-file=/x'] }, /set by the chart/);
});

// Prefill/decode disaggregation: two pools (pd.prefill, pd.decode) instead of workers.
const PD_SGLANG_VALUES = valuesFile('pd-sglang.yaml', `
pd:
  mode: sglang
  prefill:
    urls:
      - http://sglang-prefill-0.sglang-prefill:30000?bootstrap_port=9001
      - http://sglang-prefill-1.sglang-prefill:30000
    bootstrapPort: 8999
  decode:
    urls:
      - http://sglang-decode-0.sglang-decode:30000
      - http://sglang-decode-1.sglang-decode:30000
    policy: power_of_two
`);
const PD_VLLM_VALUES = valuesFile('pd-vllm.yaml', `
pd:
  mode: vllm
  prefill:
    dns: vllm-prefill.llm.svc.cluster.local:8000
    policy: consistent_hash
  decode:
    dns: vllm-decode.llm.svc.cluster.local:8000
  bypassBytes: 2048
`);
const pdSglang = () => rendered('pd-sglang', { files: [PD_SGLANG_VALUES], namespace: CUSTOM_NS });
const pdVllm = () => rendered('pd-vllm', { files: [PD_VLLM_VALUES], namespace: CUSTOM_NS });
const PD_FLAGS = ['pd-mode', 'prefill', 'prefill-dns', 'prefill-bootstrap-port', 'prefill-policy',
  'decode', 'decode-dns', 'decode-policy', 'pd-bypass-bytes'];
const WORKER_FLAGS = ['worker', 'workers-dns', 'workers-file'];

test('pd: helm lint --strict passes with sglang and with vllm pools', () => {
  for (const f of [PD_SGLANG_VALUES, PD_VLLM_VALUES]) {
    const out = helm(['lint', '--strict', CHART, '--namespace', CUSTOM_NS, '--values', f]);
    assert.match(out, /1 chart\(s\) linted, 0 chart\(s\) failed/);
  }
});

test('pd: sglang pools, the bootstrap port and both policies become flags, and no worker flag', () => {
  const objs = pdSglang();
  const f = flags(objs);
  assert.equal(flag(objs, 'pd-mode'), 'sglang');
  assert.deepEqual(f.get('prefill'), ['http://sglang-prefill-0.sglang-prefill:30000?bootstrap_port=9001',
    'http://sglang-prefill-1.sglang-prefill:30000']);
  assert.equal(flag(objs, 'prefill-bootstrap-port'), '8999');
  assert.equal(flag(objs, 'prefill-policy'), 'cache_aware');
  assert.deepEqual(f.get('decode'), ['http://sglang-decode-0.sglang-decode:30000',
    'http://sglang-decode-1.sglang-decode:30000']);
  assert.equal(flag(objs, 'decode-policy'), 'power_of_two');
  for (const name of ['prefill-dns', 'decode-dns', 'pd-bypass-bytes', ...WORKER_FLAGS]) {
    assert.ok(!f.has(name), `--${name} passed with pd.mode sglang`);
  }
});

test('pd: vllm with DNS for both pools renders the DNS flags and bypass bytes, no bootstrap port', () => {
  const objs = pdVllm();
  const f = flags(objs);
  assert.equal(flag(objs, 'pd-mode'), 'vllm');
  assert.equal(flag(objs, 'prefill-dns'), 'vllm-prefill.llm.svc.cluster.local:8000');
  assert.equal(flag(objs, 'decode-dns'), 'vllm-decode.llm.svc.cluster.local:8000');
  assert.equal(flag(objs, 'prefill-policy'), 'consistent_hash');
  assert.equal(flag(objs, 'decode-policy'), 'least_load');
  assert.equal(flag(objs, 'pd-bypass-bytes'), '2048');
  for (const name of ['prefill', 'decode', 'prefill-bootstrap-port', ...WORKER_FLAGS]) {
    assert.ok(!f.has(name), `--${name} passed with pd.mode vllm and DNS pools`);
  }
});

test('pd: off by default (also as an unquoted off): no PD flag, the workers as before', () => {
  for (const objs of [defaults(), custom()]) {
    for (const name of PD_FLAGS) assert.ok(!flags(objs).has(name), `--${name} passed with pd.mode off`);
  }
  const unquoted = valuesFile('pd-off.yaml', 'pd:\n  mode: off\nworkers:\n  dns: w:8000\n');
  const f = flags(render({ files: [unquoted] }));
  assert.deepEqual(f.get('workers-dns'), ['w:8000']);
  assert.ok(!f.has('pd-mode'));
});

test('pd: a PD mode together with workers.urls or workers.dns fails to render with a message', () => {
  renderFails({ files: [PD_SGLANG_VALUES], sets: ['workers.urls[0]=http://vllm-0.vllm:8000'] },
    /pd\.mode sglang routes to pd\.prefill and pd\.decode: leave workers\.dns and workers\.urls empty/);
  renderFails({ files: [PD_VLLM_VALUES], sets: ['workers.dns=vllm-headless.llm.svc.cluster.local:8000'] },
    /pd\.mode vllm routes to pd\.prefill and pd\.decode: leave workers\.dns and workers\.urls empty/);
});

test('pd: a pool without urls or dns, bypassBytes with sglang, pools without a mode and PD keys in config are refused', () => {
  renderFails({ sets: ['pd.mode=sglang', 'pd.decode.urls[0]=http://d:30000'] },
    /pd\.mode sglang needs prefill workers: set pd\.prefill\.urls or pd\.prefill\.dns/);
  renderFails({ sets: ['pd.mode=vllm', 'pd.prefill.dns=p:8000'] },
    /pd\.mode vllm needs decode workers: set pd\.decode\.urls or pd\.decode\.dns/);
  renderFails({ files: [PD_SGLANG_VALUES], sets: ['pd.bypassBytes=512'] }, /pd\.bypassBytes is for pd\.mode vllm/);
  renderFails({ sets: ['pd.prefill.dns=p:8000', 'pd.decode.dns=d:8000'] },
    /pd\.prefill and pd\.decode are used with pd\.mode sglang or vllm/);
  renderFails({ sets: ['pd.mode=dynamo'] }, /pd\.mode/);
  renderFails({ files: [PD_VLLM_VALUES], sets: ['pd.decode.policy=fastest'] }, /policy/);
  renderFails({ sets: ['config.prefill-policy=random'] }, /config\.prefill-policy is set by the chart/);
  renderFails({ sets: ['config.pd-mode=vllm'] }, /config\.pd-mode is set by the chart/);
});

test('custom: a chart-managed setting in config is refused with a message', () => {
  renderFails({ sets: ['config.port=1234'] }, /config\.port is set by the chart/);
});

test('custom: colliding ports are refused', () => {
  renderFails({ sets: ['ports.admin=8000'] }, /must differ/);
});

test('custom: more than 64 replicas are refused by the values schema', () => {
  renderFails({ sets: ['autoscaling.enabled=true', 'autoscaling.maxReplicas=100'] }, /maxReplicas/);
});

test('custom: the NetworkPolicy opens the mesh port only to router pods and admin only to metricsFrom', () => {
  const objs = render({ sets: ['networkPolicy.enabled=true', 'admin.expose=true',
    'networkPolicy.metricsFrom[0].namespaceSelector.matchLabels.name=monitoring'] });
  const np = one(objs, 'NetworkPolicy');
  assert.ok(selects(np.spec.podSelector.matchLabels, podLabels(objs)));
  assert.deepEqual(np.spec.policyTypes, ['Ingress']);
  const rule = (port) => {
    const r = np.spec.ingress.filter((i) => i.ports.some((p) => p.port === Number(port)));
    assert.equal(r.length, 1, `expected one ingress rule for port ${port}`);
    return r[0];
  };
  assert.equal(rule(flag(objs, 'port')).from, undefined, 'data port should be open to any client by default');
  const mesh = rule(flag(objs, 'mesh-port')).from;
  assert.equal(mesh.length, 1);
  assert.ok(selects(mesh[0].podSelector.matchLabels, podLabels(objs)));
  assert.deepEqual(rule(flag(objs, 'admin-port')).from,
    [{ namespaceSelector: { matchLabels: { name: 'monitoring' } } }]);
  assert.equal(np.spec.ingress.length, 3);
  assert.equal(ofKind(defaults(), 'NetworkPolicy').length, 0);
});

// NOTES.txt is not printed by `helm template`: render a copy of the chart in
// which it is wrapped as a YAML block scalar.
function renderNotes(sets) {
  const copy = fs.mkdtempSync(path.join(tmp, 'notes-'));
  fs.cpSync(CHART, copy, { recursive: true });
  const notes = fs.readFileSync(path.join(copy, 'templates', 'NOTES.txt'), 'utf8');
  fs.rmSync(path.join(copy, 'templates', 'NOTES.txt'));
  fs.writeFileSync(path.join(copy, 'templates', 'notes-as-yaml.yaml'),
    'notes: |\n' + notes.split('\n').map((l) => '  ' + l).join('\n') + '\n');
  const args = ['template', 'rm', copy, '--namespace', 'llm', '--show-only', 'templates/notes-as-yaml.yaml'];
  for (const s of sets) args.push('--set', s);
  return YAML.parse(helm(args)).notes;
}

test('NOTES.txt: names the client Service, warns without workers, shows the token path when exposed', () => {
  const plain = renderNotes([]);
  assert.match(plain, /http:\/\/rm-radixmesh\.llm\.svc\.cluster\.local:8000\/v1/);
  assert.match(plain, /WARNING: no workers configured/);
  assert.match(plain, /exec rm-radixmesh-0 -- radixmesh-ctl status/);
  const exposed = renderNotes(['workers.dns=w:8000', 'metrics.serviceMonitor.enabled=true']);
  assert.doesNotMatch(exposed, /WARNING/);
  assert.match(exposed, /--token "\$\(cat \/etc\/radixmesh\/admin\/admin-token\)"/);
  assert.match(renderNotes(['mesh.enabled=false', 'workers.urls={http://w:1}']), /Mesh disabled/);
});

test('NOTES.txt: with a PD mode names both pools and does not warn about missing workers', () => {
  const notes = renderNotes(['pd.mode=vllm', 'pd.prefill.dns=p.llm:8000', 'pd.decode.urls={http://d-0:8000}']);
  assert.doesNotMatch(notes, /WARNING/);
  assert.match(notes, /Prefill\/decode \(vllm\): prefill workers from p\.llm:8000\s+\(policy cache_aware\), decode workers from http:\/\/d-0:8000\s+\(policy least_load\)/);
});

// ---------------------------------------------------------------- install and upgrade

// A stub Kubernetes API server on loopback, just enough for `helm install`
// and `helm upgrade` (discovery, get/list/create/replace; patches leave the
// stored object as it is). `lookup` only talks to a cluster outside dry runs,
// so this is how the "generated once, kept across upgrades" Secrets are tested.
const STUB_RESOURCES = {
  v1: [['secrets', 'Secret'], ['services', 'Service'], ['configmaps', 'ConfigMap'],
    ['serviceaccounts', 'ServiceAccount']],
  'apps/v1': [['statefulsets', 'StatefulSet']],
  'policy/v1': [['poddisruptionbudgets', 'PodDisruptionBudget']],
  'autoscaling/v2': [['horizontalpodautoscalers', 'HorizontalPodAutoscaler']],
  'networking.k8s.io/v1': [['networkpolicies', 'NetworkPolicy']],
};

async function startStubApiServer() {
  const store = new Map();  // "<ns>/<resource>/<name>" -> object
  const send = (res, code, body) => {
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const notFound = (res, name) => send(res, 404, { kind: 'Status', apiVersion: 'v1', status: 'Failure',
    reason: 'NotFound', code: 404, message: `${name} not found`, details: { name } });
  const resourceList = (gv) => ({ kind: 'APIResourceList', apiVersion: 'v1', groupVersion: gv,
    resources: STUB_RESOURCES[gv].map(([name, kind]) => ({ name, singularName: kind.toLowerCase(),
      namespaced: true, kind, verbs: ['create', 'delete', 'get', 'list', 'patch', 'update'] })) });
  const matches = (obj, selector) => !selector || selector.split(',').every((kv) => {
    const [k, v] = kv.split('=');
    return (obj.metadata.labels ?? {})[k] === v;
  });
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; if (body.length > 16 << 20) req.destroy(); });
    req.on('end', () => {
      const url = new URL(req.url, 'http://stub');
      const p = url.pathname;
      if (p === '/version') return send(res, 200, { major: '1', minor: '27', gitVersion: 'v1.27.0' });
      if (p === '/api') return send(res, 200, { kind: 'APIVersions', versions: ['v1'] });
      if (p === '/apis') {
        return send(res, 200, { kind: 'APIGroupList', apiVersion: 'v1',
          groups: Object.keys(STUB_RESOURCES).filter((gv) => gv.includes('/')).map((gv) => {
            const [group, version] = gv.split('/');
            return { name: group, versions: [{ groupVersion: gv, version }],
              preferredVersion: { groupVersion: gv, version } };
          }) });
      }
      if (p === '/api/v1') return send(res, 200, resourceList('v1'));
      const g = p.match(/^\/apis\/([^/]+\/[^/]+)$/);
      if (g && STUB_RESOURCES[g[1]]) return send(res, 200, resourceList(g[1]));
      const m = p.match(/^\/(?:api\/v1|apis\/[^/]+\/[^/]+)\/namespaces\/([^/]+)\/([^/]+)(?:\/([^/]+))?$/);
      if (!m) return notFound(res, p);
      const [, ns, resource, name] = m;
      const key = `${ns}/${resource}/${name}`;
      if (req.method === 'GET' && !name) {
        const items = [...store.entries()].filter(([k]) => k.startsWith(`${ns}/${resource}/`))
          .map(([, v]) => v).filter((o) => matches(o, url.searchParams.get('labelSelector')));
        // Typed clients decode by kind: a list of Secrets must say SecretList.
        const kind = Object.values(STUB_RESOURCES).flat().find(([r]) => r === resource)?.[1] ?? '';
        const apiVersion = p.startsWith('/api/v1/') ? 'v1' : p.split('/').slice(2, 4).join('/');
        return send(res, 200, { kind: `${kind}List`, apiVersion, metadata: { resourceVersion: '1' }, items });
      }
      if (req.method === 'GET' || req.method === 'PATCH') {
        return store.has(key) ? send(res, 200, store.get(key)) : notFound(res, name);
      }
      if (req.method === 'POST' || req.method === 'PUT') {
        const obj = JSON.parse(body);
        obj.metadata.resourceVersion = '1';
        store.set(`${ns}/${resource}/${obj.metadata.name}`, obj);
        return send(res, req.method === 'POST' ? 201 : 200, obj);
      }
      if (req.method === 'DELETE') {
        store.delete(key);
        return send(res, 200, { kind: 'Status', apiVersion: 'v1', status: 'Success' });
      }
      return notFound(res, p);
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const home = fs.mkdtempSync(path.join(tmp, 'kube-'));
  const kubeconfig = path.join(home, 'config');
  fs.writeFileSync(kubeconfig, [
    'apiVersion: v1', 'kind: Config',
    `clusters: [{name: stub, cluster: {server: "http://127.0.0.1:${server.address().port}"}}]`,
    'users: [{name: stub, user: {}}]',
    'contexts: [{name: stub, context: {cluster: stub, user: stub, namespace: default}}]',
    'current-context: stub', ''].join('\n'), { mode: 0o600 });
  const env = { PATH: process.env.PATH, HOME: home, KUBECONFIG: kubeconfig,
    HELM_CACHE_HOME: path.join(home, 'cache'), HELM_CONFIG_HOME: path.join(home, 'config.d'),
    HELM_DATA_HOME: path.join(home, 'data') };
  const run = (args) => new Promise((resolve, reject) => {
    if (!fs.existsSync(HELM)) reject(new Error(`helm binary not found at ${path.relative(ROOT, HELM)}`));
    execFile(HELM, [...args, '--disable-openapi-validation'], { env, timeout: HELM_TIMEOUT_MS },
      (e, stdout, stderr) => (e ? reject(new Error(`helm ${args.join(' ')} failed:\n${stdout}${stderr}`))
        : resolve(stdout)));
  });
  // The manifest helm recorded for a release revision (storage driver: Secrets).
  const manifest = (release, revision) => {
    const rec = store.get(`default/secrets/sh.helm.release.v1.${release}.v${revision}`);
    assert.ok(rec, `no release record for ${release} v${revision}`);
    const gz = Buffer.from(Buffer.from(rec.data.release, 'base64').toString(), 'base64');
    return YAML.parseAllDocuments(JSON.parse(zlib.gunzipSync(gz)).manifest).map((d) => d.toJS()).filter(Boolean);
  };
  return { store, run, manifest, close: () => new Promise((r) => server.close(r)) };
}

const secretValue = (objs, name, key) => {
  const s = one(objs, 'Secret', (x) => x.metadata.name === name);
  return Buffer.from(s.data[key], 'base64').toString();
};

test('install then upgrade (stub API server): generated mesh key and admin token are kept', async () => {
  const api = await startStubApiServer();
  try {
    const sets = ['--set', 'admin.expose=true'];
    await api.run(['install', 'rm', CHART, '--namespace', 'default', ...sets]);
    const v1 = api.manifest('rm', 1);
    const mesh1 = secretValue(v1, 'rm-radixmesh-mesh', 'mesh-secret');
    const admin1 = secretValue(v1, 'rm-radixmesh-admin', 'admin-token');
    assert.ok(mesh1.length >= 32 && admin1.length >= 32);
    assert.ok(api.store.has('default/secrets/rm-radixmesh-mesh'), 'install did not create the mesh Secret');

    await api.run(['upgrade', 'rm', CHART, '--namespace', 'default', ...sets, '--set', 'config.policy=cost']);
    const v2 = api.manifest('rm', 2);
    assert.equal(JSON.parse(one(v2, 'ConfigMap').data['config.json']).policy, 'cost', 'the upgrade did not apply');
    assert.equal(secretValue(v2, 'rm-radixmesh-mesh', 'mesh-secret'), mesh1, 'upgrade changed the mesh key');
    assert.equal(secretValue(v2, 'rm-radixmesh-admin', 'admin-token'), admin1, 'upgrade changed the admin token');

    // A key given in values still wins over the stored one.
    await api.run(['upgrade', 'rm', CHART, '--namespace', 'default', ...sets, '--set', 'mesh.secret.value=rotated-key-0123456789']);
    assert.equal(secretValue(api.manifest('rm', 3), 'rm-radixmesh-mesh', 'mesh-secret'), 'rotated-key-0123456789');
  } finally {
    await api.close();
  }
});

// ---------------------------------------------------------------- the real daemon

const DAEMON = path.join(path.resolve(ROOT, process.env.RADIXMESH_BUILD ?? 'build'), 'router', 'radixmesh');

// Runs the daemon with the rendered container args and --print-config: the
// mounted files are materialised in a scratch dir (ConfigMap JSON, Secret
// values) and the downward-API variables substituted as the kubelet would.
// The variables the kubelet injects for every Service with a cluster IP in
// the pod's namespace unless the pod sets enableServiceLinks: false.
function serviceLinkEnv(objs) {
  if (podSpec(objs).enableServiceLinks === false) return {};
  const env = {};
  ofKind(objs, 'Service').filter((s) => s.spec.clusterIP !== 'None').forEach((s, i) => {
    const name = s.metadata.name.toUpperCase().replace(/-/g, '_');
    const ip = `10.96.0.${i + 10}`;
    const p = s.spec.ports[0];
    env[`${name}_SERVICE_HOST`] = ip;
    env[`${name}_SERVICE_PORT`] = String(p.port);
    env[`${name}_PORT`] = `tcp://${ip}:${p.port}`;
    env[`${name}_PORT_${p.port}_TCP`] = `tcp://${ip}:${p.port}`;
    env[`${name}_PORT_${p.port}_TCP_PORT`] = String(p.port);
  });
  return env;
}

function daemonConfig(objs, podName, podIP = '10.1.2.3') {
  assert.ok(fs.existsSync(DAEMON), `${path.relative(ROOT, DAEMON)} not built: run tools/dev/build ` +
    '(or set RADIXMESH_BUILD to a build directory)');
  const dir = fs.mkdtempSync(path.join(tmp, 'pod-'));
  const c = container(objs);
  const mountDirs = new Map();
  for (const m of c.volumeMounts) {
    const local = path.join(dir, m.name);
    fs.mkdirSync(local);
    mountDirs.set(m.mountPath, local);
    const vol = podSpec(objs).volumes.find((v) => v.name === m.name);
    let data = {};
    if (vol.configMap) {
      data = one(objs, 'ConfigMap', (x) => x.metadata.name === vol.configMap.name).data;
    } else if (vol.secret) {
      const sec = objs.find((x) => x.kind === 'Secret' && x.metadata.name === vol.secret.secretName);
      // An existingSecret is not rendered: stand in for it.
      const raw = sec ? sec.data : Object.fromEntries(vol.secret.items.map((i) => [i.key,
        Buffer.from('stand-in-for-an-existing-secret-value').toString('base64')]));
      data = Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]));
    }
    for (const [k, v] of Object.entries(data)) fs.writeFileSync(path.join(local, k), v);
  }
  const env = { POD_NAME: podName, POD_IP: podIP, POD_NAMESPACE: 'ns' };
  const processEnv = { PATH: process.env.PATH, ...serviceLinkEnv(objs) };
  const args = c.args.map((a) => {
    const s = String(a).replace(/\$\((\w+)\)/g, (_, v) => env[v] ?? `$(${v})`);
    const eq = s.indexOf('=');
    const value = s.slice(eq + 1);
    for (const [mount, local] of mountDirs) {
      if (eq > 0 && value.startsWith(mount + '/')) return `${s.slice(0, eq)}=${local}${value.slice(mount.length)}`;
    }
    return s;
  });
  let out;
  try {
    out = execFileSync(DAEMON, [...args, '--print-config'], {
      encoding: 'utf8', timeout: 20_000, stdio: ['ignore', 'pipe', 'pipe'],
      env: processEnv,
    });
  } catch (e) {
    throw new Error(`radixmesh refused the chart's command line:\n${args.join(' ')}\n${e.stderr ?? e.message}`);
  }
  return JSON.parse(out);
}

test('daemon: accepts the default chart command line and config file (--print-config)', () => {
  const cfg = daemonConfig(defaults(), 'rm-radixmesh-0');
  assert.equal(cfg['node-id'], 'rm-radixmesh-0');
  assert.equal(cfg.port, 8000);
  assert.equal(cfg['admin-host'], '127.0.0.1');
  assert.equal(cfg['mesh-port'], 7946);
  assert.equal(cfg['mesh-advertise'], '10.1.2.3:7946');
  assert.equal(cfg['peers-dns'], 'rm-radixmesh-mesh.default.svc.cluster.local:7946');
  assert.equal(cfg.policy, 'cache_aware');
  assert.equal(cfg['memory-budget-bytes'], 536870912);
});

test('daemon: accepts the non-default chart command line and config file (--print-config)', () => {
  const cfg = daemonConfig(custom(), 'edge-3');
  assert.equal(cfg.port, 8080);
  assert.equal(cfg['admin-host'], '0.0.0.0');
  assert.equal(cfg['admin-port'], 9100);
  assert.equal(cfg.policy, 'cost');
  assert.equal(cfg['cost-load-weight'], 0.8);
  assert.equal(cfg['block-bytes'], 128);
  assert.equal(cfg['workers-dns'], 'vllm-headless.inference.svc.cluster.local:8000');
  assert.deepEqual(cfg.worker ?? cfg.workers, ['http://10.0.0.5:8000', 'http://10.0.0.6:8000']);
  assert.equal(cfg['default-model'], 'llama-3-8b');
});

test('daemon: accepts the access flags with the mounted keys file (--print-config)', () => {
  const cfg = daemonConfig(access(), 'rm-radixmesh-0');
  assert.match(cfg['api-keys-file'], /\/keys\.txt$/);
  assert.equal(cfg['api-keys-poll-ms'], 500);
  assert.equal(cfg['forward-authorization'], true);
  assert.equal(cfg['rate-limit-rps'], 2.5);
  assert.equal(cfg['rate-limit-burst'], 10);
  assert.equal(cfg['max-in-flight-per-worker'], 4);
  assert.equal(cfg['max-queue'], 16);
  assert.equal(cfg['queue-timeout-ms'], 2000);
});

test('daemon: accepts the sglang PD command line: both pools, the bootstrap ports, no workers (--print-config)', () => {
  const cfg = daemonConfig(pdSglang(), 'rm-radixmesh-0');
  assert.equal(cfg['pd-mode'], 'sglang');
  assert.deepEqual(cfg.prefill, ['http://sglang-prefill-0.sglang-prefill:30000?bootstrap_port=9001',
    'http://sglang-prefill-1.sglang-prefill:30000']);
  assert.equal(cfg['prefill-bootstrap-port'], 8999);
  assert.equal(cfg['prefill-policy'], 'cache_aware');
  assert.deepEqual(cfg.decode, ['http://sglang-decode-0.sglang-decode:30000',
    'http://sglang-decode-1.sglang-decode:30000']);
  assert.equal(cfg['decode-policy'], 'power_of_two');
  assert.equal(cfg['pd-bypass-bytes'], 0);
  assert.deepEqual(cfg.worker, []);
  assert.equal(cfg['workers-dns'], '');
});

test('daemon: accepts the vllm PD command line with DNS pools and bypass bytes (--print-config)', () => {
  const cfg = daemonConfig(pdVllm(), 'rm-radixmesh-0');
  assert.equal(cfg['pd-mode'], 'vllm');
  assert.equal(cfg['prefill-dns'], 'vllm-prefill.llm.svc.cluster.local:8000');
  assert.equal(cfg['decode-dns'], 'vllm-decode.llm.svc.cluster.local:8000');
  assert.deepEqual([cfg.prefill, cfg.decode], [[], []]);
  assert.equal(cfg['prefill-policy'], 'consistent_hash');
  assert.equal(cfg['decode-policy'], 'least_load');
  assert.equal(cfg['pd-bypass-bytes'], 2048);
});

test('daemon: starts in a release named radixmesh (service links would inject RADIXMESH_PORT=tcp://...)', () => {
  const objs = render({ release: 'radixmesh', sets: ['admin.expose=true'] });
  assert.equal(clientService(objs).metadata.name, 'radixmesh');
  assert.equal(podSpec(objs).enableServiceLinks, false);
  const cfg = daemonConfig(objs, 'radixmesh-0');
  assert.equal(cfg.port, 8000);
  assert.equal(cfg['admin-port'], 9000);
});

test('daemon: accepts the advertised address of an IPv6 pod', () => {
  const cfg = daemonConfig(render({ sets: ['mesh.ipFamily=IPv6'] }), 'rm-radixmesh-1', 'fd00:10::5');
  assert.equal(cfg['mesh-advertise'], '[fd00:10::5]:7946');
});

// ---------------------------------------------------------------- documentation

// values.yaml keys documented with a "# -- " comment, as dotted paths. A key
// whose value is a block (a map or list written out below it) is documented
// as a whole; its children need no comment of their own.
function documentedValues() {
  const lines = fs.readFileSync(path.join(CHART, 'values.yaml'), 'utf8').split('\n');
  const documented = [];
  const undocumented = [];
  const stack = [];
  let comment = [];
  let skipIndent = -1;
  for (const line of lines) {
    const t = line.trim();
    if (t.startsWith('#')) { comment.push(t.slice(1).trim()); continue; }
    const m = line.match(/^(\s*)([\w.-]+):(.*)$/);
    if (!m) { if (!t) comment = []; continue; }
    const indent = m[1].length;
    if (skipIndent >= 0 && indent > skipIndent) continue;
    skipIndent = -1;
    while (stack.length && stack[stack.length - 1].indent >= indent) stack.pop();
    stack.push({ indent, key: m[2] });
    const p = stack.map((s) => s.key).join('.');
    if (comment.length && comment[0].startsWith('-- ')) {
      documented.push(p);
      if (!m[3].trim()) skipIndent = indent;
    } else if (!comment.length) {
      undocumented.push(p);
    }
    comment = [];
  }
  return { documented, undocumented };
}

test('docs: every values.yaml key carries a comment', () => {
  const { documented, undocumented } = documentedValues();
  assert.ok(documented.length > 40, `only ${documented.length} documented keys found`);
  assert.deepEqual(undocumented, [], 'keys without a comment line above them');
});

test('docs: the chart README lists every documented value and no stale ones', () => {
  const readme = fs.readFileSync(path.join(CHART, 'README.md'), 'utf8');
  const { documented } = documentedValues();
  const rows = [...readme.matchAll(/^\| `([\w.-]+)` \|/gm)].map((m) => m[1]);
  for (const k of documented) {
    assert.ok(rows.includes(k), `README.md has no row for ${k} (regenerate: python3 helm/values_table.py)`);
  }
  for (const k of rows) assert.ok(documented.includes(k), `README.md documents ${k}, which values.yaml lacks`);
});

// ---------------------------------------------------------------- Dockerfile

function dockerfile() {
  assert.ok(fs.existsSync(DOCKERFILE), 'helm/Dockerfile is missing');
  return fs.readFileSync(DOCKERFILE, 'utf8').replace(/\\\n/g, ' ');
}

test('Dockerfile: multi-stage on Debian 12, runtime stage ships radixmesh and radixmesh-ctl', () => {
  const text = dockerfile();
  const froms = [...text.matchAll(/^FROM\s+(\S+)/gm)].map((m) => m[1]);
  assert.ok(froms.length >= 2, 'not a multi-stage build');
  assert.match(text, /ARG DEBIAN_RELEASE=bookworm/);
  for (const f of froms) assert.match(f, /^debian:(\$\{DEBIAN_RELEASE\}|bookworm)/);
  assert.match(text, /ENTRYPOINT \["\/usr\/local\/bin\/radixmesh"\]/);
  assert.match(text, /build\/router\/radixmesh /);
  assert.match(text, /build\/tools\/ctl\/radixmesh-ctl /);
  assert.match(text, /COPY --from=build \S+ \/usr\/local\/bin\//);
});

test('Dockerfile: EXPOSEs the chart default ports and runs as the chart user', () => {
  const text = dockerfile();
  const values = YAML.parse(fs.readFileSync(path.join(CHART, 'values.yaml'), 'utf8'));
  const exposed = [...text.matchAll(/^EXPOSE\s+(.+)$/gm)].flatMap((m) => m[1].trim().split(/\s+/)).map(Number);
  assert.deepEqual(exposed.sort(), [values.ports.data, values.ports.admin, values.ports.mesh].sort());
  const user = text.match(/^USER\s+(\d+)(?::(\d+))?\s*$/m);
  assert.ok(user, 'USER must be numeric so runAsNonRoot can verify it');
  assert.equal(Number(user[1]), values.securityContext.runAsUser);
  assert.notEqual(Number(user[1]), 0);
});

test('Dockerfile: the build stage installs every package tools/dev/install-deps lists', () => {
  const deps = fs.readFileSync(path.join(ROOT, 'tools', 'dev', 'install-deps'), 'utf8');
  const m = deps.match(/APT_PACKAGES=\(([^)]*)\)/);
  assert.ok(m, 'APT_PACKAGES not found in tools/dev/install-deps');
  const want = m[1].split(/\s+/).filter(Boolean);
  const build = dockerfile().split(/^FROM /m).find((s) => /AS build/.test(s));
  assert.ok(build, 'no stage named build');
  for (const p of want) assert.match(build, new RegExp(`\\s${p.replace(/[.+]/g, '\\$&')}\\s`), `build stage lacks ${p}`);
});

// Packages already in debian:bookworm-slim (apt itself depends on them).
const BASE_IMAGE_PACKAGES = new Set(['libc6', 'libgcc-s1', 'libstdc++6']);

function debianPackageOf(file) {
  for (const p of [file, fs.realpathSync(file)]) {
    try {
      const out = execFileSync('dpkg', ['-S', p], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      return out.split('\n')[0].split(':')[0];
    } catch { /* try the resolved path */ }
  }
  return null;
}

test('Dockerfile: the runtime stage installs the package of every shared library the built binaries link', () => {
  assert.ok(fs.existsSync(DAEMON), `${path.relative(ROOT, DAEMON)} not built: run tools/dev/build`);
  const bins = [DAEMON, path.join(path.dirname(DAEMON), '..', 'tools', 'ctl', 'radixmesh-ctl')]
    .filter((b) => fs.existsSync(b));
  const runtime = dockerfile().split(/^FROM /m).find((x) => /AS runtime/.test(x));
  assert.ok(runtime, 'no stage named runtime');
  for (const bin of bins) {
    const ldd = execFileSync('ldd', [bin], { encoding: 'utf8', timeout: 10_000 });
    assert.doesNotMatch(ldd, /not found/);
    const libs = [...ldd.matchAll(/=>\s+(\/\S+)/g)].map((m) => m[1]);
    assert.ok(libs.length > 3, `ldd listed only ${libs.length} libraries`);
    for (const lib of libs) {
      const pkg = debianPackageOf(lib);
      assert.ok(pkg, `no Debian package owns ${lib}`);
      if (BASE_IMAGE_PACKAGES.has(pkg)) continue;
      assert.match(runtime, new RegExp(`\\s${pkg.replace(/[.+]/g, '\\$&')}\\s`),
        `${path.basename(bin)} links ${path.basename(lib)} from ${pkg}, which the runtime stage does not install`);
    }
  }
});
