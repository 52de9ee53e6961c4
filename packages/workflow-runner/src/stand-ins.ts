// Local stand-ins for the well-known actions the workflows use, doing what those actions do
// on a GitHub runner. Any other external action has none: the runner refuses it by name.
import { execFileSync } from 'node:child_process';
import { readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { RunnerJob } from '@gangway/harness';

export interface StandInContext {
  job: RunnerJob;
  /** The git repository `actions/checkout` copies from. */
  repository: string;
  /** The ref to check out when the step gives none (github.sha of the event). */
  defaultRef: string;
  /** The Node binary that setup-node puts first on PATH. */
  node: string;
  log: (line: string) => void;
}

export interface StandIn {
  /** Inputs it understands; any other input given fails the step. */
  inputs: readonly string[];
  run: (inputs: Record<string, string>, context: StandInContext) => void;
}

function git(repository: string, args: string[], input?: Buffer): Buffer {
  return execFileSync('git', ['-C', repository, ...args], { input, maxBuffer: 512 * 1024 * 1024 });
}

/** actions/checkout: the repository at `ref` (default: the event's sha) into the workspace; `sparse-checkout` in cone mode. */
function checkout(inputs: Record<string, string>, context: StandInContext): void {
  const ref = inputs['ref'] || context.defaultRef;
  let commit: string;
  try {
    commit = git(context.repository, ['rev-parse', '--verify', `${ref}^{commit}`]).toString().trim();
  } catch {
    throw new Error(`actions/checkout: ref "${ref}" is not in ${context.repository}`);
  }
  const workspace = context.job.workspace;
  for (const entry of readdirSync(workspace)) rmSync(path.join(workspace, entry), { recursive: true, force: true });
  const sparse = (inputs['sparse-checkout'] ?? '').split('\n').map((l) => l.trim()).filter(Boolean);
  // Cone mode: the listed folders, plus every file at the top of the repository.
  const paths = sparse.length === 0 ? [] : [...git(context.repository, ['ls-tree', '--name-only', '--full-tree', commit]).toString().split('\n').filter((name) => name && !name.includes('/') && git(context.repository, ['cat-file', '-t', `${commit}:${name}`]).toString().trim() === 'blob'), ...sparse];
  const tar = git(context.repository, ['archive', '--format=tar', commit, ...(paths.length ? ['--', ...paths] : [])]);
  execFileSync('tar', ['-x', '-C', workspace], { input: tar, maxBuffer: 512 * 1024 * 1024 });
  context.log(`  checked out ${commit.slice(0, 12)}${sparse.length ? ` (sparse: ${sparse.join(', ')})` : ''} into the workspace`);
}

/** actions/setup-node: this machine's Node first on PATH, when it is the major version asked for. */
function setupNode(inputs: Record<string, string>, context: StandInContext): void {
  const wanted = (inputs['node-version'] ?? '').trim();
  const have = execFileSync(context.node, ['--version']).toString().trim().replace(/^v/, '');
  const major = have.split('.')[0];
  if (wanted !== '' && wanted.replace(/^v/, '').split('.')[0] !== major && !['lts/*', 'latest', 'node'].includes(wanted)) {
    throw new Error(`actions/setup-node: node-version "${wanted}" asked for, but the local runner has Node ${have} only`);
  }
  context.job.addPath(path.dirname(context.node));
  context.log(`  Node ${have} on PATH`);
}

const STAND_INS: Record<string, StandIn> = {
  'actions/checkout': { inputs: ['ref', 'sparse-checkout'], run: checkout },
  'actions/setup-node': { inputs: ['node-version'], run: setupNode },
};

/** The stand-in for `uses: owner/name@ref`, or undefined when there is none. */
export function standInFor(uses: string): StandIn | undefined {
  const name = uses.split('@')[0] ?? '';
  return STAND_INS[name];
}

export const standInNames = Object.keys(STAND_INS);
