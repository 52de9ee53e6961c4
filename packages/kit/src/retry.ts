import { toError } from './errors.ts';

export interface RetryOptions {
  /** Total attempts, the first included. */
  attempts: number;
  /** Wait before the second attempt; doubles (by `factor`) after each failure. */
  initialDelayMs: number;
  maxDelayMs?: number;
  factor?: number;
  /** 0..1: fraction of each delay that is randomised, so that parallel runs spread out. */
  jitter?: number;
  /** Return false to stop at once (for example on an authentication error). */
  shouldRetry?: (error: unknown, attempt: number) => boolean;
  /** Called before each wait, with the attempt that failed (1-based) and the delay. */
  onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
  signal?: AbortSignal;
  /** For tests: replaces the timer. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  random?: () => number;
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(toError(signal.reason));
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(toError(signal?.reason));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** The delay before attempt `attempt + 1`, given that attempt `attempt` (1-based) failed. */
export function backoffDelay(attempt: number, options: RetryOptions, random: () => number = Math.random): number {
  const factor = options.factor ?? 2;
  const max = options.maxDelayMs ?? Number.POSITIVE_INFINITY;
  const base = Math.min(max, options.initialDelayMs * factor ** (attempt - 1));
  const jitter = Math.min(1, Math.max(0, options.jitter ?? 0));
  return Math.round(base * (1 - jitter) + base * jitter * random());
}

/**
 * Runs `fn` until it succeeds, the attempts are spent, `shouldRetry` says stop, or the
 * signal aborts. The last error is thrown unchanged.
 */
export async function retry<T>(fn: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  if (!Number.isInteger(options.attempts) || options.attempts < 1) {
    throw new RangeError(`retry: attempts must be a whole number >= 1, got ${options.attempts}`);
  }
  const wait = options.sleep ?? sleep;
  const random = options.random ?? Math.random;
  for (let attempt = 1; ; attempt++) {
    options.signal?.throwIfAborted();
    try {
      return await fn(attempt);
    } catch (error) {
      const last = attempt >= options.attempts;
      if (last || options.signal?.aborted || (options.shouldRetry && !options.shouldRetry(error, attempt))) throw error;
      const delay = backoffDelay(attempt, options, random);
      options.onRetry?.(error, attempt, delay);
      await wait(delay, options.signal);
    }
  }
}
