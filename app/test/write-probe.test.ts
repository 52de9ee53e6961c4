// The readiness write probe: at most one write per interval, however often /readyz is polled.
import { describe, expect, it } from 'vitest';
import { DatabaseWriteProbe } from '../src/write-probe.ts';

describe('DatabaseWriteProbe', () => {
  it('writes at most once per interval and reports the cached result in between', () => {
    let now = 1_000_000;
    let writes = 0;
    const probe = new DatabaseWriteProbe(() => void writes++, { okForMs: 10_000, failedForMs: 2_000, now: () => now });
    for (let i = 0; i < 100; i++) {
      expect(probe.status()).toBe('ok');
      now += 50;
    }
    expect(writes).toBe(1);
    now += 10_000;
    expect(probe.status()).toBe('ok');
    expect(writes).toBe(2);
  });

  it('reports a failed write, and tries again sooner than after a success', () => {
    let now = 0;
    let fail = true;
    let writes = 0;
    const probe = new DatabaseWriteProbe(
      () => {
        writes++;
        if (fail) throw new Error('database or disk is full');
      },
      { okForMs: 10_000, failedForMs: 2_000, now: () => now },
    );
    expect(probe.status()).toBe('not writable: database or disk is full');
    now += 1_000;
    fail = false;
    expect(probe.status(), 'a failure stands for failedForMs').toBe('not writable: database or disk is full');
    expect(writes).toBe(1);
    now += 1_000;
    expect(probe.status()).toBe('ok');
    expect(writes).toBe(2);
  });
});
