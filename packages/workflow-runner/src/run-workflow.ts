// Runs a real workflow file on this machine, job by job in `needs` order, each job on a fresh
// RunnerJob of the harness: `uses: ./action-*` and `OWNER/gangway/action-*@v1` start this
// checkout's dist bundles exactly as GitHub's runner does; `run:` steps run in the runner's
// default shell; post steps run in reverse order after the job. Test-only.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { RunnerJob, readActionMetadata, type ActionRun, type GitHubContext } from '@gangway/kit/harness';
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
  /** Called before each job that runs, with the run so far (to publish it to a local Actions API, say). */
  onJobStart?: (job: { id: string; name: string }, run: WorkflowRunResult) => void | Promise<void>;
  /** Cancels the run as GitHub's cancel button does. */
  signal?: AbortSignal;
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

/** The directory of a Gangway action for `uses:`, or undefined when it names none. */
export function gangwayActionDir(uses: string, actionsRoot: string): string | undefined {
  const name = /^(?:\.\/|[\w.-]+\/gangway\/)(action-[a-z-]+)(?:@[\w./-]+)?$/.exec(uses)?.[1];
  if (!name) return undefined;
  const dir = path.join(actionsRoot, name);
  return existsSync(path.join(dir, 'action.yml')) ? dir : undefined;
}

export function readSettings(settings: RunSettings | string | undefined): Required<RunSettings> {
  const raw = typeof settings === 'string' ? ((parse(readFileSync(settings, 'utf8')) as RunSettings | null) ?? {}) : (settings ?? {});
  const strings = (o: Record<string, unknown> | undefined): Record<string, string> => Object.fromEntries(Object.entries(o ?? {}).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]));
  return { secrets: strings(raw.secrets), vars: strings(raw.vars), inputs: raw.inputs ?? {} };
}

/** What the sweep looks for of a secret: the key blocks of a VPN config (its CA and certificate are public), else the whole value. */
function sweptParts(name: string, value: string): Record<string, string> {
  const blocks = [...value.matchAll(/<(key|tls-auth|tls-crypt|tls-crypt-v2|secret)>([\s\S]*?)<\/\1>/g)];
  if (blocks.length > 0) return Object.fromEntries(blocks.map((m) => [`secrets.${name} <${m[1]}>`, m[2] as string]));
  return value.trim() === '' ? {} : { [`secrets.${name}`]: value };
}

function referencedSecrets(step: StepSpec, secrets: Record<string, string>): Record<string, string> {
  const text = JSON.stringify([step.with ?? {}, step.env ?? {}, step.run ?? '']);
  const found: Record<string, string> = {};
  for (const [, name] of text.matchAll(/secrets\.([A-Za-z_][\w]*)/g)) {
    const value = secrets[name as string];
    if (value) Object.assign(found, sweptParts(name as string, value));
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

/** workflow_dispatch inputs: declared defaults, then what is given, typed as the form types them. */
function dispatchInputs(workflow: Workflow, given: Record<string, string | boolean | number>): Record<string, Json> {
  const declared = (triggers(workflow.spec).get('workflow_dispatch')?.['inputs'] ?? {}) as Record<string, { type?: string; default?: unknown; required?: boolean }>;
  const inputs: Record<string, Json> = {};
  for (const name of Object.keys(given)) if (!(name in declared)) throw new UnsupportedWorkflowError(workflow.file, `on.workflow_dispatch.inputs`, `declares no input "${name}"`);
  for (const [name, spec] of Object.entries(declared)) {
    const value = given[name] ?? spec.default;
    if (value === undefined || value === '') {
      if (spec.required) throw new UnsupportedWorkflowError(workflow.file, `on.workflow_dispatch.inputs.${name}`, 'is required: give it in the run settings');
      inputs[name] = spec.type === 'boolean' ? false : '';
      continue;
    }
    inputs[name] = spec.type === 'boolean' ? value === true || value === 'true' : spec.type === 'number' ? Number(value) : typeof value === 'string' ? value : JSON.stringify(value);
  }
  return inputs;
}

/** Whether the event starts the workflow: a declared trigger whose branch filter matches. */
function isTriggered(workflow: Workflow, event: SyntheticEvent): boolean {
  const filters = triggers(workflow.spec).get(event.name);
  if (!filters) return false;
  const branchOf = (): string | undefined => {
    if (event.name === 'workflow_run') return (event.payload['workflow_run'] as { head_branch?: string } | undefined)?.head_branch;
    return (event.ref ?? '').replace(/^refs\/heads\//, '');
  };
  const branches = filters['branches'] as string[] | undefined;
  if (branches && !branches.includes(branchOf() ?? '')) return false;
  if (event.name === 'workflow_run') {
    const run = event.payload['workflow_run'] as { name?: string } | undefined;
    const workflows = filters['workflows'] as string[] | undefined;
    if (workflows && run?.name !== undefined && !workflows.includes(run.name)) return false;
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

/** Before anything runs: every `uses:` names a Gangway action of this checkout or a stand-in. */
function checkUses(workflow: Workflow, actionsRoot: string): void {
  for (const [id, job] of Object.entries(workflow.spec.jobs)) {
    job.steps.forEach((step, i) => {
      if (step.uses === undefined) return;
      if (gangwayActionDir(step.uses, actionsRoot) || standInFor(step.uses)) return;
      throw new UnsupportedWorkflowError(workflow.file, `jobs.${id}.steps[${i}].uses`, `"${step.uses}" has no local stand-in (Gangway's ./action-* and OWNER/gangway/action-*@ref run from this checkout's dist/; of other actions only ${standInNames.join(' and ')})`);
    });
  }
}

export async function runWorkflow(options: WorkflowRunOptions): Promise<WorkflowRunResult> {
  const started = performance.now();
  const workflow = loadWorkflow(options.workflow);
  const actionsRoot = options.actionsRoot ?? REPO_ROOT;
  checkUses(workflow, actionsRoot);
  const settings = readSettings(options.settings);
  const runId = options.github?.runId ?? String(1_000_000 + Math.floor(Math.random() * 1_000_000));
  const context = githubContext(options, workflow, runId);
  const secrets = { GITHUB_TOKEN: context.token, ...settings.secrets };
  const masks = masker(settings.secrets);
  const log = (line: string): void => options.log?.(masks.mask(line));
  const inputs: Record<string, Json> = options.event.name === 'workflow_dispatch' ? dispatchInputs(workflow, settings.inputs) : {};
  const result: WorkflowRunResult = { workflow: workflow.file, event: options.event.name, runId, triggered: isTriggered(workflow, options.event), conclusion: 'skipped', jobs: [], durationMs: 0 };
  if (!result.triggered) {
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
    const baseContexts = { github: githubExpressionContext(context, id, ''), vars: settings.vars, inputs, needs };
    const nameScope: ExpressionScope = { contexts: { ...baseContexts, matrix: {}, strategy: {} } };
    const name = spec.name ? evaluateTemplate(spec.name, nameScope, `jobs.${id}.name`) : id;
    const jobStarted = performance.now();
    if (!evaluateCondition(spec.if, { contexts: baseContexts, status: jobStatus }, `jobs.${id}.if`)) {
      const skipped: JobResult = { id, name, result: 'skipped', outputs: {}, steps: [], durationMs: 0 };
      byId.set(id, skipped);
      result.jobs.push(skipped);
      log(`○ job ${name}: skipped`);
      continue;
    }
    await options.onJobStart?.({ id, name }, result);
    log(`▶ job ${name}`);
    const job = await runJob({ id, name, spec, workflow, context, settings, secrets, inputs, needs, actionsRoot, options, log, masks, cancelled });
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
  settings: Required<RunSettings>;
  secrets: Record<string, string>;
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

async function runJob(j: JobRun): Promise<JobResult> {
  const { id, spec, options, log } = j;
  const job = new RunnerJob({ github: { ...j.context, job: id }, env: options.machineEnv ?? {} });
  const steps: StepResult[] = [];
  const stepsContext: Record<string, Json> = {};
  const posts: PendingPost[] = [];
  let failed = false;
  const runner = { os: 'Linux', arch: 'X64', name: 'gangway-local', temp: job.runnerTemp, tool_cache: path.join(job.root, 'tool-cache') };
  const github = githubExpressionContext(j.context, id, job.workspace);
  const base = { github, vars: j.settings.vars, secrets: j.secrets, inputs: j.inputs, needs: j.needs, matrix: {}, strategy: {}, runner };
  const jobDeadline = (() => {
    const ms = timeoutMs(evaluateValue(spec['timeout-minutes'] ?? null, { contexts: base }, `jobs.${id}.timeout-minutes`), `jobs.${id}`);
    return ms === undefined ? undefined : Date.now() + ms;
  })();
  const timedOut = (): boolean => jobDeadline !== undefined && Date.now() >= jobDeadline;
  const isCancelled = (): boolean => j.cancelled() || timedOut();
  const status: StatusFunctions = { success: () => !failed && !isCancelled(), failure: () => failed, cancelled: isCancelled };
  const jobStatus = (): string => (isCancelled() ? 'cancelled' : failed ? 'failure' : 'success');
  const workflowEnv = stringMap(j.workflow.spec.env, { contexts: { github, vars: base.vars, secrets: base.secrets, inputs: base.inputs } }, 'env');
  const jobEnv = { ...workflowEnv, ...stringMap(spec.env, { contexts: { ...base, env: workflowEnv } }, `jobs.${id}.env`) };
  const environment = spec.environment === undefined ? undefined : typeof spec.environment === 'string' ? { name: spec.environment } : spec.environment;
  const environmentName = environment ? evaluateTemplate(environment.name, { contexts: base }, `jobs.${id}.environment.name`) : undefined;
  const abort = new AbortController();
  const onAbort = (): void => abort.abort();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  const deadlineTimer = jobDeadline === undefined ? undefined : setTimeout(onAbort, Math.max(0, jobDeadline - Date.now()));

  try {
    for (const [i, step] of spec.steps.entries()) {
      const where = `jobs.${id}.steps[${i}]`;
      const scope: ExpressionScope = { contexts: { ...base, env: jobEnv, steps: stepsContext, job: { status: jobStatus() } }, status };
      const name = step.name ? evaluateTemplate(step.name, scope, `${where}.name`) : step.uses ? `Run ${step.uses}` : `Run ${(step.run ?? '').trim().split('\n')[0]}`;
      const record = (r: StepResult): void => {
        steps.push(r);
        if (step.id) stepsContext[step.id] = { outputs: r.outputs, outcome: r.outcome, conclusion: r.conclusion };
      };
      if (!evaluateCondition(step.if, scope, `${where}.if`)) {
        record({ id: step.id, name, kind: step.uses ? 'uses' : 'run', uses: step.uses, outcome: 'skipped', conclusion: 'skipped', outputs: {}, durationMs: 0 });
        log(`  ○ ${name}: skipped`);
        continue;
      }
      const env = { ...jobEnv, ...stringMap(step.env, scope, `${where}.env`) };
      const continueOnError = asBoolean(evaluateValue(step['continue-on-error'] ?? false, scope, `${where}.continue-on-error`), where);
      const stepTimeout = timeoutMs(evaluateValue(step['timeout-minutes'] ?? null, scope, `${where}.timeout-minutes`), where);
      // Steps that run after the job was cancelled or timed out (always(), cancelled()) are not
      // held to the spent deadline; GitHub gives them their own time too.
      const remaining = jobDeadline === undefined || isCancelled() ? undefined : Math.max(1, jobDeadline - Date.now());
      const limit = [stepTimeout, remaining, 6 * 3_600_000].filter((x): x is number => x !== undefined).reduce((a, b) => Math.min(a, b));
      const sweep = referencedSecrets(step, j.secrets);
      // A step that runs after the cancel (if: always() or cancelled()) runs to its end, as on GitHub.
      const cancel = abort.signal.aborted ? undefined : { signal: abort.signal };
      const started = performance.now();
      let outcome: Result;
      let outputs: Record<string, string> = {};
      let run: ActionRun | undefined;
      let error: string | undefined;
      log(`  ▷ ${name}`);
      try {
        if (step.uses) {
          const withInputs = stringMap(step.with, scope, `${where}.with`);
          const dir = gangwayActionDir(step.uses, j.actionsRoot);
          if (dir) {
            run = await job.main(dir, { inputs: withInputs, env, timeoutMs: limit, secrets: sweep, cancel });
            const metadata = readActionMetadata(dir);
            if (metadata.runs.post) posts.push({ dir, name, postIf: metadata.runs['post-if'] ?? 'always()', inputs: withInputs, env, secrets: sweep, state: run.state });
          } else {
            const standIn = standInFor(step.uses)!;
            const unknown = Object.keys(withInputs).filter((k) => !standIn.inputs.includes(k));
            if (unknown.length > 0) throw new UnsupportedWorkflowError(j.workflow.file, `${where}.with.${unknown[0]}`, `the local stand-in for ${step.uses} does not support it`);
            standIn.run(withInputs, { job, repository: options.repository ?? REPO_ROOT, defaultRef: j.context.sha, node: process.execPath, log });
          }
        } else {
          const body = evaluateTemplate(step.run as string, scope, `${where}.run`);
          const shell = step.shell === 'bash' ? 'bash --noprofile --norc -eo pipefail {0}' : step.shell === 'sh' ? 'sh -e {0}' : 'bash -e {0}';
          run = await job.script(step.id ?? `step${i + 1}`, body, { shell, env, workingDirectory: step['working-directory'], timeoutMs: limit, secrets: sweep, cancel });
        }
        if (run) {
          for (const m of run.masks) j.masks.add(m);
          outputs = run.outputs;
          outcome = run.cancelled ? 'cancelled' : run.ok ? 'success' : 'failure';
          if (run.timedOut) error = `timed out after ${Math.round(limit / 1000)} s (timeout-minutes)`;
          else if (!run.ok) error = run.annotations.filter((a) => a.level === 'error').map((a) => a.message).join('; ') || `exit code ${run.exitCode ?? run.signal}`;
        } else outcome = 'success';
      } catch (e) {
        if (e instanceof UnsupportedWorkflowError) throw e;
        outcome = 'failure';
        error = (e as Error).message;
      }
      const conclusion: Result = outcome === 'failure' && continueOnError ? 'success' : outcome;
      if (conclusion === 'failure' || conclusion === 'cancelled') failed = failed || conclusion === 'failure';
      const durationMs = Math.round(performance.now() - started);
      record({ id: step.id, name, kind: step.uses ? 'uses' : 'run', uses: step.uses, outcome, conclusion, outputs, durationMs, run, error });
      log(`  ${outcome === 'success' ? '✔' : '✘'} ${name} (${(durationMs / 1000).toFixed(1)} s)${outcome === 'success' ? '' : `: ${outcome}${continueOnError ? ' (continue-on-error)' : ''}${error ? ` — ${error}` : ''}`}`);
      if (outcome !== 'success' && run) for (const line of run.log.trimEnd().split('\n').slice(-25)) log(`      │ ${line}`);
    }

    // Post steps: in reverse order, each by its post-if (always() unless the action says otherwise).
    for (const post of posts.reverse()) {
      const scope: ExpressionScope = { contexts: { ...base, env: jobEnv, steps: stepsContext, job: { status: jobStatus() } }, status };
      const name = `Post ${post.name}`;
      if (!evaluateCondition(post.postIf, scope, `${post.dir} post-if`)) {
        steps.push({ id: undefined, name, kind: 'post', outcome: 'skipped', conclusion: 'skipped', outputs: {}, durationMs: 0 });
        continue;
      }
      const started = performance.now();
      const run = await job.post(post.dir, { inputs: post.inputs, env: post.env, secrets: post.secrets, state: post.state, timeoutMs: 600_000 });
      const outcome: Result = run.ok ? 'success' : 'failure';
      if (outcome === 'failure') failed = true;
      const durationMs = Math.round(performance.now() - started);
      steps.push({ id: undefined, name, kind: 'post', outcome, conclusion: outcome, outputs: {}, durationMs, run });
      log(`  ${run.ok ? '✔' : '✘'} ${name} (${(durationMs / 1000).toFixed(1)} s)`);
    }

    const endScope: ExpressionScope = { contexts: { ...base, env: jobEnv, steps: stepsContext, job: { status: jobStatus() } } };
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
