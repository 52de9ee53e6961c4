import { describe, expect, it } from 'vitest';
import { retryWhileBusy } from '../src/db.ts';

const busy = (): Error => Object.assign(new Error('database is locked'), { errcode: 5 });

describe('retryWhileBusy', () => {
  it('tries again while SQLite is busy, then returns the result', () => {
    let calls = 0;
    const result = retryWhileBusy(() => {
      calls++;
      if (calls < 4) throw busy();
      return 'opened';
    });
    expect(result).toBe('opened');
    expect(calls).toBe(4);
  });

  it('throws other errors at once', () => {
    let calls = 0;
    expect(() =>
      retryWhileBusy(() => {
        calls++;
        throw new Error('no such table: results');
      }),
    ).toThrow('no such table');
    expect(calls).toBe(1);
  });

  it('gives up after its timeout with the busy error', () => {
    const started = Date.now();
    expect(() =>
      retryWhileBusy(() => {
        throw busy();
      }, 200),
    ).toThrow('database is locked');
    expect(Date.now() - started).toBeLessThan(1000);
  });
});
