import { describe, expect, it } from 'vitest';
import type { Provenance } from '../src/labels.ts';
import type { LockEvents } from '../src/host/deployer.ts';
import type { DeploySettings } from '../src/settings/index.ts';
import { swarmServiceSpec } from '../src/swarm/service-spec.ts';
import { DIGEST_V1, DIGEST_V2, FakeEngine, FakeSwarm, hostContext, runSwarmDeploy } from './fakes.ts';
import { settings } from './helpers.ts';

const REPO = 'registry.example.com/team/shop';
const provenance: Provenance = { gitSha: 'a'.repeat(40), runUrl: 'local', actor: 'octocat', at: '2026-11-22T10:00:00.000Z' };
const locks: LockEvents = { acquired: () => undefined, released: () => undefined };

function engines(): { engine: FakeEngine; swarm: FakeSwarm } {
  const engine = new FakeEngine();
  engine.registry.push({ repository: REPO, tag: 'v1', digest: DIGEST_V1, id: 'sha256:img1', hasHealthcheck: true }, { repository: REPO, tag: 'v2', digest: DIGEST_V2, id: 'sha256:img2', hasHealthcheck: true });
  return { engine, swarm: new FakeSwarm() };
}

function swarmSettings(extra: Record<string, string> = {}, overrides: Partial<DeploySettings> = {}): DeploySettings {
  return settings({ target: 'swarm', publish: '8080', env: 'SECRET=hunter22', ...extra }, { readinessTimeoutMs: 300, ...overrides });
}

async function run(e: { engine: FakeEngine; swarm: FakeSwarm }, s: DeploySettings) {
  const ctx = hostContext(e.engine, s);
  const result = await runSwarmDeploy(ctx, e.swarm, provenance, locks);
  return { ...result, log: ctx.log };
}

describe('target: swarm', () => {
  it('builds a dnsrr service that publishes no port (the proxy holds it), start-first, with rollback on failure', () => {
    const spec = swarmServiceSpec(swarmSettings(), { imageRef: `${REPO}@${DIGEST_V1}`, digest: DIGEST_V1, provenance, imageHasHealthcheck: true });
    expect(spec.EndpointSpec).toEqual({ Mode: 'dnsrr' });
    expect(spec.UpdateConfig).toMatchObject({ Order: 'start-first', FailureAction: 'rollback', Parallelism: 1 });
    expect(spec.TaskTemplate.Networks).toEqual([{ Target: 'shop-net', Aliases: ['shop', 'shop.gangway.invalid'] }]);
    expect(spec.TaskTemplate.ContainerSpec.Healthcheck).toBeUndefined();
    expect(JSON.stringify(spec.Labels)).not.toContain('hunter22');
    const internal = swarmServiceSpec(swarmSettings({ publish: '' }), { imageRef: `${REPO}@${DIGEST_V1}`, digest: DIGEST_V1, provenance, imageHasHealthcheck: false });
    expect(internal.UpdateConfig.Order).toBe('start-first');
    expect(internal.EndpointSpec).toEqual({ Mode: 'dnsrr' });
    expect(internal.TaskTemplate.ContainerSpec.Healthcheck?.Test?.slice(0, 2)).toEqual(['CMD', 'node']);
    expect(internal.TaskTemplate.ContainerSpec.Healthcheck?.Test?.[3]).toContain('http://127.0.0.1:8080/readyz');
  });

  it('creates the service, updates it, and reports Swarm\'s own rollback as rolled-back', async () => {
    const e = engines();
    const first = await run(e, swarmSettings({ image: `${REPO}:v1` }));
    expect(first.error).toBeUndefined();
    expect(first.report.result).toBe('deployed');
    const second = await run(e, swarmSettings({ image: `${REPO}:v2` }));
    expect(second.error).toBeUndefined();
    expect(second.report).toMatchObject({ result: 'deployed', rolledBack: false, strategy: 'swarm (start-first)' });
    const third = await run(e, swarmSettings({ image: `${REPO}:v1`, env: 'NEVER_READY=1' }));
    expect(third.report).toMatchObject({ result: 'rolled-back', rolledBack: true });
    expect(third.error?.message).toMatch(/Swarm rolled the service back/);
    expect([...e.swarm.services.values()][0]?.spec.TaskTemplate.ContainerSpec.Image).toBe(`${REPO}@${DIGEST_V2}`);
    // The previous spec is now the failed one: rollback: true refuses to re-apply it.
    const back = await run(e, swarmSettings({ rollback: 'true', image: '' }));
    expect(back.error?.message).toMatch(/already rolled .* back/);
    // On the manager: the proxy only (the lock marker is gone).
    expect([...e.engine.containers.values()].map((c) => c.options.name)).toEqual(['shop-proxy']);
  });

  it('rollback: true asks Swarm for its previous spec', async () => {
    const e = engines();
    await run(e, swarmSettings({ image: `${REPO}:v1` }));
    await run(e, swarmSettings({ image: `${REPO}:v2` }));
    const back = await run(e, swarmSettings({ rollback: 'true', image: '' }));
    expect(back.error).toBeUndefined();
    expect(back.report).toMatchObject({ mode: 'rollback', result: 'deployed', image: `${REPO}@${DIGEST_V1}` });
    // Swarm's own rollback: its previous spec serves again, and the one it replaced becomes the previous.
    const service = [...e.swarm.services.values()][0];
    expect(service?.spec.TaskTemplate.ContainerSpec.Image).toBe(`${REPO}@${DIGEST_V1}`);
    expect(service?.previousSpec?.TaskTemplate.ContainerSpec.Image).toBe(`${REPO}@${DIGEST_V2}`);
    expect(service?.updateStatus).toMatchObject({ state: 'rollback_completed', message: 'manually requested rollback' });
  });

  it('fails clearly when the engine is not a swarm manager', async () => {
    const e = engines();
    e.swarm.manager = false;
    e.swarm.state = 'inactive';
    const result = await run(e, swarmSettings({ image: `${REPO}:v1` }));
    expect(result.error?.message).toMatch(/needs a Docker Swarm manager.*docker swarm init/);
    expect(e.swarm.services.size).toBe(0);
    expect(e.engine.events).toEqual([]);
  });

  it('replicas: 3 with publish: one task at a time with a pause, spread over the nodes, on <app>-net behind the proxy', () => {
    const s = swarmSettings({ replicas: '3' });
    expect(s.target).toMatchObject({ kind: 'swarm', replicas: 3, proxy: { image: { repository: 'nginx', tag: 'stable' } } });
    expect(s.network).toBe('shop-net');
    const spec = swarmServiceSpec(s, { imageRef: `${REPO}@${DIGEST_V1}`, digest: DIGEST_V1, provenance, imageHasHealthcheck: true });
    expect(spec.Mode).toEqual({ Replicated: { Replicas: 3 } });
    expect(spec.EndpointSpec).toEqual({ Mode: 'dnsrr' });
    expect(spec.UpdateConfig).toMatchObject({ Parallelism: 1, Order: 'start-first', Delay: 2_000_000_000, FailureAction: 'rollback' });
    expect(spec.RollbackConfig).toMatchObject({ Parallelism: 1, Order: 'start-first' });
    expect(spec.TaskTemplate.Placement).toEqual({ Preferences: [{ Spread: { SpreadDescriptor: 'node.id' } }] });
    expect(spec.TaskTemplate.Networks).toEqual([{ Target: 'shop-net', Aliases: ['shop', 'shop.gangway.invalid'] }]);
    // Without publish, no proxy and no network of Gangway's.
    const internal = swarmSettings({ replicas: '3', publish: '' });
    expect(internal.target).toEqual({ kind: 'swarm', replicas: 3 });
    expect(internal.network).toBeUndefined();
    // One replica: no pause between tasks.
    const one = swarmServiceSpec(swarmSettings(), { imageRef: `${REPO}@${DIGEST_V1}`, digest: DIGEST_V1, provenance, imageHasHealthcheck: true });
    expect(one.Mode).toEqual({ Replicated: { Replicas: 1 } });
    expect(one.UpdateConfig.Delay).toBeUndefined();
  });

  it('refuses replicas that are not a count from 1 to 100, and replicas with target: container, naming the input', () => {
    expect(() => swarmSettings({ replicas: '0' })).toThrow(/replicas/);
    expect(() => swarmSettings({ replicas: 'three' })).toThrow(/replicas/);
    expect(() => swarmSettings({ replicas: '101' })).toThrow(/replicas/);
    expect(() => settings({ publish: '8080', replicas: '3' })).toThrow(/Input "replicas" is 3, which applies to target: swarm.*roles/);
    // The lock covers Swarm's wait three times: with the default timeouts and lock-ttl, 8 replicas fit and 9 do not.
    expect(settings({ target: 'swarm', publish: '8080', replicas: '8' }).target).toMatchObject({ replicas: 8 });
    expect(() => settings({ target: 'swarm', publish: '8080', replicas: '9' })).toThrow(/Input "lock-ttl" is 30m00s, shorter than .* at least 31m24s .*Swarm update applied again after a stall/);
    // action.yml's default (1) is fine with target: container.
    expect(settings({ publish: '8080', replicas: '1' }).target.kind).toBe('container');
  });

  it('replicas: 3 with publish: the proxy on the manager forwards to the tasks by an alias under .invalid, made once and kept; every node gets the registry login', async () => {
    const e = engines();
    const login = { 'registry-username': 'deploy', 'registry-password': 'pa55-w0rd-registry' };
    const first = await run(e, swarmSettings({ image: `${REPO}:v1`, replicas: '3', ...login }));
    expect(first.error).toBeUndefined();
    expect(first.report).toMatchObject({ result: 'deployed', strategy: 'swarm (start-first)' });
    expect(e.swarm.overlays).toEqual(['shop-net']);
    const proxy = [...e.engine.containers.values()].find((c) => c.options.name === 'shop-proxy');
    expect(proxy?.options.Labels).toMatchObject({ 'gangway.role': 'proxy', 'gangway.app': 'shop' });
    expect(proxy?.options.HostConfig?.NetworkMode).toBe('shop-net');
    expect(proxy?.state).toBe('running');
    const config = proxy?.files?.get('/etc/gangway/nginx.conf') ?? '';
    expect(config).toContain('resolver 127.0.0.11 valid=1s ipv6=off;');
    expect(config).toContain('set $gangway_tasks http://shop.gangway.invalid:8080;');
    expect(config).toContain('proxy_pass $gangway_tasks;');
    expect(first.log.lines.join('\n')).toMatch(/creating the proxy shop-proxy .* → shop\.gangway\.invalid:8080 on shop-net: no proxy yet/);

    const second = await run(e, swarmSettings({ image: `${REPO}:v2`, replicas: '3', ...login }));
    expect(second.error).toBeUndefined();
    expect(second.log.lines.join('\n')).toMatch(/proxy shop-proxy: running as wanted/);
    expect([...e.engine.containers.values()].filter((c) => c.options.name === 'shop-proxy').map((c) => c.id)).toEqual([proxy?.id]);
    // The login goes with the create and the update (X-Registry-Auth), for the nodes that pull the image.
    expect(e.swarm.registryAuths).toHaveLength(2);
    for (const auth of e.swarm.registryAuths) expect(JSON.parse(Buffer.from(String(auth).replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8'))).toMatchObject({ username: 'deploy', password: 'pa55-w0rd-registry' });
    expect(JSON.stringify([...e.swarm.services.values()][0]?.spec)).not.toContain('pa55-w0rd-registry');
  });

  it('a new service of 3 replicas is ready only when all 3 of its tasks run', async () => {
    const { waitForNewService } = await import('../src/swarm/wait.ts');
    const tasks = (running: number) => Array.from({ length: 3 }, (_, i) => ({ id: `t${i}`, state: i < running ? 'running' : 'starting', desiredState: 'running', image: 'x', labels: { 'gangway.deployed-at': 'now' }, message: '' }));
    let polls = 0;
    const swarm = { listTasks: () => Promise.resolve(tasks(Math.min(3, ++polls))) } as unknown as FakeSwarm;
    const lines: string[] = [];
    const outcome = await waitForNewService(swarm, 'svc', 'now', { replicas: 3, timeoutMs: 10_000, intervalMs: 1, log: (l) => lines.push(l), sleep: () => Promise.resolve() });
    expect(outcome).toEqual({ kind: 'completed' });
    expect(polls).toBe(3);
    expect(lines[0]).toMatch(/^tasks: 1 of 3 running; /);
  });

  it('moves a service that publishes a host-mode port (an earlier Gangway\'s) behind the proxy once its update is done; a rolled-back update leaves it as it was', async () => {
    const e = engines();
    expect((await run(e, swarmSettings({ image: `${REPO}:v1` }))).error).toBeUndefined();
    // As an earlier Gangway left a one-replica service: the port in host mode, no proxy.
    const service = [...e.swarm.services.values()][0] as NonNullable<ReturnType<typeof e.swarm.services.get>>;
    service.spec.EndpointSpec = { Mode: 'dnsrr', Ports: [{ Protocol: 'tcp', TargetPort: 8080, PublishedPort: 8080, PublishMode: 'host' }] };
    for (const c of [...e.engine.containers.values()].filter((x) => x.options.name === 'shop-proxy')) e.engine.containers.delete(c.id);
    const proxies = () => [...e.engine.containers.values()].filter((c) => c.options.name === 'shop-proxy' && c.state === 'running');

    const failed = await run(e, swarmSettings({ image: `${REPO}:v2`, env: 'NEVER_READY=1' }));
    expect(failed.report.result).toBe('rolled-back');
    expect(proxies()).toEqual([]);
    expect([...e.swarm.services.values()][0]?.spec.EndpointSpec.Ports).toHaveLength(1);

    const moved = await run(e, swarmSettings({ image: `${REPO}:v2` }));
    expect(moved.error).toBeUndefined();
    expect(moved.log.lines.join('\n')).toMatch(/publishes port 8080 in host mode .* moves it behind the managed proxy shop-proxy/);
    expect([...e.swarm.services.values()][0]?.spec.EndpointSpec).toEqual({ Mode: 'dnsrr' });
    expect(proxies()).toHaveLength(1);
    // The proxy came after the update: the old task held the port until then.
    const order = moved.log.lines.filter((l) => /updating the Swarm service|creating the proxy/.test(l));
    expect(order.map((l) => l.replace(/ .*/, ''))).toEqual(['updating', 'creating']);
    // Swarm's previous spec has the host port, which the proxy holds now: rollback: true refuses, naming the image to deploy.
    const back = await run(e, swarmSettings({ rollback: 'true', image: '' }));
    expect(back.error?.message).toMatch(new RegExp(`previous spec of shop .* publishes port 8080 in host mode .* Nothing was changed\\. Deploy the previous image instead: image: ${REPO}@${DIGEST_V1}`));
    expect([...e.swarm.services.values()][0]?.spec.EndpointSpec).toEqual({ Mode: 'dnsrr' });
  });

  it('without publish, says that a proxy from an earlier deploy still holds the port', async () => {
    const e = engines();
    expect((await run(e, swarmSettings({ image: `${REPO}:v1` }))).error).toBeUndefined();
    const internal = await run(e, swarmSettings({ image: `${REPO}:v2`, publish: '' }));
    expect(internal.error).toBeUndefined();
    expect(internal.log.lines.join('\n')).toMatch(/WARNING "publish" is not set, but the managed proxy shop-proxy .*\(docker rm -f shop-proxy\)/);
  });

  it('an update that stands still while a node that ran its tasks is down is applied again (ForceUpdate) once, and completes on the nodes that are up', async () => {
    const e = engines();
    expect((await run(e, swarmSettings({ image: `${REPO}:v1`, replicas: '3' }))).error).toBeUndefined();
    e.swarm.down.add('node3');
    e.swarm.stallNextUpdate = true;
    const result = await run(e, swarmSettings({ image: `${REPO}:v2`, replicas: '3' }));
    expect(result.error).toBeUndefined();
    expect(result.report.result).toBe('deployed');
    const log = result.log.lines.join('\n');
    expect(log).toMatch(/WARNING Swarm's update has not moved for \d+ s while a node that ran its tasks is down \(node3\): applying the update again \(ForceUpdate\)/);
    const service = [...e.swarm.services.values()][0];
    expect([service?.spec.TaskTemplate.ContainerSpec.Image, service?.spec.TaskTemplate.ForceUpdate, service?.updateStatus?.state]).toEqual([`${REPO}@${DIGEST_V2}`, 1, 'completed']);

    // Without a node down, an update that stands still is not stalled: it waits for its timeout.
    const { waitForUpdate } = await import('../src/swarm/wait.ts');
    const still = engines();
    expect((await run(still, swarmSettings({ image: `${REPO}:v1` }))).error).toBeUndefined();
    const [svc] = [...still.swarm.services.values()];
    still.swarm.stallNextUpdate = true;
    await still.swarm.updateService(svc?.id ?? '', svc?.version ?? 0, svc?.spec as NonNullable<typeof svc>['spec']);
    const outcome = await waitForUpdate(still.swarm, svc?.id ?? '', undefined, { timeoutMs: 300, intervalMs: 5, stallMs: 30, log: () => undefined });
    expect(outcome.kind).toBe('timeout');
  });

  it('after an update applied again, a failure puts the spec from before the deploy back, and rollback: true names the image to deploy instead', async () => {
    const e = engines();
    expect((await run(e, swarmSettings({ image: `${REPO}:v1`, replicas: '3' }))).error).toBeUndefined();
    e.swarm.down.add('node3');
    e.swarm.stallNextUpdate = true;
    e.swarm.failNextUpdate = true;
    const failed = await run(e, swarmSettings({ image: `${REPO}:v2`, replicas: '3' }));
    expect(failed.report.result).toBe('rolled-back');
    expect(failed.log.lines.join('\n')).toMatch(/putting the spec from before this deploy back[\s\S]*applying the spec from before this deploy again \(registry\.example\.com\/team\/shop@sha256:1{64}, ForceUpdate\)/);
    // Swarm's own rollback went back to the deploy's first apply (v2); the spec from before the deploy (v1) serves.
    expect([...e.swarm.services.values()][0]?.spec.TaskTemplate.ContainerSpec.Image).toBe(`${REPO}@${DIGEST_V1}`);

    // A stalled update that then completes leaves Swarm's previous spec at this very version.
    e.swarm.stallNextUpdate = true;
    expect((await run(e, swarmSettings({ image: `${REPO}:v2`, replicas: '3' }))).error).toBeUndefined();
    const back = await run(e, swarmSettings({ rollback: 'true', image: '', replicas: '3' }));
    expect(back.error?.message).toMatch(new RegExp(`runs the version it runs now .* Nothing was changed\\. Deploy the previous image instead: image: ${REPO.replace(/\./g, '\\.')}@${DIGEST_V1}`));
  });

  it('refuses a network of that name that a service cannot join, before anything changes', async () => {
    const e = engines();
    e.swarm.otherNetworks.set('shop-net', { driver: 'bridge', scope: 'local', attachable: false });
    const result = await run(e, swarmSettings({ image: `${REPO}:v1` }));
    expect(result.error?.message).toMatch(/Network shop-net on .* is a local bridge network: a Swarm service and its proxy need an attachable overlay network\. Nothing was changed\. Give another name in "network", or remove that network/);
    expect(e.swarm.services.size).toBe(0);
    expect([...e.engine.containers.values()].map((c) => c.options.name)).toEqual([]);
  });

  it('rollback: true refuses a previous spec whose tasks the proxy could not reach (published in host mode, or off its network), with or without publish', async () => {
    const e = engines();
    expect((await run(e, swarmSettings({ image: `${REPO}:v1` }))).error).toBeUndefined();
    expect((await run(e, swarmSettings({ image: `${REPO}:v2` }))).error).toBeUndefined();
    // As if v1 had been deployed by an earlier Gangway, with the port in host mode.
    const service = [...e.swarm.services.values()][0] as NonNullable<ReturnType<typeof e.swarm.services.get>>;
    (service.previousSpec as NonNullable<typeof service.previousSpec>).EndpointSpec = { Mode: 'dnsrr', Ports: [{ Protocol: 'tcp', TargetPort: 8080, PublishedPort: 8080, PublishMode: 'host' }] };
    const noPublish = await run(e, swarmSettings({ rollback: 'true', image: '', publish: '' }));
    expect(noPublish.error?.message).toMatch(/publishes port 8080 in host mode .* Nothing was changed/);

    const other = engines();
    expect((await run(other, swarmSettings({ image: `${REPO}:v1`, publish: '' }))).error).toBeUndefined();
    expect((await run(other, swarmSettings({ image: `${REPO}:v2` }))).error).toBeUndefined();
    const offNetwork = await run(other, swarmSettings({ rollback: 'true', image: '' }));
    expect(offNetwork.error?.message).toMatch(/is not on the network shop-net \(it was deployed without publish\), so the proxy shop-proxy could not reach its tasks\. Nothing was changed\. Deploy the previous image instead: image: registry\.example\.com\/team\/shop@sha256:1{64}/);
    expect([...other.swarm.services.values()][0]?.spec.TaskTemplate.ContainerSpec.Image).toBe(`${REPO}@${DIGEST_V2}`);
  });

});

