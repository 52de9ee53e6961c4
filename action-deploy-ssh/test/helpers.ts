import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as core from '@actions/core';
import { afterEach, beforeEach } from 'vitest';
import { Inputs, mapInputs } from '@gangway/kit';
import { LOCKS_STATE } from '../src/host/lock-state.ts';
import { readSettings, type DeploySettings } from '../src/settings/index.ts';
import type { Provenance } from '../src/labels.ts';
import { DIGEST_V1, DIGEST_V2, FakeEngine } from './fakes.ts';

let key: string | undefined;
/** A real ed25519 key from ssh-keygen (settings check the PEM shape). */
export function testKey(): string {
  if (key) return key;
  const dir = mkdtempSync(path.join(tmpdir(), 'gangway-deploy-key-'));
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, 'k')]);
  key = readFileSync(path.join(dir, 'k'), 'utf8');
  rmSync(dir, { recursive: true, force: true });
  return key;
}

export const FINGERPRINT = `SHA256:${'A'.repeat(43)}`;

export function baseInputs(extra: Record<string, string> = {}): Record<string, string> {
  return {
    host: '198.19.0.1',
    username: 'deploy',
    'private-key': testKey(),
    fingerprint: FINGERPRINT,
    app: 'shop',
    image: 'registry.example.com/team/shop@sha256:' + '2'.repeat(64),
    'container-port': '8080',
    // blue-green's watch after the switch runs in real time: short here (settle.test.ts covers it).
    'settle-time': '200ms',
    ...extra,
  };
}

export function settingsFrom(values: Record<string, string>): DeploySettings {
  return readSettings(new Inputs(mapInputs(values)));
}

export function settings(extra: Record<string, string> = {}, overrides: Partial<DeploySettings> = {}): DeploySettings {
  return { ...settingsFrom(baseInputs(extra)), ...overrides };
}

/**
 * For tests that call main() or post() in-process: fresh GITHUB_OUTPUT, GITHUB_STATE and
 * GITHUB_STEP_SUMMARY files before each test, and the environment put back after it.
 * Returns the directory that holds them (`output`, `state`, `summary`); each test's job
 * summary goes to its own file.
 */
export function useRunnerFiles(prefix: string): () => string {
  let dir = '';
  const saved: Record<string, string | undefined> = {};
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), prefix));
    for (const name of ['GITHUB_OUTPUT', 'GITHUB_STATE', 'GITHUB_STEP_SUMMARY', `STATE_${LOCKS_STATE}`]) saved[name] = process.env[name];
    for (const name of ['output', 'state', 'summary']) writeFileSync(path.join(dir, name), '');
    process.env.GITHUB_OUTPUT = path.join(dir, 'output');
    process.env.GITHUB_STATE = path.join(dir, 'state');
    process.env.GITHUB_STEP_SUMMARY = path.join(dir, 'summary');
    // core.summary is one object per process that keeps the first GITHUB_STEP_SUMMARY it saw:
    // without this, every test after the first would write to a removed directory (ENOENT).
    (core.summary as unknown as { _filePath?: string })._filePath = undefined;
    core.summary.emptyBuffer();
  });
  afterEach(() => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    rmSync(dir, { recursive: true, force: true });
  });
  return () => dir;
}

/** The image repository of the lock and rollback tests. */
export const REPO = 'registry.example.com/team/shop';

/** A fake engine whose registry has v1 and v2 of REPO, v1's image already on the server. */
export function engine(): FakeEngine {
  const e = new FakeEngine();
  e.registry.push({ repository: REPO, tag: 'v1', digest: DIGEST_V1, id: 'sha256:img1' }, { repository: REPO, tag: 'v2', digest: DIGEST_V2, id: 'sha256:img2' });
  e.images.set('sha256:img1', { id: 'sha256:img1', repoDigests: [`${REPO}@${DIGEST_V1}`], hasHealthcheck: false, refs: [`${REPO}@${DIGEST_V1}`] });
  return e;
}

let provenanceCount = 0;
/** A fresh provenance a minute after the last one (a new run of the workflow). */
export function prov(actor = 'octocat'): Provenance {
  provenanceCount++;
  return { gitSha: 'a'.repeat(40), runUrl: `https://github.com/acme/shop/actions/runs/${provenanceCount}`, actor, at: new Date(Date.parse('2026-11-22T10:00:00Z') + provenanceCount * 60_000).toISOString() };
}
