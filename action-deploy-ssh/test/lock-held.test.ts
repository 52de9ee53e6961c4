// Issue #16, item 8: the deploy lock cannot be taken over while its holder still deploys.
// A lock-ttl shorter than the phases it guards is refused; the holder refreshes the lock
// (heartbeat) while it holds it; right before the switch the deploy checks that the lock is
// still its own, and switches nothing when it is not.
import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '@gangway/kit';
import { lockName } from '../src/container/spec.ts';
import { LABEL } from '../src/labels.ts';
import { runContainerDeploy } from './fakes.ts';
import { acquireLock, LOCK_HEARTBEAT_FILE, releaseLock, startLockHeartbeat } from '../src/host/lock.ts';
import { lockGuardedMs } from '../src/settings/rollout.ts';
import { blueGreen } from '../src/container/strategy/blue-green.ts';
import { recreate } from '../src/container/strategy/recreate.ts';
import { hostContext } from './fakes.ts';
import { baseInputs, engine, prov, REPO, settings, settingsFrom } from './helpers.ts';

const noLocks = { acquired: () => undefined, released: () => undefined };
const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));


function refused(extra: Record<string, string>): ConfigurationError {
  try {
    settingsFrom(baseInputs(extra));
  } catch (error) {
    if (error instanceof ConfigurationError) return error;
    throw error;
  }
  throw new Error(`expected a ConfigurationError for ${JSON.stringify(extra)}`);
}

describe('lock-ttl covers the phases under the lock', () => {
  it('refuses a lock-ttl shorter than readiness + settle + drain + stop (+ switch, Engine calls), naming lock-ttl and the minimum', () => {
    const e = refused({ publish: '8080', 'lock-ttl': '1s' });
    expect(e.input).toBe('lock-ttl');
    // Defaults: readiness 60s + switch 10s + settle 200ms (helpers) + switch 10s + drain 30s + stop 30s + Engine calls 20s.
    expect(e.message).toMatch(/"lock-ttl" is 1s, shorter .* at least 2m40s \(readiness-timeout 1m00s \+ switch 10.0s \+ settle-time 200ms \+ switch after settle 10.0s \+ drain-timeout 30.0s \+ stop-timeout 30.0s \+ Engine calls 20.0s\)/);
    // A long settle-time or readiness-timeout needs a lock-ttl to match, even the default one (30m).
    expect(refused({ publish: '8080', 'settle-time': '45m' }).message).toMatch(/"lock-ttl" is 30m00s, shorter .* at least 47m/);
    expect(refused({ 'readiness-timeout': '40m' }).input).toBe('lock-ttl');
    expect(refused({ 'readiness-timeout': '2h', 'lock-ttl': '3h' }).input).toBe('readiness-timeout');
    // recreate and Swarm count their own phases.
    expect(refused({ strategy: 'recreate', 'lock-ttl': '30s' }).message).toMatch(/at least 2m20s \(stop-timeout 30.0s \+ readiness-timeout 1m00s \+ the old one ready again 30.0s \+ Engine calls 20.0s\)/);
    expect(refused({ target: 'swarm', 'lock-ttl': '3m' }).message).toMatch(/Swarm update/);
  });

  it('accepts a lock-ttl that covers them, and the defaults', () => {
    const s = settingsFrom(baseInputs({ publish: '8080' }));
    expect(s.lockTtlMs).toBeGreaterThanOrEqual(lockGuardedMs(s));
    const short = settingsFrom(baseInputs({ publish: '8080', 'readiness-timeout': '10s', 'settle-time': '0s', 'drain-timeout': '2s', 'stop-timeout': '5s', 'lock-ttl': '47s' }));
    expect(lockGuardedMs(short)).toBe(47_000);
  });
});

describe('the lock heartbeat', () => {
  it('keeps a held lock from looking stale to another run, however long the deploy takes', async () => {
    const e = engine();
    const held = await acquireLock(e, { app: 'shop', image: 'sha256:img1', provenance: prov('alice'), timeoutMs: 1000, ttlMs: 60_000, log: () => undefined, warn: () => undefined });
    const warnings: string[] = [];
    const beat = startLockHeartbeat(e, 'shop', held, { intervalMs: 20, warn: (l) => warnings.push(l) });
    try {
      // Two minutes of engine time pass while alice deploys; her heartbeat keeps writing the engine's time.
      e.time += 120_000;
      await pause(100);
      expect(e.containers.get(held.containerId)?.files?.get(LOCK_HEARTBEAT_FILE)?.trim()).toBe(new Date(e.time).toISOString());
      const taken: string[] = [];
      const bob = await acquireLock(e, { app: 'shop', image: 'sha256:img1', provenance: prov('bob'), timeoutMs: 150, ttlMs: 60_000, pollMs: 20, log: () => undefined, warn: (l) => taken.push(l) }).catch((x: unknown) => x);
      expect(bob).toBeInstanceOf(Error);
      expect(taken).toEqual([]);
      expect(e.containers.has(held.containerId)).toBe(true);
      expect(warnings).toEqual([]);
    } finally {
      await beat.stop();
    }
    // Once the beats stop (the holder died), the lock is stale after lock-ttl, counted from the last beat.
    e.time += 61_000;
    const warned: string[] = [];
    const carol = await acquireLock(e, { app: 'shop', image: 'sha256:img1', provenance: prov('carol'), timeoutMs: 1000, ttlMs: 60_000, log: () => undefined, warn: (l) => warned.push(l) });
    expect(warned[0]).toMatch(/stale \(held for 1m01s since its last heartbeat, lock-ttl 1m00s\) by alice/);
    expect(await releaseLock(e, carol)).toBe(true);
  });

  it('notices when the lock was taken away, and stops beating', async () => {
    const e = engine();
    const held = await acquireLock(e, { app: 'shop', image: 'sha256:img1', provenance: prov('alice'), timeoutMs: 1000, ttlMs: 60_000, log: () => undefined, warn: () => undefined });
    const warnings: string[] = [];
    const beat = startLockHeartbeat(e, 'shop', held, { intervalMs: 20, warn: (l) => warnings.push(l) });
    await e.removeContainer(held.containerId, { force: true });
    await acquireLock(e, { app: 'shop', image: 'sha256:img1', provenance: prov('bob'), timeoutMs: 1000, ttlMs: 60_000, log: () => undefined, warn: () => undefined });
    await pause(100);
    await beat.stop();
    expect(beat.lost?.message).toMatch(/no longer this run's \(now held by bob/);
    expect(warnings).toHaveLength(1);
  });
});

describe('the lock is checked right before the switch', () => {
  async function deployWhileTakenOver(strategy: 'blue-green' | 'recreate') {
    const e = engine();
    const s = settings({ publish: '8080', strategy, image: `${REPO}:v1`, 'drain-timeout': '200ms' }, { readinessTimeoutMs: 300 });
    const first = await runContainerDeploy(hostContext(e, s), strategy === 'recreate' ? recreate : blueGreen, prov(), noLocks);
    expect(first.error).toBeUndefined();
    const v1 = e.running('shop');
    const v1Life = e.lifecycle(v1[0] ?? '');
    // While v2 gets ready, another run takes the lock over as stale (removed by id, its own created).
    let stolen = false;
    e.onCall = (call) => {
      // Once the new container exists (before its readiness and the switch).
      if (stolen || !call.startsWith('create shop-')) return;
      const mine = [...e.containers.values()].find((c) => c.options.name === lockName('shop'));
      if (!mine) return;
      stolen = true;
      e.containers.delete(mine.id);
      void e.createContainer({ ...mine.options, Labels: { ...mine.options.Labels, [LABEL.actor]: 'mallory', [LABEL.lockToken]: 'another-token' } });
    };
    const ctx = hostContext(e, { ...s, image: { ...(s.image as NonNullable<typeof s.image>), tag: 'v2' } });
    const second = await runContainerDeploy(ctx, strategy === 'recreate' ? recreate : blueGreen, prov(), noLocks);
    return { e, v1, v1Life, second, stolen, ctx };
  }

  it('blue-green: a lock taken over during readiness switches nothing; the old container keeps serving, the other run keeps its lock', async () => {
    const { e, v1, second, stolen } = await deployWhileTakenOver('blue-green');
    expect(stolen).toBe(true);
    expect(second.error?.message).toMatch(/deploy lock of shop is no longer this run's \(now held by mallory/);
    expect(second.report.result).not.toBe('deployed');
    expect(e.proxy('shop')?.upstream).toBe(v1[0]);
    expect(e.running('shop')).toEqual(v1);
    expect(e.dropped).toEqual([]);
    // The first deploy created the proxy; the second never reloaded it: nginx took one config, at its start.
    expect(e.proxy('shop')?.loads).toEqual([{ upstream: v1[0] }]);
    const lock = [...e.containers.values()].find((c) => c.options.name === lockName('shop'));
    expect(lock?.options.Labels?.[LABEL.actor]).toBe('mallory');
  });

  it('recreate: a lock taken over before the old container stops leaves it running', async () => {
    const { e, v1, v1Life, second, stolen } = await deployWhileTakenOver('recreate');
    expect(stolen).toBe(true);
    expect(second.error?.message).toMatch(/no longer this run's/);
    // Running since before the second deploy: never stopped or restarted.
    expect(e.lifecycle(v1[0] ?? '')).toEqual(v1Life);
    expect(e.running('shop')).toEqual(v1);
  });
});
