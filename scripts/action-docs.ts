// The inputs and outputs tables of every action's README, generated from its action.yml.
//   node scripts/action-docs.ts          rewrite the tables between the markers
//   node scripts/action-docs.ts --check  fail when a README's tables differ from action.yml
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { readActionMetadata } from '../packages/harness/src/action-metadata.ts';
import { listActions } from './actions.ts';

const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ').trim();

export function renderTables(actionDir: string): { inputs: string; outputs: string } {
  const meta = readActionMetadata(actionDir);
  const inputs = [
    '| Input | Default | Description |',
    '| --- | --- | --- |',
    ...Object.entries(meta.inputs).map(([name, spec]) => {
      const fallback = spec.required ? '**required**' : spec.default !== undefined && spec.default !== '' ? `\`${cell(spec.default)}\`` : '';
      return `| \`${name}\` | ${fallback} | ${cell(spec.description ?? '')} |`;
    }),
  ].join('\n');
  const outputs = [
    '| Output | Description |',
    '| --- | --- |',
    ...Object.entries(meta.outputs).map(([name, spec]) => `| \`${name}\` | ${cell(spec.description ?? '')} |`),
  ].join('\n');
  return { inputs, outputs };
}

const block = (marker: string): RegExp => new RegExp(`<!-- ${marker}:start -->\\n[\\s\\S]*?<!-- ${marker}:end -->`);

/** The README with its tables replaced; throws when a marker pair is missing. */
export function withTables(readme: string, tables: { inputs: string; outputs: string }, file: string): string {
  let text = readme;
  for (const marker of ['inputs', 'outputs'] as const) {
    if (!block(marker).test(text)) throw new Error(`${file} has no <!-- ${marker}:start --> … <!-- ${marker}:end --> block`);
    text = text.replace(block(marker), `<!-- ${marker}:start -->\n${tables[marker]}\n<!-- ${marker}:end -->`);
  }
  return text;
}

/** The READMEs whose tables differ from their action.yml (after rewriting them, unless `check`). */
export function syncReadmes(options: { check: boolean }): string[] {
  const drifted: string[] = [];
  for (const action of listActions()) {
    const file = path.join(action.dir, 'README.md');
    if (!existsSync(file)) throw new Error(`${file} is missing: every action needs a README with <!-- inputs:start --> and <!-- outputs:start --> blocks`);
    const current = readFileSync(file, 'utf8');
    const wanted = withTables(current, renderTables(action.dir), file);
    if (wanted !== current) {
      drifted.push(path.relative(path.dirname(action.dir), file));
      if (!options.check) writeFileSync(file, wanted);
    }
  }
  return drifted;
}

if (import.meta.filename === process.argv[1]) {
  const check = process.argv.includes('--check');
  const drifted = syncReadmes({ check });
  if (check && drifted.length > 0) {
    console.error(`README tables differ from action.yml: ${drifted.join(', ')}. Run \`npm run docs\`.`);
    process.exit(1);
  }
  console.log(drifted.length === 0 ? 'README tables match action.yml' : `rewrote tables in ${drifted.join(', ')}`);
}
