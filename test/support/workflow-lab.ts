// For the workflow scenarios (issue #15): a real workflow file run by the local runner on the
// lab, as a user's repository would run it on GitHub. The repository is a scratch clone of this
// one (so a test can push a broken release and its fix); the GitHub API is the local one that
// holds every call to GitHub's description, seeded with the run's jobs as they finish so that
// action-notify finds them; the runner machine's Docker is the lab's runner engine. The test
// watches the target from inside its namespace, through no tunnel a step brings up or down.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Docker from 'dockerode';
import { runWorkflow, formatRun, type RunSettings, type SyntheticEvent, type WorkflowRunResult } from '@gangway/workflow-runner';
import { labStatus, readLabState, type LabState, type TargetState } from '../../lab/src/index.ts';
import { ensureCaddyImage } from '../../lab/src/caddy-image.ts';
import { getFromInside, getFromInsideAs, loadFromInside, type NetnsLoad } from '../../lab/src/testing/load-inside.ts';
import { repoRoot } from '../../scripts/actions.ts';
import { startGitHubApi, type GitHubApiServer } from './github-api/index.ts';

export const REPOSITORY = 'gangway/gangway';

/** A scratch clone of this repository that a test (or the demo) commits releases to. */
export class FixtureRepository {
  readonly dir: string;

  /** A fresh clone in a temp folder; or `dir`, cloned once and then reset to this checkout's HEAD. */
  constructor(dir?: string) {
    this.dir = dir ?? mkdtempSync(path.join(tmpdir(), 'gangway-fixture-repo-'));
    if (dir && existsSync(path.join(dir, '.git'))) {
      this.#git(['fetch', '--quiet', repoRoot, 'HEAD']);
      this.#git(['reset', '--quiet', '--hard', 'FETCH_HEAD']);
    } else {
      execFileSync('git', ['clone', '--quiet', '--shared', repoRoot, this.dir]);
    }
  }

  get head(): string {
    return this.#git(['rev-parse', 'HEAD']).trim();
  }

  #git(args: string[]): string {
    return execFileSync('git', ['-C', this.dir, '-c', 'user.name=Gangway Tests', '-c', 'user.email=tests@gangway.invalid', ...args], { encoding: 'utf8' });
  }

  /** Applies `edit` to the work tree and commits everything; returns the new sha. */
  commit(message: string, edit: (dir: string) => void = () => undefined): string {
    edit(this.dir);
    this.#git(['add', '-A']);
    this.#git(['commit', '--quiet', '--allow-empty', '-m', message]);
    return this.head;
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

const VERSION_SOURCE = path.join('app', 'src', 'version.ts');
const GIT_SHA_LINE = "gitSha: env.GIT_SHA?.trim() || 'unknown',";

/** A release that passes readiness but answers a version that is not its commit (a stale build). */
export function breakVersion(dir: string): void {
  const file = path.join(dir, VERSION_SOURCE);
  const text = readFileSync(file, 'utf8');
  if (!text.includes(GIT_SHA_LINE)) throw new Error(`${VERSION_SOURCE} no longer has the line the broken release replaces: ${GIT_SHA_LINE}`);
  writeFileSync(file, text.replace(GIT_SHA_LINE, "gitSha: 'stale-build',"));
}

/** The fix of breakVersion. */
export function restoreVersion(dir: string): void {
  cpSync(path.join(repoRoot, VERSION_SOURCE), path.join(dir, VERSION_SOURCE));
}

/** A user's app repository: the app's Dockerfile at the root, as docs/example-deploy-workflow.yml expects. */
export function rootDockerfile(dir: string): void {
  cpSync(path.join(dir, 'app', 'Dockerfile'), path.join(dir, 'Dockerfile'));
}

export interface RecordedRun {
  label: string;
  run: WorkflowRunResult;
  load?: Awaited<ReturnType<NetnsLoad['stop']>>;
  /** GitHub API operations the run made, in order (operationId and status). */
  apiCalls: string[];
}

export interface WorkflowLab {
  lab: LabState;
  target: TargetState;
  /** The target's engine through its socket on this machine (not through the VPN). */
  docker: Docker;
  github: GitHubApiServer;
  token: string;
  runs: RecordedRun[];
  /**
   * vars and secrets a user sets for deploy.yml and for the example, on this lab target. With `edge`,
   * the app joins the target's shared edge on port 80 under that name (APP_TLS off: ACME is proven in
   * deploy-ssh's edge test), and the smoke test resolves the name to the target as a user's
   * APP_RESOLVE would.
   */
  settings(imageName: string, options?: { edge?: string }): Required<Pick<RunSettings, 'vars' | 'secrets'>>;
  /** With `load.hostname`, the load goes to port `load.port` with that name as its Host header (the shared edge). */
  run(label: string, options: { workflow: string; event: SyntheticEvent; settings: RunSettings; repository: string; load?: { port: number; hostname?: string }; log?: (line: string) => void }): Promise<RecordedRun>;
  /** What the app's /version answers on the target, from inside it: on `port`, or through the edge under `port`'s name. */
  answering(port: number | { edge: string }): Promise<{ version?: string; gitSha?: string; error?: string }>;
  /** One request through the shared edge (port 80) as a browser sends it for `hostname`, from inside the target. */
  throughEdge(hostname: string, path?: string): Promise<{ status: number; headers: Record<string, string>; body: string }>;
  /** Removes every container, network and volume (`<app>-*`) of `app` on the target. */
  removeApp(app: string): Promise<void>;
  /** Removes the target's shared edge: its containers, lock marker and volumes (routes, certificates). */
  removeEdge(): Promise<void>;
  close(): Promise<void>;
}

function seedConclusion(result: string): 'success' | 'failure' | 'cancelled' | 'skipped' {
  return result === 'success' || result === 'failure' || result === 'cancelled' ? result : 'skipped';
}

/** Fails (never skips) when the lab is not up. `target` is 1-based. */
export async function openWorkflowLab(options: { target: number }): Promise<WorkflowLab> {
  const status = await labStatus();
  if (status.status !== 'up') throw new Error(`the lab is ${status.status}: npm test brings it up (or npm run lab:up); the workflow scenarios never skip`);
  const lab = readLabState();
  const target = lab.targets.find((t) => t.index === options.target);
  if (!target) throw new Error(`the lab has no gw-target${options.target}`);
  const token = 'ghs_workflowScenarioToken00000000000000';
  const github = await startGitHubApi({ repository: REPOSITORY, token });
  const docker = new Docker({ socketPath: target.dockerSocket });
  const runs: RecordedRun[] = [];
  let runId = 7_000_000;

  const removeApp = async (app: string): Promise<void> => {
    for (const c of await docker.listContainers({ all: true })) {
      if (c.Labels['gangway.app'] === app || c.Names.some((n) => n.replace(/^\//, '').startsWith(`${app}-`) || n === `/${app}`)) await docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
    }
    for (const n of await docker.listNetworks()) if (n.Name === app || n.Name.startsWith(`${app}-`) || n.Name.startsWith(`gangway-${app}`)) await docker.getNetwork(n.Id).remove().catch(() => undefined);
    // Its data and its accessories' data (myapp-data, myapp-redis-data): test volumes of this app only.
    for (const v of (await docker.listVolumes()).Volumes ?? []) if (v.Name.startsWith(`${app}-`)) await docker.getVolume(v.Name).remove().catch(() => undefined);
  };

  const removeEdge = async (): Promise<void> => {
    for (const c of await docker.listContainers({ all: true, filters: { label: ['gangway.role=edge'] } })) await docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
    await docker.getContainer('gangway-edge.lock').remove({ force: true }).catch(() => undefined);
    for (const volume of ['gangway-edge-config', 'gangway-edge-data']) await docker.getVolume(volume).remove().catch(() => undefined);
  };

  const throughEdge = (hostname: string, requestPath = '/version') => getFromInsideAs(target, { address: target.address, port: 80, path: requestPath, hostname });

  return {
    lab,
    target,
    docker,
    github,
    token,
    runs,
    settings(imageName, options = {}) {
      const edge = options.edge;
      return {
        vars: {
          IMAGE: `${lab.registry.host}/e2e/${imageName}`,
          DEPLOY_HOST: target.sshHost,
          DEPLOY_USER: target.username,
          APP_URL: edge ? `http://${edge}` : `http://${target.address}:8080`,
          DEPLOY_KNOWN_HOSTS: target.knownHosts,
          DOCKER_SOCKET: target.dockerSocket,
          ...(edge ? { APP_HOSTNAME: edge, APP_TLS: 'off', APP_RESOLVE: `${edge}:80:${target.address}` } : {}),
        },
        secrets: {
          REGISTRY_USERNAME: lab.registry.username,
          REGISTRY_PASSWORD: lab.registry.password,
          DEPLOY_SSH_KEY: readFileSync(target.privateKeyFile, 'utf8'),
          VPN_CONFIG: readFileSync(target.vpn.configFile, 'utf8'),
        },
      };
    },
    async run(label, o) {
      const id = ++runId;
      const before = github.requests.length;
      // Bounded, and longer than any run the tests allow (25 min): it covers the whole run.
      const load = o.load ? loadFromInside(target, target.address, o.load.port, 1_500_000, o.load.hostname ? { hostname: o.load.hostname } : {}) : undefined;
      let run: WorkflowRunResult;
      let loadResult: RecordedRun['load'];
      try {
        run = await runWorkflow({
          workflow: o.workflow,
          event: o.event,
          settings: o.settings,
          repository: o.repository,
          github: { repository: REPOSITORY, apiUrl: github.url, token, runId: String(id), serverUrl: 'https://github.com' },
          machineEnv: { DOCKER_HOST: lab.runner.dockerHost },
          log: o.log ?? (process.env['GANGWAY_WORKFLOW_LOG'] === '1' ? (line) => console.log(`[${label}] ${line}`) : undefined),
          // The Actions API must know the run's jobs before action-notify asks for them.
          onJobStart: (_job, soFar, mask) => {
            github.addWorkflowRun({
              id,
              name: path.basename(o.workflow),
              headSha: o.event.sha,
              event: o.event.name,
              conclusion: null,
              jobs: soFar.jobs.map((j) => ({
                name: j.name,
                conclusion: seedConclusion(j.result),
                steps: j.steps.map((s) => ({ name: s.name, conclusion: seedConclusion(s.conclusion) })),
                // GitHub serves job logs masked; action-notify quotes their tails in issues, chat and mail.
                log: mask(j.steps.flatMap((s) => (s.run?.log ?? '').split('\n').filter(Boolean).map((l) => `2026-01-01T00:00:00.0000000Z ${l}`)).join('\n')),
              })),
            });
          },
        });
      } finally {
        if (load) loadResult = await load.stop();
      }
      const apiCalls = github.requests.slice(before).map((r) => `${r.operationId ?? `${r.method} ${r.url}`} ${r.status}`);
      const recorded: RecordedRun = { label, run, ...(loadResult ? { load: loadResult } : {}), apiCalls };
      runs.push(recorded);
      return recorded;
    },
    async answering(port) {
      const r = typeof port === 'number' ? await getFromInside(target, `http://${target.address}:${port}/version`) : await throughEdge(port.edge);
      if (r.status !== 200) return { error: `HTTP ${r.status}: ${r.body.slice(0, 200)}` };
      return JSON.parse(r.body) as { version?: string; gitSha?: string };
    },
    throughEdge,
    removeApp,
    removeEdge,
    async close() {
      await github.close();
    },
  };
}

export interface ReleaseScenario {
  wl: WorkflowLab;
  repo: FixtureRepository;
  /** A good release, one that answers a stale version (its smoke test fails), and the fix. */
  sha: { good: string; broken: string; fixed: string };
  /** Prints the runs, removes the app from the target, closes the API, removes the clone. */
  close(): Promise<void>;
}

/**
 * The three releases the workflow scenarios deploy, in a scratch clone, with `app` removed from
 * the target first. `first` makes the good release (default: this checkout's HEAD as it is).
 * With `edge`, the target's shared edge is removed before and after, and the lab's stand-in for the
 * edge's default image (caddy:2, Debian's Caddy: the lab reaches no Docker Hub) is put on the
 * target's engine, as a server that can pull it would have it.
 */
export async function openReleaseScenario(options: { target: number; app: string; first?: (repo: FixtureRepository) => string; edge?: boolean }): Promise<ReleaseScenario> {
  const wl = await openWorkflowLab({ target: options.target });
  await wl.removeApp(options.app);
  if (options.edge) {
    await wl.removeEdge();
    await ensureCaddyImage(wl.target.dockerSocket);
  }
  const repo = new FixtureRepository();
  const good = options.first ? options.first(repo) : repo.head;
  const broken = repo.commit('a release that answers a stale version', breakVersion);
  const fixed = repo.commit('fix: report the commit again', restoreVersion);
  return {
    wl,
    repo,
    sha: { good, broken, fixed },
    async close() {
      console.log(describeRuns(wl.runs));
      await wl.removeApp(options.app);
      if (options.edge) await wl.removeEdge();
      await wl.close();
      repo.remove();
    },
  };
}

/** Each step of job `id` by name, with its conclusion. */
export function stepConclusions(r: RecordedRun, id: string): Record<string, string> {
  return Object.fromEntries((r.run.jobs.find((j) => j.id === id)?.steps ?? []).map((s) => [s.name, s.conclusion]));
}

/**
 * A deploy step that left the previous release on standby, and the rollback step after it, in job
 * `id`: the standby's name (the deploy's report), the container the rollback went back to (its
 * report), and the rollback's log.
 */
export function standbyRollback(r: RecordedRun, id: string, steps: { deploy: string; rollback: string }): { standby?: string; rolledBackTo?: string; log: string } {
  type Report = { hosts?: Array<{ standby?: { name: string }; container?: { name: string } }> };
  const all = r.run.jobs.find((j) => j.id === id)?.steps ?? [];
  const report = (name: string): Report => JSON.parse(all.find((s) => s.name === name)?.outputs['report'] || '{}') as Report;
  const standby = report(steps.deploy).hosts?.[0]?.standby?.name;
  const rolledBackTo = report(steps.rollback).hosts?.[0]?.container?.name;
  return { ...(standby ? { standby } : {}), ...(rolledBackTo ? { rolledBackTo } : {}), log: all.find((s) => s.name === steps.rollback)?.run?.log ?? '' };
}

/** Every failed step of the run, with its error and the end of its log (for a readable assertion). */
export function failedSteps(r: RecordedRun): string[] {
  return r.run.jobs.flatMap((j) => j.steps.filter((s) => s.outcome === 'failure').map((s) => `${j.id}/${s.name}: ${s.error ?? ''}\n${(s.run?.log ?? '').split('\n').slice(-15).join('\n')}`));
}

/** The report the closing note and the log want: per run, the load, each step's wall time, the API calls. */
export function describeRuns(runs: RecordedRun[]): string {
  return runs
    .map((r) => {
      const load = r.load ? `load: ${r.load.summary.failed} failed of ${r.load.summary.total} (p99 ${r.load.summary.p99} ms)` : 'load: none (nothing served before)';
      const calls = r.apiCalls.length > 0 ? r.apiCalls.join(', ') : 'none';
      return `── ${r.label}: ${load}\n${formatRun(r.run)}\n  GitHub API: ${calls}`;
    })
    .join('\n');
}
