// Pure: reads an OpenVPN client config (.ovpn), merges the parts given as inputs, and
// derives the config the action runs. The user's text is never modified in place.
import { ConfigurationError, type PathRoots } from '@gangway/kit';
import type { ConfigItem, ParsedConfig } from './config-items.ts';
import { judgeDirective, vetDirectives } from './directive-policy.ts';

/** Inline blocks whose content is key material or credentials. */
const SECRET_BLOCKS = new Set([
  'ca', 'cert', 'key', 'tls-auth', 'tls-crypt', 'tls-crypt-v2', 'secret', 'pkcs12', 'extra-certs',
  'auth-user-pass', 'http-proxy-user-pass', 'crl-verify', 'dh', 'peer-fingerprint',
]);

/** Splits a directive line into words, honouring "double", 'single' quotes and backslash escapes as OpenVPN does. */
export function splitWords(line: string): string[] {
  const words: string[] = [];
  let current = '';
  let inWord = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i] as string;
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === '\\' && quote === '"' && i + 1 < line.length) current += line[++i];
      else current += c;
      continue;
    }
    if (c === '"' || c === "'") {
      quote = c;
      inWord = true;
    } else if (c === '\\' && i + 1 < line.length) {
      current += line[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(current);
      current = '';
      inWord = false;
    } else if ((c === '#' || c === ';') && !inWord) {
      break;
    } else {
      current += c;
      inWord = true;
    }
  }
  if (inWord) words.push(current);
  return words;
}

export function parseOvpn(text: string, input: string): ParsedConfig {
  return { items: parseLines(text.replace(/\r\n/g, '\n').split('\n'), 0, input) };
}

/** Parses config lines; `offset` is the number of lines before them (for line numbers). */
function parseLines(lines: string[], offset: number, input: string): ConfigItem[] {
  const items: ConfigItem[] = [];
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i] as string;
    const trimmed = raw.trim();
    const open = /^<([A-Za-z0-9-]+)>$/.exec(trimmed);
    if (open) {
      const name = (open[1] as string).toLowerCase();
      const body: string[] = [];
      let j = i + 1;
      for (; j < lines.length && (lines[j] as string).trim().toLowerCase() !== `</${name}>`; j++) body.push(lines[j] as string);
      if (j >= lines.length) {
        throw new ConfigurationError(`Input "${input}": the inline block <${name}> opened on line ${offset + i + 1} is never closed. Add </${name}>.`, input);
      }
      items.push({
        kind: 'block',
        name,
        body: body.join('\n').trim(),
        line: offset + i + 1,
        ...(name === 'connection' ? { items: parseLines(body, offset + i + 1, input) } : {}),
      });
      i = j;
      continue;
    }
    if (trimmed === '' || trimmed.startsWith('#') || trimmed.startsWith(';')) {
      items.push({ kind: 'other', text: raw });
      continue;
    }
    const words = splitWords(trimmed);
    const first = words[0];
    if (first === undefined) {
      items.push({ kind: 'other', text: raw });
      continue;
    }
    items.push({ kind: 'directive', name: first.replace(/^--/, '').toLowerCase(), args: words.slice(1), text: trimmed, line: offset + i + 1 });
  }
  return items;
}

/** The content of every inline block that holds keys or credentials: each must be masked before anything prints. */
export function inlineSecrets(config: ParsedConfig): string[] {
  return config.items.flatMap((item) => (item.kind === 'block' && SECRET_BLOCKS.has(item.name) && item.body !== '' ? [item.body] : []));
}

export type TlsKeyType = 'tls-auth' | 'tls-crypt' | 'tls-crypt-v2';

/**
 * The kind of a TLS control-channel key, from its PEM header. tls-auth and tls-crypt keys share
 * one format ("OpenVPN Static key V1"): such a key is tls-auth when the config sets
 * `key-direction` (which only tls-auth uses), tls-crypt otherwise.
 */
export function detectTlsKeyType(pem: string, configHasKeyDirection: boolean, input: string): TlsKeyType {
  if (/-----BEGIN OpenVPN tls-crypt-v2 client key-----/.test(pem)) return 'tls-crypt-v2';
  if (/-----BEGIN OpenVPN tls-crypt-v2 server key-----/.test(pem)) {
    throw new ConfigurationError(`Input "${input}" holds a tls-crypt-v2 SERVER key. Give the client key the server generated for this client (openvpn --genkey tls-crypt-v2-client).`, input);
  }
  if (/-----BEGIN OpenVPN Static key V1-----/.test(pem)) return configHasKeyDirection ? 'tls-auth' : 'tls-crypt';
  throw new ConfigurationError(`Input "${input}" is not an OpenVPN TLS key: expected a "-----BEGIN OpenVPN Static key V1-----" or "-----BEGIN OpenVPN tls-crypt-v2 client key-----" block.`, input);
}

export interface InlineParts {
  ca?: string;
  cert?: string;
  key?: string;
  tlsKey?: { type: TlsKeyType; pem: string };
}

export interface Credentials {
  username: string;
  password: string;
}

export interface DeriveOptions {
  /** Which input the config came from (for messages). */
  input: string;
  parts: InlineParts;
  credentials?: Credentials;
  managementSocket: string;
  allowScripts: boolean;
  /** OpenVPN's working directory: relative file names in the config resolve here. */
  configDir: string;
  /** Where files the config names may lie. */
  roots: PathRoots;
}

export interface DerivedConfig {
  text: string;
  /** Credentials to answer `>PASSWORD:Need 'Auth'` with (inputs, or the config's inline <auth-user-pass>). */
  credentials?: Credentials;
  /** What the action changed, for the log. */
  notes: string[];
  /** What the action dropped from the user's config: each one a warning. */
  warnings: string[];
  /** The first remote, for the summary. */
  server: { host: string; port: number; proto: string } | undefined;
}

function hasDirective(config: ParsedConfig, name: string): boolean {
  return config.items.some((i) => (i.kind === 'directive' || i.kind === 'block') && i.name === name);
}

function pemBlock(name: string, pem: string): string {
  return `<${name}>\n${pem.trim()}\n</${name}>`;
}

/** The first `remote` (with `port` and `proto` defaults), for people to read. */
export function firstRemote(config: ParsedConfig): DerivedConfig['server'] {
  let port = 1194;
  let proto = 'udp';
  let remote: { host: string; port?: number; proto?: string } | undefined;
  for (const item of config.items) {
    if (item.kind !== 'directive') continue;
    if (item.name === 'port' || item.name === 'rport') port = Number(item.args[0]) || port;
    if (item.name === 'proto' && item.args[0]) proto = item.args[0];
    if (item.name === 'remote' && !remote && item.args[0]) {
      remote = { host: item.args[0], ...(item.args[1] ? { port: Number(item.args[1]) } : {}), ...(item.args[2] ? { proto: item.args[2] } : {}) };
    }
  }
  if (!remote) return undefined;
  return { host: remote.host, port: remote.port ?? port, proto: (remote.proto ?? proto).replace(/-client$/, '') };
}

/**
 * Builds the config the action runs: the user's options minus those the action controls, the
 * inline parts given as inputs, and the management interface through which credentials travel.
 */
export function deriveConfig(config: ParsedConfig, o: DeriveOptions): DerivedConfig {
  const notes: string[] = [];
  const input = o.input;
  const fail = (why: string): never => {
    throw new ConfigurationError(`Input "${input}": ${why}.`, input);
  };
  if (!hasDirective(config, 'remote') && !config.items.some((i) => i.kind === 'block' && i.name === 'connection')) {
    fail('the config has no "remote" line, so OpenVPN would not know which server to reach. Add "remote HOST PORT"');
  }
  if (!hasDirective(config, 'dev')) fail('the config has no "dev" line. Add "dev tun"');

  // Parts given as inputs must not also be in the config: which one wins would be a guess.
  const given: Array<[string, string | undefined]> = [
    ['ca', o.parts.ca],
    ['cert', o.parts.cert],
    ['key', o.parts.key],
  ];
  for (const [name, value] of given) {
    if (value !== undefined && hasDirective(config, name)) {
      throw new ConfigurationError(`Input "${name}" is given, and the config in "${input}" already has "${name}". Remove one of them.`, name);
    }
  }
  const tlsNames: TlsKeyType[] = ['tls-auth', 'tls-crypt', 'tls-crypt-v2'];
  if (o.parts.tlsKey) {
    const present = tlsNames.find((n) => hasDirective(config, n));
    if (present) {
      throw new ConfigurationError(`Input "${o.parts.tlsKey.type}" (or "tls-key") is given, and the config in "${input}" already has "${present}". Remove one of them.`, o.parts.tlsKey.type);
    }
  }

  // Everything the action refuses stops here, naming the line (readSettings ran this already).
  vetDirectives(config.items, { input, configDir: o.configDir, roots: o.roots });

  let credentials = o.credentials;
  let wantsAuth = false;
  const kept: string[] = [];
  const replaced = new Set<string>();
  const dropped = new Set<string>();
  const droppedScripts = new Set<string>();
  const warnings: string[] = [];
  for (const item of config.items) {
    if (item.kind === 'other') {
      kept.push(item.text);
      continue;
    }
    if (item.kind === 'block') {
      if (item.name === 'auth-user-pass') {
        const [user, pass] = item.body.split('\n').map((l) => l.trim());
        if (!credentials) {
          if (!user || !pass) fail('the inline <auth-user-pass> block must hold the username on its first line and the password on its second');
          credentials = { username: user as string, password: pass as string };
          notes.push('the inline <auth-user-pass> block is sent through the management interface instead of the config');
        } else {
          notes.push('the inline <auth-user-pass> block is replaced by the "username" and "password" inputs');
        }
        wantsAuth = true;
        continue;
      }
      kept.push(pemBlock(item.name, item.body));
      continue;
    }
    const { name } = item;
    const verdict = judgeDirective(name, item.args);
    switch (verdict.kind) {
      case 'refuse':
        return fail(`line ${item.line} uses "${name}", ${verdict.why}`);
      case 'replace':
        replaced.add(name);
        continue;
      case 'drop':
        if (!dropped.has(name)) warnings.push(`Line ${item.line}: "${name}" was dropped from the config: ${verdict.why}.`);
        dropped.add(name);
        continue;
      case 'script':
        if (o.allowScripts) kept.push(item.text);
        else droppedScripts.add(name);
        continue;
      case 'auth-user-pass':
        wantsAuth = true;
        if (item.args.length > 0 && !o.credentials) {
          fail(`line ${item.line} reads the username and password from the file "${item.args[0] as string}". Give them as the "username" and "password" inputs (secrets) instead: they then travel over the management interface and are never written to disk`);
        }
        continue;
      case 'keep':
      case 'file':
        kept.push(item.text);
        continue;
    }
  }
  if (wantsAuth && !credentials) fail('the config asks for a username and password (auth-user-pass). Set the "username" and "password" inputs');
  if (replaced.size > 0) notes.push(`options the action controls were replaced: ${[...replaced].sort().join(', ')}`);
  if (droppedScripts.size > 0) {
    warnings.push(`Script hooks were dropped from the config (they would run as root): ${[...droppedScripts].sort().join(', ')}. Set allow-scripts: true to keep them.`);
  }

  const added: string[] = ['', '# --- added by gangway/action-vpn-connect ---'];
  if (o.parts.ca) added.push(pemBlock('ca', o.parts.ca));
  if (o.parts.cert) added.push(pemBlock('cert', o.parts.cert));
  if (o.parts.key) added.push(pemBlock('key', o.parts.key));
  if (o.parts.tlsKey) {
    if (o.parts.tlsKey.type === 'tls-auth' && !hasDirective(config, 'key-direction')) added.push('key-direction 1');
    added.push(pemBlock(o.parts.tlsKey.type, o.parts.tlsKey.pem));
  }
  if (credentials) added.push('auth-user-pass', 'auth-nocache', 'auth-retry none');
  added.push(
    `management ${quoteWord(o.managementSocket)} unix`,
    'management-hold',
    'management-query-passwords',
  );
  return { text: `${kept.join('\n').trimEnd()}\n${added.join('\n')}\n`, ...(credentials ? { credentials } : {}), notes, warnings, server: firstRemote(config) };
}

/** Quotes a word for a config line when it holds spaces or quotes. */
export function quoteWord(word: string): string {
  if (/^[^\s"'\\#;]+$/.test(word)) return word;
  return `"${word.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}
