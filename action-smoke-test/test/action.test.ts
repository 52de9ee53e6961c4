// The dist bundle, run as the runner runs it, against real HTTP servers on 127.0.0.1: each failure
// mode fails the step with its own reason, the report and summary say which check and why, and
// header values never reach the log.
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findSecretLeaks, RunnerJob, type ActionRun } from '@gangway/harness';
import type { SmokeReport } from '../src/report.ts';
import { startTestServer, VERSION, type TestServer } from './servers.ts';

const actionDir = path.resolve(import.meta.dirname, '..');
let server: TestServer;
const jobs: RunnerJob[] = [];

beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server.close();
  for (const j of jobs.splice(0)) j.cleanup();
});

async function smoke(inputs: Record<string, string>, setup?: (job: RunnerJob) => void): Promise<{ run: ActionRun; report: SmokeReport | undefined }> {
  const job = new RunnerJob();
  jobs.push(job);
  setup?.(job);
  const run = await job.main(actionDir, { inputs: { url: server.url, interval: '100ms', ...inputs }, timeoutMs: 60_000 });
  const report = run.outputs.report ? (JSON.parse(run.outputs.report) as SmokeReport) : undefined;
  return { run, report };
}

/** Like smoke(), with inputs that depend on a file `prepare` puts in place in the job. */
async function smokeWith(prepare: (job: RunnerJob) => string, inputsFor: (file: string) => Record<string, string>): Promise<{ run: ActionRun; report: SmokeReport | undefined }> {
  const job = new RunnerJob();
  jobs.push(job);
  const file = prepare(job);
  const run = await job.main(actionDir, { inputs: { url: server.url, interval: '100ms', ...inputsFor(file) }, timeoutMs: 60_000 });
  const report = run.outputs.report ? (JSON.parse(run.outputs.report) as SmokeReport) : undefined;
  return { run, report };
}

const errors = (run: ActionRun): string[] => run.annotations.filter((a) => a.level === 'error').map((a) => a.message);

describe('action-smoke-test (dist) against local servers', () => {
  it('passes the default checks and the version match, with outputs and a summary', async () => {
    const { run, report } = await smoke({ 'expect-version': VERSION.gitSha.slice(0, 7) });
    expect(run.exitCode, run.log).toBe(0);
    expect(run.outputs.passed).toBe('true');
    expect(run.outputs['failed-checks']).toBe('');
    expect(run.outputs['reported-version']).toContain(`gitSha=${VERSION.gitSha}`);
    expect(report?.checks.map((c) => [c.name, c.passed, c.status, c.attempts])).toEqual([
      ['readiness', true, 200, 1],
      ['version', true, 200, 1],
    ]);
    expect(run.summary).toContain('Smoke test passed');
    expect(run.summary).toContain('<td>readiness</td>');
    expect(run.durationMs).toBeLessThan(5000);
  });

  it.concurrent.each([
    ['wrong version', { 'expect-version': 'v9.9.9' }, 'version', 'version-mismatch', /expected version "v9\.9\.9", the app reports version=1\.4\.2 gitSha=0123456789abcdef0123456789abcdef01234567 imageDigest=sha256:abab/],
    ['a 500', { checks: '- path: /boom' }, 'GET /boom', 'status', /HTTP 500, expected 200-299; body: \{"error":\{"code":"internal","message":"database is locked"\}\}/],
    ['a body mismatch', { checks: '- path: /text\n  contains: goodbye' }, 'GET /text', 'body-contains', /the body does not contain "goodbye"; body: hello from the smoke test server/],
    ['a regex mismatch', { checks: '- path: /text\n  matches: "^bye"' }, 'GET /text', 'body-matches', /does not match \/\^bye\//],
    ['a JSON path mismatch', { checks: '- path: /readyz\n  json:\n    checks.model: loaded' }, 'GET /readyz', 'json', /JSON "checks\.model" is "ok", expected "loaded"/],
    ['a body that is not JSON', { checks: '- path: /not-json\n  json: { status: ok }' }, 'GET /not-json', 'json-invalid', /the body is not JSON; body: <html>maintenance<\/html>/],
    ['a redirect to another host (no-follow)', { checks: '- path: /redirect-away' }, 'GET /redirect-away', 'redirect-other-host', /HTTP 302 redirects to http:\/\/login\.example\.test\/sso\?next=\/app, another host than 127\.0\.0\.1/],
    ['a redirect to another host (follow)', { checks: '- path: /redirect-away\n  redirects: follow' }, 'GET /redirect-away', 'redirect-other-host', /another host than 127\.0\.0\.1/],
    ['any redirect with redirects: fail', { checks: '- path: /redirect-same\n  redirects: fail' }, 'GET /redirect-same', 'redirect', /HTTP 302 redirects to http:\/\/127\.0\.0\.1:\d+\/readyz \(redirects: fail\)/],
    ['a redirect loop', { checks: '- path: /redirect-loop\n  redirects: follow' }, 'GET /redirect-loop', 'too-many-redirects', /more than 5 redirects/],
    ['a slow answer over max-latency', { checks: '- path: /slow?ms=400\n  max-latency: 150ms' }, 'GET /slow?ms=400', 'latency', /took 4\d\dms, over max-latency 150ms/],
    ['a connection that never answers', { checks: '- path: /hang', timeout: '300ms' }, 'GET /hang', 'timeout', /no answer within 300ms \(per-attempt timeout\) while waiting for the response/],
  ] as const)('fails on %s with its own reason', async (_, inputs, name, code, message) => {
    // Run side by side (vitest runs 5 at a time): the deadline counts from each process's start.
    const { run, report } = await smoke({ deadline: '5s', ...inputs });
    expect(run.exitCode, run.log).toBe(1);
    expect(run.outputs.passed).toBe('false');
    expect(run.outputs['failed-checks']).toBe(name);
    const check = report?.checks.find((c) => c.name === name);
    expect(check?.passed).toBe(false);
    expect(check?.failures[0]?.code).toBe(code);
    expect(check?.failures[0]?.message).toMatch(message);
    expect(check?.attempts).toBeGreaterThan(1);
    // One annotation for the check, with its reason; one for the step.
    expect(errors(run).find((m) => m.includes(`${code}: `))).toMatch(message);
    expect(errors(run).at(-1)).toMatch(new RegExp(`^Smoke test failed: ${name.replace(/[?.*()]/g, '\\$&')} \\(`));
    expect(run.summary).toContain('Smoke test failed');
    // Retried until the deadline, but not past it.
    expect(report?.deadlineReached).toBe(true);
    expect(run.durationMs).toBeLessThan(5000 + 2000);
  });

  it('fails on a p95 over budget after the checks pass', async () => {
    const { run, report } = await smoke({ checks: '- path: /jitter?ms=250', 'latency-samples': '20', 'p95-budget': '100ms' });
    expect(run.exitCode, run.log).toBe(1);
    expect(run.outputs['failed-checks']).toBe('latency');
    expect(report?.checks[0]?.passed).toBe(true);
    expect(report?.latency?.samplesMs).toHaveLength(20);
    expect(report?.latency?.failures[0]?.code).toBe('p95-budget');
    expect(report?.latency?.failures[0]?.message).toMatch(/^p95 latency 2\d\dms over the budget 100ms \(20 samples; p50 \d+ms, max 2\d\dms\)/);
    expect(errors(run)[0]).toMatch(/p95-budget: p95 latency/);
  });

  it('passes a p95 within budget and reports the figures', async () => {
    const { run, report } = await smoke({ 'latency-samples': '20', 'p95-budget': '500ms' });
    expect(run.exitCode, run.log).toBe(0);
    expect(report?.latency?.check).toBe('readiness');
    expect(report?.latency?.stats?.count).toBe(20);
    expect(report?.latency?.stats?.p95Ms).toBeLessThan(500);
    expect(run.summary).toContain('p50 / p95 / max');
  });

  it('waits for a check that fails at first, and needs success-threshold passes in a row', async () => {
    const { run, report } = await smoke({ checks: '- path: /flaky?fail=2&t=threshold', 'success-threshold': '2', deadline: '10s' });
    expect(run.exitCode, run.log).toBe(0);
    expect(report?.checks[0]?.attempts).toBe(4);
    expect(run.log).toMatch(/✗ GET \/flaky\?fail=2&t=threshold #1: HTTP 503/);
  });

  it('uploads a workspace file as multipart and checks the JSON answer', async () => {
    const { run, report } = await smoke(
      { checks: '- path: /upload\n  upload: samples/word.txt\n  json:\n    field: file\n    filename: word.txt\n    type: text/plain\n    text: { matches: "(?i)GANGWAY" }' },
      (job) => {
        // The sample lives in the checkout, as a committed file would.
        const dir = path.join(job.workspace, 'samples');
        mkdirSync(dir, { recursive: true });
        writeFileSync(path.join(dir, 'word.txt'), 'shipped by gangway');
      },
    );
    expect(run.exitCode, run.log).toBe(0);
    expect(report?.checks[0]).toMatchObject({ name: 'POST /upload', method: 'POST', passed: true, status: 200 });
  });

  it('sends the headers of a check and never prints their values', async () => {
    const token = 'Bearer s3cr3t-smoke-token-value';
    const { run } = await smoke({ checks: `- path: /echo-headers\n  headers:\n    Authorization: ${token}\n  contains: nothing-like-this`, deadline: '2s' });
    expect(run.exitCode).toBe(1);
    expect(server.headers.get('/echo-headers')?.authorization).toBe(token);
    expect(run.masks).toContain(token);
    // The body echoes the header back: the step's own output must still not show it unmasked.
    expect(run.log).not.toContain(token);
    expect(findSecretLeaks(run, { token })).toEqual([]);
    expect(run.outputs.report).toContain('authorization\\":\\"***');
  });

  it('connects to the resolve address while sending the original host name', async () => {
    const { run } = await smoke({ url: `http://app.smoke.test:${server.port}`, resolve: `app.smoke.test:127.0.0.1`, checks: '- path: /echo-headers\n  json:\n    headers.host: { matches: "^app\\\\.smoke\\\\.test:" }' });
    expect(run.exitCode, run.log).toBe(0);
    expect(server.headers.get('/echo-headers')?.host).toBe(`app.smoke.test:${server.port}`);
  });

  it('masks a check URL password and header values before validating, and never shows userinfo in an error', async () => {
    const password = 'Pa55-w0rd-smoke-check';
    const token = 'Bearer hdr-s3cret-before-validation';
    const before = server.seen.length;
    const { run } = await smoke({ checks: `- url: https://deploy:${password}@127.0.0.1:${server.port}/readyz\n  headers: { Authorization: ${token} }\n  method: FETCH` });
    expect(run.exitCode).toBe(1);
    expect(errors(run)).toEqual([`Input "checks", check 1 (https://127.0.0.1:${server.port}/readyz), key "method": "FETCH" is not one of: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS.`]);
    expect(run.masks).toEqual(expect.arrayContaining([password, token]));
    expect(findSecretLeaks(run, { password, token })).toEqual([]);
    expect(server.seen.length).toBe(before);

    // The base url: masked, and cut from its own error too.
    const base = await smoke({ url: `http://deploy:${password}@bad host:1` });
    expect(base.run.exitCode).toBe(1);
    expect(errors(base.run)[0]).toBe('Input "url" is "http://bad host:1", which is not an absolute URL. Write it as http://host:port or https://host.');
    expect(base.run.masks).toContain(password);
    expect(findSecretLeaks(base.run, { password })).toEqual([]);

    // A path that holds a whole URL by mistake.
    const inPath = await smoke({ checks: `- path: https://deploy:${password}@example.test/readyz` });
    expect(errors(inPath.run)[0]).toBe('Input "checks", check 1 (https://example.test/readyz), key "path": "https://example.test/readyz" must start with "/".');
    expect(findSecretLeaks(inPath.run, { password })).toEqual([]);
  });

  it('names a check with a URL password after the URL without its userinfo, in the log, report and summary', async () => {
    const password = 'Pa55-w0rd-in-a-label';
    const { run, report } = await smoke({ checks: `- url: http://deploy:${password}@127.0.0.1:${server.port}/echo-headers\n  contains: nothing-like-this`, deadline: '2s' });
    expect(run.exitCode).toBe(1);
    expect(server.headers.get('/echo-headers')?.authorization).toBe(`Basic ${Buffer.from(`deploy:${password}`).toString('base64')}`);
    expect(report?.checks[0]?.name).toBe(`GET http://127.0.0.1:${server.port}/echo-headers`);
    expect(run.outputs['failed-checks']).toBe(`GET http://127.0.0.1:${server.port}/echo-headers`);
    expect(run.summary).not.toContain('deploy:');
    expect(findSecretLeaks(run, { password })).toEqual([]);
  });

  it.each([
    ['an absolute path outside the workspace', () => '/proc/self/environ', /key "upload": "\/proc\/self\/environ", which resolves to \/proc\/(self|\d+)\/environ, outside the workspace \(.+\) or RUNNER_TEMP/],
    ['a relative path that climbs out', () => '../../event.json', /key "upload": "\.\.\/\.\.\/event\.json", which resolves to .*event\.json, outside the workspace/],
    ['a symlink in the workspace that leads out', (job: RunnerJob) => {
      writeFileSync(path.join(job.root, 'outside-secret.txt'), 'not for the server');
      symlinkSync(path.join(job.root, 'outside-secret.txt'), path.join(job.workspace, 'innocent.txt'));
      return 'innocent.txt';
    }, /key "upload": "innocent\.txt", which resolves to .*outside-secret\.txt, outside the workspace/],
  ] as const)('refuses an upload from %s, before any request', async (_, place, message) => {
    const uploads = (): number => server.seen.filter((s) => s.endsWith('/upload')).length;
    const before = uploads();
    const { run } = await smokeWith(place, (file) => ({ checks: `- path: /upload\n  upload: ${file}` }));
    expect(run.exitCode, run.log).toBe(1);
    expect(errors(run)).toHaveLength(1);
    expect(errors(run)[0]).toMatch(/^Input "checks", check 1 \(POST \/upload\), key "upload": /);
    expect(errors(run)[0]).toMatch(message);
    expect(uploads()).toBe(before);
  });

  it('reads an upload from RUNNER_TEMP, where an earlier step may have written it', async () => {
    const { run, report } = await smokeWith(
      (job) => {
        writeFileSync(path.join(job.runnerTemp, 'made-by-a-step.txt'), 'shipped by gangway');
        return path.join(job.runnerTemp, 'made-by-a-step.txt');
      },
      (f) => ({ checks: `- path: /upload\n  upload: ${f}\n  json: { filename: made-by-a-step.txt }` }),
    );
    expect(run.exitCode, run.log).toBe(0);
    expect(report?.checks[0]?.passed).toBe(true);
  });

  it('refuses a ca file outside the workspace', async () => {
    const { run } = await smoke({ ca: '/etc/ssl/certs/ca-certificates.crt' });
    expect(run.exitCode).toBe(1);
    expect(errors(run)[0]).toMatch(/^Input "ca" is "\/etc\/ssl\/certs\/ca-certificates\.crt", which resolves to .*, outside the workspace/);
  });

  it('stops at a schema error before any request, naming the check and key', async () => {
    const before = server.seen.length;
    const { run } = await smoke({ checks: '- path: /readyz\n- path: /version\n  status: 600-100' });
    expect(run.exitCode).toBe(1);
    expect(errors(run)).toEqual(['Input "checks", check 2 (/version), key "status": "600-100" has 600, which is not an HTTP status (100 to 599).']);
    expect(server.seen.length).toBe(before);
    expect(run.outputs).toEqual({});
  });
});
