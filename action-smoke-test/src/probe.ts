// Probe timing, as Kubernetes does it: an initial delay, rounds of attempts (each bounded by the
// per-attempt timeout), an interval that backs off while something fails, a success threshold of
// consecutive passes per check, and one overall deadline that nothing outlives.
import { formatDuration, sleep } from '@gangway/kit';
import type { Failure } from './assertions.ts';
import { attemptSignal, DeadlineReached, type AttemptResult, type AttemptRunner } from './attempt.ts';
import type { Check } from './check-plan.ts';

export interface ProbeTiming {
  initialDelayMs: number;
  timeoutMs: number;
  intervalMs: number;
  maxIntervalMs: number;
  deadlineMs: number;
  successThreshold: number;
}

export const BACKOFF_FACTOR = 1.5;

export interface CheckOutcome {
  check: Check;
  passed: boolean;
  attempts: number;
  /** Consecutive passes at the end. */
  consecutivePasses: number;
  /** The last attempt that ran to its end (one cut by the deadline counts only when it is the only one). */
  last?: AttemptResult;
  /** Why the check failed (empty when it passed). */
  failures: Failure[];
  /** From the step's start until the check passed. */
  passedAtMs?: number;
}

export interface ProbeResult {
  outcomes: CheckOutcome[];
  deadlineReached: boolean;
  durationMs: number;
}

export interface ProbeHooks {
  /** The step's deadline and cancellation: its reason is DeadlineReached when time is up. */
  signal: AbortSignal;
  /** performance.now() of the step's start. */
  startedAt: number;
  onAttempt?: (outcome: CheckOutcome, result: AttemptResult) => void;
  /** Logs a wait between rounds. */
  onWait?: (ms: number, failing: number) => void;
}

/** The wait after `failingRounds` rounds in a row had a failure (1-based): interval × 1.5^(n-1), capped. */
export function intervalAfter(failingRounds: number, timing: ProbeTiming): number {
  if (failingRounds <= 0) return timing.intervalMs;
  return Math.min(timing.maxIntervalMs, Math.round(timing.intervalMs * BACKOFF_FACTOR ** (failingRounds - 1)));
}

function isDeadline(signal: AbortSignal): boolean {
  return signal.aborted && signal.reason instanceof DeadlineReached;
}

export async function runProbes(checks: Check[], timing: ProbeTiming, attempt: AttemptRunner, hooks: ProbeHooks): Promise<ProbeResult> {
  const { signal, startedAt } = hooks;
  const deadlineAt = startedAt + timing.deadlineMs;
  const remaining = (): number => deadlineAt - performance.now();
  const outcomes: CheckOutcome[] = checks.map((check) => ({ check, passed: false, attempts: 0, consecutivePasses: 0, failures: [] }));

  /** Waits unless the deadline comes first; false when it did. Cancellation is rethrown. */
  const wait = async (ms: number): Promise<boolean> => {
    if (ms <= 0) return !isDeadline(signal);
    try {
      await sleep(ms, signal);
      return true;
    } catch (error) {
      if (isDeadline(signal)) return false;
      throw error;
    }
  };

  let deadlineReached = !(await wait(Math.min(timing.initialDelayMs, Math.max(0, remaining()))));
  let failingRounds = 0;
  while (!deadlineReached) {
    const pending = outcomes.filter((o) => !o.passed);
    if (pending.length === 0) break;
    let failedThisRound = 0;
    for (const outcome of pending) {
      const left = remaining();
      if (left <= 0 || isDeadline(signal)) {
        deadlineReached = true;
        break;
      }
      if (signal.aborted) signal.throwIfAborted();
      const { signal: attemptAbort, dispose } = attemptSignal(Math.max(1, Math.min(timing.timeoutMs, Math.ceil(left))), signal);
      let result: AttemptResult;
      try {
        result = await attempt(outcome.check, attemptAbort);
      } finally {
        dispose();
      }
      outcome.attempts++;
      if (!result.cutByDeadline || outcome.last === undefined) outcome.last = result;
      if (result.passed) {
        outcome.consecutivePasses++;
        if (outcome.consecutivePasses >= timing.successThreshold) {
          outcome.passed = true;
          outcome.passedAtMs = Math.round(performance.now() - startedAt);
        }
      } else {
        outcome.consecutivePasses = 0;
        failedThisRound++;
      }
      hooks.onAttempt?.(outcome, result);
      if (result.cutByDeadline) {
        deadlineReached = true;
        break;
      }
    }
    if (deadlineReached || outcomes.every((o) => o.passed)) break;
    failingRounds = failedThisRound > 0 ? failingRounds + 1 : 0;
    const delay = Math.min(intervalAfter(failingRounds, timing), Math.max(0, remaining()));
    hooks.onWait?.(delay, failedThisRound);
    if (!(await wait(delay)) || remaining() <= 0) deadlineReached = true;
  }

  for (const outcome of outcomes) {
    if (outcome.passed) continue;
    if (outcome.last === undefined) {
      outcome.failures = [{ code: 'not-run', message: `not tried: the deadline (${formatDuration(timing.deadlineMs)}) ran out first` }];
    } else if (outcome.last.passed) {
      outcome.failures = [{ code: 'deadline', message: `passed ${outcome.consecutivePasses} time(s) in a row, ${timing.successThreshold} needed (success-threshold) before the deadline (${formatDuration(timing.deadlineMs)})` }];
    } else {
      outcome.failures = outcome.last.failures;
    }
  }
  return { outcomes, deadlineReached, durationMs: Math.round(performance.now() - startedAt) };
}
