// The post step after main was killed while it held the lock: it removes the container this
// run had started but never switched the proxy to, and releases the lock; it touches nothing
// that serves, nothing of another run, and nothing under a lock it no longer holds. And main
// cancelled after the switch: the deploy stands, the step still fails, saying so.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Inputs, mapInputs } from '@gangway/kit';
import type { ConnectHost } from '../src/host/connection.ts';
import { appContainerSpec, lockName, proxyName } from '../src/container/spec.ts';
import { provenanceFromEnv } from '../src/labels.ts';
import { acquireLock, type HeldLock } from '../src/host/lock.ts';
import { LOCKS_STATE } from '../src/host/lock-state.ts';
import { main } from '../src/main.ts';
import { post } from '../src/post.ts';
import { readSettings } from '../src/settings/index.ts';
import { DIGEST_V1, DIGEST_V2, FakeEngine } from './fakes.ts';
import { baseInputs, useRunnerFiles } from './helpers.ts';

const REPO = 'registry.example.com/team/shop';
const THIS_RUN = { GITHUB_SERVER_URL: 'https://github.com', GITHUB_REPOSITORY: 'octo/shop', GITHUB_RUN_ID: '77', GITHUB_SHA: 'a'.repeat(40), GITHUB_ACTOR: 'me' };
const OTHER_RUN = { ...THIS_RUN, GITHUB_RUN_ID: '78' };

function connectTo(engine: FakeEngine): ConnectHost {
  const connection = { engine, prober: engine.prober(), transport: 'stream-local' as const, hostKey: 'SHA256:fake', lost: () => undefined, close: () => undefined };
  return async () => connection;
}

const runnerDir = useRunnerFiles('gangway-deploy-post-');

const inputsFor = (extra: Record<string, string> = {}): Inputs => new Inputs(mapInputs(baseInputs({ image: `${REPO}:v2`, publish: '8080', ...extra })));

/** v1 deployed and serving behind the proxy; then main of `env`'s run took the lock, created and started v2, and was killed. */
async function killedDuringReadiness(env: Record<string, string>, extra: Record<string, string> = {}): Promise<{ e: FakeEngine; lock: HeldLock; v1: string; v2: string }> {
  const e = new FakeEngine();
  e.registry.push({ repository: REPO, tag: 'v1', digest: DIGEST_V1, id: 'sha256:img1' }, { repository: REPO, tag: 'v2', digest: DIGEST_V2, id: 'sha256:img2' });
  await main(new AbortController().signal, { inputs: inputsFor({ image: `${REPO}:v1`, ...extra }), connect: connectTo(e), env: OTHER_RUN });
  const v1 = e.running('shop')[0] as string;
  await e.pull(REPO, 'v2', undefined, () => undefined);
  const provenance = provenanceFromEnv(env);
  const lock = await acquireLock(e, { app: 'shop', image: 'sha256:img2', provenance, timeoutMs: 100, ttlMs: 60_000, log: () => undefined, warn: () => undefined });
  const settings = readSettings(inputsFor(extra));
  const spec = appContainerSpec(settings, { imageRef: `${REPO}@${DIGEST_V2}`, digest: DIGEST_V2, provenance: { ...provenance, at: new Date(Date.now() + 60_000).toISOString() } });
  const id = await e.createContainer(spec);
  await e.startContainer(id);
  process.env[`STATE_${LOCKS_STATE}`] = JSON.stringify([{ ...lock, host: '198.19.0.1', sshHost: '198.19.0.1', sshPort: 22 }]);
  return { e, lock, v1, v2: id };
}

const names = (e: FakeEngine): string[] => [...e.containers.values()].map((c) => c.options.name).sort();
const exists = (e: FakeEngine, id: string): boolean => e.containers.has(id);

describe('post after main was killed holding the lock', () => {
  it('removes the container this run started but never switched to, then releases the lock', async () => {
    const { e, v1, v2 } = await killedDuringReadiness(THIS_RUN);
    expect(e.running('shop')).toHaveLength(2);
    await post(new AbortController().signal, { inputs: inputsFor(), connect: connectTo(e), env: THIS_RUN });
    expect(exists(e, v2)).toBe(false);
    expect(e.running('shop')).toEqual([v1]);
    expect(names(e)).toContain(proxyName('shop'));
    expect(names(e)).not.toContain(lockName('shop'));
  });

  it('keeps a container of this run that the proxy already forwards to (killed after the switch)', async () => {
    const { e, v2 } = await killedDuringReadiness(THIS_RUN);
    const proxy = [...e.containers.values()].find((c) => c.options.name === proxyName('shop'));
    const name = e.containers.get(v2)?.options.name ?? '';
    const conf = proxy?.files?.get('/etc/gangway/nginx.conf') ?? '';
    proxy?.files?.set('/etc/gangway/nginx.conf', conf.replace(/^# gangway-upstream: \S+/, `# gangway-upstream: ${name}`));
    await post(new AbortController().signal, { inputs: inputsFor(), connect: connectTo(e), env: THIS_RUN });
    expect(exists(e, v2)).toBe(true);
    expect(names(e)).not.toContain(lockName('shop'));
  });

  it("leaves another run's container alone", async () => {
    const { e, v2 } = await killedDuringReadiness(OTHER_RUN);
    await post(new AbortController().signal, { inputs: inputsFor(), connect: connectTo(e), env: THIS_RUN });
    expect(exists(e, v2)).toBe(true);
    expect(names(e)).not.toContain(lockName('shop'));
  });

  it('removes nothing when the lock is no longer ours (another deploy may be running)', async () => {
    const { e, lock, v2 } = await killedDuringReadiness(THIS_RUN);
    await e.removeContainer(lock.containerId, { force: true });
    const theirs = await acquireLock(e, { app: 'shop', image: 'sha256:img2', provenance: provenanceFromEnv(OTHER_RUN), timeoutMs: 100, ttlMs: 60_000, log: () => undefined, warn: () => undefined });
    await post(new AbortController().signal, { inputs: inputsFor(), connect: connectTo(e), env: THIS_RUN });
    expect(exists(e, v2)).toBe(true);
    expect(exists(e, theirs.containerId)).toBe(true);
  });

  it('under recreate removes nothing: the new container may be all that serves', async () => {
    const { e, v2 } = await killedDuringReadiness(THIS_RUN, { strategy: 'recreate', publish: '' });
    await post(new AbortController().signal, { inputs: inputsFor({ strategy: 'recreate', publish: '' }), connect: connectTo(e), env: THIS_RUN });
    expect(exists(e, v2)).toBe(true);
    expect(names(e)).not.toContain(lockName('shop'));
  });
});

/** The last value main saved under `key` in GITHUB_STATE (as the runner hands it to post). */
function savedState(key: string): string {
  const text = readFileSync(path.join(runnerDir(), 'state'), 'utf8');
  const values = [...text.matchAll(/^([^\n<]+)<<(\S+)\n([\s\S]*?)\n\2$/gm)].filter((m) => m[1] === key).map((m) => m[3] ?? '');
  return values.at(-1) ?? '';
}

describe('main lost the answer to the lock create (the connection cut while it was on its way)', () => {
  /** v1 serving; main of THIS_RUN deploys v2, and its connection breaks at the lock create: before it reaches the engine, or after. */
  async function cutAtLockCreate(reached: boolean): Promise<FakeEngine> {
    const e = new FakeEngine();
    e.registry.push({ repository: REPO, tag: 'v1', digest: DIGEST_V1, id: 'sha256:img1' }, { repository: REPO, tag: 'v2', digest: DIGEST_V2, id: 'sha256:img2' });
    await main(new AbortController().signal, { inputs: inputsFor({ image: `${REPO}:v1` }), connect: connectTo(e), env: OTHER_RUN });
    const create = e.createContainer.bind(e);
    e.createContainer = async (options) => {
      if (options.name !== lockName('shop')) return create(options);
      if (reached) await create(options);
      throw new Error('(SSH) Channel open failure: the connection is gone');
    };
    await expect(main(new AbortController().signal, { inputs: inputsFor(), connect: connectTo(e), env: THIS_RUN })).rejects.toThrow();
    e.createContainer = create;
    process.env[`STATE_${LOCKS_STATE}`] = savedState(LOCKS_STATE);
    return e;
  }

  it('main keeps the pending lock in its state (name and token, no id), and post finds it and releases it', async () => {
    const e = await cutAtLockCreate(true);
    const marker = [...e.containers.values()].find((c) => c.options.name === lockName('shop'));
    expect(marker, 'the engine made the marker').toBeDefined();
    const saved = JSON.parse(process.env[`STATE_${LOCKS_STATE}`] ?? '[]') as Array<{ containerId: string; name: string; token: string }>;
    expect(saved).toEqual([expect.objectContaining({ containerId: '', name: lockName('shop'), token: marker?.options.Labels?.['gangway.lock.token'] })]);
    await post(new AbortController().signal, { inputs: inputsFor(), connect: connectTo(e), env: THIS_RUN });
    expect(names(e)).not.toContain(lockName('shop'));
    expect(e.running('shop')).toHaveLength(1);
  });

  it('when the create never reached the engine, post removes nothing, not even a lock another run took since', async () => {
    const e = await cutAtLockCreate(false);
    expect(names(e)).not.toContain(lockName('shop'));
    const theirs = await acquireLock(e, { app: 'shop', image: 'sha256:img2', provenance: provenanceFromEnv(OTHER_RUN), timeoutMs: 100, ttlMs: 60_000, log: () => undefined, warn: () => undefined });
    await post(new AbortController().signal, { inputs: inputsFor(), connect: connectTo(e), env: THIS_RUN });
    expect(exists(e, theirs.containerId)).toBe(true);
  });

  it('a create the engine answered with an error (it made nothing) leaves nothing pending in the state', async () => {
    const e = new FakeEngine();
    e.registry.push({ repository: REPO, tag: 'v2', digest: DIGEST_V2, id: 'sha256:img2' });
    const create = e.createContainer.bind(e);
    e.createContainer = async (options) => {
      if (options.name === lockName('shop')) throw Object.assign(new Error('(HTTP code 500) server error - mount failed'), { statusCode: 500 });
      return create(options);
    };
    await expect(main(new AbortController().signal, { inputs: inputsFor(), connect: connectTo(e), env: THIS_RUN })).rejects.toThrow(/mount failed/);
    expect(JSON.parse(savedState(LOCKS_STATE) || '[]')).toEqual([]);
  });

  it('a lock held by another run (the create answered 409) leaves nothing pending in the state', async () => {
    const e = new FakeEngine();
    e.registry.push({ repository: REPO, tag: 'v1', digest: DIGEST_V1, id: 'sha256:img1' }, { repository: REPO, tag: 'v2', digest: DIGEST_V2, id: 'sha256:img2' });
    await main(new AbortController().signal, { inputs: inputsFor({ image: `${REPO}:v1` }), connect: connectTo(e), env: OTHER_RUN });
    const theirs = await acquireLock(e, { app: 'shop', image: 'sha256:img1', provenance: provenanceFromEnv(OTHER_RUN), timeoutMs: 100, ttlMs: 60_000, log: () => undefined, warn: () => undefined });
    await expect(main(new AbortController().signal, { inputs: inputsFor({ 'lock-timeout': '1s' }), connect: connectTo(e), env: THIS_RUN })).rejects.toThrow(/still held/);
    expect(JSON.parse(savedState(LOCKS_STATE) || '[]')).toEqual([]);
    expect(exists(e, theirs.containerId)).toBe(true);
  });
});

describe('main cancelled once the proxy had switched', () => {
  it('lets the switch stand, releases the lock, and still fails the step saying so', async () => {
    const e = new FakeEngine();
    e.registry.push({ repository: REPO, tag: 'v1', digest: DIGEST_V1, id: 'sha256:img1' }, { repository: REPO, tag: 'v2', digest: DIGEST_V2, id: 'sha256:img2' });
    await main(new AbortController().signal, { inputs: inputsFor({ image: `${REPO}:v1` }), connect: connectTo(e), env: OTHER_RUN });
    const controller = new AbortController();
    const stop = e.stopContainer.bind(e);
    // The old container is stopped only after the switch: cancel right then.
    e.stopContainer = async (id, timeout) => {
      controller.abort(new Error('The job was cancelled (SIGINT).'));
      return stop(id, timeout);
    };
    await expect(main(controller.signal, { inputs: inputsFor(), connect: connectTo(e), env: THIS_RUN })).rejects.toThrow(/cancelled \(SIGINT\) after the switch: shop runs the new version on 198\.19\.0\.1; nothing was undone/);
    expect(e.running('shop')).toHaveLength(1);
    expect(e.running('shop')[0]).toMatch(/-222222222222$/);
    expect(names(e)).not.toContain(lockName('shop'));
  });
});
