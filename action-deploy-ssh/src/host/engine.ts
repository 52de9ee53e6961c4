// The few Docker Engine API calls a deploy makes, behind one small interface: the real one
// runs dockerode over the SSH connection; unit tests hand the deploy logic a fake.
import type Docker from 'dockerode';
import { demuxDockerOutput, DockerStreamDemuxer, engineStatusCode, EngineStreamError, isEngineNotFound, isEngineStatus, messageError, readJsonMessages, toError, type DockerStreamChunk, type ProgressMessage } from '@gangway/kit';

/** A container by its id and its name, as reports and logs name it. */
export interface ContainerRef {
  id: string;
  name: string;
}

export interface ContainerSummary {
  id: string;
  name: string;
  /** The image reference the container was created from (Config.Image). */
  image: string;
  imageId: string;
  /** created, running, exited, … */
  state: string;
  labels: Record<string, string>;
  /** Unix seconds. */
  created: number;
}

export interface HealthLogEntry {
  start: string;
  exitCode: number;
  output: string;
}

export interface ContainerDetails extends ContainerSummary {
  running: boolean;
  exitCode: number;
  /** Docker's HEALTHCHECK state, when the image has one. */
  health?: { status: string; log: HealthLogEntry[] };
  /** How often the engine restarted it (restart policy), and when it last started: a crash shows in either. */
  restartCount?: number;
  startedAt?: string;
  /** IP address per network. */
  addresses: Record<string, string>;
  /** Where its data lives: each mount's kind (volume, bind, tmpfs), its volume name or host path, and its path inside. */
  mounts?: Array<{ type: string; source: string; destination: string }>;
  /** What is needed to create the same container again (rollback from a retained digest). */
  createOptions: ContainerCreateOptions;
}

export type ContainerCreateOptions = Docker.ContainerCreateOptions & { name: string; Image: string };

export interface ImageDetails {
  id: string;
  repoDigests: string[];
  hasHealthcheck: boolean;
}

export interface ExecResult {
  exitCode: number;
  output: string;
}

export type RemoveImageResult = 'removed' | 'in-use' | 'missing';

/** A name clash on create: the Engine's 409 (how the lock knows someone else holds it). */
export class NameConflictError extends Error {
  constructor(name: string) {
    super(`a container named ${name} already exists`);
    this.name = 'NameConflictError';
  }
}

export interface DeployEngine {
  pull(repository: string, tagOrDigest: string, authHeader: string | undefined, onMessage: (m: ProgressMessage) => void): Promise<void>;
  inspectImage(reference: string): Promise<ImageDetails | undefined>;
  /** Every container (running or not) that carries all of these labels. */
  listContainers(labels: Record<string, string>): Promise<ContainerSummary[]>;
  inspectContainer(idOrName: string): Promise<ContainerDetails | undefined>;
  /** Throws NameConflictError when the name is taken. Returns the id. */
  createContainer(options: ContainerCreateOptions): Promise<string>;
  startContainer(id: string): Promise<void>;
  /** SIGTERM (or the image's STOPSIGNAL), then SIGKILL after `timeoutSeconds`. */
  stopContainer(id: string, timeoutSeconds: number): Promise<void>;
  /** `anonymousVolumes`: also the unnamed volumes the engine made for it (an image's VOLUME), as docker rm -v; named volumes never. */
  removeContainer(id: string, options?: { force?: boolean; anonymousVolumes?: boolean }): Promise<void>;
  /** A retained (stopped) container must not come back when dockerd restarts: its policy goes to `no`. */
  updateRestartPolicy(id: string, policy: string): Promise<void>;
  /** Waits until the container exits; its exit code. */
  waitContainer(id: string, signal?: AbortSignal): Promise<number>;
  logs(id: string, tail: number): Promise<string>;
  exec(id: string, argv: string[], signal?: AbortSignal): Promise<ExecResult>;
  removeImage(id: string): Promise<RemoveImageResult>;
  /** Extracts a tar archive into `path` of the container (created or running). */
  putArchive(id: string, path: string, tar: Buffer): Promise<void>;
  /** The content of one regular file of a container (created or running); undefined when it has none there. */
  readFile(id: string, path: string): Promise<string | undefined>;
  renameContainer(id: string, name: string): Promise<void>;
  /** Attaches the running container to `network` again with these aliases only (a standby gives up the app's name). */
  setNetworkAliases(id: string, network: string, aliases: string[]): Promise<void>;
  networkExists(name: string): Promise<boolean>;
  createNetwork(name: string, labels: Record<string, string>): Promise<void>;
  /** Whether a named volume exists (an accessory's data, before its upgrade). */
  volumeExists(name: string): Promise<boolean>;
  /** The engine's clock (stale-lock decisions use one clock for every runner): read once, then kept as an offset from the runner's. */
  now(): Promise<Date>;
  /** The container runtimes the engine knows (docker info's Runtimes: runc, and nvidia once the NVIDIA toolkit is set up). */
  runtimes(): Promise<string[]>;
}

/** Runs `argv` in the container; its output, or an error naming `what` with the exit code and output. */
export async function mustExec(engine: DeployEngine, id: string, argv: string[], what: string): Promise<string> {
  const r = await engine.exec(id, argv);
  if (r.exitCode !== 0) throw new Error(`${what} failed (exit ${r.exitCode}): ${r.output.trim()}`);
  return r.output;
}

/** Whether the engine has the network `name` (both targets' engines ask this). */
export async function hasNetwork(docker: Docker, name: string): Promise<boolean> {
  try {
    await docker.getNetwork(name).inspect();
    return true;
  } catch (error) {
    if (isEngineNotFound(error)) return false;
    throw error;
  }
}

/** Creates a network; one of that name made meanwhile (another deploy) is as good. */
export async function createNetworkOnce(docker: Docker, options: Docker.NetworkCreateOptions): Promise<void> {
  try {
    await docker.createNetwork({ CheckDuplicate: true, ...options });
  } catch (error) {
    if (engineStatusCode(error) !== 409) throw error;
  }
}

/** The content of the first regular file of a tar archive (the Engine's get-archive of one file). */
export function firstTarFile(tar: Buffer): string | undefined {
  for (let offset = 0; offset + 512 <= tar.length; ) {
    const name = tar.subarray(offset, offset + 100).toString('utf8').replace(/\0.*$/s, '');
    if (name === '') return undefined;
    const size = Number.parseInt(tar.subarray(offset + 124, offset + 136).toString('utf8').replace(/\0.*$/s, '').trim() || '0', 8);
    const type = String.fromCharCode(tar[offset + 156] ?? 0);
    if (type === '0' || type === '\0') return tar.subarray(offset + 512, offset + 512 + size).toString('utf8');
    offset += 512 + Math.ceil(size / 512) * 512;
  }
  return undefined;
}

interface RawInspect {
  Mounts?: Array<{ Type: string; Name?: string; Source: string; Destination: string }>;
  Id: string;
  Name: string;
  Created: string;
  Image: string;
  RestartCount?: number;
  State: { Status: string; Running: boolean; ExitCode: number; StartedAt?: string; Health?: { Status: string; Log?: Array<{ Start: string; ExitCode: number; Output: string }> } };
  Config: Docker.ContainerCreateOptions & { Labels?: Record<string, string>; Image: string };
  HostConfig: Docker.HostConfig;
  NetworkSettings: { Networks?: Record<string, { IPAddress?: string; Aliases?: string[] | null }> };
}

function createOptionsFrom(raw: RawInspect): ContainerCreateOptions {
  const { Hostname: _h, Domainname: _d, ...config } = raw.Config as Docker.ContainerCreateOptions & { Hostname?: string; Domainname?: string };
  const networks = raw.NetworkSettings.Networks ?? {};
  const endpoints: Record<string, { Aliases?: string[] }> = {};
  for (const [name, n] of Object.entries(networks)) {
    if (['bridge', 'host', 'none'].includes(name)) continue;
    endpoints[name] = { ...(n.Aliases ? { Aliases: n.Aliases.filter((a) => !raw.Id.startsWith(a)) } : {}) };
  }
  return {
    ...config,
    name: raw.Name.replace(/^\//, ''),
    Image: raw.Config.Image,
    HostConfig: raw.HostConfig,
    ...(Object.keys(endpoints).length > 0 ? { NetworkingConfig: { EndpointsConfig: endpoints } } : {}),
  };
}

/** What `docker info` says that Gangway reads. */
export interface DockerInfo {
  SystemTime?: string;
  DockerRootDir?: unknown;
}

/** The engine clock's offset from this runner's, taken when `info` answers. */
function clockOffsetOf(info: Promise<DockerInfo>): Promise<number> {
  return info.then((i) => {
    const t = i.SystemTime ? Date.parse(i.SystemTime) : Number.NaN;
    return Number.isFinite(t) ? t - Date.now() : 0;
  });
}

/**
 * The DeployEngine of a dockerode client (over SSH in the action, over a local socket in tests).
 * `info`: a `docker info` asked already, whose clock the engine's now() starts from.
 */
export function dockerEngine(docker: Docker, info?: Promise<DockerInfo>): DeployEngine {
  // One `docker info` per connection: the engine clock's offset from this runner's, which stays
  // put for a deploy's minutes.
  let clockOffset = info ? clockOffsetOf(info) : undefined;
  // Asked ahead, it may fail before anything needs the clock: now() then asks again.
  clockOffset?.catch(() => undefined);
  return {
    async pull(repository, tagOrDigest, authHeader, onMessage) {
      const stream = (await docker.createImage(authHeader ? { key: authHeader } : {}, { fromImage: repository, tag: tagOrDigest }));
      for await (const message of readJsonMessages(stream as AsyncIterable<Buffer>)) {
        const error = messageError(message);
        if (error) throw new EngineStreamError(error, message.errorDetail?.code);
        onMessage(message);
      }
    },
    async inspectImage(reference) {
      try {
        const info = await docker.getImage(reference).inspect();
        const healthcheck = (info.Config as { Healthcheck?: { Test?: string[] } }).Healthcheck;
        return { id: info.Id, repoDigests: info.RepoDigests ?? [], hasHealthcheck: !!healthcheck?.Test && healthcheck.Test[0] !== 'NONE' };
      } catch (error) {
        if (isEngineNotFound(error)) return undefined;
        throw error;
      }
    },
    async listContainers(labels) {
      const list = await docker.listContainers({ all: true, filters: { label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) } });
      return list.map((c) => ({
        id: c.Id,
        name: (c.Names[0] ?? '').replace(/^\//, ''),
        image: c.Image,
        imageId: c.ImageID,
        state: c.State,
        labels: c.Labels,
        created: c.Created,
      }));
    },
    async inspectContainer(idOrName) {
      let raw: RawInspect;
      try {
        raw = await docker.getContainer(idOrName).inspect();
      } catch (error) {
        if (isEngineNotFound(error)) return undefined;
        throw error;
      }
      const addresses: Record<string, string> = {};
      for (const [name, n] of Object.entries(raw.NetworkSettings.Networks ?? {})) if (n.IPAddress) addresses[name] = n.IPAddress;
      const health = raw.State.Health;
      return {
        id: raw.Id,
        name: raw.Name.replace(/^\//, ''),
        image: raw.Config.Image,
        imageId: raw.Image,
        state: raw.State.Status,
        labels: raw.Config.Labels ?? {},
        created: Math.floor(Date.parse(raw.Created) / 1000),
        running: raw.State.Running,
        exitCode: raw.State.ExitCode,
        ...(raw.RestartCount === undefined ? {} : { restartCount: raw.RestartCount }),
        ...(raw.State.StartedAt ? { startedAt: raw.State.StartedAt } : {}),
        ...(health ? { health: { status: health.Status, log: (health.Log ?? []).map((l) => ({ start: l.Start, exitCode: l.ExitCode, output: l.Output })) } } : {}),
        addresses,
        mounts: (raw.Mounts ?? []).map((m) => ({ type: m.Type, source: m.Type === 'volume' ? (m.Name ?? '') : m.Source, destination: m.Destination })),
        createOptions: createOptionsFrom(raw),
      };
    },
    async createContainer(options) {
      try {
        const container = await docker.createContainer(options);
        return container.id;
      } catch (error) {
        if (engineStatusCode(error) === 409) throw new NameConflictError(options.name);
        throw error;
      }
    },
    async startContainer(id) {
      try {
        await docker.getContainer(id).start();
      } catch (error) {
        if (!isEngineStatus(error, 304)) throw error;
      }
    },
    async stopContainer(id, timeoutSeconds) {
      try {
        await docker.getContainer(id).stop({ t: timeoutSeconds });
      } catch (error) {
        if (!isEngineStatus(error, 304, 404)) throw error;
      }
    },
    async removeContainer(id, options = {}) {
      try {
        await docker.getContainer(id).remove({ force: options.force ?? false, v: options.anonymousVolumes ?? false });
      } catch (error) {
        if (!isEngineNotFound(error)) throw error;
      }
    },
    async updateRestartPolicy(id, policy) {
      await docker.getContainer(id).update({ RestartPolicy: { Name: policy, ...(policy === 'on-failure' ? { MaximumRetryCount: 5 } : {}) } });
    },
    async waitContainer(id, signal) {
      const result = (await docker.getContainer(id).wait({ abortSignal: signal } as object)) as { StatusCode: number };
      return result.StatusCode;
    },
    async logs(id, tail) {
      const buffer = await docker.getContainer(id).logs({ stdout: true, stderr: true, tail, follow: false });
      return demuxDockerOutput(Buffer.isBuffer(buffer) ? buffer : Buffer.from(String(buffer))).text;
    },
    async exec(id, argv, signal) {
      const exec = await docker.getContainer(id).exec({ Cmd: argv, AttachStdout: true, AttachStderr: true });
      const stream = await exec.start({ hijack: true, stdin: false });
      // stdout and stderr in the order the engine sent them, each decoded across frame boundaries.
      const demuxer = new DockerStreamDemuxer();
      let output = '';
      const take = (chunks: DockerStreamChunk[]): void => {
        for (const c of chunks) output += c.text;
      };
      stream.on('data', (c: Buffer) => take(demuxer.push(c)));
      await new Promise<void>((resolve, reject) => {
        const onAbort = (): void => {
          stream.destroy();
          reject(toError(signal?.reason ?? 'aborted'));
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        stream.on('end', resolve);
        stream.on('close', resolve);
        stream.on('error', reject);
      });
      take(demuxer.end());
      const info = await exec.inspect();
      return { exitCode: info.ExitCode ?? -1, output };
    },
    async removeImage(id) {
      try {
        await docker.getImage(id).remove({ force: false, noprune: false });
        return 'removed';
      } catch (error) {
        if (isEngineNotFound(error)) return 'missing';
        if (engineStatusCode(error) === 409) return 'in-use';
        throw error;
      }
    },
    async putArchive(id, path, tar) {
      await docker.getContainer(id).putArchive(tar, { path });
    },
    async readFile(id, path) {
      let stream: NodeJS.ReadableStream;
      try {
        stream = await docker.getContainer(id).getArchive({ path });
      } catch (error) {
        if (isEngineNotFound(error)) return undefined;
        throw error;
      }
      const chunks: Buffer[] = [];
      for await (const chunk of stream as AsyncIterable<Buffer>) chunks.push(Buffer.from(chunk));
      return firstTarFile(Buffer.concat(chunks));
    },
    async renameContainer(id, name) {
      await docker.getContainer(id).rename({ name });
    },
    async setNetworkAliases(id, network, aliases) {
      // An endpoint's aliases are fixed while it is connected: leave, and join again with the new ones.
      const net = docker.getNetwork(network);
      await net.disconnect({ Container: id, Force: false });
      await net.connect({ Container: id, EndpointConfig: { Aliases: aliases } });
    },
    networkExists: (name) => hasNetwork(docker, name),
    createNetwork: (name, labels) => createNetworkOnce(docker, { Name: name, Labels: labels }),
    async volumeExists(name) {
      try {
        await docker.getVolume(name).inspect();
        return true;
      } catch (error) {
        if ((error as { statusCode?: number }).statusCode === 404) return false;
        throw error;
      }
    },
    async runtimes() {
      const info = (await docker.info()) as { Runtimes?: Record<string, unknown> };
      return Object.keys(info.Runtimes ?? {});
    },
    async now() {
      const ask = (): Promise<number> => (clockOffset = clockOffsetOf(docker.info() as Promise<DockerInfo>));
      let offset: number;
      try {
        offset = await (clockOffset ?? ask());
      } catch {
        // The last ask (at connect, or by an earlier call) failed: one more, whose failure is the caller's.
        offset = await ask();
      }
      return new Date(Date.now() + offset);
    },
  };
}
