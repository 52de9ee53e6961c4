// A lab suite whose prerequisite is missing: skipped with the reason locally, a failure with the reason under CI.
import { describe, expect, it } from 'vitest';
import { describeNeeding, isCi } from './prerequisite.ts';

describe('describeNeeding', () => {
  it('knows CI=true and CI=1 as CI', () => {
    expect(isCi({ CI: 'true' })).toBe(true);
    expect(isCi({ CI: '1' })).toBe(true);
    expect(isCi({})).toBe(false);
    expect(isCi({ CI: 'false' })).toBe(false);
  });

  it('fails under CI=true with the suite and what is missing, instead of skipping', () => {
    const suite = describeNeeding('no lab is up', { CI: 'true' });
    expect(() => suite('app image on the lab engine', () => undefined)).toThrow(
      '"app image on the lab engine" cannot run: no lab is up. CI=true, so it fails instead of being skipped.',
    );
  });
});
