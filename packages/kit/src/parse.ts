import { isIP } from 'node:net';
import { ConfigurationError } from './errors.ts';

/**
 * Pure parsers for action inputs. Each takes the raw string and the input's name (as in
 * action.yml) so that its error can say which input is wrong and how to fix it.
 */

const TRUE = ['true', 'True', 'TRUE'];
const FALSE = ['false', 'False', 'FALSE'];

/** YAML 1.2 core-schema booleans only, as GitHub documents: `yes`, `1` or `on` are errors. */
export function parseBoolean(raw: string, input: string): boolean {
  const value = raw.trim();
  if (TRUE.includes(value)) return true;
  if (FALSE.includes(value)) return false;
  throw new ConfigurationError(
    `Input "${input}" is "${value}", which is not a boolean. Use true or false.`,
    input,
  );
}

/**
 * A list given one item a line, or separated by commas, or both. Blank items and
 * `#` comment lines are dropped; items are trimmed.
 */
export function parseList(raw: string, _input: string, options: { commas?: boolean } = {}): string[] {
  const commas = options.commas ?? true;
  const items: string[] = [];
  for (const line of raw.split(/\r?\n/)) {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    for (const item of commas ? trimmed.split(',') : [trimmed]) {
      const value = item.trim();
      if (value !== '') items.push(value);
    }
  }
  return items;
}

const ENV_KEY = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

/**
 * `KEY=VALUE` pairs, one a line (the value may contain `=`). Keys must look like
 * environment or label names; a repeated key is an error rather than a silent override.
 * Values are kept verbatim apart from the line break: a value cannot span lines.
 */
export function parseKeyValues(raw: string, input: string, options: { keyPattern?: RegExp } = {}): Map<string, string> {
  const keyPattern = options.keyPattern ?? ENV_KEY;
  const pairs = new Map<string, string>();
  const lines = raw.split(/\r?\n/);
  lines.forEach((line, index) => {
    if (line.trim() === '' || line.trimStart().startsWith('#')) return;
    const eq = line.indexOf('=');
    const where = `line ${index + 1} of input "${input}"`;
    if (eq <= 0) {
      throw new ConfigurationError(`${where} is not KEY=VALUE. Write one KEY=VALUE pair a line.`, input);
    }
    const key = line.slice(0, eq).trim();
    const value = line.slice(eq + 1);
    if (!keyPattern.test(key)) {
      throw new ConfigurationError(
        `${where} has the key "${key}", which is not a valid name. Use letters, digits and _ (starting with a letter or _).`,
        input,
      );
    }
    if (pairs.has(key)) {
      throw new ConfigurationError(`${where} repeats the key "${key}". Give each key once.`, input);
    }
    pairs.set(key, value);
  });
  return pairs;
}

/** A TCP port, 1 to 65535. */
export function parsePort(raw: string, input: string): number {
  const value = raw.trim();
  if (!/^\d+$/.test(value)) {
    throw new ConfigurationError(`Input "${input}" is "${value}", which is not a port. Use a whole number from 1 to 65535.`, input);
  }
  const port = Number(value);
  if (port < 1 || port > 65535) {
    throw new ConfigurationError(`Input "${input}" is ${port}, outside the port range. Use a whole number from 1 to 65535.`, input);
  }
  return port;
}

/** A whole number within bounds. */
export function parseInteger(raw: string, input: string, bounds: { min?: number; max?: number } = {}): number {
  const value = raw.trim();
  const min = bounds.min ?? Number.MIN_SAFE_INTEGER;
  const max = bounds.max ?? Number.MAX_SAFE_INTEGER;
  const range = `from ${min} to ${max}`;
  if (!/^-?\d+$/.test(value)) {
    throw new ConfigurationError(`Input "${input}" is "${value}", which is not a whole number. Use a whole number ${range}.`, input);
  }
  const n = Number(value);
  if (n < min || n > max) {
    throw new ConfigurationError(`Input "${input}" is ${n}, out of range. Use a whole number ${range}.`, input);
  }
  return n;
}

export interface HostPort {
  host: string;
  port: number;
}

const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62})(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62}))*\.?$/;

/**
 * A host name, an IPv4 address or an IPv6 address (without brackets). Addresses are checked by
 * node:net's isIP, so `:::::` or `1::2::3` are not addresses; an IPv6 zone (`fe80::1%eth0`) is
 * not accepted.
 */
export function isValidHost(host: string): boolean {
  if (host.includes(':')) return isIP(host) === 6 && !host.includes('%');
  // Digits and dots only: an IPv4 address or nothing (300.1.1.1 is not a host name either).
  if (/^[\d.]+$/.test(host)) return isIP(host) === 4;
  return HOSTNAME.test(host);
}

/**
 * `host:port`, `[v6]:port`, or just `host` when `defaultPort` is given.
 * `host:` (a colon without a port) is always an error.
 */
export function parseHostPort(raw: string, input: string, defaultPort?: number): HostPort {
  const value = raw.trim();
  const example = defaultPort === undefined ? '"server.example.com:22"' : '"server.example.com" or "server.example.com:2222"';
  const fail = (why: string): never => {
    throw new ConfigurationError(`Input "${input}" is "${value}": ${why}. Write it as ${example}.`, input);
  };
  if (value === '') fail('it is empty');
  let host: string;
  let portText: string | undefined;
  const bracketed = /^\[([^\]]+)\](?::(.*))?$/.exec(value);
  if (bracketed) {
    host = bracketed[1] as string;
    portText = bracketed[2];
  } else if ((value.match(/:/g) ?? []).length > 1) {
    // Bare IPv6 without brackets: no port can be given.
    host = value;
  } else {
    const colon = value.lastIndexOf(':');
    host = colon === -1 ? value : value.slice(0, colon);
    portText = colon === -1 ? undefined : value.slice(colon + 1);
  }
  if (host === '') fail('the host is missing');
  if (!isValidHost(host)) fail(`"${host}" is not a valid host name or IP address`);
  if (portText === undefined) {
    if (defaultPort === undefined) fail('the port is missing');
    return { host, port: defaultPort as number };
  }
  if (portText === '') fail('there is a colon but no port after it');
  return { host, port: parsePort(portText, input) };
}

/** One of a fixed set of words. */
export function parseChoice<T extends string>(raw: string, input: string, choices: readonly T[]): T {
  const value = raw.trim();
  if ((choices as readonly string[]).includes(value)) return value as T;
  throw new ConfigurationError(
    `Input "${input}" is "${value}", which is not one of: ${choices.join(', ')}.`,
    input,
  );
}
