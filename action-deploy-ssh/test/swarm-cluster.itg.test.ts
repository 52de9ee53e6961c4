// target: swarm with replicas: 3 on a three-node swarm of the lab's targets (issue #21): the first
// target is the manager, the other two are workers, joined over the lab LAN. The action reaches
// the manager as a user's workflow does (its VPN address, SSH, the Engine API); the service's
// tasks are spread over the three nodes, and the managed nginx proxy on the manager holds the
// published port and forwards to every healthy task (tasks.<app> on the app's overlay network).
// Under a steady load from inside the manager's namespace, and 0 failed requests each time:
//   v1 → v2 (Swarm's rolling update, one task at a time, start-first);
//   rollback: true (Swarm's rollback=previous, back to v1);
//   a v3 that never gets healthy (Swarm rolls back by itself; the step fails with rolled-back=true);
//   v1 → v2 while a worker's Docker engine is stopped mid-update (the service converges on the
//   two nodes left, on v2, or on v1 when Swarm took the lost task for a failed release).
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findSecretLeaks } from '@gangway/harness';
import { labStatus, readLabState, type LabState, type TargetState } from '../../lab/src/index.ts';
import { startEngineAgain, stopEngine } from '../../lab/src/faults.ts';
import { getFromInside, loadFromInside, type NetnsLoad } from '../../lab/src/testing/load-inside.ts';
import { formLabSwarm, removeSwarmApp, type LabSwarm } from '../../lab/src/testing/swarm-cluster.ts';
import { connectLabVpn, type VpnTunnel } from '../../lab/src/testing/vpn.ts';
import { buildAndPush, TEST_REPOSITORY, type PushedImage } from './lab-images.ts';
import { DeployRuns, labTargetInputs, type DeployRun } from './lab-runs.ts';

const app = `gtest-cluster-${randomBytes(3).toString('hex')}`;
const port = 19500 + Math.floor(Math.random() * 90);
const REPLICAS = 3;

let lab: LabState;
let manager: TargetState;
let stopped: TargetState | undefined;
/** The worker engine's stop, once the node-loss test started it. */
let stopping: Promise<void> | undefined;
let swarm: LabSwarm | undefined;
let vpn: VpnTunnel | undefined;
let privateKey: string;
let v1: PushedImage;
let v2: PushedImage;
const deployRuns = new DeployRuns();
const figures: Record<string, unknown> = {};

function inputs(extra: Record<string, string>): Record<string, string> {
  return {
    ...labTargetInputs(manager, privateKey),
    target: 'swarm',
    replicas: String(REPLICAS),
    app,
    'container-port': '8080',
    publish: String(port),
    'registry-username': lab.registry.username,
    'registry-password': lab.registry.password,
    'readiness-timeout': '30s',
    'stop-timeout': '5s',
    ...extra,
  };
}

interface TaskView {
  node: string;
  version: string;
  state: string;
}

/** The service's tasks Swarm wants running, with their node and the version their image carries (v1/v2 by digest). */
async function runningTasks(): Promise<TaskView[]> {
  const docker = (swarm as LabSwarm).manager.docker;
  const tasks = (await docker.listTasks({ filters: { service: [app], 'desired-state': ['running'] } })) as Array<{ NodeID: string; Status: { State: string }; Spec: { ContainerSpec: { Image: string } } }>;
  return tasks.map((t) => ({
    node: t.NodeID,
    state: t.Status.State,
    version: t.Spec.ContainerSpec.Image === v1.digestRef ? 'v1' : t.Spec.ContainerSpec.Image === v2.digestRef ? 'v2' : t.Spec.ContainerSpec.Image,
  }));
}

/** What /version answers through the proxy, from inside the manager's namespace: `requests` times, the versions seen. */
async function versionsThroughProxy(requests = 6): Promise<string[]> {
  const seen: string[] = [];
  for (let i = 0; i < requests; i++) {
    const r = await getFromInside(manager, `http://${manager.address}:${port}/version`);
    seen.push(r.status === 200 ? String((JSON.parse(r.body) as { version?: string }).version) : `HTTP ${r.status}`);
  }
  return seen;
}

/** A deploy under a steady load through the proxy; the load's summary over the whole step. */
/**
 * A deploy under a steady load through the proxy; the load's summary over the whole step. `during`
 * sees each line of the step's log; `after` runs once the step is done, before the load stops (the
 * load covers it too).
 */
async function underLoad(label: string, values: Record<string, string>, hooks: { during?: (line: string) => void; after?: (run: DeployRun) => Promise<void> } = {}): Promise<{ run: DeployRun; load: Awaited<ReturnType<NetnsLoad['stop']>> }> {
  const load = loadFromInside(manager, manager.address, port, 240_000, { rate: 40, clients: 4 });
  let run: DeployRun;
  try {
    // The load's first requests before the step starts, its last after it ends.
    await new Promise((r) => setTimeout(r, 1000));
    run = await deployRuns.deploy(values, hooks.during ? { onLine: hooks.during } : {});
    await hooks.after?.(run);
    await new Promise((r) => setTimeout(r, 1000));
  } catch (error) {
    await load.stop().catch(() => undefined);
    throw error;
  }
  const result = await load.stop();
  figures[label] = { stepMs: run.ms, requests: result.summary.total, failed: result.summary.failed, phases: run.report?.hosts[0]?.phases };
  return { run, load: result };
}

function failuresOf(load: Awaited<ReturnType<NetnsLoad['stop']>>): string {
  return JSON.stringify({ errors: load.summary.errors, first: load.failures.slice(0, 5) });
}

describe(`target: swarm, replicas: ${REPLICAS}, on a three-node swarm of lab targets`, () => {
  beforeAll(async () => {
    const status = await labStatus();
    if (status.status !== 'up') throw new Error(`the lab is ${status.status}: run flock /tmp/gangway-lab.lock npm run lab:up first`);
    lab = readLabState();
    if (lab.targets.length < 3) throw new Error(`this test needs three lab targets, the lab has ${lab.targets.length}: GANGWAY_LAB_TARGETS must be 3 or more (3 is the default)`);
    manager = lab.targets[0] as TargetState;
    privateKey = fs.readFileSync(lab.target.privateKeyFile, 'utf8');
    [v1, v2] = await Promise.all([buildAndPush(lab, 'cluster-v1', { VERSION: 'v1' }), buildAndPush(lab, 'cluster-v2', { VERSION: 'v2' })]);
    swarm = await formLabSwarm(lab.targets.slice(0, 3));
    vpn = await connectLabVpn(manager.vpn.configFile);
  }, 600_000);

  afterAll(async () => {
    // A stop still under way finishes first: an engine started again meanwhile would be refused, and stay down.
    await stopping?.catch(() => undefined);
    if (stopped) await startEngineAgain(stopped).catch((e: unknown) => console.warn(`could not start ${stopped?.name}'s engine again: ${String(e)}`));
    if (swarm) {
      await removeSwarmApp(swarm, app, [`${lab.registry.host}/${TEST_REPOSITORY}`]);
      const problems = await swarm.leave();
      if (problems.length > 0) console.warn(`leaving the lab swarm: ${problems.join('; ')}`);
    }
    await vpn?.stop();
    deployRuns.cleanup();
    console.log(`deploy-ssh swarm cluster figures: ${JSON.stringify(figures, null, 2)}`);
  });

  it('v1: the service created with 3 replicas, one on each node, behind the proxy on the manager', async () => {
    const first = await deployRuns.deploy(inputs({ image: v1.digestRef }));
    expect(first.main.exitCode, first.main.log).toBe(0);
    expect(first.report?.hosts.map((h) => [h.strategy, h.result])).toEqual([['swarm (start-first)', 'deployed']]);
    expect(first.main.log).toMatch(new RegExp(`creating the proxy ${app}-proxy .* → ${app}\\.gangway\\.invalid:8080 on ${app}-net`));
    const tasks = await runningTasks();
    expect(tasks.map((t) => [t.version, t.state])).toEqual(Array.from({ length: REPLICAS }, () => ['v1', 'running']));
    const s = swarm as LabSwarm;
    expect(new Set(tasks.map((t) => t.node))).toEqual(new Set([s.manager.nodeId, ...s.workers.map((w) => w.nodeId)]));
    expect(await versionsThroughProxy()).toEqual(['v1', 'v1', 'v1', 'v1', 'v1', 'v1']);
    figures['v1 (create) step ms'] = first.ms;
  });

  it('v1 → v2 under load: one task at a time, start-first, 0 failed requests; every task runs v2', async () => {
    const { run, load } = await underLoad('v1 → v2', inputs({ image: v2.digestRef }));
    expect(run.main.exitCode, run.main.log).toBe(0);
    expect(run.main.log).toMatch(/proxy .*-proxy: running as wanted/);
    expect(run.report?.hosts.map((h) => h.result)).toEqual(['deployed']);
    expect(load.summary.total).toBeGreaterThan(200);
    expect(load.summary.failed, failuresOf(load)).toBe(0);
    expect((await runningTasks()).map((t) => [t.version, t.state])).toEqual(Array.from({ length: REPLICAS }, () => ['v2', 'running']));
    expect(await versionsThroughProxy()).toEqual(['v2', 'v2', 'v2', 'v2', 'v2', 'v2']);
  });

  it('rollback: true under load: Swarm goes back to v1, 0 failed requests', async () => {
    const { run, load } = await underLoad('rollback: true', inputs({ rollback: 'true' }));
    expect(run.main.exitCode, run.main.log).toBe(0);
    expect(run.report?.hosts.map((h) => [h.mode, h.result])).toEqual([['rollback', 'deployed']]);
    expect(load.summary.failed, failuresOf(load)).toBe(0);
    expect((await runningTasks()).map((t) => t.version)).toEqual(Array.from({ length: REPLICAS }, () => 'v1'));
    expect(await versionsThroughProxy()).toEqual(['v1', 'v1', 'v1', 'v1', 'v1', 'v1']);
  });

  it('a v3 that never gets healthy, under load: Swarm rolls back by itself, the step fails with rolled-back=true, 0 failed requests', async () => {
    const { run, load } = await underLoad('v3 never healthy (Swarm rollback)', inputs({ image: v2.digestRef, env: 'NEVER_READY=1' }));
    expect(run.main.exitCode, run.main.log).toBe(1);
    expect(run.main.outputs['rolled-back'], run.main.log).toBe('true');
    expect(run.report?.hosts.map((h) => h.result)).toEqual(['rolled-back']);
    expect(run.main.log).toMatch(/Swarm update: rollback_(started|completed)/);
    expect(load.summary.failed, failuresOf(load)).toBe(0);
    expect(await versionsThroughProxy()).toEqual(['v1', 'v1', 'v1', 'v1', 'v1', 'v1']);
  });

  it("v1 → v2 while a worker's Docker engine is stopped mid-update, under load: no request fails, and the service converges on the two nodes left, on one version", async () => {
    const s = swarm as LabSwarm;
    const worker = s.workers[s.workers.length - 1] as (typeof s.workers)[number];
    // Each new task takes 4 s to get healthy, as a real app's does: the engine stops while one is starting.
    let converged: { version: string; tasks: TaskView[]; ms: number } | undefined;
    const { run, load } = await underLoad('v1 → v2, a worker engine stopped', inputs({ image: v2.digestRef, env: 'READY_DELAY_MS=4000' }), {
      during: (line) => {
        // Once Swarm has started the update: its first task is being replaced.
        if (!stopping && /Swarm update: updating/.test(line)) {
          stopped = worker.target;
          stopping = stopEngine(worker.target);
          // Handled here too: a deploy that fails first leaves it to afterAll.
          stopping.catch(() => undefined);
        }
      },
      // The step may end before the managers see the node down; Swarm then moves its tasks. Under the load, until the
      // service is whole on the nodes left (at most 90 s).
      after: async (done) => {
        const version = done.report?.hosts[0]?.result === 'deployed' ? 'v2' : 'v1';
        const t0 = performance.now();
        while (performance.now() - t0 < 90_000) {
          const tasks = await runningTasks();
          const down = (await s.nodeStates()).get(worker.nodeId) === 'down';
          if (down && tasks.length === REPLICAS && tasks.every((t) => t.version === version && t.state === 'running' && t.node !== worker.nodeId)) {
            converged = { version, tasks, ms: Math.round(performance.now() - t0) };
            return;
          }
          await new Promise((r) => setTimeout(r, 1000));
        }
      },
    });
    await stopping;
    expect(stopping, 'the update never logged "Swarm update: updating"').toBeDefined();
    // Swarm finishes the update on the nodes left, or counts the task lost with its node (or one that failed on another
    // node meanwhile) as a failed release and rolls back. Either way the step says which, and the service ends whole on
    // one version on the nodes left.
    const result = run.report?.hosts[0]?.result;
    expect(result === 'deployed' || result === 'rolled-back', run.main.log).toBe(true);
    expect(run.main.exitCode, run.main.log).toBe(result === 'deployed' ? 0 : 1);
    expect(converged, `the service did not end whole on the two nodes left within 90 s: ${JSON.stringify(await runningTasks())}`).toBeDefined();
    const version = converged?.version ?? '';
    expect(await versionsThroughProxy()).toEqual(Array.from({ length: 6 }, () => version));
    figures['node loss: converged after the step (ms)'] = converged?.ms;
    figures['node loss: result'] = result;
    figures['node loss: update applied again'] = /applying the update again \(ForceUpdate\)/.test(run.main.log);
    figures['node loss: failed requests'] = load.summary.failed;
    expect(load.summary.failed, failuresOf(load)).toBe(0);
    await startEngineAgain(worker.target);
    stopped = undefined;
  });

  it('leaks no secret', () => {
    expect(deployRuns.runs.length).toBeGreaterThanOrEqual(10);
    expect(findSecretLeaks(deployRuns.runs, { 'private-key': privateKey, 'registry-password': lab.registry.password })).toEqual([]);
  });
});
