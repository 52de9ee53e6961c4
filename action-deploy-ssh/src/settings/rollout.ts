// How the new version replaces the old: the target (containers with a strategy, or a Swarm
// service), the order across hosts, what a failure does, what is kept, and the deploy lock's
// timings, which must cover the longest this deploy can hold the lock.
import { ConfigurationError, formatDuration, parseByteSize, parseImageReference, type ImageReference, type Inputs } from '@gangway/kit';

export const STRATEGIES = ['recreate', 'blue-green'] as const;
export type StrategyName = (typeof STRATEGIES)[number];
export const TARGETS = ['container', 'swarm'] as const;
export const ON_FAILURE = ['rollback', 'halt'] as const;
export type OnFailure = (typeof ON_FAILURE)[number];

export interface BlueGreenSettings {
  name: 'blue-green';
  /** The managed nginx proxy's image. */
  proxyImage: ImageReference;
  /** How long the old container may finish its in-flight requests after the switch. */
  drainTimeoutMs: number;
  /**
   * How long the new container is watched after the switch while the old one keeps running as
   * nginx's backup; a new one that dies, restarts or turns unhealthy meanwhile is rolled back.
   * 0: off (the old one is stopped right after the drain).
   */
  settleMs: number;
  /**
   * How long the old container stays running, out of the proxy, after a deploy: a rollback within
   * it is a proxy switch to a container that is already up. The next run after it stops the old
   * one. 0: off (the old one drains and stops, kept for a cold rollback).
   */
  standbyMs: number;
}

export type StrategySettings = { name: 'recreate' } | BlueGreenSettings;

/** Where the app runs: Docker containers on each host (with a strategy), or one Swarm service. */
export type TargetSettings =
  | { kind: 'container'; strategy: StrategySettings }
  /**
   * Swarm updates the service itself, one task at a time, start-first. `replicas` tasks, spread
   * over the nodes. With `publish`, `proxy`: an nginx container on the manager holds the port and
   * forwards to every healthy task (swarm/front-proxy.ts).
   */
  | { kind: 'swarm'; replicas: number; proxy?: { image: ImageReference } };

export interface RolloutSettings {
  target: TargetSettings;
  /** The first host goes alone before the rest (canary: true), or with the first batch. */
  canary: boolean;
  /** Hosts (after the canary, when there is one) are deployed this many at a time. */
  maxParallel: number;
  /** What a failed host does to the hosts already switched. */
  onFailure: OnFailure;
  keep: number;
  /** Free space the Docker data-root must have before the pull (bytes); 0: no check. */
  minFreeSpaceBytes: number;
  lockTimeoutMs: number;
  lockTtlMs: number;
}

/** The blue-green settings when the app is deployed blue-green, else undefined. */
export function blueGreenOf(s: { target: TargetSettings }): BlueGreenSettings | undefined {
  return s.target.kind === 'container' && s.target.strategy.name === 'blue-green' ? s.target.strategy : undefined;
}

/** The name the report and the summary give the way this deploy swaps. */
export function rolloutName(target: TargetSettings): string {
  return target.kind === 'swarm' ? 'swarm (start-first)' : target.strategy.name;
}

interface What {
  /** Whether `publish` is set: blue-green's default, and the proxy of a Swarm service. */
  published: boolean;
  /** Whether `hostname` is set: the app is behind the host's shared edge (blue-green's default too). */
  edge?: boolean;
  hosts: number;
  hooks: { preDeploy: number; postDeploy: number };
}

function readTarget(inputs: Inputs, what: What): TargetSettings {
  const strategyRaw = inputs.raw('strategy');
  const kind = inputs.choice('target', TARGETS, 'container');
  // Checked whatever the strategy, so that a bad value never waits for the day it applies.
  const proxyImageParsed = parseImageReference(inputs.string('proxy-image') ?? 'nginx:stable', 'proxy-image');
  const proxyImage = proxyImageParsed.digest || proxyImageParsed.tag ? proxyImageParsed : { ...proxyImageParsed, tag: 'latest' };
  const settleMs = inputs.duration('settle-time') ?? 5_000;
  if (settleMs > 3_600_000) {
    throw new ConfigurationError(`Input "settle-time" is ${inputs.raw('settle-time')}: at most 1h (the old container keeps running, and the deploy lock stays held, for that long). Use e.g. 30s, or 0s to turn it off.`, 'settle-time');
  }
  const drainTimeoutMs = inputs.duration('drain-timeout') ?? 30_000;
  const standbyMs = inputs.duration('standby') ?? 0;
  if (standbyMs > 7 * 86_400_000) {
    throw new ConfigurationError(`Input "standby" is ${inputs.raw('standby')}: at most 168h, a week (the old container holds its memory at least that long, until the next deploy after it). Use e.g. 15m, or 0s to stop the old container after each deploy.`, 'standby');
  }
  const noStandby = (where: string): ConfigurationError =>
    new ConfigurationError(`Input "standby" is ${inputs.raw('standby')}, which ${where}. Remove standby, or deploy blue-green (publish or hostname).`, 'standby');

  if (kind === 'swarm') {
    if (strategyRaw !== '') {
      throw new ConfigurationError(`Input "strategy" is "${strategyRaw}", which does not apply to target: swarm: Swarm itself updates the service (one task at a time, start-first). Leave strategy out.`, 'strategy');
    }
    if (what.hosts !== 1) throw new ConfigurationError(`target: swarm deploys to one Swarm manager; "host" lists ${what.hosts}. Give the manager only (Swarm places the tasks).`, 'host');
    if (what.edge) throw new ConfigurationError('Input "hostname" (the shared edge) works with target: container; a Swarm service publishes its own ports. Remove hostname, or use target: container.', 'hostname');
    if (what.hooks.preDeploy > 0 || what.hooks.postDeploy > 0) {
      throw new ConfigurationError('pre-deploy and post-deploy hooks are not supported with target: swarm yet. Run them in the app\'s entrypoint, or use target: container.', what.hooks.preDeploy > 0 ? 'pre-deploy' : 'post-deploy');
    }
    if (standbyMs > 0) throw noStandby('target: swarm does not have (Swarm keeps the previous spec, not a running task)');
    const replicas = inputs.integer('replicas', { min: 1, max: 100 }) ?? 1;
    return { kind: 'swarm', replicas, ...(what.published ? { proxy: { image: proxyImage } } : {}) };
  }
  // action.yml's default is 1: anything else asks for what only a Swarm service has.
  if ((inputs.integer('replicas', { min: 1, max: 100 }) ?? 1) !== 1) {
    throw new ConfigurationError(`Input "replicas" is ${inputs.raw('replicas')}, which applies to target: swarm (the service's tasks). With target: container, give the web one container per host, and workers their replicas in "roles". Remove replicas, or set target: swarm.`, 'replicas');
  }
  // blue-green needs a front to switch (its own proxy on `publish`, or the shared edge); it is the default whenever there is one.
  const fronted = what.published || what.edge === true;
  const name: StrategyName = strategyRaw === '' ? (fronted ? 'blue-green' : 'recreate') : inputs.choice('strategy', STRATEGIES, 'recreate');
  if (name === 'recreate') {
    if (what.edge) throw new ConfigurationError('Input "strategy" is "recreate", but "hostname" puts the app behind the shared edge, which switches blue-green. Leave strategy out (blue-green), or remove hostname.', 'strategy');
    if (standbyMs > 0) throw noStandby('needs blue-green: with recreate the old container holds the published port and must stop first');
    return { kind: 'container', strategy: { name } };
  }
  if (!fronted) {
    throw new ConfigurationError(
      'Input "strategy" is "blue-green", which needs "publish" or "hostname": the managed nginx proxy holds that port (or the shared edge routes the hostname) and switches it between the old and the new container. Give publish (e.g. 8080 or 0.0.0.0:80) or hostname, or use strategy: recreate.',
      'publish',
    );
  }
  return { kind: 'container', strategy: { name, proxyImage, drainTimeoutMs, settleMs, standbyMs } };
}

export function readRollout(inputs: Inputs, what: What): RolloutSettings {
  return {
    target: readTarget(inputs, what),
    canary: inputs.boolean('canary', true),
    maxParallel: inputs.integer('max-parallel', { min: 1, max: 100 }) ?? 1,
    onFailure: inputs.choice('on-failure', ON_FAILURE, 'rollback'),
    keep: inputs.integer('keep', { min: 1, max: 50 }) ?? 3,
    minFreeSpaceBytes: parseByteSize(inputs.string('min-free-space') ?? '1GiB', 'min-free-space'),
    lockTimeoutMs: inputs.duration('lock-timeout') ?? 600_000,
    lockTtlMs: inputs.duration('lock-ttl') ?? 1_800_000,
  };
}

/** What a proxy switch may take besides the Engine calls: nginx starting its new workers (proxy.ts waits at most 10 s). */
const PROXY_SWITCH_MS = 10_000;
/** The Engine calls between the bounded waits (create, start, inspect, put-archive, retention, unlock). */
const ENGINE_CALLS_MS = 20_000;
/** Swarm's monitor window and the slack its wait adds (swarm/deployer.ts). */
const SWARM_WAIT_EXTRA_MS = 20_000;
/** The pause Swarm makes between two tasks of an update of several replicas (swarm/service-spec.ts). */
export const SWARM_UPDATE_DELAY_MS = 2000;

/**
 * How long a Swarm update (or rollback) may take before the deploy stops waiting for Swarm's
 * verdict: one task at a time, each within readiness-timeout (plus the pause between tasks),
 * the last old task's stop, and Swarm's monitor window with some slack.
 */
export function swarmWaitMs(s: { readinessTimeoutMs: number; stopTimeoutMs: number; target: TargetSettings }): number {
  const replicas = s.target.kind === 'swarm' ? s.target.replicas : 1;
  return replicas * (s.readinessTimeoutMs + (replicas > 1 ? SWARM_UPDATE_DELAY_MS : 0)) + s.stopTimeoutMs + SWARM_WAIT_EXTRA_MS;
}

type Guarded = Pick<RolloutSettings, 'target' | 'lockTtlMs'> & {
  readinessTimeoutMs: number;
  stopTimeoutMs: number;
  /** Worker roles: their readiness (all at once) and the longest of their stops. */
  roles?: Array<{ stopTimeoutMs?: number; graceMs: number }>;
  /** Accessories: each may be created (its readiness), and each upgraded one stops and starts. */
  accessories?: unknown[];
  upgradeAccessories?: string[];
};

/** The phases of roles and accessories under the lock (container target). */
function systemTerms(s: Guarded): Array<[string, number]> {
  const terms: Array<[string, number]> = [];
  const roles = s.roles ?? [];
  if (roles.length > 0) {
    terms.push(['workers ready (readiness-timeout + grace)', s.readinessTimeoutMs + Math.max(...roles.map((r) => r.graceMs))]);
    terms.push(['old workers stop (longest stop-timeout)', Math.max(...roles.map((r) => r.stopTimeoutMs ?? s.stopTimeoutMs))]);
  }
  const created = s.accessories?.length ?? 0;
  if (created > 0) terms.push([`accessories created (readiness-timeout × ${created})`, created * s.readinessTimeoutMs]);
  const upgraded = s.upgradeAccessories?.length ?? 0;
  if (upgraded > 0) terms.push([`accessory upgrades ((stop-timeout + readiness-timeout) × ${upgraded})`, upgraded * (s.stopTimeoutMs + s.readinessTimeoutMs)]);
  return terms;
}

function lockGuardedTerms(s: Guarded): Array<[string, number]> {
  const readiness: [string, number] = ['readiness-timeout', s.readinessTimeoutMs];
  const stop: [string, number] = ['stop-timeout', s.stopTimeoutMs];
  const engine: [string, number] = ['Engine calls', ENGINE_CALLS_MS];
  const t = s.target;
  if (t.kind === 'swarm') {
    // The update's verdict, then at worst a restore that waits as long again.
    const wait = swarmWaitMs(s);
    const what = t.replicas > 1 ? `(readiness-timeout + 2s) × ${t.replicas} replicas + stop-timeout + 20s` : 'readiness-timeout + stop-timeout + 20s';
    // At worst: the update stalls (a node down) and is applied again, then does not finish either and the previous spec is put back.
    return [
      [`Swarm update (${what})`, wait],
      ['Swarm update applied again after a stall', wait],
      ['Swarm restore', wait],
      ...(t.proxy ? [['the proxy taking a host-mode port over (stop-timeout + 10s)', s.stopTimeoutMs + 10_000] as [string, number]] : []),
      engine,
    ];
  }
  if (t.strategy.name === 'recreate') {
    // Stop the old, get the new ready; on failure the old one's readiness again (at most 30 s).
    return [stop, readiness, ['the old one ready again', Math.min(s.readinessTimeoutMs, 30_000)], ...systemTerms(s), engine];
  }
  const bg = t.strategy;
  return [
    readiness,
    ['switch', PROXY_SWITCH_MS],
    ['settle-time', bg.settleMs],
    ...(bg.settleMs > 0 ? [['switch after settle', PROXY_SWITCH_MS] as [string, number]] : []),
    ['drain-timeout', bg.drainTimeoutMs],
    stop,
    ...systemTerms(s),
    engine,
  ];
}

/**
 * The longest the phases under the deploy lock can take, as far as inputs bound them: the
 * lock-ttl must not be shorter. pre-/post-deploy hooks have no timeout of their own: the lock's
 * heartbeat covers them (and every phase) while the deploy runs.
 */
export function lockGuardedMs(s: Guarded): number {
  return lockGuardedTerms(s).reduce((sum, [, ms]) => sum + ms, 0);
}

/**
 * Another run takes a lock over once it is older than its lock-ttl (since its last heartbeat):
 * a lock-ttl shorter than this run's own phases under the lock would invite that mid-deploy.
 */
export function checkLockTtl(s: Guarded, raw: string): void {
  const guarded = lockGuardedMs(s);
  if (s.lockTtlMs >= guarded) return;
  const parts = lockGuardedTerms(s)
    .filter(([, ms]) => ms > 0)
    .map(([name, ms]) => `${name} ${formatDuration(ms)}`)
    .join(' + ');
  throw new ConfigurationError(
    `Input "lock-ttl" is ${raw || formatDuration(s.lockTtlMs)}, shorter than the longest this deploy can hold its lock: at least ${formatDuration(guarded)} (${parts}). Raise lock-ttl to ${formatDuration(guarded)} or more, or shorten those timeouts.`,
    'lock-ttl',
  );
}
