import { describe, expect, it } from 'vitest';
import { ConfigurationError, errorMessage, toError } from '../src/index.ts';

describe('toError', () => {
  it('returns an Error as it is', () => {
    const error = new ConfigurationError('bad input', 'x');
    expect(toError(error)).toBe(error);
  });

  it('wraps anything else with its message', () => {
    expect(toError('plain text').message).toBe('plain text');
    expect(toError({ code: 'E1' }).message).toBe('{"code":"E1"}');
    expect(toError(undefined).message).toBe('undefined');
    expect(toError(42)).toBeInstanceOf(Error);
  });

  it('errorMessage always gives a string', () => {
    expect(errorMessage(undefined)).toBe('undefined');
    expect(errorMessage(() => 1)).toContain('=>');
  });
});
