// Container names, Gangway's labels, and the create options of a new app container.
import type { ContainerCreateOptions } from '../host/engine.ts';
import type { DeploySettings } from '../settings/index.ts';

/** Gangway's labels. Only containers carrying `gangway.app=<app>` are ever touched by a deploy of that app. */
export const LABEL = {
  managed: 'gangway.managed',
  role: 'gangway.role',
  app: 'gangway.app',
  image: 'gangway.image',
  digest: 'gangway.digest',
  gitSha: 'gangway.git-sha',
  runUrl: 'gangway.run-url',
  actor: 'gangway.actor',
  deployedAt: 'gangway.deployed-at',
  /** The image of the container this one replaced: what `rollback` re-creates when that container is gone. */
  previousImage: 'gangway.previous-image',
  previousDeployedAt: 'gangway.previous-deployed-at',
  /** blue-green proxy: a hash of what its container was created from (image, port, listen address). */
  proxySpec: 'gangway.proxy-spec',
  lockToken: 'gangway.lock.token',
  lockAcquiredAt: 'gangway.lock.acquired-at',
} as const;

/** Who deploys: from the runner's environment, the same for every host. */
export interface Provenance {
  gitSha: string;
  runUrl: string;
  actor: string;
  /** ISO time the run started deploying. */
  at: string;
}

export function provenanceFromEnv(env: NodeJS.ProcessEnv = process.env, now = new Date()): Provenance {
  const server = env['GITHUB_SERVER_URL'] ?? 'https://github.com';
  const repo = env['GITHUB_REPOSITORY'] ?? '';
  const runId = env['GITHUB_RUN_ID'] ?? '';
  const attempt = env['GITHUB_RUN_ATTEMPT'];
  return {
    gitSha: env['GITHUB_SHA'] ?? 'unknown',
    runUrl: repo && runId ? `${server}/${repo}/actions/runs/${runId}${attempt && attempt !== '1' ? `/attempts/${attempt}` : ''}` : 'local',
    actor: env['GITHUB_ACTOR'] ?? 'unknown',
    at: now.toISOString(),
  };
}

/** `20261122T085353Z` from an ISO time: sortable, valid in a container name. */
export function compactTime(iso: string): string {
  return iso.replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

/** `<app>-<time>-<digest12>`: unique per deploy, readable in `docker ps`, sorted by time. */
export function containerName(app: string, digest: string, at: string): string {
  const short = digest.replace(/^sha256:/, '').slice(0, 12);
  return `${app}-${compactTime(at).toLowerCase()}-${short}`;
}

/** The managed nginx proxy of a blue-green app. */
export function proxyName(app: string): string {
  return `${app}-proxy`;
}

export function lockName(app: string): string {
  return `gangway-lock.${app}`;
}

export function appLabels(app: string): Record<string, string> {
  return { [LABEL.managed]: 'true', [LABEL.role]: 'app', [LABEL.app]: app };
}

export interface NewContainer {
  /** `repo@sha256:…`: what runs is exactly what was pulled. */
  imageRef: string;
  digest: string;
  provenance: Provenance;
  previous?: { image: string; deployedAt: string };
}

/**
 * The create options of a new app container. Env values go into the container's config
 * (the Engine API, over SSH); they never go into labels, names or logs.
 */
export function appContainerSpec(settings: DeploySettings, next: NewContainer): ContainerCreateOptions {
  const p = next.provenance;
  const labels: Record<string, string> = {
    ...Object.fromEntries(settings.labels),
    ...appLabels(settings.app),
    [LABEL.image]: next.imageRef,
    [LABEL.digest]: next.digest,
    [LABEL.gitSha]: p.gitSha,
    [LABEL.runUrl]: p.runUrl,
    [LABEL.actor]: p.actor,
    [LABEL.deployedAt]: p.at,
    ...(next.previous ? { [LABEL.previousImage]: next.previous.image, [LABEL.previousDeployedAt]: next.previous.deployedAt } : {}),
  };
  const port = settings.containerPort === undefined ? undefined : `${settings.containerPort}/tcp`;
  const binds = settings.volumes.map((v) => `${v.source}:${v.target}:${v.readOnly ? 'ro' : 'rw'}`);
  return {
    name: containerName(settings.app, next.digest, p.at),
    Image: next.imageRef,
    Env: [...settings.env].map(([k, v]) => `${k}=${v}`),
    Labels: labels,
    ...(settings.command ? { Cmd: settings.command } : {}),
    ...(port ? { ExposedPorts: { [port]: {} } } : {}),
    HostConfig: {
      RestartPolicy: { Name: settings.restartPolicy, ...(settings.restartPolicy === 'on-failure' ? { MaximumRetryCount: 5 } : {}) },
      ...(binds.length > 0 ? { Binds: binds } : {}),
      // blue-green: the proxy holds the public port; app containers publish nothing.
      ...(port && settings.publish && settings.strategy !== 'blue-green' ? { PortBindings: { [port]: [{ HostIp: settings.publish.hostIp ?? '', HostPort: String(settings.publish.hostPort) }] } } : {}),
      ...(settings.network ? { NetworkMode: settings.network } : {}),
      LogConfig: { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '3' } },
    },
    ...(settings.network ? { NetworkingConfig: { EndpointsConfig: { [settings.network]: { Aliases: [settings.app] } } } } : {}),
  };
}
