// Lab suites whose prerequisite (a lab, a browser) may be absent: skipped with the reason on a developer's
// machine, a failure with the reason under CI=true, where nothing may be skipped silently.
import { describe } from 'vitest';

export const isCi = (env: NodeJS.ProcessEnv = process.env): boolean => env.CI === 'true' || env.CI === '1';

/**
 * `describe` when `missing` is undefined. Otherwise, under CI=true, throws (the test file fails,
 * naming the suite and what is missing); elsewhere the suite is skipped with the reason in its name.
 */
export function describeNeeding(missing: string | undefined, env: NodeJS.ProcessEnv = process.env): (name: string, fn: () => void) => void {
  if (missing === undefined) return (name, fn) => describe(name, fn);
  if (isCi(env)) {
    return (name) => {
      throw new Error(`"${name}" cannot run: ${missing}. CI=true, so it fails instead of being skipped.`);
    };
  }
  return (name, fn) => describe.skip(`${name} (skipped: ${missing})`, fn);
}
