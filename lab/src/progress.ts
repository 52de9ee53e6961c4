// Progress lines: each phase with its duration, so a slow `lab:up` shows where the time went.

export function formatDuration(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)}ms` : `${(ms / 1000).toFixed(1)}s`;
}

export function say(line: string): void {
  console.log(`[lab] ${line}`);
}

/** Run one phase and print `✓ name (1.2s)`; on failure print `✗ name` and rethrow. */
export async function phase<T>(name: string, fn: () => T | Promise<T>): Promise<T> {
  const started = performance.now();
  try {
    const value = await fn();
    say(`✓ ${name} (${formatDuration(performance.now() - started)})`);
    return value;
  } catch (e) {
    say(`✗ ${name} (${formatDuration(performance.now() - started)})`);
    throw e;
  }
}
