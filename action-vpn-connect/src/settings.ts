// Every input, read once and validated before anything happens. Secrets are registered with
// the runner's masker (PEM blocks line by line) before any other input is even parsed.
import fs from 'node:fs';
import path from 'node:path';
import { ConfigurationError, Inputs, registerSecret, resolveWorkspacePath, runnerPathRoots, type HostPort, type PathRoots } from '@gangway/kit';
import { vetDirectives } from './directive-policy.ts';
import type { ParsedConfig } from './config-items.ts';
import { detectTlsKeyType, inlineSecrets, parseOvpn, type Credentials, type InlineParts, type TlsKeyType } from './ovpn-config.ts';

export interface Settings {
  /** The parsed .ovpn, from `config` or `config-file`. */
  config: ParsedConfig;
  /** Which input the config came from. */
  configInput: 'config' | 'config-file';
  /** OpenVPN's working directory: relative paths in the config resolve here (the config file's folder, or the workspace). */
  configDir: string;
  /** The workspace and RUNNER_TEMP: the config file, and every file it names, must lie in them. */
  roots: PathRoots;
  parts: InlineParts;
  credentials: Credentials | undefined;
  connectTimeoutMs: number;
  retries: number;
  checkHost: HostPort | undefined;
  checkTimeoutMs: number;
  install: boolean;
  allowScripts: boolean;
  /** Every secret value (whole and line by line), for redacting OpenVPN's log before it is printed. */
  secrets: string[];
}

const PEM_SECRET_INPUTS = ['ca', 'cert', 'key', 'tls-auth', 'tls-crypt', 'tls-crypt-v2', 'tls-key'] as const;

function requirePem(value: string | undefined, input: string, header: RegExp, what: string): string | undefined {
  if (value === undefined) return undefined;
  if (!header.test(value)) {
    throw new ConfigurationError(`Input "${input}" does not hold ${what}. Give the PEM text itself (for example \${{ secrets.VPN_${input.toUpperCase().replace(/-/g, '_')} }}), not a file name.`, input);
  }
  return value;
}

export function readSettings(inputs: Inputs = new Inputs(), roots: PathRoots = runnerPathRoots()): Settings {
  const secrets: string[] = [];
  // 1. Secrets first: registered as they are read, before anything can print.
  const pem: Partial<Record<(typeof PEM_SECRET_INPUTS)[number], string>> = {};
  for (const name of PEM_SECRET_INPUTS) {
    const value = inputs.secret(name);
    if (value !== undefined) {
      pem[name] = value;
      secrets.push(value);
    }
  }
  const password = inputs.secret('password');
  if (password !== undefined) secrets.push(password);

  const inline = inputs.string('config');
  const file = inputs.string('config-file');
  if (inline !== undefined && file !== undefined) {
    throw new ConfigurationError('Inputs "config" and "config-file" are both given. Give the config once: inline in "config" or as a path in "config-file".', 'config');
  }
  if (inline === undefined && file === undefined) {
    throw new ConfigurationError('Input "config" (the .ovpn text, usually a secret) or "config-file" (a path in the workspace) is required.', 'config');
  }
  let text: string;
  let configDir = roots.workspace;
  const configInput = inline !== undefined ? 'config' : 'config-file';
  if (inline !== undefined) {
    text = inline;
  } else {
    // OpenVPN (root) reads it and the files it names: only from the workspace or RUNNER_TEMP, symlinks followed.
    const full = resolveWorkspacePath(file as string, 'config-file', roots);
    try {
      text = fs.readFileSync(full, 'utf8');
    } catch (error) {
      throw new ConfigurationError(`Input "config-file" is "${file as string}", which cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'}). Give a path relative to the workspace, and check out the repository first.`, 'config-file');
    }
    configDir = path.dirname(full);
  }
  const config = parseOvpn(text, configInput);
  // The config's inline keys are secrets too; its other lines ("client", "dev tun") are not, and masking them would garble the log.
  for (const block of inlineSecrets(config)) {
    registerSecret(block);
    secrets.push(block);
  }

  // 2. Everything else. The config first: a directive the action refuses stops here, before anything runs.
  vetDirectives(config.items, { input: configInput, configDir, roots });
  const username = inputs.string('username');
  if ((username === undefined) !== (password === undefined)) {
    throw new ConfigurationError(`Input "${username === undefined ? 'username' : 'password'}" is missing: give "username" and "password" together.`, username === undefined ? 'username' : 'password');
  }
  if (password !== undefined && /[\r\n\0]/.test(password)) {
    throw new ConfigurationError('Input "password" holds a line break. OpenVPN passwords are one line: check the secret for a trailing newline in the middle.', 'password');
  }
  if (username !== undefined && /[\r\n\0]/.test(username)) {
    throw new ConfigurationError('Input "username" holds a line break. Give a one-line username.', 'username');
  }
  const credentials = username !== undefined && password !== undefined ? { username, password } : undefined;

  const tlsGiven = (['tls-auth', 'tls-crypt', 'tls-crypt-v2', 'tls-key'] as const).filter((n) => pem[n] !== undefined);
  if (tlsGiven.length > 1) {
    throw new ConfigurationError(`Inputs ${tlsGiven.map((n) => `"${n}"`).join(' and ')} are all given. Give one TLS key: a server uses either tls-auth, tls-crypt or tls-crypt-v2.`, tlsGiven[1]);
  }
  let tlsKey: InlineParts['tlsKey'];
  const tlsInput = tlsGiven[0];
  if (tlsInput !== undefined) {
    const value = pem[tlsInput] as string;
    const hasKeyDirection = config.items.some((i) => i.kind === 'directive' && i.name === 'key-direction');
    const detected = detectTlsKeyType(value, hasKeyDirection, tlsInput);
    let type: TlsKeyType = detected;
    if (tlsInput !== 'tls-key') {
      type = tlsInput;
      const v2 = detected === 'tls-crypt-v2';
      if (v2 !== (tlsInput === 'tls-crypt-v2')) {
        throw new ConfigurationError(`Input "${tlsInput}" holds a ${v2 ? 'tls-crypt-v2 client key' : 'static key (tls-auth/tls-crypt)'}. Give it as "${v2 ? 'tls-crypt-v2' : 'tls-crypt" or "tls-auth'}" instead, or as "tls-key" to detect the type.`, tlsInput);
      }
    }
    tlsKey = { type, pem: value };
  }
  const parts: InlineParts = {
    ...(pem.ca ? { ca: requirePem(pem.ca, 'ca', /-----BEGIN CERTIFICATE-----/, 'a PEM certificate ("-----BEGIN CERTIFICATE-----")') } : {}),
    ...(pem.cert ? { cert: requirePem(pem.cert, 'cert', /-----BEGIN CERTIFICATE-----/, 'a PEM certificate ("-----BEGIN CERTIFICATE-----")') } : {}),
    ...(pem.key ? { key: requirePem(pem.key, 'key', /-----BEGIN (EC |RSA )?PRIVATE KEY-----/, 'an unencrypted PEM private key ("-----BEGIN PRIVATE KEY-----")') } : {}),
    ...(tlsKey ? { tlsKey } : {}),
  };
  if (pem.key && /ENCRYPTED/.test(pem.key)) {
    throw new ConfigurationError('Input "key" is an encrypted private key. Give the unencrypted key as a secret (openssl pkey -in key.pem -out plain.pem).', 'key');
  }

  const connectTimeoutMs = inputs.duration('connect-timeout') ?? 60_000;
  if (connectTimeoutMs < 1000) throw new ConfigurationError(`Input "connect-timeout" is ${connectTimeoutMs} ms. Give at least 1s (the default is 60s).`, 'connect-timeout');
  const checkTimeoutMs = inputs.duration('check-timeout') ?? 10_000;
  return {
    config,
    configInput,
    configDir,
    roots,
    parts,
    credentials,
    connectTimeoutMs,
    retries: inputs.integer('retries', { min: 0, max: 10 }) ?? 0,
    checkHost: inputs.hostPort('check-host'),
    checkTimeoutMs,
    install: inputs.boolean('install', false),
    allowScripts: inputs.boolean('allow-scripts', false),
    secrets,
  };
}

/**
 * The post step's view of the secrets: it prints nothing of OpenVPN's log it cannot redact,
 * and reads inputs leniently (a bad input already failed main).
 */
export function secretsForPost(inputs: Inputs = new Inputs(), roots: PathRoots = runnerPathRoots()): string[] {
  const out: string[] = [];
  for (const name of [...PEM_SECRET_INPUTS, 'password']) {
    const v = inputs.secret(name);
    if (v !== undefined) out.push(v);
  }
  const inline = inputs.string('config');
  const file = inputs.string('config-file');
  let text = inline;
  if (text === undefined && file !== undefined) {
    try {
      text = fs.readFileSync(resolveWorkspacePath(file, 'config-file', roots), 'utf8');
    } catch {
      text = undefined;
    }
  }
  if (text !== undefined) {
    try {
      for (const block of inlineSecrets(parseOvpn(text, 'config'))) {
        registerSecret(block);
        out.push(block);
      }
    } catch {
      // main reported it
    }
  }
  return out;
}
