// Figures in a README that come from a benchmark's JSON (bench/results/*.json), never by hand: the
// block between `<!-- NAME:start -->` and `<!-- NAME:end -->` is generated, a unit test fails when
// the README's block differs from what the committed JSON gives, and the benchmark rewrites it.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export const REPO_ROOT = path.resolve(import.meta.dirname, '../..');

export interface FiguresBlock {
  /** The README, absolute. */
  readme: string;
  /** The marker name: `bench-figures` for `<!-- bench-figures:start -->`. */
  marker: string;
  /** The block's Markdown, from the committed JSON. */
  render: () => string;
  /** What rewrites it, for the error message: `node app/test/readme-figures.ts`. */
  command: string;
}

/** `text` with the block between the markers replaced by `body`; throws when the markers are missing. */
export function withBlock(text: string, marker: string, body: string, where = 'the README'): string {
  const block = new RegExp(`<!-- ${marker}:start -->\\n[\\s\\S]*?<!-- ${marker}:end -->`);
  if (!block.test(text)) throw new Error(`${where} has no <!-- ${marker}:start --> … <!-- ${marker}:end --> block`);
  return text.replace(block, () => `<!-- ${marker}:start -->\n${body}\n<!-- ${marker}:end -->`);
}

/** The README as it is and as it should read. */
export function wantedBlock(b: FiguresBlock): { current: string; wanted: string } {
  const current = readFileSync(b.readme, 'utf8');
  return { current, wanted: withBlock(current, b.marker, b.render(), path.relative(REPO_ROOT, b.readme)) };
}

/** Rewrites the README's block when it differs; returns what it did, for the log. */
export function writeBlock(b: FiguresBlock): string {
  const { current, wanted } = wantedBlock(b);
  const name = path.relative(REPO_ROOT, b.readme);
  if (wanted === current) return `${name} figures already match`;
  writeFileSync(b.readme, wanted);
  return `rewrote the figures in ${name}`;
}

/** A generator's command line: `--check` fails when the block differs; otherwise it is rewritten. */
export function blockCommand(b: FiguresBlock, argv = process.argv): void {
  const name = path.relative(REPO_ROOT, b.readme);
  if (argv.includes('--check')) {
    const { current, wanted } = wantedBlock(b);
    if (wanted !== current) {
      console.error(`${name} figures differ from bench/results/*.json. Run \`${b.command}\`.`);
      process.exit(1);
    }
    console.log(`${name} figures match bench/results/*.json`);
  } else {
    console.log(writeBlock(b));
  }
}
