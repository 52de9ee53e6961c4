import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { ConfigurationError } from '../errors.ts';

// Hand-written on purpose: ssh2 leaves host keys to its caller and npm has no maintained known_hosts matcher; this one does OpenSSH's hashed |1| names, [host]:port, negation and @revoked.
/**
 * Host key verification that fails closed: a server is trusted only when its key matches a
 * `known_hosts` line for that host and port, or a pinned `SHA256:` fingerprint.
 */

export interface KnownHostKey {
  /** `ssh-ed25519`, `ecdsa-sha2-nistp256`, `ssh-rsa`, … */
  type: string;
  key: Buffer;
  /** The line it came from (1-based) for messages. */
  line: number;
}

interface KnownHostsEntry {
  patterns: string[] | { salt: Buffer; hash: Buffer };
  type: string;
  key: Buffer;
  line: number;
  revoked: boolean;
}

const KEY_TYPES = new Set([
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'ssh-rsa',
  'ssh-dss',
]);

/** How a host appears in known_hosts: `host` on port 22, `[host]:port` otherwise. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/** Parses known_hosts text. Comments, blank lines and `@cert-authority` lines are rejected or skipped with a reason. */
export function parseKnownHosts(text: string, input: string): KnownHostsEntry[] {
  const entries: KnownHostsEntry[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    let fields = line.split(/\s+/);
    let revoked = false;
    if (fields[0]?.startsWith('@')) {
      if (fields[0] === '@revoked') revoked = true;
      else {
        throw new ConfigurationError(
          `Line ${index + 1} of input "${input}" uses ${fields[0]}, which Gangway does not support. Give the server's own host key (ssh-keyscan -t ed25519 HOST).`,
          input,
        );
      }
      fields = fields.slice(1);
    }
    const [hosts, type, keyText] = fields;
    if (!hosts || !type || !keyText || !KEY_TYPES.has(type)) {
      throw new ConfigurationError(
        `Line ${index + 1} of input "${input}" is not a known_hosts line ("host key-type base64-key"). Get one with: ssh-keyscan -p PORT HOST`,
        input,
      );
    }
    const key = Buffer.from(keyText, 'base64');
    if (key.length < 16 || key.toString('base64').replace(/=+$/, '') !== keyText.replace(/=+$/, '')) {
      throw new ConfigurationError(`Line ${index + 1} of input "${input}" has a key that is not valid base64.`, input);
    }
    let patterns: KnownHostsEntry['patterns'];
    if (hosts.startsWith('|1|')) {
      const [, , salt, hash] = hosts.split('|');
      patterns = { salt: Buffer.from(salt ?? '', 'base64'), hash: Buffer.from(hash ?? '', 'base64') };
    } else {
      patterns = hosts.split(',');
    }
    entries.push({ patterns, type, key, line: index + 1, revoked });
  });
  return entries;
}

function globToRegExp(pattern: string): RegExp {
  const escaped = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${escaped}$`, 'i');
}

function entryMatches(entry: KnownHostsEntry, name: string): boolean {
  if (!Array.isArray(entry.patterns)) {
    const digest = createHmac('sha1', entry.patterns.salt).update(name).digest();
    return digest.length === entry.patterns.hash.length && timingSafeEqual(digest, entry.patterns.hash);
  }
  let matched = false;
  for (const p of entry.patterns) {
    if (p.startsWith('!')) {
      if (globToRegExp(p.slice(1)).test(name)) return false;
    } else if (globToRegExp(p).test(name)) {
      matched = true;
    }
  }
  return matched;
}

/** The keys known_hosts holds for this host and port (revoked ones excluded, and listed apart). */
export function keysForHost(entries: KnownHostsEntry[], host: string, port: number): { keys: KnownHostKey[]; revoked: Buffer[] } {
  const name = knownHostsName(host, port);
  const keys: KnownHostKey[] = [];
  const revoked: Buffer[] = [];
  for (const e of entries) {
    if (e.revoked) {
      revoked.push(e.key);
      continue;
    }
    if (entryMatches(e, name)) keys.push({ type: e.type, key: e.key, line: e.line });
  }
  return { keys, revoked };
}

/** OpenSSH's fingerprint: `SHA256:` and the unpadded base64 of the key blob's SHA-256. */
export function fingerprintOf(key: Buffer): string {
  return `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
}

export function parseFingerprint(raw: string, input: string): string {
  const value = raw.trim();
  const m = /^SHA256:([A-Za-z0-9+/]{43})=?$/.exec(value);
  if (!m) {
    throw new ConfigurationError(
      `Input "${input}" is not a SHA256 host key fingerprint. Use the form "SHA256:" followed by 43 base64 characters, as printed by: ssh-keygen -lf <(ssh-keyscan HOST)`,
      input,
    );
  }
  return `SHA256:${m[1]}`;
}

/** The host key algorithms to offer so that the server presents a key we can check. */
export function hostKeyAlgorithms(types: string[]): string[] {
  const out: string[] = [];
  for (const t of types) {
    const algs = t === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [t];
    for (const a of algs) if (!out.includes(a)) out.push(a);
  }
  return out;
}

export type HostKeyTrust =
  | { kind: 'known-hosts'; entries: KnownHostsEntry[] }
  | { kind: 'fingerprint'; fingerprint: string }
  | { kind: 'insecure' };

/** What the verifier saw, for the error message when the key did not match. */
export interface HostKeyCheck {
  verify: (key: Buffer) => boolean;
  /** Algorithms to offer (known-hosts only: the types known for this host). */
  algorithms?: string[];
  /** Set after verify ran: the fingerprint the server presented. */
  presented?: string;
  /** Why verification failed, in words. */
  failure?: string;
}

/**
 * Builds the `hostVerifier` for ssh2. Fails closed: with known_hosts but no entry for this
 * host, or a key that differs, or a revoked key, the connection is refused before any
 * authentication is attempted.
 */
export function hostKeyCheck(trust: HostKeyTrust, host: string, port: number): HostKeyCheck {
  const check: HostKeyCheck = { verify: () => false };
  if (trust.kind === 'insecure') {
    check.verify = (key) => {
      check.presented = fingerprintOf(key);
      return true;
    };
    return check;
  }
  if (trust.kind === 'fingerprint') {
    check.verify = (key) => {
      check.presented = fingerprintOf(key);
      const ok = check.presented === trust.fingerprint;
      if (!ok) check.failure = `the server ${knownHostsName(host, port)} presented host key ${check.presented}, not the pinned ${trust.fingerprint}`;
      return ok;
    };
    return check;
  }
  const { keys, revoked } = keysForHost(trust.entries, host, port);
  if (keys.length > 0) check.algorithms = hostKeyAlgorithms([...new Set(keys.map((k) => k.type))]);
  check.verify = (key) => {
    check.presented = fingerprintOf(key);
    if (revoked.some((r) => r.equals(key))) {
      check.failure = `the server ${knownHostsName(host, port)} presented a revoked host key (${check.presented})`;
      return false;
    }
    if (keys.length === 0) {
      check.failure = `known-hosts has no entry for ${knownHostsName(host, port)} (the server presented ${check.presented})`;
      return false;
    }
    const ok = keys.some((k) => k.key.equals(key));
    if (!ok) {
      check.failure = `the server ${knownHostsName(host, port)} presented host key ${check.presented}, which does not match known-hosts (line ${keys.map((k) => k.line).join(', ')}). The server's key changed, or this is not the server you meant`;
    }
    return ok;
  };
  return check;
}
