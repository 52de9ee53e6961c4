// Bundles every action with @vercel/ncc into its committed dist/ (scripts/ncc-build.ts, one child process each).
//   node scripts/build-dist.ts            rebuild all dist/ folders
//   node scripts/build-dist.ts --check    build into a temp folder and fail if any dist/ differs
//   node scripts/build-dist.ts action-x   only the named actions
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { listActions, repoRoot, type ActionPackage } from './actions.ts';
import type { NccJob } from './ncc-build.ts';

const NCC_BUILD = path.join(repoRoot, 'scripts', 'ncc-build.ts');

function ncc(action: ActionPackage, outDir: string): Promise<void> {
  const job: NccJob = { entry: action.entry, outDir, externals: action.externals, stubs: action.stubs };
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [NCC_BUILD, JSON.stringify(job)], { cwd: action.dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`ncc failed for ${action.name} (exit ${code}):\n${output}`))));
  });
}

function listFiles(dir: string, base = dir): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? listFiles(full, base) : [path.relative(base, full)];
  });
}

/** The files that differ between a committed dist and a fresh build (added, removed or changed). */
export function diffDirs(committed: string, fresh: string): string[] {
  const a = new Set(listFiles(committed));
  const b = new Set(listFiles(fresh));
  const differing: string[] = [];
  for (const f of new Set([...a, ...b])) {
    if (!a.has(f)) differing.push(`${f} (missing from dist/)`);
    else if (!b.has(f)) differing.push(`${f} (no longer built)`);
    else if (!readFileSync(path.join(committed, f)).equals(readFileSync(path.join(fresh, f)))) differing.push(`${f} (changed)`);
  }
  return differing.sort();
}

async function inPool<T>(items: T[], size: number, fn: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  await Promise.all(
    Array.from({ length: Math.min(size, queue.length) }, async () => {
      for (let item = queue.shift(); item !== undefined; item = queue.shift()) await fn(item);
    }),
  );
}

export async function buildAll(options: { check: boolean; only?: string[] }): Promise<{ stale: Record<string, string[]> }> {
  const actions = listActions().filter((a) => !options.only?.length || options.only.includes(a.name));
  const stale: Record<string, string[]> = {};
  const tmp = options.check ? mkdtempSync(path.join(tmpdir(), 'gangway-dist-')) : undefined;
  try {
    await inPool(actions, 2, async (action) => {
      const started = performance.now();
      // Built beside dist/ and swapped in with two renames: a test (or a runner) starting the
      // action meanwhile never finds dist/ missing or half-written.
      const out = tmp ? path.join(tmp, action.name) : `${action.dist}.new-${process.pid}`;
      if (!tmp) rmSync(out, { recursive: true, force: true });
      await ncc(action, out);
      if (tmp) {
        const differing = diffDirs(action.dist, out);
        if (differing.length > 0) stale[action.name] = differing;
      } else {
        const old = `${action.dist}.old-${process.pid}`;
        if (existsSync(action.dist)) renameSync(action.dist, old);
        renameSync(out, action.dist);
        rmSync(old, { recursive: true, force: true });
      }
      const size = statSync(path.join(tmp ? out : action.dist, 'index.js')).size;
      console.log(`${action.name}: ${options.check ? 'checked' : 'built'} dist/index.js (${Math.round(size / 1024)} kB) in ${Math.round(performance.now() - started)} ms`);
    });
  } finally {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  }
  return { stale };
}

if (import.meta.filename === process.argv[1]) {
  const args = process.argv.slice(2);
  const check = args.includes('--check');
  const only = args.filter((a) => !a.startsWith('--'));
  const { stale } = await buildAll({ check, only });
  if (Object.keys(stale).length > 0) {
    for (const [name, files] of Object.entries(stale)) console.error(`${name}/dist is stale: ${files.join(', ')}`);
    console.error('Run `npm run build` and commit the dist/ folders.');
    process.exit(1);
  }
}
