import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ManagementClient } from '../src/management.ts';
import { identify, isRunning } from '../src/openvpn-process.ts';
import { stopTunnel } from '../src/tunnel.ts';
import { startFakeManagement } from './fake-management.ts';

/** A child that prints "ready" once its SIGTERM handler (if any) is installed. */
function sleeper(ignoreTerm = false) {
  const child = spawn(process.execPath, ['-e', `${ignoreTerm ? "process.on('SIGTERM', () => {});" : ''} setInterval(() => {}, 1000); process.stdout.write('ready\\n');`], { stdio: ['ignore', 'pipe', 'ignore'] });
  return child;
}

/** Waits for the child's ready line (no fixed sleep: a loaded machine may take seconds to start node). */
async function started(child: ReturnType<typeof sleeper>) {
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('ready\n')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`the child exited (${String(code)}) before it was ready`)));
  });
  const id = identify(child.pid as number);
  if (!id) throw new Error('no pid');
  return id;
}

describe('stopTunnel', () => {
  it('asks over the management interface first, then signals the pid', async () => {
    const child = sleeper();
    const id = await started(child);
    const server = await startFakeManagement({});
    const result = await stopTunnel({ process: id, socketPath: server.socket, privilege: { root: true }, graceMs: 300 });
    // The fake answers "signal SIGTERM" but is not the process, so SIGTERM by pid ends it.
    expect(server.commands).toContain('signal SIGTERM');
    expect(result.how).toBe('SIGTERM');
    expect(isRunning(id)).toBe(false);
    await server.close();
  });

  it('kills a process that ignores SIGTERM, and never signals a recycled pid', async () => {
    const child = sleeper(true);
    const id = await started(child);
    const result = await stopTunnel({ process: id, privilege: { root: true }, graceMs: 300 });
    expect(result.how).toBe('SIGKILL');
    const stranger = sleeper();
    const strangerId = await started(stranger);
    const wrongStart = { pid: strangerId.pid, startTime: '1' };
    expect((await stopTunnel({ process: wrongStart, privilege: { root: true }, graceMs: 100 })).how).toBe('already-gone');
    expect(isRunning(strangerId)).toBe(true);
    stranger.kill('SIGKILL');
  });

  it('connects once to a management socket', async () => {
    const server = await startFakeManagement({});
    const c = await ManagementClient.connect(server.socket);
    expect(await c.command('pid')).toBe('pid=4242');
    await expect(c.command('bogus')).rejects.toThrow(/"bogus" failed: unknown command/);
    c.close();
    await server.close();
  });
});
