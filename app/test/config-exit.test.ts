// A setting that cannot work stops the real server before it starts: one clear line, a non-zero exit.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { SERVER_ENTRY } from './child-server.ts';

function start(env: Record<string, string>) {
  const result = spawnSync(process.execPath, [SERVER_ENTRY], { env: { ...process.env, PORT: '0', HOST: '127.0.0.1', ...env }, encoding: 'utf8', timeout: 20_000 });
  return { code: result.status, stderr: result.stderr, stdout: result.stdout };
}

describe('bad settings at start', () => {
  it.each([
    [{ APP_ROLE: 'api' }, /APP_ROLE must be one of web, worker, all/],
    [{ APP_ROLE: 'worker' }, /APP_ROLE=worker needs QUEUE_URL/],
    [{ QUEUE_URL: 'redis//nohost' }, /QUEUE_URL must be a URL/],
    [{ OCR_PROVIDER: 'tpu' }, /OCR_PROVIDER must be one of cpu, cuda, auto/],
  ])('%o is refused', (env, message) => {
    const { code, stderr, stdout } = start(env);
    expect(code).toBe(2);
    expect(stderr).toMatch(/^gangway-app: configuration error: /);
    expect(stderr).toMatch(message);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stdout).toBe('');
  });
});
