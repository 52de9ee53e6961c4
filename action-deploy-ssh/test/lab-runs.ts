// For the lab tests: runs action-deploy-ssh's dist as the runner does (main, then post, in one
// job) and keeps every run for the leak checks and every job for the cleanup.
import path from 'node:path';
import type Docker from 'dockerode';
import { RunnerJob, type ActionRun } from '@gangway/harness';
import { openDockerOverSsh, openSsh, type SshSession } from '@gangway/kit/ssh';
import type { TargetState } from '../../lab/src/index.ts';
import { connectLabVpn, type VpnTunnel } from '../../lab/src/testing/vpn.ts';
import type { DeployReport } from '../src/report.ts';

const actionDir = path.resolve(import.meta.dirname, '..');

export interface DeployRun {
  main: ActionRun;
  post: ActionRun;
  /** The `report` output, parsed. */
  report: DeployReport | undefined;
  /** How long main took, ms. */
  ms: number;
}

export class DeployRuns {
  /** Every main and post run, for findSecretLeaks. */
  readonly runs: ActionRun[] = [];
  readonly #jobs: RunnerJob[] = [];

  async deploy(inputs: Record<string, string>, options: { actor?: string; onLine?: (line: string) => void; timeoutMs?: number; cancel?: { afterMs?: number; whenLog?: RegExp } } = {}): Promise<DeployRun> {
    const job = new RunnerJob(options.actor ? { github: { actor: options.actor } } : {});
    this.#jobs.push(job);
    const started = performance.now();
    const main = await job.main(actionDir, { inputs, timeoutMs: options.timeoutMs ?? 300_000, ...(options.onLine ? { onLine: options.onLine } : {}), ...(options.cancel ? { cancel: options.cancel } : {}) });
    const ms = Math.round(performance.now() - started);
    const post = await job.post(actionDir, { inputs, timeoutMs: 60_000 });
    this.runs.push(main, post);
    return { main, post, report: main.outputs.report ? (JSON.parse(main.outputs.report) as DeployReport) : undefined, ms };
  }

  cleanup(): void {
    for (const j of this.#jobs) j.cleanup();
  }
}

/** The inputs that reach a lab target as a deploy does: through its VPN address, its deploy user and key, its host key's fingerprint, its engine's socket. */
export function labTargetInputs(target: TargetState, privateKey: string): Record<string, string> {
  return { host: target.sshHost, username: target.username, 'private-key': privateKey, fingerprint: target.fingerprint, 'docker-socket': target.dockerSocket };
}

/** A test's own way to a lab target, as a deploy reaches it: the target's VPN, SSH through it, the Engine API over that SSH connection. */
export interface LabTargetLink {
  docker: Docker;
  close(): Promise<void>;
}

export async function reachLabTarget(target: TargetState, privateKey: string): Promise<LabTargetLink> {
  const vpn: VpnTunnel = await connectLabVpn(target.vpn.configFile);
  let session: SshSession | undefined;
  try {
    session = await openSsh(
      { host: target.sshHost, port: target.sshPort, username: target.username, privateKey, trust: { kind: 'fingerprint', fingerprint: target.fingerprint } },
      { connectTimeoutMs: 10_000 },
    );
    const { docker } = await openDockerOverSsh(session.client, target.dockerSocket);
    const opened = session;
    return {
      docker,
      close: async () => {
        opened.close();
        await vpn.stop();
      },
    };
  } catch (error) {
    session?.close();
    await vpn.stop();
    throw error;
  }
}

/** Removes what a test's app left on a target: its containers (any state), its network and, when named, its volumes. */
export async function removeAppLeftovers(docker: Docker, app: string, volumes: string[] = []): Promise<void> {
  const list = await docker.listContainers({ all: true, filters: { label: [`gangway.app=${app}`] } }).catch(() => []);
  for (const c of list) await docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
  for (const volume of volumes) await docker.getVolume(volume).remove().catch(() => undefined);
  await docker.getNetwork(`${app}-net`).remove().catch(() => undefined);
}

