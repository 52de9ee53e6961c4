import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import net, { type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Server, type Connection } from 'ssh2';
import {
  fingerprintOf,
  hostKeyAlgorithms,
  hostKeyCheck,
  keysForHost,
  knownHostsName,
  openSsh,
  parseFingerprint,
  parseKnownHosts,
  SshConnectError,
} from '../src/ssh/index.ts';

// Real keys from ssh-keygen, a real SSH server (ssh2's) on loopback: the verification path
// is the one a deploy runs, with nothing faked.
const dir = mkdtempSync(path.join(tmpdir(), 'gangway-ssh-test-'));
function keygen(name: string, type = 'ed25519'): { privateKey: string; publicLine: string; fingerprint: string } {
  const file = path.join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', type, '-N', '', '-C', name, '-f', file]);
  const fingerprint = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${file}.pub`], { encoding: 'utf8' }).split(' ')[1] as string;
  return { privateKey: readFileSync(file, 'utf8'), publicLine: readFileSync(`${file}.pub`, 'utf8').trim(), fingerprint };
}
const hostA = keygen('host-a');
const hostB = keygen('host-b');
const hostRsa = keygen('host-rsa', 'rsa');
const client = keygen('client');

function knownLine(host: string, port: number, publicLine: string): string {
  const [type, key] = publicLine.split(' ');
  return `${knownHostsName(host, port)} ${type} ${key}`;
}

let server: Server;
let lastUser = '';
let port = 0;
const events: string[] = [];

beforeAll(async () => {
  server = new Server({ hostKeys: [hostA.privateKey] }, (conn: Connection) => {
    conn.on('authentication', (ctx) => {
      events.push(`auth:${ctx.method}:${ctx.username}`);
      lastUser = ctx.username;
      if (ctx.method === 'publickey' && (ctx.username === 'deploy' || ctx.username === 'drop-me')) return ctx.accept();
      ctx.reject(['publickey']);
    });
    conn.on('ready', () => {
      events.push('ready');
      if (lastUser === 'drop-me') setTimeout(() => (conn as unknown as { _sock: Socket })._sock.resetAndDestroy(), 100);
    });
    conn.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as { port: number }).port;
});

afterAll(() => {
  server.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('known_hosts and fingerprints', () => {
  it('computes the same fingerprint as ssh-keygen', () => {
    const blob = Buffer.from(hostA.publicLine.split(' ')[1] as string, 'base64');
    expect(fingerprintOf(blob)).toBe(hostA.fingerprint);
  });

  it('finds keys by host and port, plain and hashed, and skips negated patterns', () => {
    const [type, key] = hostA.publicLine.split(' ') as [string, string];
    const plainFile = path.join(dir, 'known_hosts');
    writeFileSync(plainFile, `[10.9.9.9]:2222 ${type} ${key}\n`);
    execFileSync('ssh-keygen', ['-q', '-H', '-f', plainFile], { stdio: 'ignore' });
    const hashed = readFileSync(plainFile, 'utf8').trim();
    expect(hashed).toMatch(/^\|1\|/);
    const entries = parseKnownHosts([`server,*.example.org,!bad.example.org ${type} ${key}`, hashed, '# comment', ''].join('\n'), 'known-hosts');
    expect(keysForHost(entries, 'server', 22).keys).toHaveLength(1);
    expect(keysForHost(entries, 'web.example.org', 22).keys).toHaveLength(1);
    expect(keysForHost(entries, 'bad.example.org', 22).keys).toHaveLength(0);
    expect(keysForHost(entries, 'server', 2222).keys).toHaveLength(0);
    expect(keysForHost(entries, '10.9.9.9', 2222).keys).toHaveLength(1);
  });

  it('rejects lines that are not known_hosts lines, naming the input', () => {
    expect(() => parseKnownHosts('server ssh-ed25519', 'known-hosts')).toThrow(/Line 1 of input "known-hosts" is not a known_hosts line/);
    expect(() => parseKnownHosts('@cert-authority * ssh-ed25519 AAAA', 'jump-known-hosts')).toThrow(/input "jump-known-hosts" uses @cert-authority/);
    expect(() => parseKnownHosts('server ssh-ed25519 !!!notbase64!!!', 'known-hosts')).toThrow(/not valid base64/);
  });

  it('parses fingerprints strictly', () => {
    expect(parseFingerprint(hostA.fingerprint, 'fingerprint')).toBe(hostA.fingerprint);
    expect(() => parseFingerprint('MD5:aa:bb', 'fingerprint')).toThrow(/Input "fingerprint" is not a SHA256 host key fingerprint/);
  });

  it('offers the host key algorithms known for the host', () => {
    expect(hostKeyAlgorithms(['ssh-rsa', 'ssh-ed25519'])).toEqual(['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa', 'ssh-ed25519']);
  });

  it('says why a key was refused', () => {
    const entries = parseKnownHosts(knownLine('h', 22, hostB.publicLine), 'known-hosts');
    const check = hostKeyCheck({ kind: 'known-hosts', entries }, 'h', 22);
    const keyA = Buffer.from(hostA.publicLine.split(' ')[1] as string, 'base64');
    expect(check.verify(keyA)).toBe(false);
    expect(check.failure).toContain(`presented host key ${hostA.fingerprint}, which does not match known-hosts (line 1)`);
    const none = hostKeyCheck({ kind: 'known-hosts', entries }, 'other', 22);
    expect(none.verify(keyA)).toBe(false);
    expect(none.failure).toContain('known-hosts has no entry for other');
  });
});

describe('openSsh against a real SSH server', () => {
  const endpoint = () => ({ host: '127.0.0.1', port, username: 'deploy', privateKey: client.privateKey });

  it('connects when known-hosts holds the server key', async () => {
    const entries = parseKnownHosts(knownLine('127.0.0.1', port, hostA.publicLine), 'known-hosts');
    const session = await openSsh({ ...endpoint(), trust: { kind: 'known-hosts', entries } }, { connectTimeoutMs: 5000 });
    expect(session.hostKey).toBe(hostA.fingerprint);
    session.close();
  });

  it('connects with a pinned fingerprint, and reports the key it verified', async () => {
    events.length = 0;
    const session = await openSsh({ ...endpoint(), trust: { kind: 'fingerprint', fingerprint: hostA.fingerprint } }, { connectTimeoutMs: 5000 });
    expect(session.hostKey).toBe(hostA.fingerprint);
    expect(events).toContain('auth:publickey:deploy');
    session.close();
  });

  it('refuses a server whose key is not the pinned fingerprint, before authenticating, without retrying', async () => {
    events.length = 0;
    const started = Date.now();
    const error = await openSsh({ ...endpoint(), trust: { kind: 'fingerprint', fingerprint: hostB.fingerprint } }, { connectTimeoutMs: 5000, attempts: 3 }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(SshConnectError);
    expect((error as SshConnectError).category).toBe('host-key');
    expect((error as Error).message).toContain(`presented host key ${hostA.fingerprint}, not the pinned ${hostB.fingerprint}`);
    expect(events.filter((e) => e.startsWith('auth:'))).toEqual([]);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('refuses a server key marked @revoked in known-hosts, even when another line trusts it', async () => {
    events.length = 0;
    const known = [`@revoked ${knownLine('127.0.0.1', port, hostA.publicLine)}`, knownLine('127.0.0.1', port, hostA.publicLine)].join('\n');
    const entries = parseKnownHosts(known, 'known-hosts');
    const error = await openSsh({ ...endpoint(), trust: { kind: 'known-hosts', entries } }, { connectTimeoutMs: 5000, attempts: 3 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SshConnectError);
    expect((error as SshConnectError).category).toBe('host-key');
    expect((error as Error).message).toContain(`presented a revoked host key (${hostA.fingerprint})`);
    expect(events.filter((e) => e.startsWith('auth:'))).toEqual([]);
  });

  it('refuses a changed host key before authenticating, without retrying', async () => {
    events.length = 0;
    const entries = parseKnownHosts(knownLine('127.0.0.1', port, hostB.publicLine), 'known-hosts');
    const started = Date.now();
    const error = await openSsh({ ...endpoint(), trust: { kind: 'known-hosts', entries } }, { connectTimeoutMs: 5000, attempts: 3 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SshConnectError);
    expect((error as SshConnectError).category).toBe('host-key');
    expect((error as Error).message).toContain(`presented host key ${hostA.fingerprint}`);
    expect(events.filter((e) => e.startsWith('auth:publickey'))).toEqual([]);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('refuses when only an RSA key is known and the server has none', async () => {
    const entries = parseKnownHosts(knownLine('127.0.0.1', port, hostRsa.publicLine), 'known-hosts');
    const error = await openSsh({ ...endpoint(), trust: { kind: 'known-hosts', entries } }, { connectTimeoutMs: 5000, attempts: 1 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SshConnectError);
    expect((error as SshConnectError).category).toBe('host-key');
  });

  it('records a connection that breaks after it was made instead of crashing the process', async () => {
    const lines: string[] = [];
    const session = await openSsh(
      { ...endpoint(), username: 'drop-me', trust: { kind: 'fingerprint', fingerprint: hostA.fingerprint } },
      { connectTimeoutMs: 5000, log: (l) => lines.push(l) },
    );
    expect(session.lost).toBeUndefined();
    await new Promise((r) => setTimeout(r, 600));
    expect(session.lost?.message).toMatch(/ECONNRESET|reset/i);
    expect(lines.some((l) => l.startsWith('connection to drop-me@') && l.includes('lost'))).toBe(true);
    session.close();
  });

  it('names an authentication failure as such', async () => {
    const error = await openSsh(
      { ...endpoint(), username: 'intruder', trust: { kind: 'fingerprint', fingerprint: hostA.fingerprint } },
      { connectTimeoutMs: 5000, attempts: 3 },
    ).catch((e: unknown) => e);
    expect((error as SshConnectError).category).toBe('auth');
    expect((error as Error).message).toMatch(/authorized_keys/);
  });

  it('names a refused port and retries with backoff', async () => {
    const lines: string[] = [];
    const error = await openSsh(
      { host: '127.0.0.1', port: 1, username: 'deploy', privateKey: client.privateKey, trust: { kind: 'insecure' } },
      { connectTimeoutMs: 2000, attempts: 2, log: (l) => lines.push(l) },
    ).catch((e: unknown) => e);
    expect((error as SshConnectError).category).toBe('refused');
    expect(lines.some((l) => /retrying in \d+ ms/.test(l))).toBe(true);
  });
});

describe('openSsh through a jump host (direct-tcpip, like ssh -J)', () => {
  let jumpServer: Server;
  let jumpPort = 0;
  const hops: string[] = [];
  let jumpClosed = 0;

  beforeAll(async () => {
    jumpServer = new Server({ hostKeys: [hostB.privateKey] }, (conn: Connection) => {
      conn.on('authentication', (ctx) => (ctx.method === 'publickey' && ctx.username === 'hop' ? ctx.accept() : ctx.reject(['publickey'])));
      conn.on('tcpip', (accept, reject, info) => {
        hops.push(`${info.destIP}:${info.destPort}`);
        if (info.destPort !== port) return reject();
        const channel = accept();
        const socket = net.connect(info.destPort, info.destIP);
        channel.pipe(socket).pipe(channel);
        socket.on('error', () => channel.close());
      });
      conn.on('close', () => (jumpClosed += 1));
      conn.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => jumpServer.listen(0, '127.0.0.1', resolve));
    jumpPort = (jumpServer.address() as { port: number }).port;
  });

  afterAll(() => jumpServer.close());

  const jump = () => ({ host: '127.0.0.1', port: jumpPort, username: 'hop', privateKey: client.privateKey, trust: { kind: 'fingerprint' as const, fingerprint: hostB.fingerprint } });

  it('verifies both host keys, reaches the target inside a channel of the jump connection, and closes both', async () => {
    hops.length = 0;
    events.length = 0;
    const closedBefore = jumpClosed;
    const session = await openSsh(
      { host: '127.0.0.1', port, username: 'deploy', privateKey: client.privateKey, trust: { kind: 'fingerprint', fingerprint: hostA.fingerprint } },
      { connectTimeoutMs: 5000, jump: jump() },
    );
    expect(session.hostKey).toBe(hostA.fingerprint);
    expect(hops).toEqual([`127.0.0.1:${port}`]);
    expect(events).toContain('auth:publickey:deploy');
    session.close();
    await new Promise((r) => setTimeout(r, 300));
    expect(jumpClosed).toBe(closedBefore + 1);
    expect(session.lost).toBeUndefined();
  });

  it('names a jump host that refuses the channel as unreachable', async () => {
    const error = await openSsh(
      { host: '127.0.0.1', port: 1, username: 'deploy', privateKey: client.privateKey, trust: { kind: 'insecure' } },
      { connectTimeoutMs: 5000, attempts: 1, jump: jump() },
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SshConnectError);
    expect((error as SshConnectError).category).toBe('unreachable');
    expect((error as Error).message).toContain('the jump host could not open a channel to it');
  });

  it("refuses a jump host whose key is not the pinned one, naming the jump host", async () => {
    const error = await openSsh(
      { host: '127.0.0.1', port, username: 'deploy', privateKey: client.privateKey, trust: { kind: 'fingerprint', fingerprint: hostA.fingerprint } },
      { connectTimeoutMs: 5000, attempts: 3, jump: { ...jump(), trust: { kind: 'fingerprint', fingerprint: hostA.fingerprint } } },
    ).catch((e: unknown) => e);
    expect((error as SshConnectError).category).toBe('host-key');
    expect((error as SshConnectError).endpoint).toBe(`hop@${knownHostsName('127.0.0.1', jumpPort)}`);
  });
});

describe('openSsh against servers that never finish the handshake', () => {
  async function tcpServer(onSocket: (socket: Socket) => void): Promise<{ port: number; close: () => void }> {
    const sockets: Socket[] = [];
    const s = net.createServer((socket) => {
      sockets.push(socket);
      socket.on('error', () => undefined);
      onSocket(socket);
    });
    await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
    return {
      port: (s.address() as { port: number }).port,
      close: () => {
        for (const socket of sockets) socket.destroy();
        s.close();
      },
    };
  }

  it('gives up after connect-timeout when the server says nothing, as a timeout', async () => {
    const silent = await tcpServer(() => undefined);
    try {
      const started = Date.now();
      const error = await openSsh(
        { host: '127.0.0.1', port: silent.port, username: 'deploy', privateKey: client.privateKey, trust: { kind: 'insecure' } },
        { connectTimeoutMs: 300, attempts: 1 },
      ).catch((e: unknown) => e);
      expect((error as SshConnectError).category).toBe('timeout');
      expect((error as Error).message).toMatch(/timed out/i);
      expect(Date.now() - started).toBeLessThan(3000);
    } finally {
      silent.close();
    }
  });

  it('fails, and does not hang, when the server closes the connection before the handshake', async () => {
    const closing = await tcpServer((socket) => socket.end());
    try {
      const error = await openSsh(
        { host: '127.0.0.1', port: closing.port, username: 'deploy', privateKey: client.privateKey, trust: { kind: 'insecure' } },
        { connectTimeoutMs: 5000, attempts: 1 },
      ).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SshConnectError);
      expect((error as SshConnectError).category).toBe('network');
      expect((error as Error).message).toContain('Connection lost before handshake');
    } finally {
      closing.close();
    }
  });
});
