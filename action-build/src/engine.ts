import type { Readable } from 'node:stream';
import Docker from 'dockerode';
import { openBuildkitSession } from './buildkit-session.ts';
import {
  demuxDockerOutput,
  dockerModemOptions,
  errorMessage,
  readJsonMessages,
  registryAuthHeader,
  toError,
  type DockerHost,
  type ProgressMessage,
  type RegistryCredentials,
} from '@gangway/kit';

export interface EngineInfo {
  version: string;
  apiVersion: string;
  os: string;
  arch: string;
  /** BuildKit answers through the API (`version: '2'`): API 1.39 and later on Linux. */
  buildkit: boolean;
}

export interface BuildRequest {
  context: Readable;
  dockerfile: string;
  builder: 'buildkit' | 'classic';
  target?: string;
  buildArgs: Record<string, string>;
  labels: Record<string, string>;
  platform?: string;
  cacheFrom: string[];
  noCache: boolean;
  /** Used for cache imports and base-image pulls during the build. */
  credentials?: RegistryCredentials;
  signal?: AbortSignal;
}

export interface ImageFacts {
  id: string;
  sizeBytes: number;
  repoDigests: string[];
  labels: Record<string, string>;
}

export interface RunResult {
  exitCode: number;
  output: string;
}

/** The few Docker Engine calls the action makes; a fake in unit tests, dockerode in use. */
export interface BuildEngine {
  /** Where the engine is, for messages: `unix:///var/run/docker.sock`. */
  readonly where: string;
  info(): Promise<EngineInfo>;
  /** Checks credentials against the registry (the engine logs in, keeps nothing). */
  checkAuth(credentials: RegistryCredentials): Promise<void>;
  build(request: BuildRequest): AsyncIterable<ProgressMessage>;
  inspectImage(ref: string): Promise<ImageFacts>;
  tagImage(id: string, repository: string, tag: string): Promise<void>;
  push(repository: string, tag: string, credentials: RegistryCredentials | undefined, signal?: AbortSignal): AsyncIterable<ProgressMessage>;
  pull(reference: string, credentials: RegistryCredentials | undefined, signal?: AbortSignal): AsyncIterable<ProgressMessage>;
  /** Runs `command` in a throwaway container of `image` and returns its exit code and output. */
  run(image: string, command: string[], signal?: AbortSignal): Promise<RunResult>;
}

/** The engine could not be reached at all: the message says where the action looked. */
export class EngineUnreachableError extends Error {
  constructor(where: string, cause: unknown) {
    super(
      `Cannot reach the Docker engine at ${where} (input "docker-host", else DOCKER_HOST, else /var/run/docker.sock): ${errorMessage(cause)}. ` +
        'Check that dockerd runs there and that this job may use its socket.',
    );
    this.name = 'EngineUnreachableError';
  }
}

function isConnectionError(error: unknown): boolean {
  const code = (error as { code?: string } | undefined)?.code;
  return code !== undefined && ['ENOENT', 'ECONNREFUSED', 'EACCES', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'ECONNRESET'].includes(code);
}

function apiAtLeast(version: string, wanted: string): boolean {
  const [a = 0, b = 0] = version.split('.').map(Number);
  const [c = 0, d = 0] = wanted.split('.').map(Number);
  return a > c || (a === c && b >= d);
}

/** The Docker Engine API through dockerode. */
export class DockerodeEngine implements BuildEngine {
  readonly where: string;
  readonly docker: Docker;

  constructor(host: DockerHost) {
    this.where = host.url;
    this.docker = new Docker(dockerModemOptions(host));
  }

  async info(): Promise<EngineInfo> {
    try {
      const v = await this.docker.version();
      return {
        version: v.Version,
        apiVersion: v.ApiVersion,
        os: v.Os,
        arch: v.Arch,
        buildkit: v.Os === 'linux' && apiAtLeast(v.ApiVersion, '1.39'),
      };
    } catch (error) {
      if (isConnectionError(error)) throw new EngineUnreachableError(this.where, error);
      throw error;
    }
  }

  async checkAuth(credentials: RegistryCredentials): Promise<void> {
    await this.docker.checkAuth({ ...credentials });
  }

  async *build(request: BuildRequest): AsyncIterable<ProgressMessage> {
    const buildkit = request.builder === 'buildkit';
    const query: Record<string, unknown> = {
      dockerfile: request.dockerfile,
      buildargs: { ...request.buildArgs, ...(buildkit ? { BUILDKIT_INLINE_CACHE: '1' } : {}) },
      labels: request.labels,
      rm: true,
      forcerm: true,
      nocache: request.noCache,
      version: buildkit ? '2' : '1',
      ...(request.target ? { target: request.target } : {}),
      ...(request.platform ? { platform: request.platform } : {}),
      ...(request.cacheFrom.length > 0 ? { cachefrom: JSON.stringify(request.cacheFrom) } : {}),
    };
    const credentials = request.credentials;
    // BuildKit asks the session for credentials; the classic builder reads X-Registry-Config.
    const registryConfig = credentials ? { [credentials.serveraddress]: { username: credentials.username, password: credentials.password, serveraddress: credentials.serveraddress } } : undefined;
    const session = buildkit ? await openBuildkitSession(this.docker, credentials) : undefined;
    if (session) query['session'] = session.id;
    try {
      const stream = await new Promise<Readable>((resolve, reject) => {
        this.docker.modem.dial(
          {
            path: '/build?',
            method: 'POST',
            file: request.context,
            options: query,
            isStream: true,
            ...(registryConfig ? { registryconfig: registryConfig } : {}),
            ...(request.signal ? { abortSignal: request.signal } : {}),
            statusCodes: { 200: true, 400: 'bad parameter', 500: 'server error' },
          },
          (err: unknown, data: unknown) => (err ? reject(toError(err)) : resolve(data as Readable)),
        );
      });
      yield* readJsonMessages(stream);
    } finally {
      session?.close();
    }
  }

  async inspectImage(ref: string): Promise<ImageFacts> {
    const i = await this.docker.getImage(ref).inspect();
    return { id: i.Id, sizeBytes: i.Size, repoDigests: i.RepoDigests ?? [], labels: i.Config?.Labels ?? {} };
  }

  async tagImage(id: string, repository: string, tag: string): Promise<void> {
    await this.docker.getImage(id).tag({ repo: repository, tag });
  }

  async *push(repository: string, tag: string, credentials: RegistryCredentials | undefined, signal?: AbortSignal): AsyncIterable<ProgressMessage> {
    const auth = credentials ? { base64: registryAuthHeader(credentials) } : { base64: registryAuthHeader({ username: '', password: '', serveraddress: '' }) };
    const stream = (await this.docker.getImage(repository).push({ tag, authconfig: auth, ...(signal ? { abortSignal: signal } : {}) } as Docker.ImagePushOptions)) as unknown as Readable;
    yield* readJsonMessages(stream);
  }

  async *pull(reference: string, credentials: RegistryCredentials | undefined, signal?: AbortSignal): AsyncIterable<ProgressMessage> {
    const options: Record<string, unknown> = credentials ? { authconfig: { base64: registryAuthHeader(credentials) } } : {};
    if (signal) options['abortSignal'] = signal;
    const stream = (await this.docker.pull(reference, options)) as unknown as Readable;
    yield* readJsonMessages(stream);
  }

  async run(image: string, command: string[], signal?: AbortSignal): Promise<RunResult> {
    const container = await this.docker.createContainer({
      Image: image,
      Cmd: command,
      Entrypoint: [],
      Tty: false,
      Labels: { 'dev.gangway.purpose': 'build-test-gate' },
      HostConfig: { AutoRemove: false },
    });
    const onAbort = (): void => void container.kill().catch(() => undefined);
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await container.start();
      const waited = (await container.wait()) as { StatusCode: number };
      const logs = await container.logs({ stdout: true, stderr: true, follow: false });
      return { exitCode: waited.StatusCode, output: demuxDockerOutput(logs).text };
    } finally {
      signal?.removeEventListener('abort', onAbort);
      await container.remove({ force: true, v: true }).catch(() => undefined);
    }
  }
}
