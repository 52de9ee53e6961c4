// Each action's tests declare its secret inputs (action-*/test/secrets.ts, issue #17); the
// sweep names no action's inputs. These tests hold the declarations to what they must do: one
// per action, true to its action.yml, a leak of every declared kind is caught, and the sweep
// finds at least every secret it found when it named the inputs itself.
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadSecretInputs, readActionMetadata, SECRET_INPUTS_FILE, secretsOfInputs, SecretSweep, type ActionRun, type SecretInput } from '@gangway/harness';

const root = path.resolve(import.meta.dirname, '../..');
const actions = readdirSync(root)
  .filter((d) => d.startsWith('action-') && existsSync(path.join(root, d, 'action.yml')))
  .sort();

function fakeRun(action: string, printed: string): ActionRun {
  return { action, phase: 'main', printed, stderr: '', summary: '', outputs: {}, state: {}, env: {}, masks: [] } as unknown as ActionRun;
}

/** Input values of `kind` that hold `secret` (a config: one for each of its key blocks), and the label the sweep gives each. */
function valuesOf(name: string, kind: SecretInput, secret: string): Array<{ value: string; label: string }> {
  if (kind === 'whole') return [{ value: secret, label: name }];
  if (kind === 'url-password') return [{ value: `smtp://user:${encodeURIComponent(secret)}@198.18.0.1:25/path`, label: `${name} password` }];
  if ('keyValueLines' in kind) return [{ value: `LEVEL=warn\nAPI_TOKEN=${secret}`, label: `${name} API_TOKEN` }];
  return kind.blocks.map((tag) => ({ value: `client\n<ca>\nPUBLIC-CA\n</ca>\n<${tag}>\n${secret}\n</${tag}>\n`, label: `${name} <${tag}>` }));
}

/**
 * What the sweep took as secrets before issue #17, when it named every action's inputs itself
 * (packages/kit/src/harness/secret-sweep.ts at b1fa111). Kept only as the yardstick below.
 */
function secretsBefore17(inputs: Record<string, string>): Record<string, string> {
  const whole = ['private-key', 'jump-private-key', 'passphrase', 'password', 'registry-password', 'github-token', 'key', 'tls-auth', 'tls-crypt', 'tls-crypt-v2'];
  const secrets: Record<string, string> = {};
  for (const [name, value] of Object.entries(inputs)) {
    if (value.trim() === '') continue;
    if (whole.includes(name)) secrets[name] = value;
    else if (name === 'config') {
      for (const block of ['key', 'tls-auth', 'tls-crypt', 'tls-crypt-v2', 'secret']) {
        const m = new RegExp(`<${block}>([\\s\\S]*?)</${block}>`).exec(value);
        if (m?.[1]?.trim()) secrets[`config <${block}>`] = m[1];
      }
    } else if (name === 'env') {
      for (const line of value.split('\n')) {
        const eq = line.indexOf('=');
        const v = eq > 0 ? line.slice(eq + 1).trim() : '';
        if (v.length >= 8) secrets[`env ${line.slice(0, eq).trim()}`] = v;
      }
    } else if (name === 'smtp-url' || name === 'webhook-url' || name === 'url') {
      try {
        const password = new URL(value.trim()).password;
        if (password) secrets[`${name} password`] = decodeURIComponent(password);
      } catch {
        // not a URL
      }
    }
  }
  return secrets;
}

/** Every input of an action, each with a value that holds a secret under each of the old rules. */
function everyInput(dir: string): Record<string, string> {
  const inputs: Record<string, string> = {};
  for (const name of Object.keys(readActionMetadata(dir).inputs)) {
    inputs[name] =
      name === 'config' ? '<ca>\nCA\n</ca>\n<key>\nK1\n</key>\n<tls-auth>\nTA\n</tls-auth>\n<tls-crypt>\nTC\n</tls-crypt>\n<tls-crypt-v2>\nTC2\n</tls-crypt-v2>\n<secret>\nS\n</secret>\n'
      : name === 'env' ? 'DATABASE_URL=postgres://u:pw@db/app\nLEVEL=warn\nSESSION_SECRET=0123456789abcdef'
      : /url/.test(name) ? 'https://user:s3cr%40t-pass@198.18.0.7:8443/hook'
      : `value-of-${name}-0123456789`;
  }
  return inputs;
}

describe('secret input declarations', () => {
  it('every action has one, and it names only inputs its action.yml has', async () => {
    expect(actions).toEqual(['action-build', 'action-deploy-ssh', 'action-notify', 'action-smoke-test', 'action-vpn-connect']);
    for (const action of actions) {
      expect(existsSync(path.join(root, action, SECRET_INPUTS_FILE)), `${action}/${SECRET_INPUTS_FILE}`).toBe(true);
      const declared = await loadSecretInputs(path.join(root, action));
      expect(declared, action).toBeDefined();
    }
  });

  it.each(actions)('%s: a leak of each declared secret input is caught, of every kind', async (action) => {
    const dir = path.join(root, action);
    const declared = (await loadSecretInputs(dir)) ?? {};
    expect(Object.keys(declared).length).toBeGreaterThan(0);
    for (const [name, kind] of Object.entries(declared)) {
      const secret = `leaked-${name}-Zq81xw`;
      for (const { value, label } of valuesOf(name, kind, secret)) {
        const found = secretsOfInputs(declared, { [name]: value });
        expect(Object.keys(found), `${action} ${name}`).toEqual([label]);
        expect(found[label]?.trim()).toBe(secret);
        const sweep = new SecretSweep();
        sweep.record({ run: fakeRun(action, `starting\nall is well: ${secret}\n`), actionDir: dir, inputs: { [name]: value }, secrets: {}, sweep: true });
        const result = await sweep.sweep();
        expect(result.undeclared).toEqual([]);
        expect(
          result.leaks.map((l) => `${l.where}:${l.line}:${l.secret}`),
          `${action} ${label}`,
        ).toEqual([`stdout:2:${action}: ${label}`]);
      }
    }
  });

  it('the sweep finds at least every secret it found when it named the inputs itself', async () => {
    const kinds = new Set<string>();
    for (const action of actions) {
      const dir = path.join(root, action);
      const inputs = everyInput(dir);
      const now = secretsOfInputs((await loadSecretInputs(dir)) ?? {}, inputs);
      const before = secretsBefore17(inputs);
      expect(now, action).toMatchObject(before);
      for (const label of Object.keys(before)) kinds.add(label.replace(/ .*/, ''));
    }
    // The yardstick did reach every rule it had.
    expect([...kinds].sort()).toEqual(['config', 'env', 'github-token', 'jump-private-key', 'key', 'passphrase', 'password', 'private-key', 'registry-password', 'smtp-url', 'tls-auth', 'tls-crypt', 'tls-crypt-v2', 'url', 'webhook-url']);
  });
});
