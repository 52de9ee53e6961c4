// docs/example-swarm-workflow.yml, copied as a user copies it (issue #21): run by the local
// workflow runner for a user's app repository (the OCR app's Dockerfile at its root), with only
// the variables and secrets its header names, against a three-node swarm of the lab's targets
// (gw-target1 the manager, 2 and 3 workers, joined over the lab LAN). A push creates the service
// of 3 replicas, one per node, behind the proxy on the manager; a push whose smoke test fails is
// rolled back by the file's own step (Swarm's rollback to the previous spec), with no failed
// request under load through the whole run.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pushEvent } from '@gangway/workflow-runner';
import { formLabSwarm, removeSwarmApp, type LabSwarm } from '../../lab/src/testing/swarm-cluster.ts';
import { repoRoot } from '../../scripts/actions.ts';
import type { DeployReport } from '../../action-deploy-ssh/src/report.ts';
import { headerSettings, unnamedInHeader } from '../support/example-header.ts';
import { failedSteps, openReleaseScenario, REPOSITORY, rootDockerfile, stepConclusions, type RecordedRun, type ReleaseScenario, type WorkflowLab } from '../support/workflow-lab.ts';

const WORKFLOW = path.join(repoRoot, 'docs', 'example-swarm-workflow.yml');
const APP = 'myapp'; // the example's app, on its port 8080
const PORT = 8080;
let scenario: ReleaseScenario | undefined;
let swarm: LabSwarm | undefined;
let wl: WorkflowLab;
let sha: ReleaseScenario['sha'];

/** Only what the header names: a test that needed more would fail here. */
const settings = () => headerSettings(wl, APP, WORKFLOW);

const push = (commit: string) => pushEvent({ repository: { fullName: REPOSITORY }, sha: commit });

function stepReport(r: RecordedRun, step: string): DeployReport {
  return JSON.parse(r.run.jobs.find((j) => j.id === 'deploy')?.steps.find((s) => s.name === step)?.outputs['report'] || '{}') as DeployReport;
}

/** The service's tasks Swarm wants running: node and image. */
async function tasks(): Promise<Array<{ node: string; image: string; state: string }>> {
  const list = (await (swarm as LabSwarm).manager.docker.listTasks({ filters: { service: [APP], 'desired-state': ['running'] } })) as Array<{ NodeID: string; Status: { State: string }; Spec: { ContainerSpec: { Image: string } } }>;
  return list.map((t) => ({ node: t.NodeID, image: t.Spec.ContainerSpec.Image, state: t.Status.State }));
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
      await removeSwarmApp(swarm, APP, [`${wl.lab.registry.host}/e2e/${APP}`]);
      const problems = await swarm.leave();
      if (problems.length > 0) console.warn(`leaving the lab swarm: ${problems.join('; ')}`);
    }
    await scenario?.close();
  }, 180_000);

  it('its header names the settings it reads, and nothing else is read', () => {
    expect(unnamedInHeader(WORKFLOW)).toEqual({ vars: [], secrets: [] });
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
