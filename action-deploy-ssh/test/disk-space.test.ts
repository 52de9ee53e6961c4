import { describe, expect, it } from 'vitest';
import { isConfigurationError } from '@gangway/kit';
import { runContainerDeploy } from './fakes.ts';
import { DiskProbeUnavailableError, parseDfOutput, type DataRootSpace, type DiskProbe } from '../src/host/disk-space.ts';
import { recreate } from '../src/container/strategy/recreate.ts';
import { DIGEST_V1, DIGEST_V2, FakeEngine, hostContext } from './fakes.ts';
import { settings } from './helpers.ts';

const REPO = 'registry.example.com/team/shop';
const GiB = 2 ** 30;
const MiB = 2 ** 20;

describe('parseDfOutput', () => {
  it('reads df -Pk (1024-byte blocks)', () => {
    const out = 'Filesystem     1024-blocks   Used Available Capacity Mounted on\n/dev/loop0         3021608 439460   2565764      15% /var/lib/gangway-lab/gw-target3\n';
    expect(parseDfOutput(out, '/var/lib/gangway-lab/gw-target3')).toEqual({
      dataRoot: '/var/lib/gangway-lab/gw-target3',
      filesystem: '/dev/loop0',
      mountedOn: '/var/lib/gangway-lab/gw-target3',
      totalBytes: 3021608 * 1024,
      availableBytes: 2565764 * 1024,
    });
  });

  it('reads from the right, so a device or mount point with spaces still parses', () => {
    const out = 'Filesystem 1024-blocks Used Available Capacity Mounted on\nmy disk 100 40 60 40% /mnt/data root\n';
    expect(parseDfOutput(out, '/mnt/data root/docker')).toMatchObject({ filesystem: 'my disk', mountedOn: '/mnt/data root', availableBytes: 60 * 1024 });
  });

  it('refuses what is not a POSIX df table (a restricted shell, a banner)', () => {
    expect(() => parseDfOutput('This account only runs docker.\n', '/var/lib/docker')).toThrow(DiskProbeUnavailableError);
    expect(() => parseDfOutput('Filesystem 1024-blocks Used Available Capacity Mounted on\n/dev/sda1 x y z 1% /\n', '/var/lib/docker')).toThrow(DiskProbeUnavailableError);
  });
});

function probe(space: Partial<DataRootSpace> | Error): DiskProbe & { calls: number } {
  const p = {
    calls: 0,
    async dataRootSpace(): Promise<DataRootSpace> {
      p.calls++;
      if (space instanceof Error) throw space;
      return { dataRoot: '/var/lib/docker', filesystem: '/dev/sdb1', mountedOn: '/var/lib/docker', totalBytes: 20 * GiB, availableBytes: 10 * GiB, ...space };
    },
  };
  return p;
}

function engine(): FakeEngine {
  const e = new FakeEngine();
  e.registry.push({ repository: REPO, tag: 'v1', digest: DIGEST_V1, id: 'sha256:img1' }, { repository: REPO, tag: 'v2', digest: DIGEST_V2, id: 'sha256:img2' });
  return e;
}

let run = 0;
async function deploy(e: FakeEngine, image: string, disk: DiskProbe | undefined, minFree?: string) {
  const s = settings({ image, publish: '8080', strategy: 'recreate', ...(minFree === undefined ? {} : { 'min-free-space': minFree }) }, { readinessTimeoutMs: 300 });
  const ctx = { ...hostContext(e, s), ...(disk ? { disk } : {}) };
  run++;
  const provenance = { gitSha: String(run).repeat(40).slice(0, 40), runUrl: `https://github.com/acme/shop/actions/runs/${run}`, actor: 'octocat', at: new Date(Date.parse('2026-11-22T10:00:00Z') + run * 60_000).toISOString() };
  const result = await runContainerDeploy(ctx, recreate, provenance, { acquired: () => undefined, released: () => undefined });
  return { ...result, log: ctx.log };
}

describe('min-free-space: the room check before the pull', () => {
  it('defaults to 1GiB and goes on, saying what it measured, when there is room', async () => {
    const e = engine();
    const { error, log } = await deploy(e, `${REPO}:v1`, probe({ availableBytes: 10 * GiB }));
    expect(error).toBeUndefined();
    expect(log.text).toContain('disk: 10.0 GiB free of 20.0 GiB at the Docker data-root /var/lib/docker (min-free-space 1.00 GiB)');
  });

  it('refuses before pulling (no pull, no lock, nothing running touched) and says where, how much and what to do', async () => {
    const e = engine();
    await deploy(e, `${REPO}:v1`, undefined);
    const running = e.running('shop');
    const mark = e.events.length;
    const { error, report } = await deploy(e, `${REPO}:v2`, probe({ availableBytes: 300 * MiB, mountedOn: '/' }), '1GiB');
    expect(isConfigurationError(error)).toBe(true);
    expect(error?.message).toBe(
      `Not enough disk space on target to pull ${REPO}:v2: 300 MiB free of 20.0 GiB at the Docker data-root /var/lib/docker (on /), below min-free-space 1.00 GiB. Nothing was pulled and nothing running was touched. Free space on the server (docker image prune; lower "keep" so fewer old images stay), give the data-root a larger disk, or lower "min-free-space" ("0" turns this check off).`,
    );
    expect(report.result).toBe('failed');
    // Nothing happened on the host: no image pulled, no lock container, nothing stopped.
    expect(e.events.slice(mark)).toEqual([]);
    expect(e.images.has('sha256:img2')).toBe(false);
    expect(e.running('shop')).toEqual(running);
  });

  it('0 turns it off: the probe is not even asked', async () => {
    const p = probe({ availableBytes: 1 });
    const { error } = await deploy(engine(), `${REPO}:v1`, p, '0');
    expect(error).toBeUndefined();
    expect(p.calls).toBe(0);
  });

  it('a server that cannot tell (no exec, no df) gets a warning, and the deploy goes on', async () => {
    const { error, log } = await deploy(engine(), `${REPO}:v1`, probe(new DiskProbeUnavailableError('df could not run over SSH (the server refused to run df: Unable to exec)')));
    expect(error).toBeUndefined();
    expect(log.warnings.join('\n')).toContain('Could not measure the free space of the Docker data-root on target, so the min-free-space check is skipped: df could not run over SSH');
  });

  it('an image already on the server by digest needs no room: low space only warns', async () => {
    const e = engine();
    await deploy(e, `${REPO}:v1`, undefined);
    const { error, log } = await deploy(e, `${REPO}@${DIGEST_V1}`, probe({ availableBytes: 100 * MiB }));
    expect(error).toBeUndefined();
    expect(log.warnings.join('\n')).toContain(`is already there, so nothing needs pulling`);
  });

  it('the same image by tag is still refused: the tag may have moved', async () => {
    const e = engine();
    await deploy(e, `${REPO}:v1`, undefined);
    const { error } = await deploy(e, `${REPO}:v1`, probe({ availableBytes: 100 * MiB }));
    expect(error?.message).toContain('Not enough disk space on target');
  });
});

describe('a pull that runs out of disk anyway', () => {
  it('says so, with the free space now and the fixes, and nothing running is touched', async () => {
    const e = engine();
    await deploy(e, `${REPO}:v1`, undefined);
    const running = e.running('shop');
    const pull = e.pull.bind(e);
    e.pull = async (repository, tag, auth, onMessage) => {
      if (tag === 'v2') throw new Error('failed to register layer: write /var/lib/docker/overlay2/abc/diff/big.bin: no space left on device');
      return pull(repository, tag, auth, onMessage);
    };
    const { error, report } = await deploy(e, `${REPO}:v2`, probe({ availableBytes: 900 * MiB }), '0');
    expect(error?.message).toMatch(
      new RegExp(`^The pull of ${REPO.replace(/\./g, '\\.')}:v2 on target ran out of disk space \\(now 900 MiB free of 20\\.0 GiB at the Docker data-root /var/lib/docker\\)\\. Nothing was switched: the running version was not touched and keeps serving\\. .*min-free-space is off: set it`),
    );
    expect(error?.message).toContain('(The engine: write /var/lib/docker/overlay2/abc/diff/big.bin: no space left on device.)');
    expect(report.result).toBe('failed');
    expect(e.running('shop')).toEqual(running);
  });
});
