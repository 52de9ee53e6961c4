// Path inputs: every file or folder an action reads on the runner must lie inside the
// workspace (or the runner's temp folder), symlinks followed. `upload: /proc/self/environ`
// or `context: ../..` would otherwise hand a step's environment or the runner's files to a
// server.
import { realpathSync } from 'node:fs';
import path from 'node:path';
import { ConfigurationError } from './errors.ts';

export interface PathRoots {
  /** GITHUB_WORKSPACE; relative paths resolve against it. */
  workspace: string;
  /** RUNNER_TEMP, also allowed when set (files a previous step wrote there). */
  runnerTemp?: string;
}

/** The runner's roots from its environment (the workspace falls back to the current folder). */
export function runnerPathRoots(env: NodeJS.ProcessEnv = process.env): PathRoots {
  return { workspace: env['GITHUB_WORKSPACE'] || process.cwd(), runnerTemp: env['RUNNER_TEMP'] || undefined };
}

function real(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return path.resolve(p);
  }
}

function isInside(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/**
 * Resolves `value` (relative to the workspace, or absolute) and returns the absolute path with
 * its symlinks resolved (so that a link swapped after the check cannot lead out).
 * Throws a ConfigurationError naming `input` when the path, or what a symlink on it points
 * to, lies outside the workspace and RUNNER_TEMP. A path that does not exist yet is checked
 * through its nearest existing parent, so a later symlink cannot escape either.
 */
export function resolveWorkspacePath(value: string, input: string, roots: PathRoots): string {
  const resolved = path.resolve(roots.workspace, value);
  // Follow symlinks on the longest existing prefix.
  let existing = resolved;
  let rest = '';
  for (;;) {
    try {
      const target = realpathSync(existing);
      existing = rest === '' ? target : path.join(target, rest);
      break;
    } catch {
      const parent = path.dirname(existing);
      if (parent === existing) break;
      rest = rest === '' ? path.basename(existing) : path.join(path.basename(existing), rest);
      existing = parent;
    }
  }
  const allowed = [roots.workspace, roots.runnerTemp].filter((r): r is string => Boolean(r)).map(real);
  if (!allowed.some((root) => isInside(existing, root))) {
    const where = roots.runnerTemp ? `the workspace (${roots.workspace}) or RUNNER_TEMP` : `the workspace (${roots.workspace})`;
    throw new ConfigurationError(
      `Input "${input}" is "${value}", which resolves to ${existing}, outside ${where}. Give a path inside the checkout, relative to the workspace; symlinks that lead out of it are refused too.`,
      input,
    );
  }
  return existing;
}
