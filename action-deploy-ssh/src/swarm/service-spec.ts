// The Swarm service spec of a deploy: a pure function of the settings and the pulled image,
// tested by value (the Kamal way: build the command apart from the code that runs it).
//
// Publishing: there is no IPVS in the lab's kernel (and not in every server's), so the routing
// mesh is not used: the endpoint is `dnsrr` and the service publishes no port. With `publish`,
// the managed proxy on the manager holds the port and reaches the tasks on the overlay network
// (front-proxy.ts). So no task ever waits for a port: the update is start-first, one task at a
// time.
import { swarmTasksName } from '../container/proxy-config.ts';
import { LABEL, provenanceLabels, type ProvenanceLabelsOf } from '../labels.ts';
import type { DeploySettings } from '../settings/index.ts';
import { SWARM_UPDATE_DELAY_MS } from '../settings/rollout.ts';
import type { SwarmServiceSpec } from './engine.ts';

const NS = 1_000_000;
/** How long Swarm watches a new task for a failure before it counts the update as done. */
export const SWARM_MONITOR_MS = 5000;

export interface NewService extends ProvenanceLabelsOf {
  /** The image has its own HEALTHCHECK: Swarm uses it as it is. */
  imageHasHealthcheck: boolean;
}

/** The Swarm service spec of a deploy. Env values go into the spec (the Engine API), never into labels or logs. */
export function swarmServiceSpec(settings: DeploySettings, next: NewService): SwarmServiceSpec {
  const labels: Record<string, string> = {
    ...Object.fromEntries(settings.labels),
    [LABEL.managed]: 'true',
    [LABEL.role]: 'swarm-service',
    [LABEL.app]: settings.app,
    ...provenanceLabels(next),
  };
  const readiness = settings.readiness;
  // The image's own HEALTHCHECK is preferred (left as it is); without one, an HTTP readiness path
  // becomes a healthcheck run by node inside the container (the app image has node).
  const healthcheck =
    !next.imageHasHealthcheck && readiness.kind === 'http' && settings.containerPort !== undefined
      ? {
          Test: ['CMD', 'node', '-e', `fetch('http://127.0.0.1:${settings.containerPort}${readiness.path}').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))`],
          Interval: 1000 * NS,
          Timeout: 2000 * NS,
          Retries: 3,
          StartPeriod: settings.readinessTimeoutMs * NS,
        }
      : undefined;
  if (settings.target.kind !== 'swarm') throw new Error('a Swarm service spec needs target: swarm');
  const restart = settings.restartPolicy === 'no' ? 'none' : settings.restartPolicy === 'on-failure' ? 'on-failure' : 'any';
  return {
    Name: settings.app,
    Labels: labels,
    TaskTemplate: {
      ContainerSpec: {
        Image: next.imageRef,
        Labels: { [LABEL.managed]: 'true', [LABEL.role]: 'swarm-task', [LABEL.app]: settings.app, [LABEL.deployedAt]: next.provenance.at },
        Env: [...settings.env].map(([k, v]) => `${k}=${v}`),
        ...(settings.command ? { Args: settings.command } : {}),
        ...(settings.volumes.length > 0 ? { Mounts: settings.volumes.map((v) => ({ Type: v.kind, Source: v.source, Target: v.target, ReadOnly: v.readOnly })) } : {}),
        StopGracePeriod: settings.stopTimeoutMs * NS,
        ...(healthcheck ? { Healthcheck: healthcheck } : {}),
      },
      RestartPolicy: { Condition: restart, ...(restart === 'on-failure' ? { MaxAttempts: 5 } : {}) },
      // The proxy reaches every task by the second alias (swarmTasksName).
      ...(settings.network ? { Networks: [{ Target: settings.network, Aliases: [settings.app, swarmTasksName(settings.app)] }] } : {}),
      Placement: { Preferences: [{ Spread: { SpreadDescriptor: 'node.id' } }] },
    },
    Mode: { Replicated: { Replicas: settings.target.replicas } },
    // Between two tasks, longer than the proxy's DNS cache (1 s): the task just started is in its rotation before the next old one stops.
    UpdateConfig: { Parallelism: 1, ...(settings.target.replicas > 1 ? { Delay: SWARM_UPDATE_DELAY_MS * NS } : {}), Order: 'start-first', FailureAction: 'rollback', Monitor: SWARM_MONITOR_MS * NS, MaxFailureRatio: 0 },
    RollbackConfig: { Parallelism: 1, Order: 'start-first', FailureAction: 'pause', Monitor: SWARM_MONITOR_MS * NS, MaxFailureRatio: 0 },
    EndpointSpec: { Mode: 'dnsrr' },
  };
}

