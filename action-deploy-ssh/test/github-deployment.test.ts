// GitHub Deployments from action-deploy-ssh, against the local GitHub API that checks every
// request and response against GitHub's published OpenAPI description. The servers are
// in-memory engines (the deploy logic itself is proven on the lab elsewhere).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { Inputs, mapInputs } from '@gangway/kit';
import { startGitHubApi, type GitHubApiServer } from '../../test/support/github-api/index.ts';
import type { ConnectHost } from '../src/host/connection.ts';
import { main } from '../src/main.ts';
import { readSettings } from '../src/settings/index.ts';
import { DIGEST_V1, FakeEngine } from './fakes.ts';
import { baseInputs } from './helpers.ts';

const REPO = 'registry.example.com/team/shop';
const TOKEN = 'ghs_deploymentsTestToken0123456789';
const SHA = 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678';
let github: GitHubApiServer;
let dir: string;

function engine(): FakeEngine {
  const e = new FakeEngine();
  e.registry.push({ repository: REPO, tag: 'v1', digest: DIGEST_V1, id: 'sha256:img1' });
  return e;
}

function connectTo(result: FakeEngine | Error): ConnectHost {
  return async () => {
    if (result instanceof Error) throw result;
    return { engine: result, prober: result.prober(), transport: 'stream-local', hostKey: 'SHA256:fake', lost: () => undefined, close: () => undefined };
  };
}

function inputs(extra: Record<string, string> = {}): Inputs {
  return new Inputs(
    mapInputs(
      baseInputs({
        image: `${REPO}:v1`,
        publish: '8080',
        'readiness-timeout': '1s',
        environment: 'production',
        'environment-url': 'https://ocr.example.com',
        'github-token': TOKEN,
        'api-url': github.url,
        sha: SHA,
        ...extra,
      }),
    ),
  );
}

const env = (): NodeJS.ProcessEnv => ({ GITHUB_REPOSITORY: 'acme/shop', GITHUB_RUN_ID: '4242', GITHUB_SERVER_URL: 'https://github.com', GITHUB_ACTOR: 'octocat' });

beforeAll(async () => {
  github = await startGitHubApi({ repository: 'acme/shop', token: TOKEN });
});
afterAll(async () => {
  await github.close();
});
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'gangway-deploy-gh-'));
  for (const name of ['output', 'state', 'summary']) writeFileSync(path.join(dir, name), '');
  vi.stubEnv('GITHUB_OUTPUT', path.join(dir, 'output'));
  vi.stubEnv('GITHUB_STATE', path.join(dir, 'state'));
  vi.stubEnv('GITHUB_STEP_SUMMARY', path.join(dir, 'summary'));
});
afterEach(() => {
  vi.unstubAllEnvs();
  rmSync(dir, { recursive: true, force: true });
});

/** What the action sent as statuses of deployment `id`: state, environment_url, log_url. */
function statesOf(id: number): unknown[] {
  return github
    .calls('repos/create-deployment-status')
    .filter((c) => String(c.params.deployment_id) === String(id))
    .map((c) => {
      const body = c.body as { state: string; environment_url?: string; log_url?: string };
      return [body.state, body.environment_url ?? '', body.log_url ?? ''];
    });
}

describe('GitHub deployments', () => {
  it('records a deployment of the sha with in_progress then success, the run log and the app URL', async () => {
    const before = github.deployments.size;
    await main(new AbortController().signal, { inputs: inputs(), connect: connectTo(engine()), env: env() });
    expect(github.deployments.size).toBe(before + 1);
    const deployment = [...github.deployments.values()].at(-1)!;
    expect(deployment.ref).toBe(SHA);
    expect(deployment.environment).toBe('production');
    const create = github.calls('repos/create-deployment').at(-1)!;
    expect(create.body).toMatchObject({ auto_merge: false, required_contexts: [], environment: 'production', ref: SHA });
    expect(statesOf(deployment.id as number)).toEqual([
      ['in_progress', '', 'https://github.com/acme/shop/actions/runs/4242'],
      ['success', 'https://ocr.example.com', 'https://github.com/acme/shop/actions/runs/4242'],
    ]);
    github.assertConforming();
  });

  it('a failed deploy ends its deployment as failure, and a later success makes the earlier one inactive', async () => {
    await expect(main(new AbortController().signal, { inputs: inputs(), connect: connectTo(new Error('SSH to deploy@a failed (timeout)')), env: env() })).rejects.toThrow('timeout');
    const failed = [...github.deployments.values()].at(-1)!;
    expect(statesOf(failed.id as number).map((s) => (s as string[])[0])).toEqual(['in_progress', 'failure']);
    const lastStatus = github.deploymentStatuses.get(failed.id as number)!.at(-1)!;
    expect(lastStatus.description).toEqual(expect.stringContaining('failed: SSH to deploy@a failed (timeout)'));

    const previous = [...github.deployments.values()].filter((d) => d.environment === 'production').at(-2)!;
    await main(new AbortController().signal, { inputs: inputs(), connect: connectTo(engine()), env: env() });
    const statesOfPrevious = (github.deploymentStatuses.get(previous.id as number) ?? []).map((s) => s.state);
    expect(statesOfPrevious.at(-1)).toBe('inactive');
    github.assertConforming();
  });

  it('a GitHub outage is a warning: the deploy itself goes on and succeeds', async () => {
    const writes: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      writes.push(String(chunk));
      return true;
    });
    try {
      github.failNext('repos/create-deployment', 503);
      const before = github.deployments.size;
      await main(new AbortController().signal, { inputs: inputs(), connect: connectTo(engine()), env: env() });
      expect(github.deployments.size).toBe(before);
    } finally {
      spy.mockRestore();
    }
    expect(writes.join('')).toMatch(/::warning::No GitHub deployment recorded \(production\): HTTP 503/);
  });

  it('records nothing without environment, and checks the inputs that go with it', () => {
    expect(readSettings(new Inputs(mapInputs(baseInputs({ image: `${REPO}:v1` })))).github).toBeUndefined();
    expect(() => readSettings(new Inputs(mapInputs(baseInputs({ image: `${REPO}:v1`, 'environment-url': 'https://x.example' }))))).toThrow(/"environment-url" is set but "environment" is not/);
    expect(() => readSettings(inputs({ 'environment-url': 'ftp://x' }))).toThrow(/not an http\(s\) URL/);
    expect(() => readSettings(inputs({ 'github-token': '' }))).toThrow(/Input "github-token" is empty/);
    expect(() => readSettings(inputs({ sha: 'main$(id)' }))).toThrow(/Input "sha" .* not a commit sha/);
  });
});
