// The steps the deploy benchmarks (bench/deploy, bench/swarm) time: the action's dist run as the
// runner runs it, a wait for a version on a port, and a step under a steady load through the
// lab's VPN with a second, light load on /readyz. Each step becomes a Row of readme-figures.ts.
import path from 'node:path';
import { RunnerJob } from '../../packages/harness/src/index.ts';
import type { TargetState } from '../../lab/src/state.ts';
import { startLoad, summarize, timeToVersion, type LoadRun, type LoadSummary } from '../../lab/src/testing/load.ts';
import type { Phase, Row } from './readme-figures.ts';

export const ACTION_DIR = path.resolve(import.meta.dirname, '../../action-deploy-ssh');

export interface HostReport {
  host: string;
  phases: Phase[];
  totalMs: number;
  result: string;
}

export interface StepRun {
  wallMs: number;
  hosts?: HostReport[];
}

/**
 * The action's main step as the runner runs it (then its post step, outside the step's time); its
 * report's hosts. A failed step throws, unless `mayFail` (a step that is meant to fail, as a
 * release Swarm rolls back): then its exit code comes back too.
 */
export async function runAction(values: Record<string, string>, options: { mayFail?: boolean } = {}): Promise<{ wallMs: number; hosts: HostReport[]; exitCode: number; log: string }> {
  const job = new RunnerJob();
  try {
    const started = performance.now();
    const run = await job.main(ACTION_DIR, { inputs: values, timeoutMs: 600_000 });
    const wallMs = Math.round(performance.now() - started);
    await job.post(ACTION_DIR, { inputs: values, timeoutMs: 60_000 });
    if (run.exitCode !== 0 && !options.mayFail) throw new Error(`the deploy failed:\n${run.log.split('\n').slice(-30).join('\n')}`);
    const report = JSON.parse(run.outputs['report'] || '{"hosts":[]}') as { hosts: HostReport[] };
    return { wallMs, hosts: report.hosts, exitCode: run.exitCode ?? 1, log: run.log };
  } finally {
    job.cleanup();
  }
}

export async function timed(step: () => Promise<void>): Promise<StepRun> {
  const started = performance.now();
  await step();
  return { wallMs: Math.round(performance.now() - started) };
}

/** Until `GET /version` on the target's address and `port` answers `version`. */
export async function waitForVersion(target: TargetState, port: number, version: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`http://${target.address}:${port}/version`, { signal: AbortSignal.timeout(2000) });
      if (res.ok && ((await res.json()) as { version?: string }).version === version) return;
    } catch {
      // not yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`port ${port} did not serve ${version} within ${timeoutMs} ms`);
}

export interface LoadShape {
  rate: number;
  clients: number;
  /** The second load's rate, on /readyz (2 clients). */
  readyRate: number;
}

/**
 * Runs `step` under the load on the target's `port` (2 s of load before it; after it, until `to`
 * has answered for 2 s, at most 60 s), with a light second load on the readiness path, which says
 * which version is ready. The row covers the step's start until 2 s after `to` took every request.
 */
export async function underLoad(target: TargetState, shape: LoadShape, what: string, by: Row['by'], port: number, to: string, step: () => Promise<StepRun>): Promise<Row> {
  const load: LoadRun = startLoad({ host: target.address, port, rate: shape.rate, clients: shape.clients, maxMs: 600_000 });
  const ready: LoadRun = startLoad({ host: target.address, port, path: '/readyz', rate: shape.readyRate, clients: 2, maxMs: 600_000 });
  await new Promise((r) => setTimeout(r, 2000));
  const start = load.now();
  const readyStart = ready.now();
  let done: StepRun;
  try {
    done = await step();
  } catch (error) {
    await Promise.all([load.stop(), ready.stop()]);
    throw error;
  }
  const stepEnd = load.now();
  const deadline = stepEnd + 60_000;
  let moved: number | undefined;
  while (load.now() < deadline) {
    await new Promise((r) => setTimeout(r, 500));
    moved = timeToVersion(load.samples, start, to);
    const isReady = timeToVersion(ready.samples, readyStart, to);
    if (moved !== undefined && isReady !== undefined && load.now() - (start + Math.max(moved, isReady)) >= 2000 && load.now() - stepEnd >= 2000) break;
  }
  const [samples, readySamples] = await Promise.all([load.stop(), ready.stop()]);
  moved = timeToVersion(samples, start, to);
  const s: LoadSummary = summarize(samples, start, Math.max(stepEnd, start + (moved ?? 0)) + 2000);
  const phases = done.hosts?.[0]?.phases;
  return {
    what,
    by,
    failed: s.failed,
    total: s.total,
    p99Ms: s.p99,
    maxMs: s.max,
    wallMs: done.wallMs,
    timeToVersionMs: moved,
    timeToReadyMs: timeToVersion(readySamples, readyStart, to),
    to,
    errors: s.errors,
    versions: s.versions,
    ...(phases ? { phases } : {}),
  };
}
