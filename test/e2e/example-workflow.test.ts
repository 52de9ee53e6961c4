// docs/example-deploy-workflow.yml, copied as a user copies it (issue #15, scenario 4): run by
// the local workflow runner on the lab for a user's app repository (the app's Dockerfile at its
// root), with only the variables and secrets its header tells a user to create. A green push
// deploys; a push whose smoke test fails is rolled back by the file's own step under load with
// no failed request, and opens one failure issue; the fix closes it.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pushEvent } from '@gangway/workflow-runner';
import { repoRoot } from '../../scripts/actions.ts';
import { failedSteps, openReleaseScenario, REPOSITORY, rootDockerfile, stepConclusions, type ReleaseScenario, type WorkflowLab } from '../support/workflow-lab.ts';

const WORKFLOW = path.join(repoRoot, 'docs', 'example-deploy-workflow.yml');
const APP = 'myapp'; // the example's app, on its port 8080
const PORT = 8080;
let scenario: ReleaseScenario | undefined;
let wl: WorkflowLab;
let sha: ReleaseScenario['sha'];
let repoDir: string;

/** The names the header's `vars:` and `secrets:` lines tell a user to create. */
function headerNames(kind: 'vars' | 'secrets'): string[] {
  const header = readFileSync(WORKFLOW, 'utf8').split('\n').filter((l) => l.startsWith('#'));
  const start = header.findIndex((l) => new RegExp(`^#\\s+${kind}:`).test(l));
  if (start === -1) throw new Error(`the example's header has no "${kind}:" line`);
  const block: string[] = [header[start] as string];
  for (const line of header.slice(start + 1)) {
    if (/^#\s+(vars|secrets):/.test(line) || /^#\s*$/.test(line)) break;
    block.push(line);
  }
  // Names are upper-case words outside parentheses.
  const text = block.join(' ').replace(/\([^)]*\)/g, '');
  return [...text.matchAll(/\b([A-Z][A-Z0-9_]{2,})\b/g)].map((m) => m[1] as string);
}

const push = (commit: string) => pushEvent({ repository: { fullName: REPOSITORY }, sha: commit });

describe('docs/example-deploy-workflow.yml as a user copies it', () => {
  beforeAll(async () => {
    scenario = await openReleaseScenario({ target: 2, app: APP, first: (repo) => repo.commit('the app, with its Dockerfile at the root', rootDockerfile) });
    ({ wl, sha } = scenario);
    repoDir = scenario.repo.dir;
  }, 120_000);

  afterAll(async () => {
    await scenario?.close();
  }, 120_000);

  /** Only what the header names: a test that needed more would fail here. */
  const settings = () => {
    const s = wl.settings(APP);
    const vars = headerNames('vars');
    const secrets = headerNames('secrets');
    expect(Object.keys(s.vars).filter((k) => !vars.includes(k))).toEqual([]);
    expect(Object.keys(s.secrets).filter((k) => !secrets.includes(k))).toEqual([]);
    return s;
  };

  it('its header names the settings it reads, and nothing else is read', () => {
    const text = readFileSync(WORKFLOW, 'utf8');
    const used = (kind: string) => [...new Set([...text.matchAll(new RegExp(`${kind}\\.([A-Z][A-Z0-9_]*)`, 'g'))].map((m) => m[1] as string))].sort();
    expect(used('vars').filter((n) => !headerNames('vars').includes(n))).toEqual([]);
    expect(used('secrets').filter((n) => !headerNames('secrets').includes(n))).toEqual([]);
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
});
