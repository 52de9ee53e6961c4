// One `docker info` per connection: asked at connect, it gives the disk check its data-root and the
// engine's clock (the lock's times) its offset from the runner's, so neither waits for its own call.
import type Docker from 'dockerode';
import type { Client } from 'ssh2';
import { describe, expect, it } from 'vitest';
import { sshDiskProbe } from '../src/host/disk-space.ts';
import { dockerEngine, type DockerInfo } from '../src/host/engine.ts';

const HOUR = 3_600_000;

/** A dockerode stand-in whose info() answers the engine's clock an hour ahead of this one, and counts its calls. */
function docker(fail = 0): Docker & { infoCalls: number } {
  const d = {
    infoCalls: 0,
    info: async (): Promise<DockerInfo> => {
      d.infoCalls++;
      if (d.infoCalls <= fail) throw new Error('connection reset');
      return { SystemTime: new Date(Date.now() + HOUR).toISOString(), DockerRootDir: '/var/lib/docker' };
    },
  };
  return d as unknown as Docker & { infoCalls: number };
}

/** An SSH client whose exec fails: the disk probe's df cannot run. */
const noExec = { exec: (_command: string, cb: (error: Error) => void) => cb(new Error('exec refused')) } as unknown as Client;

describe("the engine's clock", () => {
  it('is read once, then kept as an offset from the runner\'s clock', async () => {
    const d = docker();
    const engine = dockerEngine(d);
    const first = await engine.now();
    const second = await engine.now();
    expect(d.infoCalls).toBe(1);
    expect(Math.abs(first.getTime() - (Date.now() + HOUR))).toBeLessThan(1000);
    expect(second.getTime()).toBeGreaterThanOrEqual(first.getTime());
  });

  it('starts from a `docker info` asked already, without a call of its own', async () => {
    const d = docker();
    const engine = dockerEngine(d, d.info());
    expect(d.infoCalls).toBe(1);
    const now = await engine.now();
    expect(d.infoCalls).toBe(1);
    expect(Math.abs(now.getTime() - (Date.now() + HOUR))).toBeLessThan(1000);
  });

  it('asks again when the info asked ahead failed (and that failure was never unhandled)', async () => {
    const d = docker(1);
    const engine = dockerEngine(d, d.info());
    // Let the failed ask settle before anything needs the clock.
    await new Promise((r) => setTimeout(r, 10));
    const now = await engine.now();
    expect(d.infoCalls).toBe(2);
    expect(Math.abs(now.getTime() - (Date.now() + HOUR))).toBeLessThan(1000);
  });

  it('a now() that was waiting on the info asked ahead, which then failed, asks once more instead of failing', async () => {
    const d = docker(1);
    const engine = dockerEngine(d, d.info());
    const now = await engine.now();
    expect(d.infoCalls).toBe(2);
    expect(Math.abs(now.getTime() - (Date.now() + HOUR))).toBeLessThan(1000);
  });

  it('fails when the engine cannot answer twice in a row', async () => {
    const d = docker(2);
    await expect(dockerEngine(d).now()).rejects.toThrow(/connection reset/);
  });
});

describe('the disk probe', () => {
  it('takes the data-root from the info asked at connect, once; a later probe asks the engine itself', async () => {
    const d = docker();
    const probe = sshDiskProbe(d, noExec, d.info());
    expect(d.infoCalls).toBe(1);
    // The probe got as far as df (which cannot run here): it had its data-root without another info.
    await expect(probe.dataRootSpace()).rejects.toThrow(/df could not run over SSH/);
    expect(d.infoCalls).toBe(1);
    await expect(probe.dataRootSpace()).rejects.toThrow(/df could not run over SSH/);
    expect(d.infoCalls).toBe(2);
  });

  it('asks the engine itself when the info asked at connect failed (and that failure was never unhandled)', async () => {
    const d = docker(1);
    const probe = sshDiskProbe(d, noExec, d.info());
    await new Promise((r) => setTimeout(r, 10));
    await expect(probe.dataRootSpace()).rejects.toThrow(/df could not run over SSH/);
    expect(d.infoCalls).toBe(2);
  });
});
