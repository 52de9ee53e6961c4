// Benchmark of action-deploy-ssh (not a test): in one run, under a steady load through the lab's
// VPN (80 req/s from 8 clients, half keep-alive, half a new connection per request) against the
// public port of the lab target, the real app goes v1 → v2 with
//   (a) blue-green (the action's dist, managed nginx proxy),
//   (b) recreate (the action's dist),
//   (c) the hand-written `docker pull && docker stop && docker rm && docker run` of ORIGINS.md (2),
//       over the ssh CLI with the lab's deploy key and known_hosts file,
// then blue-green's `rollback: true` back to v1. For each: failed requests / total and p99 latency
// while the step ran, and its wall time. Prints a table, writes bench/results/deploy.json.
// Run: npm run bench:deploy (the lab must be up).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type Docker from 'dockerode';
import { RunnerJob, type ActionRun } from '../../packages/harness/src/index.ts';
import { openDockerOverSsh, openSsh } from '../../packages/kit/src/ssh/index.ts';
import { readLabState } from '../../lab/src/state.ts';
import { startLoad, summarize, type LoadRun, type LoadSummary } from '../../lab/src/testing/load.ts';
import { connectLabVpn } from '../../lab/src/testing/vpn.ts';
import { buildAndPushAppImage } from '../../test/support/app-image.ts';

const RATE = Number(process.env['BENCH_RATE'] ?? 80);
const CLIENTS = Number(process.env['BENCH_CLIENTS'] ?? 8);
const RESULTS = path.resolve(import.meta.dirname, '../results/deploy.json');
const ACTION_DIR = path.resolve(import.meta.dirname, '../../action-deploy-ssh');
const lab = readLabState();
const t = lab.target;
const suffix = randomBytes(3).toString('hex');
const privateKey = fs.readFileSync(t.privateKeyFile, 'utf8');

interface Row {
  what: string;
  failed: number;
  total: number;
  p99Ms: number;
  maxMs: number;
  wallMs: number;
  errors: Record<string, number>;
  versions: Record<string, number>;
}

function inputs(app: string, port: number, extra: Record<string, string>): Record<string, string> {
  return {
    host: t.sshHost,
    username: t.username,
    'private-key': privateKey,
    'known-hosts': t.knownHosts,
    'docker-socket': t.dockerSocket,
    app,
    'container-port': '8080',
    publish: String(port),
    volumes: `${app}-data:/data`,
    env: 'LOG_LEVEL=warn',
    'registry-username': lab.registry.username,
    'registry-password': lab.registry.password,
    'readiness-timeout': '2m',
    ...extra,
  };
}

async function action(values: Record<string, string>): Promise<ActionRun> {
  const job = new RunnerJob();
  try {
    const run = await job.main(ACTION_DIR, { inputs: values, timeoutMs: 300_000 });
    await job.post(ACTION_DIR, { inputs: values, timeoutMs: 60_000 });
    if (run.exitCode !== 0) throw new Error(`the deploy failed:\n${run.log.split('\n').slice(-30).join('\n')}`);
    return run;
  } finally {
    job.cleanup();
  }
}

/** The hand-written way: one shell line over the ssh CLI (credentials in a throw-away DOCKER_CONFIG, password on stdin). */
function sshScript(script: string, stdin: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('ssh', ['-i', t.privateKeyFile, '-o', `UserKnownHostsFile=${t.knownHostsFile}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', `${t.username}@${t.sshHost}`, script], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    child.stdin.end(stdin);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`ssh exited ${code}: ${out}`))));
  });
}

function handWritten(name: string, port: number, image: string, first: boolean): string {
  const d = `docker -H unix://${t.dockerSocket}`;
  const run = `${d} run -d --name ${name} --restart unless-stopped -p ${port}:8080 -v ${name}-data:/data -e LOG_LEVEL=warn ${image}`;
  const swap = first ? run : `${d} pull ${image} && ${d} stop ${name} && ${d} rm ${name} && ${run}`;
  return `set -e; export DOCKER_CONFIG=$(mktemp -d); trap 'rm -rf "$DOCKER_CONFIG"' EXIT; ${d} login -u ${lab.registry.username} --password-stdin ${lab.registry.host} >/dev/null 2>&1; ${first ? `${d} pull ${image} >/dev/null; ` : ''}${swap} >/dev/null`;
}

async function waitForVersion(port: number, version: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`http://${t.address}:${port}/version`, { signal: AbortSignal.timeout(2000) });
      if (res.ok && ((await res.json()) as { version?: string }).version === version) return;
    } catch {
      // not yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`port ${port} did not serve ${version} within ${timeoutMs} ms`);
}

/** Runs `step` under the load on `port` (2 s of load before and after); the row covers the step's own window. */
async function underLoad(what: string, port: number, step: () => Promise<unknown>): Promise<Row> {
  const load: LoadRun = startLoad({ host: t.address, port, rate: RATE, clients: CLIENTS, maxMs: 300_000 });
  await new Promise((r) => setTimeout(r, 2000));
  const from = load.now();
  await step();
  const to = load.now();
  await new Promise((r) => setTimeout(r, 2000));
  const samples = await load.stop();
  // The window: from the step's start until 2 s after it (a hand-written run returns before the app is ready).
  const s: LoadSummary = summarize(samples, from, to + 2000);
  return { what, failed: s.failed, total: s.total, p99Ms: s.p99, maxMs: s.max, wallMs: Math.round(to - from), errors: s.errors, versions: s.versions };
}

const vpn = await connectLabVpn(lab.vpn.configFile);
const session = await openSsh({ host: t.sshHost, port: t.sshPort, username: t.username, privateKey, trust: { kind: 'fingerprint', fingerprint: t.fingerprint } }, { connectTimeoutMs: 10_000 });
const target: Docker = (await openDockerOverSsh(session.client, t.dockerSocket)).docker;
const apps = { bg: `bench-bg-${suffix}`, rc: `bench-rc-${suffix}`, hw: `bench-hw-${suffix}` };
const ports = { bg: 19500 + Math.floor(Math.random() * 30), rc: 19540 + Math.floor(Math.random() * 30), hw: 19580 + Math.floor(Math.random() * 30) };
const rows: Row[] = [];
try {
  const sha = randomBytes(20).toString('hex');
  console.log('building and pushing the app image v1 and v2 (action-build)…');
  const v1 = await buildAndPushAppImage(lab, { tag: `bench-deploy-v1`, version: 'v1', gitSha: sha });
  const v2 = await buildAndPushAppImage(lab, { tag: `bench-deploy-v2`, version: 'v2', gitSha: sha });

  console.log('(a) blue-green');
  await action(inputs(apps.bg, ports.bg, { image: v1.imageRef }));
  await waitForVersion(ports.bg, 'v1');
  rows.push(await underLoad('blue-green v1 → v2', ports.bg, () => action(inputs(apps.bg, ports.bg, { image: v2.imageRef }))));
  rows.push(await underLoad('blue-green rollback: true (→ v1)', ports.bg, () => action(inputs(apps.bg, ports.bg, { rollback: 'true' }))));

  console.log('(b) recreate');
  await action(inputs(apps.rc, ports.rc, { image: v1.imageRef, strategy: 'recreate' }));
  await waitForVersion(ports.rc, 'v1');
  rows.push(await underLoad('recreate v1 → v2', ports.rc, () => action(inputs(apps.rc, ports.rc, { image: v2.imageRef, strategy: 'recreate' }))));
  rows.push(await underLoad('recreate rollback: true (→ v1)', ports.rc, () => action(inputs(apps.rc, ports.rc, { rollback: 'true', strategy: 'recreate' }))));

  console.log('(c) hand-written docker pull && stop && rm && run over ssh');
  await sshScript(handWritten(apps.hw, ports.hw, v1.imageRef, true), `${lab.registry.password}\n`);
  await waitForVersion(ports.hw, 'v1');
  rows.push(await underLoad('hand-written v1 → v2', ports.hw, async () => {
    await sshScript(handWritten(apps.hw, ports.hw, v2.imageRef, false), `${lab.registry.password}\n`);
    await waitForVersion(ports.hw, 'v2');
  }));
} finally {
  for (const app of Object.values(apps)) {
    const list = await target.listContainers({ all: true, filters: { label: [`gangway.app=${app}`] } }).catch(() => []);
    for (const c of list) await target.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
    await target.getContainer(app).remove({ force: true }).catch(() => undefined);
    for (const v of [`${app}-data`]) await target.getVolume(v).remove().catch(() => undefined);
    await target.getNetwork(`${app}-net`).remove().catch(() => undefined);
  }
  session.close();
  await vpn.stop();
}

const pad = (s: string, n: number): string => s.padEnd(n);
console.log(`\nsteady load ${RATE} req/s from ${CLIENTS} clients (half keep-alive) through the VPN; window = the step + 2 s\n`);
console.log(`| ${pad('deploy', 34)} | failed / total | p99 ms | max ms | wall time |`);
console.log(`| ${'-'.repeat(34)} | -------------- | ------ | ------ | --------- |`);
for (const r of rows) console.log(`| ${pad(r.what, 34)} | ${pad(`${r.failed} / ${r.total}`, 14)} | ${pad(String(r.p99Ms), 6)} | ${pad(String(r.maxMs), 6)} | ${pad(`${(r.wallMs / 1000).toFixed(1)} s`, 9)} |`);
fs.mkdirSync(path.dirname(RESULTS), { recursive: true });
fs.writeFileSync(RESULTS, `${JSON.stringify({ at: new Date().toISOString(), rate: RATE, clients: CLIENTS, rows }, null, 2)}\n`);
console.log(`\nwrote ${RESULTS}`);
// ssh2's and the load's sockets may keep the loop alive a while: the figures are written, end here.
process.exit(0);
