// Roles and accessories with the in-memory engine and the settings readers: the order of a
// release across roles (new web ready → new workers ready → switch → settle → old workers
// stopped → old web drained), a release that fails in any role going back whole, rollback: true
// bringing every role back, retention taking workers with their release, accessories created once
// and never restarted, an upgrade only after its volume is found; and every bad input refused,
// naming the input.
import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '@gangway/kit';
import { LABEL, type Provenance } from '../src/labels.ts';
import { blueGreen } from '../src/container/strategy/blue-green.ts';
import { recreate } from '../src/container/strategy/recreate.ts';
import { isPrivateAddress, parseAccessories, parseRoles } from '../src/settings/roles.ts';
import { workerSpec } from '../src/container/roles.ts';
import { appContainerSpec } from '../src/container/spec.ts';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Inputs, mapInputs } from '@gangway/kit';
import { parseKeyValueFile } from '@gangway/harness';
import type { ConnectHost } from '../src/host/connection.ts';
import { main } from '../src/main.ts';
import type { DeployReport } from '../src/report.ts';
import type { FakeEngine} from './fakes.ts';
import { DIGEST_V1, DIGEST_V3, engineWithReleases, hostContext, RELEASES_REPO, runContainerDeploy } from './fakes.ts';
import { baseInputs, settings, useRunnerFiles } from './helpers.ts';

const REPO = RELEASES_REPO;
const ROLES = 'worker: { env: [APP_ROLE=worker], replicas: 2, readiness: /readyz }';
const ACCESSORIES = 'redis: { image: redis:7, volumes: ["shop-redis:/data"] }';

/** The app's releases, and two Redis images for the accessory. */
function engineWithImages(): FakeEngine {
  const engine = engineWithReleases();
  engine.registry.push(
    { repository: 'redis', tag: '7', digest: `sha256:${'7'.repeat(64)}`, id: 'sha256:redis7' },
    { repository: 'redis', tag: '8', digest: `sha256:${'8'.repeat(64)}`, id: 'sha256:redis8' },
  );
  return engine;
}

let tick = 0;
function provenance(): Provenance {
  tick++;
  return { gitSha: 'a'.repeat(40), runUrl: `https://github.com/acme/shop/actions/runs/${tick}`, actor: 'octocat', at: new Date(Date.parse('2026-12-07T10:00:00Z') + tick * 60_000).toISOString() };
}

async function run(engine: FakeEngine, extra: Record<string, string>) {
  const s = settings({ publish: '8080', 'drain-timeout': '300ms', roles: ROLES, accessories: ACCESSORIES, ...extra }, { readinessTimeoutMs: 500 });
  const ctx = hostContext(engine, s);
  const result = await runContainerDeploy(ctx, s.target.kind === 'container' && s.target.strategy.name === 'recreate' ? recreate : blueGreen, provenance());
  return { ...result, log: ctx.log };
}
const deploy = (engine: FakeEngine, tag: string, extra: Record<string, string> = {}) => run(engine, { image: `${REPO}:${tag}`, ...extra });

function workers(engine: FakeEngine, state?: string): Array<{ name: string; release: string; image: string; id: string }> {
  return [...engine.containers.values()]
    .filter((c) => c.options.Labels?.[LABEL.role] === 'worker' && (state === undefined || c.state === state))
    .map((c) => ({ name: c.options.name, release: c.options.Labels?.[LABEL.release] ?? '', image: c.options.Image, id: c.id }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

const redis = (engine: FakeEngine) => engine.container('shop-redis');

describe('roles on one host', () => {
  it('v1 → v2: new web ready, then the new workers ready, then the switch; the old workers stop before the old web drains', async () => {
    const engine = engineWithImages();
    const v1 = await deploy(engine, 'v1');
    expect(v1.error).toBeUndefined();
    const web1 = v1.report.container?.name ?? '';
    expect(workers(engine, 'running').map((w) => [w.name, w.release])).toEqual([[`${web1}-worker-1`, web1], [`${web1}-worker-2`, web1]]);
    const redisId = redis(engine)?.id;
    const mark = engine.events.length;
    const v2 = await deploy(engine, 'v2');
    expect(v2.error).toBeUndefined();
    const web2 = v2.report.container?.name ?? '';
    const events = engine.events.slice(mark).filter((e) => /^(started|ready|proxy|stopped|drained|created) /.test(e));
    const at = (e: string) => {
      const i = events.indexOf(e);
      if (i === -1) throw new Error(`no event "${e}" in ${events.join(' | ')}`);
      return i;
    };
    // The web is ready before any worker starts; every worker is ready before the switch.
    expect(at(`ready ${web2}`)).toBeLessThan(at(`started ${web2}-worker-1`));
    expect(Math.max(at(`ready ${web2}-worker-1`), at(`ready ${web2}-worker-2`))).toBeLessThan(at(`proxy shop-proxy → ${web2}, backup ${web1}`));
    // After settle: the old workers stop, then the old web (after its drain).
    expect(at(`proxy shop-proxy → ${web2}`)).toBeLessThan(at(`stopped ${web1}-worker-1`));
    expect(Math.max(at(`stopped ${web1}-worker-1`), at(`stopped ${web1}-worker-2`))).toBeLessThan(at(`stopped ${web1}`));
    expect(workers(engine, 'running').map((w) => [w.release, w.image])).toEqual([[web2, v2.report.image], [web2, v2.report.image]]);
    expect(workers(engine, 'exited').map((w) => w.release)).toEqual([web1, web1]);
    const roles = v2.report.roles ?? [];
    expect(roles.map((r) => [r.role, r.image, r.containers.map((c) => c.name).sort(), r.previous.map((c) => c.name).sort()])).toEqual([
      ['worker', v2.report.image, [`${web2}-worker-1`, `${web2}-worker-2`], [`${web1}-worker-1`, `${web1}-worker-2`]],
    ]);
    // The accessory: the same container, never stopped or started again.
    expect(redis(engine)?.id).toBe(redisId);
    expect(events.filter((e) => e.includes('shop-redis'))).toEqual([]);
    expect(v2.report.accessories).toEqual([expect.objectContaining({ name: 'redis', action: 'kept', container: { id: redisId, name: 'shop-redis' } })]);
    expect(engine.dropped).toEqual([]);
  });

  it('a v3 whose worker crashes at start: every role stays on v2, the v3 containers are gone, the proxy never switched', async () => {
    const engine = engineWithImages();
    await deploy(engine, 'v1');
    const v2 = await deploy(engine, 'v2');
    const web2 = v2.report.container?.name ?? '';
    const before = workers(engine, 'running');
    const proxyLoads = engine.proxy('shop')?.loads?.length;
    engine.onCall = (call) => {
      if (/^start shop-.*-worker-1$/.test(call) && !call.includes(web2)) engine.crash(call.slice('start '.length), { loop: true, exitCode: 2 });
    };
    const v3 = await deploy(engine, 'v3');
    engine.onCall = () => undefined;
    expect(v3.error?.message).toMatch(/worker shop-.*-worker-1 stopped before it got ready/);
    expect(v3.report.result).toBe('rolled-back');
    expect(v3.report.roles?.[0]?.containers.map((c) => c.name)).toEqual(before.map((w) => w.name));
    expect(workers(engine, 'running')).toEqual(before);
    expect(engine.running('shop')).toEqual([web2]);
    expect(engine.proxy('shop')?.loads?.length).toBe(proxyLoads);
    expect([...engine.containers.values()].filter((c) => c.options.Image.includes(DIGEST_V3))).toEqual([]);
    expect(v3.log.text).toMatch(/What shop-.*-worker-1 said/);
    expect(engine.dropped).toEqual([]);
  });

  it('a worker that dies while the release settles rolls back every role: the web switches back, the old workers never stopped', async () => {
    const engine = engineWithImages();
    const v1 = await deploy(engine, 'v1');
    const web1 = v1.report.container?.name ?? '';
    let crashed = false;
    engine.onCall = (call) => {
      if (!crashed && call.startsWith('inspectContainer') && engine.proxy('shop')?.backup) {
        const w = workers(engine, 'running').find((x) => x.release !== web1);
        if (w) {
          crashed = true;
          engine.crash(w.name, { restart: true });
        }
      }
    };
    const v2 = await deploy(engine, 'v2', { 'settle-time': '600ms' });
    engine.onCall = () => undefined;
    expect(crashed).toBe(true);
    expect(v2.error?.message).toMatch(/died after it was up/);
    expect(v2.report.result).toBe('rolled-back');
    expect(engine.proxy('shop')?.upstream).toBe(web1);
    expect(workers(engine, 'running').map((w) => w.release)).toEqual([web1, web1]);
    expect(workers(engine).every((w) => w.release === web1)).toBe(true);
    expect(engine.dropped).toEqual([]);
  });

  it('rollback: true brings the web and its own workers back together (the kept containers, started again)', async () => {
    const engine = engineWithImages();
    const v1 = await deploy(engine, 'v1');
    const web1 = v1.report.container?.name ?? '';
    const kept = workers(engine, 'running');
    const v2 = await deploy(engine, 'v2');
    const back = await run(engine, { rollback: 'true', image: '' });
    expect(back.error).toBeUndefined();
    expect(back.report.container?.name).toBe(web1);
    expect(workers(engine, 'running')).toEqual(kept);
    expect(workers(engine, 'exited').map((w) => w.release)).toEqual([v2.report.container?.name, v2.report.container?.name]);
    expect(back.report.roles?.[0]?.previous.map((c) => c.name).sort()).toEqual(workers(engine, 'exited').map((w) => w.name));
    expect(engine.dropped).toEqual([]);
  });

  it('standby keeps only the old web running: its workers stop with the release; a warm rollback starts them with the web', async () => {
    const engine = engineWithImages();
    engine.time = Date.now();
    const v1 = await deploy(engine, 'v1');
    const web1 = v1.report.container?.name ?? '';
    const kept = workers(engine, 'running');
    const v2 = await deploy(engine, 'v2', { standby: '10m' });
    expect(v2.report.standby?.name).toBe(web1);
    // The old web stands by; its workers do not (they would take jobs with the old code).
    expect(engine.running('shop')).toContain(web1);
    expect(workers(engine, 'running').map((w) => w.release)).toEqual([v2.report.container?.name, v2.report.container?.name]);
    const webStartedAt = engine.container(web1)?.startedAt;
    const back = await run(engine, { rollback: 'true', image: '' });
    expect(back.error).toBeUndefined();
    expect(back.report.container?.name).toBe(web1);
    expect(engine.container(web1)?.startedAt).toBe(webStartedAt);
    expect(workers(engine, 'running')).toEqual(kept);
    expect(engine.dropped).toEqual([]);
  });

  it('retention removes workers with their release; the accessory and its volume stay', async () => {
    const engine = engineWithImages();
    const v1 = await deploy(engine, 'v1', { keep: '1' });
    await deploy(engine, 'v2', { keep: '1' });
    const v3 = await deploy(engine, 'v3', { keep: '1' });
    const releases = new Set(workers(engine).map((w) => w.release));
    expect(releases.has(v1.report.container?.name ?? '')).toBe(false);
    expect(v3.report.retention?.removedContainers).toEqual(expect.arrayContaining([`${v1.report.container?.name}-worker-1`, `${v1.report.container?.name}-worker-2`]));
    expect(redis(engine)?.state).toBe('running');
    expect(await engine.volumeExists('shop-redis')).toBe(true);
  });

  it('recreate: the workers of the new release start once its web is ready, then the old workers stop', async () => {
    const engine = engineWithImages();
    const v1 = await deploy(engine, 'v1', { strategy: 'recreate', publish: '' });
    const mark = engine.events.length;
    const v2 = await deploy(engine, 'v2', { strategy: 'recreate', publish: '' });
    expect(v2.error).toBeUndefined();
    const events = engine.events.slice(mark);
    const web2 = v2.report.container?.name ?? '';
    expect(events.indexOf(`ready ${web2}`)).toBeLessThan(events.indexOf(`started ${web2}-worker-1`));
    expect(events.indexOf(`ready ${web2}-worker-2`)).toBeLessThan(events.indexOf(`stopped ${v1.report.container?.name}-worker-1`));
    expect(workers(engine, 'running').map((w) => w.release)).toEqual([web2, web2]);
  });
});

describe('a role on a server of its own', () => {
  const files = useRunnerFiles('gangway-roles-main-');
  const report = (): DeployReport => JSON.parse(parseKeyValueFile(readFileSync(path.join(files(), 'output'), 'utf8')).report ?? '{}') as DeployReport;
  const connectTo = (engines: Record<string, FakeEngine>): ConnectHost => async (_settings, host) => {
    const engine = engines[host.host];
    if (!engine) throw new Error(`no fake for ${host.host}`);
    return { engine, prober: engine.prober(), transport: 'stream-local', hostKey: 'SHA256:fake', lost: () => undefined, close: () => undefined };
  };
  const inputs = (extra: Record<string, string>) =>
    new Inputs(
      mapInputs(
        baseInputs({
          host: 'web.example.com',
          publish: '8080',
          'readiness-timeout': '1s',
          'drain-timeout': '300ms',
          roles: 'worker: { env: [APP_ROLE=worker], replicas: 2, readiness: /readyz, hosts: [gpu.example.com] }',
          accessories: ACCESSORIES,
          ...extra,
        }),
      ),
    );

  it('runs the workers there only, after the web; a worker failing there rolls the web back too; rollback: true takes both back', async () => {
    const web = engineWithImages();
    const gpu = engineWithImages();
    const connect = connectTo({ 'web.example.com': web, 'gpu.example.com': gpu });
    await main(new AbortController().signal, { inputs: inputs({ image: `${REPO}:v1` }), connect });
    const v1 = report();
    expect(v1.hosts.map((h) => [h.host, h.result])).toEqual([['web.example.com', 'deployed'], ['gpu.example.com', 'deployed']]);
    const web1 = v1.hosts[0]?.container?.name ?? '';
    // The web's server has the web and Redis, no worker; the GPU server has the workers of the same release, nothing else.
    expect(workers(web)).toEqual([]);
    expect(redis(web)?.state).toBe('running');
    expect(workers(gpu, 'running').map((w) => w.release)).toEqual([web1, web1]);
    expect([gpu.running('shop'), redis(gpu), gpu.proxy('shop')]).toEqual([[], undefined, undefined]);

    await main(new AbortController().signal, { inputs: inputs({ image: `${REPO}:v2` }), connect });
    const web2 = report().hosts[0]?.container?.name ?? '';
    expect(workers(gpu, 'running').map((w) => w.release)).toEqual([web2, web2]);
    expect(workers(gpu, 'exited').map((w) => w.release)).toEqual([web1, web1]);

    // v3: its workers crash at start on the GPU server; the web's server, already switched, goes back to v2.
    gpu.onCall = (call) => {
      if (/^start shop-.*-worker-2$/.test(call) && !call.includes(web2) && !call.includes(web1)) gpu.crash(call.slice('start '.length), { loop: true, exitCode: 2 });
    };
    await expect(main(new AbortController().signal, { inputs: inputs({ image: `${REPO}:v3` }), connect })).rejects.toThrow(/gpu\.example\.com.*worker shop-.*-worker-2 stopped before it got ready/s);
    gpu.onCall = () => undefined;
    const v3 = report();
    expect(v3.hosts.map((h) => [h.host, h.result])).toEqual([['web.example.com', 'reverted'], ['gpu.example.com', 'rolled-back']]);
    expect(web.running('shop')).toEqual([web2]);
    expect(web.proxy('shop')?.upstream).toBe(web2);
    expect(workers(gpu, 'running').map((w) => w.release)).toEqual([web2, web2]);
    expect([...gpu.containers.values()].filter((c) => c.options.Image.includes(DIGEST_V3))).toEqual([]);
    expect([web.dropped, gpu.dropped]).toEqual([[], []]);

    await main(new AbortController().signal, { inputs: inputs({ image: '', rollback: 'true' }), connect });
    const back = report();
    expect(back.hosts.map((h) => [h.host, h.result])).toEqual([['web.example.com', 'deployed'], ['gpu.example.com', 'deployed']]);
    expect(web.running('shop')).toEqual([web1]);
    expect(workers(gpu, 'running').map((w) => w.release)).toEqual([web1, web1]);
  });
});

describe('accessories', () => {
  it('is created once on the app network under its name, and never restarted by later deploys', async () => {
    const engine = engineWithImages();
    const v1 = await deploy(engine, 'v1');
    const r = redis(engine);
    expect(v1.report.accessories).toEqual([expect.objectContaining({ name: 'redis', action: 'created' })]);
    expect(r?.options.HostConfig?.NetworkMode).toBe('shop-net');
    expect(r?.options.NetworkingConfig?.EndpointsConfig?.['shop-net']?.Aliases).toEqual(['redis']);
    expect(r?.options.HostConfig?.PortBindings).toBeUndefined();
    const startedAt = r?.startedAt;
    await deploy(engine, 'v2', { accessories: 'redis: { image: redis:8, volumes: ["shop-redis:/data"] }' });
    const after = redis(engine);
    expect([after?.id, after?.startedAt, after?.options.Image]).toEqual([r?.id, startedAt, 'redis:7']);
  });

  it('upgrade-accessories with no image: a new container on the same volume, the app untouched', async () => {
    const engine = engineWithImages();
    const v1 = await deploy(engine, 'v1');
    const oldId = redis(engine)?.id;
    const apps = engine.running('shop');
    const up = await run(engine, { image: '', accessories: 'redis: { image: redis:8, volumes: ["shop-redis:/data"] }', 'upgrade-accessories': 'redis' });
    expect(up.error).toBeUndefined();
    expect(up.report.mode).toBe('accessory-upgrade');
    const r = redis(engine);
    expect(r?.id).not.toBe(oldId);
    expect(r?.options.Image).toBe('redis:8');
    expect(r?.options.HostConfig?.Binds).toEqual(['shop-redis:/data:rw']);
    expect(engine.container(oldId ?? '')).toBeUndefined();
    const [upgraded] = up.report.accessories ?? [];
    expect([upgraded?.name, upgraded?.action, upgraded?.previousImage, upgraded?.image, upgraded?.container.id]).toEqual(['redis', 'upgraded', 'redis:7', 'redis:8', r?.id]);
    expect(upgraded?.gapMs).toBeGreaterThanOrEqual(2000);
    expect(engine.running('shop')).toEqual(apps);
    expect(v1.report.container?.name).toBe(apps[0]);
  });

  it('an upgrade cut off after the old container stopped: the next deploy puts the old one back, on its volume', async () => {
    const engine = engineWithImages();
    await deploy(engine, 'v1');
    const oldId = redis(engine)?.id ?? '';
    // As a runner killed right after the stop and the rename leaves it.
    await engine.stopContainer(oldId, 1);
    await engine.renameContainer(oldId, 'shop-redis-replaced-20261207t100000z');
    const next = await deploy(engine, 'v2');
    expect(next.error).toBeUndefined();
    expect([redis(engine)?.id, redis(engine)?.state]).toEqual([oldId, 'running']);
    expect(next.report.accessories?.map((a) => [a.name, a.action, a.container.id])).toEqual([['redis', 'started', oldId]]);
    expect([...engine.containers.values()].filter((c) => c.options.Labels?.[LABEL.accessory] === 'redis')).toHaveLength(1);
  });

  it('an upgrade is refused when the running accessory keeps data its volumes do not carry over (a VOLUME of its image)', async () => {
    const engine = engineWithImages();
    engine.imageVolumes.set('sha256:redis7', ['/data', '/var/lib/redis']);
    await deploy(engine, 'v1');
    const before = redis(engine);
    const up = await run(engine, { image: '', accessories: 'redis: { image: redis:8, volumes: ["shop-redis:/data"] }', 'upgrade-accessories': 'redis' });
    expect(up.error?.message).toMatch(/Refusing to upgrade accessory redis on target: the running shop-redis keeps data at \/var\/lib\/redis \(volume anon-/);
    expect([redis(engine)?.id, redis(engine)?.state]).toEqual([before?.id, 'running']);
  });

  it('an upgrade whose data volume is missing is refused and changes nothing', async () => {
    const engine = engineWithImages();
    await deploy(engine, 'v1');
    const before = redis(engine);
    const up = await run(engine, { image: '', accessories: 'redis: { image: redis:8, volumes: ["other-volume:/data"] }', 'upgrade-accessories': 'redis' });
    expect(up.error?.message).toMatch(/Refusing to upgrade accessory redis on target: its data volume other-volume does not exist/);
    expect(redis(engine)?.id).toBe(before?.id);
    expect(redis(engine)?.state).toBe('running');
  });

  it('an upgrade whose new container does not stay up brings the old one back on its volume', async () => {
    const engine = engineWithImages();
    await deploy(engine, 'v1');
    const oldId = redis(engine)?.id;
    engine.onCall = (call) => {
      if (call === 'start shop-redis' && redis(engine)?.id !== oldId) engine.crash('shop-redis', { loop: true, exitCode: 1 });
    };
    const up = await run(engine, { image: '', accessories: 'redis: { image: redis:8, volumes: ["shop-redis:/data"] }', 'upgrade-accessories': 'redis' });
    engine.onCall = () => undefined;
    expect(up.error?.message).toMatch(/The upgrade of accessory redis to redis:8 failed .* shop-redis runs redis:7 again/);
    expect(up.report.result).toBe('rolled-back');
    expect([redis(engine)?.id, redis(engine)?.state]).toEqual([oldId, 'running']);
  });
});

describe('role and accessory settings', () => {
  const refused = (extra: Record<string, string>, input: string, message: RegExp) => {
    let caught: unknown;
    try {
      settings(extra);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigurationError);
    expect((caught as ConfigurationError).input).toBe(input);
    expect((caught as Error).message).toMatch(message);
  };

  it('refuses each bad input before anything connects, naming the input', () => {
    refused({ roles: 'worker: { replicas: 2, image: other }' }, 'roles', /role worker has the unknown key "image"/);
    refused({ roles: 'Worker_1: { replicas: 1 }' }, 'roles', /"Worker_1" is not a role name/);
    refused({ roles: 'worker: { replicas: 0 }' }, 'roles', /replicas 0; give a whole number from 1 to 32/);
    refused({ roles: 'web: { replicas: 2 }' }, 'roles', /"web" is the app itself.*it takes only env here/);
    refused({ roles: 'worker: { gpus: "device=0,0" }' }, 'roles', /not a GPU request the engine takes/);
    refused({ roles: 'worker: [1, 2' }, 'roles', /not valid YAML/);
    refused({ accessories: 'redis: { image: redis:7, port: "0.0.0.0:6379:6379" }' }, 'accessories', /publishes on 0.0.0.0, which is every address of the server/);
    refused({ accessories: 'redis: { image: redis:7, port: "203.0.113.5:6379" }' }, 'accessories', /publishes on 203.0.113.5, which is a public address/);
    refused({ accessories: 'redis: { volumes: [data:/data] }' }, 'accessories', /accessory redis has no image/);
    refused({ accessories: ACCESSORIES, 'upgrade-accessories': 'postgres' }, 'upgrade-accessories', /names "postgres", which is not a declared accessory \(declared: redis\)/);
    refused({ 'upgrade-accessories': 'redis' }, 'upgrade-accessories', /the input "accessories" declares none/);
    refused({ roles: ROLES, target: 'swarm' }, 'roles', /works with target: container/);
    refused({ roles: 'worker: { hosts: [] }' }, 'roles', /role worker has an empty hosts list/);
    refused({ roles: 'worker: { hosts: ["bad host!"] }' }, 'roles', /roles/);
    refused({ roles: 'worker: { replicas: true }' }, 'roles', /replicas true; give a whole number/);
    refused({ roles: 'worker: { hosts: [gpu1.internal] }', 'docker-socket': 'gpu2.internal=/run/docker.sock' }, 'docker-socket', /"gpu2.internal" is not one of the hosts in "host" \(or in a role's hosts\)/);
    refused({ roles: 'a: &x { replicas: 2 }\nb: *x' }, 'roles', /anchor or alias/);
    refused({ accessories: 'redis: { image: redis:7, port: "6380:6379" }' }, 'accessories', /name the address to bind, as in 127.0.0.1:6380:6379/);
  });

  it('a role\'s own servers join the run after the web\'s, and docker-socket may name them', () => {
    const s = settings({ host: 'web1.internal, web2.internal', roles: 'worker: { hosts: [gpu1.internal, "web2.internal"] }', 'docker-socket': '/var/run/docker.sock\ngpu1.internal=/run/user/1000/docker.sock' });
    expect(s.hosts.map((h) => h.host)).toEqual(['web1.internal', 'web2.internal', 'gpu1.internal']);
    expect(s.webHosts).toEqual(['web1.internal', 'web2.internal']);
    expect(s.dockerSockets.get('gpu1.internal')).toBe('/run/user/1000/docker.sock');
  });

  it('reads roles in flow or block style, and accessory env values are masked before they are checked', () => {
    const { roles, webEnv } = parseRoles('web: { env: [APP_ROLE=web] }\nworker:\n  env: [APP_ROLE=worker, "QUEUE_URL=redis://redis:6379"]\n  replicas: 3\n  command: node worker.js\n  gpus: all\n  stop-timeout: 45s\nmailer: { readiness: none, grace: 2s }');
    expect(roles.map((r) => [r.name, r.replicas, r.readiness.kind, r.graceMs, r.command, r.gpus, r.stopTimeoutMs])).toEqual([
      ['worker', 3, 'auto', 5000, ['node', 'worker.js'], { count: -1 }, 45_000],
      ['mailer', 1, 'none', 2000, undefined, undefined, undefined],
    ]);
    expect([...(roles[0]?.env ?? [])]).toEqual([['APP_ROLE', 'worker'], ['QUEUE_URL', 'redis://redis:6379']]);
    expect([...webEnv]).toEqual([['APP_ROLE', 'web']]);
    const masked: string[] = [];
    const [pg] = parseAccessories('postgres: { image: postgres:16, env: [POSTGRES_PASSWORD=s3cret-value], port: 5432 }', (v) => masked.push(v));
    expect(masked).toContain('s3cret-value');
    expect(pg?.publish).toEqual({ hostIp: '127.0.0.1', hostPort: 5432, containerPort: 5432 });
    expect(['127.0.0.1', '10.1.2.3', '172.20.0.1', '192.168.1.1', '100.64.0.1', '198.19.0.1', '::1', 'fd00::1'].every(isPrivateAddress)).toBe(true);
    expect(['0.0.0.0', '8.8.8.8', '172.32.0.1', '::', '2001:db8::1', '010.0.0.1', 'fe80::1', '::ffff:10.0.0.1'].some(isPrivateAddress)).toBe(false);
    // A typo that makes a value a mapping: masked all the same, and the error does not quote it.
    const typo: string[] = [];
    let message = '';
    try {
      parseAccessories('db: { image: postgres:16, env: [POSTGRES_PASSWORD: hunter2-secret] }', (v) => typo.push(v));
    } catch (error) {
      message = (error as Error).message;
    }
    expect(typo).toContain('hunter2-secret');
    expect(message).toMatch(/accessory db env must be a single value, not a mapping/);
    expect(message).not.toContain('hunter2');
  });

  it('a worker gets the app env with its own on top, the role\'s GPUs, the app network, and no port or alias', () => {
    const s = settings({ publish: '8080', env: 'DB_URL=postgres://x', roles: 'web: { env: [APP_ROLE=web] }\nworker: { env: [APP_ROLE=worker], gpus: "device=0,1" }' });
    expect(appContainerSpec(s, { imageRef: `${REPO}@${DIGEST_V1}`, digest: DIGEST_V1, provenance: provenance() }).Env).toEqual(['DB_URL=postgres://x', 'APP_ROLE=web']);
    const role = s.roles[0];
    if (!role) throw new Error('no role');
    const spec = workerSpec(s, role, 1, 'shop-rel', { imageRef: `${REPO}@${DIGEST_V1}`, digest: DIGEST_V1, provenance: provenance() });
    expect(spec.Env).toEqual(['DB_URL=postgres://x', 'APP_ROLE=worker']);
    expect(spec.HostConfig?.DeviceRequests).toEqual([{ Driver: 'nvidia', DeviceIDs: ['0', '1'], Capabilities: [['gpu']] }]);
    expect(spec.HostConfig?.NetworkMode).toBe('shop-net');
    expect([spec.ExposedPorts, spec.HostConfig?.PortBindings, spec.NetworkingConfig]).toEqual([undefined, undefined, undefined]);
    expect(spec.Labels?.[LABEL.release]).toBe('shop-rel');
  });
});
