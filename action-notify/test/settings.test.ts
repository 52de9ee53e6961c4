import { describe, expect, it } from 'vitest';
import { Inputs, mapInputs } from '@gangway/kit';
import { parseStatus, readSettings } from '../src/settings.ts';

const env = { GITHUB_REPOSITORY: 'acme/shop', GITHUB_WORKFLOW: 'Deploy', GITHUB_REF_NAME: 'main', GITHUB_RUN_ID: '7', GITHUB_RUN_ATTEMPT: '2', GITHUB_API_URL: 'https://ghe.acme.test/api/v3' };
const read = (values: Record<string, string>, e: NodeJS.ProcessEnv = env) => readSettings(new Inputs(mapInputs({ 'github-token': 'ghs_x', ...values })), e);

describe('status', () => {
  it.each([
    ['success', 'success'],
    ['Failure', 'failure'],
    ['cancelled', 'cancelled'],
    ['skipped', 'skipped'],
  ])('%s is %s', (raw, status) => expect(parseStatus(raw).status).toBe(status));

  it('takes the worst result of the needs context', () => {
    const needs = (results: Record<string, string>) => JSON.stringify(Object.fromEntries(Object.entries(results).map(([k, r]) => [k, { result: r, outputs: {} }])));
    expect(parseStatus(needs({ a: 'success', b: 'failure', c: 'cancelled' }))).toEqual({ status: 'failure', source: 'needs: b failed' });
    expect(parseStatus(needs({ a: 'success', b: 'cancelled' }))).toEqual({ status: 'cancelled', source: 'needs: b cancelled' });
    expect(parseStatus(needs({ a: 'skipped', b: 'skipped' })).status).toBe('skipped');
    expect(parseStatus(needs({ a: 'success', b: 'skipped' })).status).toBe('success');
    expect(() => parseStatus('{}')).toThrow(/empty needs object/);
    expect(() => parseStatus('{"a":')).toThrow(/does not parse/);
  });
});

describe('readSettings', () => {
  it('derives title, branch, api-url and run from the runner', () => {
    const s = read({ status: 'failure' });
    expect(s).toMatchObject({ title: 'Deploy failing on main', branch: 'main', label: 'gangway-failure', logLines: 30, apiUrl: 'https://ghe.acme.test/api/v3', issue: true });
    expect(s.run).toMatchObject({ owner: 'acme', repo: 'shop', runId: 7, runAttempt: 2, runUrl: 'https://github.com/acme/shop/actions/runs/7/attempts/2' });
    expect(read({ status: 'failure' }, { ...env, GITHUB_HEAD_REF: 'feature/x' }).title).toBe('Deploy failing on feature/x');
    expect(read({ status: 'failure', 'api-url': 'http://127.0.0.1:9/' }).apiUrl).toBe('http://127.0.0.1:9');
  });

  it('reads mail settings: committer, the sender from the SMTP user or host', () => {
    const s = read({ status: 'failure', 'smtp-url': 'smtps://ci%40acme.test:pw@mail.acme.test', 'mail-to': 'committer\nops@acme.test' });
    expect(s.smtp).toMatchObject({ host: 'mail.acme.test', from: 'ci@acme.test', to: [{ committer: true }, { address: 'ops@acme.test' }] });
    expect(read({ status: 'failure', 'smtp-url': 'smtp://relay.acme.test:25', 'mail-to': 'a@b.co' }).smtp?.from).toBe('gangway@relay.acme.test');
  });

  it.each([
    [{ status: '' }, /Input "status" is required/],
    [{ status: 'failure', 'github-token': '' }, /Input "github-token" is empty/],
    [{ status: 'failure', 'api-url': 'ftp://x' }, /Input "api-url" must be an http\(s\) URL/],
    [{ status: 'failure', label: 'a,b' }, /Input "label"/],
    [{ status: 'failure', 'smtp-url': 'smtp://h', 'mail-to': 'not-an-address' }, /"not-an-address" is not an e-mail address/],
    [{ status: 'failure', 'smtp-url': 'smtp://h' }, /"mail-to" is empty/],
    [{ status: 'failure', 'smtp-url': '::::secret::::', 'mail-to': 'a@b.co' }, /Input "smtp-url" is not a URL/],
    [{ status: 'failure', issue: 'yes' }, /Input "issue"/],
  ])('refuses %j', (values, message) => {
    expect(() => read(values)).toThrow(message);
  });

  it('needs no token when it only sends a webhook', () => {
    expect(read({ status: 'failure', 'github-token': '', issue: 'false', 'webhook-url': 'https://hooks.example.test/x' }).githubToken).toBeUndefined();
  });

  it('never quotes a secret in its errors', () => {
    expect(() => read({ status: 'failure', 'smtp-url': 'smtp//user:hunter22@host', 'mail-to': 'a@b.co' })).toThrow(/^(?!.*hunter22)/s);
  });
});
