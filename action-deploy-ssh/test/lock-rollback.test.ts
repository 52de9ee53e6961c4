import { describe, expect, it } from 'vitest';
import { lockName } from '../src/container/spec.ts';
import { LABEL } from '../src/labels.ts';
import { runContainerDeploy } from './fakes.ts';
import { acquireLock, LockTimeoutError, releaseLock } from '../src/host/lock.ts';
import { recreate } from '../src/container/strategy/recreate.ts';
import { DIGEST_V1, DIGEST_V3, hostContext, type FakeEngine } from './fakes.ts';
import { engine, prov, REPO, settings } from './helpers.ts';

const noLocks = { acquired: () => undefined, released: () => undefined };


const logs = { log: () => undefined, warn: () => undefined };

describe('the deploy lock', () => {
  it('is atomic: a second taker waits and then fails naming the holder', async () => {
    const e = engine();
    const held = await acquireLock(e, { app: 'shop', image: 'sha256:img1', provenance: prov('alice'), timeoutMs: 1000, ttlMs: 60_000, ...logs });
    const waits: string[] = [];
    const err = await acquireLock(e, { app: 'shop', image: 'sha256:img1', provenance: prov('bob'), timeoutMs: 120, ttlMs: 60_000, pollMs: 20, log: (l) => waits.push(l), warn: () => undefined }).catch((x: unknown) => x);
    expect(err).toBeInstanceOf(LockTimeoutError);
    expect((err as Error).message).toMatch(/still held after .* by alice \(run https:\/\/github.com\/acme\/shop\/actions\/runs\/\d+/);
    expect(waits[0]).toMatch(/waiting for the deploy lock of shop, held by alice/);
    expect(await releaseLock(e, held)).toBe(true);
  });

  it('is taken as soon as the holder releases it', async () => {
    const e = engine();
    const held = await acquireLock(e, { app: 'shop', image: 'sha256:img1', provenance: prov('alice'), timeoutMs: 1000, ttlMs: 60_000, ...logs });
    setTimeout(() => void releaseLock(e, held), 60);
    const second = await acquireLock(e, { app: 'shop', image: 'sha256:img1', provenance: prov('bob'), timeoutMs: 2000, ttlMs: 60_000, pollMs: 20, ...logs });
    expect(second.token).not.toBe(held.token);
    const marker = [...e.containers.values()].find((c) => c.options.name === lockName('shop'));
    expect(marker?.options.Labels?.[LABEL.actor]).toBe('bob');
    expect(marker?.state).toBe('created');
  });

  it('takes over a stale lock with a warning; never releases someone else\'s', async () => {
    const e = engine();
    const old = await acquireLock(e, { app: 'shop', image: 'sha256:img1', provenance: prov('alice'), timeoutMs: 1000, ttlMs: 60_000, ...logs });
    e.time += 31 * 60_000;
    const warnings: string[] = [];
    const mine = await acquireLock(e, { app: 'shop', image: 'sha256:img1', provenance: prov('bob'), timeoutMs: 1000, ttlMs: 30 * 60_000, log: () => undefined, warn: (w) => warnings.push(w) });
    expect(warnings[0]).toMatch(/stale \(held for 31m00s, lock-ttl 30m00s\) by alice .*: taking it over/);
    // alice's late release must not remove bob's lock.
    expect(await releaseLock(e, old)).toBe(false);
    expect(await releaseLock(e, mine)).toBe(true);
  });

  it('does not block other apps', async () => {
    const e = engine();
    await acquireLock(e, { app: 'shop', image: 'sha256:img1', provenance: prov(), timeoutMs: 100, ttlMs: 60_000, ...logs });
    await expect(acquireLock(e, { app: 'blog', image: 'sha256:img1', provenance: prov(), timeoutMs: 100, ttlMs: 60_000, ...logs })).resolves.toBeDefined();
  });
});

async function run(e: FakeEngine, extra: Record<string, string>) {
  const ctx = hostContext(e, settings({ publish: '8080', env: 'MODE=prod', ...extra }, { readinessTimeoutMs: 300 }));
  const r = await runContainerDeploy(ctx, recreate, prov(), noLocks);
  return { ...r, log: ctx.log };
}

describe('rollback: true', () => {
  it('switches back to the previous container, kept stopped', async () => {
    const e = engine();
    const v1 = await run(e, { image: `${REPO}:v1` });
    const v2 = await run(e, { image: `${REPO}:v2` });
    const back = await run(e, { rollback: 'true', image: '' });
    expect(back.error).toBeUndefined();
    expect([back.report.mode, back.report.result]).toEqual(['rollback', 'deployed']);
    expect(back.report.container?.name).toBe(v1.report.container?.name);
    expect(back.report.previous?.name).toBe(v2.report.container?.name);
    expect(e.running('shop')).toEqual([v1.report.container?.name]);
    const policies = Object.fromEntries([...e.containers.values()].map((c) => [c.options.name, c.options.HostConfig?.RestartPolicy?.Name]));
    expect(policies[v1.report.container?.name ?? '']).toBe('unless-stopped');
    expect(policies[v2.report.container?.name ?? '']).toBe('no');
  });

  // Found by running deploy.yml on the lab (issue #15): v2 failed its smoke test and was rolled
  // back to v1; then v3 replaced v1. A rollback must go to v1, the container v3 replaced, not to
  // v2 (newer than v1, but rolled back from).
  it('goes back to the container the current one replaced, never to one rolled back from', async () => {
    const e = engine();
    e.registry.push({ repository: REPO, tag: 'v3', digest: DIGEST_V3, id: 'sha256:img3' });
    const v1 = await run(e, { image: `${REPO}:v1` });
    const v2 = await run(e, { image: `${REPO}:v2` });
    await run(e, { rollback: 'true', image: '' });
    const v3 = await run(e, { image: `${REPO}:v3` });
    expect(e.running('shop')).toEqual([v3.report.container?.name]);
    const back = await run(e, { rollback: 'true', image: '' });
    expect(back.error).toBeUndefined();
    expect(back.report.container?.name).toBe(v1.report.container?.name);
    expect(back.report.container?.name).not.toBe(v2.report.container?.name);
    expect(e.running('shop')).toEqual([v1.report.container?.name]);
  });

  it('re-creates the previous version from its recorded image when its container is gone', async () => {
    const e = engine();
    const v1 = await run(e, { image: `${REPO}:v1` });
    await run(e, { image: `${REPO}:v2` });
    await e.removeContainer(v1.report.container?.id ?? '', { force: true });
    const back = await run(e, { rollback: 'true', image: '' });
    expect(back.error).toBeUndefined();
    expect(back.report.image).toBe(`${REPO}@${DIGEST_V1}`);
    const running = [...e.containers.values()].find((c) => c.state === 'running');
    expect(running?.options.Image).toBe(`${REPO}@${DIGEST_V1}`);
    expect(running?.options.Env).toContain('MODE=prod');
  });

  it('fails clearly when there is nothing to roll back to', async () => {
    const e = engine();
    const none = await run(e, { rollback: 'true', image: '' });
    expect(none.error?.message).toMatch(/Nothing to roll back to for shop.*no container/);
    await run(e, { image: `${REPO}:v1` });
    const only = await run(e, { rollback: 'true', image: '' });
    expect(only.error?.message).toMatch(/Nothing to roll back to.*only version/);
    expect(e.running('shop')).toHaveLength(1);
  });
});
