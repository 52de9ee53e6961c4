// Build-stage step of app/Dockerfile: shrink node_modules to what the app needs at run time on linux-x64.
// 1. `npm ci -w app --omit=dev` also installs packages that are dev-only for the app but production
//    dependencies of another workspace (npm's dev flag is per lockfile entry): keep only the app's
//    production closure as `npm ls` reports it.
// 2. onnxruntime-node ships binaries for every platform (~288 MB): keep linux/x64 only.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';

const root = process.cwd();
const modules = path.join(root, 'node_modules');
const sizeOf = (dir) => {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) total += sizeOf(full);
    else if (entry.isFile()) total += statSync(full).size;
  }
  return total;
};
const before = sizeOf(modules);

const listed = execFileSync('npm', ['ls', '--workspace', 'app', '--omit=dev', '--all', '--parseable'], { encoding: 'utf8' });
const keep = new Set(
  listed
    .split('\n')
    .map((line) => path.relative(modules, line.trim()))
    .filter((relative) => relative && !relative.startsWith('..'))
    .map((relative) => relative.split(path.sep).slice(0, relative.startsWith('@') ? 2 : 1).join('/')),
);
keep.delete('@gangway/app');

let removed = 0;
for (const entry of readdirSync(modules)) {
  if (entry.startsWith('@')) {
    for (const scoped of readdirSync(path.join(modules, entry))) {
      if (!keep.has(`${entry}/${scoped}`)) {
        rmSync(path.join(modules, entry, scoped), { recursive: true, force: true });
        removed++;
      }
    }
    if (readdirSync(path.join(modules, entry)).length === 0) rmSync(path.join(modules, entry), { recursive: true });
  } else if (!keep.has(entry)) {
    rmSync(path.join(modules, entry), { recursive: true, force: true });
    removed++;
  }
}

const ortBin = path.join(modules, 'onnxruntime-node', 'bin');
if (existsSync(ortBin)) {
  for (const napi of readdirSync(ortBin)) {
    for (const platform of readdirSync(path.join(ortBin, napi))) {
      const platformDir = path.join(ortBin, napi, platform);
      if (platform !== 'linux') {
        rmSync(platformDir, { recursive: true, force: true });
        continue;
      }
      for (const arch of readdirSync(platformDir)) {
        if (arch !== 'x64') rmSync(path.join(platformDir, arch), { recursive: true, force: true });
      }
    }
  }
}

const after = sizeOf(modules);
console.log(`pruned node_modules: removed ${removed} packages outside the app's production closure; ${(before / 1e6).toFixed(0)} MB -> ${(after / 1e6).toFixed(0)} MB`);
