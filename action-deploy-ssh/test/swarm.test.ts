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
  it('builds a dnsrr service with a host-mode port, stop-first (one node, one host port) and rollback on failure', () => {
    const spec = swarmServiceSpec(swarmSettings(), { imageRef: `${REPO}@${DIGEST_V1}`, digest: DIGEST_V1, provenance, imageHasHealthcheck: true });
    expect(spec.EndpointSpec).toEqual({ Mode: 'dnsrr', Ports: [{ Protocol: 'tcp', TargetPort: 8080, PublishedPort: 8080, PublishMode: 'host' }] });
    expect(spec.UpdateConfig).toMatchObject({ Order: 'stop-first', FailureAction: 'rollback', Parallelism: 1 });
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
    expect(second.report).toMatchObject({ result: 'deployed', rolledBack: false, strategy: 'swarm (stop-first)' });
    const third = await run(e, swarmSettings({ image: `${REPO}:v1`, env: 'NEVER_READY=1' }));
    expect(third.report).toMatchObject({ result: 'rolled-back', rolledBack: true });
    expect(third.error?.message).toMatch(/Swarm rolled the service back/);
    expect([...e.swarm.services.values()][0]?.spec.TaskTemplate.ContainerSpec.Image).toBe(`${REPO}@${DIGEST_V2}`);
    // The previous spec is now the failed one: rollback: true refuses to re-apply it.
    const back = await run(e, swarmSettings({ rollback: 'true', image: '' }));
    expect(back.error?.message).toMatch(/already rolled .* back/);
    expect(e.engine.containers.size).toBe(0);
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
});
