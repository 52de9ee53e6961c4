import { describe, expect, it } from 'vitest';
import { createRedactor } from '@gangway/kit';
import { printableLogLines } from '../src/redact.ts';
import { KEY } from './fixtures.ts';

describe('redacting OpenVPN log lines', () => {
  it('masks whole secrets and every line of a PEM block, longest first', () => {
    const redact = createRedactor([KEY, 'hunter22']);
    const line = KEY.split('\n')[1] as string;
    expect(redact(`oops ${line} and hunter22`)).toBe('oops *** and ***');
    expect(redact(KEY)).toBe('***');
    expect(redact('nothing secret')).toBe('nothing secret');
  });

  it('drops management echoes (they carry the username) from what is printed', () => {
    const lines = printableLogLines(['MANAGEMENT: CMD \'username "Auth" "alice"\'', 'MANAGEMENT: >STATE:1,WAIT,,,,,,', 'UDPv4 link remote: [AF_INET]198.18.0.2:1194'], createRedactor([]));
    expect(lines).toEqual(['UDPv4 link remote: [AF_INET]198.18.0.2:1194']);
  });
});
