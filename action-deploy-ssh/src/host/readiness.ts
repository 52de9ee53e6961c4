// The readiness gate: a container is ready when its HTTP readiness path answers 2xx/3xx (asked
// from the server, at the container's own address on its Docker network) or, with
// `readiness-path: docker`, when Docker reports its HEALTHCHECK healthy. A container that exits,
// or turns unhealthy, fails at once instead of waiting out the timeout.
import { errorMessage, formatDuration, sleep } from '@gangway/kit';
import type { HttpProber } from './context.ts';
import type { ContainerDetails, DeployEngine } from './engine.ts';
import type { Readiness } from '../settings/index.ts';

/** An HTTP GET as seen from the server (over the SSH connection in the action). */
export interface ReadinessOptions {
  readiness: Readiness;
  containerPort?: number;
  /** The network whose address to probe (else the container's first). */
  network?: string;
  /** Published host port: the fallback target (server loopback) when the container has no address. */
  publishedPort?: number;
  timeoutMs: number;
  intervalMs?: number;
  log: (line: string) => void;
  signal?: AbortSignal;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  clock?: () => number;
}

export interface ReadinessResult {
  ready: boolean;
  ms: number;
  attempts: number;
  /** The last answer or error, for the failure message. */
  last: string;
  /** Why it stopped early, when it did. */
  reason?: 'exited' | 'unhealthy' | 'timeout';
}

export function probeTarget(details: ContainerDetails, options: Pick<ReadinessOptions, 'network' | 'containerPort' | 'publishedPort'>): { host: string; port: number } | undefined {
  const address = (options.network ? details.addresses[options.network] : undefined) ?? Object.values(details.addresses)[0];
  if (address && options.containerPort !== undefined) return { host: address, port: options.containerPort };
  if (options.publishedPort !== undefined) return { host: '127.0.0.1', port: options.publishedPort };
  return undefined;
}

/** What a container that is not running, or not running on its first start any more, went through. */
export function crashed(details: ContainerDetails): string {
  const restarts = details.restartCount ? `, restarted ${details.restartCount} time${details.restartCount === 1 ? '' : 's'} by its restart policy` : '';
  if (details.state === 'restarting') return `the container crashed (exit code ${details.exitCode}) and is being restarted${restarts}`;
  if (details.running) return `the container crashed and came back${restarts}`;
  return `the container is ${details.state} (exit code ${details.exitCode}${restarts})`;
}

export interface ProbeAnswer {
  /** It answered 2xx or 3xx. */
  ok: boolean;
  /** What it said: `GET /readyz → 503`, or the error. */
  said: string;
}

/** One GET of the readiness path at `to` (the readiness gate's, and settle's). Never throws. */
export async function probeReadiness(prober: HttpProber, to: { host: string; port: number }, path: string, timeoutMs: number, signal?: AbortSignal): Promise<ProbeAnswer> {
  try {
    const answer = await prober.get(to.host, to.port, path, timeoutMs, signal);
    return { ok: answer.status >= 200 && answer.status < 400, said: `GET ${path} → ${answer.status}` };
  } catch (error) {
    return { ok: false, said: `GET ${path}: ${errorMessage(error)}` };
  }
}

export async function waitUntilReady(engine: DeployEngine, prober: HttpProber, containerId: string, options: ReadinessOptions): Promise<ReadinessResult> {
  const clock = options.clock ?? (() => performance.now());
  const pause = options.sleep ?? sleep;
  // A probe is one Engine call and one request through the SSH connection, side by side (a few ms):
  // looking often for the first seconds, when most apps get ready, puts the switch closer to that moment.
  const intervalAt = (elapsed: number): number => options.intervalMs ?? (elapsed < 5000 ? 50 : 250);
  const started = clock();
  let attempts = 0;
  let loggedAt = -Infinity;
  let last = 'not probed yet';
  const done = (ready: boolean, reason?: ReadinessResult['reason']): ReadinessResult => ({ ready, ms: Math.round(clock() - started), attempts, last, ...(reason ? { reason } : {}) });
  let restarts: number | undefined;
  let target: { host: string; port: number } | undefined;
  const path = options.readiness.kind === 'http' ? options.readiness.path : '';
  const probe = (to: { host: string; port: number }, remaining: number): Promise<ProbeAnswer> => probeReadiness(prober, to, path, Math.round(Math.max(200, Math.min(5000, remaining))), options.signal);
  for (;;) {
    options.signal?.throwIfAborted();
    attempts++;
    // The GET goes out beside the Engine call, to the address the last inspect gave; it counts
    // only when this inspect shows the container still running there.
    const remaining = options.timeoutMs - (clock() - started);
    const early = options.readiness.kind === 'http' && target ? probe(target, remaining) : undefined;
    const details = await engine.inspectContainer(containerId);
    // Docker reports a container its restart policy brings back as running (state "restarting"):
    // a crash at start shows there, or in a restart count that went up since the first look.
    restarts ??= details?.restartCount;
    const restarted = details?.restartCount !== undefined && restarts !== undefined && details.restartCount > restarts;
    if (!details || !details.running || details.state === 'restarting' || restarted) {
      last = !details ? 'the container is gone' : crashed(details);
      return done(false, 'exited');
    }
    if (options.readiness.kind === 'docker') {
      const status = details.health?.status ?? 'none';
      last = `health: ${status}`;
      if (status === 'healthy') return done(true);
      if (status === 'unhealthy') return done(false, 'unhealthy');
      if (status === 'none') {
        last = 'the image has no HEALTHCHECK';
        return done(false, 'unhealthy');
      }
    } else {
      const now = probeTarget(details, options);
      if (!now) {
        last = 'the container has no address to probe and publishes no port';
        return done(false, 'exited');
      }
      const same = target !== undefined && now.host === target.host && now.port === target.port;
      target = now;
      const answer = await (early && same ? early : probe(now, remaining));
      last = answer.said;
      if (answer.ok) return done(true);
    }
    const elapsed = clock() - started;
    if (elapsed >= options.timeoutMs) return done(false, 'timeout');
    if (elapsed - loggedAt >= 5000) {
      options.log(`not ready yet after ${formatDuration(elapsed)}: ${last}`);
      loggedAt = elapsed;
    }
    await pause(Math.min(intervalAt(elapsed), Math.max(0, options.timeoutMs - elapsed)), options.signal);
  }
}

/** What to print when a container did not get ready: its last log lines and its health log. */
export async function diagnostics(engine: DeployEngine, containerId: string, tail = 100): Promise<string> {
  const parts: string[] = [];
  try {
    const logs = await engine.logs(containerId, tail);
    parts.push(`--- last ${tail} log lines ---`, logs.trimEnd() || '(no output)');
  } catch (error) {
    parts.push(`(the logs could not be read: ${errorMessage(error)})`);
  }
  const details = await engine.inspectContainer(containerId).catch(() => undefined);
  if (details?.health) {
    parts.push(`--- health: ${details.health.status} ---`);
    for (const entry of details.health.log.slice(-5)) parts.push(`${entry.start} exit ${entry.exitCode}: ${entry.output.trim()}`);
  }
  if (details) parts.push(`--- state: ${details.state}, exit code ${details.exitCode} ---`);
  return parts.join('\n');
}
