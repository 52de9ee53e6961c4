// The dist bundle through the runner harness, for what needs neither OpenVPN nor the lab:
// input mistakes stop the step before anything happens, and print no secret.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { findSecretLeaks, RunnerJob } from '@gangway/harness';
import { BASE, INLINE, KEY } from './fixtures.ts';

const actionDir = path.resolve(import.meta.dirname, '..');
const jobs: RunnerJob[] = [];
afterEach(() => {
  for (const j of jobs.splice(0)) j.cleanup();
});

async function run(inputs: Record<string, string>) {
  const job = new RunnerJob();
  jobs.push(job);
  const main = await job.main(actionDir, { inputs, timeoutMs: 30_000 });
  const post = await job.post(actionDir, { inputs, timeoutMs: 30_000 });
  return { job, main, post };
}

describe('action-vpn-connect input mistakes (dist bundle)', () => {
  it('without a config: fails naming the inputs, starts nothing, post has nothing to do', async () => {
    const { job, main, post } = await run({});
    expect(main.exitCode).toBe(1);
    expect(main.annotations.find((a) => a.level === 'error')?.message).toMatch(/Input "config".*or "config-file".*is required/);
    expect(fs.readdirSync(job.runnerTemp)).toEqual([]);
    expect(post.exitCode).toBe(0);
    expect(post.log).toContain('Nothing to clean up');
  });

  it('a config with a broken key block: masked before the error is printed, and never printed', async () => {
    const broken = INLINE.replace('</key>\n', '');
    const { main, post } = await run({ config: broken, password: 'pw-0815-secret', username: 'ci' });
    expect(main.exitCode).toBe(1);
    expect(main.annotations.find((a) => a.level === 'error')?.message).toMatch(/inline block <key> .* never closed/);
    expect(findSecretLeaks([main, post], { key: KEY, password: 'pw-0815-secret' })).toEqual([]);
    expect(main.masks).toContain('pw-0815-secret');
  });

  it('a credentials file in the config is refused in favour of the inputs', async () => {
    const { main } = await run({ config: `${INLINE}auth-user-pass /etc/openvpn/creds.txt\n` });
    expect(main.exitCode).toBe(1);
    expect(main.annotations.find((a) => a.level === 'error')?.message).toMatch(/Give them as the "username" and "password" inputs/);
  });

  it('a directive that would load code or write files as root is refused before OpenVPN starts, naming it and its line', async () => {
    const { job, main, post } = await run({ config: `${INLINE}providers legacy default\n`, 'connect-timeout': '2s' });
    expect(main.exitCode).toBe(1);
    expect(main.annotations.find((a) => a.level === 'error')?.message).toMatch(/Input "config": line 32 uses "providers", .*loads OpenSSL provider libraries/);
    expect(main.log).not.toMatch(/\[state\]|Connect to/);
    expect(fs.readdirSync(job.runnerTemp)).toEqual([]);
    expect(post.log).toContain('Nothing to clean up');
  });

  it('a config-file outside the workspace is refused', async () => {
    const { main } = await run({ 'config-file': '/etc/passwd' });
    expect(main.exitCode).toBe(1);
    expect(main.annotations.find((a) => a.level === 'error')?.message).toMatch(/Input "config-file" is "\/etc\/passwd", which resolves to .*outside the workspace/);
  });

  it('a PEM input that is a file name is refused', async () => {
    const { main } = await run({ config: BASE, key: './client.key' });
    expect(main.annotations.find((a) => a.level === 'error')?.message).toMatch(/Input "key" does not hold .* not a file name/);
  });
});
