import { describe, expect, it } from 'vitest';
import { backoffDelay, retry, PhaseClock } from '../src/index.ts';

describe('retry', () => {
  it('retries with doubling delays until it succeeds', async () => {
    const waits: number[] = [];
    let calls = 0;
    const result = await retry(
      async (attempt) => {
        calls++;
        if (attempt < 3) throw new Error(`fail ${attempt}`);
        return 'ok';
      },
      { attempts: 5, initialDelayMs: 100, sleep: async (ms) => void waits.push(ms) },
    );
    expect(result).toBe('ok');
    expect(calls).toBe(3);
    expect(waits).toEqual([100, 200]);
  });

  it('throws the last error when attempts are spent', async () => {
    let calls = 0;
    await expect(
      retry(
        async (attempt) => {
          calls++;
          throw new Error(`fail ${attempt}`);
        },
        { attempts: 3, initialDelayMs: 1, sleep: async () => {} },
      ),
    ).rejects.toThrow('fail 3');
    expect(calls).toBe(3);
  });

  it('stops at once when shouldRetry says so', async () => {
    let calls = 0;
    await expect(
      retry(
        async () => {
          calls++;
          throw new Error('401 unauthorized');
        },
        { attempts: 5, initialDelayMs: 1, sleep: async () => {}, shouldRetry: (e) => !String(e).includes('401') },
      ),
    ).rejects.toThrow('401');
    expect(calls).toBe(1);
  });

  it('stops waiting when aborted', async () => {
    const controller = new AbortController();
    const started = Date.now();
    const pending = retry(
      async () => {
        throw new Error('down');
      },
      { attempts: 10, initialDelayMs: 10_000, signal: controller.signal },
    );
    setTimeout(() => controller.abort(new Error('cancelled')), 20);
    await expect(pending).rejects.toThrow('cancelled');
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('caps and jitters delays', () => {
    const options = { attempts: 10, initialDelayMs: 100, maxDelayMs: 500, jitter: 0.5 };
    expect(backoffDelay(1, options, () => 0)).toBe(50);
    expect(backoffDelay(1, options, () => 1)).toBe(100);
    expect(backoffDelay(6, options, () => 1)).toBe(500);
  });

  it('rejects a nonsense attempt count', async () => {
    await expect(retry(async () => 1, { attempts: 0, initialDelayMs: 1 })).rejects.toThrow(RangeError);
  });
});

describe('PhaseClock', () => {
  it('records each phase, also when it throws', async () => {
    let t = 0;
    const clock = new PhaseClock(() => t);
    await clock.time('pull', async () => {
      t += 120;
    });
    await expect(
      clock.time('start', async () => {
        t += 30;
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(clock.phases).toEqual([
      { phase: 'pull', ms: 120 },
      { phase: 'start', ms: 30 },
    ]);
    expect(clock.totalMs).toBe(150);
  });
});
