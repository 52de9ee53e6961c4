// docs/example-deploy-workflow.yml, copied as a user copies it (issue #15, scenario 4): run by
// the local workflow runner on the lab for a user's app repository (the app's Dockerfile at its
// root), with only the variables and secrets its header tells a user to create. A green push
// deploys; a push whose smoke test fails is rolled back by the file's own step under load with
// no failed request, and opens one failure issue; the fix closes it; Run workflow with maintenance
// but no APP_HOSTNAME stops at once, saying what to set. On gw-target1, with the optional edge
// settings (APP_HOSTNAME, APP_TLS off, APP_RESOLVE; issue #18): a push deploys the app behind the
// target's shared edge, Run workflow with maintenance on switches the page only (503 + Retry-After +
// the message, no build, no container changed, no smoke test), and maintenance off brings the app back
// with 0 failed under load afterwards.
// docs/example-roles-workflow.yml on the same app after the fix (issue #20): a push deploys it as a web,
// 2 workers and a Redis accessory under load with no failed request, and Run workflow with
// upgrade-accessories redis (the file's image line edited) moves Redis alone, the web and workers
// untouched, the OCR smoke test then passing through the new Redis.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pushEvent, workflowDispatchEvent } from '@gangway/workflow-runner';
import { loadFromInside } from '../../lab/src/testing/load-inside.ts';
import { ensureRedisImage } from '../../lab/src/redis-image.ts';
import { repoRoot } from '../../scripts/actions.ts';
import type { DeployReport } from '../../action-deploy-ssh/src/report.ts';
import { headerSettings as exampleSettings, unnamedInHeader } from '../support/example-header.ts';
import { failedSteps, openReleaseScenario, REPOSITORY, rootDockerfile, standbyRollback, stepConclusions, type ReleaseScenario, type WorkflowLab } from '../support/workflow-lab.ts';

const WORKFLOW = path.join(repoRoot, 'docs', 'example-deploy-workflow.yml');
const ROLES_WORKFLOW = path.join(repoRoot, 'docs', 'example-roles-workflow.yml');
const APP = 'myapp'; // the example's app, on its port 8080
const PORT = 8080;
let scenario: ReleaseScenario | undefined;
let wl: WorkflowLab;
let sha: ReleaseScenario['sha'];
let repoDir: string;

const push = (commit: string) => pushEvent({ repository: { fullName: REPOSITORY }, sha: commit });

/** Only what the header names: a test that needed more would fail here. */
function headerSettings(wl: WorkflowLab, options: { edge?: string; workflow?: string } = {}) {
  return exampleSettings(wl, APP, options.workflow ?? WORKFLOW, options.edge ? { edge: options.edge } : {});
}

describe('docs/example-deploy-workflow.yml as a user copies it', () => {
  beforeAll(async () => {
    scenario = await openReleaseScenario({ target: 2, app: APP, first: (repo) => repo.commit('the app, with its Dockerfile at the root', rootDockerfile) });
    ({ wl, sha } = scenario);
    repoDir = scenario.repo.dir;
  }, 120_000);

  afterAll(async () => {
    await scenario?.close();
  }, 120_000);

  const settings = () => headerSettings(wl);

  it('its header names the settings it reads, and nothing else is read', () => {
    expect(unnamedInHeader(WORKFLOW)).toEqual({ vars: [], secrets: [] });
  });

  it('a green push builds, deploys and smoke-tests the commit', async () => {
    const r = await wl.run('example: green push (first deploy)', { workflow: WORKFLOW, event: push(sha.good), settings: settings(), repository: repoDir });
    expect(failedSteps(r)).toEqual([]);
    expect(r.run.jobs.map((j) => [j.id, j.result])).toEqual([
      ['deploy', 'success'],
      ['notify', 'success'],
    ]);
    expect(stepConclusions(r, 'deploy')).toMatchObject({ 'Build and push': 'success', Deploy: 'success', 'Smoke test': 'success', 'Roll back after a failed smoke test': 'skipped' });
    expect((await wl.answering(PORT)).gitSha).toBe(sha.good);
  }, 1_500_000);

  it('a push whose smoke test fails is rolled back by the file\'s own step, with no failed request; one failure issue is opened', async () => {
    const r = await wl.run('example: failed smoke test → rollback step', { workflow: WORKFLOW, event: push(sha.broken), settings: settings(), repository: repoDir, load: { port: PORT } });
    expect(stepConclusions(r, 'deploy')).toMatchObject({ Deploy: 'success', 'Smoke test': 'failure', 'Roll back after a failed smoke test': 'success' });
    expect((await wl.answering(PORT)).gitSha).toBe(sha.good);
    // standby: 15m kept the previous container running; the rollback step went back to it without a start.
    const warm = standbyRollback(r, 'deploy', { deploy: 'Deploy', rollback: 'Roll back after a failed smoke test' });
    expect(warm.standby).toMatch(/^myapp-/);
    expect(warm.rolledBackTo).toBe(warm.standby);
    expect(warm.log).toMatch(/is still running \(on standby\): the rollback switches back to it without a start/);
    expect(r.load?.summary.failed).toBe(0);
    expect(r.load?.summary.total).toBeGreaterThan(100);
    expect(r.load?.failures).toEqual([]);
    expect(wl.github.calls('issues/create').length).toBe(1);
    wl.github.assertConforming();
  }, 1_500_000);

  it('the fix deploys green under load and closes the issue', async () => {
    const r = await wl.run('example: the fix', { workflow: WORKFLOW, event: push(sha.fixed), settings: settings(), repository: repoDir, load: { port: PORT } });
    expect(failedSteps(r)).toEqual([]);
    expect((await wl.answering(PORT)).gitSha).toBe(sha.fixed);
    expect(r.load?.summary.failed).toBe(0);
    expect([...wl.github.issues.values()].map((i) => i['state'])).toEqual(['closed']);
    wl.github.assertConforming();
  }, 1_500_000);

  // docs/example-roles-workflow.yml on the same app, after the fix: the web, 2 workers and Redis.
  const rolesSettings = () => headerSettings(wl, { workflow: ROLES_WORKFLOW });
  const running = async (label: string) =>
    (await wl.docker.listContainers({ filters: { label: [`gangway.app=${APP}`, label] } })).map((c) => ({ id: c.Id, name: (c.Names[0] ?? '').replace(/^\//, ''), labels: c.Labels })).sort((a, b) => a.name.localeCompare(b.name));
  const deployReport = (r: Awaited<ReturnType<WorkflowLab['run']>>) =>
    JSON.parse(r.run.jobs.find((j) => j.id === 'deploy')?.steps.find((s) => s.name === 'Deploy')?.outputs['report'] ?? '{}') as DeployReport;

  it('docs/example-roles-workflow.yml: its header names what it reads; a push deploys the web, 2 workers and Redis under load, none failed', async () => {
    expect(unnamedInHeader(ROLES_WORKFLOW)).toEqual({ vars: [], secrets: [] });
    // The accessory's image as a server that can pull redis:7-bookworm has it (the lab reaches no Docker Hub).
    await ensureRedisImage(wl.target.dockerSocket);
    const r = await wl.run('roles example: push', { workflow: ROLES_WORKFLOW, event: push(sha.fixed), settings: rolesSettings(), repository: repoDir, load: { port: PORT } });
    expect(failedSteps(r)).toEqual([]);
    expect(stepConclusions(r, 'deploy')).toMatchObject({ 'Build and push': 'success', Deploy: 'success', 'Smoke test': 'success', 'Roll back after a failed smoke test': 'skipped' });
    expect((await wl.answering(PORT)).gitSha).toBe(sha.fixed);
    const web = await running('gangway.role=app');
    const workers = await running('gangway.role=worker');
    expect(web.map((c) => c.name)).toHaveLength(1);
    expect(workers.map((c) => [c.labels['gangway.worker-role'], c.labels['gangway.release']])).toEqual([
      ['worker', web[0]?.name],
      ['worker', web[0]?.name],
    ]);
    expect((await running('gangway.role=accessory')).map((c) => c.name)).toEqual([`${APP}-redis`]);
    const report = deployReport(r);
    expect(report.hosts[0]?.roles?.map((x) => [x.role, x.containers.length])).toEqual([['worker', 2]]);
    expect(report.hosts[0]?.accessories?.map((a) => [a.name, a.action])).toEqual([['redis', 'created']]);
    console.log(`roles example, push: ${r.load?.summary.failed} failed of ${r.load?.summary.total} under load`);
    expect(r.load?.summary.total).toBeGreaterThan(100);
    expect(r.load?.summary.failed).toBe(0);
  }, 1_500_000);

  it('docs/example-roles-workflow.yml: Run workflow with upgrade-accessories redis moves Redis only; the OCR smoke test passes through the new one', async () => {
    // The file as a user edits it before the upgrade: a new image line for Redis.
    const dir = mkdtempSync(path.join(tmpdir(), 'gangway-roles-example-'));
    const edited = path.join(dir, 'example-roles-workflow.yml');
    const text = readFileSync(ROLES_WORKFLOW, 'utf8');
    expect(text).toContain('image: redis:7-bookworm');
    writeFileSync(edited, text.replace('image: redis:7-bookworm', 'image: redis:7'));
    const before = { web: await running('gangway.role=app'), workers: await running('gangway.role=worker'), redis: await running('gangway.role=accessory') };
    try {
      const r = await wl.run('roles example: upgrade redis', {
        workflow: edited,
        event: workflowDispatchEvent({ repository: { fullName: REPOSITORY }, sha: sha.fixed, actor: 'ops-oncall' }),
        settings: { ...rolesSettings(), inputs: { 'upgrade-accessories': 'redis' } },
        repository: repoDir,
      });
      expect(failedSteps(r)).toEqual([]);
      expect(stepConclusions(r, 'deploy')).toMatchObject({ 'Build and push': 'skipped', Deploy: 'success', 'Smoke test': 'success' });
      const report = deployReport(r);
      expect(report.mode).toBe('accessory-upgrade');
      const [redis] = report.hosts[0]?.accessories ?? [];
      expect([redis?.name, redis?.action, redis?.previousImage, redis?.image]).toEqual(['redis', 'upgraded', 'redis:7-bookworm', 'redis:7']);
      console.log(`roles example, upgrade: Redis gap ${redis?.gapMs ?? '?'} ms`);
      const after = await running('gangway.role=accessory');
      expect(after.map((c) => c.name)).toEqual([`${APP}-redis`]);
      expect(after[0]?.id).not.toBe(before.redis[0]?.id);
      expect(await running('gangway.role=app')).toEqual(before.web);
      expect(await running('gangway.role=worker')).toEqual(before.workers);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 1_500_000);

  it('Run workflow with maintenance but no APP_HOSTNAME stops before anything, saying what to set', async () => {
    const r = await wl.run('example: maintenance without APP_HOSTNAME', {
      workflow: WORKFLOW,
      event: workflowDispatchEvent({ repository: { fullName: REPOSITORY }, sha: sha.fixed, actor: 'ops-oncall' }),
      settings: { ...settings(), inputs: { maintenance: 'on' } },
      repository: repoDir,
    });
    expect(r.run.jobs.find((j) => j.id === 'deploy')?.result).toBe('failure');
    const steps = stepConclusions(r, 'deploy');
    expect(steps).toMatchObject({ 'Maintenance needs the shared edge': 'failure', 'Build and push': 'skipped', Deploy: 'skipped', 'Smoke test': 'skipped' });
    const guard = r.run.jobs.find((j) => j.id === 'deploy')?.steps.find((s) => s.name === 'Maintenance needs the shared edge');
    expect(guard?.error).toMatch(/^maintenance is a page of the server's shared edge, .*no APP_HOSTNAME variable.*Set APP_HOSTNAME/);
    expect(guard?.run?.annotations.map((x) => [x.level, x.properties['title']])).toEqual([['error', 'Maintenance needs the shared edge']]);
    expect((await wl.answering(PORT)).gitSha).toBe(sha.fixed);
  }, 300_000);
});

describe('docs/example-deploy-workflow.yml with APP_HOSTNAME: the shared edge, and maintenance from Run workflow', () => {
  const name = `myapp-${randomBytes(3).toString('hex')}.edge.test`;
  let edge: ReleaseScenario | undefined;
  let ew: WorkflowLab;
  let esha: ReleaseScenario['sha'];
  const dispatch = (inputs: Record<string, string>) => ({
    workflow: WORKFLOW,
    event: workflowDispatchEvent({ repository: { fullName: REPOSITORY }, sha: esha.good, actor: 'ops-oncall' }),
    settings: { ...headerSettings(ew, { edge: name }), inputs },
    repository: edge?.repo.dir ?? '',
    load: { port: 80, hostname: name },
  });
  const appContainers = async () =>
    (await ew.docker.listContainers({ all: true, filters: { label: [`gangway.app=${APP}`] } })).map((c) => `${c.Id} ${c.Names.join(',')} ${c.State}`).sort();

  beforeAll(async () => {
    edge = await openReleaseScenario({ target: 1, app: APP, edge: true, first: (repo) => repo.commit('the app, with its Dockerfile at the root', rootDockerfile) });
    ({ wl: ew, sha: esha } = edge);
  }, 300_000);

  afterAll(async () => {
    await edge?.close();
  }, 120_000);

  it('a push deploys the app behind the shared edge under its name; the smoke test reaches it by name', async () => {
    const r = await ew.run('example edge: green push', { workflow: WORKFLOW, event: push(esha.good), settings: headerSettings(ew, { edge: name }), repository: edge?.repo.dir ?? '' });
    expect(failedSteps(r)).toEqual([]);
    expect(stepConclusions(r, 'deploy')).toMatchObject({ 'Maintenance needs the shared edge': 'skipped', 'Build and push': 'success', Deploy: 'success', 'Smoke test': 'success' });
    expect((await ew.answering({ edge: name })).gitSha).toBe(esha.good);
    expect((await ew.docker.listContainers({ filters: { label: ['gangway.role=edge'] } })).map((c) => c.Names[0])).toEqual(['/gangway-edge']);
    expect((await ew.docker.listContainers({ all: true })).filter((c) => c.Names.includes(`/${APP}-proxy`))).toEqual([]);
  }, 1_500_000);

  it('Run workflow with maintenance on and a message: the page only; the edge answers 503 + Retry-After + the message', async () => {
    const before = await appContainers();
    const r = await ew.run('example edge: maintenance on', dispatch({ maintenance: 'on', 'maintenance-message': 'Back at 14:00 UTC' }));
    expect(failedSteps(r)).toEqual([]);
    expect(stepConclusions(r, 'deploy')).toMatchObject({ 'Maintenance needs the shared edge': 'skipped', 'Build and push': 'skipped', Deploy: 'success', 'Smoke test': 'skipped', 'Roll back after a failed smoke test': 'skipped' });
    const deployStep = r.run.jobs.find((j) => j.id === 'deploy')?.steps.find((s) => s.name === 'Deploy');
    expect((JSON.parse(deployStep?.outputs['report'] ?? '{}') as { mode?: string }).mode).toBe('maintenance');
    const page = await ew.throughEdge(name);
    expect(page.status).toBe(503);
    expect(page.headers['retry-after']).toMatch(/^\d+$/);
    expect(page.body).toContain('Back at 14:00 UTC');
    expect(await appContainers()).toEqual(before);
    // The app answered, then the page: its 503s are the only failures (no count: the run takes about 3 s).
    expect((r.load?.summary.total ?? 0) - (r.load?.summary.failed ?? 0)).toBeGreaterThan(0);
    expect(r.load?.summary.failed).toBeGreaterThan(0);
    expect(Object.keys(r.load?.summary.errors ?? {})).toEqual(['HTTP 503']);
  }, 1_500_000);

  it('Run workflow with maintenance off: the app answers again, 0 failed under load afterwards', async () => {
    const before = await appContainers();
    const r = await ew.run('example edge: maintenance off', dispatch({ maintenance: 'off' }));
    expect(failedSteps(r)).toEqual([]);
    expect(stepConclusions(r, 'deploy')).toMatchObject({ 'Build and push': 'skipped', Deploy: 'success', 'Smoke test': 'skipped' });
    expect(Object.keys(r.load?.summary.errors ?? {}).filter((e) => e !== 'HTTP 503')).toEqual([]);
    expect((await ew.answering({ edge: name })).gitSha).toBe(esha.good);
    expect(await appContainers()).toEqual(before);
    const after = loadFromInside(ew.target, ew.target.address, 80, 60_000, { hostname: name });
    await new Promise((resolve) => setTimeout(resolve, 8000));
    const load = await after.stop();
    console.log(`example edge: after maintenance off, ${load.summary.failed} failed of ${load.summary.total} (p99 ${load.summary.p99} ms)`);
    expect(load.summary.total).toBeGreaterThan(100);
    expect(load.summary.failed).toBe(0);
    expect(load.failures).toEqual([]);
  }, 1_500_000);
});
