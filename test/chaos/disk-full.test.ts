// Chaos case 6 (issue #10): the target's disk is nearly full. gw-target3's Docker data-root is a
// 3 GiB filesystem of its own, and the app's volume (its SQLite history, its uploads) lives on it
// too. A ballast file fills it so that v2 (the real app plus a 400 MiB layer of incompressible
// bytes) cannot fit. The deploy must refuse before pulling (min-free-space), with a message that
// says where, how much and what to do, and touch nothing running; with the check off, the pull's
// own "no space left on device" must come out as a clear failure, again with nothing stopped.
// Then the ballast goes and v2 deploys. Every case runs under the suite's steady traffic.
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatBytes } from '@gangway/kit';
import { APP_TEST_REPOSITORY } from '../support/app-image.ts';
import { buildAndPushContext } from '../support/image-push.ts';
import { caseTable, underTraffic } from './support/cases.ts';
import { ChaosApp, type DeployRun } from './support/deploy.ts';
import { appImage, type ChaosImage } from './support/images.ts';
import { openChaosSession, type ChaosSession } from './support/session.ts';
import { answeringVersion, sampleImage, upload } from './support/traffic.ts';

const MiB = 2 ** 20;
/** v2's own layer: what its pull must find room for (twice, briefly: the download, then the unpacked layer). */
const BIG_LAYER_BYTES = 400 * MiB;

let session: ChaosSession;
let app: ChaosApp;
let v1: ChaosImage;
let v2: ChaosImage;
let ballast = '';
const figures: Record<string, unknown> = {};

function freeBytes(dir: string): number {
  const s = fs.statfsSync(dir);
  return s.bavail * s.bsize;
}

function removeBallast(): void {
  for (const file of [ballast, `${ballast}-tail`]) fs.rmSync(file, { force: true });
}

/** The lab keeps the data-root's ext4 image in memory (tmpfs): give the ballast's blocks back to it. */
function trimDataRoot(): void {
  const dataRoot = session?.target.dataRoot;
  if (dataRoot) execFileSync('fstrim', [dataRoot]);
}

/**
 * Fills the data-root until `leaveFree` bytes are left: a ballast file (the test removes it
 * again). With 0, the last blocks (which fallocate cannot take: ext4 needs some for the file's
 * own extents) are written until the filesystem says ENOSPC.
 */
function fillDisk(dataRoot: string, leaveFree: number): number {
  removeBallast();
  const slack = leaveFree === 0 ? 16 * MiB : 0;
  const bytes = freeBytes(dataRoot) - leaveFree - slack;
  if (bytes <= 0) throw new Error(`the data-root has only ${formatBytes(freeBytes(dataRoot))} free, less than the ${formatBytes(leaveFree)} the case leaves`);
  execFileSync('fallocate', ['-l', String(bytes), ballast]);
  if (leaveFree === 0) {
    const fd = fs.openSync(`${ballast}-tail`, 'w');
    const chunk = Buffer.alloc(64 * 1024);
    try {
      for (;;) fs.writeSync(fd, chunk);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
    } finally {
      fs.closeSync(fd);
    }
  }
  return freeBytes(dataRoot);
}

/** The real app FROM `base` with one extra layer of `bytes` incompressible bytes, pushed as `tag`. */
async function bigLayerImage(base: ChaosImage, tag: string, version: string, bytes: number): Promise<ChaosImage & { sizeBytes: number }> {
  const context = path.join(import.meta.dirname, 'fixtures', 'big-layer');
  const pushed = await buildAndPushContext(session.lab, { context, repository: APP_TEST_REPOSITORY, tag, buildargs: { BASE: base.tagRef, BYTES: String(bytes), VERSION: version } });
  return { version, imageRef: pushed.digestRef, tagRef: pushed.tagRef, sizeBytes: pushed.sizeBytes };
}

async function onTarget(imageRef: string): Promise<boolean> {
  return session.docker.getImage(imageRef).inspect().then(
    () => true,
    () => false,
  );
}

/** What must not change while a deploy fails: the running container, its start, the proxy's upstream. */
async function servingState(): Promise<{ id: string; startedAt: string; upstream: string | undefined; containers: string[] }> {
  const running = (await app.containers()).filter((c) => c.role === 'app' && c.state === 'running');
  expect(running).toHaveLength(1);
  const only = running[0] as { id: string; name: string };
  const inspect = await session.docker.getContainer(only.id).inspect();
  return { id: only.id, startedAt: inspect.State.StartedAt, upstream: await app.upstream(), containers: (await app.containers()).map((c) => c.id).sort() };
}

function firstError(run: DeployRun): string {
  return run.main.annotations.find((a) => a.level === 'error')?.message ?? '';
}

describe('chaos case 6: the target disk is nearly full', () => {
  beforeAll(async () => {
    session = await openChaosSession({ target: 3 });
    const dataRoot = session.target.dataRoot;
    if (!dataRoot) throw new Error('gw-target3 has no data-root of its own in lab.json (dataRoot): the lab is older than this test; bring it up again');
    ballast = path.join(dataRoot, 'gangway-chaos-ballast');
    removeBallast();
    v1 = await appImage(session.lab, 'chaos-disk-v1', 'v1');
    const big = await bigLayerImage(v1, 'chaos-disk-v2', 'v2', BIG_LAYER_BYTES);
    v2 = big;
    // v2 must really need room on the target: none of its own layer may be there from an earlier run.
    await session.docker.getImage(v2.imageRef).remove({ force: true }).catch(() => undefined);
    expect(await onTarget(v2.imageRef)).toBe(false);
    figures['images'] = { v1: v1.imageRef, v2: v2.imageRef, v2SizeBytes: big.sizeBytes, v2Size: formatBytes(big.sizeBytes), v2OwnLayer: formatBytes(BIG_LAYER_BYTES) };
    app = new ChaosApp(session, 'chaos-disk', 19600 + Math.floor(Math.random() * 50));
    const first = await app.deploy({ image: v1.imageRef });
    expect(first.main.exitCode, first.main.log).toBe(0);
    for (let i = 0; i < 3; i++) await upload(app.endpoint, await sampleImage());
    figures['free after v1'] = formatBytes(freeBytes(dataRoot));
  }, 900_000);

  afterAll(async () => {
    if (ballast) removeBallast();
    await app?.cleanup();
    // Leave gw-target3 as it was: the next run's v2 must be pulled again.
    for (const image of [v2, v1]) if (image) await session?.docker.getImage(image.imageRef).remove({ force: true }).catch(() => undefined);
    try {
      trimDataRoot();
    } catch (error) {
      console.log(`fstrim of the data-root failed: ${error instanceof Error ? error.message : String(error)}`);
    }
    // v2 is 400 MiB of the runner's (in-memory) data-root too; the next run builds it again in seconds.
    if (v2) await new Docker({ socketPath: session.lab.runner.socket }).getImage(v2.tagRef).remove({ force: true }).catch(() => undefined);
    await session?.close();
    console.log(`disk-full figures: ${JSON.stringify(figures, null, 2)}`);
    console.log(`chaos cases:\n${caseTable()}`);
  }, 120_000);

  it('min-free-space (default 1GiB): refuses before pulling, names host, free space, path, threshold and the fix; nothing running is touched', async () => {
    const dataRoot = session.target.dataRoot as string;
    const before = await servingState();
    const freeBefore = freeBytes(dataRoot);
    const free = fillDisk(dataRoot, 600 * MiB);
    figures['case A free'] = { before: formatBytes(freeBefore), withBallast: formatBytes(free) };
    const { value, row } = await underTraffic('disk nearly full: min-free-space refuses before the pull', app.endpoint, async () => {
      await new Promise((r) => setTimeout(r, 1500));
      const run = await app.deploy({ image: v2.imageRef });
      await new Promise((r) => setTimeout(r, 1500));
      return run;
    }, { expectVersion: 'v1', result: (r) => (r.main.exitCode === 0 ? 'deployed (wrong)' : `refused in ${r.ms} ms`) });
    figures['case A time to fail ms'] = value.ms;
    figures['case A message'] = firstError(value);
    expect(value.main.exitCode, value.main.log).not.toBe(0);
    const message = firstError(value);
    expect(message).toContain(`Not enough disk space on ${session.target.sshHost} to pull ${v2.imageRef}`);
    expect(message).toMatch(/\d+ MiB free of \d\.\d+ GiB at the Docker data-root \/var\/lib\/gangway-lab\/gw-target3, below min-free-space 1\.00 GiB/);
    expect(message).toContain('Nothing was pulled and nothing running was touched');
    expect(message).toContain('docker image prune');
    expect(message).toContain('"min-free-space"');
    // Before the pull: v2 never reached the server, and the step failed fast.
    expect(await onTarget(v2.imageRef)).toBe(false);
    expect(value.ms).toBeLessThan(30_000);
    // Nothing running touched: same container, same start, still the upstream, nothing new, no lock left.
    expect(await servingState()).toEqual(before);
    expect(await app.lock()).toBeUndefined();
    expect(row.failed).toBe(0);
    expect(row.lost).toBe(0);
    expect(row.rowsAfter).toBeGreaterThan(row.rowsBefore);
    expect(await answeringVersion(app.endpoint)).toBe('v1');
  }, 240_000);

  it('min-free-space: 0 (check off): the pull runs out of disk, fails with a clear message, and nothing running is stopped', async () => {
    const dataRoot = session.target.dataRoot as string;
    const before = await servingState();
    const free = fillDisk(dataRoot, 300 * MiB);
    figures['case B free with ballast'] = formatBytes(free);
    let lowest = free;
    const watch = setInterval(() => (lowest = Math.min(lowest, freeBytes(dataRoot))), 100);
    const { value, row, writes } = await underTraffic('disk nearly full: check off, the pull hits ENOSPC', app.endpoint, async () => {
      await new Promise((r) => setTimeout(r, 1500));
      const run = await app.deploy({ image: v2.imageRef, 'min-free-space': '0' });
      await new Promise((r) => setTimeout(r, 3000));
      return run;
    }, { expectVersion: 'v1', result: (r) => (r.main.exitCode === 0 ? 'deployed (wrong)' : `pull failed in ${r.ms} ms`) }).finally(() => clearInterval(watch));
    figures['case B lowest free during the pull'] = formatBytes(lowest);
    figures['case B free after the failure'] = formatBytes(freeBytes(dataRoot));
    figures['case B time to fail ms'] = value.ms;
    figures['case B message'] = firstError(value);
    figures['case B writes'] = { sent: writes.sent, acknowledged: writes.acknowledged.length, failed: writes.failed, errors: writes.errors };
    expect(value.main.exitCode, value.main.log).not.toBe(0);
    const message = firstError(value);
    expect(message).toContain(`The pull of ${v2.imageRef} on ${session.target.sshHost} ran out of disk space (now `);
    expect(message).toContain('Nothing was switched: the running version was not touched and keeps serving');
    expect(message).toContain('min-free-space is off: set it');
    expect(message).toMatch(/no space left on device/i);
    expect(await onTarget(v2.imageRef)).toBe(false);
    expect(await servingState()).toEqual(before);
    expect(await app.lock()).toBeUndefined();
    // Reads never failed; an upload may fail while the disk is full (the app's own volume is on it),
    // but no acknowledged upload is lost.
    expect(row.failed - writes.failed).toBe(0);
    expect(row.lost).toBe(0);
    expect(await answeringVersion(app.endpoint)).toBe('v1');
  }, 240_000);

  it('the disk full under the running app: uploads get a clear 507, reads and the stored history stay, writes resume when there is room', async () => {
    const dataRoot = session.target.dataRoot as string;
    const before = await servingState();
    const { row, writes } = await underTraffic('disk full under the running app (no deploy)', app.endpoint, async () => {
      await new Promise((r) => setTimeout(r, 1500));
      try {
        figures['case C free with ballast'] = formatBytes(fillDisk(dataRoot, 0));
        await new Promise((r) => setTimeout(r, 5000));
      } finally {
        removeBallast();
      }
      await new Promise((r) => setTimeout(r, 3000));
    }, { expectVersion: 'v1', result: () => 'app kept serving' });
    figures['case C writes'] = { sent: writes.sent, acknowledged: writes.acknowledged.length, failed: writes.failed, errors: writes.errors };
    expect(await servingState()).toEqual(before);
    // Reads never failed; every upload refused while the disk was full was refused as such.
    expect(row.failed - writes.failed).toBe(0);
    expect(writes.failed).toBeGreaterThan(0);
    expect(Object.keys(writes.errors)).toEqual(['HTTP 507']);
    expect(row.lost).toBe(0);
    // Writes resumed once there was room again.
    await upload(app.endpoint, await sampleImage());
    expect(await answeringVersion(app.endpoint)).toBe('v1');
  }, 240_000);

  it('with the ballast gone, v2 deploys under traffic: 0 failed, nothing lost', async () => {
    const dataRoot = session.target.dataRoot as string;
    removeBallast();
    figures['free without ballast'] = formatBytes(freeBytes(dataRoot));
    const { value, row } = await underTraffic('disk freed: v1 → v2 (400 MiB layer)', app.endpoint, async () => {
      await new Promise((r) => setTimeout(r, 1500));
      const run = await app.deploy({ image: v2.imageRef });
      await new Promise((r) => setTimeout(r, 1500));
      return run;
    }, { expectVersion: 'v2', result: (r) => (r.main.exitCode === 0 ? `deployed in ${r.ms} ms` : `exit ${r.main.exitCode}`) });
    figures['free after v2'] = formatBytes(freeBytes(dataRoot));
    expect(value.main.exitCode, value.main.log).toBe(0);
    expect(value.main.log).toMatch(/disk: .* free of .* at the Docker data-root \/var\/lib\/gangway-lab\/gw-target3 \(min-free-space 1\.00 GiB\)/);
    expect(row.failed).toBe(0);
    expect(row.lost).toBe(0);
    expect(row.rowsAfter).toBeGreaterThan(row.rowsBefore);
    expect(await answeringVersion(app.endpoint)).toBe('v2');
  }, 240_000);
});
