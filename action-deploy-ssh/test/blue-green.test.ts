// blue-green with the in-memory engine: the order that drops no request (start new → ready →
// switch with the old one as backup → settle → drop the backup → drain → stop old), a readiness
// failure that never touches the proxy, a new container that dies while it settles (rolled
// back, the old one never stopped), and rollback to the kept container. The fake records a
// dropped request whenever neither a running proxy's upstream nor its backup is a running,
// ready container.
import { describe, expect, it } from 'vitest';
import { LABEL, type Provenance } from '../src/labels.ts';
import type { LockEvents } from '../src/host/deployer.ts';
import { runContainerDeploy, engineWithReleases, RELEASES_REPO } from './fakes.ts';
import { nginxConfig, primaryServerOf, upstreamOf } from '../src/container/proxy-config.ts';
import type { DeploySettings } from '../src/settings/index.ts';
import { blueGreen, rollBackSettle } from '../src/container/strategy/blue-green.ts';
import { frontOf, type Front } from '../src/container/front.ts';
import { recreate } from '../src/container/strategy/recreate.ts';
import { currentProxy, switchProxy } from '../src/container/proxy.ts';
import type { FakeEngine} from './fakes.ts';
import { hostContext } from './fakes.ts';
import { settings } from './helpers.ts';

const REPO = RELEASES_REPO;

const engineWithImages = engineWithReleases;

let tick = 0;
function provenance(): Provenance {
  tick++;
  return { gitSha: 'a'.repeat(40), runUrl: `https://github.com/acme/shop/actions/runs/${tick}`, actor: 'octocat', at: new Date(Date.parse('2026-11-22T10:00:00Z') + tick * 60_000).toISOString() };
}

const locks: LockEvents = { acquired: () => undefined, released: () => undefined };

async function run(engine: FakeEngine, extra: Record<string, string>, overrides: Partial<DeploySettings> = {}) {
  const s = settings({ publish: '8080', 'drain-timeout': '500ms', ...extra }, { readinessTimeoutMs: 300, ...overrides });
  const ctx = hostContext(engine, s);
  const result = await runContainerDeploy(ctx, s.target.kind === 'container' && s.target.strategy.name === 'recreate' ? recreate : blueGreen, provenance(), locks);
  return { ...result, log: ctx.log, settings: s };
}
const deploy = (engine: FakeEngine, tag: string, extra: Record<string, string> = {}) => run(engine, { image: `${REPO}:${tag}`, ...extra });

function upstream(engine: FakeEngine): string | undefined {
  return engine.proxy('shop')?.upstream;
}

/** What shows whether the proxy was touched: which container it is, since when it runs, its config, the configs nginx took. */
function proxyState(engine: FakeEngine) {
  const p = engine.proxy('shop');
  return { id: p?.id, startedAt: p?.startedAt, config: p?.files?.get('/etc/gangway/nginx.conf'), loads: p?.loads?.length };
}

/** The host's events since `mark` that show the switch: containers started, ready and stopped, configs nginx took, drains. */
function switchEvents(engine: FakeEngine, mark: number): string[] {
  return engine.events.slice(mark).filter((e) => /^(started|ready|proxy|drained|stopped) /.test(e));
}

describe('blue-green on one host', () => {
  it('first deploy: the app container on shop-net publishes nothing; the proxy holds the port and forwards to it', async () => {
    const engine = engineWithImages();
    const { report, error, settings: s } = await deploy(engine, 'v1');
    expect(error).toBeUndefined();
    expect(s.target).toMatchObject({ kind: 'container', strategy: { name: 'blue-green' } });
    expect(report.strategy).toBe('blue-green');
    const app = [...engine.containers.values()].find((c) => c.options.name === report.container?.name);
    expect(app?.options.HostConfig?.PortBindings).toBeUndefined();
    expect(app?.options.HostConfig?.NetworkMode).toBe('shop-net');
    expect(engine.networks.has('shop-net')).toBe(true);
    const proxy = engine.proxy('shop');
    expect(proxy?.options.name).toBe('shop-proxy');
    expect(proxy?.options.HostConfig?.PortBindings).toEqual({ '8080/tcp': [{ HostIp: '', HostPort: '8080' }] });
    expect(proxy?.options.HostConfig?.NetworkMode).toBe('shop-net');
    expect(proxy?.options.StopSignal).toBe('SIGQUIT');
    expect(upstream(engine)).toBe(report.container?.name);
    expect(engine.dropped).toEqual([]);
  });

  it('v1 → v2: start new, ready, switch with a graceful reload, drain, then stop the old one and keep it', async () => {
    const engine = engineWithImages();
    const v1 = await deploy(engine, 'v1');
    const proxyBefore = proxyState(engine);
    const mark = engine.events.length;
    const v2 = await deploy(engine, 'v2');
    expect(v2.error).toBeUndefined();
    const oldName = v1.report.container?.name ?? '';
    const newName = v2.report.container?.name ?? '';
    // The order is the contract: the proxy switches only once the new one answered its readiness path,
    // and the old one stops only after nginx's workers that knew it have drained.
    expect(switchEvents(engine, mark)).toEqual([
      `started ${newName}`,
      `ready ${newName}`,
      `proxy shop-proxy → ${newName}, backup ${oldName}`,
      `proxy shop-proxy → ${newName}`,
      // Every worker from before the last reload, the first reload's old ones included.
      'drained shop-proxy',
      `stopped ${oldName}`,
    ]);
    // Two graceful reloads of the same proxy, not a new one: new one first with the old one as backup (settle), then the new one alone.
    expect(engine.proxy('shop')?.id).toBe(proxyBefore.id);
    expect(engine.proxy('shop')?.startedAt).toBe(proxyBefore.startedAt);
    expect(engine.proxy('shop')?.loads?.slice(proxyBefore.loads)).toEqual([{ upstream: newName, backup: oldName }, { upstream: newName }]);
    expect(upstream(engine)).toBe(newName);
    expect(engine.proxy('shop')?.backup).toBeUndefined();
    expect(engine.proxy('shop')?.files?.get('/etc/gangway/nginx.conf')).not.toMatch(/backup/);
    expect(engine.dropped).toEqual([]);
    const old = [...engine.containers.values()].find((c) => c.options.name === oldName);
    expect(old?.state).toBe('exited');
    expect(old?.options.HostConfig?.RestartPolicy?.Name).toBe('no');
    expect(v2.report.phases.map((p) => p.phase)).toEqual(['pull', 'lock', 'create', 'start new', 'readiness', 'switch', 'settle', 'drop backup', 'drain', 'stop old', 'retention', 'unlock']);
    expect(v2.report.phases.find((p) => p.phase === 'settle')?.ms).toBeGreaterThanOrEqual(190);
    expect(v2.report.downtimeMs).toBe(0);
  });

  it('settle: the old container is nginx\'s backup, and keeps running, while the new one is watched', async () => {
    const engine = engineWithImages();
    const v1 = await deploy(engine, 'v1');
    let during: { upstream?: string | undefined; backup?: string | undefined; running: string[] } | undefined;
    engine.onCall = (call) => {
      if (during === undefined && call.startsWith('inspectContainer') && engine.proxy('shop')?.backup) {
        during = { upstream: engine.proxy('shop')?.upstream, backup: engine.proxy('shop')?.backup, running: engine.running('shop') };
      }
    };
    const v2 = await deploy(engine, 'v2');
    expect(v2.error).toBeUndefined();
    expect(during).toEqual({ upstream: v2.report.container?.name, backup: v1.report.container?.name, running: [v1.report.container?.name, v2.report.container?.name] });
    expect(v2.log.text).toMatch(/settled: still running, not restarted, answering its readiness path for 200ms after the switch/);
  });

  it('settle-time 0s: one reload, no backup, the old one stops right after the drain', async () => {
    const engine = engineWithImages();
    await deploy(engine, 'v1');
    const loads = proxyState(engine).loads;
    const v2 = await deploy(engine, 'v2', { 'settle-time': '0s' });
    expect(v2.error).toBeUndefined();
    expect(engine.proxy('shop')?.loads?.slice(loads)).toEqual([{ upstream: v2.report.container?.name }]);
    expect(v2.report.phases.map((p) => p.phase)).toEqual(['pull', 'lock', 'create', 'start new', 'readiness', 'switch', 'drain', 'stop old', 'retention', 'unlock']);
    expect(engine.dropped).toEqual([]);
  });

  /** Crashes the new container once the proxy forwards to it with the old one as backup. */
  function crashWhenSettling(engine: FakeEngine, how: { restart?: boolean; loop?: boolean; exitCode?: number }): void {
    let done = false;
    engine.onCall = () => {
      const proxy = engine.proxy('shop');
      if (done || !proxy?.backup || !proxy.upstream) return;
      done = true;
      engine.crash(proxy.upstream, how);
    };
  }

  for (const [what, how, cause] of [
    ['dies and stays down', { exitCode: 137 }, /died .* into settle-time 200ms: the container is exited \(exit code 137\)/],
    ['crash-loops (restart policy)', { loop: true, exitCode: 137 }, /died .* into settle-time 200ms: the container crashed \(exit code 137\) and is being restarted, restarted 1 time/],
    ['is restarted once by its restart policy', { restart: true, exitCode: 1 }, /died .* into settle-time 200ms: the container crashed and came back, restarted 1 time/],
  ] as const) {
    it(`a new container that ${what} while it settles is rolled back: proxy back to the old one alone, new one removed, old one never stopped`, async () => {
      const engine = engineWithImages();
      const v1 = await deploy(engine, 'v1');
      const oldName = v1.report.container?.name ?? '';
      const oldLife = engine.lifecycle(oldName);
      crashWhenSettling(engine, how);
      const v2 = await deploy(engine, 'v2');
      const newName = v2.report.container?.name ?? '';
      expect(v2.error?.message).toMatch(cause);
      expect(v2.error?.message).toContain(newName);
      expect(v2.error?.message).toMatch(/The previous container serves again \(rolled back\)/);
      expect(v2.report.result).toBe('rolled-back');
      expect(v2.report.rolledBack).toBe(true);
      expect(v2.log.text).toContain(`log of ${newName}`);
      expect(v2.log.text).toMatch(new RegExp(`rolling back to ${oldName}`));
      // The proxy forwards to the old one alone again; the new one is gone; the old one never stopped.
      expect(upstream(engine)).toBe(oldName);
      expect(engine.proxy('shop')?.backup).toBeUndefined();
      expect(primaryServerOf(engine.proxy('shop')?.files?.get('/etc/gangway/nginx.conf') ?? '')).toEqual({ name: oldName, port: 8080 });
      expect([...engine.containers.values()].some((c) => c.options.name === newName)).toBe(false);
      expect(engine.running('shop')).toEqual([oldName]);
      // Running since before this deploy (never stopped or restarted), and still set to come back by itself.
      expect(engine.lifecycle(oldName)).toEqual(oldLife);
      expect(engine.container(oldName)?.options.HostConfig?.RestartPolicy?.Name).toBe('unless-stopped');
      expect(v2.report.phases.map((p) => p.phase)).toEqual(['pull', 'lock', 'create', 'start new', 'readiness', 'switch', 'settle', 'roll back', 'drain', 'remove new', 'unlock']);
      expect(engine.dropped).toEqual([]);
      // The next release deploys over the old one as usual.
      engine.onCall = () => undefined;
      const v3 = await deploy(engine, 'v3');
      expect(v3.error).toBeUndefined();
      expect(engine.running('shop')).toEqual([v3.report.container?.name]);
    });
  }

  it('when the proxy cannot be pointed back, the step says so and both containers keep running behind the settle config', async () => {
    const engine = engineWithImages();
    const v1 = await deploy(engine, 'v1');
    let done = false;
    engine.onCall = () => {
      const proxy = engine.proxy('shop');
      if (done || !proxy?.backup || !proxy.upstream) return;
      done = true;
      engine.crash(proxy.upstream, { restart: true });
      engine.nginxAccepts = () => false;
    };
    const v2 = await deploy(engine, 'v2');
    expect(v2.error?.message).toMatch(/died .* into settle-time 200ms: .*, and the proxy could not be pointed back at .* alone \(nginx refused the new config/);
    expect(v2.error?.message).toMatch(/still forwards to .* as its backup/);
    expect(v2.report.result).toBe('failed');
    expect(engine.proxy('shop')?.backup).toBe(v1.report.container?.name);
    expect(engine.running('shop')).toEqual([v1.report.container?.name, v2.report.container?.name]);
    expect(engine.dropped).toEqual([]);
  });

  // Caddy (the edge) ends the retries its config has pending when the config is replaced: a GET that the
  // dying container dropped, about to go to the backup, would be answered 502 (seen with Debian's 2.6.2).
  for (const kind of ['edge', 'proxy'] as const) {
    it(`a rollback after settle ${kind === 'edge' ? 'lets the edge finish its retries (beforeRollback) before' : 'goes straight to'} pointing the ${kind} at the old container alone`, async () => {
      const engine = engineWithImages();
      const v1 = await deploy(engine, 'v1');
      const old = v1.report.container;
      const v2 = await deploy(engine, 'v2', { 'settle-time': '0s' });
      const fresh = v2.report.container;
      if (!old || !fresh) throw new Error('no containers deployed');
      const ctx = hostContext(engine, settings({ publish: '8080', image: `${REPO}:v2` }));
      const events: string[] = [];
      const front: Front = {
        kind,
        ...(kind === 'edge'
          ? {
              beforeRollback: async (_ctx: unknown, failedName: string) => {
                events.push(`before rollback: ${failedName}`);
                await new Promise((r) => setTimeout(r, 50));
                events.push('retries done');
              },
            }
          : {}),
        prepare: () => Promise.resolve(),
        state: () => Promise.resolve({ running: true, readable: true }),
        switch: (_ctx, to) => {
          events.push(`switch to ${to.name}`);
          return Promise.resolve({ how: 'loaded', drain: () => Promise.resolve(true) });
        },
      };
      const out = await rollBackSettle(ctx, front, { to: fresh, created: true, backup: { name: old.name, port: 8080 }, trouble: 'died 4.9s into settle-time 5.0s' });
      expect(out.rolledBack).toBe(true);
      expect(events).toEqual(kind === 'edge' ? [`before rollback: ${fresh.name}`, 'retries done', `switch to ${old.name}`] : [`switch to ${old.name}`]);
      // The new one is removed after the switch either way.
      expect([...engine.containers.values()].some((c) => c.options.name === fresh.name)).toBe(false);
    });
  }

  it('the edge front waits for retries before a rollback; the proxy front has nothing to wait for', () => {
    const edge = frontOf(settings({ hostname: 'shop.example.org', 'container-port': '8080', image: `${REPO}:v1` }));
    const proxy = frontOf(settings({ publish: '8080', image: `${REPO}:v1` }));
    expect([edge?.kind, proxy?.kind]).toEqual(['edge', 'proxy']);
    expect(edge !== undefined && 'beforeRollback' in edge).toBe(true);
    expect(proxy !== undefined && 'beforeRollback' in proxy).toBe(false);
  });

  it('a new container that stops answering its readiness path while it settles is rolled back', async () => {
    const engine = engineWithImages();
    const v1 = await deploy(engine, 'v1');
    let switchedTo: string | undefined;
    engine.onCall = () => {
      const proxy = engine.proxy('shop');
      if (switchedTo === undefined && proxy?.backup) switchedTo = proxy.upstream;
    };
    const ready = engine.readyWhen;
    engine.readyWhen = (c) => ready(c) && c.options.name !== switchedTo;
    const v2 = await deploy(engine, 'v2', { 'settle-time': '2s' });
    expect(v2.error?.message).toMatch(/stopped answering its readiness path .* \(3 probes in a row; last: GET \/readyz → 503\)/);
    expect(v2.report.result).toBe('rolled-back');
    expect(upstream(engine)).toBe(v1.report.container?.name);
    expect(engine.running('shop')).toEqual([v1.report.container?.name]);
    expect(engine.dropped).toEqual([]);
  });

  it('a first deploy that dies while it settles fails the step: nothing to go back to', async () => {
    const engine = engineWithImages();
    let done = false;
    engine.onCall = (call) => {
      const app = [...engine.containers.values()].find((c) => c.options.Labels?.[LABEL.role] === 'app');
      if (!done && call === 'inspectContainer ' + (app?.id ?? '').slice(0, 12) && engine.proxy('shop')?.state === 'running') {
        done = true;
        engine.crash(app?.options.name ?? '', { loop: true });
      }
    };
    const v1 = await deploy(engine, 'v1');
    expect(v1.error?.message).toMatch(/died .* into settle-time/);
    expect(v1.error?.message).toMatch(/There was no previous container to go back to/);
    expect(v1.report.result).toBe('failed');
    expect(v1.report.rolledBack).toBe(false);
  });

  it('a new container that crash-loops from its start fails the readiness gate at once; the proxy is never touched', async () => {
    const engine = engineWithImages();
    const v1 = await deploy(engine, 'v1');
    const proxyBefore = proxyState(engine);
    engine.onCall = (call) => {
      if (call.startsWith('start shop-') && !call.includes(v1.report.container?.name ?? '')) engine.crash(call.slice('start '.length), { loop: true, exitCode: 70 });
    };
    const v2 = await deploy(engine, 'v2', { 'readiness-timeout': '30s' });
    expect(v2.error?.message).toMatch(/stopped before it got ready \(exited: the container crashed \(exit code 70\) and is being restarted, restarted 1 time by its restart policy\)/);
    expect(v2.report.result).toBe('rolled-back');
    expect(v2.report.phases.find((p) => p.phase === 'readiness')?.ms).toBeLessThan(1000);
    expect(proxyState(engine)).toEqual(proxyBefore);
    expect(engine.running('shop')).toEqual([v1.report.container?.name]);
    expect(engine.dropped).toEqual([]);
  });

  it('a v3 that never gets ready is removed with its logs printed; the proxy is never touched', async () => {
    const engine = engineWithImages();
    await deploy(engine, 'v1');
    const v2 = await deploy(engine, 'v2');
    const proxyBefore = proxyState(engine);
    const v3 = await deploy(engine, 'v3', { env: 'NEVER_READY=1' });
    expect(v3.error?.message).toMatch(/did not get ready/);
    expect(v3.report.result).toBe('rolled-back');
    expect(v3.report.rolledBack).toBe(true);
    expect(v3.log.text).toContain(`log of ${v3.report.container?.name}`);
    // Looked at, maybe, but never written, reloaded or restarted.
    expect(proxyState(engine)).toEqual(proxyBefore);
    expect([...engine.containers.values()].some((c) => c.options.name === v3.report.container?.name)).toBe(false);
    expect(engine.running('shop')).toEqual([v2.report.container?.name]);
    expect(upstream(engine)).toBe(v2.report.container?.name);
    expect(engine.dropped).toEqual([]);
  });

  it('the switch of a running proxy is one exec of its shell; a proxy image without a shell is switched call by call', async () => {
    const engine = engineWithImages();
    await deploy(engine, 'v1');
    let mark = engine.calls.length;
    const v2 = await deploy(engine, 'v2', { 'settle-time': '0s' });
    expect(v2.error).toBeUndefined();
    const execs = (from: number): string[] => engine.calls.slice(from).filter((c) => c.startsWith('exec shop-proxy')).map((c) => c.split(' ').slice(2, 4).join(' '));
    // One exec for the switch (sh -c SWITCH_SCRIPT), then the drain's looks at the workers.
    expect(execs(mark)[0]).toBe('sh -c');
    expect(engine.calls.slice(mark).filter((c) => c.startsWith('putArchive shop-proxy'))).toEqual([]);
    expect(upstream(engine)).toBe(v2.report.container?.name);

    engine.proxyHasShell = false;
    const before = engine.proxy('shop')?.files?.get('/etc/gangway/nginx.conf');
    engine.nginxAccepts = () => false;
    mark = engine.calls.length;
    const refused = await deploy(engine, 'v3', { 'settle-time': '0s' });
    expect(refused.error?.message).toMatch(/nginx refused the new config/);
    // Tried with the shell first (not there), then call by call: the config written, tested, put back.
    expect(execs(mark)).toEqual(['sh -c', 'nginx -t']);
    expect(engine.proxy('shop')?.files?.get('/etc/gangway/nginx.conf')).toBe(before);
    engine.nginxAccepts = () => true;
    mark = engine.calls.length;
    const v3 = await deploy(engine, 'v3', { 'settle-time': '0s' });
    expect(v3.error).toBeUndefined();
    expect(execs(mark)).toEqual(['sh -c', 'nginx -t', 'sh -c', 'nginx -c']);
    expect(upstream(engine)).toBe(v3.report.container?.name);
    // Without a shell nothing can list the workers: the drain waits its whole timeout (which the
    // fake cannot tell from workers that finished: its workers only finish when listed).
    expect(v3.log.text).toMatch(/waited drain-timeout 500ms \(the proxy image has no shell/);
  });

  it('the switch starts from the proxy as read under the lock: no second read of its config, one look that it is the same container', async () => {
    const engine = engineWithImages();
    await deploy(engine, 'v1');
    // The new container answers its readiness path from its fourth probe on.
    const probes = new Map<string, number>();
    engine.readyWhen = (c) => {
      const n = (probes.get(c.id) ?? 0) + 1;
      probes.set(c.id, n);
      return n >= 4;
    };
    const mark = engine.calls.length;
    const v2 = await deploy(engine, 'v2', { 'settle-time': '0s' });
    expect(v2.error).toBeUndefined();
    const calls = engine.calls.slice(mark);
    const id = (v2.report.container?.id ?? '').slice(0, 12);
    const created = calls.indexOf(`create ${v2.report.container?.name ?? ''}`);
    const switched = calls.findIndex((c) => c.startsWith('exec shop-proxy sh -c'));
    const reads = calls.map((c, i) => (c === 'readFile shop-proxy /etc/gangway/nginx.conf' ? i : -1)).filter((i) => i >= 0 && i < switched);
    // The one read (which container serves) is under the lock, before the new container exists.
    expect(reads).toHaveLength(1);
    expect(reads[0]).toBeLessThan(created);
    const gate = calls.map((c, i) => (c === `inspectContainer ${id}` ? i : -1)).filter((i) => i > created && i < switched);
    expect(gate.length).toBeGreaterThanOrEqual(4);
    // Between the gate and the switch: a look that the proxy is still that container, and no read.
    expect(calls.slice((gate.at(-1) ?? 0) + 1, switched)).toContain('inspectContainer shop-proxy');
    expect(upstream(engine)).toBe(v2.report.container?.name);
  });

  it('a switch given a stale read of the proxy (replaced meanwhile) reads it again; given a current one, it does not', async () => {
    const engine = engineWithImages();
    const v1 = await deploy(engine, 'v1');
    const s = settings({ publish: '8080', 'drain-timeout': '500ms', image: `${REPO}:v1` }, { readinessTimeoutMs: 300 });
    const ctx = hostContext(engine, s);
    const to = { name: v1.report.container?.name ?? '', port: 8080 };
    const seen = await currentProxy(engine, 'shop');
    const reads = (from: number): number => engine.calls.slice(from).filter((c) => c === 'readFile shop-proxy /etc/gangway/nginx.conf').length;
    let mark = engine.calls.length;
    const stale = { ...seen, ...(seen.details ? { details: { ...seen.details, id: 'f'.repeat(64) } } : {}) };
    expect((await switchProxy(ctx, to, { seen: stale })).how).toBe('reloaded');
    expect(reads(mark)).toBe(1);
    mark = engine.calls.length;
    expect((await switchProxy(ctx, to, { seen: await currentProxy(engine, 'shop') })).how).toBe('reloaded');
    // The one read is currentProxy's own, before the switch.
    expect(reads(mark)).toBe(1);
    mark = engine.calls.length;
    expect((await switchProxy(ctx, to)).how).toBe('reloaded');
    expect(reads(mark)).toBe(1);
    // A read under the lock that got no config (get-archive failed) is tried again: the proxy is reloaded, not replaced.
    const { config: _unread, ...unread } = await currentProxy(engine, 'shop');
    const proxyId = engine.proxy('shop')?.id;
    mark = engine.calls.length;
    expect((await switchProxy(ctx, to, { seen: unread })).how).toBe('reloaded');
    expect(reads(mark)).toBe(1);
    expect(engine.proxy('shop')?.id).toBe(proxyId);
  });

  it('a config nginx refuses is put back and nothing switches', async () => {
    const engine = engineWithImages();
    const v1 = await deploy(engine, 'v1');
    const before = engine.proxy('shop')?.files?.get('/etc/gangway/nginx.conf');
    engine.nginxAccepts = () => false;
    const v2 = await deploy(engine, 'v2');
    expect(v2.error?.message).toMatch(/nginx refused the new config/);
    expect(v2.report.rolledBack).toBe(true);
    expect(engine.proxy('shop')?.files?.get('/etc/gangway/nginx.conf')).toBe(before);
    expect(engine.running('shop')).toEqual([v1.report.container?.name]);
    expect(engine.dropped).toEqual([]);
  });

  it('rollback: true starts the kept previous container, switches back, then stops the current one', async () => {
    const engine = engineWithImages();
    const v1 = await deploy(engine, 'v1');
    const v2 = await deploy(engine, 'v2');
    const oldName = v1.report.container?.name ?? '';
    const currentName = v2.report.container?.name ?? '';
    const kept = engine.container(oldName)?.id;
    const apps = [...engine.containers.values()].filter((c) => c.options.Labels?.[LABEL.role] === 'app').map((c) => c.id);
    // The registry is gone: a rollback needs nothing from it.
    engine.registry.length = 0;
    const mark = engine.events.length;
    const back = await run(engine, { rollback: 'true', image: '' });
    expect(back.error).toBeUndefined();
    expect([back.report.mode, back.report.result]).toEqual(['rollback', 'deployed']);
    expect(back.report.container?.name).toBe(oldName);
    expect(upstream(engine)).toBe(oldName);
    expect(engine.running('shop')).toEqual([oldName]);
    // No new container: the kept one itself is started again.
    expect(engine.container(oldName)?.id).toBe(kept);
    expect([...engine.containers.values()].filter((c) => c.options.Labels?.[LABEL.role] === 'app').map((c) => c.id)).toEqual(apps);
    // The order is the contract: the kept one is ready and served before the current one stops.
    expect(switchEvents(engine, mark)).toEqual([`started ${oldName}`, `ready ${oldName}`, `proxy shop-proxy → ${oldName}, backup ${currentName}`, `proxy shop-proxy → ${oldName}`, 'drained shop-proxy', `stopped ${currentName}`]);
    expect(engine.dropped).toEqual([]);
  });

  it('replaces an outdated proxy (another port) and, moving from recreate, stops the container that published the port', async () => {
    const engine = engineWithImages();
    const r1 = await deploy(engine, 'v1', { strategy: 'recreate' });
    expect(r1.error).toBeUndefined();
    const v2 = await deploy(engine, 'v2');
    expect(v2.error).toBeUndefined();
    expect(v2.log.text).toMatch(/publishes port 8080 itself/);
    expect(engine.running('shop')).toEqual([v2.report.container?.name]);
    expect(upstream(engine)).toBe(v2.report.container?.name);
    const firstProxy = engine.proxy('shop')?.id;
    const v3 = await deploy(engine, 'v1', { publish: '8081' });
    expect(v3.error).toBeUndefined();
    const proxies = [...engine.containers.values()].filter((c) => c.options.Labels?.[LABEL.role] === 'proxy');
    expect(proxies.map((p) => p.options.name)).toEqual(['shop-proxy']);
    expect(proxies[0]?.id).not.toBe(firstProxy);
    expect(proxies[0]?.options.HostConfig?.PortBindings).toEqual({ '8080/tcp': [{ HostIp: '', HostPort: '8081' }] });
  });
});

describe('the nginx config', () => {
  it('names its upstream on the first line, keeps connections alive and retries a failed cached connection', () => {
    const conf = nginxConfig('shop', { name: 'shop-20261122t100000z-222222222222', port: 8080 });
    expect(upstreamOf(conf)).toBe('shop-20261122t100000z-222222222222');
    expect(primaryServerOf(conf)).toEqual({ name: 'shop-20261122t100000z-222222222222', port: 8080 });
    expect(conf).toContain('server shop-20261122t100000z-222222222222:8080 max_fails=0;');
    expect(conf).not.toMatch(/backup/);
    expect(conf).toMatch(/keepalive 32;/);
    expect(conf).toMatch(/proxy_set_header Connection "";/);
    expect(conf).toMatch(/proxy_next_upstream error timeout;/);
    expect(conf).toMatch(/proxy_connect_timeout 5s;/);
    expect(conf).toMatch(/listen 8080;/);
  });

  it('while settling: the new container first, taken out by one failure; the old one as backup; a short connect timeout; POSTs retried', () => {
    const conf = nginxConfig('shop', { name: 'shop-new', port: 8080 }, { name: 'shop-old', port: 3000 });
    expect(upstreamOf(conf)).toBe('shop-new');
    expect(conf.split('\n')[1]).toBe('# gangway-backup: shop-old');
    expect(primaryServerOf(conf)).toEqual({ name: 'shop-new', port: 8080 });
    const servers = conf.split('\n').filter((l) => /^\s*server \S+:\d+/.test(l)).map((l) => l.trim());
    expect(servers).toEqual(['server shop-new:8080 max_fails=1 fail_timeout=10s;', 'server shop-old:3000 backup;']);
    // A dead container's address may swallow the SYN: 1 s, well inside a client's patience, then the backup.
    expect(conf).toMatch(/proxy_connect_timeout 1s;/);
    expect(conf).toMatch(/proxy_next_upstream error timeout non_idempotent;/);
    expect(conf).toMatch(/proxy_request_buffering on;/);
  });
});

describe('standby: the old container stays running out of the proxy, for a warm rollback', () => {
  /** An engine whose clock is now: the standby window counts from the serving container's creation. */
  const engineNow = (): FakeEngine => {
    const engine = engineWithImages();
    engine.time = Date.now();
    return engine;
  };

  it('v1 → v2 with standby: v1 is dropped from the proxy but not drained nor stopped, restart policy no; the report says until when', async () => {
    const engine = engineNow();
    const v1 = await deploy(engine, 'v1');
    const mark = engine.events.length;
    const v2 = await deploy(engine, 'v2', { standby: '10m' });
    expect(v2.error).toBeUndefined();
    const oldName = v1.report.container?.name ?? '';
    const newName = v2.report.container?.name ?? '';
    expect(switchEvents(engine, mark)).toEqual([`started ${newName}`, `ready ${newName}`, `proxy shop-proxy → ${newName}, backup ${oldName}`, `proxy shop-proxy → ${newName}`]);
    expect(upstream(engine)).toBe(newName);
    expect(engine.running('shop')).toEqual([oldName, newName]);
    expect(engine.container(oldName)?.options.HostConfig?.RestartPolicy?.Name).toBe('no');
    // Only the serving container answers to the app's name on its network.
    expect(engine.aliasesOf(oldName, 'shop-net')).toEqual([]);
    expect(engine.aliasesOf(newName, 'shop-net')).toEqual(['shop']);
    expect(v2.report.phases.map((p) => p.phase)).not.toContain('stop old');
    const until = Date.parse(v2.report.standby?.until ?? '');
    expect(v2.report.standby?.name).toBe(oldName);
    expect(until - (engine.container(newName)?.created ?? 0) * 1000).toBe(600_000);
    expect(v2.log.text).toMatch(/stays running on standby, out of the proxy, for 10m/);
    expect(engine.dropped).toEqual([]);
  });

  it('rollback: true within the window switches to the running v1 without starting it, then stops v2', async () => {
    const engine = engineNow();
    const v1 = await deploy(engine, 'v1');
    const v2 = await deploy(engine, 'v2', { standby: '10m' });
    const oldName = v1.report.container?.name ?? '';
    const currentName = v2.report.container?.name ?? '';
    const startedAt = engine.container(oldName)?.startedAt;
    const mark = engine.events.length;
    // The rollback's own standby does not matter: it goes back to the running container.
    const back = await run(engine, { rollback: 'true', image: '' });
    expect(back.error).toBeUndefined();
    expect(back.log.text).toMatch(/is still running \(on standby\): the rollback switches back to it without a start/);
    // Not started again: the same process serves.
    expect(engine.container(oldName)?.startedAt).toBe(startedAt);
    expect(switchEvents(engine, mark).filter((e) => e.startsWith('started'))).toEqual([]);
    expect(upstream(engine)).toBe(oldName);
    expect(engine.running('shop')).toEqual([oldName]);
    expect(engine.container(currentName)?.state).toBe('exited');
    // It comes back by itself again after an engine restart, and answers to the app's name, as a serving container does.
    expect(engine.container(oldName)?.options.HostConfig?.RestartPolicy?.Name).toBe('unless-stopped');
    expect(engine.aliasesOf(oldName, 'shop-net')).toEqual(['shop']);
    expect(back.log.text).toMatch(/is running already \(standby\): no start/);
    expect(back.report.phases.map((p) => p.phase)).not.toContain('start new');
    expect(back.report.standby).toBeUndefined();
    expect(engine.dropped).toEqual([]);
  });

  it('v3 with standby stops the standby before it (v1) and puts v2 on standby; a run after the window stops v2', async () => {
    const engine = engineNow();
    const v1 = await deploy(engine, 'v1');
    const v2 = await deploy(engine, 'v2', { standby: '10m' });
    const v3 = await deploy(engine, 'v3', { standby: '10m' });
    expect(v3.error).toBeUndefined();
    const [n1, n2, n3] = [v1, v2, v3].map((r) => r.report.container?.name ?? '') as [string, string, string];
    expect(engine.running('shop')).toEqual([n2, n3]);
    expect(engine.container(n1)?.state).toBe('exited');
    expect(v3.report.standby?.name).toBe(n2);
    // The window passes: v3 was created 11 minutes ago.
    const serving = engine.container(n3);
    if (serving) serving.created -= 660;
    const audit = await run(engine, { image: `${REPO}:v3`, standby: '10m' });
    expect(audit.log.text).toMatch(new RegExp(`${n2}'s standby ended at .*: stopping it`));
    expect(engine.container(n2)?.state).toBe('exited');
  });

  it('a run with standby 0s stops a standby left by an earlier run, as an interrupted deploy\'s old container', async () => {
    const engine = engineNow();
    await deploy(engine, 'v1');
    const v2 = await deploy(engine, 'v2', { standby: '10m' });
    const standby = v2.report.standby?.name ?? '';
    expect(engine.running('shop')).toContain(standby);
    const v3 = await deploy(engine, 'v3');
    expect(v3.error).toBeUndefined();
    expect(engine.container(standby)?.state).toBe('exited');
    expect(engine.running('shop')).toEqual([v3.report.container?.name]);
  });
});
