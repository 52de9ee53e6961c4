// The dist bundle, run as the runner runs it: every hostile or incomplete input fails
// validation before any connection is attempted, and no secret reaches any output.
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findSecretLeaks, RunnerJob, type ActionRun } from '@gangway/harness';
import { baseInputs, testKey } from './helpers.ts';

const actionDir = path.resolve(import.meta.dirname, '..');
const jobs: RunnerJob[] = [];
afterAll(() => {
  for (const j of jobs) j.cleanup();
});

// An address in the lab range that nothing answers on: if validation let an input through,
// the step would try to connect (and log that) instead of failing at once.
const UNREACHABLE = '198.18.255.254';

async function runWith(inputs: Record<string, string>): Promise<ActionRun> {
  const job = new RunnerJob();
  jobs.push(job);
  return job.main(actionDir, { inputs: { ...baseInputs({ host: UNREACHABLE, 'connect-timeout': '1s', 'connect-attempts': '1' }), ...inputs }, timeoutMs: 30_000 });
}

const secrets = () => ({
  'private-key': testKey(),
  passphrase: 'pass-phrase-xyz',
  password: 'pass-word-xyz',
  'registry-password': 'registry-secret-xyz',
  'env value': 'env-secret-value-xyz',
});

describe('action-deploy-ssh dist: validation before any side effect', () => {
  const hostile: Array<[string, Record<string, string>]> = [
    ['app', { app: 'x;rm -rf /' }],
    ['image', { image: 'app:latest$(id)' }],
    ['env', { env: 'SAFE=1\n$(touch /tmp/gangway-pwned)' }],
    ['env', { env: 'SAFE=line one\nline two with $(id)' }],
    ['volumes', { volumes: 'data:/data/../../etc' }],
    ['volumes', { volumes: '/srv/app/../../etc:/data' }],
    ['strategy', { strategy: 'blue-green' }],
    ['known-hosts', { fingerprint: '' }],
  ];
  for (const [input, given] of hostile) {
    it(`fails on ${input}: ${JSON.stringify(given)}`, async () => {
      const run = await runWith({ ...given, passphrase: 'pass-phrase-xyz', 'registry-username': 'bot', 'registry-password': 'registry-secret-xyz', ...(given.env ? {} : { env: 'TOKEN=env-secret-value-xyz' }) });
      expect(run.exitCode).toBe(1);
      const error = run.annotations.find((a) => a.level === 'error');
      expect(error?.message).toContain(`"${input}"`);
      // Nothing was attempted: no connection line, no stack (a user mistake, not a bug).
      expect(run.log).not.toMatch(/connect|SSH to/i);
      expect(run.log).not.toMatch(/##\[debug\].*\n\s+at /);
      expect(findSecretLeaks(run, secrets())).toEqual([]);
    });
  }

  it('refuses blue-green without publish, and a strategy with target: swarm, naming the input to change', async () => {
    const run = await runWith({ strategy: 'blue-green' });
    expect(run.annotations.find((a) => a.level === 'error')?.message).toMatch(/blue-green.*needs "publish".*strategy: recreate/s);
    const swarm = await runWith({ target: 'swarm', strategy: 'blue-green' });
    expect(swarm.annotations.find((a) => a.level === 'error')?.message).toMatch(/strategy.*does not apply to target: swarm/s);
  });

  it('registers every secret before printing anything', async () => {
    const run = await runWith({ app: 'BAD NAME', password: 'pass-word-xyz', passphrase: 'pass-phrase-xyz', env: 'TOKEN=env-secret-value-xyz' });
    for (const s of ['pass-word-xyz', 'pass-phrase-xyz', 'env-secret-value-xyz']) expect(run.masks).toContain(s);
    const keyLines = testKey().trim().split('\n').filter((l) => l.length >= 4);
    for (const line of keyLines) expect(run.masks).toContain(line.trim());
  });

  it('warns loudly when host key checking is switched off', async () => {
    const run = await runWith({ fingerprint: '', 'insecure-skip-host-key-check': 'true' });
    expect(run.annotations.find((a) => a.level === 'warning')?.message).toMatch(/NOT verified.*impersonate/);
  });

  it('fails a connection to an unreachable host with a categorised error and no leak', async () => {
    const run = await runWith({ password: 'pass-word-xyz', env: 'TOKEN=env-secret-value-xyz' });
    expect(run.exitCode, run.log + run.stderr).toBe(1);
    expect(run.annotations, run.log + run.stderr).toContainEqual(expect.objectContaining({ level: 'error' }));
    expect(run.annotations.find((a) => a.level === 'error')?.message).toMatch(/SSH to deploy@198\.18\.255\.254 failed \((timeout|unreachable|network|refused)\)/);
    expect(JSON.parse(run.outputs.report ?? '{}')).toMatchObject({ result: 'failure', hosts: [{ host: UNREACHABLE, result: 'failed' }] });
    expect(run.summary).toContain(UNREACHABLE);
    expect(findSecretLeaks(run, secrets())).toEqual([]);
  });
});
