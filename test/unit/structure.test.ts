// The shape of the tree (issue #17), checked on the real files: no import cycle in the `src/`
// of any package, no action importing another, and no harness code where users run code.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');
const rel = (file: string): string => path.relative(root, file);

/**
 * The module specifiers a TypeScript file imports, by a small regex reader: `import … from`,
 * `import type … from`, `export … from` (each possibly over several lines), `import '…'` and
 * `import('…')`. Comments are blanked first so that an import in a comment does not count.
 */
export function importsOf(text: string): string[] {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const specs: string[] = [];
  const patterns = [
    /^\s*(?:import|export)\s+(?:type\s+)?(?:[\w$]+\s*,?\s*)?(?:\*\s*(?:as\s+[\w$]+)?\s*)?(?:\{[^}]*\})?\s*from\s*['"]([^'"]+)['"]/gm,
    /^\s*import\s*['"]([^'"]+)['"]/gm,
    /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g,
  ];
  for (const pattern of patterns) for (const m of code.matchAll(pattern)) specs.push(m[1] as string);
  return specs;
}

/** Every strongly connected group of more than one file, or a file that imports itself. */
export function cyclesOf(graph: Map<string, string[]>): string[][] {
  let index = 0;
  const stack: string[] = [];
  const on = new Set<string>();
  const indices = new Map<string, number>();
  const low = new Map<string, number>();
  const cycles: string[][] = [];
  const visit = (v: string): void => {
    indices.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!indices.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v) as number, indices.get(w) as number));
    }
    if (low.get(v) === indices.get(v)) {
      const group: string[] = [];
      let w: string;
      do {
        w = stack.pop() as string;
        on.delete(w);
        group.push(w);
      } while (w !== v);
      if (group.length > 1 || (graph.get(v) ?? []).includes(v)) cycles.push(group.sort());
    }
  };
  for (const v of [...graph.keys()].sort()) if (!indices.has(v)) visit(v);
  return cycles.sort((a, b) => (a[0] as string).localeCompare(b[0] as string));
}

function tsFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' ? [] : tsFiles(full);
    return e.name.endsWith('.ts') ? [full] : [];
  });
}

function resolveRelative(from: string, spec: string): string | undefined {
  const base = path.resolve(path.dirname(from), spec);
  for (const candidate of [base, `${base}.ts`, base.replace(/\.js$/, '.ts'), path.join(base, 'index.ts')]) {
    if (existsSync(candidate) && statSync(candidate).isFile()) return candidate;
  }
  return undefined;
}

const actions = readdirSync(root).filter((d) => d.startsWith('action-') && existsSync(path.join(root, d, 'action.yml'))).sort();
const packages = readdirSync(path.join(root, 'packages')).sort();
const srcDirs = [...packages.map((p) => path.join('packages', p, 'src')), ...actions.map((a) => path.join(a, 'src')), 'app/src', 'lab/src']
  .map((d) => path.join(root, d))
  .filter((d) => existsSync(d));

interface Import {
  file: string;
  spec: string;
  /** The file a relative import resolves to. */
  target?: string;
}

const imports: Import[] = srcDirs.flatMap(tsFiles).flatMap((file) =>
  importsOf(readFileSync(file, 'utf8')).map((spec) => (spec.startsWith('.') ? { file, spec, target: resolveRelative(file, spec) } : { file, spec })),
);

describe('the import reader', () => {
  it('reads every form of import, type-only and multi-line included, and none in comments', () => {
    const text = [
      "import { a } from './a.ts';",
      "import type { B } from './b.ts';",
      'import {',
      '  c,',
      '  type C,',
      "} from './c.ts';",
      "import d, { e } from './d.ts';",
      "import * as f from './f.ts';",
      "export { g } from './g.ts';",
      "export type { H } from './h.ts';",
      "export * from './i.ts';",
      "import './j.ts';",
      "const k = await import('./k.ts');",
      "// import { x } from './commented.ts';",
      "/* import { y } from './block.ts'; */",
      "const url = 'https://example.com/from';",
    ].join('\n');
    expect(importsOf(text).sort()).toEqual(['./a.ts', './b.ts', './c.ts', './d.ts', './f.ts', './g.ts', './h.ts', './i.ts', './j.ts', './k.ts']);
  });

  it('finds a cycle, however long, and a file that imports itself', () => {
    const graph = new Map([
      ['a', ['b']],
      ['b', ['c']],
      ['c', ['a', 'd']],
      ['d', []],
      ['e', ['e']],
    ]);
    expect(cyclesOf(graph)).toEqual([['a', 'b', 'c'], ['e']]);
  });

  it('reads the real tree: every src folder, and every relative import resolves', () => {
    expect(srcDirs.map(rel)).toEqual(expect.arrayContaining(['packages/kit/src', 'packages/harness/src', 'action-deploy-ssh/src', 'app/src', 'lab/src']));
    expect(imports.length).toBeGreaterThan(100);
    expect(imports.filter((i) => i.spec.startsWith('.') && !i.target).map((i) => `${rel(i.file)}: ${i.spec}`)).toEqual([]);
  });
});

describe('the structure of the tree', () => {
  it('has no import cycle among the files of src/ of any package (type-only imports count)', () => {
    const graph = new Map<string, string[]>();
    for (const file of srcDirs.flatMap(tsFiles)) graph.set(rel(file), []);
    for (const i of imports) if (i.target) graph.get(rel(i.file))?.push(rel(i.target));
    expect(cyclesOf(graph)).toEqual([]);
  });

  it('has no action whose src imports another action', () => {
    const crossing = imports.filter((i) => {
      const own = rel(i.file).split(path.sep)[0] as string;
      if (!own.startsWith('action-')) return false;
      if (/^@gangway\/action-/.test(i.spec)) return true;
      const target = i.target ? (rel(i.target).split(path.sep)[0] as string) : own;
      return target.startsWith('action-') && target !== own;
    });
    expect(crossing.map((i) => `${rel(i.file)}: ${i.spec}`)).toEqual([]);
  });

  it('imports the test harness from no action, nor kit, nor the app', () => {
    const harnessDir = path.join(root, 'packages', 'harness');
    const shipped = (file: string): boolean => /^(action-[^/]+|packages\/kit|app)\/src\//.test(rel(file).split(path.sep).join('/'));
    const users = imports.filter((i) => shipped(i.file) && (/^@gangway\/harness(\/|$)/.test(i.spec) || (i.target !== undefined && i.target.startsWith(harnessDir + path.sep))));
    expect(users.map((i) => `${rel(i.file)}: ${i.spec}`)).toEqual([]);
    // Nor does any shipped package depend on it at run time.
    for (const dir of [...actions, 'packages/kit', 'app']) {
      const manifest = JSON.parse(readFileSync(path.join(root, dir, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
      expect(Object.keys(manifest.dependencies ?? {}), dir).not.toContain('@gangway/harness');
    }
  });

  /**
   * Text that only the harness has, one or more for each of its modules: none of it may turn
   * up in a dist bundle. A new module of the harness gets its marker here.
   */
  const harnessMarkers: Record<string, string[]> = {
    'action-metadata.ts': ['runs.using must be nodeNN'],
    'file-commands.ts': ['file command: no closing delimiter'],
    'leaks.ts': ['findSecretLeaks'],
    'run-action.ts': ['gangway-harness', 'harness: cannot evaluate', 'gangway-runner-', 'onActionRun'],
    'secret-inputs.ts': ['declares secret input'],
    'secret-sweep.ts': ['SecretSweep'],
    'workflow-commands.ts': ['##[debug]'],
  };

  it('puts no harness code in any dist bundle', () => {
    const harnessSrc = path.join(root, 'packages', 'harness', 'src');
    const modules = readdirSync(harnessSrc).filter((f) => f.endsWith('.ts') && f !== 'index.ts').sort();
    expect(Object.keys(harnessMarkers).sort(), 'every module of the harness has a marker').toEqual(modules);
    for (const [module, markers] of Object.entries(harnessMarkers)) {
      const text = readFileSync(path.join(harnessSrc, module), 'utf8');
      for (const marker of markers) expect(text, `${module} holds its marker`).toContain(marker);
    }
    const bundles = actions.flatMap((a) => {
      const dist = path.join(root, a, 'dist');
      return existsSync(dist) ? readdirSync(dist).filter((f) => f.endsWith('.js')).map((f) => path.join(dist, f)) : [];
    });
    expect(bundles.length).toBeGreaterThanOrEqual(actions.length);
    const found: string[] = [];
    for (const bundle of bundles) {
      const text = readFileSync(bundle, 'utf8');
      for (const marker of [...Object.values(harnessMarkers).flat(), '@gangway/harness']) if (text.includes(marker)) found.push(`${rel(bundle)}: ${marker}`);
    }
    expect(found).toEqual([]);
  });
});
