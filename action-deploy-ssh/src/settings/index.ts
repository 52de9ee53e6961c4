// Every input, read once and validated before anything connects: a hostile or mistaken input
// stops here with a ConfigurationError that names the input and the fix.
import path from 'node:path';
import {
  ConfigurationError,
  formatDuration,
  Inputs,
  parseHostPort,
  parseByteSize,
  parseImageReference,
  registerSecret,
  type HostPort,
  type ImageReference,
} from '@gangway/kit';
import { parseFingerprint, parseKnownHosts, type HostKeyTrust } from '@gangway/kit/ssh';
import type { DeploymentSettings } from '../github-deployment.ts';

export const STRATEGIES = ['recreate', 'blue-green'] as const;
export type StrategyName = (typeof STRATEGIES)[number];
export const TARGETS = ['container', 'swarm'] as const;
export type TargetKind = (typeof TARGETS)[number];
export const ON_FAILURE = ['rollback', 'halt'] as const;
export type OnFailure = (typeof ON_FAILURE)[number];
export const RESTART_POLICIES = ['no', 'always', 'unless-stopped', 'on-failure'] as const;
export type RestartPolicy = (typeof RESTART_POLICIES)[number];

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

export interface VolumeMount {
  /** A named volume, or an absolute path on the server. */
  source: string;
  kind: 'volume' | 'bind';
  target: string;
  readOnly: boolean;
}

export interface Publish {
  hostIp?: string;
  hostPort: number;
}

/** `readiness-path`: an HTTP path probed from the server, or the image's own HEALTHCHECK. */
export type Readiness = { kind: 'http'; path: string } | { kind: 'docker' };

export interface DeploySettings {
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

  rollback: boolean;
  /** Undefined only with `rollback: true`. */
  image?: ImageReference;
  registry?: { username: string; password: string };

  app: string;
  containerPort?: number;
  publish?: Publish;
  /** Values are secrets: registered before this object exists, never printed or put in labels. */
  env: Map<string, string>;
  volumes: VolumeMount[];
  network?: string;
  restartPolicy: RestartPolicy;
  command?: string[];
  labels: Map<string, string>;

  strategy: StrategyName;
  target: TargetKind;
  /** blue-green: the managed nginx proxy's image. */
  proxyImage: ImageReference;
  /** blue-green: how long the old container may finish its in-flight requests after the switch. */
  drainTimeoutMs: number;
  /**
   * blue-green: how long the new container is watched after the switch while the old one keeps
   * running as nginx's backup; a new one that dies, restarts or turns unhealthy meanwhile is
   * rolled back. 0: off (the old one is stopped right after the drain).
   */
  settleMs: number;
  /** Hosts after the canary are deployed this many at a time. */
  maxParallel: number;
  /** What a failed host does to the hosts already switched. */
  onFailure: OnFailure;
  stopTimeoutMs: number;
  readiness: Readiness;
  readinessTimeoutMs: number;
  keep: number;
  /** Free space the Docker data-root must have before the pull (bytes); 0: no check. */
  minFreeSpaceBytes: number;
  lockTimeoutMs: number;
  lockTtlMs: number;
  preDeploy: string[][];
  postDeploy: string[][];
  /** Record a GitHub deployment (only with `environment`). */
  github?: DeploymentSettings;
  /** The commit being deployed, when given (else GITHUB_SHA). */
  sha?: string;
}

const APP = /^[a-z0-9][a-z0-9_.-]*$/;
const NETWORK = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const VOLUME_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const LABEL_KEY = /^[A-Za-z0-9][A-Za-z0-9_.\-/]*$/;
// Control characters other than tab: a value that holds them is a mistake or an attack.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f]/;
const USERNAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/;

/** The Docker socket on `host`: its own `host=path` line of docker-socket, else the common one. */
export function dockerSocketFor(settings: Pick<DeploySettings, 'dockerSocket' | 'dockerSockets'>, host: HostPort): string {
  return settings.dockerSockets.get(`${host.host}:${host.port}`) ?? settings.dockerSockets.get(host.host) ?? settings.dockerSocket;
}

export function validateAppName(raw: string, input = 'app'): string {
  if (!APP.test(raw) || raw.length > 63) {
    throw new ConfigurationError(
      `Input "${input}" is "${raw}", which is not an app name. Use 1 to 63 lower-case letters, digits, "_", "." and "-", starting with a letter or digit (for example "shop-web").`,
      input,
    );
  }
  if (raw.startsWith('gangway-lock')) {
    throw new ConfigurationError(`Input "${input}" is "${raw}": names starting with "gangway-lock" are reserved for the deploy lock. Choose another name.`, input);
  }
  return raw;
}

function validateUsername(raw: string, input: string): string {
  if (!USERNAME.test(raw)) {
    throw new ConfigurationError(`Input "${input}" is "${raw}", which is not a user name. Use letters, digits, "_", "." and "-".`, input);
  }
  return raw;
}

/** A clean absolute path: no `..` or `.` segments, no doubled slashes, no control characters. */
function absolutePath(raw: string, input: string, what: string): string {
  if (!raw.startsWith('/') || CONTROL.test(raw) || raw.includes(',') || /\s/.test(raw)) {
    throw new ConfigurationError(`Input "${input}": ${what} "${raw}" must be an absolute path without spaces, commas or control characters.`, input);
  }
  const segments = raw.split('/').slice(1);
  if (segments.some((s) => s === '..' || s === '.') || (raw !== '/' && path.posix.normalize(raw) !== raw.replace(/\/$/, ''))) {
    throw new ConfigurationError(`Input "${input}": ${what} "${raw}" must not contain "..", "." or empty segments. Write the plain absolute path.`, input);
  }
  return raw.replace(/\/$/, '') || '/';
}

export function parseVolumes(lines: string[], input = 'volumes'): VolumeMount[] {
  const targets = new Set<string>();
  return lines.map((line) => {
    const parts = line.split(':');
    if (parts.length < 2 || parts.length > 3) {
      throw new ConfigurationError(`Input "${input}": "${line}" is not "name:/path" or "name:/path:ro". Give one volume a line.`, input);
    }
    const [source = '', target = '', mode] = parts;
    if (mode !== undefined && mode !== 'ro' && mode !== 'rw') {
      throw new ConfigurationError(`Input "${input}": "${line}" ends in "${mode}"; the only modes are ro and rw.`, input);
    }
    let kind: VolumeMount['kind'];
    if (source.startsWith('/')) {
      absolutePath(source, input, 'the host path');
      if (source === '/') throw new ConfigurationError(`Input "${input}": "${line}" mounts the server's root directory. Mount a named volume or a specific directory.`, input);
      kind = 'bind';
    } else if (VOLUME_NAME.test(source) && source.length <= 128) {
      kind = 'volume';
    } else {
      throw new ConfigurationError(`Input "${input}": "${source}" is neither a volume name (letters, digits, _ . -) nor an absolute path.`, input);
    }
    const cleanTarget = absolutePath(target, input, 'the container path');
    if (cleanTarget === '/') throw new ConfigurationError(`Input "${input}": "${line}" mounts over the container's root. Use a directory such as /data.`, input);
    if (targets.has(cleanTarget)) throw new ConfigurationError(`Input "${input}": two volumes mount at ${cleanTarget}. Give each container path once.`, input);
    targets.add(cleanTarget);
    return { source, kind, target: cleanTarget, readOnly: mode === 'ro' };
  });
}

/**
 * Commands as argument arrays, one a line: either a JSON array of strings
 * (`["node", "migrate.js", "--to", "latest"]`) or plain words split on spaces. No shell ever
 * sees them, so quotes would not group anything: a line with quotes must be a JSON array.
 */
export function parseCommandLine(line: string, input: string): string[] {
  const trimmed = line.trim();
  if (trimmed.startsWith('[')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch {
      throw new ConfigurationError(`Input "${input}": ${trimmed} is not a valid JSON array. Write ["program", "arg", ...].`, input);
    }
    if (!Array.isArray(parsed) || parsed.length === 0 || !parsed.every((a) => typeof a === 'string')) {
      throw new ConfigurationError(`Input "${input}": ${trimmed} must be a non-empty JSON array of strings.`, input);
    }
    const args = parsed;
    if (args.some((a) => CONTROL.test(a)) || args[0] === '') throw new ConfigurationError(`Input "${input}": ${trimmed} holds control characters or an empty program.`, input);
    return args;
  }
  if (/["'`\\]/.test(trimmed)) {
    throw new ConfigurationError(
      `Input "${input}": "${trimmed}" has quotes or backslashes, but no shell runs it, so they would be passed literally. Write the command as a JSON array: ["program", "an arg with spaces"].`,
      input,
    );
  }
  return trimmed.split(/\s+/);
}

function parsePublish(raw: string, input: string): Publish {
  if (/^\d+$/.test(raw)) return { hostPort: parseHostPort(`127.0.0.1:${raw}`, input).port };
  const hp = parseHostPort(raw, input);
  if (!/^[\d.]+$/.test(hp.host) && !hp.host.includes(':')) {
    throw new ConfigurationError(`Input "${input}" is "${raw}": the address to publish on must be an IP address (for example 0.0.0.0:8080 or 198.19.0.1:8080), or give just the port.`, input);
  }
  return { hostIp: hp.host, hostPort: hp.port };
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

function validateEnv(env: Map<string, string>): void {
  for (const [key, value] of env) {
    if (CONTROL.test(value)) {
      throw new ConfigurationError(`Input "env": the value of ${key} holds control characters. Values are one line each; put multi-line data in a file on a volume.`, 'env');
    }
  }
}

/**
 * Reads and validates every input. Secrets (keys, passphrases, passwords, env values) are
 * registered with the runner's masker as they are read, before anything can print them.
 */
/** `environment` turns on GitHub deployment records; it then needs a token and a URL that parses. */
function readGitHubDeployment(inputs: Inputs, token: string | undefined): DeploymentSettings | undefined {
  const environment = inputs.string('environment');
  const environmentUrl = inputs.string('environment-url');
  if (environment === undefined) {
    if (environmentUrl !== undefined) throw new ConfigurationError('Input "environment-url" is set but "environment" is not. Name the environment, or drop environment-url.', 'environment-url');
    return undefined;
  }
  if (environment.length > 255 || CONTROL.test(environment)) {
    throw new ConfigurationError('Input "environment" must be one line of at most 255 characters, e.g. "production".', 'environment');
  }
  if (environmentUrl !== undefined && !/^https?:\/\/[^\s]+$/.test(environmentUrl)) {
    throw new ConfigurationError(`Input "environment-url" is "${environmentUrl}", which is not an http(s) URL.`, 'environment-url');
  }
  if (token === undefined) {
    throw new ConfigurationError('Input "github-token" is empty, and "environment" needs it to record the deployment. Leave github-token at its default (github.token) with permissions deployments: write.', 'github-token');
  }
  const apiUrl = inputs.string('api-url') ?? process.env['GITHUB_API_URL'] ?? 'https://api.github.com';
  return { environment, token, apiUrl, ...(environmentUrl ? { environmentUrl } : {}) };
}

export function readSettings(inputs: Inputs = new Inputs()): DeploySettings {
  // Secrets first: nothing below may print before they are masked.
  const githubToken = inputs.secret('github-token');
  const privateKey = inputs.secret('private-key');
  const passphrase = inputs.secret('passphrase');
  const password = inputs.secret('password');
  const proxyPrivateKey = inputs.secret('jump-private-key');
  const registryPassword = inputs.secret('registry-password');
  const env = inputs.keyValues('env');
  for (const value of env.values()) registerSecret(value);
  validateEnv(env);

  const strategyRaw = inputs.raw('strategy');
  const target = inputs.choice('target', TARGETS, 'container');
  if (target === 'swarm' && strategyRaw !== '') {
    throw new ConfigurationError(`Input "strategy" is "${strategyRaw}", which does not apply to target: swarm: Swarm itself updates the service (start-first, or stop-first with a published port). Leave strategy out.`, 'strategy');
  }

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
  const proxyJump = inputs.string('jump-host');
  if (proxyJump) {
    const target = parseUserAtHost(proxyJump, 'jump-host');
    const jumpTrust = trustFrom(inputs, 'jump-known-hosts', 'jump-fingerprint', insecure);
    if (!jumpTrust) {
      throw new ConfigurationError('Input "jump-host" is set but the jump host\'s key cannot be verified: give "jump-known-hosts" or "jump-fingerprint".', 'jump-known-hosts');
    }
    const key = proxyPrivateKey ?? privateKey;
    if (!key) throw new ConfigurationError('Input "jump-host" needs a key: give "jump-private-key" (or "private-key", which is then used for both).', 'jump-private-key');
    jump = { ...target, privateKey: key, trust: jumpTrust, ...(proxyPrivateKey ? {} : passphrase ? { passphrase } : {}) };
  }

  // One path for every server, or `host=path` lines where servers differ (rootless Docker, say).
  let dockerSocket = '/var/run/docker.sock';
  const dockerSockets = new Map<string, string>();
  for (const line of inputs.list('docker-socket', { commas: false })) {
    const eq = line.indexOf('=');
    if (eq === -1) dockerSocket = absolutePath(line, 'docker-socket', 'the socket path');
    else {
      const host = line.slice(0, eq).trim();
      if (!hosts.some((h) => h.host === host || `${h.host}:${h.port}` === host)) {
        throw new ConfigurationError(`Input "docker-socket": "${host}" is not one of the hosts in "host". Write host=path for a host listed there.`, 'docker-socket');
      }
      dockerSockets.set(host, absolutePath(line.slice(eq + 1).trim(), 'docker-socket', 'the socket path'));
    }
  }

  const rollback = inputs.boolean('rollback', false);
  const app = validateAppName(inputs.string('app', { required: true, hint: 'Name the app, e.g. "shop-web": containers, locks and retention are per app.' }));

  let image: ImageReference | undefined;
  const imageRaw = inputs.string('image');
  if (imageRaw !== undefined) {
    const parsed = parseImageReference(imageRaw, 'image');
    image = parsed.digest || parsed.tag ? parsed : { ...parsed, tag: 'latest' };
  } else if (!rollback) {
    throw new ConfigurationError('Input "image" is required (for example the image-ref output of action-build: registry/app@sha256:...), unless rollback: true.', 'image');
  }

  const registryUsername = inputs.string('registry-username');
  if ((registryUsername === undefined) !== (registryPassword === undefined)) {
    throw new ConfigurationError('Give both "registry-username" and "registry-password", or neither.', registryUsername === undefined ? 'registry-username' : 'registry-password');
  }

  const containerPort = inputs.port('container-port');
  const publishRaw = inputs.string('publish');
  const publish = publishRaw === undefined ? undefined : parsePublish(publishRaw, 'publish');
  if (publish && containerPort === undefined) {
    throw new ConfigurationError('Input "publish" needs "container-port": which port inside the container the server\'s port goes to.', 'container-port');
  }

  const readinessRaw = inputs.string('readiness-path') ?? '/readyz';
  let readiness: Readiness;
  if (readinessRaw === 'docker') readiness = { kind: 'docker' };
  else if (/^\/[A-Za-z0-9\-._~!$&'()*+,;=:@%/?]*$/.test(readinessRaw)) readiness = { kind: 'http', path: readinessRaw };
  else {
    throw new ConfigurationError(`Input "readiness-path" is "${readinessRaw}": give an HTTP path starting with "/" (for example /readyz), or "docker" to use the image's HEALTHCHECK.`, 'readiness-path');
  }
  if (readiness.kind === 'http' && containerPort === undefined) {
    throw new ConfigurationError('The HTTP readiness probe needs "container-port" (the port the app listens on inside the container), or set readiness-path: docker.', 'container-port');
  }

  const network = inputs.string('network');
  if (network !== undefined && (!NETWORK.test(network) || ['host', 'none'].includes(network))) {
    throw new ConfigurationError(`Input "network" is "${network}": give a Docker network name (letters, digits, _ . -). host and none are not supported: the readiness probe needs the container's own address.`, 'network');
  }

  // blue-green needs a public port for its proxy; it is the default whenever there is one.
  // target: swarm has no container strategy (Swarm updates the service); 'recreate' only stands in.
  const strategy: StrategyName = target === 'swarm' ? 'recreate' : strategyRaw === '' ? (publish ? 'blue-green' : 'recreate') : inputs.choice('strategy', STRATEGIES, 'recreate');
  if (strategy === 'blue-green' && !publish) {
    throw new ConfigurationError(
      'Input "strategy" is "blue-green", which needs "publish": the managed nginx proxy holds that port and switches it between the old and the new container. Give publish (e.g. 8080 or 0.0.0.0:80), or use strategy: recreate.',
      'publish',
    );
  }
  const proxyImageRaw = inputs.string('proxy-image') ?? 'nginx:stable';
  const proxyImageParsed = parseImageReference(proxyImageRaw, 'proxy-image');
  const proxyImage = proxyImageParsed.digest || proxyImageParsed.tag ? proxyImageParsed : { ...proxyImageParsed, tag: 'latest' };
  // The app containers of a blue-green deploy sit on a private network; the proxy reaches them there by name.
  const appNetwork = network ?? (strategy === 'blue-green' ? `${app}-net` : undefined);

  const settleMs = inputs.duration('settle-time') ?? 5_000;
  if (settleMs > 3_600_000) {
    throw new ConfigurationError(`Input "settle-time" is ${inputs.raw('settle-time')}: at most 1h (the old container keeps running, and the deploy lock stays held, for that long). Use e.g. 30s, or 0s to turn it off.`, 'settle-time');
  }

  const commandRaw = inputs.string('command');
  const command = commandRaw === undefined ? undefined : parseCommandLine(commandRaw, 'command');

  const labels = inputs.keyValues('labels', { keyPattern: LABEL_KEY });
  for (const [key, value] of labels) {
    if (key.startsWith('gangway.')) throw new ConfigurationError(`Input "labels": "${key}" uses the reserved prefix gangway. (Gangway's own labels). Choose another key.`, 'labels');
    if (CONTROL.test(value)) throw new ConfigurationError(`Input "labels": the value of ${key} holds control characters.`, 'labels');
  }

  const commands = (input: string): string[][] => inputs.list(input, { commas: false }).map((line) => parseCommandLine(line, input));
  const preDeploy = commands('pre-deploy');
  const postDeploy = commands('post-deploy');
  if (target === 'swarm') {
    if (hosts.length !== 1) throw new ConfigurationError(`target: swarm deploys to one Swarm manager; "host" lists ${hosts.length}. Give the manager only (Swarm places the tasks).`, 'host');
    if (preDeploy.length > 0 || postDeploy.length > 0) throw new ConfigurationError('pre-deploy and post-deploy hooks are not supported with target: swarm yet. Run them in the app\'s entrypoint, or use target: container.', preDeploy.length > 0 ? 'pre-deploy' : 'post-deploy');
  }
  const github = readGitHubDeployment(inputs, githubToken);
  const sha = inputs.string('sha');
  if (sha !== undefined && !/^[0-9a-f]{7,64}$/i.test(sha)) {
    throw new ConfigurationError(`Input "sha" is "${sha}", which is not a commit sha. Give the full hex sha (e.g. github.sha).`, 'sha');
  }

  const readinessTimeoutMs = inputs.duration('readiness-timeout') ?? 60_000;
  if (readinessTimeoutMs > 3_600_000) {
    throw new ConfigurationError(`Input "readiness-timeout" is ${inputs.raw('readiness-timeout')}: at most 1h (the deploy lock stays held while the new container gets ready). Use e.g. 90s.`, 'readiness-timeout');
  }

  const settings: DeploySettings = {
    ...(github ? { github } : {}),
    ...(sha ? { sha } : {}),
    hosts,
    login: { username, ...(privateKey ? { privateKey } : {}), ...(passphrase ? { passphrase } : {}), ...(password ? { password } : {}) },
    trust,
    insecure: trust.kind === 'insecure',
    ...(jump ? { jump } : {}),
    connectTimeoutMs: inputs.duration('connect-timeout') ?? 20_000,
    connectAttempts: inputs.integer('connect-attempts', { min: 1, max: 10 }) ?? 3,
    dockerSocket,
    dockerSockets,
    rollback,
    ...(image ? { image } : {}),
    ...(registryUsername && registryPassword ? { registry: { username: registryUsername, password: registryPassword } } : {}),
    app,
    ...(containerPort === undefined ? {} : { containerPort }),
    ...(publish ? { publish } : {}),
    env,
    volumes: parseVolumes(inputs.list('volumes', { commas: false }), 'volumes'),
    ...(appNetwork ? { network: appNetwork } : {}),
    restartPolicy: inputs.choice('restart-policy', RESTART_POLICIES, 'unless-stopped'),
    ...(command ? { command } : {}),
    labels,
    strategy,
    target,
    proxyImage,
    drainTimeoutMs: inputs.duration('drain-timeout') ?? 30_000,
    settleMs,
    maxParallel: inputs.integer('max-parallel', { min: 1, max: 100 }) ?? 1,
    onFailure: inputs.choice('on-failure', ON_FAILURE, 'rollback'),
    stopTimeoutMs: inputs.duration('stop-timeout') ?? 30_000,
    readiness,
    readinessTimeoutMs,
    keep: inputs.integer('keep', { min: 1, max: 50 }) ?? 3,
    minFreeSpaceBytes: parseByteSize(inputs.string('min-free-space') ?? '1GiB', 'min-free-space'),
    lockTimeoutMs: inputs.duration('lock-timeout') ?? 600_000,
    lockTtlMs: inputs.duration('lock-ttl') ?? 1_800_000,
    preDeploy,
    postDeploy,
  };
  // Another run takes a lock over once it is older than its lock-ttl (since its last heartbeat):
  // a lock-ttl shorter than this run's own phases under the lock would invite that mid-deploy.
  const guarded = lockGuardedMs(settings);
  if (settings.lockTtlMs < guarded) {
    throw new ConfigurationError(
      `Input "lock-ttl" is ${inputs.raw('lock-ttl') || formatDuration(settings.lockTtlMs)}, shorter than the longest this deploy can hold its lock: at least ${formatDuration(guarded)} (${lockGuardedParts(settings)}). Raise lock-ttl to ${formatDuration(guarded)} or more, or shorten those timeouts.`,
      'lock-ttl',
    );
  }
  return settings;
}

/** What a proxy switch may take besides the Engine calls: nginx starting its new workers (proxy.ts waits at most 10 s). */
const PROXY_SWITCH_MS = 10_000;
/** The Engine calls between the bounded waits (create, start, inspect, put-archive, retention, unlock). */
const ENGINE_CALLS_MS = 20_000;
/** Swarm's monitor window and the slack its wait adds (swarm.ts). */
const SWARM_WAIT_EXTRA_MS = 20_000;

function lockGuardedTerms(s: DeploySettings): Array<[string, number]> {
  const readiness: [string, number] = ['readiness-timeout', s.readinessTimeoutMs];
  const stop: [string, number] = ['stop-timeout', s.stopTimeoutMs];
  const engine: [string, number] = ['Engine calls', ENGINE_CALLS_MS];
  if (s.target === 'swarm') {
    // The update's verdict, then at worst a restore that waits as long again.
    const wait = s.readinessTimeoutMs + s.stopTimeoutMs + SWARM_WAIT_EXTRA_MS;
    return [['Swarm update (readiness-timeout + stop-timeout + 20s)', wait], ['Swarm restore', wait], engine];
  }
  if (s.strategy === 'recreate') {
    // Stop the old, get the new ready; on failure the old one's readiness again (at most 30 s).
    return [stop, readiness, ['the old one ready again', Math.min(s.readinessTimeoutMs, 30_000)], engine];
  }
  return [
    readiness,
    ['switch', PROXY_SWITCH_MS],
    ['settle-time', s.settleMs],
    ...(s.settleMs > 0 ? [['switch after settle', PROXY_SWITCH_MS] as [string, number]] : []),
    ['drain-timeout', s.drainTimeoutMs],
    stop,
    engine,
  ];
}

/**
 * The longest the phases under the deploy lock can take, as far as inputs bound them: the
 * lock-ttl must not be shorter. pre-/post-deploy hooks have no timeout of their own: the lock's
 * heartbeat covers them (and every phase) while the deploy runs.
 */
export function lockGuardedMs(s: DeploySettings): number {
  return lockGuardedTerms(s).reduce((sum, [, ms]) => sum + ms, 0);
}

function lockGuardedParts(s: DeploySettings): string {
  return lockGuardedTerms(s)
    .filter(([, ms]) => ms > 0)
    .map(([name, ms]) => `${name} ${formatDuration(ms)}`)
    .join(' + ');
}
