// Runs a real workflow file on this machine, job by job in `needs` order, each job on a fresh
// RunnerJob of the harness: `uses: ./action-*` and `OWNER/gangway/action-*@v1` start this
// checkout's dist bundles exactly as GitHub's runner does; `run:` steps run in the runner's
// default shell; post steps run in reverse order after the job. Test-only.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { RunnerJob, readActionMetadata, type ActionRun, type GitHubContext } from '@gangway/harness';
import { asInputString, evaluateCondition, evaluateTemplate, evaluateValue, type ExpressionScope, type Json, type StatusFunctions } from './expressions.ts';
import { standInFor, standInNames } from './stand-ins.ts';
import { loadWorkflow, needsOf, triggers, UnsupportedWorkflowError, type JobSpec, type StepSpec, type Workflow } from './workflow-file.ts';

export type Result = 'success' | 'failure' | 'cancelled' | 'skipped';

/** What a run is started by: the event's name, payload, and where it points. */
export interface SyntheticEvent {
  name: 'push' | 'workflow_run' | 'workflow_dispatch';
  payload: Record<string, unknown>;
  /** github.sha and github.ref of the run. */
  sha: string;
  ref?: string;
  actor?: string;
}

/** secrets, vars and workflow_dispatch inputs, as a user sets them in the repository. */
export interface RunSettings {
  secrets?: Record<string, string>;
  vars?: Record<string, string>;
  inputs?: Record<string, string | boolean | number>;
  /** Settings of an environment: only jobs that name it (`environment:`) see them, over the repository's. */
  environments?: Record<string, { secrets?: Record<string, string>; vars?: Record<string, string> }>;
}

export interface WorkflowRunOptions {
  /** The workflow file. */
  workflow: string;
  event: SyntheticEvent;
  /** secrets, vars and inputs: an object, or a YAML/JSON file holding one. */
  settings?: RunSettings | string;
  /** The git repository actions/checkout copies from (default: this checkout). */
  repository?: string;
  /** Where `./action-*` and `OWNER/gangway/action-*@ref` resolve: a checkout with built dist/ (default: this one). */
  actionsRoot?: string;
  /** repository, apiUrl, serverUrl, token, runId … of the run. */
  github?: Partial<Omit<GitHubContext, 'sha' | 'ref' | 'eventName' | 'event' | 'job' | 'workflow'>>;
  /** Variables the runner machine itself has (DOCKER_HOST of its engine, say). */
  machineEnv?: Record<string, string>;
  /** Progress lines, secrets masked. */
  log?: (line: string) => void;
  /** Called before each job that runs, with the run so far and the run's masker (to publish it, masked, to a local Actions API, say). */
  onJobStart?: (job: { id: string; name: string }, run: WorkflowRunResult, mask: (text: string) => string) => void | Promise<void>;
  /** Cancels the run as GitHub's cancel button does. */
  signal?: AbortSignal;
  /** false: leave the run out of the secret sweep (only for tests that print a secret on purpose). */
  sweepSecrets?: boolean;
}

export interface StepResult {
  id: string | undefined;
  name: string;
  kind: 'uses' | 'run' | 'post';
  uses?: string;
  outcome: Result;
  conclusion: Result;
  outputs: Record<string, string>;
  durationMs: number;
  /** The harness's record of the process (not for stand-ins or skipped steps). */
  run?: ActionRun;
  /** Why it failed, when the runner itself failed it (a stand-in, a timeout). */
  error?: string;
}

export interface JobResult {
  id: string;
  name: string;
  result: Result;
  outputs: Record<string, string>;
  environment?: { name: string; url: string };
  steps: StepResult[];
  durationMs: number;
}

export interface WorkflowRunResult {
  workflow: string;
  event: string;
  runId: string;
  /** false when the event does not start this workflow (no matching trigger or filter). */
  triggered: boolean;
  conclusion: Result;
  jobs: JobResult[];
  durationMs: number;
}

const REPO_ROOT = path.resolve(import.meta.dirname, '..', '..', '..');

/** The Gangway action a `uses:` names (`./action-x` or `OWNER/gangway/action-x@ref`): `action-x`, or undefined. */
export function gangwayActionName(uses: string): string | undefined {
  return /^(?:\.\/|[\w.-]+\/gangway\/)(action-[a-z-]+)(?:@[\w./-]+)?$/.exec(uses)?.[1];
}

/** The directory of a Gangway action for `uses:`, or undefined when it names none. */
export function gangwayActionDir(uses: string, actionsRoot: string): string | undefined {
  const name = gangwayActionName(uses);
  if (!name) return undefined;
  const dir = path.join(actionsRoot, name);
  return existsSync(path.join(dir, 'action.yml')) ? dir : undefined;
}

export function readSettings(settings: RunSettings | string | undefined): Required<RunSettings> {
  const raw = typeof settings === 'string' ? ((parse(readFileSync(settings, 'utf8')) as RunSettings | null) ?? {}) : (settings ?? {});
  const strings = (o: Record<string, unknown> | undefined): Record<string, string> => Object.fromEntries(Object.entries(o ?? {}).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]));
  const environments = Object.fromEntries(Object.entries(raw.environments ?? {}).map(([name, e]) => [name, { secrets: strings(e.secrets), vars: strings(e.vars) }]));
  return { secrets: strings(raw.secrets), vars: strings(raw.vars), inputs: raw.inputs ?? {}, environments };
}

/** Shorter secrets are not looked for by the sweep: such words (a registry user name) turn up in any log. */
const MIN_SWEPT = 8;

/** What the sweep looks for of a secret: the key blocks of a VPN config (its CA and certificate are public), else the whole value. */
function sweptParts(name: string, value: string): Record<string, string> {
  const blocks = [...value.matchAll(/<(key|tls-auth|tls-crypt|tls-crypt-v2|secret)>([\s\S]*?)<\/\1>/g)];
  if (blocks.length > 0) return Object.fromEntries(blocks.map((m) => [`secrets.${name} <${m[1]}>`, m[2] as string]));
  return value.trim().length < MIN_SWEPT ? {} : { [`secrets.${name}`]: value };
}

function referencedSecrets(step: StepSpec, secrets: Record<string, string>): Record<string, string> {
  const text = JSON.stringify([step.with ?? {}, step.env ?? {}, step.run ?? '']);
  const found: Record<string, string> = {};
  // The whole secrets context handed over (toJSON(secrets)) counts as every secret.
  if (/\bsecrets\s*\)/.test(text)) for (const [name, value] of Object.entries(secrets)) Object.assign(found, sweptParts(name, value));
  for (const m of text.matchAll(/secrets(?:\.([A-Za-z_][\w]*)|\[\s*\\?['"]([A-Za-z_][\w]*)\\?['"]\s*\])/g)) {
    const name = (m[1] ?? m[2]) as string;
    const value = secrets[name];
    if (value) Object.assign(found, sweptParts(name, value));
  }
  return found;
}

/** Masks every secret, and every line of one, in a line the runner prints. */
function masker(secrets: Record<string, string>): { mask: (line: string) => string; add: (value: string) => void } {
  const values = new Set<string>();
  const add = (value: string): void => {
    for (const part of [value, ...value.split('\n')].map((p) => p.trim())) if (part.length >= 4) values.add(part);
  };
  for (const v of Object.values(secrets)) add(v);
  return {
    add,
    mask: (line) => [...values].sort((a, b) => b.length - a.length).reduce((out, v) => out.split(v).join('***'), line),
  };
}

function githubContext(options: WorkflowRunOptions, workflow: Workflow, runId: string): Omit<GitHubContext, 'job'> {
  const g = options.github ?? {};
  const ref = options.event.ref ?? 'refs/heads/main';
  return {
    repository: g.repository ?? 'gangway/gangway',
    sha: options.event.sha,
    ref,
    refName: ref.replace(/^refs\/(heads|tags)\//, ''),
    refType: ref.startsWith('refs/tags/') ? 'tag' : 'branch',
    eventName: options.event.name,
    event: options.event.payload,
    actor: options.event.actor ?? g.actor ?? 'octocat',
    runId,
    runNumber: g.runNumber ?? '1',
    runAttempt: g.runAttempt ?? '1',
    workflow: workflow.spec.name ?? path.basename(workflow.file),
    serverUrl: g.serverUrl ?? 'https://github.com',
    apiUrl: g.apiUrl ?? 'https://api.github.com',
    graphqlUrl: g.graphqlUrl ?? 'https://api.github.com/graphql',
    token: g.token ?? '',
    headRef: g.headRef ?? '',
    baseRef: g.baseRef ?? '',
  };
}

function githubExpressionContext(c: Omit<GitHubContext, 'job'>, job: string, workspace: string): Json {
  return {
    action: '',
    actor: c.actor,
    triggering_actor: c.actor,
    api_url: c.apiUrl,
    base_ref: c.baseRef,
    event: c.event as Json,
    event_name: c.eventName,
    graphql_url: c.graphqlUrl,
    head_ref: c.headRef,
    job,
    ref: c.ref,
    ref_name: c.refName,
    ref_type: c.refType,
    repository: c.repository,
    repository_owner: c.repository.split('/')[0] ?? '',
    run_attempt: c.runAttempt,
    run_id: c.runId,
    run_number: c.runNumber,
    server_url: c.serverUrl,
    sha: c.sha,
    token: c.token,
    workflow: c.workflow,
    workspace,
  };
}

/** workflow_dispatch inputs: declared defaults, then what is given, typed and checked as the form does. */
function dispatchInputs(workflow: Workflow, given: Record<string, string | boolean | number>): Record<string, Json> {
  const declared = (triggers(workflow.spec).get('workflow_dispatch')?.['inputs'] ?? {}) as Record<string, { type?: string; default?: unknown; required?: boolean; options?: unknown[] }>;
  const bad = (name: string, why: string): never => {
    throw new UnsupportedWorkflowError(workflow.file, `on.workflow_dispatch.inputs.${name}`, why);
  };
  const inputs: Record<string, Json> = {};
  for (const name of Object.keys(given)) if (!(name in declared)) throw new UnsupportedWorkflowError(workflow.file, `on.workflow_dispatch.inputs`, `declares no input "${name}"`);
  for (const [name, spec] of Object.entries(declared)) {
    const value = given[name] ?? spec.default;
    if (value === undefined || value === '') {
      if (spec.required) throw new UnsupportedWorkflowError(workflow.file, `on.workflow_dispatch.inputs.${name}`, 'is required: give it in the run settings');
      inputs[name] = spec.type === 'boolean' ? false : '';
      continue;
    }
    const text = typeof value === 'string' ? value : JSON.stringify(value);
    if (spec.type === 'boolean') {
      if (!['true', 'false'].includes(text)) bad(name, `is a boolean: give true or false, not ${JSON.stringify(value)}`);
      inputs[name] = text === 'true';
    } else if (spec.type === 'number') {
      if (!Number.isFinite(Number(text))) bad(name, `is a number, not ${JSON.stringify(value)}`);
      inputs[name] = Number(text);
    } else if (spec.type === 'choice') {
      if (!(spec.options ?? []).map(String).includes(text)) bad(name, `must be one of ${JSON.stringify(spec.options ?? [])}, not ${JSON.stringify(value)}`);
      inputs[name] = text;
    } else inputs[name] = text;
  }
  return inputs;
}

/** A branch filter pattern as GitHub matches it: `*` within a path segment, `**` across them. */
function globMatches(pattern: string, value: string): boolean {
  const re = pattern
    .split('**')
    .map((part) => part.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '.'))
    .join('.*');
  return new RegExp(`^${re}$`).test(value);
}

const FILTERS: Record<string, string[]> = { push: ['branches'], workflow_run: ['branches', 'workflows', 'types'], workflow_dispatch: ['inputs'] };

/** Whether the event starts the workflow: a declared trigger whose filters match; filters not done here are refused by name. */
function isTriggered(workflow: Workflow, event: SyntheticEvent): boolean {
  for (const [name, filters] of triggers(workflow.spec)) {
    for (const key of Object.keys(filters)) if (!(FILTERS[name] ?? []).includes(key)) throw new UnsupportedWorkflowError(workflow.file, `on.${name}.${key}`, 'this trigger filter is not supported by the local runner');
  }
  const filters = triggers(workflow.spec).get(event.name);
  if (!filters) return false;
  const branchOf = (): string | undefined => {
    if (event.name === 'workflow_run') return (event.payload['workflow_run'] as { head_branch?: string } | undefined)?.head_branch;
    return (event.ref ?? '').replace(/^refs\/heads\//, '');
  };
  const branches = filters['branches'] as string[] | undefined;
  if (branches && !branches.some((b) => globMatches(b, branchOf() ?? ''))) return false;
  if (event.name === 'workflow_run') {
    const run = event.payload['workflow_run'] as { name?: string } | undefined;
    const workflows = filters['workflows'] as string[] | undefined;
    if (workflows && !workflows.includes(run?.name ?? '')) return false;
    const types = filters['types'] as string[] | undefined;
    const action = event.payload['action'];
    if (types && !types.includes(typeof action === 'string' ? action : '')) return false;
  }
  return true;
}

function timeoutMs(value: Json, where: string): number | undefined {
  if (value === null || value === undefined || value === '') return undefined;
  const minutes = Number(value);
  if (!Number.isFinite(minutes) || minutes <= 0) throw new Error(`${where}: timeout-minutes must be a positive number, got ${JSON.stringify(value)}`);
  return minutes * 60_000;
}

function asBoolean(value: Json, where: string): boolean {
  if (value === true || value === 'true') return true;
  if (value === false || value === 'false' || value === null || value === '') return false;
  throw new Error(`${where}: continue-on-error must be a boolean, got ${JSON.stringify(value)}`);
}

function stringMap(values: Record<string, unknown> | undefined, scope: ExpressionScope, where: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(values ?? {})) out[k] = asInputString(evaluateValue(v, scope, `${where}.${k}`));
  return out;
}

/**
 * Before anything runs: every `uses:` names a Gangway action of this checkout (with no `pre`
 * entry, which is not run here) or a stand-in given only inputs it does.
 */
function checkUses(workflow: Workflow, actionsRoot: string): void {
  for (const [id, job] of Object.entries(workflow.spec.jobs)) {
    job.steps.forEach((step, i) => {
      if (step.uses === undefined) return;
      const where = `jobs.${id}.steps[${i}]`;
      const dir = gangwayActionDir(step.uses, actionsRoot);
      if (dir) {
        if (readActionMetadata(dir).runs.pre) throw new UnsupportedWorkflowError(workflow.file, `${where}.uses`, `${step.uses} has a pre entry, which the local runner does not run`);
        return;
      }
      const standIn = standInFor(step.uses);
      if (!standIn) throw new UnsupportedWorkflowError(workflow.file, `${where}.uses`, `"${step.uses}" has no local stand-in (Gangway's ./action-* and OWNER/gangway/action-*@ref run from this checkout's dist/; of other actions only ${standInNames.join(' and ')})`);
      const unknown = Object.keys(step.with ?? {}).filter((k) => !standIn.inputs.includes(k));
      if (unknown.length > 0) throw new UnsupportedWorkflowError(workflow.file, `${where}.with.${unknown[0]}`, `the local stand-in for ${step.uses} does not support it`);
    });
  }
}

/** The runner machine's PATH: this one's, less the project's node_modules/.bin (setup-node adds Node 24 where a workflow asks for it). */
function runnerPath(): string {
  return (process.env['PATH'] ?? '/usr/local/bin:/usr/bin:/bin').split(path.delimiter).filter((dir) => !dir.includes(`${path.sep}node_modules${path.sep}`)).join(path.delimiter);
}

export async function runWorkflow(options: WorkflowRunOptions): Promise<WorkflowRunResult> {
  const started = performance.now();
  const workflow = loadWorkflow(options.workflow);
  const actionsRoot = options.actionsRoot ?? REPO_ROOT;
  checkUses(workflow, actionsRoot);
  const settings = readSettings(options.settings);
  const runId = options.github?.runId ?? String(1_000_000 + Math.floor(Math.random() * 1_000_000));
  const inputs: Record<string, Json> = options.event.name === 'workflow_dispatch' ? dispatchInputs(workflow, settings.inputs) : {};
  const triggered = isTriggered(workflow, options.event);
  const context = githubContext(options, workflow, runId);
  // The dispatch payload carries the inputs as the form sent them: strings.
  if (options.event.name === 'workflow_dispatch') context.event = { ...context.event, inputs: Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, asInputString(v)])) };
  const masks = masker({ ...settings.secrets, ...Object.fromEntries(Object.entries(settings.environments).flatMap(([env, s]) => Object.entries(s.secrets ?? {}).map(([k, v]) => [`${env}/${k}`, v]))), GITHUB_TOKEN: context.token });
  const log = (line: string): void => options.log?.(masks.mask(line));
  const result: WorkflowRunResult = { workflow: workflow.file, event: options.event.name, runId, triggered, conclusion: 'skipped', jobs: [], durationMs: 0 };
  if (!triggered) {
    log(`${path.basename(workflow.file)}: not triggered by ${options.event.name}`);
    return result;
  }
  const cancelled = (): boolean => options.signal?.aborted === true;
  const byId = new Map<string, JobResult>();
  const closure = (id: string): string[] => {
    const seen = new Set<string>();
    const walk = (j: string): void => {
      for (const n of needsOf(workflow.spec.jobs[j] as JobSpec)) {
        if (seen.has(n)) continue;
        seen.add(n);
        walk(n);
      }
    };
    walk(id);
    return [...seen];
  };

  for (const id of workflow.order) {
    const spec = workflow.spec.jobs[id] as JobSpec;
    const needs = Object.fromEntries(needsOf(spec).map((n) => [n, { result: byId.get(n)?.result ?? 'skipped', outputs: byId.get(n)?.outputs ?? {} }])) as Json;
    const upstream = closure(id).map((n) => byId.get(n)?.result ?? 'skipped');
    const jobStatus: StatusFunctions = {
      success: () => !cancelled() && upstream.every((r) => r === 'success'),
      failure: () => upstream.some((r) => r === 'failure'),
      cancelled,
    };
    // jobs.<id>.if sees github, needs, vars, inputs (no secrets, no env), as on GitHub.
    const baseContexts = { github: githubExpressionContext(context, id, ''), vars: settings.vars, inputs, needs };
    const name = spec.name ? evaluateTemplate(spec.name, { contexts: { ...baseContexts, matrix: {}, strategy: {} } }, `jobs.${id}.name`) : id;
    const jobStarted = performance.now();
    if (!evaluateCondition(spec.if, { contexts: baseContexts, status: jobStatus }, `jobs.${id}.if`)) {
      const skipped: JobResult = { id, name, result: 'skipped', outputs: {}, steps: [], durationMs: 0 };
      byId.set(id, skipped);
      result.jobs.push(skipped);
      log(`○ job ${name}: skipped`);
      continue;
    }
    await options.onJobStart?.({ id, name }, result, masks.mask);
    log(`▶ job ${name}`);
    const job = await runJob({ id, name, spec, workflow, context, settings, inputs, needs, actionsRoot, options, log, masks, cancelled });
    job.durationMs = Math.round(performance.now() - jobStarted);
    byId.set(id, job);
    result.jobs.push(job);
    log(`${job.result === 'success' ? '✔' : '✘'} job ${name}: ${job.result} (${(job.durationMs / 1000).toFixed(1)} s)`);
  }
  const counted = result.jobs.filter((j) => !(j.result === 'failure' && asBoolean(evaluateValue(workflow.spec.jobs[j.id]?.['continue-on-error'] ?? false, { contexts: {} }, `jobs.${j.id}.continue-on-error`), j.id)));
  result.conclusion = cancelled() ? 'cancelled' : counted.some((j) => j.result === 'failure') ? 'failure' : 'success';
  result.durationMs = Math.round(performance.now() - started);
  return result;
}

interface JobRun {
  id: string;
  name: string;
  spec: JobSpec;
  workflow: Workflow;
  context: Omit<GitHubContext, 'job'>;
  settings: ReturnType<typeof readSettings>;
  inputs: Record<string, Json>;
  needs: Json;
  actionsRoot: string;
  options: WorkflowRunOptions;
  log: (line: string) => void;
  masks: ReturnType<typeof masker>;
  cancelled: () => boolean;
}

interface PendingPost {
  dir: string;
  name: string;
  postIf: string;
  inputs: Record<string, string>;
  env: Record<string, string>;
  secrets: Record<string, string>;
  state: Record<string, string>;
}

/** Backstop after a cancel or timeout: the harness kills what is still running then (the runner's SIGINT → SIGTERM → SIGKILL takes 10 s). */
const KILL_BACKSTOP_MS = 15_000;

async function runJob(j: JobRun): Promise<JobResult> {
  const { id, spec, options, log } = j;
  const job = new RunnerJob({ github: { ...j.context, job: id }, env: { PATH: runnerPath(), ...(options.machineEnv ?? {}) }, sweepSecrets: options.sweepSecrets !== false });
  const steps: StepResult[] = [];
  const stepsContext: Record<string, Json> = {};
  const posts: PendingPost[] = [];
  let failed = false;
  const runner = { os: 'Linux', arch: 'X64', name: 'gangway-local', temp: job.runnerTemp, tool_cache: path.join(job.root, 'tool-cache') };
  const github = githubExpressionContext(j.context, id, job.workspace);
  // The environment's settings reach only the jobs that name it, over the repository's.
  const environment = spec.environment === undefined ? undefined : typeof spec.environment === 'string' ? { name: spec.environment } : spec.environment;
  const environmentName = environment ? evaluateTemplate(environment.name, { contexts: { github, vars: j.settings.vars, inputs: j.inputs, needs: j.needs, matrix: {}, strategy: {} } }, `jobs.${id}.environment.name`) : undefined;
  const scoped = environmentName ? j.settings.environments[environmentName] : undefined;
  const vars = { ...j.settings.vars, ...(scoped?.vars ?? {}) };
  const secrets = { ...j.settings.secrets, ...(scoped?.secrets ?? {}), GITHUB_TOKEN: j.context.token };
  const base = { github, vars, inputs: j.inputs, needs: j.needs, matrix: {}, strategy: {} };
  const jobDeadline = (() => {
    const ms = timeoutMs(evaluateValue(spec['timeout-minutes'] ?? null, { contexts: base }, `jobs.${id}.timeout-minutes`), `jobs.${id}`);
    return ms === undefined ? undefined : Date.now() + ms;
  })();
  const timedOut = (): boolean => jobDeadline !== undefined && Date.now() >= jobDeadline;
  const isCancelled = (): boolean => j.cancelled() || timedOut();
  const status: StatusFunctions = { success: () => !failed && !isCancelled(), failure: () => failed, cancelled: isCancelled };
  const jobStatus = (): string => (isCancelled() ? 'cancelled' : failed ? 'failure' : 'success');
  const workflowEnv = stringMap(j.workflow.spec.env, { contexts: { github, vars, secrets, inputs: j.inputs } }, 'env');
  const jobEnv = { ...workflowEnv, ...stringMap(spec.env, { contexts: { ...base, secrets, env: workflowEnv } }, `jobs.${id}.env`) };
  /** The env context of a step: workflow and job env, what earlier steps exported, then the step's own. */
  const envContext = (stepEnv: Record<string, string> = {}): Record<string, string> => ({ ...jobEnv, ...job.exportedEnv, ...stepEnv });
  const abort = new AbortController();
  const onAbort = (): void => abort.abort();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  const deadlineTimer = jobDeadline === undefined ? undefined : setTimeout(onAbort, Math.max(0, jobDeadline - Date.now()));

  try {
    for (const [i, step] of spec.steps.entries()) {
      const where = `jobs.${id}.steps[${i}]`;
      const stepContexts = { ...base, runner, steps: stepsContext, job: { status: jobStatus() } };
      // steps.if sees no secrets, as on GitHub.
      const ifScope: ExpressionScope = { contexts: { ...stepContexts, env: envContext() }, status };
      const fallbackName = step.uses ? `Run ${step.uses}` : `Run ${(step.run ?? '').trim().split('\n')[0]}`;
      const record = (r: StepResult): void => {
        steps.push(r);
        if (step.id) stepsContext[step.id] = { outputs: r.outputs, outcome: r.outcome, conclusion: r.conclusion };
      };
      let name = fallbackName;
      const started = performance.now();
      let outcome: Result;
      let outputs: Record<string, string> = {};
      let run: ActionRun | undefined;
      let error: string | undefined;
      let continueOnError = false;
      const stepAbort = new AbortController();
      const onJobAbort = (): void => stepAbort.abort();
      let stepTimer: NodeJS.Timeout | undefined;
      let stepTimedOut = false;
      try {
        name = step.name ? evaluateTemplate(step.name, { contexts: { ...stepContexts, secrets, env: envContext() } }, `${where}.name`) : fallbackName;
        if (!evaluateCondition(step.if, ifScope, `${where}.if`)) {
          record({ id: step.id, name, kind: step.uses ? 'uses' : 'run', uses: step.uses, outcome: 'skipped', conclusion: 'skipped', outputs: {}, durationMs: 0 });
          log(`  ○ ${name}: skipped`);
          continue;
        }
        const stepEnv = stringMap(step.env, { contexts: { ...stepContexts, secrets, env: envContext() } }, `${where}.env`);
        const scope: ExpressionScope = { contexts: { ...stepContexts, secrets, env: envContext(stepEnv) }, status };
        const env = { ...jobEnv, ...stepEnv };
        continueOnError = asBoolean(evaluateValue(step['continue-on-error'] ?? false, scope, `${where}.continue-on-error`), where);
        const stepTimeout = timeoutMs(evaluateValue(step['timeout-minutes'] ?? null, scope, `${where}.timeout-minutes`), where);
        // A step that runs after the cancel (if: always() or cancelled()) runs to its end, as on GitHub;
        // otherwise the job's cancel or deadline, or the step's own timeout, cancels it as the runner
        // does (SIGINT, SIGTERM, SIGKILL) — never a bare SIGKILL.
        if (!abort.signal.aborted) abort.signal.addEventListener('abort', onJobAbort, { once: true });
        if (stepTimeout !== undefined) {
          stepTimer = setTimeout(() => {
            stepTimedOut = true;
            stepAbort.abort();
          }, stepTimeout);
        }
        const cancel = { signal: stepAbort.signal };
        const backstop = (stepTimeout ?? (jobDeadline !== undefined && !isCancelled() ? Math.max(1, jobDeadline - Date.now()) : 6 * 3_600_000)) + KILL_BACKSTOP_MS;
        const sweep = referencedSecrets(step, secrets);
        log(`  ▷ ${name}`);
        if (step.uses) {
          const withInputs = stringMap(step.with, scope, `${where}.with`);
          const dir = gangwayActionDir(step.uses, j.actionsRoot);
          if (dir) {
            // As on GitHub, a local action must be in the checkout; the bundle run is this checkout's.
            const local = step.uses.startsWith('./') ? path.join(job.workspace, step.uses, 'action.yml') : undefined;
            if (local && !existsSync(local)) throw new Error(`Can't find 'action.yml' under '${path.dirname(local)}'. Did you forget to run actions/checkout before running your local action?`);
            run = await job.main(dir, { inputs: withInputs, env, timeoutMs: backstop, secrets: sweep, cancel });
            const metadata = readActionMetadata(dir);
            if (metadata.runs.post) posts.push({ dir, name, postIf: metadata.runs['post-if'] ?? 'always()', inputs: withInputs, env, secrets: sweep, state: run.state });
          } else {
            standInFor(step.uses)!.run(withInputs, { job, repository: options.repository ?? REPO_ROOT, defaultRef: j.context.sha, node: process.execPath, log });
          }
        } else {
          const body = evaluateTemplate(step.run as string, scope, `${where}.run`);
          const shell = step.shell === 'bash' ? 'bash --noprofile --norc -eo pipefail {0}' : step.shell === 'sh' ? 'sh -e {0}' : 'bash -e {0}';
          run = await job.script(step.id ?? `step${i + 1}`, body, { shell, env, workingDirectory: step['working-directory'], timeoutMs: backstop, secrets: sweep, cancel });
        }
        if (run) {
          for (const m of run.masks) j.masks.add(m);
          outputs = run.outputs;
          // A step's own timeout is its failure; the job's cancel or deadline is a cancellation.
          outcome = stepTimedOut ? 'failure' : run.cancelled ? 'cancelled' : run.ok ? 'success' : 'failure';
          if (stepTimedOut) error = `timed out after ${Math.round((stepTimeout ?? 0) / 1000)} s (timeout-minutes)`;
          else if (!run.ok) error = run.annotations.filter((a) => a.level === 'error').map((a) => a.message).join('; ') || `exit code ${run.exitCode ?? run.signal}`;
        } else outcome = 'success';
      } catch (e) {
        // As on GitHub, a step whose expressions cannot be evaluated fails; later steps and posts still run.
        outcome = 'failure';
        error = (e as Error).message;
      } finally {
        if (stepTimer) clearTimeout(stepTimer);
        abort.signal.removeEventListener('abort', onJobAbort);
      }
      const conclusion: Result = outcome === 'failure' && continueOnError ? 'success' : outcome;
      failed ||= conclusion === 'failure';
      const durationMs = Math.round(performance.now() - started);
      record({ id: step.id, name, kind: step.uses ? 'uses' : 'run', uses: step.uses, outcome, conclusion, outputs, durationMs, run, error });
      log(`  ${outcome === 'success' ? '✔' : '✘'} ${name} (${(durationMs / 1000).toFixed(1)} s)${outcome === 'success' ? '' : `: ${outcome}${continueOnError ? ' (continue-on-error)' : ''}${error ? ` — ${error}` : ''}`}`);
      if (outcome !== 'success' && run) for (const line of run.log.trimEnd().split('\n').slice(-25)) log(`      │ ${line}`);
    }

    // Post steps: in reverse order, each by its post-if (always() unless the action says otherwise).
    for (const post of posts.reverse()) {
      const scope: ExpressionScope = { contexts: { ...base, runner, env: envContext(), steps: stepsContext, job: { status: jobStatus() } }, status };
      const name = `Post ${post.name}`;
      if (!evaluateCondition(post.postIf, scope, `${post.dir} post-if`)) {
        steps.push({ id: undefined, name, kind: 'post', outcome: 'skipped', conclusion: 'skipped', outputs: {}, durationMs: 0 });
        continue;
      }
      const started = performance.now();
      const run = await job.post(post.dir, { inputs: post.inputs, env: post.env, secrets: post.secrets, state: post.state, timeoutMs: 600_000 });
      const outcome: Result = run.ok ? 'success' : 'failure';
      failed ||= outcome === 'failure';
      const durationMs = Math.round(performance.now() - started);
      steps.push({ id: undefined, name, kind: 'post', outcome, conclusion: outcome, outputs: {}, durationMs, run });
      log(`  ${run.ok ? '✔' : '✘'} ${name} (${(durationMs / 1000).toFixed(1)} s)`);
    }

    const endScope: ExpressionScope = { contexts: { ...base, runner, secrets, env: envContext(), steps: stepsContext, job: { status: jobStatus() } } };
    const outputs = stringMap(spec.outputs, endScope, `jobs.${id}.outputs`);
    const url = environment?.url ? evaluateTemplate(environment.url, endScope, `jobs.${id}.environment.url`) : '';
    const result: Result = isCancelled() ? (timedOut() ? 'failure' : 'cancelled') : failed ? 'failure' : 'success';
    return { id, name: j.name, result, outputs, ...(environmentName !== undefined ? { environment: { name: environmentName, url } } : {}), steps, durationMs: 0 };
  } finally {
    if (deadlineTimer) clearTimeout(deadlineTimer);
    options.signal?.removeEventListener('abort', onAbort);
    job.cleanup();
  }
}
