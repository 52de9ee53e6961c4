// How the deploy reaches each server: the hosts, the login, the host keys it trusts (the
// server's and a jump host's), SSH timeouts, and the Docker socket at the far end.
import { ConfigurationError, parseHostPort, type HostPort, type Inputs } from '@gangway/kit';
import { parseFingerprint, parseKnownHosts, type HostKeyTrust } from '@gangway/kit/ssh';
import { absolutePath, validateUsername } from './values.ts';

export interface Login {
  username: string;
  privateKey?: string;
  passphrase?: string;
  password?: string;
}

export interface JumpHost extends Login {
  host: string;
  port: number;
  trust: HostKeyTrust;
}

export interface SshSettings {
  hosts: HostPort[];
  login: Login;
  trust: HostKeyTrust;
  insecure: boolean;
  jump?: JumpHost;
  connectTimeoutMs: number;
  connectAttempts: number;
  dockerSocket: string;
  /** Per-host sockets (`host=path` lines of docker-socket), keyed by host as written in `host`. */
  dockerSockets: Map<string, string>;
}

/** The secret inputs of the connection, read (and masked) before anything else. */
export interface SshSecrets {
  privateKey?: string | undefined;
  passphrase?: string | undefined;
  password?: string | undefined;
  jumpPrivateKey?: string | undefined;
}

/** The Docker socket on `host`: its own `host=path` line of docker-socket, else the common one. */
export function dockerSocketFor(settings: Pick<SshSettings, 'dockerSocket' | 'dockerSockets'>, host: HostPort): string {
  return settings.dockerSockets.get(`${host.host}:${host.port}`) ?? settings.dockerSockets.get(host.host) ?? settings.dockerSocket;
}

/** `host` or `host:port`, as logs and the report name a server. */
export function hostLabel(h: HostPort): string {
  return h.port === 22 ? h.host : `${h.host}:${h.port}`;
}

function parseUserAtHost(raw: string, input: string): { username: string; host: string; port: number } {
  const at = raw.lastIndexOf('@');
  if (at <= 0) throw new ConfigurationError(`Input "${input}" is "${raw}": write it as user@host or user@host:port.`, input);
  const username = validateUsername(raw.slice(0, at), input);
  const { host, port } = parseHostPort(raw.slice(at + 1), input, 22);
  return { username, host, port };
}

function trustFrom(inputs: Inputs, knownHostsInput: string, fingerprintInput: string, insecure: boolean): HostKeyTrust | undefined {
  const knownHosts = inputs.raw(knownHostsInput);
  const fingerprint = inputs.raw(fingerprintInput);
  if (knownHosts !== '' && fingerprint !== '') {
    throw new ConfigurationError(`Give either "${knownHostsInput}" or "${fingerprintInput}", not both: one source of truth for the server's host key.`, knownHostsInput);
  }
  if (knownHosts !== '') {
    const entries = parseKnownHosts(knownHosts, knownHostsInput);
    if (entries.length === 0) throw new ConfigurationError(`Input "${knownHostsInput}" holds no known_hosts line. Get one with: ssh-keyscan -p PORT HOST`, knownHostsInput);
    return { kind: 'known-hosts', entries };
  }
  if (fingerprint !== '') return { kind: 'fingerprint', fingerprint: parseFingerprint(fingerprint, fingerprintInput) };
  return insecure ? { kind: 'insecure' } : undefined;
}

/** `roleHosts`: the servers only a role names (issue #20), which docker-socket's host=path lines may name too. */
export function readSsh(inputs: Inputs, secrets: SshSecrets, roleHosts: HostPort[] = []): SshSettings {
  const { privateKey, passphrase, password, jumpPrivateKey } = secrets;
  const port = inputs.port('port') ?? 22;
  const hostLines = inputs.list('host', { required: true, hint: 'Give the server to deploy to, e.g. "deploy.example.com" or "198.19.0.1:2222".' });
  const hosts = hostLines.map((h) => parseHostPort(h, 'host', port));
  const seen = new Set<string>();
  for (const h of hosts) {
    const key = `${h.host}:${h.port}`;
    if (seen.has(key)) throw new ConfigurationError(`Input "host" lists ${key} twice. Give each server once.`, 'host');
    seen.add(key);
  }

  const username = validateUsername(inputs.string('username', { required: true, hint: 'The SSH user on the server (it needs access to the Docker socket).' }), 'username');
  if (!privateKey && !password) {
    throw new ConfigurationError('Give "private-key" (recommended: an ed25519 key made for deploys) or "password" to log in.', 'private-key');
  }
  if (privateKey && !/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(privateKey)) {
    throw new ConfigurationError('Input "private-key" is not a private key in OpenSSH or PEM form (it must start with "-----BEGIN ... PRIVATE KEY-----"). Paste the whole key file, from a secret.', 'private-key');
  }
  const insecure = inputs.boolean('insecure-skip-host-key-check', false);
  const trust = trustFrom(inputs, 'known-hosts', 'fingerprint', insecure);
  if (!trust) {
    throw new ConfigurationError(
      'No way to verify the server\'s host key: give "known-hosts" (lines from ssh-keyscan -p PORT HOST, checked on a trusted network) or "fingerprint" (SHA256:...). Only for throw-away servers: insecure-skip-host-key-check: true.',
      'known-hosts',
    );
  }

  let jump: JumpHost | undefined;
  const jumpHost = inputs.string('jump-host');
  if (jumpHost) {
    const target = parseUserAtHost(jumpHost, 'jump-host');
    const jumpTrust = trustFrom(inputs, 'jump-known-hosts', 'jump-fingerprint', insecure);
    if (!jumpTrust) {
      throw new ConfigurationError('Input "jump-host" is set but the jump host\'s key cannot be verified: give "jump-known-hosts" or "jump-fingerprint".', 'jump-known-hosts');
    }
    const key = jumpPrivateKey ?? privateKey;
    if (!key) throw new ConfigurationError('Input "jump-host" needs a key: give "jump-private-key" (or "private-key", which is then used for both).', 'jump-private-key');
    jump = { ...target, privateKey: key, trust: jumpTrust, ...(jumpPrivateKey ? {} : passphrase ? { passphrase } : {}) };
  }

  // One path for every server, or `host=path` lines where servers differ (rootless Docker, say).
  let dockerSocket = '/var/run/docker.sock';
  const dockerSockets = new Map<string, string>();
  for (const line of inputs.list('docker-socket', { commas: false })) {
    const eq = line.indexOf('=');
    if (eq === -1) dockerSocket = absolutePath(line, 'docker-socket', 'the socket path');
    else {
      const host = line.slice(0, eq).trim();
      if (![...hosts, ...roleHosts].some((h) => h.host === host || `${h.host}:${h.port}` === host)) {
        throw new ConfigurationError(`Input "docker-socket": "${host}" is not one of the hosts in "host" (or in a role's hosts). Write host=path for a host listed there.`, 'docker-socket');
      }
      dockerSockets.set(host, absolutePath(line.slice(eq + 1).trim(), 'docker-socket', 'the socket path'));
    }
  }

  return {
    hosts,
    login: { username, ...(privateKey ? { privateKey } : {}), ...(passphrase ? { passphrase } : {}), ...(password ? { password } : {}) },
    trust,
    insecure: trust.kind === 'insecure',
    ...(jump ? { jump } : {}),
    connectTimeoutMs: inputs.duration('connect-timeout') ?? 20_000,
    connectAttempts: inputs.integer('connect-attempts', { min: 1, max: 10 }) ?? 3,
    dockerSocket,
    dockerSockets,
  };
}
