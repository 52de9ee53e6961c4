// Every YAML block of every README and of docs/ (issue #15): what a user copies must parse,
// pass actionlint, and call Gangway's actions with inputs they declare, giving every required
// one. A fragment (a step, a list of steps, a job, a workflow without `on:`) is wrapped in the
// least workflow that holds it. A block that is deliberately partial says so in the sentence
// before it ("an excerpt", "in outline"): it is checked for what it shows (parse, actionlint
// less what refers to parts it leaves out, and the inputs it names), not for what it omits.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse, parseDocument, stringify } from 'yaml';
import { gangwayActionName } from '@gangway/workflow-runner';
import { actionlint } from './workflow-lint.ts';

export interface Snippet {
  file: string;
  /** 1-based line of the opening fence. */
  line: number;
  text: string;
  /** The prose right before the block. */
  lead: string;
  partial: boolean;
}

export interface ActionInputs {
  declared: string[];
  required: string[];
  /** Checks an input's value the way the action parses it (e.g. smoke-test's checks); throws with the reason. */
  validate?: (input: string, value: string) => void;
}

const PARTIAL = /\b(an excerpt|in outline|excerpt of)\b/i;

/** The ```yaml / ```yml blocks of a Markdown file, with the sentence that leads into each. */
export function extractSnippets(file: string, markdown: string): Snippet[] {
  const lines = markdown.split('\n');
  const snippets: Snippet[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!/^\s*```ya?ml\s*$/.test(lines[i] as string)) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^\s*```\s*$/.test(lines[i] as string); i++) body.push(lines[i] as string);
    // The lead: the last paragraph of prose before the fence.
    const lead: string[] = [];
    for (let j = start - 1; j >= 0; j--) {
      const l = (lines[j] as string).trim();
      if (l === '' && lead.length > 0) break;
      if (l.startsWith('```')) break;
      if (l !== '') lead.unshift(l);
    }
    const leadText = lead.join(' ');
    snippets.push({ file, line: start + 1, text: body.join('\n'), lead: leadText, partial: PARTIAL.test(leadText) });
  }
  return snippets;
}

export function readActionInputs(actionDir: string): ActionInputs {
  const meta = parse(readFileSync(path.join(actionDir, 'action.yml'), 'utf8')) as { inputs?: Record<string, { required?: boolean; default?: unknown }> };
  const inputs = meta.inputs ?? {};
  return { declared: Object.keys(inputs), required: Object.entries(inputs).filter(([, s]) => s.required === true && s.default === undefined).map(([n]) => n) };
}

type Mapping = Record<string, unknown>;
const isMapping = (v: unknown): v is Mapping => v !== null && typeof v === 'object' && !Array.isArray(v);
const isStep = (v: unknown): boolean => isMapping(v) && ('uses' in v || 'run' in v);

/** The least workflow that holds the snippet, and its steps (for the input checks). */
export function wrapSnippet(doc: unknown): { workflow: Mapping; steps: Mapping[] } {
  let workflow: Mapping;
  if (Array.isArray(doc) && doc.every(isStep)) workflow = { on: 'push', jobs: { snippet: { 'runs-on': 'ubuntu-latest', steps: doc } } };
  else if (isStep(doc)) workflow = { on: 'push', jobs: { snippet: { 'runs-on': 'ubuntu-latest', steps: [doc] } } };
  else if (isMapping(doc) && 'jobs' in doc) workflow = { on: 'push', ...doc };
  else if (isMapping(doc) && 'steps' in doc) workflow = { on: 'push', jobs: { snippet: doc } };
  else throw new Error('is neither a workflow, a job, a list of steps nor a step');
  const steps = Object.values((workflow['jobs'] ?? {}) as Record<string, Mapping>).flatMap((job) => (Array.isArray(job['steps']) ? (job['steps'] as unknown[]).filter(isMapping) : []));
  return { workflow, steps };
}

/** actionlint findings a partial block may have: references to the parts it leaves out. */
const LEFT_OUT = /property "[\w-]+" is not defined in object type|is not defined in "needs"|job "[\w-]+" needs job "[\w-]+" which does not exist/;

/** What is wrong with one block, each problem a sentence; [] when it is fine. */
export async function checkSnippet(snippet: Snippet, inputsOf: (action: string) => ActionInputs | undefined): Promise<string[]> {
  const problems: string[] = [];
  const where = `${snippet.file}:${snippet.line}`;
  const document = parseDocument(snippet.text);
  if (document.errors.length > 0) return document.errors.map((e) => `${where}: not valid YAML: ${e.message.split('\n')[0]}`);
  let wrapped: ReturnType<typeof wrapSnippet>;
  try {
    wrapped = wrapSnippet(document.toJS());
  } catch (error) {
    return [`${where}: ${(error as Error).message}`];
  }
  for (const step of wrapped.steps) {
    const uses = typeof step['uses'] === 'string' ? step['uses'] : '';
    const action = gangwayActionName(uses);
    if (!action) continue;
    const spec = inputsOf(action);
    if (!spec) {
      problems.push(`${where}: ${uses} names no action of this repository`);
      continue;
    }
    const given = isMapping(step['with']) ? Object.keys(step['with']) : [];
    for (const name of given) if (!spec.declared.includes(name)) problems.push(`${where}: ${action} has no input "${name}"`);
    for (const [name, value] of Object.entries(isMapping(step['with']) ? step['with'] : {})) {
      if (typeof value !== 'string' || !spec.validate) continue;
      try {
        spec.validate(name, value);
      } catch (error) {
        problems.push(`${where}: ${action} input "${name}": ${(error as Error).message}`);
      }
    }
    if (!snippet.partial || given.length > 0) {
      const missing = spec.required.filter((r) => !given.includes(r));
      if (missing.length > 0 && !(snippet.partial && given.length > 0)) problems.push(`${where}: ${action} needs ${missing.map((m) => `"${m}"`).join(', ')}${snippet.partial ? '' : ' (or say "an excerpt" in the sentence before a block that leaves inputs out)'}`);
    }
  }
  const findings = await actionlint(stringify(wrapped.workflow), `${path.basename(snippet.file)}-${snippet.line}.yml`);
  for (const f of findings) {
    if (snippet.partial && LEFT_OUT.test(f.message)) continue;
    problems.push(`${where}: actionlint: ${f.message} [${f.kind}]`);
  }
  return problems;
}
