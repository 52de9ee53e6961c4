// What a deploy cut off half-way leaves, and how the next one finds and tidies it: the proxy's
// upstream is the container that serves (not the newest running one); a newer running container
// never got traffic and is removed; an older one still running is stopped and kept. And the
// message a deploy gives when its SSH connection broke.
import { describe, expect, it } from 'vitest';
import { PhaseClock } from '@gangway/kit';
import type { Provenance } from '../src/labels.ts';
import { DeployFailedError, explainLostConnection, type LockEvents } from '../src/host/deployer.ts';
import { containerTarget } from '../src/container/deployer.ts';
import { blueGreen } from '../src/container/strategy/blue-green.ts';
import { FakeEngine, hostContext, runContainerDeploy, engineWithReleases, RELEASES_REPO } from './fakes.ts';
import { settings } from './helpers.ts';

const REPO = RELEASES_REPO;
let tick = 0;
function provenance(): Provenance {
  tick++;
  return { gitSha: 'b'.repeat(40), runUrl: `https://github.com/acme/shop/actions/runs/${tick}`, actor: 'octocat', at: new Date(Date.parse('2026-11-22T12:00:00Z') + tick * 60_000).toISOString() };
}
const locks: LockEvents = { acquired: () => undefined, released: () => undefined };

const engine = engineWithReleases;

async function deploy(e: FakeEngine, tag: string, extra: Record<string, string> = {}) {
  const s = settings({ publish: '8080', image: `${REPO}:${tag}`, 'drain-timeout': '200ms', ...extra }, { readinessTimeoutMs: 300 });
  const ctx = hostContext(e, s);
  const result = await runContainerDeploy(ctx, blueGreen, provenance(), locks);
  return { ...result, log: ctx.log };
}

describe('a deploy after an interrupted one', () => {
  it('finds the serving container through the proxy and removes the newer one that never got traffic', async () => {
    const e = engine();
    const v1 = await deploy(e, 'v1');
    expect(v1.error).toBeUndefined();
    const servingName = v1.report.container?.name ?? '';
    // A v2 container left running, never switched to (the deploy lost its connection in readiness).
    const served = [...e.containers.values()].find((c) => c.options.name === servingName);
    if (!served) throw new Error('no v1 container');
    const orphanId = await e.createContainer({ ...served.options, name: 'shop-20261122t130000z-orphan', Labels: { ...served.options.Labels, 'gangway.deployed-at': '2026-11-22T13:00:00.000Z' } });
    await e.startContainer(orphanId);
    expect(e.running('shop')).toHaveLength(2);

    const v3 = await deploy(e, 'v3');
    expect(v3.error).toBeUndefined();
    expect(v3.log.text).toMatch(/shop-20261122t130000z-orphan is running but never got traffic .* removing it/);
    expect(v3.report.previous?.name).toBe(servingName);
    expect([...e.containers.values()].some((c) => c.options.name === 'shop-20261122t130000z-orphan')).toBe(false);
    expect(e.running('shop')).toEqual([v3.report.container?.name]);
  });

  it('stops an older container an interrupted deploy left running after its switch, and keeps it', async () => {
    const e = engine();
    const v1 = await deploy(e, 'v1');
    const v2 = await deploy(e, 'v2');
    expect(v2.error).toBeUndefined();
    // As if v2's deploy had lost its connection before stopping v1: v1 runs again, unserved.
    const v1Id = v2.report.previous?.id ?? '';
    await e.startContainer(v1Id);
    expect(e.running('shop')).toHaveLength(2);
    const v3 = await deploy(e, 'v3');
    expect(v3.error).toBeUndefined();
    expect(v3.log.text).toMatch(new RegExp(`${v1.report.container?.name ?? 'x'} is still running although the proxy forwards to ${v2.report.container?.name ?? 'x'}`));
    expect(v3.report.previous?.name).toBe(v2.report.container?.name);
    expect(e.containers.has(v1Id)).toBe(true);
    expect(e.running('shop')).toEqual([v3.report.container?.name]);
  });
});

describe('explainLostConnection', () => {
  const ctx = (lost?: Error) => {
    const s = settings({ host: '203.0.113.10' });
    const c = hostContext(new FakeEngine(), s);
    c.host = '203.0.113.10';
    c.clock = new PhaseClock();
    return { ...c, ...(lost ? { connectionLost: () => lost } : {}) };
  };

  it('leaves an error alone while the connection stands', async () => {
    const e = new Error('boom');
    expect(await explainLostConnection(ctx(), e, 'where it is left.')).toBe(e);
  });

  it('says the connection broke, in which phase, where that leaves the server, and what failed', async () => {
    const c = ctx(new Error('Keepalive timeout'));
    await c.clock.time('readiness', async () => undefined);
    const failed = new DeployFailedError('203.0.113.10', 'No response from server', 'The previous container serves again (rolled back).');
    const out = await explainLostConnection(c, failed, containerTarget(c, blueGreen).whenConnectionLost);
    expect(out.name).toBe('ConnectionLostError');
    expect(out.message).toMatch(/^Lost the SSH connection to 203\.0\.113\.10 \(in the readiness phase\): Keepalive timeout\./);
    expect(out.message).toMatch(/the next deploy of shop finds the container that serves/);
    expect(out.message).toMatch(/\(No response from server\)$/);
    expect(out.message).not.toMatch(/rolled back/);
  });
});
