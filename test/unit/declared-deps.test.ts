// Every workspace package declares what its src/ imports, so that nothing works only because npm
// hoisted another package's dependency to the root node_modules. Packages that ship (the actions'
// dist bundles, the app's image, and what they depend on) must list their imports under
// "dependencies"; test-only packages may list them under "devDependencies" too.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { listActions, repoRoot } from '../../scripts/actions.ts';

interface Workspace {
  name: string;
  dir: string;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
}

function readWorkspaces(): Workspace[] {
  const root = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { workspaces: string[] };
  return root.workspaces.map((folder) => {
    const dir = path.join(repoRoot, folder);
    const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as Partial<Workspace>;
    return { name: pkg.name as string, dir, dependencies: pkg.dependencies ?? {}, devDependencies: pkg.devDependencies ?? {} };
  });
}

function sourceFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return name === 'node_modules' ? [] : sourceFiles(full);
    return /\.(c|m)?tsx?$/.test(name) ? [full] : [];
  });
}

/** The package a bare specifier names: `@scope/name/sub` is `@scope/name`, `name/sub` is `name`. */
function packageOf(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] as string);
}

/** The packages a file imports: static and dynamic imports, re-exports, type-only imports; no builtins, relative or `#` imports. */
function importedPackages(text: string): string[] {
  const { importedFiles } = ts.preProcessFile(text, true, true);
  const names = importedFiles
    .map((f) => f.fileName)
    .filter((s) => !s.startsWith('.') && !s.startsWith('/') && !s.startsWith('#') && !isBuiltin(s))
    .map(packageOf);
  return [...new Set(names)].sort();
}

const workspaces = readWorkspaces();
const byName = new Map(workspaces.map((w) => [w.name, w]));

/** What ships: each action (its dist bundle), each package built into an image (a Dockerfile), and their workspace dependencies. */
function shippedPackages(): Set<string> {
  const actionDirs = new Set(listActions().map((a) => a.dir));
  const roots = workspaces.filter((w) => actionDirs.has(w.dir) || existsSync(path.join(w.dir, 'Dockerfile')));
  const shipped = new Set<string>();
  const visit = (w: Workspace): void => {
    if (shipped.has(w.name)) return;
    shipped.add(w.name);
    for (const dep of Object.keys(w.dependencies)) {
      const inner = byName.get(dep);
      if (inner) visit(inner);
    }
  };
  roots.forEach(visit);
  return shipped;
}

const shipped = shippedPackages();

describe('declared dependencies', () => {
  it('reads bare imports the way the test means to', () => {
    const text = [
      "import fs from 'node:fs';",
      "import path from 'path';",
      "import type { Client } from 'ssh2';",
      "import { a } from './local.ts';",
      "export { b } from '@gangway/kit/ssh';",
      "import '@scope/side-effect/deep/file.js';",
      "const lazy = await import('yaml');",
      "import x from '#internal';",
    ].join('\n');
    expect(importedPackages(text)).toEqual(['@gangway/kit', '@scope/side-effect', 'ssh2', 'yaml']);
  });

  it('knows which packages ship and which are test-only', () => {
    for (const action of listActions()) expect(shipped).toContain((JSON.parse(readFileSync(path.join(action.dir, 'package.json'), 'utf8')) as { name: string }).name);
    expect(shipped).toContain('@gangway/kit');
    expect(shipped).not.toContain('@gangway/lab');
  });

  it.each(workspaces.map((w) => [w.name, w] as const))('%s declares every package its src/ imports', (_, workspace) => {
    const testOnly = !shipped.has(workspace.name);
    const declared = new Set([...Object.keys(workspace.dependencies), ...(testOnly ? Object.keys(workspace.devDependencies) : [])]);
    const missing: string[] = [];
    for (const file of sourceFiles(path.join(workspace.dir, 'src'))) {
      for (const pkg of importedPackages(readFileSync(file, 'utf8'))) {
        if (pkg !== workspace.name && !declared.has(pkg)) missing.push(`${pkg} (${path.relative(repoRoot, file)})`);
      }
    }
    expect(missing, `add these to ${path.relative(repoRoot, workspace.dir)}/package.json "${testOnly ? 'dependencies" or "devDependencies' : 'dependencies'}"`).toEqual([]);
  });
});
