import { describe, expect, it } from 'vitest';
import {
  ConfigurationError,
  parseBoolean,
  parseChoice,
  parseDuration,
  parseHostPort,
  parseInteger,
  parseKeyValues,
  parseList,
  parsePort,
  formatDuration,
  isValidHost,
} from '../src/index.ts';

function configError(fn: () => unknown): ConfigurationError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigurationError);
    return error as ConfigurationError;
  }
  throw new Error('expected a ConfigurationError, nothing was thrown');
}

describe('parseDuration', () => {
  it.each([
    ['30s', 30_000],
    ['2m', 120_000],
    ['1m30s', 90_000],
    ['250ms', 250],
    ['1.5h', 5_400_000],
    [' 10s ', 10_000],
    ['0s', 0],
  ])('%s is %d ms', (raw, ms) => {
    expect(parseDuration(raw, 'timeout')).toBe(ms);
  });

  it.each(['30x', '30', 's', '1m 30s', '-5s', '5 s', '', '1e3s'])('rejects %j naming the input', (raw) => {
    const error = configError(() => parseDuration(raw, 'readiness-timeout'));
    expect(error.input).toBe('readiness-timeout');
    expect(error.message).toContain('"readiness-timeout"');
    expect(error.message).toMatch(/for example "30s"/);
  });

  it('formats durations for people', () => {
    expect(formatDuration(850)).toBe('850ms');
    expect(formatDuration(12_340)).toBe('12.3s');
    expect(formatDuration(125_000)).toBe('2m05s');
  });
});

describe('parseBoolean', () => {
  it.each(['true', 'True', 'TRUE'])('%s is true', (v) => expect(parseBoolean(v, 'push')).toBe(true));
  it.each(['false', 'False', 'FALSE'])('%s is false', (v) => expect(parseBoolean(v, 'push')).toBe(false));
  it.each(['yes', '1', 'on', 'tru', ''])('rejects %j', (v) => {
    expect(configError(() => parseBoolean(v, 'push')).message).toMatch(/Input "push" .* Use true or false/);
  });
});

describe('parsePort', () => {
  it('accepts 1 and 65535', () => {
    expect(parsePort('1', 'port')).toBe(1);
    expect(parsePort('65535', 'port')).toBe(65535);
  });
  it.each(['70000', '0', '-1', '22a', '', '2.5'])('rejects %j naming the input', (v) => {
    const error = configError(() => parsePort(v, 'publish'));
    expect(error.message).toContain('"publish"');
    expect(error.message).toContain('1 to 65535');
  });
});

describe('parseHostPort', () => {
  it.each([
    ['server.example.com:22', 'server.example.com', 22],
    ['198.18.0.2:2222', '198.18.0.2', 2222],
    ['[::1]:8080', '::1', 8080],
    ['localhost:1', 'localhost', 1],
  ])('%s', (raw, host, port) => {
    expect(parseHostPort(raw, 'check-host')).toEqual({ host, port });
  });

  it('uses the default port when none is given', () => {
    expect(parseHostPort('db.internal', 'host', 22)).toEqual({ host: 'db.internal', port: 22 });
  });

  it.each([
    ['host:', /colon but no port/],
    [':22', /host is missing/],
    ['server', /port is missing/],
    ['server:70000', /outside the port range/],
    ['bad host:22', /not a valid host/],
    ['300.1.1.1:22', /not a valid host/],
    ['', /empty/],
  ])('rejects %j', (raw, why) => {
    const error = configError(() => parseHostPort(raw, 'check-host'));
    expect(error.message).toContain('"check-host"');
    expect(error.message).toMatch(why);
    expect(error.input).toBe('check-host');
  });

  it('rejects host: even with a default port', () => {
    expect(configError(() => parseHostPort('server:', 'host', 22)).message).toMatch(/colon but no port/);
  });

  it('tells host names apart from junk', () => {
    expect(isValidHost('a-b.example.org')).toBe(true);
    expect(isValidHost('x;rm -rf /')).toBe(false);
    expect(isValidHost('$(id)')).toBe(false);
    expect(isValidHost('-leading')).toBe(false);
  });

  it.each(['198.51.100.7', '::1', '::', '2001:db8::1', '2001:0db8:0000:0000:0000:0000:0000:0001', '::ffff:198.51.100.7', 'fe80::1'])('takes the address %j', (address) => {
    expect(isValidHost(address)).toBe(true);
  });

  it.each([':::::', ':', '1::2::3', '1:2:3:4:5:6:7:8:9', '2001:db8::g', '12345::1', 'fe80::1%eth0', '256.1.1.1', '1.2.3', '1.2.3.04', '1.2.3.4.', '::ffff:300.1.1.1'])(
    'refuses %j, which is not an address',
    (junk) => {
      expect(isValidHost(junk)).toBe(false);
    },
  );

  it('refuses ::::: as a host, and a bare IPv6 address takes no port', () => {
    expect(configError(() => parseHostPort(':::::', 'host', 22)).message).toMatch(/":::::" is not a valid host name or IP address/);
    expect(parseHostPort('2001:db8::1', 'host', 22)).toEqual({ host: '2001:db8::1', port: 22 });
    expect(parseHostPort('[2001:db8::1]:2222', 'host')).toEqual({ host: '2001:db8::1', port: 2222 });
  });
});

describe('parseList', () => {
  it('splits lines and commas, drops blanks and comments', () => {
    expect(parseList('a, b\n\n# note\nc\n  d  ,', 'host')).toEqual(['a', 'b', 'c', 'd']);
  });
  it('can keep commas', () => {
    expect(parseList('a,b\nc', 'tags', { commas: false })).toEqual(['a,b', 'c']);
  });
});

describe('parseKeyValues', () => {
  it('keeps = in values and order of keys', () => {
    const pairs = parseKeyValues('A=1\nB=x=y\n\n# comment\nC=', 'env');
    expect([...pairs]).toEqual([
      ['A', '1'],
      ['B', 'x=y'],
      ['C', ''],
    ]);
  });
  it.each([
    ['novalue', /line 1 .* not KEY=VALUE/],
    ['=x', /not KEY=VALUE/],
    ['A=1\nA=2', /line 2 .* repeats the key "A"/],
    ['1BAD=x', /key "1BAD"/],
    ['BAD KEY=x', /key "BAD KEY"/],
  ])('rejects %j', (raw, why) => {
    const error = configError(() => parseKeyValues(raw, 'build-args'));
    expect(error.message).toContain('"build-args"');
    expect(error.message).toMatch(why);
  });
});

describe('parseInteger and parseChoice', () => {
  it('bounds integers', () => {
    expect(parseInteger('3', 'keep', { min: 1, max: 10 })).toBe(3);
    expect(configError(() => parseInteger('0', 'keep', { min: 1, max: 10 })).message).toMatch(/"keep" is 0, out of range.*from 1 to 10/);
    expect(configError(() => parseInteger('many', 'keep')).message).toMatch(/not a whole number/);
  });
  it('lists the choices', () => {
    expect(parseChoice('recreate', 'strategy', ['blue-green', 'recreate'] as const)).toBe('recreate');
    expect(configError(() => parseChoice('rolling', 'strategy', ['blue-green', 'recreate'])).message).toBe(
      'Input "strategy" is "rolling", which is not one of: blue-green, recreate.',
    );
  });
});
