// The operator credential check: constant-time over equal-length digests, whatever the lengths presented.
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { isOperatorToken } from '../src/operator-auth.ts';

const TOKEN = 'a'.repeat(40);

describe('operator token', () => {
  it('accepts the token and nothing else, of any length, without throwing', () => {
    expect(isOperatorToken(TOKEN, TOKEN)).toBe(true);
    for (const presented of [undefined, '', 'a', TOKEN.slice(0, -1), `${TOKEN}a`, 'b'.repeat(40), 'x'.repeat(10_000)]) {
      expect(isOperatorToken(presented, TOKEN), String(presented).slice(0, 20)).toBe(false);
    }
  });

  it('is read from OPERATOR_TOKEN, unset by default, and refused when short', () => {
    expect(loadConfig({}).operatorToken).toBeUndefined();
    expect(loadConfig({ OPERATOR_TOKEN: ` ${TOKEN} ` }).operatorToken).toBe(TOKEN);
    expect(() => loadConfig({ OPERATOR_TOKEN: 'short' })).toThrow(/OPERATOR_TOKEN must be at least 32 characters/);
  });
});
