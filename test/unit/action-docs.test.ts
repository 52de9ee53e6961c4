import { describe, expect, it } from 'vitest';
import { renderTables, syncReadmes, withTables } from '../../scripts/action-docs.ts';
import { listActions } from '../../scripts/actions.ts';
import { readActionMetadata } from '@gangway/harness';

describe('action READMEs', () => {
  it('have the inputs and outputs tables of their action.yml (run `npm run docs` when this fails)', () => {
    expect(syncReadmes({ check: true })).toEqual([]);
  });

  it('render one row per declared input and output, required ones marked', () => {
    for (const action of listActions()) {
      const meta = readActionMetadata(action.dir);
      const tables = renderTables(action.dir);
      const names = (t: string): string[] => t.split('\n').slice(2).map((row) => /^\| `([^`]+)`/.exec(row)?.[1] ?? '?');
      expect(names(tables.inputs), action.name).toEqual(Object.keys(meta.inputs));
      expect(names(tables.outputs), action.name).toEqual(Object.keys(meta.outputs));
      for (const [name, spec] of Object.entries(meta.inputs)) {
        if (spec.required) expect(tables.inputs).toContain(`| \`${name}\` | **required** |`);
      }
    }
  });

  it('refuses a README without markers', () => {
    expect(() => withTables('# no tables', { inputs: '', outputs: '' }, 'README.md')).toThrow(/no <!-- inputs:start -->/);
  });
});
