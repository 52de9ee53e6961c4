// For the chaos suite: action-deploy-ssh's dist, run as the runner runs it, against one lab
// target through the VPN, for one app behind its blue-green proxy on a public port, or behind
// the server's shared edge by hostname. Every run
// is kept (the secret sweep sees them through the harness as well).
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { RunnerJob, type ActionRun, type StepOptions } from '@gangway/harness';
import type { DeployReport } from '../../../action-deploy-ssh/src/report.ts';
import type { ChaosSession } from './session.ts';
import type { Endpoint } from './traffic.ts';

export const DEPLOY_ACTION = path.resolve(import.meta.dirname, '..', '..', '..', 'action-deploy-ssh');

export interface DeployRun {
  job: RunnerJob;
  main: ActionRun;
  post: ActionRun | undefined;
  report: DeployReport | undefined;
  ms: number;
}

/** What the app is behind: its own blue-green nginx on a public port, or the server's shared edge (Caddy on 80, by hostname). */
export type ChaosFront = 'proxy' | 'edge';

export class ChaosApp {
  readonly name: string;
  readonly port: number;
  readonly front: ChaosFront;
  readonly session: ChaosSession;
  readonly envSecret = `chaos-env-secret-${randomBytes(8).toString('hex')}`;
  readonly jobs: RunnerJob[] = [];

  constructor(session: ChaosSession, prefix: string, port: number, front: ChaosFront = 'proxy') {
    this.session = session;
    this.name = `${prefix}-${randomBytes(2).toString('hex')}`;
    this.port = front === 'edge' ? 80 : port;
    this.front = front;
  }

  /** The app's name on the edge (front: edge). */
  get hostname(): string {
    return `${this.name}.chaos.test`;
  }

  get endpoint(): Endpoint {
    return { host: this.session.target.address, port: this.port, ...(this.front === 'edge' ? { hostname: this.hostname } : {}) };
  }

  inputs(extra: Record<string, string> = {}): Record<string, string> {
    const { target, lab, privateKey } = this.session;
    return {
      host: target.sshHost,
      username: target.username,
      'private-key': privateKey,
      fingerprint: target.fingerprint,
      'docker-socket': target.dockerSocket,
      app: this.name,
      'container-port': '8080',
      ...(this.front === 'edge' ? { hostname: this.hostname, tls: 'off' } : { publish: String(this.port) }),
      volumes: `${this.name}-data:/data`,
      env: `SESSION_SECRET=${this.envSecret}\nLOG_LEVEL=warn`,
      'registry-username': lab.registry.username,
      'registry-password': lab.registry.password,
      'readiness-timeout': '60s',
      'connect-timeout': '10s',
      ...extra,
    };
  }

  /** main (and post unless `post: false`, as when the runner itself died) of one deploy. */
  async deploy(extra: Record<string, string>, step: Omit<StepOptions, 'inputs'> & { post?: boolean; job?: RunnerJob } = {}): Promise<DeployRun> {
    const job = step.job ?? new RunnerJob();
    if (!step.job) this.jobs.push(job);
    const values = this.inputs(extra);
    const started = performance.now();
    const main = await job.main(DEPLOY_ACTION, { timeoutMs: 300_000, ...step, inputs: values });
    const ms = Math.round(performance.now() - started);
    const post = step.post === false ? undefined : await job.post(DEPLOY_ACTION, { inputs: values, timeoutMs: 120_000 });
    const report = main.outputs['report'] ? (JSON.parse(main.outputs['report']) as DeployReport) : undefined;
    return { job, main, post, report, ms };
  }

  /** This app's containers on the target (app, proxy, lock), straight from the engine. */
  async containers(): Promise<Array<{ id: string; name: string; role: string; state: string; image: string; labels: Record<string, string> }>> {
    const list = await this.session.docker.listContainers({ all: true, filters: { label: [`gangway.app=${this.name}`] } });
    return list.map((c) => ({ id: c.Id, name: (c.Names[0] ?? '').replace(/^\//, ''), role: c.Labels['gangway.role'] ?? '', state: c.State, image: c.Labels['gangway.image'] ?? c.Image, labels: c.Labels }));
  }

  /** The lock marker of this app, if one is held. */
  async lock(): Promise<{ name: string; labels: Record<string, string> } | undefined> {
    return (await this.containers()).find((c) => c.role === 'lock');
  }

  /** The app container the front forwards to: the proxy's config names it in its first line, the edge's route record as its upstream. */
  async upstream(): Promise<string | undefined> {
    if (this.front === 'edge') {
      const [edge] = await this.session.docker.listContainers({ filters: { label: ['gangway.role=edge'], status: ['running'] } });
      if (!edge) return undefined;
      const record = await this.catIn(edge.Id, `/etc/gangway-edge/routes/${this.name}.json`);
      return (JSON.parse(record) as { upstream?: { name?: string } }).upstream?.name;
    }
    return /# gangway-upstream: (\S+)/.exec(await this.catIn(`${this.name}-proxy`, '/etc/gangway/nginx.conf'))?.[1];
  }

  /** A file in a running container, read with docker exec. */
  private async catIn(container: string, file: string): Promise<string> {
    const exec = await this.session.docker.getContainer(container).exec({ Cmd: ['cat', file], AttachStdout: true, AttachStderr: true });
    const stream = await exec.start({ hijack: true, stdin: false });
    const chunks: Buffer[] = [];
    await new Promise<void>((resolve, reject) => {
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => resolve());
      stream.on('error', reject);
    });
    // Multiplexed stream: 8-byte frame headers before each payload.
    const buf = Buffer.concat(chunks);
    let text = '';
    for (let i = 0; i + 8 <= buf.length; ) {
      const size = buf.readUInt32BE(i + 4);
      text += buf.subarray(i + 8, i + 8 + size).toString('utf8');
      i += 8 + size;
    }
    return text;
  }

  async cleanup(): Promise<void> {
    const docker = this.session.docker;
    for (const c of await this.containers().catch(() => [])) await docker.getContainer(c.id).remove({ force: true }).catch(() => undefined);
    await docker.getVolume(`${this.name}-data`).remove().catch(() => undefined);
    await docker.getNetwork(`${this.name}-net`).remove().catch(() => undefined);
    if (this.front === 'edge') {
      // The edge is the host's: this suite made it on a target no other app of it uses, and takes it down.
      for (const c of await docker.listContainers({ all: true, filters: { label: ['gangway.role=edge'] } })) await docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
      await docker.getContainer('gangway-edge.lock').remove({ force: true }).catch(() => undefined);
      for (const volume of ['gangway-edge-config', 'gangway-edge-data']) await docker.getVolume(volume).remove().catch(() => undefined);
    }
    for (const j of this.jobs) j.cleanup();
  }
}
