// Latency sampling after the checks pass: N requests of one check, one after another, each with
// the per-attempt timeout and all within the deadline; the p95 against a budget.
import { formatDuration } from '@gangway/kit';
import type { Failure } from './assertions.ts';
import { attemptSignal, DeadlineReached, type AttemptRunner } from './attempt.ts';
import { displayUrl, type Check } from './check-plan.ts';

export interface LatencyStats {
  count: number;
  minMs: number;
  p50Ms: number;
  p95Ms: number;
  maxMs: number;
  meanMs: number;
}

export interface LatencyReport {
  check: string;
  url: string;
  requested: number;
  /** Latencies of the samples that passed, in order. */
  samplesMs: number[];
  errors: number;
  stats?: LatencyStats;
  budgetMs?: number;
  passed: boolean;
  failures: Failure[];
}

/** Nearest-rank percentile (p in 0..100) of unsorted values. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] as number;
}

export function latencyStats(values: number[]): LatencyStats | undefined {
  if (values.length === 0) return undefined;
  return {
    count: values.length,
    minMs: Math.min(...values),
    p50Ms: percentile(values, 50),
    p95Ms: percentile(values, 95),
    maxMs: Math.max(...values),
    meanMs: Math.round(values.reduce((a, b) => a + b, 0) / values.length),
  };
}

export interface SampleOptions {
  samples: number;
  budgetMs?: number;
  timeoutMs: number;
  signal: AbortSignal;
  deadlineAt: number;
  onSample?: (n: number, ms: number | undefined, failure?: Failure) => void;
}

/** Samples `check` (its status, body and other rules still apply: a wrong answer is an error, not a latency). */
export async function sampleLatency(check: Check, attempt: AttemptRunner, options: SampleOptions): Promise<LatencyReport> {
  const samplesMs: number[] = [];
  const failures: Failure[] = [];
  let errors = 0;
  let firstError: Failure | undefined;
  let cut = false;
  for (let i = 1; i <= options.samples; i++) {
    const left = options.deadlineAt - performance.now();
    if (left <= 0 || (options.signal.aborted && options.signal.reason instanceof DeadlineReached)) {
      cut = true;
      break;
    }
    if (options.signal.aborted) options.signal.throwIfAborted();
    const { signal, dispose } = attemptSignal(Math.max(1, Math.min(options.timeoutMs, Math.ceil(left))), options.signal);
    try {
      const result = await attempt({ ...check, maxLatencyMs: undefined }, signal);
      if (result.cutByDeadline) {
        cut = true;
        break;
      }
      if (result.passed) {
        samplesMs.push(result.latencyMs);
        options.onSample?.(i, result.latencyMs);
      } else {
        errors++;
        firstError ??= result.failures[0];
        options.onSample?.(i, undefined, result.failures[0]);
      }
    } finally {
      dispose();
    }
  }
  const stats = latencyStats(samplesMs);
  if (cut) failures.push({ code: 'deadline', message: `the deadline was reached after ${samplesMs.length + errors} of ${options.samples} latency samples` });
  if (errors > 0) failures.push({ code: 'sample-errors', message: `${errors} of ${options.samples} latency samples failed (first: ${firstError?.message ?? 'unknown'})` });
  if (options.budgetMs !== undefined && stats && stats.p95Ms > options.budgetMs) {
    failures.push({ code: 'p95-budget', message: `p95 latency ${formatDuration(stats.p95Ms)} over the budget ${formatDuration(options.budgetMs)} (${stats.count} samples; p50 ${formatDuration(stats.p50Ms)}, max ${formatDuration(stats.maxMs)})` });
  }
  return {
    check: check.name,
    url: displayUrl(check.target),
    requested: options.samples,
    samplesMs,
    errors,
    ...(stats ? { stats } : {}),
    ...(options.budgetMs !== undefined ? { budgetMs: options.budgetMs } : {}),
    passed: failures.length === 0,
    failures,
  };
}
