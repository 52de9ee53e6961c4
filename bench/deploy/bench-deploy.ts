// Benchmark of action-deploy-ssh (not a test): in one run, under a steady load through the lab's
// VPN (80 req/s from 8 clients, half keep-alive, half a new connection per request) against the
// public port of the lab target, the real app goes v1 → v2 and back with
//   (a) blue-green (the action's dist, managed nginx proxy): v1 → v2, `rollback: true` from a
//       stopped v1 (cold), and, after a deploy with a standby window, from a running v1 (warm);
//   (b) the hand-written `docker pull && docker stop && docker rm && docker run` of ORIGINS.md (2),
//       over the ssh CLI with the lab's deploy key and known_hosts file, and its re-run of the old
//       tag (the hand-written rollback);
//   (c) recreate (the action's dist), v1 → v2 and back;
//   (f) interleaved pairs: blue-green and the hand-written sequence, each on an app of its own, each
//       round moving both to the other version, the order alternating from round to round: one
//       pair is as noisy as the machine, the median of their ratios is not.
// For each: failed requests / total and p99 latency in the step's window, the step's wall time, the
// time until every request is answered by the version the step moves to, and the action's phases.
// Then (d) the host curve: v1 → v2 on 1, 2, 3 … of the lab's targets at once (canary: false,
// max-parallel = the host count), no load; and (e) action start to first SSH byte against a
// loopback listener, beside bare node. Ratios compare figures of this same run. Prints tables,
// writes bench/results/deploy.json. Run: npm run bench:deploy (the lab must be up).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readActionMetadata } from '../../packages/harness/src/index.ts';
import { readLabState } from '../../lab/src/state.ts';
import { buildAndPushAppImage } from '../../test/support/app-image.ts';
import { reachLabTarget, type LabTargetLink } from '../../action-deploy-ssh/test/lab-runs.ts';
import { measureFirstByte } from './first-byte.ts';
import { ACTION_DIR, runAction, timed, underLoad as stepUnderLoad, waitForVersion as waitForTargetVersion, type LoadShape, type StepRun } from './steps.ts';
import { DEPLOY_FIGURES, deployRatios, pairOf, ROW, type CurvePoint, type DeployBenchResults, type FirstByte, type Pair, type Row } from './readme-figures.ts';
import { writeBlock } from '../../test/support/readme-block.ts';

const ALL_PARTS = 'abcdef';
const RATE = Number(process.env['BENCH_RATE'] ?? 80);
const CLIENTS = Number(process.env['BENCH_CLIENTS'] ?? 8);
/** The second, light load on /readyz (2 clients), which tells when the new version is ready, not only answering. */
const READY_RATE = Number(process.env['BENCH_READY_RATE'] ?? 10);
const STANDBY = process.env['BENCH_STANDBY'] ?? '10m';
const FIRST_BYTE_ROUNDS = Number(process.env['BENCH_FIRST_BYTE_ROUNDS'] ?? 10);
/** Which parts run (a to f, see above): all by default; a partial run prints its tables but leaves the README alone. */
const PARTS = new Set((process.env['BENCH_PARTS'] ?? ALL_PARTS).split(''));
/** The interleaved pairs of part (f). */
const PAIRS = Number(process.env['BENCH_PAIRS'] ?? 6);
const RESULTS = path.resolve(import.meta.dirname, '../results/deploy.json');
const lab = readLabState();
const t = lab.target;
const maxHosts = Math.min(lab.targets.length, Number(process.env['BENCH_HOSTS'] ?? lab.targets.length));
const curveTargets = lab.targets.slice(0, maxHosts);
const suffix = randomBytes(3).toString('hex');
// The first target's key is every target's fleet key (lab/src/sshd.ts).
const privateKey = fs.readFileSync(t.privateKeyFile, 'utf8');
const hasStandby = 'standby' in readActionMetadata(ACTION_DIR).inputs;

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

const sec = (ms: number | undefined): string => (ms === undefined ? '–' : `${(ms / 1000).toFixed(2)} s`);

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

/** first: pull and run; otherwise `docker pull && stop && rm && run` (pull: false for the re-run of a tag the server has). */
function handWritten(name: string, port: number, image: string, how: { first?: boolean; pull?: boolean }): string {
  const d = `docker -H unix://${t.dockerSocket}`;
  const run = `${d} run -d --name ${name} --restart unless-stopped -p ${port}:8080 -v ${name}-data:/data -e LOG_LEVEL=warn ${image}`;
  const swap = how.first ? run : `${how.pull === false ? '' : `${d} pull ${image} && `}${d} stop ${name} && ${d} rm ${name} && ${run}`;
  return `set -e; export DOCKER_CONFIG=$(mktemp -d); trap 'rm -rf "$DOCKER_CONFIG"' EXIT; ${d} login -u ${lab.registry.username} --password-stdin ${lab.registry.host} >/dev/null 2>&1; ${how.first ? `${d} pull ${image} >/dev/null; ` : ''}${swap} >/dev/null`;
}

/** One hand-written step on the target: the script over the ssh CLI, the registry password on its stdin. */
function handWrittenStep(name: string, port: number, image: string, how: { first?: boolean; pull?: boolean }): Promise<void> {
  return sshScript(handWritten(name, port, image, how), `${lab.registry.password}\n`);
}

const shape: LoadShape = { rate: RATE, clients: CLIENTS, readyRate: READY_RATE };
const action = runAction;
const underLoad = (what: string, by: Row['by'], port: number, to: string, step: () => Promise<StepRun>): Promise<Row> => stepUnderLoad(t, shape, what, by, port, to, step);
const waitForVersion = (port: number, version: string): Promise<void> => waitForTargetVersion(t, port, version);

// One way to each target, as a deploy reaches it (its VPN, SSH, the Engine API), for the clean-up.
const links: LabTargetLink[] = [];
for (const target of curveTargets) links.push(await reachLabTarget(target, privateKey));
const apps = { bg: `bench-bg-${suffix}`, rc: `bench-rc-${suffix}`, hw: `bench-hw-${suffix}`, pairBg: `bench-pg-${suffix}`, pairHw: `bench-ph-${suffix}` };
const ports = {
  bg: 19500 + Math.floor(Math.random() * 30),
  rc: 19540 + Math.floor(Math.random() * 30),
  hw: 19580 + Math.floor(Math.random() * 30),
  curve: 19620 + Math.floor(Math.random() * 20),
  pairBg: 19650 + Math.floor(Math.random() * 20),
  pairHw: 19680 + Math.floor(Math.random() * 20),
};
const curveApps = curveTargets.map((_, i) => `bench-h${i + 1}-${suffix}`);
const rows: Row[] = [];
const curve: CurvePoint[] = [];
const pairs: Pair[] = [];
let firstByte: FirstByte | undefined;
try {
  const sha = randomBytes(20).toString('hex');
  console.log('building and pushing the app image v1 and v2 (action-build)…');
  const v1 = await buildAndPushAppImage(lab, { tag: `bench-deploy-v1`, version: 'v1', gitSha: sha });
  const v2 = await buildAndPushAppImage(lab, { tag: `bench-deploy-v2`, version: 'v2', gitSha: sha });

  if (PARTS.has('a')) {
    console.log('(a) blue-green');
    await action(inputs(apps.bg, ports.bg, { image: v1.imageRef }));
    await waitForVersion(ports.bg, 'v1');
    rows.push(await underLoad(ROW.blueGreen, 'gangway', ports.bg, 'v2', () => action(inputs(apps.bg, ports.bg, { image: v2.imageRef }))));
    rows.push(await underLoad(ROW.cold, 'gangway', ports.bg, 'v1', () => action(inputs(apps.bg, ports.bg, { rollback: 'true' }))));
    if (hasStandby) {
      rows.push(await underLoad(`blue-green v1 → v2, standby ${STANDBY}`, 'gangway', ports.bg, 'v2', () => action(inputs(apps.bg, ports.bg, { image: v2.imageRef, standby: STANDBY }))));
      rows.push(await underLoad(ROW.warm, 'gangway', ports.bg, 'v1', () => action(inputs(apps.bg, ports.bg, { rollback: 'true', standby: STANDBY }))));
    } else {
      console.log('  (this action has no standby input: no warm rollback)');
    }
  }
  if (PARTS.has('b')) {
    console.log('(b) hand-written docker pull && stop && rm && run over ssh');
    await handWrittenStep(apps.hw, ports.hw, v1.imageRef, { first: true });
    await waitForVersion(ports.hw, 'v1');
    rows.push(await underLoad(ROW.handWritten, 'hand-written', ports.hw, 'v2', () => timed(() => handWrittenStep(apps.hw, ports.hw, v2.imageRef, {}))));
    rows.push(await underLoad(ROW.handWrittenBack, 'hand-written', ports.hw, 'v1', () => timed(() => handWrittenStep(apps.hw, ports.hw, v1.imageRef, { pull: false }))));
  }
  if (PARTS.has('c')) {
    console.log('(c) recreate');
    await action(inputs(apps.rc, ports.rc, { image: v1.imageRef, strategy: 'recreate' }));
    await waitForVersion(ports.rc, 'v1');
    rows.push(await underLoad('recreate v1 → v2', 'gangway', ports.rc, 'v2', () => action(inputs(apps.rc, ports.rc, { image: v2.imageRef, strategy: 'recreate' }))));
    rows.push(await underLoad('recreate rollback: true (→ v1)', 'gangway', ports.rc, 'v1', () => action(inputs(apps.rc, ports.rc, { rollback: 'true', strategy: 'recreate' }))));
  }
  if (PARTS.has('f')) {
    console.log(`(f) ${PAIRS} interleaved pairs: blue-green and hand-written, each moving to the other version, the order alternating`);
    await action(inputs(apps.pairBg, ports.pairBg, { image: v1.imageRef }));
    await handWrittenStep(apps.pairHw, ports.pairHw, v1.imageRef, { first: true });
    await Promise.all([waitForVersion(ports.pairBg, 'v1'), waitForVersion(ports.pairHw, 'v1')]);
    const images = { v1: v1.imageRef, v2: v2.imageRef };
    let at: 'v1' | 'v2' = 'v1';
    for (let round = 1; round <= PAIRS; round++) {
      const to: 'v1' | 'v2' = at === 'v1' ? 'v2' : 'v1';
      const gangway = (): Promise<Row> => underLoad(`pair ${round}: blue-green ${at} → ${to}`, 'gangway', ports.pairBg, to, () => action(inputs(apps.pairBg, ports.pairBg, { image: images[to] })));
      const hand = (): Promise<Row> => underLoad(`pair ${round}: hand-written ${at} → ${to}`, 'hand-written', ports.pairHw, to, () => timed(() => handWrittenStep(apps.pairHw, ports.pairHw, images[to], {})));
      const first = round % 2 === 1 ? 'gangway' : 'hand-written';
      const [g, h] = first === 'gangway' ? [await gangway(), await hand()] : await hand().then(async (hr) => [await gangway(), hr] as const);
      const pair = pairOf(round, first, g, h);
      pairs.push(pair);
      console.log(`  pair ${round} (${first} first): to ${to} in ${sec(g.timeToVersionMs)} (gangway, ${g.failed} failed) vs ${sec(h.timeToVersionMs)} (hand-written, ${h.failed} failed): ×${pair.ratio?.toFixed(2) ?? '–'}`);
      at = to;
    }
  }
  if (PARTS.has('d')) {
    console.log(`(d) the host curve: 1 to ${curveTargets.length} hosts at once`);
    for (let n = 1; n <= curveTargets.length; n++) {
      const targets = curveTargets.slice(0, n);
      const many = (image: string): Record<string, string> => ({
        ...inputs(curveApps[n - 1] as string, ports.curve + n, { image }),
        host: targets.map((x) => x.sshHost).join('\n'),
        'known-hosts': targets.map((x) => x.knownHosts).join('\n'),
        // Every lab target's socket is a path on this one machine: each host must be told its own.
        'docker-socket': targets.map((x) => `${x.sshHost}=${x.dockerSocket}`).join('\n'),
        canary: 'false',
        'max-parallel': String(n),
      });
      await action(many(v1.imageRef));
      const run = await action(many(v2.imageRef));
      curve.push({ hosts: n, wallMs: run.wallMs, hostTotalsMs: run.hosts.map((h) => h.totalMs) });
      console.log(`  ${n} host(s): ${(run.wallMs / 1000).toFixed(1)} s`);
    }
  }
  if (PARTS.has('e')) {
    console.log('(e) action start to first SSH byte');
    firstByte = await measureFirstByte({ actionDir: ACTION_DIR, inputs: inputs(`bench-fb-${suffix}`, ports.bg, { image: v2.imageRef }), rounds: FIRST_BYTE_ROUNDS });
  }
} finally {
  for (const link of links) {
    for (const app of [...Object.values(apps), ...curveApps]) {
      const list = await link.docker.listContainers({ all: true, filters: { label: [`gangway.app=${app}`] } }).catch(() => []);
      for (const c of list) await link.docker.getContainer(c.Id).remove({ force: true, v: true }).catch(() => undefined);
      await link.docker.getContainer(app).remove({ force: true, v: true }).catch(() => undefined);
      await link.docker.getVolume(`${app}-data`).remove().catch(() => undefined);
      await link.docker.getNetwork(`${app}-net`).remove().catch(() => undefined);
    }
    await link.close();
  }
}

const ratios = deployRatios(rows, curve, firstByte, pairs);

const pad = (s: string, n: number): string => s.padEnd(n);
console.log(`\nsteady load ${RATE} req/s from ${CLIENTS} clients (half keep-alive) through the VPN; window = the step's start until 2 s after the last move\n`);
console.log(`| ${pad('step', 38)} | failed / total | p99 ms | step wall | to new version | to new ready |`);
console.log(`| ${'-'.repeat(38)} | -------------- | ------ | --------- | -------------- | ------------ |`);
for (const r of rows) console.log(`| ${pad(r.what, 38)} | ${pad(`${r.failed} / ${r.total}`, 14)} | ${pad(String(r.p99Ms), 6)} | ${pad(sec(r.wallMs), 9)} | ${pad(sec(r.timeToVersionMs), 14)} | ${pad(sec(r.timeToReadyMs), 12)} |`);
const phased = rows.filter((r) => r.phases && r.phases.length > 0);
const names = [...new Set(phased.flatMap((r) => (r.phases ?? []).map((p) => p.phase)))];
console.log(`\nphases (s) of the action's steps on the host\n`);
console.log(`| ${pad('phase', 14)} | ${phased.map((r) => pad(r.what.slice(0, 20), 20)).join(' | ')} |`);
console.log(`| ${'-'.repeat(14)} | ${phased.map(() => '-'.repeat(20)).join(' | ')} |`);
for (const name of names) {
  console.log(`| ${pad(name, 14)} | ${phased.map((r) => pad(sec(r.phases?.filter((p) => p.phase === name).reduce((n, p) => n + p.ms, 0) || undefined), 20)).join(' | ')} |`);
}
console.log(`\nhost curve (canary: false, max-parallel = hosts, no load): ${curve.map((p) => `${p.hosts}: ${sec(p.wallMs)}`).join(', ')}`);
if (pairs.length > 0) console.log(`interleaved pairs, to the new version: ${pairs.map((p) => `×${p.ratio?.toFixed(2) ?? '–'}`).join(' ')}; median ×${ratios.pairs?.medianRatioByFirst.handWritten?.toFixed(2) ?? '–'} where the hand-written went first, ×${ratios.pairs?.medianRatioByFirst.gangway?.toFixed(2) ?? '–'} where Gangway did`);
if (firstByte) console.log(`action start to first SSH byte: median ${firstByte.actionMs} ms over ${firstByte.rounds} rounds (bare node ${firstByte.bareNodeMs} ms)`);
console.log(`\nratios: ${JSON.stringify(ratios)}`);
fs.mkdirSync(path.dirname(RESULTS), { recursive: true });
const results: DeployBenchResults = { at: new Date().toISOString(), rate: RATE, clients: CLIENTS, readyRate: READY_RATE, standby: hasStandby ? STANDBY : null, machine: { cpus: os.cpus().length, loadAverage: os.loadavg() }, rows, curve, ...(firstByte ? { firstByte } : {}), pairs, ratios };
if ([...ALL_PARTS].every((p) => PARTS.has(p))) {
  fs.writeFileSync(RESULTS, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`\nwrote ${RESULTS}`);
  // The README's figures come from this JSON, never by hand.
  console.log(writeBlock(DEPLOY_FIGURES));
} else {
  console.log(`\na partial run (BENCH_PARTS=${[...PARTS].join('')}): ${RESULTS} and the README are left as they were`);
}
// ssh2's and the load's sockets may keep the loop alive a while: the figures are written, end here.
process.exit(0);
