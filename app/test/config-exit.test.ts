// A setting that cannot work stops the real server before it starts: one clear line, a non-zero exit.
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SERVER_ENTRY, spawnServer } from './child-server.ts';

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

describe('OCR_PROVIDER=cuda on a machine without a GPU', () => {
  it('says so in one log line and exits 1; auto runs on the CPU and says so once', async () => {
    const cuda = await spawnServer({ OCR_PROVIDER: 'cuda', LOG_LEVEL: 'info' });
    const exit = await cuda.exited;
    rmSync(cuda.dataDir, { recursive: true, force: true });
    expect(exit.code).toBe(1);
    const lines = cuda.output().trim().split('\n').filter((line) => /NVIDIA GPU/.test(line));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/"level":60.*OCR_PROVIDER=cuda but no NVIDIA GPU is visible.*OCR_PROVIDER=auto/);

    const auto = await spawnServer({ OCR_PROVIDER: 'auto', LOG_LEVEL: 'info' });
    try {
      await auto.waitReady(60_000);
      // The "ready" line is logged just after /readyz turns 200 and reaches this process a moment later.
      for (const deadline = Date.now() + 10_000; !/"msg":"ready"/.test(auto.output()) && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 50));
      const notes = auto.output().trim().split('\n').filter((line) => /NVIDIA GPU/.test(line));
      expect(notes).toHaveLength(1);
      expect(notes[0]).toMatch(/OCR_PROVIDER=auto: no NVIDIA GPU visible.*running on the CPU/);
      expect(auto.output()).toMatch(/"provider":"cpu"/);
    } finally {
      auto.child.kill('SIGKILL');
      await auto.exited;
      rmSync(auto.dataDir, { recursive: true, force: true });
    }
  }, 90_000);
});
