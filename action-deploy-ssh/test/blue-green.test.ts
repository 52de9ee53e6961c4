// blue-green with the in-memory engine: the order that drops no request (start new → ready →
// switch → drain → stop old), a readiness failure that never touches the proxy, and rollback to
// the kept container. The fake records a dropped request whenever a running proxy's upstream
// is not a running, ready container.
import { describe, expect, it } from 'vitest';
import { LABEL, type Provenance } from '../src/container-spec.ts';
import { HostDeployer, type LockEvents } from '../src/deployer.ts';
import { nginxConfig, upstreamOf } from '../src/proxy.ts';
import type { DeploySettings } from '../src/settings.ts';
import { blueGreen } from '../src/strategy/blue-green.ts';
import { recreate } from '../src/strategy/recreate.ts';
import { DIGEST_V1, DIGEST_V2, DIGEST_V3, FakeEngine, hostContext } from './fakes.ts';
import { settings } from './helpers.ts';

const REPO = 'registry.example.com/team/shop';

function engineWithImages(): FakeEngine {
  const engine = new FakeEngine();
  engine.registry.push(
    { repository: REPO, tag: 'v1', digest: DIGEST_V1, id: 'sha256:img1' },
    { repository: REPO, tag: 'v2', digest: DIGEST_V2, id: 'sha256:img2' },
    { repository: REPO, tag: 'v3', digest: DIGEST_V3, id: 'sha256:img3' },
  );
  return engine;
}

let tick = 0;
function provenance(): Provenance {
  tick++;
  return { gitSha: 'a'.repeat(40), runUrl: `https://github.com/acme/shop/actions/runs/${tick}`, actor: 'octocat', at: new Date(Date.parse('2026-11-22T10:00:00Z') + tick * 60_000).toISOString() };
}

const locks: LockEvents = { acquired: () => undefined, released: () => undefined };

async function run(engine: FakeEngine, extra: Record<string, string>, overrides: Partial<DeploySettings> = {}) {
  const s = settings({ publish: '8080', ...extra }, { readinessTimeoutMs: 300, drainTimeoutMs: 500, ...overrides });
  const ctx = hostContext(engine, s);
  const result = await new HostDeployer(ctx, s.strategy === 'recreate' ? recreate : blueGreen, provenance(), locks).run();
  return { ...result, log: ctx.log, settings: s };
}
const deploy = (engine: FakeEngine, tag: string, extra: Record<string, string> = {}) => run(engine, { image: `${REPO}:${tag}`, ...extra });

function upstream(engine: FakeEngine): string | undefined {
  return engine.proxy('shop')?.upstream;
}

describe('blue-green on one host', () => {
  it('first deploy: the app container on shop-net publishes nothing; the proxy holds the port and forwards to it', async () => {
    const engine = engineWithImages();
    const { report, error, settings: s } = await deploy(engine, 'v1');
    expect(error).toBeUndefined();
    expect(s.strategy).toBe('blue-green');
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
    const mark = engine.calls.length;
    const v2 = await deploy(engine, 'v2');
    expect(v2.error).toBeUndefined();
    const calls = engine.calls.slice(mark);
    const at = (prefix: string): number => calls.findIndex((c) => c.startsWith(prefix));
    const oldName = v1.report.container?.name ?? '';
    const newName = v2.report.container?.name ?? '';
    expect(at(`start ${newName}`)).toBeGreaterThan(-1);
    expect(at(`start ${newName}`)).toBeLessThan(at('putArchive shop-proxy'));
    expect(at('putArchive shop-proxy')).toBeLessThan(at('exec shop-proxy nginx -t'));
    expect(at('exec shop-proxy nginx -t')).toBeLessThan(at('exec shop-proxy nginx -c /etc/gangway/nginx.conf -s reload'));
    expect(at('exec shop-proxy nginx -c /etc/gangway/nginx.conf -s reload')).toBeLessThan(at(`stop ${oldName}`));
    // The proxy was reloaded, not re-created.
    expect(calls.some((c) => c.startsWith('create shop-proxy'))).toBe(false);
    expect(upstream(engine)).toBe(newName);
    expect(engine.dropped).toEqual([]);
    const old = [...engine.containers.values()].find((c) => c.options.name === oldName);
    expect(old?.state).toBe('exited');
    expect(old?.options.HostConfig?.RestartPolicy?.Name).toBe('no');
    expect(v2.report.phases.map((p) => p.phase)).toEqual(['pull', 'lock', 'create', 'start new', 'readiness', 'switch', 'drain', 'stop old', 'retention', 'unlock']);
    expect(v2.report.downtimeMs).toBe(0);
  });

  it('a v3 that never gets ready is removed with its logs printed; the proxy is never touched', async () => {
    const engine = engineWithImages();
    await deploy(engine, 'v1');
    const v2 = await deploy(engine, 'v2');
    const mark = engine.calls.length;
    const v3 = await deploy(engine, 'v3', { env: 'NEVER_READY=1' });
    expect(v3.error?.message).toMatch(/did not get ready/);
    expect(v3.report.result).toBe('rolled-back');
    expect(v3.report.rolledBack).toBe(true);
    expect(v3.log.text).toContain(`log of ${v3.report.container?.name}`);
    expect(engine.calls.slice(mark).filter((c) => c.includes('shop-proxy'))).toEqual([]);
    expect([...engine.containers.values()].some((c) => c.options.name === v3.report.container?.name)).toBe(false);
    expect(engine.running('shop')).toEqual([v2.report.container?.name]);
    expect(upstream(engine)).toBe(v2.report.container?.name);
    expect(engine.dropped).toEqual([]);
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
    const mark = engine.calls.length;
    const back = await run(engine, { rollback: 'true', image: '' });
    expect(back.error).toBeUndefined();
    expect(back.report.result).toBe('rolled-back-on-request');
    expect(back.report.container?.name).toBe(v1.report.container?.name);
    expect(upstream(engine)).toBe(v1.report.container?.name);
    expect(engine.running('shop')).toEqual([v1.report.container?.name]);
    const calls = engine.calls.slice(mark);
    // No pull, no create: the kept container is started again.
    expect(calls.some((c) => c.startsWith('pull ') || c.startsWith('create shop-2'))).toBe(false);
    expect(calls.findIndex((c) => c.startsWith(`start ${v1.report.container?.name}`))).toBeLessThan(calls.findIndex((c) => c.startsWith(`stop ${v2.report.container?.name}`)));
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
    expect(conf).toContain('server shop-20261122t100000z-222222222222:8080 max_fails=0;');
    expect(conf).toMatch(/keepalive 32;/);
    expect(conf).toMatch(/proxy_set_header Connection "";/);
    expect(conf).toMatch(/proxy_next_upstream error timeout;/);
    expect(conf).toMatch(/listen 8080;/);
  });
});
