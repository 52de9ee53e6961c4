import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';

export interface ActionInput {
  description?: string;
  required?: boolean;
  default?: string;
  deprecationMessage?: string;
}

export interface ActionMetadata {
  dir: string;
  name: string;
  description: string;
  inputs: Record<string, ActionInput>;
  outputs: Record<string, { description?: string }>;
  runs: { using: string; main: string; pre?: string; post?: string; 'pre-if'?: string; 'post-if'?: string };
}

/** Reads and checks an action's `action.yml` the way the runner needs it. */
export function readActionMetadata(dir: string): ActionMetadata {
  const file = path.join(dir, 'action.yml');
  const doc = parse(readFileSync(file, 'utf8')) as Partial<ActionMetadata> | null;
  if (!doc || typeof doc !== 'object') throw new Error(`${file}: not a YAML mapping`);
  if (!doc.name) throw new Error(`${file}: "name" is required`);
  if (!doc.runs || typeof doc.runs.main !== 'string') throw new Error(`${file}: runs.main is required`);
  if (!/^node\d+$/.test(doc.runs.using ?? '')) throw new Error(`${file}: runs.using must be nodeNN, got ${doc.runs.using}`);
  const inputs: Record<string, ActionInput> = {};
  for (const [name, spec] of Object.entries(doc.inputs ?? {})) {
    const s = (spec ?? {});
    inputs[name] = { ...s, default: s.default === undefined ? undefined : String(s.default) };
  }
  return {
    dir,
    name: doc.name,
    description: doc.description ?? '',
    inputs,
    outputs: doc.outputs ?? {},
    runs: doc.runs,
  };
}
