// .github/workflows/deploy.yml itself, run by the local workflow runner on the lab (issue #15):
// the YAML a user copies, not a TypeScript copy of its sequence. Four runs on gw-target2, each
// but the first under steady load on the app's public port from inside the target:
//   1. a green CI run of main (workflow_run): plan → build → VPN → deploy → smoke → notify;
//   2. a release whose smoke test fails (it answers a stale version): the workflow's own
//      rollback step restores the previous container; notify opens one failure issue;
//   3. the fix, green again: notify closes the issue;
//   4. a manual rollback (workflow_dispatch, rollback: true, a reason);
//   5. maintenance asked for without APP_HOSTNAME: the plan stops, saying what to set.
// And on gw-target1, the app behind the target's shared edge (APP_HOSTNAME, issue #18): a green CI
// run deploys it there and the smoke test reaches it by name (APP_RESOLVE); Run workflow with
// maintenance on (and a message) switches the page only, under load by name: 503 + Retry-After + the
// message, no container changed, no build, no smoke test; maintenance off: the app answers again,
// with 0 failed under load afterwards. A separate target because deploy.yml's app is always `ocr`:
// moved to the edge on gw-target2, its old proxy would keep holding 8080 there.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { workflowDispatchEvent, workflowRunEvent, type SyntheticEvent } from '@gangway/workflow-runner';
import { repoRoot } from '../../scripts/actions.ts';
import { loadFromInside } from '../../lab/src/testing/load-inside.ts';
import { failedSteps, openReleaseScenario, REPOSITORY, standbyRollback, stepConclusions, type RecordedRun, type ReleaseScenario, type WorkflowLab } from '../support/workflow-lab.ts';

const WORKFLOW = path.join(repoRoot, '.github', 'workflows', 'deploy.yml');
const APP = 'ocr'; // deploy.yml's app, on its port 8080
const PORT = 8080;
let scenario: ReleaseScenario | undefined;
let wl: WorkflowLab;
let sha: ReleaseScenario['sha'];
let repoDir: string;

/**
 * A green CI run of `headSha`. GitHub starts workflow_run workflows at the default branch's tip,
 * so github.sha is `tip` (a later commit of main): deploy.yml must deploy head_sha, not github.sha.
 */
function afterCi(headSha: string, tip: string): SyntheticEvent {
  return workflowRunEvent({ repository: { fullName: REPOSITORY }, workflow: 'CI', headSha, defaultSha: tip, conclusion: 'success' });
}

const job = (r: RecordedRun, id: string) => r.run.jobs.find((j) => j.id === id);
const stepsOf = stepConclusions;

describe('deploy.yml on the lab, run as GitHub runs it', () => {
  beforeAll(async () => {
    scenario = await openReleaseScenario({ target: 2, app: APP });
    ({ wl, sha } = scenario);
    repoDir = scenario.repo.dir;
  }, 120_000);

  afterAll(async () => {
    await scenario?.close();
  }, 120_000);

  const settings = () => wl.settings('ocr');

  it('1. a green CI run of main builds, deploys and smoke-tests the commit CI tested; notify has nothing to say', async () => {
    const r = await wl.run('1. green CI run (first deploy)', { workflow: WORKFLOW, event: afterCi(sha.good, sha.fixed), settings: settings(), repository: repoDir });
    expect(failedSteps(r)).toEqual([]);
    expect(r.run.jobs.map((j) => [j.id, j.result])).toEqual([
      ['plan', 'success'],
      ['build', 'success'],
      ['deploy', 'success'],
      ['notify', 'success'],
    ]);
    expect(job(r, 'plan')?.outputs).toMatchObject({ mode: 'build', sha: sha.good, environment: 'production' });
    expect(job(r, 'build')?.outputs['image-ref']).toMatch(/@sha256:[0-9a-f]{64}$/);
    expect(stepsOf(r, 'deploy')).toMatchObject({ 'Smoke test': 'success', 'Roll back after a failed smoke test': 'skipped' });
    expect(job(r, 'deploy')?.environment).toEqual({ name: 'production', url: `http://${wl.target.address}:${PORT}` });
    expect((await wl.answering(PORT)).gitSha).toBe(sha.good);
    // Nothing failed: no issue opened, none to close.
    expect(wl.github.calls('issues/create')).toEqual([]);
    const statuses = wl.github.calls('repos/create-deployment-status').map((c) => (c.body as { state: string }).state);
    expect(statuses).toEqual(['in_progress', 'success']);
  }, 1_500_000);

  it('2. a release that fails its smoke test is rolled back by the workflow\'s own step, with no failed request; one failure issue is opened', async () => {
    const r = await wl.run('2. failed smoke test → rollback step', { workflow: WORKFLOW, event: afterCi(sha.broken, sha.fixed), settings: settings(), repository: repoDir, load: { port: PORT } });
    expect(stepsOf(r, 'deploy')).toMatchObject({ 'Swap the container': 'success', 'Smoke test': 'failure', 'Roll back after a failed smoke test': 'success' });
    expect(job(r, 'deploy')?.result).toBe('failure');
    expect(r.run.conclusion).toBe('failure');
    const smoke = job(r, 'deploy')?.steps.find((s) => s.name === 'Smoke test');
    expect(smoke?.run?.log).toMatch(/stale-build/);
    // The previous release serves again, from the container the deploy kept warm: on standby,
    // still running, the very one the rollback step went back to, without a start.
    expect((await wl.answering(PORT)).gitSha).toBe(sha.good);
    const warm = standbyRollback(r, 'deploy', { deploy: 'Swap the container', rollback: 'Roll back after a failed smoke test' });
    expect(warm.standby).toMatch(/^ocr-/);
    expect(warm.rolledBackTo).toBe(warm.standby);
    expect(warm.log).toMatch(/is still running \(on standby\): the rollback switches back to it without a start/);
    expect(r.load?.summary.failed).toBe(0);
    expect(r.load?.summary.total).toBeGreaterThan(100);
    expect(r.load?.failures).toEqual([]);
    const created = wl.github.calls('issues/create');
    expect(created.length).toBe(1);
    expect((created[0]?.body as { title: string }).title).toMatch(/failing on main/);
    expect([...wl.github.issues.values()].filter((i) => i['state'] === 'open').length).toBe(1);
    wl.github.assertConforming();
  }, 1_500_000);

  it('3. the fix deploys green under load, and notify closes the failure issue', async () => {
    const r = await wl.run('3. the fix, green again', { workflow: WORKFLOW, event: afterCi(sha.fixed, sha.fixed), settings: settings(), repository: repoDir, load: { port: PORT } });
    expect(failedSteps(r)).toEqual([]);
    expect(r.run.conclusion).toBe('success');
    expect((await wl.answering(PORT)).gitSha).toBe(sha.fixed);
    expect(r.load?.summary.failed).toBe(0);
    expect(r.load?.failures).toEqual([]);
    expect(wl.github.calls('issues/create').length).toBe(1);
    expect([...wl.github.issues.values()].map((i) => i['state'])).toEqual(['closed']);
    wl.github.assertConforming();
  }, 1_500_000);

  it('4. a manual rollback (workflow_dispatch, rollback: true, a reason) goes back to the previous release under load', async () => {
    const r = await wl.run('4. manual rollback', {
      workflow: WORKFLOW,
      event: workflowDispatchEvent({ repository: { fullName: REPOSITORY }, sha: sha.fixed, actor: 'ops-oncall' }),
      settings: { ...settings(), inputs: { rollback: true, reason: 'the fix slows uploads down' } },
      repository: repoDir,
      load: { port: PORT },
    });
    expect(failedSteps(r)).toEqual([]);
    expect(r.run.jobs.map((j) => [j.id, j.result])).toEqual([
      ['plan', 'success'],
      ['build', 'skipped'],
      ['deploy', 'success'],
      ['notify', 'success'],
    ]);
    expect(job(r, 'plan')?.outputs['mode']).toBe('rollback');
    expect(job(r, 'plan')?.steps[0]?.run?.summary).toContain('by @ops-oncall: the fix slows uploads down');
    expect(stepsOf(r, 'deploy')).toMatchObject({ 'Swap the container': 'success', 'Smoke test': 'skipped' });
    expect((await wl.answering(PORT)).gitSha).toBe(sha.good);
    expect(r.load?.summary.failed).toBe(0);
    expect(r.load?.failures).toEqual([]);
  }, 1_500_000);

  it('5. maintenance asked for without APP_HOSTNAME stops in the plan, saying what to set; nothing is deployed', async () => {
    const r = await wl.run('5. maintenance without APP_HOSTNAME', {
      workflow: WORKFLOW,
      event: workflowDispatchEvent({ repository: { fullName: REPOSITORY }, sha: sha.fixed, actor: 'ops-oncall' }),
      settings: { ...settings(), inputs: { maintenance: 'on', 'maintenance-message': 'Back soon', reason: 'database migration' } },
      repository: repoDir,
    });
    expect(r.run.jobs.map((j) => [j.id, j.result])).toEqual([
      ['plan', 'failure'],
      ['build', 'skipped'],
      ['deploy', 'skipped'],
      ['notify', 'success'],
    ]);
    const decide = job(r, 'plan')?.steps.find((s) => s.name === 'Decide');
    // An error annotation, as GitHub shows it on the run's page.
    expect(decide?.error).toMatch(/^maintenance: on asks the server's shared edge .*no APP_HOSTNAME variable.*Set APP_HOSTNAME/);
    expect(decide?.run?.annotations.map((x) => [x.level, x.properties['title']])).toEqual([['error', 'Maintenance needs the shared edge']]);
    // The app was not touched: the manual rollback's release still answers on its port.
    expect((await wl.answering(PORT)).gitSha).toBe(sha.good);
  }, 300_000);
});

describe('deploy.yml with APP_HOSTNAME on the lab: the shared edge, and maintenance from Run workflow', () => {
  const name = `ocr-${randomBytes(3).toString('hex')}.edge.test`;
  let edge: ReleaseScenario | undefined;
  let ew: WorkflowLab;
  let esha: ReleaseScenario['sha'];
  const edgeSettings = () => ew.settings('ocr', { edge: name });
  const dispatch = (inputs: Record<string, string>) => ({
    workflow: WORKFLOW,
    event: workflowDispatchEvent({ repository: { fullName: REPOSITORY }, sha: esha.fixed, actor: 'ops-oncall' }),
    settings: { ...edgeSettings(), inputs: { reason: 'database migration', ...inputs } },
    repository: edge?.repo.dir ?? '',
    load: { port: 80, hostname: name },
  });
  /** The app's containers on the target: id, name and state. */
  const appContainers = async () =>
    (await ew.docker.listContainers({ all: true, filters: { label: ['gangway.app=ocr'] } })).map((c) => `${c.Id} ${c.Names.join(',')} ${c.State}`).sort();

  beforeAll(async () => {
    edge = await openReleaseScenario({ target: 1, app: APP, edge: true });
    ({ wl: ew, sha: esha } = edge);
  }, 300_000);

  afterAll(async () => {
    await edge?.close();
  }, 120_000);

  it('e1. a green CI run deploys the app behind the shared edge on port 80 under its name; the smoke test reaches it by name', async () => {
    // The edge's default image, as the workflow names none: the lab's stand-in is tagged caddy:2.
    expect((await ew.docker.getImage('caddy:2').inspect()).RepoTags).toContain('caddy:2');
    const r = await ew.run('e1. green CI run behind the edge', { workflow: WORKFLOW, event: afterCi(esha.good, esha.fixed), settings: edgeSettings(), repository: edge?.repo.dir ?? '' });
    expect(failedSteps(r)).toEqual([]);
    expect(stepsOf(r, 'deploy')).toMatchObject({ 'Swap the container': 'success', 'Smoke test': 'success', 'Roll back after a failed smoke test': 'skipped' });
    expect(job(r, 'deploy')?.environment).toEqual({ name: 'production', url: `http://${name}` });
    expect((await ew.answering({ edge: name })).gitSha).toBe(esha.good);
    // Through the edge, not a port of its own: no ocr-proxy, nothing published on 8080.
    const edges = await ew.docker.listContainers({ filters: { label: ['gangway.role=edge'] } });
    expect(edges.map((c) => c.Names[0])).toEqual(['/gangway-edge']);
    expect((await ew.docker.listContainers({ all: true })).filter((c) => c.Names.includes('/ocr-proxy'))).toEqual([]);
    const apps = await ew.docker.listContainers({ filters: { label: ['gangway.app=ocr'] } });
    expect(apps.length).toBeGreaterThan(0);
    expect(apps.flatMap((c) => c.Ports.filter((p) => p.PublicPort !== undefined))).toEqual([]);
  }, 1_500_000);

  it('e2. Run workflow with maintenance on and a message: the page only (no build, no container changed, no smoke test); the edge answers 503 + Retry-After + the message', async () => {
    const before = await appContainers();
    const r = await ew.run('e2. maintenance on', dispatch({ maintenance: 'on', 'maintenance-message': 'Back at 14:00 UTC' }));
    expect(failedSteps(r)).toEqual([]);
    expect(r.run.jobs.map((j) => [j.id, j.result])).toEqual([
      ['plan', 'success'],
      ['build', 'skipped'],
      ['deploy', 'success'],
      ['notify', 'success'],
    ]);
    expect(job(r, 'plan')?.outputs['mode']).toBe('maintenance');
    const summary = job(r, 'plan')?.steps[0]?.run?.summary ?? '';
    expect(summary).toContain('mode: `maintenance`');
    expect(summary).toContain('maintenance page only: no build, no container changed, no smoke test');
    expect(summary).toContain('maintenance page: on ("Back at 14:00 UTC")');
    expect(stepsOf(r, 'deploy')).toMatchObject({ 'Swap the container': 'success', 'Smoke test': 'skipped', 'Roll back after a failed smoke test': 'skipped' });
    const report = JSON.parse(job(r, 'deploy')?.steps.find((s) => s.name === 'Swap the container')?.outputs['report'] ?? '{}') as { mode?: string };
    expect(report.mode).toBe('maintenance');
    const page = await ew.throughEdge(name);
    expect(page.status).toBe(503);
    expect(page.headers['retry-after']).toMatch(/^\d+$/);
    expect(page.body).toContain('Back at 14:00 UTC');
    expect(await appContainers()).toEqual(before);
    // The load by name saw the app (answers that did not fail), then the page: every failure is the
    // page's 503, none a dropped connection. (No count of requests: the run takes about 3 s now.)
    expect((r.load?.summary.total ?? 0) - (r.load?.summary.failed ?? 0)).toBeGreaterThan(0);
    expect(r.load?.summary.failed).toBeGreaterThan(0);
    expect(Object.keys(r.load?.summary.errors ?? {})).toEqual(['HTTP 503']);
  }, 1_500_000);

  it('e3. Run workflow with maintenance off: the app answers again, 0 failed under load afterwards, no container changed', async () => {
    const before = await appContainers();
    const r = await ew.run('e3. maintenance off', dispatch({ maintenance: 'off' }));
    expect(failedSteps(r)).toEqual([]);
    expect(job(r, 'plan')?.outputs['mode']).toBe('maintenance');
    expect(stepsOf(r, 'deploy')).toMatchObject({ 'Swap the container': 'success', 'Smoke test': 'skipped' });
    expect(Object.keys(r.load?.summary.errors ?? {}).filter((e) => e !== 'HTTP 503')).toEqual([]);
    expect((await ew.answering({ edge: name })).gitSha).toBe(esha.good);
    expect(await appContainers()).toEqual(before);
    const after = loadFromInside(ew.target, ew.target.address, 80, 60_000, { hostname: name });
    await new Promise((resolve) => setTimeout(resolve, 8000));
    const load = await after.stop();
    console.log(`deploy.yml edge: after maintenance off, ${load.summary.failed} failed of ${load.summary.total} (p99 ${load.summary.p99} ms)`);
    expect(load.summary.total).toBeGreaterThan(100);
    expect(load.summary.failed).toBe(0);
    expect(load.failures).toEqual([]);
  }, 1_500_000);
});
