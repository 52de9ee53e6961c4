// The workflow examples in docs/ start with a header that tells a user which repository variables
// and secrets to create. The e2e tests run each example with only those: these read the header's
// names, the names the file reads, and the lab's settings cut down to the header's.
import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import type { WorkflowLab } from './workflow-lab.ts';

/** The names the header's `vars:` or `secrets:` lines tell a user to create (upper-case words outside parentheses). */
export function headerNames(workflow: string, kind: 'vars' | 'secrets'): string[] {
  const header = readFileSync(workflow, 'utf8').split('\n').filter((l) => l.startsWith('#'));
  const start = header.findIndex((l) => new RegExp(`^#\\s+${kind}:`).test(l));
  if (start === -1) throw new Error(`the header of ${workflow} has no "${kind}:" line`);
  const block: string[] = [header[start] as string];
  for (const line of header.slice(start + 1)) {
    if (/^#\s+(vars|secrets):/.test(line) || /^#\s*$/.test(line)) break;
    block.push(line);
  }
  const text = block.join(' ').replace(/\([^)]*\)/g, '');
  return [...text.matchAll(/\b([A-Z][A-Z0-9_]{2,})\b/g)].map((m) => m[1] as string);
}

/** The `vars.X` or `secrets.X` names the workflow reads. */
export function usedNames(workflow: string, kind: 'vars' | 'secrets'): string[] {
  const text = readFileSync(workflow, 'utf8');
  return [...new Set([...text.matchAll(new RegExp(`${kind}\\.([A-Z][A-Z0-9_]*)`, 'g'))].map((m) => m[1] as string))].sort();
}

/** The names the workflow reads that its header does not tell a user to create (none, for an honest header). */
export function unnamedInHeader(workflow: string): { vars: string[]; secrets: string[] } {
  return {
    vars: usedNames(workflow, 'vars').filter((n) => !headerNames(workflow, 'vars').includes(n)),
    secrets: usedNames(workflow, 'secrets').filter((n) => !headerNames(workflow, 'secrets').includes(n)),
  };
}

/** The lab's settings for `app`, with only what the header names: a test that needed more would fail here. */
export function headerSettings(wl: WorkflowLab, app: string, workflow: string, options: { edge?: string } = {}): ReturnType<WorkflowLab['settings']> {
  const s = wl.settings(app, options.edge ? { edge: options.edge } : {});
  const vars = headerNames(workflow, 'vars');
  const secrets = headerNames(workflow, 'secrets');
  expect(Object.keys(s.vars).filter((k) => !vars.includes(k))).toEqual([]);
  expect(Object.keys(s.secrets).filter((k) => !secrets.includes(k))).toEqual([]);
  return s;
}
