import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseKeyValueFile, parsePathFile } from './file-commands.ts';
import { readActionMetadata } from './action-metadata.ts';
import { renderLog, type Annotation, type WorkflowCommand } from './workflow-commands.ts';

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
   * itself, which print a secret on purpose). Listeners of onActionRun see it as `sweep`.
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
  cancel?: { afterMs?: number; whenLog?: RegExp; signal?: AbortSignal };
  /** The node binary; the runner's own node24 is this process's node in tests. */
  node?: string;
  /** Called with each line of stdout/stderr as it arrives (progress in long tests). */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
  /** More secrets (label → value) the sweep looks for in this step, beyond its secret inputs. */
  secrets?: Record<string, string>;
  /** post: the state its own main saved (default: the latest main of the same action in this job). */
  state?: Record<string, string>;
}

export interface ScriptOptions extends Pick<StepOptions, 'env' | 'timeoutMs' | 'cancel' | 'onLine' | 'secrets'> {
  /** The runner's shell line, `{0}` for the script file. Default `bash -e {0}`. */
  shell?: string;
  /** Relative to the workspace. */
  workingDirectory?: string;
}

interface StepFiles {
  dir: string;
  output: string;
  state: string;
  env: string;
  path: string;
  summary: string;
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

/** What each finished step reports to the listeners of onActionRun. */
export interface ActionRunEvent {
  run: ActionRun;
  /** The action's directory; undefined for a `run:` script step. */
  actionDir: string | undefined;
  /** The inputs the step was given (the action.yml defaults left out). */
  inputs: Record<string, string | number | boolean>;
  /** StepOptions.secrets: more secrets (label → value) the step was given. */
  secrets: Record<string, string>;
  /** false when the job was made with `sweepSecrets: false`. */
  sweep: boolean;
}

export type ActionRunListener = (event: ActionRunEvent) => void;

const listeners = new Set<ActionRunListener>();

/**
 * Calls `listener` after every step any RunnerJob runs, until the returned function is
 * called. The secret sweep of the test setup (test/setup/secret-sweep.ts) listens here, so
 * that the harness needs to know nothing of it.
 */
export function onActionRun(listener: ActionRunListener): () => void {
  listeners.add(listener);
  return () => {
    listeners.delete(listener);
  };
}

function reportRun(event: ActionRunEvent): void {
  for (const listener of listeners) listener(event);
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

  #contextEnv(actionName: string): Record<string, string> {
    const g = this.github;
    const [owner] = g.repository.split('/');
    return {
      CI: 'true',
      GITHUB_ACTIONS: 'true',
      GITHUB_ACTION: actionName,
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

    const files = this.#stepFiles(`${path.basename(actionDir)}-${phase}`);
    const env = this.#stepEnv(`__${path.basename(metadata.dir)}`, files, options.env);
    // Inputs: every declared input with a default, then what the step gives.
    for (const [name, spec] of Object.entries(metadata.inputs)) {
      const given = inputs[name];
      const value = given !== undefined ? String(given) : spec.default !== undefined ? evaluateDefault(spec.default, this.github, this.runnerTemp, this.workspace) : undefined;
      if (value !== undefined) env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] = value;
    }
    // The post step sees what the latest main of the same action saved; main sees no state.
    if (phase === 'post') {
      for (const [k, v] of Object.entries(options.state ?? this.#states.get(actionDir) ?? {})) env[escapeForStateEnv(k)] = v;
    }

    const run = await spawnStep(options.node ?? process.execPath, [entryPath], env, this.workspace, options);
    const result = this.#collect(metadata.name, phase, run, files);
    if (phase === 'main') this.#states.set(actionDir, result.state);
    this.runs.push(result);
    reportRun({ run: result, actionDir: path.resolve(actionDir), inputs, secrets: options.secrets ?? {}, sweep: this.#sweep });
    return result;
  }

  /**
   * A `run:` step: `command` is the runner's shell line with `{0}` standing for the script
   * file (`bash -e {0}` is the runner's default on Linux). It gets the same GITHUB_* files
   * and variables as an action, and `GITHUB_ACTION` names the step.
   */
  async script(name: string, body: string, options: ScriptOptions = {}): Promise<ActionRun> {
    const files = this.#stepFiles(`run-${name.replace(/[^\w-]+/g, '_').slice(0, 40)}`);
    const scriptFile = path.join(files.dir, 'script.sh');
    writeFileSync(scriptFile, body.endsWith('\n') ? body : `${body}\n`);
    const env = this.#stepEnv(name, files, options.env);
    const command = (options.shell ?? 'bash -e {0}').split(/\s+/).filter(Boolean);
    if (!command.includes('{0}')) command.push('{0}');
    const argv = command.map((part) => (part === '{0}' ? scriptFile : part));
    const cwd = options.workingDirectory ? path.resolve(this.workspace, options.workingDirectory) : this.workspace;
    // A shell's children hold its output open: a timeout or cancel ends the whole process group.
    const run = await spawnStep(argv[0] as string, argv.slice(1), env, cwd, { ...options, processGroup: true });
    const result = this.#collect(name, 'main', run, files);
    this.runs.push(result);
    reportRun({ run: result, actionDir: undefined, inputs: {}, secrets: options.secrets ?? {}, sweep: this.#sweep });
    return result;
  }

  #stepFiles(label: string): StepFiles {
    const n = ++this.#stepCounter;
    const dir = path.join(this.root, 'files', `${n}-${label}`);
    mkdirSync(dir, { recursive: true });
    const fileFor = (kind: string): string => {
      const f = path.join(dir, kind);
      writeFileSync(f, '');
      return f;
    };
    return { dir, output: fileFor('output'), state: fileFor('state'), env: fileFor('env'), path: fileFor('path'), summary: fileFor('summary') };
  }

  #stepEnv(actionName: string, files: StepFiles, stepEnv: Record<string, string> | undefined): Record<string, string> {
    const env: Record<string, string> = {
      ...baseEnv(),
      ...this.#jobEnv,
      ...this.#exported,
      ...(stepEnv ?? {}),
      ...this.#contextEnv(actionName),
      GITHUB_OUTPUT: files.output,
      GITHUB_STATE: files.state,
      GITHUB_ENV: files.env,
      GITHUB_PATH: files.path,
      GITHUB_STEP_SUMMARY: files.summary,
    };
    if (this.#paths.length > 0) env.PATH = [...this.#paths].reverse().join(path.delimiter) + path.delimiter + (env.PATH ?? '');
    return env;
  }

  /** Reads what the step wrote through the runner's files, and renders its log. */
  #collect(action: string, phase: Phase, run: SpawnResult, files: StepFiles): ActionRun {
    const state = parseKeyValueFile(readFileSync(files.state, 'utf8'));
    const exported = parseKeyValueFile(readFileSync(files.env, 'utf8'));
    const addedPath = parsePathFile(readFileSync(files.path, 'utf8'));
    Object.assign(this.#exported, exported);
    this.#paths.push(...addedPath);
    return {
      action,
      phase,
      ...run,
      ...renderLog(run.stdout),
      outputs: parseKeyValueFile(readFileSync(files.output, 'utf8')),
      state,
      env: exported,
      path: addedPath,
      summary: readFileSync(files.summary, 'utf8'),
      ok: run.exitCode === 0,
    };
  }

  /** Adds a directory to PATH for the steps after this one (what GITHUB_PATH does). */
  addPath(dir: string): void {
    this.#paths.push(dir);
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

function spawnStep(command: string, args: string[], env: Record<string, string>, cwd: string, options: Pick<StepOptions, 'timeoutMs' | 'cancel' | 'onLine'> & { processGroup?: boolean }): Promise<SpawnResult> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: options.processGroup === true });
    const kill = (signal: NodeJS.Signals): void => {
      if (options.processGroup && child.pid !== undefined) {
        try {
          process.kill(-child.pid, signal);
        } catch {
          // the group is gone
        }
      } else child.kill(signal);
    };
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    let cancelled = false;
    const timers: NodeJS.Timeout[] = [];
    const cancel = (): void => {
      if (cancelled) return;
      cancelled = true;
      kill('SIGINT');
      timers.push(setTimeout(() => kill('SIGTERM'), 7500));
      timers.push(setTimeout(() => kill('SIGKILL'), 10_000));
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
        kill('SIGKILL');
      }, options.timeoutMs ?? 600_000),
    );
    if (options.cancel?.afterMs !== undefined) timers.push(setTimeout(cancel, options.cancel.afterMs));
    const signal = options.cancel?.signal;
    if (signal?.aborted) cancel();
    signal?.addEventListener('abort', cancel, { once: true });
    child.on('error', reject);
    child.on('close', (exitCode, killedBy) => {
      for (const t of timers) clearTimeout(t);
      signal?.removeEventListener('abort', cancel);
      resolve({ exitCode, signal: killedBy, timedOut, cancelled, durationMs: Math.round(performance.now() - started), stdout, stderr });
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
