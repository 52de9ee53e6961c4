import { describe, expect, it } from 'vitest';
import { printableLogLines, Redactor } from '../src/redact.ts';
import { KEY } from './fixtures.ts';

describe('Redactor', () => {
  it('masks whole secrets and every line of a PEM block, longest first', () => {
    const r = new Redactor([KEY, 'hunter22']);
    const line = KEY.split('\n')[1] as string;
    expect(r.redact(`oops ${line} and hunter22`)).toBe('oops *** and ***');
    expect(r.redact(KEY)).toBe('***');
    expect(r.redact('nothing secret')).toBe('nothing secret');
  });

  it('drops management echoes (they carry the username) from what is printed', () => {
    const lines = printableLogLines(['MANAGEMENT: CMD \'username "Auth" "alice"\'', 'MANAGEMENT: >STATE:1,WAIT,,,,,,', 'UDPv4 link remote: [AF_INET]198.18.0.2:1194'], new Redactor([]));
    expect(lines).toEqual(['UDPv4 link remote: [AF_INET]198.18.0.2:1194']);
  });
});
