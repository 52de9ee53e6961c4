// One ncc build, as `ncc build` writes it, run by build-dist.ts in a child process whose working
// directory is the action's folder (ncc finds the tsconfig from there). It uses ncc's API rather
// than its CLI because only the API takes externals as a map: a module can be left out of the
// bundle and replaced by a stub file written beside it, instead of being required by its own name.
//   node scripts/ncc-build.ts '{"entry":…,"outDir":…,"externals":[…],"stubs":[…]}'
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

export interface NccJob {
  entry: string;
  outDir: string;
  /** Left out and required by their own name at run time (optional native addons in try/catch). */
  externals: string[];
  /** Left out and replaced by a stub that throws when used (code the action never runs). */
  stubs: string[];
}

interface NccOutput {
  code: string;
  map?: string;
  assets: Record<string, { source: string | Buffer; permissions?: number }>;
  symlinks: Record<string, string>;
}

type Ncc = (entry: string, options: { externals: Record<string, string>; license: string; quiet: boolean; cache: boolean }) => Promise<NccOutput>;

/** Where a stubbed module's stand-in is written, relative to dist/index.js. */
export function stubPath(moduleName: string): string {
  return `./left-out/${moduleName}.cjs`;
}

/** A CommonJS module that loads fine and throws, naming `moduleName`, as soon as any of it is used. */
export function stubSource(moduleName: string): string {
  const name = JSON.stringify(moduleName);
  return [
    `// ${moduleName} is left out of this bundle ("gangway.bundleStubs" in the action's package.json):`,
    '// it is required when a dependency loads, but the code that would use it never runs in this action.',
    "'use strict';",
    'module.exports = new Proxy({}, {',
    '  get(_target, key) {',
    "    if (typeof key === 'symbol' || key === '__esModule' || key === 'then') return undefined;",
    `    throw new Error(${name} + ' is left out of this action\\'s bundle (gangway.bundleStubs), yet its ' + String(key) + ' was used');`,
    '  },',
    '});',
    '',
  ].join('\n');
}

export async function nccBuild(job: NccJob): Promise<void> {
  const ncc = createRequire(import.meta.url)('@vercel/ncc') as Ncc;
  const externals: Record<string, string> = {};
  for (const name of job.externals) externals[name] = name;
  for (const name of job.stubs) externals[name] = stubPath(name);
  const { code, map, assets, symlinks } = await ncc(job.entry, { externals, license: 'licenses.txt', quiet: true, cache: false });
  mkdirSync(job.outDir, { recursive: true });
  writeFileSync(path.join(job.outDir, 'index.js'), code);
  if (map) writeFileSync(path.join(job.outDir, 'index.js.map'), map);
  for (const [name, asset] of Object.entries(assets)) {
    const file = path.join(job.outDir, name);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, asset.source, asset.permissions === undefined ? {} : { mode: asset.permissions });
  }
  for (const [name, target] of Object.entries(symlinks)) symlinkSync(target, path.join(job.outDir, name));
  for (const name of job.stubs) {
    const file = path.join(job.outDir, stubPath(name));
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, stubSource(name));
  }
}

if (import.meta.filename === process.argv[1]) {
  try {
    await nccBuild(JSON.parse(process.argv[2] ?? '') as NccJob);
  } catch (error) {
    // ncc's own message (the TypeScript or resolve errors), without the minified line it threw from.
    console.error(error instanceof Error ? error.message : String(error));
    process.exit(1);
  }
}
