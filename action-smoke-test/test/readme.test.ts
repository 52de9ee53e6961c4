// The README documents the whole check schema (its inputs and outputs tables are checked against
// action.yml for every action by test/unit/action-docs.test.ts).
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CHECK_KEYS } from '../src/schema.ts';

const readme = fs.readFileSync(path.resolve(import.meta.dirname, '..', 'README.md'), 'utf8');

describe('README', () => {
  it('documents every key of the check schema', () => {
    for (const key of CHECK_KEYS) expect(readme).toContain(`| \`${key}\``);
  });

  it('documents every failure code', async () => {
    const source = fs.readFileSync(path.resolve(import.meta.dirname, '..', 'src', 'assertions.ts'), 'utf8');
    const union = /export type FailureCode =([\s\S]*?);/.exec(source)?.[1] ?? '';
    const codes = [...union.matchAll(/'([a-z0-9-]+)'/g)].map((m) => m[1]);
    expect(codes.length).toBeGreaterThan(15);
    for (const code of codes) expect(readme).toContain(`\`${code}\``);
  });
});
