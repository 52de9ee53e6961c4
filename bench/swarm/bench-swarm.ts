// Benchmark of action-deploy-ssh's target: swarm on several nodes (not a test): the lab's first
// three targets made into a swarm (the first the manager, joined over the lab LAN), the real OCR
// app (its own HEALTHCHECK), and a steady load through the manager's VPN (40 req/s from 4
// clients, half kept alive, and 10 req/s on /readyz). In one run, side by side:
//   (1) one replica behind the managed proxy on the manager: v1 → v2;
//   (2) three replicas behind it: v1 → v2 (one task at a time, start-first), rollback: true, a
//       release that never gets healthy (Swarm's own rollback), and v1 → v2 while a worker's
//       Docker engine is stopped mid-update.
// For each: failed requests / total and p99 in the step's window, the step's wall time, the time
// until every request is answered by the version the step moves to, the action's phases. Prints a
// table, writes bench/results/swarm.json and the README's block. Run: npm run bench:swarm (the
// lab must be up, with at least three targets; about 8 minutes).
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readLabState, type TargetState } from '../../lab/src/state.ts';
import { startEngineAgain, stopEngine } from '../../lab/src/faults.ts';
import { formLabSwarm, removeSwarmApp, type LabSwarm } from '../../lab/src/testing/swarm-cluster.ts';
import { reachLabTarget } from '../../action-deploy-ssh/test/lab-runs.ts';
import { buildAndPushAppImage } from '../../test/support/app-image.ts';
import { faultyImage } from '../../test/chaos/support/images.ts';
import { writeBlock } from '../../test/support/readme-block.ts';
import type { Row } from '../deploy/readme-figures.ts';
import { runAction, underLoad, waitForVersion, type LoadShape, type StepRun } from '../deploy/steps.ts';
import { SWARM_FIGURES, SWARM_ROW, swarmRatios, type SwarmBenchResults } from './readme-figures.ts';

const shape: LoadShape = { rate: Number(process.env['BENCH_RATE'] ?? 40), clients: Number(process.env['BENCH_CLIENTS'] ?? 4), readyRate: Number(process.env['BENCH_READY_RATE'] ?? 10) };
const RESULTS = path.resolve(import.meta.dirname, '../results/swarm.json');
const lab = readLabState();
if (lab.targets.length < 3) throw new Error(`bench swarm needs three lab targets, the lab has ${lab.targets.length}: GANGWAY_LAB_TARGETS=3 or more (3 is the default)`);
const manager = lab.targets[0] as TargetState;
const privateKey = fs.readFileSync(manager.privateKeyFile, 'utf8');
const suffix = randomBytes(3).toString('hex');
const apps = { single: `bench-sw1-${suffix}`, three: `bench-sw3-${suffix}` };
const ports = { single: 19700 + Math.floor(Math.random() * 40), three: 19740 + Math.floor(Math.random() * 40) };

function inputs(app: string, port: number, replicas: number, extra: Record<string, string>): Record<string, string> {
  return {
    host: manager.sshHost,
    username: manager.username,
    'private-key': privateKey,
    'known-hosts': manager.knownHosts,
    'docker-socket': manager.dockerSocket,
    target: 'swarm',
    replicas: String(replicas),
    app,
    'container-port': '8080',
    publish: String(port),
    env: 'LOG_LEVEL=warn',
    'registry-username': lab.registry.username,
    'registry-password': lab.registry.password,
    'readiness-timeout': '2m',
    ...extra,
  };
}

const rows: Row[] = [];
let nodeLoss: SwarmBenchResults['nodeLoss'];
let stopped: TargetState | undefined;
// The manager's VPN, for the load and the action (which reaches the manager as a workflow does).
const link = await reachLabTarget(manager, privateKey);
let swarm: LabSwarm | undefined;
try {
  const sha = randomBytes(20).toString('hex');
  console.log('building and pushing the app image v1 and v2 (action-build), and a v2 that never gets ready…');
  const v1 = await buildAndPushAppImage(lab, { tag: 'bench-swarm-v1', version: 'v1', gitSha: sha });
  const v2 = await buildAndPushAppImage(lab, { tag: 'bench-swarm-v2', version: 'v2', gitSha: sha });
  const neverReady = await faultyImage(lab, { version: 'v2', imageRef: v2.imageRef, tagRef: `${lab.registry.host}/gangway-test/app:bench-swarm-v2` }, 'never-ready', 'bench-swarm-never-ready');
  swarm = await formLabSwarm(lab.targets.slice(0, 3));
  const s = swarm;
  console.log(`a swarm of ${1 + s.workers.length} nodes (manager ${manager.name})`);

  console.log('(1) one replica behind the proxy');
  await runAction(inputs(apps.single, ports.single, 1, { image: v1.imageRef }));
  await waitForVersion(manager, ports.single, 'v1');
  rows.push(await underLoad(manager, shape, SWARM_ROW.single, 'gangway', ports.single, 'v2', () => runAction(inputs(apps.single, ports.single, 1, { image: v2.imageRef }))));

  console.log('(2) three replicas behind the proxy');
  await runAction(inputs(apps.three, ports.three, 3, { image: v1.imageRef }));
  await waitForVersion(manager, ports.three, 'v1');
  rows.push(await underLoad(manager, shape, SWARM_ROW.update, 'gangway', ports.three, 'v2', () => runAction(inputs(apps.three, ports.three, 3, { image: v2.imageRef }))));
  rows.push(await underLoad(manager, shape, SWARM_ROW.rollback, 'gangway', ports.three, 'v1', () => runAction(inputs(apps.three, ports.three, 3, { rollback: 'true' }))));
  rows.push(
    await underLoad(manager, shape, SWARM_ROW.swarmRollback, 'gangway', ports.three, 'v1', async (): Promise<StepRun> => {
      const run = await runAction(inputs(apps.three, ports.three, 3, { image: neverReady.imageRef }), { mayFail: true });
      if (run.exitCode === 0 || run.hosts[0]?.result !== 'rolled-back') throw new Error(`the never-ready release was not rolled back by Swarm:\n${run.log.split('\n').slice(-30).join('\n')}`);
      return run;
    }),
  );
  const worker = s.workers[s.workers.length - 1] as LabSwarm['workers'][number];
  rows.push(
    await underLoad(manager, shape, SWARM_ROW.nodeLoss, 'gangway', ports.three, 'v2', async (): Promise<StepRun> => {
      const step = runAction(inputs(apps.three, ports.three, 3, { image: v2.imageRef }));
      // Handled at once: a deploy that fails during the stop below must not end the process past its clean-up.
      step.catch(() => undefined);
      // Once the update is under way: the first new task is starting.
      await new Promise((r) => setTimeout(r, 4000));
      stopped = worker.target;
      await stopEngine(worker.target);
      return step;
    }),
  );
  // Until the managers see the node down and Swarm has placed its tasks elsewhere (at most 90 s): where they ended.
  const nodes = [s.manager, ...s.workers].map((n) => n.nodeId);
  const t0 = performance.now();
  for (;;) {
    const tasks = (await s.manager.docker.listTasks({ filters: { service: [apps.three], 'desired-state': ['running'] } })) as Array<{ NodeID: string; Status: { State: string } }>;
    const state = (await s.nodeStates()).get(worker.nodeId) ?? 'unknown';
    nodeLoss = { tasksPerNode: nodes.map((id) => tasks.filter((t) => t.NodeID === id).length), stoppedNodeState: state };
    if ((state === 'down' && tasks.length === 3 && tasks.every((t) => t.Status.State === 'running' && t.NodeID !== worker.nodeId)) || performance.now() - t0 > 90_000) break;
    await new Promise((r) => setTimeout(r, 1000));
  }
} finally {
  if (stopped) await startEngineAgain(stopped).catch((e: unknown) => console.error(`could not start ${stopped?.name}'s engine again: ${String(e)}`));
  if (swarm) {
    // The workers pulled the app for the tasks: their disks are the chaos suite's too.
    for (const app of Object.values(apps)) await removeSwarmApp(swarm, app, [`${lab.registry.host}/gangway-test/app`]);
    const problems = await swarm.leave();
    if (problems.length > 0) console.error(`leaving the lab swarm: ${problems.join('; ')}`);
  }
  await link.close();
}

const ratios = swarmRatios(rows);
const sec = (ms: number | undefined): string => (ms === undefined ? '–' : `${(ms / 1000).toFixed(2)} s`);
const pad = (x: string, n: number): string => x.padEnd(n);
console.log(`\nsteady load ${shape.rate} req/s from ${shape.clients} clients (half keep-alive) through the manager's VPN; window = the step's start until 2 s after the last move\n`);
console.log(`| ${pad('step', 66)} | failed / total | p99 ms | step wall | to the version |`);
console.log(`| ${'-'.repeat(66)} | -------------- | ------ | --------- | -------------- |`);
for (const r of rows) console.log(`| ${pad(r.what, 66)} | ${pad(`${r.failed} / ${r.total}`, 14)} | ${pad(String(r.p99Ms), 6)} | ${pad(sec(r.wallMs), 9)} | ${pad(sec(r.timeToVersionMs), 14)} |`);
const names = [...new Set(rows.flatMap((r) => (r.phases ?? []).map((p) => p.phase)))];
console.log(`\nphases (s) of the action's steps\n`);
console.log(`| ${pad('phase', 10)} | ${rows.map((r) => pad(r.what.slice(0, 24), 24)).join(' | ')} |`);
for (const name of names) console.log(`| ${pad(name, 10)} | ${rows.map((r) => pad(sec(r.phases?.filter((p) => p.phase === name).reduce((n, p) => n + p.ms, 0) || undefined), 24)).join(' | ')} |`);
if (nodeLoss) console.log(`\nafter the node loss: tasks per node ${nodeLoss.tasksPerNode.join(' + ')}, the stopped node ${nodeLoss.stoppedNodeState}`);
console.log(`\nratios: ${JSON.stringify(ratios)}`);
const results: SwarmBenchResults = { at: new Date().toISOString(), rate: shape.rate, clients: shape.clients, readyRate: shape.readyRate, nodes: 3, machine: { cpus: os.cpus().length, loadAverage: os.loadavg() }, rows, ...(nodeLoss ? { nodeLoss } : {}), ratios };
fs.mkdirSync(path.dirname(RESULTS), { recursive: true });
fs.writeFileSync(RESULTS, `${JSON.stringify(results, null, 2)}\n`);
console.log(`\nwrote ${RESULTS}`);
// The README's figures come from this JSON, never by hand.
console.log(writeBlock(SWARM_FIGURES));
// ssh2's and the load's sockets may keep the loop alive a while: the figures are written, end here.
process.exit(0);
