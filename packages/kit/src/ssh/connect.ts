import type { Duplex } from 'node:stream';
import { NodeSSH, type Config as NodeSshConfig } from 'node-ssh';
import type { Client, ConnectConfig } from 'ssh2';
import { errorMessage } from '../errors.ts';
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
  ssh: NodeSSH;
  client: Client;
  endpoint: string;
  /** The host key fingerprint the server presented. */
  hostKey: string;
  /** Set when the connection broke after it was made (keepalive timeout, reset, VPN gone). */
  readonly lost: Error | undefined;
  close(): void;
}

function configFor(endpoint: SshEndpoint, check: HostKeyCheck, options: SshOptions, sock?: Duplex): NodeSshConfig {
  return {
    host: endpoint.host,
    port: endpoint.port,
    username: endpoint.username,
    privateKey: endpoint.privateKey,
    passphrase: endpoint.passphrase,
    password: endpoint.password,
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

async function connectOnce(endpoint: SshEndpoint, options: SshOptions, sock?: Duplex): Promise<{ ssh: NodeSSH; check: HostKeyCheck }> {
  const check = hostKeyCheck(endpoint.trust, endpoint.host, endpoint.port);
  const ssh = new NodeSSH();
  const name = `${endpoint.username}@${knownHostsName(endpoint.host, endpoint.port)}`;
  try {
    await ssh.connect(configFor(endpoint, check, options, sock));
  } catch (error) {
    ssh.dispose();
    throw new SshConnectError(classify(error, check), name, detail(error, check));
  }
  return { ssh, check };
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
      let jump: NodeSSH | undefined;
      try {
        let sock: Duplex | undefined;
        if (options.jump) {
          jump = (await connectOnce(options.jump, options)).ssh;
          try {
            sock = await openTunnel(jump.connection as Client, endpoint.host, endpoint.port);
          } catch (error) {
            throw new SshConnectError('unreachable', name, `the jump host could not open a channel to it: ${errorMessage(error)}`);
          }
        }
        const { ssh, check } = await connectOnce(endpoint, options, sock);
        const jumpSsh = jump;
        // Without a listener, a keepalive timeout or a reset after the connection was made is an
        // uncaught 'error' event that kills the process in the middle of a deploy. Record it
        // instead: the calls in flight fail on their own, and the caller can say why.
        let lost: Error | undefined;
        let closing = false;
        const onError = (error: Error): void => {
          if (closing) return;
          lost ??= error;
          options.log?.(`connection to ${name} lost: ${error.message}`);
        };
        ssh.connection?.on('error', onError);
        jumpSsh?.connection?.on('error', onError);
        // A server that goes away cleanly (sshd killed, host rebooting) closes without an error.
        ssh.connection?.on('close', () => onError(new Error('the server closed the connection')));
        return {
          ssh,
          client: ssh.connection as Client,
          endpoint: name,
          hostKey: check.presented ?? '',
          get lost() {
            return lost;
          },
          close: () => {
            closing = true;
            ssh.dispose();
            jumpSsh?.dispose();
          },
        };
      } catch (error) {
        jump?.dispose();
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
