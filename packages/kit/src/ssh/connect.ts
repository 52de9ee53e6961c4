import type { Duplex } from 'node:stream';
import { Client, type ConnectConfig } from 'ssh2';
import { errorMessage, toError } from '../errors.ts';
import { retry } from '../retry.ts';
import { hostKeyCheck, knownHostsName, type HostKeyCheck, type HostKeyTrust } from './host-keys.ts';

/** Where and how to log in. Secrets here are registered by the caller before this runs. */
export interface SshEndpoint {
  host: string;
  port: number;
  username: string;
  privateKey?: string;
  passphrase?: string;
  password?: string;
  trust: HostKeyTrust;
}

export interface SshOptions {
  connectTimeoutMs: number;
  /** Connection attempts (network failures only; host key and auth failures never retry). */
  attempts?: number;
  keepaliveIntervalMs?: number;
  /** A jump host to reach the target through (`jump-host`). */
  jump?: SshEndpoint;
  log?: (line: string) => void;
  signal?: AbortSignal;
}

export type SshFailure = 'host-key' | 'auth' | 'timeout' | 'refused' | 'unreachable' | 'network';

/** A connection that could not be made, with a category and a hint a person can act on. */
export class SshConnectError extends Error {
  readonly category: SshFailure;
  readonly endpoint: string;

  constructor(category: SshFailure, endpoint: string, detail: string) {
    super(`SSH to ${endpoint} failed (${category}): ${detail}. ${HINTS[category]}`);
    this.name = 'SshConnectError';
    this.category = category;
    this.endpoint = endpoint;
  }
}

const HINTS: Record<SshFailure, string> = {
  'host-key': 'Nothing was run on the server. Check known-hosts/fingerprint against the server (ssh-keyscan), and only then update them.',
  auth: 'Check username and private-key (the public key must be in the user\'s authorized_keys), or passphrase/password.',
  timeout: 'Check that the host is reachable from the runner (VPN connected? firewall?) and raise connect-timeout if the link is slow.',
  refused: 'Nothing listens on that port: check port and that sshd runs.',
  unreachable: 'The runner has no route to the host: is the VPN connected, is the address right?',
  network: 'A network error ended the connection; it is retried a few times.',
};

function classify(error: unknown, check: HostKeyCheck): SshFailure {
  const msg = errorMessage(error);
  const code = (error as { code?: string; level?: string }).code ?? '';
  const level = (error as { level?: string }).level ?? '';
  if (check.failure || /host key|verification failed|Host denied/i.test(msg)) return 'host-key';
  if (level === 'client-authentication' || /authentication methods failed|auth/i.test(msg)) return 'auth';
  if (/timed out/i.test(msg) || code === 'ETIMEDOUT') return 'timeout';
  if (code === 'ECONNREFUSED') return 'refused';
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'unreachable';
  return 'network';
}

function detail(error: unknown, check: HostKeyCheck): string {
  return check.failure ?? errorMessage(error);
}

/** An open SSH session to one host (and its jump host, if any). */
export interface SshSession {
  client: Client;
  endpoint: string;
  /** The host key fingerprint the server presented. */
  hostKey: string;
  /** Set when the connection broke after it was made (keepalive timeout, reset, VPN gone). */
  readonly lost: Error | undefined;
  close(): void;
}

function configFor(endpoint: SshEndpoint, check: HostKeyCheck, options: SshOptions, sock?: Duplex): ConnectConfig {
  return {
    host: endpoint.host,
    port: endpoint.port,
    username: endpoint.username,
    ...(endpoint.privateKey !== undefined ? { privateKey: endpoint.privateKey } : {}),
    ...(endpoint.passphrase !== undefined ? { passphrase: endpoint.passphrase } : {}),
    ...(endpoint.password !== undefined ? { password: endpoint.password } : {}),
    readyTimeout: options.connectTimeoutMs,
    keepaliveInterval: options.keepaliveIntervalMs ?? 10_000,
    keepaliveCountMax: 3,
    hostVerifier: (key: Buffer) => check.verify(key),
    ...(check.algorithms ? { algorithms: { serverHostKey: check.algorithms as NonNullable<ConnectConfig['algorithms']>['serverHostKey'] } } : {}),
    ...(sock ? { sock } : {}),
    // Keyboard-interactive and agent are off: a deploy must not wait for a prompt.
    tryKeyboard: false,
  };
}

/**
 * ssh2's Client, connected and authenticated: resolves on 'ready'. Rejects with the first
 * 'error' (handshake timeout, host key refused, auth failed, socket error), or, when the
 * connection closes first without one, with an ETIMEDOUT "No response from server". A client
 * that did not get ready is ended, and keeps a listener for the errors it may still emit
 * (ssh2 reports "Connection lost before handshake" when the socket closes later).
 */
function connectClient(config: ConnectConfig): Promise<Client> {
  const client = new Client();
  return new Promise((resolve, reject) => {
    let settled = false;
    const onReady = (): void => {
      settled = true;
      client.off('ready', onReady);
      client.off('error', onError);
      client.off('close', onClose);
      resolve(client);
    };
    const onError = (error: Error): void => {
      if (settled) return;
      settled = true;
      client.end();
      reject(error);
    };
    const onClose = (): void => onError(Object.assign(new Error('No response from server'), { code: 'ETIMEDOUT' }));
    client.on('ready', onReady);
    client.on('error', onError);
    client.on('close', onClose);
    try {
      client.connect(config);
      // Every Engine call is a small request and a small answer on a channel of this one TCP
      // connection: with Nagle's algorithm each waited for the peer's delayed ACK (about 90 ms a
      // call through the lab's VPN, against 5 ms without it), as OpenSSH's own client avoids for
      // interactive sessions. A tunnel through a jump host has no socket of its own: no-op there.
      client.setNoDelay(true);
    } catch (error) {
      onError(toError(error));
    }
  });
}

async function connectOnce(endpoint: SshEndpoint, options: SshOptions, sock?: Duplex): Promise<{ client: Client; check: HostKeyCheck }> {
  const check = hostKeyCheck(endpoint.trust, endpoint.host, endpoint.port);
  const name = `${endpoint.username}@${knownHostsName(endpoint.host, endpoint.port)}`;
  try {
    return { client: await connectClient(configFor(endpoint, check, options, sock)), check };
  } catch (error) {
    throw new SshConnectError(classify(error, check), name, detail(error, check));
  }
}

function openTunnel(client: Client, host: string, port: number): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    client.forwardOut('127.0.0.1', 0, host, port, (err, stream) => (err ? reject(err) : resolve(stream)));
  });
}

/**
 * One SSH connection with host key verification, keepalive, a connect timeout and retries
 * with backoff for network failures. With a jump host, the target connection runs inside a
 * `direct-tcpip` channel of the jump connection (like `ssh -J`).
 */
export async function openSsh(endpoint: SshEndpoint, options: SshOptions): Promise<SshSession> {
  const attempts = options.attempts ?? 3;
  const name = `${endpoint.username}@${knownHostsName(endpoint.host, endpoint.port)}`;
  return retry(
    async (attempt) => {
      if (attempt > 1) options.log?.(`connecting to ${name}, attempt ${attempt} of ${attempts}`);
      // Without a listener, a keepalive timeout or a reset after a connection was made is an
      // uncaught 'error' event that kills the process in the middle of a deploy. Record it
      // instead: the calls in flight fail on their own, and the caller can say why.
      let lost: Error | undefined;
      let closing = false;
      const onError = (error: Error): void => {
        if (closing) return;
        lost ??= error;
        options.log?.(`connection to ${name} lost: ${error.message}`);
      };
      let jump: Client | undefined;
      try {
        let sock: Duplex | undefined;
        if (options.jump) {
          jump = (await connectOnce(options.jump, options)).client;
          // Listening from here on: the jump connection must not crash the process while the
          // target's handshake runs through it (a break there fails that handshake instead).
          jump.on('error', onError);
          try {
            sock = await openTunnel(jump, endpoint.host, endpoint.port);
          } catch (error) {
            throw new SshConnectError('unreachable', name, `the jump host could not open a channel to it: ${errorMessage(error)}`);
          }
        }
        const { client, check } = await connectOnce(endpoint, options, sock);
        const jumpClient = jump;
        client.on('error', onError);
        // A server that goes away cleanly (sshd killed, host rebooting) closes without an error.
        client.on('close', () => onError(new Error('the server closed the connection')));
        return {
          client,
          endpoint: name,
          hostKey: check.presented ?? '',
          get lost() {
            return lost;
          },
          close: () => {
            closing = true;
            client.end();
            jumpClient?.end();
          },
        };
      } catch (error) {
        closing = true;
        jump?.end();
        throw error;
      }
    },
    {
      attempts,
      initialDelayMs: 1000,
      maxDelayMs: 8000,
      jitter: 0.3,
      signal: options.signal,
      shouldRetry: (error) => !(error instanceof SshConnectError) || ['timeout', 'refused', 'network', 'unreachable'].includes(error.category),
      onRetry: (error, attempt, delay) => options.log?.(`attempt ${attempt} failed: ${errorMessage(error)}; retrying in ${delay} ms`),
    },
  );
}
