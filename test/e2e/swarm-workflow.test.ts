// docs/example-swarm-workflow.yml, copied as a user copies it (issue #21): run by the local
// workflow runner for a user's app repository (the OCR app's Dockerfile at its root), with only
// the variables and secrets its header names, against a three-node swarm of the lab's targets
// (gw-target1 the manager, 2 and 3 workers, joined over the lab LAN). A push creates the service
// of 3 replicas, one per node, behind the proxy on the manager; a push whose smoke test fails is
// rolled back by the file's own step (Swarm's rollback to the previous spec), with no failed
// request under load through the whole run.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pushEvent } from '@gangway/workflow-runner';
import { formLabSwarm, type LabSwarm } from '../../lab/src/testing/swarm-cluster.ts';
import { repoRoot } from '../../scripts/actions.ts';
import type { DeployReport } from '../../action-deploy-ssh/src/report.ts';
import { failedSteps, openReleaseScenario, REPOSITORY, rootDockerfile, stepConclusions, type RecordedRun, type ReleaseScenario, type WorkflowLab } from '../support/workflow-lab.ts';

const WORKFLOW = path.join(repoRoot, 'docs', 'example-swarm-workflow.yml');
const APP = 'myapp'; // the example's app, on its port 8080
const PORT = 8080;
let scenario: ReleaseScenario | undefined;
let swarm: LabSwarm | undefined;
let wl: WorkflowLab;
let sha: ReleaseScenario['sha'];

/** The names the header's `vars:` or `secrets:` lines tell a user to create (upper-case words outside parentheses). */
function headerNames(kind: 'vars' | 'secrets'): string[] {
  const header = readFileSync(WORKFLOW, 'utf8').split('\n').filter((l) => l.startsWith('#'));
  const start = header.findIndex((l) => new RegExp(`^#\\s+${kind}:`).test(l));
  if (start === -1) throw new Error(`the example's header has no "${kind}:" line`);
  const block: string[] = [header[start] as string];
  for (const line of header.slice(start + 1)) {
    if (/^#\s+(vars|secrets):/.test(line) || /^#\s*$/.test(line)) break;
    block.push(line);
  }
  return [...block.join(' ').replace(/\([^)]*\)/g, '').matchAll(/\b([A-Z][A-Z0-9_]{2,})\b/g)].map((m) => m[1] as string);
}

/** Only what the header names: a test that needed more would fail here. */
function settings() {
  const s = wl.settings(APP);
  expect(Object.keys(s.vars).filter((k) => !headerNames('vars').includes(k))).toEqual([]);
  expect(Object.keys(s.secrets).filter((k) => !headerNames('secrets').includes(k))).toEqual([]);
  return s;
}

const push = (commit: string) => pushEvent({ repository: { fullName: REPOSITORY }, sha: commit });

function stepReport(r: RecordedRun, step: string): DeployReport {
  return JSON.parse(r.run.jobs.find((j) => j.id === 'deploy')?.steps.find((s) => s.name === step)?.outputs['report'] || '{}') as DeployReport;
}

/** The service's tasks Swarm wants running: node and image. */
async function tasks(): Promise<Array<{ node: string; image: string; state: string }>> {
  const list = (await (swarm as LabSwarm).manager.docker.listTasks({ filters: { service: [APP], 'desired-state': ['running'] } })) as Array<{ NodeID: string; Status: { State: string }; Spec: { ContainerSpec: { Image: string } } }>;
  return list.map((t) => ({ node: t.NodeID, image: t.Spec.ContainerSpec.Image, state: t.Status.State }));
}

/** The service, its task containers on every node, and the images the workers pulled for it. */
async function removeService(s: LabSwarm): Promise<void> {
  await s.manager.docker.getService(APP).remove().catch(() => undefined);
  for (const node of [s.manager, ...s.workers]) {
    const left = async (d: Docker) => (await d.listContainers({ all: true, filters: { label: [`com.docker.swarm.service.name=${APP}`] } }).catch(() => [])).length;
    for (let i = 0; i < 60 && (await left(node.docker)) > 0; i++) await new Promise((r) => setTimeout(r, 250));
  }
  for (const node of s.workers) {
    for (const image of await node.docker.listImages().catch(() => [])) {
      if ((image.RepoDigests ?? []).some((d) => d.startsWith(`${wl.lab.registry.host}/e2e/${APP}@`))) await node.docker.getImage(image.Id).remove({ force: true }).catch(() => undefined);
    }
  }
}

describe('docs/example-swarm-workflow.yml as a user copies it, on a three-node swarm', () => {
  beforeAll(async () => {
    scenario = await openReleaseScenario({ target: 1, app: APP, first: (repo) => repo.commit('the app, with its Dockerfile at the root', rootDockerfile) });
    ({ wl, sha } = scenario);
    if (wl.lab.targets.length < 3) throw new Error(`this test needs three lab targets, the lab has ${wl.lab.targets.length}: GANGWAY_LAB_TARGETS must be 3 or more (3 is the default)`);
    swarm = await formLabSwarm(wl.lab.targets.slice(0, 3));
  }, 180_000);

  afterAll(async () => {
    if (swarm) {
      await removeService(swarm);
      // The proxy, on the service's overlay network, before the swarm goes.
      await wl.removeApp(APP);
      const problems = await swarm.leave();
      if (problems.length > 0) console.warn(`leaving the lab swarm: ${problems.join('; ')}`);
    }
    await scenario?.close();
  }, 180_000);

  it('its header names the settings it reads, and nothing else is read', () => {
    const text = readFileSync(WORKFLOW, 'utf8');
    const used = (kind: string) => [...new Set([...text.matchAll(new RegExp(`${kind}\\.([A-Z][A-Z0-9_]*)`, 'g'))].map((m) => m[1] as string))].sort();
    expect(used('vars').filter((n) => !headerNames('vars').includes(n))).toEqual([]);
    expect(used('secrets').filter((n) => !headerNames('secrets').includes(n))).toEqual([]);
  });

  it('a push builds, creates the service of 3 replicas (one per node) behind the proxy, and smoke-tests the commit', async () => {
    const r = await wl.run('swarm example: first push', { workflow: WORKFLOW, event: push(sha.good), settings: settings(), repository: scenario?.repo.dir ?? '' });
    expect(failedSteps(r)).toEqual([]);
    expect(stepConclusions(r, 'deploy')).toMatchObject({ 'Build and push': 'success', Deploy: 'success', 'Smoke test': 'success', 'Roll back after a failed smoke test': 'skipped' });
    expect(stepReport(r, 'Deploy').hosts.map((h) => [h.strategy, h.result])).toEqual([['swarm (start-first)', 'deployed']]);
    expect((await wl.answering(PORT)).gitSha).toBe(sha.good);
    const running = await tasks();
    expect(running.map((t) => t.state)).toEqual(['running', 'running', 'running']);
    const s = swarm as LabSwarm;
    expect(new Set(running.map((t) => t.node))).toEqual(new Set([s.manager.nodeId, ...s.workers.map((w) => w.nodeId)]));
    // The proxy on the manager, on the service's overlay network.
    const proxy = await wl.docker.getContainer(`${APP}-proxy`).inspect();
    expect([proxy.State.Running, Object.keys(proxy.NetworkSettings.Networks)]).toEqual([true, [`${APP}-net`]]);
  }, 1_500_000);

  it("a push whose smoke test fails is rolled back by the file's own step (Swarm's previous spec), with no failed request under load", async () => {
    const r = await wl.run('swarm example: failed smoke test → rollback step', { workflow: WORKFLOW, event: push(sha.broken), settings: settings(), repository: scenario?.repo.dir ?? '', load: { port: PORT } });
    expect(stepConclusions(r, 'deploy')).toMatchObject({ Deploy: 'success', 'Smoke test': 'failure', 'Roll back after a failed smoke test': 'success' });
    const back = stepReport(r, 'Roll back after a failed smoke test');
    expect(back.hosts.map((h) => [h.mode, h.result])).toEqual([['rollback', 'deployed']]);
    expect((await wl.answering(PORT)).gitSha).toBe(sha.good);
    const images = new Set((await tasks()).map((t) => t.image));
    expect(images.size).toBe(1);
    expect([...images][0]).toBe(back.hosts[0]?.image);
    console.log(`swarm example, broken push + rollback step: ${r.load?.summary.failed} failed of ${r.load?.summary.total} under load`);
    expect(r.load?.summary.total).toBeGreaterThan(100);
    expect(r.load?.summary.failed).toBe(0);
    expect(r.load?.failures).toEqual([]);
  }, 1_500_000);
});
