import { describe, expect, it } from 'vitest';
import { createRedactor } from '../src/index.ts';

const KEY = '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\nAAAAMwAAAAtzc2gtZWQyNTUxOQAAACDx\n-----END OPENSSH PRIVATE KEY-----\n';

describe('createRedactor', () => {
  it('masks whole secrets and every line of a multi-line one, longest first', () => {
    const redact = createRedactor([KEY, 'hunter22', undefined]);
    const line = KEY.split('\n')[1] as string;
    expect(redact(`oops ${line} and hunter22`)).toBe('oops *** and ***');
    expect(redact(KEY)).toBe('***\n');
    expect(redact('nothing secret')).toBe('nothing secret');
  });

  it('leaves values shorter than three characters alone (they would garble every line)', () => {
    const redact = createRedactor(['ab', '', '  ', 'abc']);
    expect(redact('an ab in a lab: abc')).toBe('an ab in a lab: ***');
    expect(createRedactor([])('unchanged')).toBe('unchanged');
  });
});
