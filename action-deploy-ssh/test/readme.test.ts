// The README's tables are generated from action.yml; this keeps them from drifting.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const dir = path.resolve(import.meta.dirname, '..');

interface Metadata {
  inputs: Record<string, { description: string; required?: boolean; default?: string }>;
  outputs: Record<string, { description: string }>;
}

export function inputsTable(meta: Metadata): string {
  const rows = Object.entries(meta.inputs).map(([name, i]) => `| \`${name}\` | ${i.required ? '**required**' : i.default !== undefined ? `\`${i.default}\`` : ''} | ${i.description.replace(/\|/g, '\\|')} |`);
  return ['| Input | Default | Description |', '| --- | --- | --- |', ...rows].join('\n');
}

export function outputsTable(meta: Metadata): string {
  const rows = Object.entries(meta.outputs).map(([name, o]) => `| \`${name}\` | ${o.description.replace(/\|/g, '\\|')} |`);
  return ['| Output | Description |', '| --- | --- |', ...rows].join('\n');
}

function between(text: string, marker: string): string {
  const start = text.indexOf(`<!-- ${marker}:start -->`);
  const end = text.indexOf(`<!-- ${marker}:end -->`);
  return text.slice(start + `<!-- ${marker}:start -->`.length, end).trim();
}

describe('README', () => {
  const meta = parse(readFileSync(path.join(dir, 'action.yml'), 'utf8')) as Metadata;
  const readme = readFileSync(path.join(dir, 'README.md'), 'utf8');
  it('lists every input and output of action.yml', () => {
    expect(between(readme, 'inputs')).toBe(inputsTable(meta));
    expect(between(readme, 'outputs')).toBe(outputsTable(meta));
  });
});
