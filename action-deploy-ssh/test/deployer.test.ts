import { describe, expect, it } from 'vitest';
import { lockName } from '../src/container/spec.ts';
import { LABEL, type Provenance } from '../src/labels.ts';
import type { LockEvents } from '../src/host/deployer.ts';
import { runContainerDeploy, engineWithReleases, RELEASES_REPO } from './fakes.ts';
import type { HeldLock, PendingLock } from '../src/host/lock.ts';
import { recreate } from '../src/container/strategy/recreate.ts';
import type { DeploySettings } from '../src/settings/index.ts';
import type { FakeEngine} from './fakes.ts';
import { DIGEST_V1, DIGEST_V2, DIGEST_V3, hostContext } from './fakes.ts';
import { settings } from './helpers.ts';
import { EDGE_LOCK_NAME, withEdgeLock } from '../src/edge/edge.ts';
import { AUDIT_VOLUME, parseAudit, readAudit, type AuditEntry } from '../src/host/audit.ts';

const REPO = RELEASES_REPO;

const engineWithImages = engineWithReleases;

let tick = 0;
function provenance(): Provenance {
  tick++;
  return { gitSha: `${tick}`.repeat(40).slice(0, 40), runUrl: `https://github.com/acme/shop/actions/runs/${tick}`, actor: 'octocat', at: new Date(Date.parse('2026-11-22T10:00:00Z') + tick * 60_000).toISOString() };
}

function lockEvents(): LockEvents & { held: HeldLock[]; freed: PendingLock[] } {
  const held: HeldLock[] = [];
  const freed: PendingLock[] = [];
  return {
    held,
    freed,
    acquired: (_h, l) => void held.push(l),
    released: (_h, l) => void freed.push(l),
  };
}

async function deploy(engine: FakeEngine, tag: string, extra: Record<string, string> = {}, overrides: Partial<DeploySettings> = {}) {
  const s = settings({ image: `${REPO}:${tag}`, publish: '8080', strategy: 'recreate', env: 'SECRET=hunter22\nMODE=prod', ...extra }, { readinessTimeoutMs: 300, ...overrides });
  const ctx = hostContext(engine, s);
  const locks = lockEvents();
  const result = await runContainerDeploy(ctx, recreate, provenance(), locks);
  return { ...result, log: ctx.log, locks };
}

describe('recreate on one host', () => {
  it('deploys the first version: pull by tag, record the digest, create, start, ready', async () => {
    const engine = engineWithImages();
    const { report, error, log, locks } = await deploy(engine, 'v1');
    expect(error).toBeUndefined();
    expect(report.result).toBe('deployed');
    expect(report.image).toBe(`${REPO}@${DIGEST_V1}`);
    expect(report.imageDigest).toBe(DIGEST_V1);
    expect(report.previous).toBeUndefined();
    expect(engine.running('shop')).toEqual([report.container?.name]);
    expect(report.container?.name).toMatch(/^shop-20261122t\d{6}z-111111111111$/);
    const created = [...engine.containers.values()].find((c) => c.options.name === report.container?.name);
    expect(created?.options.Image).toBe(`${REPO}@${DIGEST_V1}`);
    expect(created?.options.Labels).toMatchObject({ [LABEL.app]: 'shop', [LABEL.digest]: DIGEST_V1, [LABEL.actor]: 'octocat' });
    // Env values are in the container's env only: never in labels, names or the log.
    expect(created?.options.Env).toContain('SECRET=hunter22');
    expect(JSON.stringify(created?.options.Labels)).not.toContain('hunter22');
    expect(log.text).not.toContain('hunter22');
    expect(report.phases.map((p) => p.phase)).toEqual(['pull', 'lock', 'create', 'start new', 'readiness', 'retention', 'unlock']);
    // The lock is gone again, and was reported taken and released.
    expect([...engine.containers.values()].some((c) => c.options.name === lockName('shop'))).toBe(false);
    expect(locks.held).toHaveLength(1);
    expect(locks.freed).toHaveLength(1);
  });

  it('replaces v1 by v2: stops the old before starting the new, keeps the old stopped for rollback', async () => {
    const engine = engineWithImages();
    const first = await deploy(engine, 'v1');
    const mark = engine.events.length;
    // Between the old container's stop and the new one's readiness: a 150 ms start, then readiness.
    const realStart = engine.startContainer.bind(engine);
    engine.startContainer = async (id) => {
      await new Promise((r) => setTimeout(r, 150));
      return realStart(id);
    };
    const { report, error } = await deploy(engine, 'v2');
    expect(error).toBeUndefined();
    expect(report.previous?.name).toBe(first.report.container?.name);
    expect(engine.running('shop')).toEqual([report.container?.name]);
    // The order is recreate's contract: the old one stops before the new one starts (both publish 8080).
    const events = engine.events.slice(mark);
    expect(events.indexOf(`stopped ${first.report.container?.name}`)).toBeGreaterThan(-1);
    expect(events.indexOf(`stopped ${first.report.container?.name}`)).toBeLessThan(events.indexOf(`started ${report.container?.name}`));
    const old = [...engine.containers.values()].find((c) => c.options.name === first.report.container?.name);
    expect(old?.state).toBe('exited');
    const next = [...engine.containers.values()].find((c) => c.options.name === report.container?.name);
    expect(next?.options.Labels?.[LABEL.previousImage]).toBe(`${REPO}@${DIGEST_V1}`);
    // recreate's downtime runs from the stop to readiness: it holds the 150 ms start, and no more than the
    // phases from 'stop old' to 'readiness' took.
    const phase = (name: string): number => report.phases.find((p) => p.phase === name)?.ms ?? Number.NaN;
    expect(report.downtimeMs).toBeGreaterThanOrEqual(145);
    expect(report.downtimeMs).toBeGreaterThanOrEqual(phase('start new') + phase('readiness') - 5);
    expect(report.downtimeMs).toBeLessThanOrEqual(phase('stop old') + phase('start new') + phase('readiness') + 20);
    // The retained container will not come back by itself after a dockerd restart.
    expect(old?.options.HostConfig?.RestartPolicy?.Name).toBe('no');
    expect(next?.options.HostConfig?.RestartPolicy?.Name).toBe('unless-stopped');
  });

  it('rolls back automatically when the new version never gets ready, printing its logs', async () => {
    const engine = engineWithImages();
    await deploy(engine, 'v1');
    const v2 = await deploy(engine, 'v2');
    const v3 = await deploy(engine, 'v3', { env: 'NEVER_READY=1' });
    expect(v3.error?.message).toMatch(/did not get ready.*rolled back/s);
    expect(v3.report.result).toBe('rolled-back');
    expect(v3.report.rolledBack).toBe(true);
    expect(engine.running('shop')).toEqual([v2.report.container?.name]);
    // The failed container is gone; its logs are in the step log.
    expect([...engine.containers.values()].some((c) => c.options.name === v3.report.container?.name)).toBe(false);
    expect(v3.log.text).toContain(`log of ${v3.report.container?.name}`);
    expect(v3.log.text).toMatch(/ready again/);
    const restored = [...engine.containers.values()].find((c) => c.options.name === v2.report.container?.name);
    expect(restored?.options.HostConfig?.RestartPolicy?.Name).toBe('unless-stopped');
    // And the lock is released even so.
    expect([...engine.containers.values()].some((c) => c.options.name === lockName('shop'))).toBe(false);
  });

  it('fails without rollback on a first deploy that never gets ready, and removes it', async () => {
    const engine = engineWithImages();
    const { report, error } = await deploy(engine, 'v1', { env: 'NEVER_READY=1' });
    expect(error).toBeDefined();
    expect(report.result).toBe('failed');
    expect(report.rolledBack).toBe(false);
    expect(engine.containers.size).toBe(0);
  });

  it('aborts before the switch when a pre-deploy command fails: the old version is untouched', async () => {
    const engine = engineWithImages();
    const v1 = await deploy(engine, 'v1');
    engine.commandExit = (argv) => (argv.includes('migrate.js') ? 3 : 0);
    const oldLife = engine.lifecycle(v1.report.container?.name ?? '');
    const v2 = await deploy(engine, 'v2', { 'pre-deploy': '["node", "migrate.js"]' });
    expect(v2.error?.message).toMatch(/pre-deploy command \["node","migrate.js"\] failed: exit code 3.*Nothing was switched/s);
    expect(v2.report.rolledBack).toBe(false);
    expect(engine.running('shop')).toEqual([v1.report.container?.name]);
    // Running since before this deploy (never stopped or restarted), and still set to come back by itself.
    expect(engine.lifecycle(v1.report.container?.name ?? '')).toEqual(oldLife);
    expect(engine.container(v1.report.container?.name ?? '')?.options.HostConfig?.RestartPolicy?.Name).toBe('unless-stopped');
    // The one-off hook container is removed too.
    expect([...engine.containers.values()].filter((c) => c.options.Labels?.[LABEL.role] === 'hook')).toHaveLength(0);
  });

  it('runs pre-deploy in a one-off container with the exact argv and post-deploy by exec', async () => {
    const engine = engineWithImages();
    const seen: string[][] = [];
    engine.commandExit = (argv) => {
      seen.push(argv);
      return 0;
    };
    const { error, report } = await deploy(engine, 'v1', { 'pre-deploy': 'node migrate.js --to latest', 'post-deploy': '["node", "-e", "warm()"]' });
    expect(error).toBeUndefined();
    expect(seen).toEqual([
      ['node', 'migrate.js', '--to', 'latest'],
      ['node', '-e', 'warm()'],
    ]);
    // post-deploy ran inside the new container itself.
    expect(engine.container(report.container?.name ?? '')?.execs).toEqual([['node', '-e', 'warm()']]);
    expect(report.phases.map((p) => p.phase)).toContain('pre-deploy');
    expect(report.phases.map((p) => p.phase)).toContain('post-deploy');
  });

  it('rolls back when post-deploy fails after the switch', async () => {
    const engine = engineWithImages();
    const v1 = await deploy(engine, 'v1');
    engine.commandExit = () => 1;
    const v2 = await deploy(engine, 'v2', { 'post-deploy': 'node warm.js' });
    expect(v2.report.rolledBack).toBe(true);
    expect(engine.running('shop')).toEqual([v1.report.container?.name]);
  });

  it('keeps `keep` containers of this app and never touches another app', async () => {
    const engine = engineWithImages();
    const other = await deploy(engine, 'v1', { app: 'blog', publish: '9090' });
    for (const tag of ['v3', 'v1', 'v2', 'v1', 'v2']) {
      const r = await deploy(engine, tag);
      expect(r.error).toBeUndefined();
    }
    const shop = [...engine.containers.values()].filter((c) => c.options.Labels?.[LABEL.app] === 'shop');
    expect(shop).toHaveLength(3);
    expect(engine.running('blog')).toEqual([other.report.container?.name]);
    // Only images no kept container uses were removed (v3's, by its digest reference).
    expect([...engine.images.keys()].sort()).toEqual(['sha256:img1', 'sha256:img2']);
    expect(engine.events).toContain(`removed image ${REPO}@${DIGEST_V3}`);
  });

  it('removes hook containers a killed run left behind, on the next successful deploy', async () => {
    const engine = engineWithImages();
    await deploy(engine, 'v1');
    await engine.createContainer({ name: 'shop-leftover-pre-deploy-abc', Image: `${REPO}@${DIGEST_V1}`, Labels: { [LABEL.managed]: 'true', [LABEL.app]: 'shop', [LABEL.role]: 'hook' } });
    await engine.createContainer({ name: 'blog-leftover-pre-deploy-abc', Image: `${REPO}@${DIGEST_V1}`, Labels: { [LABEL.managed]: 'true', [LABEL.app]: 'blog', [LABEL.role]: 'hook' } });
    await deploy(engine, 'v2');
    const names = [...engine.containers.values()].map((c) => c.options.name);
    expect(names).not.toContain('shop-leftover-pre-deploy-abc');
    expect(names).toContain('blog-leftover-pre-deploy-abc');
  });

  it('refuses readiness-path: docker for an image without HEALTHCHECK before changing anything', async () => {
    const engine = engineWithImages();
    const { error } = await deploy(engine, 'v1', { 'readiness-path': 'docker', 'container-port': '' , publish: '' });
    expect(error?.name).toBe('ConfigurationError');
    expect(engine.events.filter((e) => e.startsWith('created '))).toEqual([]);
  });

  it('sends registry credentials with the pull only', async () => {
    const engine = engineWithImages();
    await deploy(engine, 'v1', { 'registry-username': 'bot', 'registry-password': 'reg-pass-123' });
    const header = engine.pullAuth[0] ?? '';
    const decoded = JSON.parse(Buffer.from(header.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8')) as Record<string, string>;
    expect(decoded).toEqual({ username: 'bot', password: 'reg-pass-123', serveraddress: 'registry.example.com' });
    for (const c of engine.containers.values()) expect(JSON.stringify(c.options)).not.toContain('reg-pass-123');
  });
});

describe('the edge lock', () => {
  it('is held only while the edge changes, reported to the step state while held, and released when the change fails', async () => {
    const engine = engineWithImages();
    // The marker is made from an image the host has (the edge's, in a deploy).
    await engine.pull(REPO, 'v1', undefined, () => undefined);
    const ctx = hostContext(engine, settings({ image: `${REPO}:v1`, publish: '8080' }));
    const locks = lockEvents();
    ctx.locks = locks;
    const markers = () => [...engine.containers.values()].filter((c) => c.options.name === EDGE_LOCK_NAME).length;
    const inside = await withEdgeLock(ctx, 'sha256:img1', () => Promise.resolve({ markers: markers(), held: locks.held.map((l) => l.name), freed: locks.freed.length }));
    expect(inside).toEqual({ markers: 1, held: [EDGE_LOCK_NAME], freed: 0 });
    expect(markers()).toBe(0);
    expect(locks.freed.map((l) => l.name)).toEqual([EDGE_LOCK_NAME]);
    // A change that throws still lets the lock go; a second taker gets it at once.
    await expect(withEdgeLock(ctx, 'sha256:img1', () => Promise.reject(new Error('caddy refused')))).rejects.toThrow('caddy refused');
    expect(markers()).toBe(0);
    expect(locks.freed).toHaveLength(2);
  });
});

describe('gpus', () => {
  it('asks the engine for its NVIDIA runtime before anything is pulled or changed, and fails naming gpus without it', async () => {
    const engine = engineWithImages();
    await deploy(engine, 'v1');
    const before = [...engine.containers.values()].map((c) => `${c.options.name} ${c.state}`).sort();
    const { error, report } = await deploy(engine, 'v2', { gpus: 'all' });
    expect(error?.message).toMatch(/^Input "gpus": the Docker engine on target has no NVIDIA runtime \(its runtimes: io\.containerd\.runc\.v2, runc\)/);
    expect(report.result).toBe('failed');
    // Nothing pulled, made or stopped: v1 serves as before.
    expect(engine.images.size).toBe(1);
    expect([...engine.containers.values()].map((c) => `${c.options.name} ${c.state}`).sort()).toEqual(before);
  });

  it('gives the new container the GPUs as the engine\'s device request for the NVIDIA driver', async () => {
    const engine = engineWithImages();
    engine.runtimeNames.push('nvidia');
    const all = await deploy(engine, 'v1', { gpus: 'all' });
    expect(all.error).toBeUndefined();
    const created = (name: string | undefined) => [...engine.containers.values()].find((c) => c.options.name === name)?.options.HostConfig?.DeviceRequests;
    expect(created(all.report.container?.name)).toEqual([{ Driver: 'nvidia', Count: -1, Capabilities: [['gpu']] }]);
    const two = await deploy(engine, 'v2', { gpus: 'device=0,GPU-3a23c669' });
    expect(two.error).toBeUndefined();
    expect(created(two.report.container?.name)).toEqual([{ Driver: 'nvidia', DeviceIDs: ['0', 'GPU-3a23c669'], Capabilities: [['gpu']] }]);
  });
});

describe('the audit log', () => {
  it('appends one line per run that held the lock, in a volume of its own, written and read through throwaway containers; audit: true reads it and changes nothing', async () => {
    const engine = engineWithImages();
    const v1 = await deploy(engine, 'v1');
    await deploy(engine, 'v2');
    const v3 = await deploy(engine, 'v3', { env: 'NEVER_READY=1' });
    expect(v3.report.result).toBe('rolled-back');
    // One file per app and year in the audit volume, one JSON line per run, oldest first.
    const year = new Date().getUTCFullYear();
    const lines = (engine.volumes.get(AUDIT_VOLUME)?.get(`shop/${year}.log`) ?? '').trim().split('\n').map((l) => JSON.parse(l) as AuditEntry);
    expect(lines.map((e) => [e.action, e.result, e.digest])).toEqual([
      ['deploy', 'deployed', DIGEST_V1],
      ['deploy', 'deployed', DIGEST_V2],
      ['deploy', 'rolled-back', DIGEST_V3],
    ]);
    expect(lines[2]).toMatchObject({ app: 'shop', host: 'target', roles: ['web'], actor: 'octocat', run: expect.stringMatching(/^https:\/\/github\.com\/acme\/shop\/actions\/runs\/\d+$/) as string });
    // Each run's report holds the last entries, its own last: what the job summary shows.
    expect(v1.report.audit?.map((e) => e.digest)).toEqual([DIGEST_V1]);
    expect(v3.report.audit?.map((e) => e.digest)).toEqual([DIGEST_V1, DIGEST_V2, DIGEST_V3]);
    // Nothing of the throwaway containers is left, and no secret went into the log.
    expect([...engine.containers.values()].filter((c) => c.options.Labels?.['gangway.role'] === 'audit')).toEqual([]);
    expect(engine.volumes.get(AUDIT_VOLUME)?.get(`shop/${year}.log`)).not.toContain('hunter22');

    // audit: true (no image): the log as the step's report; no lock, no line added, no container changed.
    const before = [...engine.containers.values()].map((c) => `${c.options.name} ${c.state}`).sort();
    const ctx = hostContext(engine, settings({ publish: '8080', strategy: 'recreate', audit: 'true', image: '' }));
    const read = await runContainerDeploy(ctx, recreate, provenance());
    expect(read.error).toBeUndefined();
    expect(read.report.mode).toBe('audit');
    expect(read.report.audit?.map((e) => e.result)).toEqual(['deployed', 'deployed', 'rolled-back']);
    expect(engine.volumes.get(AUDIT_VOLUME)?.get(`shop/${year}.log`)?.trim().split('\n')).toHaveLength(3);
    expect([...engine.containers.values()].map((c) => `${c.options.name} ${c.state}`).sort()).toEqual(before);
    // A later run adds to the log rather than replacing it.
    await deploy(engine, 'v2');
    expect(engine.volumes.get(AUDIT_VOLUME)?.get(`shop/${year}.log`)?.trim().split('\n')).toHaveLength(4);
  });

  it('skips a torn or incomplete line, and reads last year\'s file when this year\'s holds fewer than asked', async () => {
    const entry = (time: string) => JSON.stringify({ time, app: 'shop', host: 'h', action: 'deploy', roles: ['web'], actor: 'a', run: 'r', result: 'deployed' });
    expect(parseAudit(`${entry('2026-01-01T00:00:00Z')}\n{"time":"2026-01-02T0\n{"time":"2026-01-02T00:00:00Z","app":"shop"}\n${entry('2026-01-03T00:00:00Z')}\n`).map((e) => e.time)).toEqual(['2026-01-01T00:00:00Z', '2026-01-03T00:00:00Z']);
    const engine = engineWithImages();
    await engine.pull(REPO, 'v1', undefined, () => undefined);
    engine.volumes.set(AUDIT_VOLUME, new Map([['shop/2025.log', `${entry('2025-12-30T00:00:00Z')}\n${entry('2025-12-31T00:00:00Z')}\n`], ['shop/2026.log', `${entry('2026-01-01T00:00:00Z')}\n`]]));
    expect((await readAudit(engine, 'sha256:img1', 'shop', new Date('2026-01-02T00:00:00Z'), 2)).map((e) => e.time)).toEqual(['2025-12-31T00:00:00Z', '2026-01-01T00:00:00Z']);
    expect((await readAudit(engine, 'sha256:img1', 'shop', new Date('2026-01-02T00:00:00Z'), 1)).map((e) => e.time)).toEqual(['2026-01-01T00:00:00Z']);
  });
});
