import { afterEach, describe, expect, it, vi } from 'vitest';
import { renderLog } from '@gangway/harness';
import { Inputs, inputEnvName, mapInputs, secretParts } from '../src/index.ts';

/** The values registered through `::add-mask::` on stdout, as the runner sees them. */
function captureMasks(): string[] {
  const masked: string[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    for (const cmd of renderLog(String(chunk)).commands) if (cmd.command === 'add-mask') masked.push(cmd.message);
    return true;
  });
  return masked;
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('inputEnvName', () => {
  it('upper-cases, turns spaces into _ and keeps hyphens, as the runner does', () => {
    expect(inputEnvName('private-key')).toBe('INPUT_PRIVATE-KEY');
    expect(inputEnvName('my input')).toBe('INPUT_MY_INPUT');
  });
});

describe('Inputs', () => {
  it('reads from the runner environment by default', () => {
    vi.stubEnv('INPUT_PRIVATE-KEY', '  value  ');
    expect(new Inputs().string('private-key')).toBe('value');
    vi.unstubAllEnvs();
  });

  it('names a missing required input and the hint', () => {
    const inputs = new Inputs(mapInputs({ app: '   ' }));
    expect(() => inputs.string('app', { required: true, hint: 'Name the app, e.g. "ocr".' })).toThrow(
      expect.objectContaining({ name: 'ConfigurationError', input: 'app', message: 'Input "app" is required. Name the app, e.g. "ocr".' }),
    );
  });

  it('returns defaults for empty optional inputs and undefined without one', () => {
    const inputs = new Inputs(mapInputs({}));
    expect(inputs.duration('timeout', { default: 5000 })).toBe(5000);
    expect(inputs.duration('timeout')).toBeUndefined();
    expect(inputs.boolean('push', true)).toBe(true);
    expect(inputs.list('host')).toEqual([]);
    expect(inputs.choice('strategy', ['a', 'b'], 'b')).toBe('b');
  });

  it('parses typed values and names the input on errors', () => {
    const inputs = new Inputs(mapInputs({ timeout: '30x', port: '70000', target: 'host:', keep: '3', flag: 'yes' }));
    expect(() => inputs.duration('timeout')).toThrow(/Input "timeout" is "30x"/);
    expect(() => inputs.port('port')).toThrow(/Input "port" is 70000/);
    expect(() => inputs.hostPort('target')).toThrow(/Input "target" is "host:"/);
    expect(() => inputs.boolean('flag', false)).toThrow(/Input "flag" is "yes"/);
    expect(inputs.integer('keep', { min: 1 })).toBe(3);
  });

  it('registers every line of a secret before returning it', () => {
    const masked = captureMasks();
    const pem = '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\nQyNTUxOQAAACB\n-----END OPENSSH PRIVATE KEY-----\n';
    const value = new Inputs(mapInputs({ 'private-key': pem })).secret('private-key', { required: true });
    expect(value).toBe(pem.trim());
    expect(masked).toContain(pem.trim());
    for (const line of pem.trim().split('\n')) expect(masked).toContain(line);
  });

  it('registers a secret even when a later check fails', () => {
    const masked = captureMasks();
    expect(new Inputs(mapInputs({ password: 'hunter22' })).secret('password')).toBe('hunter22');
    expect(masked).toEqual(['hunter22']);
  });

  it('keyValues keeps values verbatim', () => {
    const pairs = new Inputs(mapInputs({ env: 'A= spaced\nB=2' })).keyValues('env');
    expect(pairs.get('A')).toBe(' spaced');
  });
});

describe('secretParts', () => {
  it('splits multi-line secrets and skips short lines', () => {
    expect(secretParts('abc\ndefgh\n}\n')).toEqual(['abc\ndefgh\n}', 'defgh']);
    expect(secretParts('')).toEqual([]);
    expect(secretParts('single')).toEqual(['single']);
  });
});
