// What runs: the app's name, its image and registry login, and how its container (or Swarm
// task) is made: ports, env, volumes, network, command, labels, readiness and hooks.
import { ConfigurationError, parseHostPort, parseImageReference, type ImageReference, type Inputs } from '@gangway/kit';
import { absolutePath, CONTROL, parseCommandLine } from './values.ts';

export const RESTART_POLICIES = ['no', 'always', 'unless-stopped', 'on-failure'] as const;
export type RestartPolicy = (typeof RESTART_POLICIES)[number];

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

/**
 * `gpus`, as `docker run --gpus` takes it: every GPU (`count: -1`), a number of them, or the ones named
 * (an index, or a GPU-/MIG- UUID as nvidia-smi -L prints it). The engine's NVIDIA device driver serves them.
 */
export type GpuRequest = { count: number } | { deviceIds: string[] };

/** `readiness-path`: an HTTP path probed from the server, or the image's own HEALTHCHECK. */
export type Readiness = { kind: 'http'; path: string } | { kind: 'docker' };

export interface ContainerSettings {
  app: string;
  /** Undefined only with `rollback: true`. */
  image?: ImageReference;
  registry?: { username: string; password: string };
  containerPort?: number;
  publish?: Publish;
  /** Values are secrets: registered before this object exists, never printed or put in labels. */
  env: Map<string, string>;
  volumes: VolumeMount[];
  /** The network the user named (blue-green adds `<app>-net` when none is named: see settings/index.ts). */
  network?: string;
  restartPolicy: RestartPolicy;
  command?: string[];
  labels: Map<string, string>;
  readiness: Readiness;
  readinessTimeoutMs: number;
  stopTimeoutMs: number;
  preDeploy: string[][];
  postDeploy: string[][];
  gpus?: GpuRequest;
}

const APP = /^[a-z0-9][a-z0-9_.-]*$/;
const NETWORK = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const VOLUME_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const LABEL_KEY = /^[A-Za-z0-9][A-Za-z0-9_.\-/]*$/;

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

function parsePublish(raw: string, input: string): Publish {
  if (/^\d+$/.test(raw)) return { hostPort: parseHostPort(`127.0.0.1:${raw}`, input).port };
  const hp = parseHostPort(raw, input);
  if (!/^[\d.]+$/.test(hp.host) && !hp.host.includes(':')) {
    throw new ConfigurationError(`Input "${input}" is "${raw}": the address to publish on must be an IP address (for example 0.0.0.0:8080 or 198.19.0.1:8080), or give just the port.`, input);
  }
  return { hostIp: hp.host, hostPort: hp.port };
}

function validateEnv(env: Map<string, string>): void {
  for (const [key, value] of env) {
    if (CONTROL.test(value)) {
      throw new ConfigurationError(`Input "env": the value of ${key} holds control characters. Values are one line each; put multi-line data in a file on a volume.`, 'env');
    }
  }
}

const GPU_ID = /^(\d{1,3}|(GPU|MIG)-[A-Za-z0-9-]{1,64}|MIG-GPU-[A-Za-z0-9-]{1,64}\/\d+\/\d+)$/;

/** `gpus`: all, a count, or device=ID[,ID] (docker run --gpus's forms, without its driver or capability options). */
export function parseGpus(raw: string, input = 'gpus'): GpuRequest {
  const value = raw.trim();
  if (value === 'all') return { count: -1 };
  if (/^\d+$/.test(value)) {
    const count = Number(value);
    if (count >= 1 && count <= 64) return { count };
  }
  const devices = /^"?device=([^"]+)"?$/.exec(value)?.[1]?.split(',').map((id) => id.trim());
  if (devices && devices.length > 0 && devices.every((id) => GPU_ID.test(id)) && new Set(devices).size === devices.length) return { deviceIds: devices };
  throw new ConfigurationError(
    `Input "${input}" is "${raw}", which is not a GPU request the engine takes. Give all, a number of GPUs (1 to 64), or device=ID[,ID] with IDs as nvidia-smi -L shows them (an index such as 0, or a GPU-... / MIG-... UUID), each once.`,
    input,
  );
}

/** `env` is read (and its values masked) with the other secrets, before this runs. */
/** `imageOptional`: rollback: true, or a maintenance switch (no container is made). */
export function readContainer(inputs: Inputs, secrets: { env: Map<string, string>; registryPassword?: string | undefined }, imageOptional: boolean): ContainerSettings {
  const { env, registryPassword } = secrets;
  validateEnv(env);
  const app = validateAppName(inputs.string('app', { required: true, hint: 'Name the app, e.g. "shop-web": containers, locks and retention are per app.' }));

  let image: ImageReference | undefined;
  const imageRaw = inputs.string('image');
  if (imageRaw !== undefined) {
    const parsed = parseImageReference(imageRaw, 'image');
    image = parsed.digest || parsed.tag ? parsed : { ...parsed, tag: 'latest' };
  } else if (!imageOptional) {
    throw new ConfigurationError('Input "image" is required (for example the image-ref output of action-build: registry/app@sha256:...), unless rollback: true (or maintenance is switched alone, with hostname).', 'image');
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

  const commandRaw = inputs.string('command');
  const command = commandRaw === undefined ? undefined : parseCommandLine(commandRaw, 'command');

  const labels = inputs.keyValues('labels', { keyPattern: LABEL_KEY });
  for (const [key, value] of labels) {
    if (key.startsWith('gangway.')) throw new ConfigurationError(`Input "labels": "${key}" uses the reserved prefix gangway. (Gangway's own labels). Choose another key.`, 'labels');
    if (CONTROL.test(value)) throw new ConfigurationError(`Input "labels": the value of ${key} holds control characters.`, 'labels');
  }

  const gpusRaw = inputs.string('gpus');
  const gpus = gpusRaw === undefined ? undefined : parseGpus(gpusRaw);
  const commands = (input: string): string[][] => inputs.list(input, { commas: false }).map((line) => parseCommandLine(line, input));

  const readinessTimeoutMs = inputs.duration('readiness-timeout') ?? 60_000;
  if (readinessTimeoutMs > 3_600_000) {
    throw new ConfigurationError(`Input "readiness-timeout" is ${inputs.raw('readiness-timeout')}: at most 1h (the deploy lock stays held while the new container gets ready). Use e.g. 90s.`, 'readiness-timeout');
  }

  return {
    app,
    ...(image ? { image } : {}),
    ...(registryUsername && registryPassword ? { registry: { username: registryUsername, password: registryPassword } } : {}),
    ...(containerPort === undefined ? {} : { containerPort }),
    ...(publish ? { publish } : {}),
    env,
    volumes: parseVolumes(inputs.list('volumes', { commas: false }), 'volumes'),
    ...(network ? { network } : {}),
    restartPolicy: inputs.choice('restart-policy', RESTART_POLICIES, 'unless-stopped'),
    ...(command ? { command } : {}),
    labels,
    readiness,
    readinessTimeoutMs,
    stopTimeoutMs: inputs.duration('stop-timeout') ?? 30_000,
    preDeploy: commands('pre-deploy'),
    postDeploy: commands('post-deploy'),
    ...(gpus ? { gpus } : {}),
  };
}
