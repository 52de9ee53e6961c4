import { ConfigurationError } from './errors.ts';

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

const PART = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;

/**
 * Parses a duration like `30s`, `2m`, `1m30s`, `250ms` or `1.5h` into milliseconds.
 * A bare number is rejected: `30` could mean seconds or milliseconds, and a deploy
 * that waits 30 ms for readiness fails in a confusing way.
 */
export function parseDuration(raw: string, input: string): number {
  const value = raw.trim();
  const hint = `Use a number with a unit: ms, s, m or h (for example "30s", "2m", "1m30s").`;
  if (value === '') throw new ConfigurationError(`Input "${input}" is empty. ${hint}`, input);
  if (/^\d+(\.\d+)?$/.test(value)) {
    throw new ConfigurationError(`Input "${input}" is "${value}", which has no unit. ${hint}`, input);
  }
  let total = 0;
  let matched = 0;
  PART.lastIndex = 0;
  for (let m = PART.exec(value); m !== null; m = PART.exec(value)) {
    const [, amount, unit] = m;
    total += Number(amount) * (UNIT_MS[unit as string] as number);
    matched = PART.lastIndex;
  }
  if (matched !== value.length) {
    throw new ConfigurationError(`Input "${input}" is "${value}", which is not a duration. ${hint}`, input);
  }
  return Math.round(total);
}

/** Formats milliseconds for people: `850ms`, `12.3s`, `2m05s`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return `${ms}ms`;
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const minutes = Math.floor(ms / 60_000);
  const seconds = Math.round((ms % 60_000) / 1000);
  return `${minutes}m${String(seconds).padStart(2, '0')}s`;
}
