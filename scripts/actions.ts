import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

export const repoRoot = path.resolve(import.meta.dirname, '..');

export interface ActionPackage {
  /** Folder name, e.g. `action-build`. */
  name: string;
  dir: string;
  entry: string;
  dist: string;
  /** Modules left out of the bundle (optional native addons loaded in try/catch): package.json "gangway.bundleExternals". */
  externals: string[];
  /**
   * Modules a dependency requires as it loads but whose code the action never runs (dockerode's
   * gRPC session and BuildKit decoding in deploy-ssh): left out, and a stub that throws when used
   * stands in for each in dist/left-out/. package.json "gangway.bundleStubs".
   */
  stubs: string[];
}

/** Every `action-*` folder with an action.yml and a src/index.ts, in name order. */
export function listActions(root: string = repoRoot): ActionPackage[] {
  return readdirSync(root, { withFileTypes: true })
    .filter((d) => d.isDirectory() && d.name.startsWith('action-'))
    .map((d) => path.join(root, d.name))
    .filter((dir) => existsSync(path.join(dir, 'action.yml')) && existsSync(path.join(dir, 'src', 'index.ts')))
    .sort()
    .map((dir) => {
      const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { gangway?: { bundleExternals?: string[]; bundleStubs?: string[] } };
      return {
        name: path.basename(dir),
        dir,
        entry: path.join(dir, 'src', 'index.ts'),
        dist: path.join(dir, 'dist'),
        externals: pkg.gangway?.bundleExternals ?? [],
        stubs: pkg.gangway?.bundleStubs ?? [],
      };
    });
}
