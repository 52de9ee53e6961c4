import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Inputs, mapInputs } from '@gangway/kit';
import { readSettings, type DeploySettings } from '../src/settings.ts';

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
