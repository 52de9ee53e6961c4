// A workflow file read for running: GitHub's YAML shape, with every key the local runner acts
// on or knowingly ignores listed. Anything else stops the run before it starts, naming the key,
// so nothing in a workflow is skipped without anyone knowing.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

export interface StepSpec {
  id?: string;
  name?: string;
  if?: string | boolean;
  uses?: string;
  with?: Record<string, unknown>;
  run?: string;
  shell?: string;
  env?: Record<string, unknown>;
  'working-directory'?: string;
  'continue-on-error'?: boolean | string;
  'timeout-minutes'?: number | string;
}

export interface JobSpec {
  name?: string;
  needs?: string | string[];
  if?: string | boolean;
  'runs-on': string | string[];
  'timeout-minutes'?: number | string;
  'continue-on-error'?: boolean | string;
  outputs?: Record<string, string>;
  environment?: string | { name: string; url?: string };
  env?: Record<string, unknown>;
  permissions?: unknown;
  concurrency?: unknown;
  steps: StepSpec[];
}

export interface WorkflowSpec {
  name?: string;
  on: unknown;
  env?: Record<string, unknown>;
  permissions?: unknown;
  concurrency?: unknown;
  jobs: Record<string, JobSpec>;
}

export interface Workflow {
  file: string;
  spec: WorkflowSpec;
  /** Job ids in an order that runs every job after its needs (file order where free). */
  order: string[];
}

/** A key or value of the workflow that the local runner does not do. Never skipped silently. */
export class UnsupportedWorkflowError extends Error {
  constructor(file: string, key: string, why: string) {
    super(`${file}: ${key}: ${why}`);
    this.name = 'UnsupportedWorkflowError';
  }
}

// Read, and acted on or deliberately without effect here (each said in the README).
const WORKFLOW_KEYS = new Set(['name', 'run-name', 'on', 'env', 'permissions', 'concurrency', 'jobs']);
const JOB_KEYS = new Set(['name', 'needs', 'if', 'runs-on', 'timeout-minutes', 'continue-on-error', 'outputs', 'environment', 'env', 'permissions', 'concurrency', 'steps']);
const STEP_KEYS = new Set(['id', 'name', 'if', 'uses', 'with', 'run', 'shell', 'env', 'working-directory', 'continue-on-error', 'timeout-minutes']);
const SHELLS = new Set(['bash', 'sh']);

function isMapping(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

export function needsOf(job: JobSpec): string[] {
  return job.needs === undefined ? [] : Array.isArray(job.needs) ? job.needs : [job.needs];
}

export function parseWorkflow(text: string, file: string): Workflow {
  const doc = parse(text) as unknown;
  if (!isMapping(doc)) throw new UnsupportedWorkflowError(file, '(file)', 'not a YAML mapping');
  for (const key of Object.keys(doc)) if (!WORKFLOW_KEYS.has(key)) throw new UnsupportedWorkflowError(file, key, 'not supported by the local runner');
  if (!isMapping(doc['jobs'])) throw new UnsupportedWorkflowError(file, 'jobs', 'must be a mapping of jobs');
  const jobs = doc['jobs'];
  for (const [id, job] of Object.entries(jobs)) {
    if (!isMapping(job)) throw new UnsupportedWorkflowError(file, `jobs.${id}`, 'must be a mapping');
    for (const key of Object.keys(job)) if (!JOB_KEYS.has(key)) throw new UnsupportedWorkflowError(file, `jobs.${id}.${key}`, key === 'uses' ? 'reusable workflows are not supported by the local runner' : 'not supported by the local runner');
    if (!Array.isArray(job['steps'])) throw new UnsupportedWorkflowError(file, `jobs.${id}.steps`, 'a job needs a list of steps');
    const runsOn = job['runs-on'];
    if (typeof runsOn !== 'string' || !/^ubuntu-/.test(runsOn)) throw new UnsupportedWorkflowError(file, `jobs.${id}.runs-on`, `only ubuntu-* runners are stood in for (this machine is Linux), got ${JSON.stringify(runsOn)}`);
    for (const need of needsOf(job as unknown as JobSpec)) if (!(need in jobs)) throw new UnsupportedWorkflowError(file, `jobs.${id}.needs`, `no job "${need}"`);
    (job['steps'] as unknown[]).forEach((step, i) => {
      const where = `jobs.${id}.steps[${i}]`;
      if (!isMapping(step)) throw new UnsupportedWorkflowError(file, where, 'must be a mapping');
      for (const key of Object.keys(step)) if (!STEP_KEYS.has(key)) throw new UnsupportedWorkflowError(file, `${where}.${key}`, 'not supported by the local runner');
      if ((step['uses'] === undefined) === (step['run'] === undefined)) throw new UnsupportedWorkflowError(file, where, 'a step has exactly one of uses: and run:');
      const shell = step['shell'];
      if (shell !== undefined && !(typeof shell === 'string' && SHELLS.has(shell))) throw new UnsupportedWorkflowError(file, `${where}.shell`, `only ${[...SHELLS].join(' and ')} are supported, got ${JSON.stringify(shell)}`);
      if (step['uses'] !== undefined && (step['shell'] !== undefined || step['working-directory'] !== undefined)) throw new UnsupportedWorkflowError(file, where, 'shell and working-directory go with run:');
      if (step['with'] !== undefined && !isMapping(step['with'])) throw new UnsupportedWorkflowError(file, `${where}.with`, 'must be a mapping');
    });
  }
  const spec = doc as unknown as WorkflowSpec;
  return { file, spec, order: topologicalOrder(spec, file) };
}

export function loadWorkflow(file: string): Workflow {
  return parseWorkflow(readFileSync(file, 'utf8'), file);
}

function topologicalOrder(spec: WorkflowSpec, file: string): string[] {
  const order: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (id: string, path: string[]): void => {
    if (state.get(id) === 'done') return;
    if (state.get(id) === 'visiting') throw new UnsupportedWorkflowError(file, `jobs.${id}.needs`, `a cycle: ${[...path, id].join(' → ')}`);
    state.set(id, 'visiting');
    for (const need of needsOf(spec.jobs[id] as JobSpec)) visit(need, [...path, id]);
    state.set(id, 'done');
    order.push(id);
  };
  for (const id of Object.keys(spec.jobs)) visit(id, []);
  return order;
}

/** The triggers the workflow declares, with their filters, as GitHub normalises `on:`. */
export function triggers(spec: WorkflowSpec): Map<string, Record<string, unknown>> {
  const on = spec.on;
  const map = new Map<string, Record<string, unknown>>();
  if (typeof on === 'string') map.set(on, {});
  else if (Array.isArray(on)) for (const e of on) map.set(String(e), {});
  else if (isMapping(on)) for (const [e, filters] of Object.entries(on)) map.set(e, isMapping(filters) ? filters : {});
  return map;
}
