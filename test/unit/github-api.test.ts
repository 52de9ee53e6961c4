import { getOctokit } from '@actions/github';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGitHubApi, type GitHubApiServer } from '../support/github-api/index.ts';

const token = 'ghs_' + 'x'.repeat(36);
let github: GitHubApiServer;
let octokit: ReturnType<typeof getOctokit>;

beforeAll(async () => {
  github = await startGitHubApi({ repository: 'acme/shop', token });
  octokit = getOctokit(token, { baseUrl: github.url });
});
afterAll(() => github.close());

describe('the GitHub API test server', () => {
  it('opens, lists by label, comments on and closes issues with responses that match the description', async () => {
    const created = await octokit.rest.issues.create({ owner: 'acme', repo: 'shop', title: 'Deploy failing on main', body: 'x', labels: ['gangway-failure'] });
    expect(created.status).toBe(201);
    expect(created.data).toMatchObject({ number: 1, state: 'open', title: 'Deploy failing on main', labels: [{ name: 'gangway-failure' }] });
    expect(created.data.pull_request).toBeUndefined();
    await octokit.rest.issues.create({ owner: 'acme', repo: 'shop', title: 'unrelated' });
    const listed = await octokit.rest.issues.listForRepo({ owner: 'acme', repo: 'shop', labels: 'gangway-failure', state: 'open' });
    expect(listed.data.map((i) => i.number)).toEqual([1]);
    const comment = await octokit.rest.issues.createComment({ owner: 'acme', repo: 'shop', issue_number: 1, body: 'again' });
    expect(comment.data.body).toBe('again');
    const closed = await octokit.rest.issues.update({ owner: 'acme', repo: 'shop', issue_number: 1, state: 'closed', state_reason: 'completed' });
    expect(closed.data).toMatchObject({ state: 'closed', comments: 1 });
    expect((await octokit.rest.issues.listForRepo({ owner: 'acme', repo: 'shop', labels: 'gangway-failure' })).data).toEqual([]);
    github.assertConforming();
  });

  it('records what the description does not allow, and answers as GitHub would', async () => {
    const before = github.violations.length;
    await expect(octokit.request('POST /repos/{owner}/{repo}/issues', { owner: 'acme', repo: 'shop', body: 'no title', labels: 'not-an-array' } as never)).rejects.toMatchObject({ status: 422 });
    await expect(octokit.request('GET /repos/{owner}/{repo}/issues', { owner: 'acme', repo: 'shop', state: 'sideways' as 'open' })).rejects.toMatchObject({ status: 422 });
    await expect(octokit.request('GET /repos/{owner}/{repo}/issues', { owner: 'acme', repo: 'shop', colour: 'red' })).rejects.toMatchObject({ status: 422 });
    await expect(octokit.request('GET /repos/{owner}/{repo}/not-a-thing', { owner: 'acme', repo: 'shop' })).rejects.toMatchObject({ status: 404 });
    await expect(octokit.request('DELETE /repos/{owner}/{repo}/issues/{issue_number}', { owner: 'acme', repo: 'shop', issue_number: 1 })).rejects.toMatchObject({ status: 404 });
    await expect(octokit.request('GET /repos/{owner}/{repo}/issues/{issue_number}', { owner: 'acme', repo: 'shop', issue_number: 'one' as unknown as number })).rejects.toMatchObject({ status: 422 });
    const found = github.violations.slice(before);
    expect(found.join('\n')).toMatch(/request body \/labels must be array/);
    expect(found.join('\n')).toMatch(/query parameter state="sideways"/);
    expect(found.join('\n')).toMatch(/"colour" is not a parameter of issues\/list-for-repo/);
    expect(found.join('\n')).toMatch(/no such path/);
    expect(found.join('\n')).toMatch(/has no DELETE/);
    expect(found.join('\n')).toMatch(/path parameter issue_number="one"/);
    expect(found.join('\n')).toMatch(/required property 'title'/);
    github.violations.splice(before);
  });

  it('refuses a request without the job token', async () => {
    const other = getOctokit('ghs_wrong', { baseUrl: github.url });
    await expect(other.rest.issues.get({ owner: 'acme', repo: 'shop', issue_number: 1 })).rejects.toMatchObject({ status: 401 });
    expect(github.violations.pop()).toMatch(/a token other than the one the job was given/);
    expect(github.requests.at(-1)?.auth).toBe('<other token>');
  });

  it('serves the jobs of a run attempt and their logs through the redirect', async () => {
    github.addWorkflowRun({
      id: 42,
      jobs: [
        { name: 'build', conclusion: 'success', steps: [{ name: 'Build', conclusion: 'success' }] },
        { name: 'deploy', conclusion: 'failure', steps: [{ name: 'Deploy', conclusion: 'failure' }], log: '2026-01-01T00:00:00Z line 1\n2026-01-01T00:00:01Z boom\n' },
      ],
    });
    const { data } = await octokit.rest.actions.listJobsForWorkflowRunAttempt({ owner: 'acme', repo: 'shop', run_id: 42, attempt_number: 1 });
    expect(data.jobs.map((j) => [j.name, j.conclusion, j.steps?.[0]?.conclusion])).toEqual([
      ['build', 'success', 'success'],
      ['deploy', 'failure', 'failure'],
    ]);
    const deploy = data.jobs[1];
    const log = await octokit.rest.actions.downloadJobLogsForWorkflowRun({ owner: 'acme', repo: 'shop', job_id: deploy?.id ?? 0 });
    expect(String(log.data)).toContain('boom');
    const run = await octokit.rest.actions.getWorkflowRun({ owner: 'acme', repo: 'shop', run_id: 42 });
    expect(run.data).toMatchObject({ id: 42, head_branch: 'main', conclusion: 'failure' });
    github.assertConforming();
  });

  it('keeps deployments and their statuses, marking older successes inactive', async () => {
    const sha = 'a'.repeat(40);
    const first = await octokit.rest.repos.createDeployment({ owner: 'acme', repo: 'shop', ref: sha, environment: 'production', auto_merge: false, required_contexts: [] });
    expect(first.status).toBe(201);
    const firstId = (first.data as { id: number }).id;
    await octokit.rest.repos.createDeploymentStatus({ owner: 'acme', repo: 'shop', deployment_id: firstId, state: 'success', environment_url: 'http://198.19.0.1:8080' });
    const second = await octokit.rest.repos.createDeployment({ owner: 'acme', repo: 'shop', ref: 'main', environment: 'production', auto_merge: false, required_contexts: [], payload: { digest: 'sha256:1' } });
    const secondId = (second.data as { id: number }).id;
    await octokit.rest.repos.createDeploymentStatus({ owner: 'acme', repo: 'shop', deployment_id: secondId, state: 'in_progress' });
    await octokit.rest.repos.createDeploymentStatus({ owner: 'acme', repo: 'shop', deployment_id: secondId, state: 'success', log_url: 'https://github.com/acme/shop/actions/runs/1' });
    const statuses = await octokit.rest.repos.listDeploymentStatuses({ owner: 'acme', repo: 'shop', deployment_id: firstId });
    expect(statuses.data.map((s) => s.state)).toEqual(['inactive', 'success']);
    const listed = await octokit.rest.repos.listDeployments({ owner: 'acme', repo: 'shop', environment: 'production' });
    expect(listed.data.map((d) => d.id)).toEqual([secondId, firstId]);
    expect(github.calls('repos/create-deployment-status').map((c) => (c.body as { state: string }).state)).toEqual(['success', 'in_progress', 'success']);
    github.assertConforming();
  });

  it('pages lists with a Link header that octokit.paginate follows', async () => {
    for (let i = 0; i < 5; i++) await octokit.rest.issues.create({ owner: 'acme', repo: 'shop', title: `page ${i}`, labels: ['paged'] });
    const all = await octokit.paginate(octokit.rest.issues.listForRepo, { owner: 'acme', repo: 'shop', labels: 'paged', per_page: 2 });
    expect(all).toHaveLength(5);
    github.assertConforming();
  });

  it('fails an operation on demand, as GitHub does', async () => {
    github.failNext('issues/create', 503, { message: 'Service unavailable' });
    await expect(octokit.rest.issues.create({ owner: 'acme', repo: 'shop', title: 't' })).rejects.toMatchObject({ status: 503 });
    expect((await octokit.rest.issues.create({ owner: 'acme', repo: 'shop', title: 't' })).status).toBe(201);
  });
});
