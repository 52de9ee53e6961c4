import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readActionMetadata } from '@gangway/kit/harness';

const dir = path.resolve(import.meta.dirname, '..');

/** The README tables as they must read, rendered from action.yml. */
export function renderTables(): { inputs: string; outputs: string } {
  const meta = readActionMetadata(dir);
  const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ').trim();
  const inputs = [
    '| Input | Default | Description |',
    '| --- | --- | --- |',
    ...Object.entries(meta.inputs).map(([name, spec]) => `| \`${name}\` | ${spec.default ? `\`${spec.default}\`` : ''} | ${cell(spec.description ?? '')} |`),
  ].join('\n');
  const outputs = ['| Output | Description |', '| --- | --- |', ...Object.entries(meta.outputs).map(([name, spec]) => `| \`${name}\` | ${cell(spec.description ?? '')} |`)].join('\n');
  return { inputs, outputs };
}

function between(text: string, marker: string): string {
  const m = new RegExp(`<!-- ${marker}:start -->\\n([\\s\\S]*?)\\n<!-- ${marker}:end -->`).exec(text);
  return m?.[1] ?? '';
}

describe('README', () => {
  it('has the inputs and outputs tables of action.yml (regenerate: UPDATE_README=1 npx vitest run --project unit action-vpn-connect/test/readme)', () => {
    const file = path.join(dir, 'README.md');
    let text = fs.readFileSync(file, 'utf8');
    const tables = renderTables();
    if (process.env['UPDATE_README']) {
      text = text
        .replace(/<!-- inputs:start -->[\s\S]*?<!-- inputs:end -->/, `<!-- inputs:start -->\n${tables.inputs}\n<!-- inputs:end -->`)
        .replace(/<!-- outputs:start -->[\s\S]*?<!-- outputs:end -->/, `<!-- outputs:start -->\n${tables.outputs}\n<!-- outputs:end -->`);
      fs.writeFileSync(file, text);
    }
    expect(between(text, 'inputs')).toBe(tables.inputs);
    expect(between(text, 'outputs')).toBe(tables.outputs);
  });
});
