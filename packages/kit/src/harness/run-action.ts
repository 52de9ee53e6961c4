import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseKeyValueFile, parsePathFile } from './file-commands.ts';
import { readActionMetadata, type ActionMetadata } from './action-metadata.ts';
import { renderLog, type Annotation, type WorkflowCommand } from './workflow-commands.ts';
import { recordRun } from './secret-sweep.ts';

export type Phase = 'pre' | 'main' | 'post';

/** The `github` context a job runs with. Every field has a plausible default. */
export interface GitHubContext {
  repository: string;
  sha: string;
  ref: string;
  refName: string;
  refType: 'branch' | 'tag';
  eventName: string;
  event: Record<string, unknown>;
  actor: string;
  runId: string;
  runNumber: string;
  runAttempt: string;
  workflow: string;
  job: string;
  serverUrl: string;
  apiUrl: string;
  graphqlUrl: string;
  token: string;
  headRef: string;
  baseRef: string;
}

export interface JobOptions {
  github?: Partial<GitHubContext>;
  /** The checkout; a fresh empty directory when omitted. */
  workspace?: string;
  /** Variables every step of the job sees (the workflow's `env:`). */
  env?: Record<string, string>;
  /**
   * false: leave this job's steps out of the secret-leak sweep (only for tests of the sweep
   * itself, which print a secret on purpose).
   */
  sweepSecrets?: boolean;
}

export interface StepOptions {
  inputs?: Record<string, string | number | boolean>;
  /** The step's `env:`. */
  env?: Record<string, string>;
  /** Kill the step (SIGKILL) after this long. Default 10 minutes. */
  timeoutMs?: number;
  /**
   * Cancel the job as the runner does (SIGINT, SIGTERM 7.5 s later, SIGKILL 2.5 s after
   * that) after a delay or when the log shows a line matching `whenLog`.
   */
  cancel?: { afterMs?: number; whenLog?: RegExp };
  /** The node binary; the runner's own node24 is this process's node in tests. */
  node?: string;
  /** Called with each line of stdout/stderr as it arrives (progress in long tests). */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
}

/** How the step's process ended, and its raw streams. */
export interface SpawnResult {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  cancelled: boolean;
  durationMs: number;
  stdout: string;
  stderr: string;
}

export interface ActionRun extends SpawnResult {
  action: string;
  phase: Phase;
  /** stdout as the runner would render it: masked, commands consumed. */
  log: string;
  /** stdout without `::add-mask::` lines: everything the action printed. */
  printed: string;
  commands: WorkflowCommand[];
  annotations: Annotation[];
  masks: string[];
  outputs: Record<string, string>;
  state: Record<string, string>;
  env: Record<string, string>;
  path: string[];
  summary: string;
  /** Whether the step succeeded by the runner's rule: exit code 0. */
  ok: boolean;
}

const RUNNER_ENV_PREFIXES = ['INPUT_', 'STATE_', 'GITHUB_', 'RUNNER_', 'ACTIONS_'];

function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined) continue;
    if (RUNNER_ENV_PREFIXES.some((p) => k.startsWith(p))) continue;
    env[k] = v;
  }
  return env;
}

function defaultContext(overrides: Partial<GitHubContext>): GitHubContext {
  const ref = overrides.ref ?? 'refs/heads/main';
  const refType = overrides.refType ?? (ref.startsWith('refs/tags/') ? 'tag' : 'branch');
  return {
    repository: 'octo-org/gangway-fixture',
    sha: randomBytes(20).toString('hex'),
    ref,
    refName: ref.replace(/^refs\/(heads|tags)\//, '').replace(/^refs\/pull\/(\d+)\/merge$/, '$1/merge'),
    refType,
    eventName: 'push',
    event: {},
    actor: 'octocat',
    runId: String(1_000_000 + Math.floor(Math.random() * 1_000_000)),
    runNumber: '1',
    runAttempt: '1',
    workflow: 'deploy',
    job: 'deploy',
    serverUrl: 'https://github.com',
    apiUrl: 'https://api.github.com',
    graphqlUrl: 'https://api.github.com/graphql',
    token: '',
    headRef: '',
    baseRef: '',
    ...overrides,
  };
}

/** Evaluates the few `${{ }}` expressions that action.yml defaults use. */
function evaluateDefault(value: string, ctx: GitHubContext, runnerTemp: string, workspace: string): string {
  return value.replace(/\$\{\{\s*([^}]+?)\s*\}\}/g, (_, expr: string) => {
    const known: Record<string, string> = {
      'github.token': ctx.token,
      'github.repository': ctx.repository,
      'github.sha': ctx.sha,
      'github.ref': ctx.ref,
      'github.ref_name': ctx.refName,
      'github.actor': ctx.actor,
      'github.run_id': ctx.runId,
      'github.server_url': ctx.serverUrl,
      'github.api_url': ctx.apiUrl,
      'github.workspace': workspace,
      'github.event_name': ctx.eventName,
      'runner.temp': runnerTemp,
      'job.status': 'success',
    };
    if (!(expr in known)) throw new Error(`harness: cannot evaluate \${{ ${expr} }} in an action.yml default`);
    return known[expr] as string;
  });
}

function escapeForStateEnv(name: string): string {
  return `STATE_${name}`;
}

/**
 * One job on a simulated GitHub runner: the steps share RUNNER_TEMP, the workspace, the
 * event, variables exported through GITHUB_ENV and GITHUB_PATH, and each action's saved
 * state, which its post step receives as STATE_* variables.
 */
export class RunnerJob {
  readonly github: GitHubContext;
  readonly root: string;
  readonly runnerTemp: string;
  readonly workspace: string;
  readonly eventPath: string;
  readonly runs: ActionRun[] = [];
  readonly #jobEnv: Record<string, string>;
  readonly #sweep: boolean;
  readonly #exported: Record<string, string> = {};
  readonly #paths: string[] = [];
  readonly #states = new Map<string, Record<string, string>>();
  #stepCounter = 0;

  constructor(options: JobOptions = {}) {
    this.github = defaultContext(options.github ?? {});
    this.root = mkdtempSync(path.join(tmpdir(), 'gangway-runner-'));
    this.runnerTemp = path.join(this.root, 'temp');
    mkdirSync(this.runnerTemp, { recursive: true });
    this.workspace = options.workspace ?? path.join(this.root, 'workspace');
    mkdirSync(this.workspace, { recursive: true });
    this.eventPath = path.join(this.root, 'event.json');
    writeFileSync(this.eventPath, JSON.stringify(this.github.event));
    this.#jobEnv = options.env ?? {};
    this.#sweep = options.sweepSecrets !== false;
  }

  /** Variables exported so far with GITHUB_ENV. */
  get exportedEnv(): Record<string, string> {
    return { ...this.#exported };
  }

  #contextEnv(metadata: ActionMetadata): Record<string, string> {
    const g = this.github;
    const [owner] = g.repository.split('/');
    return {
      CI: 'true',
      GITHUB_ACTIONS: 'true',
      GITHUB_ACTION: `__${path.basename(metadata.dir)}`,
      GITHUB_ACTION_REPOSITORY: '',
      GITHUB_ACTOR: g.actor,
      GITHUB_TRIGGERING_ACTOR: g.actor,
      GITHUB_API_URL: g.apiUrl,
      GITHUB_BASE_REF: g.baseRef,
      GITHUB_EVENT_NAME: g.eventName,
      GITHUB_EVENT_PATH: this.eventPath,
      GITHUB_GRAPHQL_URL: g.graphqlUrl,
      GITHUB_HEAD_REF: g.headRef,
      GITHUB_JOB: g.job,
      GITHUB_REF: g.ref,
      GITHUB_REF_NAME: g.refName,
      GITHUB_REF_TYPE: g.refType,
      GITHUB_REPOSITORY: g.repository,
      GITHUB_REPOSITORY_OWNER: owner ?? '',
      GITHUB_RUN_ATTEMPT: g.runAttempt,
      GITHUB_RUN_ID: g.runId,
      GITHUB_RUN_NUMBER: g.runNumber,
      GITHUB_SERVER_URL: g.serverUrl,
      GITHUB_SHA: g.sha,
      GITHUB_WORKFLOW: g.workflow,
      GITHUB_WORKSPACE: this.workspace,
      RUNNER_ARCH: 'X64',
      RUNNER_NAME: 'gangway-harness',
      RUNNER_OS: 'Linux',
      RUNNER_TEMP: this.runnerTemp,
      RUNNER_TOOL_CACHE: path.join(this.root, 'tool-cache'),
      RUNNER_DEBUG: '1',
    };
  }

  /** Runs one entry (`main`, `pre` or `post`) of the action in `actionDir`. */
  async step(actionDir: string, phase: Phase, options: StepOptions = {}): Promise<ActionRun> {
    const metadata = readActionMetadata(actionDir);
    const entry = phase === 'main' ? metadata.runs.main : metadata.runs[phase];
    if (!entry) throw new Error(`harness: ${metadata.name} has no ${phase} entry`);
    const entryPath = path.join(actionDir, entry);
    if (!existsSync(entryPath)) throw new Error(`harness: ${entryPath} does not exist (run npm run build)`);

    const inputs = options.inputs ?? {};
    for (const name of Object.keys(inputs)) {
      if (!(name in metadata.inputs)) {
        throw new Error(`harness: ${metadata.name} has no input "${name}" (action.yml declares: ${Object.keys(metadata.inputs).join(', ')})`);
      }
    }

    const n = ++this.#stepCounter;
    const files = path.join(this.root, 'files', `${n}-${path.basename(actionDir)}-${phase}`);
    mkdirSync(files, { recursive: true });
    const fileFor = (kind: string): string => {
      const f = path.join(files, kind);
      writeFileSync(f, '');
      return f;
    };
    const outputFile = fileFor('output');
    const stateFile = fileFor('state');
    const envFile = fileFor('env');
    const pathFile = fileFor('path');
    const summaryFile = fileFor('summary');

    const env: Record<string, string> = {
      ...baseEnv(),
      ...this.#jobEnv,
      ...this.#exported,
      ...(options.env ?? {}),
      ...this.#contextEnv(metadata),
      GITHUB_OUTPUT: outputFile,
      GITHUB_STATE: stateFile,
      GITHUB_ENV: envFile,
      GITHUB_PATH: pathFile,
      GITHUB_STEP_SUMMARY: summaryFile,
    };
    if (this.#paths.length > 0) env.PATH = [...this.#paths].reverse().join(path.delimiter) + path.delimiter + (env.PATH ?? '');
    // Inputs: every declared input with a default, then what the step gives.
    for (const [name, spec] of Object.entries(metadata.inputs)) {
      const given = inputs[name];
      const value = given !== undefined ? String(given) : spec.default !== undefined ? evaluateDefault(spec.default, this.github, this.runnerTemp, this.workspace) : undefined;
      if (value !== undefined) env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] = value;
    }
    // The post step sees what the latest main of the same action saved; main sees no state.
    if (phase === 'post') {
      for (const [k, v] of Object.entries(this.#states.get(actionDir) ?? {})) env[escapeForStateEnv(k)] = v;
    }

    const run = await spawnStep(options.node ?? process.execPath, entryPath, env, this.workspace, options);
    const state = parseKeyValueFile(readFileSync(stateFile, 'utf8'));
    const exported = parseKeyValueFile(readFileSync(envFile, 'utf8'));
    const addedPath = parsePathFile(readFileSync(pathFile, 'utf8'));
    if (phase === 'main') this.#states.set(actionDir, state);
    Object.assign(this.#exported, exported);
    this.#paths.push(...addedPath);
    const rendered = renderLog(run.stdout);
    const result: ActionRun = {
      action: metadata.name,
      phase,
      ...run,
      ...rendered,
      outputs: parseKeyValueFile(readFileSync(outputFile, 'utf8')),
      state,
      env: exported,
      path: addedPath,
      summary: readFileSync(summaryFile, 'utf8'),
      ok: run.exitCode === 0,
    };
    this.runs.push(result);
    if (this.#sweep) recordRun(result, inputs);
    return result;
  }

  /** main, as a `uses:` step. */
  main(actionDir: string, options: StepOptions = {}): Promise<ActionRun> {
    return this.step(actionDir, 'main', options);
  }

  /** post of an action whose main ran in this job (post-if: always()). */
  post(actionDir: string, options: Omit<StepOptions, 'inputs'> & { inputs?: StepOptions['inputs'] } = {}): Promise<ActionRun> {
    return this.step(actionDir, 'post', options);
  }

  /** Removes the job's temporary directories. */
  cleanup(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}

function spawnStep(node: string, entry: string, env: Record<string, string>, cwd: string, options: StepOptions): Promise<SpawnResult> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(node, [entry], { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    let cancelled = false;
    const timers: NodeJS.Timeout[] = [];
    const cancel = (): void => {
      if (cancelled) return;
      cancelled = true;
      child.kill('SIGINT');
      timers.push(setTimeout(() => child.kill('SIGTERM'), 7500));
      timers.push(setTimeout(() => child.kill('SIGKILL'), 10_000));
    };
    const watch = (stream: 'stdout' | 'stderr') => {
      let partial = '';
      return (chunk: Buffer): void => {
        const text = chunk.toString('utf8');
        if (stream === 'stdout') stdout += text;
        else stderr += text;
        partial += text;
        const lines = partial.split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) {
          options.onLine?.(line, stream);
          if (options.cancel?.whenLog?.test(line)) cancel();
        }
      };
    };
    child.stdout.on('data', watch('stdout'));
    child.stderr.on('data', watch('stderr'));
    timers.push(
      setTimeout(() => {
        timedOut = true;
        child.kill('SIGKILL');
      }, options.timeoutMs ?? 600_000),
    );
    if (options.cancel?.afterMs !== undefined) timers.push(setTimeout(cancel, options.cancel.afterMs));
    child.on('error', reject);
    child.on('close', (exitCode, signal) => {
      for (const t of timers) clearTimeout(t);
      resolve({ exitCode, signal, timedOut, cancelled, durationMs: Math.round(performance.now() - started), stdout, stderr });
    });
  });
}

/** One-shot convenience: a fresh job, the action's main, then its post when it has one. */
export async function runMainAndPost(actionDir: string, options: StepOptions & JobOptions = {}): Promise<{ job: RunnerJob; main: ActionRun; post?: ActionRun }> {
  const job = new RunnerJob(options);
  const main = await job.main(actionDir, options);
  const metadata = readActionMetadata(actionDir);
  const post = metadata.runs.post ? await job.post(actionDir, { ...options, cancel: undefined }) : undefined;
  return { job, main, post };
}
