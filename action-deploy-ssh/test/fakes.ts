// An in-memory Docker engine with the behaviour a deploy depends on: unique names (409),
// ports that cannot be published twice, containers that get ready (or not) by their env,
// images in use that cannot be removed. Tests assert on what the host shows: containers and
// their state, images present, what the proxy serves (`proxy(app).upstream`, `.loads`), requests
// dropped (`dropped`), and `events`, the host's own history (what started, got ready, was served,
// drained, stopped). Every call is recorded too (`calls`), but only to time a fault (`onCall`).
import path from 'node:path';
import { PhaseClock, type ProgressMessage } from '@gangway/kit';
import { NameConflictError, type ContainerCreateOptions, type ContainerDetails, type ContainerSummary, type DeployEngine, type ExecResult, type ImageDetails, type RemoveImageResult } from '../src/host/engine.ts';
import type { HostContext, HostLog } from '../src/host/context.ts';
import type { HttpProber } from '../src/host/context.ts';
import type { DeploySettings } from '../src/settings/index.ts';
import { containerTarget } from '../src/container/deployer.ts';
import type { Strategy } from '../src/container/strategy/index.ts';
import { deployOnHost, type HostRun, type LockEvents } from '../src/host/deployer.ts';
import type { Provenance } from '../src/labels.ts';
import { swarmTarget } from '../src/swarm/deployer.ts';
import { PROXY_CONF, RELOAD, SWITCH_SCRIPT, TEST_CONFIG } from '../src/container/proxy-config.ts';
import type { SwarmEngine, SwarmService, SwarmServiceSpec, SwarmTask } from '../src/swarm/engine.ts';

export const DIGEST_V1 = `sha256:${'1'.repeat(64)}`;
export const DIGEST_V2 = `sha256:${'2'.repeat(64)}`;
export const DIGEST_V3 = `sha256:${'3'.repeat(64)}`;

interface FakeContainer {
  id: string;
  /** Files put into it (put archive), by absolute path. */
  files?: Map<string, string>;
  /** nginx in a proxy: the upstream its workers use (set at start and at every reload). */
  upstream?: string;
  /** nginx in a proxy: the backup server its workers fall back to, if the config has one. */
  backup?: string;
  workers?: number[];
  /** nginx in a proxy: every config its workers took (at start and at each reload), in order. */
  loads?: Array<{ upstream: string; backup?: string }>;
  /**
   * nginx in a proxy: workers from before a reload, still finishing their requests to `to` (the
   * servers of the config they ran). They show in one more worker listing, then have exited.
   */
  draining?: Array<{ pids: number[]; to: string[]; looks: number }>;
  /** Commands run in it by exec (a hook), in order. */
  execs?: string[][];
  /** It answered its readiness path since it last started. */
  answered?: boolean;
  options: ContainerCreateOptions;
  imageId: string;
  state: 'created' | 'running' | 'exited';
  created: number;
  address: string;
  exitCode: number;
  restartCount: number;
  startedAt?: string;
  /** When it last stopped or died (Docker's State.FinishedAt); undefined while it never has. */
  finishedAt?: string;
  /** Crash-looping: its restart policy keeps bringing it back, and it dies again before it answers. */
  restarting?: boolean;
}

export interface RegistryImage {
  repository: string;
  tag?: string;
  digest: string;
  id: string;
  hasHealthcheck?: boolean;
}

export class FakeEngine implements DeployEngine {
  readonly calls: string[] = [];
  readonly containers = new Map<string, FakeContainer>();
  readonly images = new Map<string, ImageDetails & { refs: string[] }>();
  /** Docker Hub's nginx:stable is there by default (the proxy image of blue-green). */
  readonly registry: RegistryImage[] = [{ repository: 'nginx', tag: 'stable', digest: `sha256:${'e'.repeat(64)}`, id: 'sha256:nginx' }];
  readonly networks = new Set<string>(['bridge']);
  pullAuth: Array<string | undefined> = [];
  /** Engine clock. */
  time = Date.parse('2026-11-22T10:00:00Z');
  #seq = 0;
  /** exit code of a one-off or exec command. */
  commandExit: (argv: string[]) => number = () => 0;
  /** Whether `nginx -t` accepts a config (besides every server it names being a running container). */
  nginxAccepts: (config: string) => boolean = () => true;
  /** false: the proxy image has no shell (every `sh` exec fails as Docker's does), as a distroless nginx. */
  proxyHasShell = true;
  /** Called after every recorded call (a test makes a container crash at a chosen moment). */
  onCall: (call: string) => void = () => undefined;
  /**
   * Moments a request through a running proxy would have failed: its upstream not running
   * (checked after every call that changes a container's state).
   */
  readonly dropped: string[] = [];
  /**
   * What happened on the host, in order: `created|started|stopped|crashed|removed <container>`,
   * `ready <container>` (it first answered its readiness path since it started), `proxy <proxy> →
   * <upstream>[, backup <backup>]` (nginx took a config), `drained <proxy>` (nginx's workers from
   * before its reloads have all finished), `pulled <image ref>` (an image arrived), `removed image <ref>`.
   */
  readonly events: string[] = [];
  #pid = 100;
  /** Whether a running container answers its readiness path (by its env). */
  readyWhen: (c: FakeContainer) => boolean = (c) => !(c.options.Env ?? []).includes('NEVER_READY=1');

  #event(what: string): void {
    this.events.push(what);
  }

  /** A container by name or id. */
  container(name: string): FakeContainer | undefined {
    return this.#find(name);
  }

  /** Which container runs under `name` and since when: unchanged means it was not replaced, stopped or restarted meanwhile. */
  lifecycle(name: string): { id: string; state: string; startedAt?: string; finishedAt?: string; restartCount: number } | undefined {
    const c = this.#find(name);
    return c && { id: c.id, state: c.state, ...(c.startedAt ? { startedAt: c.startedAt } : {}), ...(c.finishedAt ? { finishedAt: c.finishedAt } : {}), restartCount: c.restartCount };
  }

  /** Stopping or removing `c` cuts the requests nginx's old workers still have to it. */
  #checkDraining(c: FakeContainer, what: string): void {
    for (const p of this.containers.values()) {
      if (p.state !== 'running' || !(p.draining ?? []).some((g) => g.to.includes(c.options.name))) continue;
      this.dropped.push(`${what} ${c.options.name}: ${p.options.name}'s old workers still had requests to it (not drained)`);
    }
  }

  #record(call: string): void {
    this.calls.push(call);
    this.onCall(call);
  }

  /**
   * The container crashes: with `restart`, its restart policy brings it back at once (restart
   * count up, new start time, still not ready when `readyWhen` says so); else it stays exited.
   */
  crash(name: string, options: { restart?: boolean; loop?: boolean; exitCode?: number } = {}): void {
    const c = this.#find(name);
    if (!c) throw new Error(`no container ${name}`);
    c.exitCode = options.exitCode ?? 137;
    if (options.loop) c.restarting = true;
    if (options.restart || options.loop) {
      c.restartCount++;
      c.startedAt = new Date(this.time + ++this.#seq * 1000).toISOString();
    } else {
      c.state = 'exited';
      c.finishedAt = new Date(this.time + ++this.#seq * 1000).toISOString();
    }
    delete c.answered;
    this.#event(`crashed ${c.options.name}`);
    this.#checkTraffic(`crash ${name}`);
  }

  /** The container a running proxy forwards to must be running, always. */
  #checkTraffic(after: string): void {
    for (const p of this.containers.values()) {
      if (p.state !== 'running' || p.upstream === undefined) continue;
      const serves = (name: string | undefined): FakeContainer | undefined => [...this.containers.values()].find((c) => c.options.name === name && c.state === 'running' && !c.restarting && this.readyWhen(c));
      // nginx passes a request the upstream fails to its backup server, if the config has one.
      if (!serves(p.upstream) && !serves(p.backup)) {
        const up = [...this.containers.values()].find((c) => c.options.name === p.upstream);
        this.dropped.push(`${after}: ${p.options.name} → ${p.upstream} (${up ? up.state : 'gone'})`);
      }
    }
  }

  #nginxServers(c: FakeContainer): { upstream?: string; backup?: string } {
    const conf = c.files?.get('/etc/gangway/nginx.conf') ?? '';
    const upstream = /server ([^:\s]+):\d+/.exec(conf)?.[1];
    const backup = /server ([^:\s]+):\d+ backup;/.exec(conf)?.[1];
    return { ...(upstream ? { upstream } : {}), ...(backup ? { backup } : {}) };
  }

  #nginxUpstream(c: FakeContainer): string | undefined {
    return this.#nginxServers(c).upstream;
  }

  #nginxLoad(c: FakeContainer): void {
    const { upstream, backup } = this.#nginxServers(c);
    c.upstream = upstream;
    if (backup) c.backup = backup;
    else delete c.backup;
    if (upstream === undefined) return;
    (c.loads ??= []).push({ upstream, ...(backup ? { backup } : {}) });
    this.#event(`proxy ${c.options.name} → ${upstream}${backup ? `, backup ${backup}` : ''}`);
  }

  /** The proxy container of an app, if any. */
  proxy(app: string): FakeContainer | undefined {
    return [...this.containers.values()].find((c) => c.options.Labels?.['gangway.role'] === 'proxy' && c.options.Labels['gangway.app'] === app);
  }

  async pull(repository: string, tagOrDigest: string, authHeader: string | undefined, onMessage: (m: ProgressMessage) => void): Promise<void> {
    this.#record(`pull ${repository} ${tagOrDigest}`);
    this.pullAuth.push(authHeader);
    const found = this.registry.find((i) => i.repository === repository && (i.digest === tagOrDigest || i.tag === tagOrDigest));
    if (!found) throw new Error(`manifest for ${repository}:${tagOrDigest} not found`);
    onMessage({ status: `Digest: ${found.digest}` });
    const refs = [`${repository}@${found.digest}`, ...(found.tag ? [`${repository}:${found.tag}`] : [])];
    const existing = this.images.get(found.id);
    if (!existing) this.#event(`pulled ${repository}@${found.digest}`);
    this.images.set(found.id, { id: found.id, repoDigests: [`${repository}@${found.digest}`], hasHealthcheck: found.hasHealthcheck ?? false, refs: [...new Set([...(existing?.refs ?? []), ...refs])] });
  }

  #image(reference: string): (ImageDetails & { refs: string[] }) | undefined {
    for (const image of this.images.values()) if (image.id === reference || image.refs.includes(reference)) return image;
    return undefined;
  }

  async inspectImage(reference: string): Promise<ImageDetails | undefined> {
    this.#record(`inspectImage ${reference}`);
    const image = this.#image(reference);
    return image ? { id: image.id, repoDigests: image.repoDigests, hasHealthcheck: image.hasHealthcheck } : undefined;
  }

  #summary(c: FakeContainer): ContainerSummary {
    return { id: c.id, name: c.options.name, image: c.options.Image, imageId: c.imageId, state: c.restarting ? 'restarting' : c.state, labels: c.options.Labels ?? {}, created: c.created };
  }

  async listContainers(labels: Record<string, string>): Promise<ContainerSummary[]> {
    this.#record('listContainers');
    return [...this.containers.values()].filter((c) => Object.entries(labels).every(([k, v]) => c.options.Labels?.[k] === v)).map((c) => this.#summary(c));
  }

  #find(idOrName: string): FakeContainer | undefined {
    return this.containers.get(idOrName) ?? [...this.containers.values()].find((c) => c.options.name === idOrName);
  }

  async inspectContainer(idOrName: string): Promise<ContainerDetails | undefined> {
    this.#record(`inspectContainer ${idOrName.slice(0, 12)}`);
    const c = this.#find(idOrName);
    if (!c) return undefined;
    return { ...this.#summary(c), running: c.state === 'running', exitCode: c.exitCode, restartCount: c.restartCount, ...(c.startedAt ? { startedAt: c.startedAt } : {}), addresses: c.state === 'running' && !c.restarting ? { bridge: c.address } : {}, mounts: this.#mounts(c), createOptions: c.options };
  }

  /** Volumes an image declares (VOLUME), by image id: the engine gives each container an anonymous one there. */
  readonly imageVolumes = new Map<string, string[]>();

  #mounts(c: FakeContainer): Array<{ type: string; source: string; destination: string }> {
    const binds = (c.options.HostConfig?.Binds ?? []).map((b) => {
      const [source = '', destination = ''] = b.split(':');
      return { type: source.startsWith('/') ? 'bind' : 'volume', source, destination };
    });
    const anonymous = (this.imageVolumes.get(c.imageId) ?? []).filter((d) => !binds.some((b) => b.destination === d)).map((d) => ({ type: 'volume', source: `anon-${c.id.slice(0, 8)}`, destination: d }));
    return [...binds, ...anonymous];
  }

  async createContainer(options: ContainerCreateOptions): Promise<string> {
    this.#record(`create ${options.name}`);
    if ([...this.containers.values()].some((c) => c.options.name === options.name)) throw new NameConflictError(options.name);
    const image = this.#image(options.Image);
    if (!image) throw Object.assign(new Error(`No such image: ${options.Image}`), { statusCode: 404 });
    const n = ++this.#seq;
    const id = `${String(n).padStart(4, '0')}${'c'.repeat(60)}`;
    this.containers.set(id, { id, options: structuredClone(options), imageId: image.id, state: 'created', created: Math.floor(this.time / 1000) + n, address: `198.18.99.${n}`, exitCode: 0, restartCount: 0 });
    this.#event(`created ${options.name}`);
    return id;
  }

  #ports(c: FakeContainer): string[] {
    const bindings = (c.options.HostConfig?.PortBindings ?? {}) as Record<string, unknown>;
    return Object.values(bindings).flatMap((bindings) => (bindings as Array<{ HostPort: string }>).map((b) => b.HostPort));
  }

  async startContainer(id: string): Promise<void> {
    const c = this.#find(id);
    this.#record(`start ${c?.options.name ?? id}`);
    if (!c) throw Object.assign(new Error('no such container'), { statusCode: 404 });
    // As Docker's 304: starting a running container changes nothing.
    if (c.state === 'running' && !c.restarting) return;
    const mine = this.#ports(c);
    for (const other of this.containers.values()) {
      if (other !== c && other.state === 'running' && this.#ports(other).some((p) => mine.includes(p))) throw new Error('port is already allocated');
    }
    c.state = 'running';
    c.startedAt = new Date(this.time + ++this.#seq * 1000).toISOString();
    delete c.answered;
    this.#event(`started ${c.options.name}`);
    if (c.options.Labels?.['gangway.role'] === 'proxy') {
      const upstream = this.#nginxUpstream(c);
      // A config whose proxy_pass is a variable (resolved per request, the Swarm proxy's) names no server to find at start.
      const resolvedPerRequest = /proxy_pass \$/.test(c.files?.get('/etc/gangway/nginx.conf') ?? '');
      if (resolvedPerRequest) {
        c.workers = [++this.#pid, ++this.#pid];
      } else if (upstream === undefined) {
        c.state = 'exited';
        c.exitCode = 1;
      } else {
        this.#nginxLoad(c);
        c.workers = [++this.#pid, ++this.#pid];
      }
    }
    this.#checkTraffic(`start ${c.options.name}`);
  }

  async stopContainer(id: string, _timeoutSeconds: number): Promise<void> {
    const c = this.#find(id);
    this.#record(`stop ${c?.options.name ?? id}`);
    if (c && c.state === 'running') {
      this.#checkDraining(c, 'stop');
      c.state = 'exited';
      c.finishedAt = new Date(this.time + ++this.#seq * 1000).toISOString();
      this.#event(`stopped ${c.options.name}`);
    }
    if (c) delete c.restarting;
    if (c) {
      delete c.upstream;
      delete c.backup;
      delete c.draining;
    }
    this.#checkTraffic(`stop ${c?.options.name ?? id}`);
  }

  async removeContainer(id: string, options: { force?: boolean } = {}): Promise<void> {
    const c = this.#find(id);
    this.#record(`remove ${c?.options.name ?? id}`);
    if (!c) return;
    if (c.state === 'running' && !options.force) throw new Error('cannot remove a running container');
    if (c.state === 'running') this.#checkDraining(c, 'remove');
    this.containers.delete(c.id);
    this.#event(`removed ${c.options.name}`);
    this.#checkTraffic(`remove ${c.options.name}`);
  }

  async updateRestartPolicy(id: string, policy: string): Promise<void> {
    const c = this.#find(id);
    this.#record(`restart-policy ${c?.options.name ?? id} ${policy}`);
    if (c) c.options.HostConfig = { ...(c.options.HostConfig ?? {}), RestartPolicy: { Name: policy } };
  }

  async waitContainer(id: string): Promise<number> {
    const c = this.#find(id);
    if (!c) throw new Error('no such container');
    c.exitCode = this.commandExit([...(c.options.Entrypoint as string[]), ...((c.options.Cmd) ?? [])]);
    c.state = 'exited';
    c.finishedAt = new Date(this.time + ++this.#seq * 1000).toISOString();
    return c.exitCode;
  }

  async logs(id: string, _tail: number): Promise<string> {
    const c = this.#find(id);
    return `log of ${c?.options.name ?? id}\nlistening on 8080\n`;
  }

  async exec(id: string, argv: string[]): Promise<ExecResult> {
    const c = this.#find(id);
    this.#record(`exec ${c?.options.name ?? id} ${argv.join(' ')}`);
    if (!c || c.state !== 'running') return { exitCode: 126, output: 'container is not running' };
    if (c.options.Labels?.['gangway.role'] === 'proxy') return this.#nginxExec(c, argv);
    (c.execs ??= []).push([...argv]);
    return { exitCode: this.commandExit(argv), output: `ran ${argv.join(' ')}\n` };
  }

  /** The proxy's worker pids, as listing them shows: workers from before a reload show once more, then have finished their requests and exited. */
  #lookAtWorkers(c: FakeContainer): number[] {
    const draining = c.draining ?? [];
    c.draining = draining.filter((g) => g.looks > 0);
    for (const g of c.draining) g.looks--;
    if (draining.length > 0 && c.draining.length === 0) this.#event(`drained ${c.options.name}`);
    return [...c.draining.flatMap((g) => g.pids), ...(c.workers ?? [])];
  }

  #nginxExec(c: FakeContainer, argv: string[]): ExecResult {
    const conf = c.files?.get(PROXY_CONF) ?? '';
    if (argv[0] === 'cat') return conf ? { exitCode: 0, output: conf } : { exitCode: 1, output: 'No such file' };
    if (argv[0] === 'sh' && !this.proxyHasShell) return { exitCode: 127, output: 'OCI runtime exec failed: exec: "sh": executable file not found in $PATH' };
    if (argv[0] === 'sh' && argv[2] === SWITCH_SCRIPT) {
      // The one-exec switch: the workers before, the config in place, nginx -t (put back when refused), reload.
      const before = this.#lookAtWorkers(c);
      (c.files ??= new Map()).set(PROXY_CONF, argv[4] ?? '');
      const test = this.#nginxExec(c, TEST_CONFIG);
      if (test.exitCode !== 0) {
        c.files.set(PROXY_CONF, conf);
        return { exitCode: 3, output: `${test.output}\n` };
      }
      this.#nginxExec(c, RELOAD);
      return { exitCode: 0, output: before.map((p) => `/proc/${p}/cmdline\n`).join('') };
    }
    if (argv[0] === 'sh') return { exitCode: 0, output: this.#lookAtWorkers(c).map((p) => `/proc/${p}/cmdline\n`).join('') };
    if (argv.includes('-t')) {
      // nginx resolves every server it names: a container that is not running has no DNS name.
      const names = [...conf.matchAll(/server ([^:\s]+):\d+/g)].map((m) => m[1]);
      const unresolved = names.find((n) => ![...this.containers.values()].some((x) => x.options.name === n && x.state === 'running' && !x.restarting));
      if (unresolved) return { exitCode: 1, output: `nginx: [emerg] host not found in upstream "${unresolved}"` };
      return this.nginxAccepts(conf) ? { exitCode: 0, output: 'syntax is ok' } : { exitCode: 1, output: 'nginx: [emerg] host not found in upstream' };
    }
    if (argv.includes('reload')) {
      // Graceful: old workers finish their requests to the servers they knew; new workers use the new config.
      const to = [c.upstream, c.backup].filter((n) => n !== undefined);
      (c.draining ??= []).push({ pids: c.workers ?? [], to, looks: 1 });
      this.#nginxLoad(c);
      c.workers = [++this.#pid, ++this.#pid];
      this.#checkTraffic(`reload ${c.options.name}`);
      return { exitCode: 0, output: '' };
    }
    return { exitCode: 127, output: `unknown command ${argv.join(' ')}` };
  }

  async putArchive(id: string, dir: string, tar: Buffer): Promise<void> {
    const c = this.#find(id);
    this.#record(`putArchive ${c?.options.name ?? id} ${dir}`);
    if (!c) throw Object.assign(new Error('no such container'), { statusCode: 404 });
    c.files ??= new Map();
    for (let offset = 0; offset + 512 <= tar.length; ) {
      const name = tar.subarray(offset, offset + 100).toString('utf8').replace(/\0.*$/s, '');
      if (name === '') break;
      const size = Number.parseInt(tar.subarray(offset + 124, offset + 136).toString('utf8').replace(/\0.*$/s, ''), 8);
      if (!name.endsWith('/')) {
        const file = path.posix.join(dir, name);
        const content = tar.subarray(offset + 512, offset + 512 + size).toString('utf8');
        const inVolume = this.#volumeOf(c, file);
        if (inVolume) inVolume.files.set(inVolume.rest, content);
        else c.files.set(file, content);
      }
      offset += 512 + Math.ceil(size / 512) * 512;
    }
  }

  /** Named volumes and their files (as a volume mounted in a container holds them, whoever mounts it next). */
  readonly volumes = new Map<string, Map<string, string>>();

  #volumeOf(c: FakeContainer, file: string): { files: Map<string, string>; rest: string } | undefined {
    for (const m of c.options.HostConfig?.Mounts ?? []) {
      if (m.Type !== 'volume' || !m.Source || !m.Target || !file.startsWith(`${m.Target}/`)) continue;
      const files = this.volumes.get(m.Source) ?? new Map<string, string>();
      this.volumes.set(m.Source, files);
      return { files, rest: file.slice(m.Target.length + 1) };
    }
    return undefined;
  }

  async readFile(id: string, file: string): Promise<string | undefined> {
    const c = this.#find(id);
    this.#record(`readFile ${c?.options.name ?? id} ${file}`);
    if (!c) throw Object.assign(new Error('no such container'), { statusCode: 404 });
    const inVolume = this.#volumeOf(c, file);
    return inVolume ? inVolume.files.get(inVolume.rest) : c.files?.get(file);
  }

  async setNetworkAliases(id: string, network: string, aliases: string[]): Promise<void> {
    const c = this.#find(id);
    this.#record(`aliases ${c?.options.name ?? id} ${network} ${aliases.join(',')}`);
    if (!c) throw Object.assign(new Error('no such container'), { statusCode: 404 });
    c.options.NetworkingConfig = { EndpointsConfig: { ...(c.options.NetworkingConfig?.EndpointsConfig ?? {}), [network]: { Aliases: aliases } } };
  }

  /** The aliases a container answers to on `network` (the app's name, unless it stands by). */
  aliasesOf(name: string, network: string): string[] {
    return this.container(name)?.options.NetworkingConfig?.EndpointsConfig?.[network]?.Aliases ?? [];
  }

  async renameContainer(id: string, name: string): Promise<void> {
    const c = this.#find(id);
    this.#record(`rename ${c?.options.name ?? id} ${name}`);
    if (!c) throw Object.assign(new Error('no such container'), { statusCode: 404 });
    if ([...this.containers.values()].some((x) => x !== c && x.options.name === name)) throw new NameConflictError(name);
    c.options.name = name;
  }

  async removeImage(reference: string): Promise<RemoveImageResult> {
    this.#record(`removeImage ${reference}`);
    const image = this.#image(reference);
    if (!image) return 'missing';
    if ([...this.containers.values()].some((c) => c.imageId === image.id)) return 'in-use';
    this.images.delete(image.id);
    this.#event(`removed image ${reference}`);
    return 'removed';
  }

  async networkExists(name: string): Promise<boolean> {
    return this.networks.has(name);
  }

  async createNetwork(name: string): Promise<void> {
    this.#record(`createNetwork ${name}`);
    this.networks.add(name);
  }

  async now(): Promise<Date> {
    return new Date(this.time);
  }

  /** docker info's runtimes: a plain engine unless a test sets up the NVIDIA toolkit. */
  runtimeNames: string[] = ['io.containerd.runc.v2', 'runc'];

  async runtimes(): Promise<string[]> {
    return [...this.runtimeNames];
  }

  /** A named volume exists once something mounted it (Mounts or Binds), as the engine creates it on first use. */
  async volumeExists(name: string): Promise<boolean> {
    if (this.volumes.has(name)) return true;
    for (const c of this.containers.values()) {
      const host = c.options.HostConfig;
      if ((host?.Binds ?? []).some((b) => b.split(':')[0] === name) || (host?.Mounts ?? []).some((m) => m.Source === name)) return true;
    }
    return false;
  }

  /** Readiness through the fake's addresses. */
  prober(): HttpProber {
    return {
      get: async (host, _port, path, timeoutMs, signal) => {
        signal?.throwIfAborted();
        // As AbortSignal.timeout does in the real prober.
        if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) throw new RangeError(`timeout must be a positive integer, got ${timeoutMs}`);
        const c = [...this.containers.values()].find((x) => x.address === host && x.state === 'running' && !x.restarting);
        if (!c) throw new Error(`connect ECONNREFUSED ${host}`);
        if (!this.readyWhen(c)) return { status: 503, body: 'loading' };
        if (!c.answered) this.#event(`ready ${c.options.name}`);
        c.answered = true;
        return { status: 200, body: `ready ${path}` };
      },
    };
  }

  running(app: string): string[] {
    return [...this.containers.values()].filter((c) => c.state === 'running' && c.options.Labels?.['gangway.app'] === app && c.options.Labels['gangway.role'] === 'app').map((c) => c.options.name);
  }
}

export class MemoryLog implements HostLog {
  readonly lines: string[] = [];
  readonly warnings: string[] = [];
  info(line: string): void {
    this.lines.push(line);
  }
  warn(line: string): void {
    this.warnings.push(line);
    this.lines.push(`WARNING ${line}`);
  }
  async group<T>(title: string, fn: () => Promise<T>): Promise<T> {
    this.lines.push(`>> ${title}`);
    return fn();
  }
  get text(): string {
    return this.lines.join('\n');
  }
}

const TEST_PROVENANCE: Provenance = { gitSha: 'a'.repeat(40), runUrl: 'https://github.com/acme/shop/actions/runs/1', actor: 'octocat', at: '2026-11-22T10:00:00.000Z' };

export function hostContext(engine: FakeEngine, settings: DeploySettings, log = new MemoryLog()): HostContext & { log: MemoryLog } {
  return { host: 'target', engine, prober: engine.prober(), settings, provenance: TEST_PROVENANCE, clock: new PhaseClock(), log };
}

const NO_LOCKS: LockEvents = { acquired: () => undefined, released: () => undefined };

/** A deploy (or rollback) of the container target on the fake host, by `provenance`. */
export function runContainerDeploy(ctx: HostContext, strategy: Strategy, provenance: Provenance, locks: LockEvents = NO_LOCKS): Promise<HostRun> {
  ctx.provenance = provenance;
  ctx.locks = locks;
  return deployOnHost(ctx, containerTarget(ctx, strategy));
}

/** A deploy (or rollback) of the Swarm target on the fake manager, by `provenance`. */
export function runSwarmDeploy(ctx: HostContext, swarm: SwarmEngine, provenance: Provenance, locks: LockEvents = NO_LOCKS): Promise<HostRun> {
  ctx.provenance = provenance;
  if (ctx.settings.target.kind !== 'swarm') throw new Error('runSwarmDeploy needs target: swarm settings');
  ctx.locks = locks;
  return deployOnHost(ctx, swarmTarget(ctx, swarm, { intervalMs: 5, stallMs: 30 }));
}

/**
 * A one-node Swarm manager in memory: a service update finishes as `completed`, or as Swarm's
 * own `rollback_completed` when the new task never gets healthy (NEVER_READY=1 in its env).
 */
export class FakeSwarm implements SwarmEngine {
  state = 'active';
  manager = true;
  services = new Map<string, SwarmService>();
  /** The X-Registry-Auth values given with each create and update (undefined: none), in order. */
  readonly registryAuths: Array<string | undefined> = [];
  readonly overlays: string[] = [];
  /** Nodes that are down; the tasks they ran show as running with desired state shutdown. */
  readonly down = new Set<string>();
  /** The next update (not a rollback) stands still in `updating`, as Swarm's did when a worker's engine stopped mid-update. */
  stallNextUpdate = false;
  /** The next update (not a rollback) fails as a never-healthy one does: Swarm rolls it back to the spec before it. */
  failNextUpdate = false;
  #seq = 0;
  #healthy(spec: SwarmServiceSpec): boolean {
    return !spec.TaskTemplate.ContainerSpec.Env.includes('NEVER_READY=1');
  }
  role(): Promise<{ manager: boolean; state: string }> {
    return Promise.resolve({ manager: this.manager, state: this.state });
  }
  inspectService(name: string): Promise<SwarmService | undefined> {
    const found = [...this.services.values()].find((x) => x.id === name || x.spec.Name === name);
    return Promise.resolve(found ? structuredClone(found) : undefined);
  }
  createService(spec: SwarmServiceSpec, registryAuth?: string): Promise<string> {
    this.registryAuths.push(registryAuth);
    const id = `svc${++this.#seq}`;
    this.services.set(id, { id, version: 1, spec: structuredClone(spec) });
    return Promise.resolve(id);
  }
  updateService(id: string, version: number, spec: SwarmServiceSpec, options: { rollback?: boolean; registryAuth?: string } = {}): Promise<string[]> {
    this.registryAuths.push(options.registryAuth);
    const s = this.services.get(id);
    if (!s) return Promise.reject(new Error('no such service'));
    if (s.version !== version) return Promise.reject(new Error('update out of sequence'));
    const startedAt = new Date(Date.parse('2026-11-22T10:00:00Z') + ++this.#seq * 1000).toISOString();
    const previous = s.spec;
    if (options.rollback) {
      if (!s.previousSpec) return Promise.reject(new Error('service has no previous spec'));
      this.services.set(id, { id, version: version + 1, spec: s.previousSpec, previousSpec: previous, updateStatus: { state: 'rollback_completed', startedAt, message: 'manually requested rollback' } });
    } else if (this.stallNextUpdate) {
      this.stallNextUpdate = false;
      this.services.set(id, { id, version: version + 1, spec: structuredClone(spec), previousSpec: previous, updateStatus: { state: 'updating', startedAt, message: 'update in progress' } });
    } else if (this.#healthy(spec) && !this.failNextUpdate) {
      this.services.set(id, { id, version: version + 1, spec: structuredClone(spec), previousSpec: previous, updateStatus: { state: 'completed', startedAt, message: 'update completed' } });
    } else {
      this.failNextUpdate = false;
      // Swarm's own rollback: the spec goes back, the failed one becomes the previous spec.
      this.services.set(id, { id, version: version + 2, spec: previous, previousSpec: structuredClone(spec), updateStatus: { state: 'rollback_completed', startedAt, message: 'rollback completed' } });
    }
    return Promise.resolve([]);
  }
  listTasks(serviceId: string): Promise<SwarmTask[]> {
    const s = this.services.get(serviceId);
    if (!s) return Promise.resolve([]);
    const healthy = this.#healthy(s.spec);
    const tasks: SwarmTask[] = Array.from({ length: s.spec.Mode.Replicated.Replicas }, (_, i) => ({
      id: `${serviceId}task${i + 1}`,
      state: healthy ? 'running' : 'starting',
      desiredState: 'running',
      image: s.spec.TaskTemplate.ContainerSpec.Image,
      labels: s.spec.TaskTemplate.ContainerSpec.Labels,
      message: healthy ? 'started' : 'unhealthy container',
      nodeId: `node${i + 1}`,
    }));
    // A task of the spec before the current one (after Swarm's rollback: the failed update's), last seen running there.
    for (const node of this.down) tasks.push({ id: `${serviceId}on${node}`, state: 'running', desiredState: 'shutdown', image: s.previousSpec?.TaskTemplate.ContainerSpec.Image ?? '', labels: s.previousSpec?.TaskTemplate.ContainerSpec.Labels ?? {}, message: 'started', nodeId: node });
    return Promise.resolve(tasks);
  }
  downNodes(): Promise<Set<string>> {
    return Promise.resolve(new Set(this.down));
  }
  /** Networks of other kinds on the manager, by name (a bridge left by target: container, say). */
  readonly otherNetworks = new Map<string, { driver: string; scope: string; attachable: boolean }>();
  network(name: string): Promise<{ driver: string; scope: string; attachable: boolean } | undefined> {
    if (this.overlays.includes(name)) return Promise.resolve({ driver: 'overlay', scope: 'swarm', attachable: true });
    return Promise.resolve(this.otherNetworks.get(name));
  }
  createOverlayNetwork(name: string): Promise<void> {
    this.overlays.push(name);
    return Promise.resolve();
  }
}

/** The image repository of the deploy tests' releases v1, v2 and v3. */
export const RELEASES_REPO = 'registry.example.com/team/shop';

/** A fake engine whose registry has the app's releases v1, v2 and v3 (RELEASES_REPO:v1 ...). */
export function engineWithReleases(): FakeEngine {
  const engine = new FakeEngine();
  engine.registry.push(
    { repository: RELEASES_REPO, tag: 'v1', digest: DIGEST_V1, id: 'sha256:img1' },
    { repository: RELEASES_REPO, tag: 'v2', digest: DIGEST_V2, id: 'sha256:img2' },
    { repository: RELEASES_REPO, tag: 'v3', digest: DIGEST_V3, id: 'sha256:img3' },
  );
  return engine;
}
