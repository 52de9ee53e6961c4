import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readEventPayload, readRunContext } from '../src/github/index.ts';

const RUN = {
  GITHUB_REPOSITORY: 'acme/shop',
  GITHUB_SERVER_URL: 'https://ghe.acme.test/',
  GITHUB_API_URL: 'https://ghe.acme.test/api/v3/',
  GITHUB_RUN_ID: '7',
  GITHUB_RUN_ATTEMPT: '2',
  GITHUB_RUN_NUMBER: '41',
  GITHUB_WORKFLOW: 'Deploy',
  GITHUB_JOB: 'deploy',
  GITHUB_SHA: 'abc123',
  GITHUB_REF: 'refs/pull/9/merge',
  GITHUB_REF_NAME: '9/merge',
  GITHUB_HEAD_REF: 'feature/x',
  GITHUB_ACTOR: 'mona',
  GITHUB_EVENT_NAME: 'pull_request',
};

describe('readRunContext', () => {
  it('reads the run from the env it is given', () => {
    expect(readRunContext(RUN)).toEqual({
      repository: 'acme/shop',
      owner: 'acme',
      repo: 'shop',
      serverUrl: 'https://ghe.acme.test',
      apiUrl: 'https://ghe.acme.test/api/v3',
      workflow: 'Deploy',
      job: 'deploy',
      runId: 7,
      runAttempt: 2,
      runNumber: 41,
      runUrl: 'https://ghe.acme.test/acme/shop/actions/runs/7/attempts/2',
      sha: 'abc123',
      ref: 'refs/pull/9/merge',
      refName: '9/merge',
      branch: 'feature/x',
      actor: 'mona',
      eventName: 'pull_request',
      eventPath: undefined,
    });
  });

  it('links the first attempt without /attempts, and the branch is the ref name outside pull requests', () => {
    const run = readRunContext({ ...RUN, GITHUB_RUN_ATTEMPT: '1', GITHUB_HEAD_REF: '', GITHUB_REF_NAME: 'main' });
    expect(run.runUrl).toBe('https://ghe.acme.test/acme/shop/actions/runs/7');
    expect(run.branch).toBe('main');
  });

  it('outside a run: empty values, no run URL, github.com', () => {
    const run = readRunContext({});
    expect(run).toMatchObject({ repository: '', owner: '', repo: '', runId: 0, runAttempt: 1, runNumber: 0, runUrl: undefined, sha: '', actor: '', serverUrl: 'https://github.com', apiUrl: 'https://api.github.com' });
    expect(readRunContext({ GITHUB_REPOSITORY: 'acme/shop', GITHUB_RUN_ID: 'x', GITHUB_RUN_ATTEMPT: '0' })).toMatchObject({ runId: 0, runAttempt: 1, runUrl: undefined });
  });
});

describe('readEventPayload', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'kit-event-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads the JSON file GITHUB_EVENT_PATH names, and gives {} for none, a missing file or bad JSON', () => {
    const good = path.join(dir, 'event.json');
    writeFileSync(good, JSON.stringify({ repository: { default_branch: 'main' } }));
    const bad = path.join(dir, 'bad.json');
    writeFileSync(bad, '{ not json');
    expect(readEventPayload({ GITHUB_EVENT_PATH: good })).toEqual({ repository: { default_branch: 'main' } });
    expect(readRunContext({ GITHUB_EVENT_PATH: good }).eventPath).toBe(good);
    expect(readEventPayload({})).toEqual({});
    expect(readEventPayload({ GITHUB_EVENT_PATH: path.join(dir, 'missing.json') })).toEqual({});
    expect(readEventPayload({ GITHUB_EVENT_PATH: bad })).toEqual({});
  });
});
