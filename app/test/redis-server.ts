// A real Redis for the app's queue tests: Debian's redis-server binary on a loopback port of its own,
// with its data (append-only file) in a temporary directory, so a restart keeps the queue as the lab's
// Redis image does. Stopped by its pid.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './child-server.ts';

export const REDIS_SERVER = '/usr/bin/redis-server';

/** Why the Redis tests cannot run here, or undefined when they can. */
export function redisMissing(): string | undefined {
  if (!existsSync(REDIS_SERVER)) return 'no redis-server binary (apt-get install redis-server)';
  const version = spawnSync(REDIS_SERVER, ['--version'], { encoding: 'utf8' });
  return version.status === 0 ? undefined : `redis-server --version failed: ${version.stderr}`;
}

export interface TestRedis {
  url: string;
  port: number;
  dir: string;
  start: () => Promise<void>;
  /** SIGTERM (Redis writes its files and exits) or SIGKILL. */
  stop: (signal?: NodeJS.Signals) => Promise<void>;
  remove: () => Promise<void>;
}

export async function startTestRedis(): Promise<TestRedis> {
  const port = await freePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'gangway-redis-'));
  let child: ChildProcess | undefined;
  let output = '';
  const start = async () => {
    output = '';
    child = spawn(
      REDIS_SERVER,
      [
        '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '',
        // As the lab image: every accepted job is on disk before Redis answers.
        '--appendonly', 'yes', '--appendfsync', 'always', '--maxmemory-policy', 'noeviction',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const deadline = Date.now() + 10_000;
    while (!/Ready to accept connections/.test(output)) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`redis-server did not start:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  const stop = async (signal: NodeJS.Signals = 'SIGTERM') => {
    const running = child;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise((resolve) => running.once('exit', resolve));
    running.kill(signal);
    await exited;
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    start,
    stop,
    remove: async () => {
      await stop('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
