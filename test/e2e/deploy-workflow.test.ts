// .github/workflows/deploy.yml itself, run by the local workflow runner on the lab (issue #15):
// the YAML a user copies, not a TypeScript copy of its sequence. Four runs on gw-target2, each
// but the first under steady load on the app's public port from inside the target:
//   1. a green CI run of main (workflow_run): plan → build → VPN → deploy → smoke → notify;
//   2. a release whose smoke test fails (it answers a stale version): the workflow's own
//      rollback step restores the previous container; notify opens one failure issue;
//   3. the fix, green again: notify closes the issue;
//   4. a manual rollback (workflow_dispatch, rollback: true, a reason).
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { workflowDispatchEvent, workflowRunEvent, type SyntheticEvent } from '@gangway/workflow-runner';
import { repoRoot } from '../../scripts/actions.ts';
import { failedSteps, openReleaseScenario, REPOSITORY, stepConclusions, type RecordedRun, type ReleaseScenario, type WorkflowLab } from '../support/workflow-lab.ts';

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
    // The previous release serves again, from the container the deploy kept warm.
    expect((await wl.answering(PORT)).gitSha).toBe(sha.good);
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
});
