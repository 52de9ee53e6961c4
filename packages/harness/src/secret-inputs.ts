// Which inputs of an action carry secrets, as the action's own tests declare it (issue #17).
// action.yml cannot say it: GitHub's metadata schema allows no such key on an input. So each
// action keeps a small declaration in `test/secrets.ts`, found by the action's directory, and
// the sweep knows no action's input names. A declaration is checked against action.yml, so a
// renamed input cannot silently drop out of the sweep.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { readActionMetadata } from './action-metadata.ts';

/**
 * Where an input's value holds a secret:
 * - `'whole'`: the value is one (a key, a password, a token);
 * - `'url-password'`: the password of the URL it holds (`smtp://user:pass@host`), decoded;
 * - `{ keyValueLines }`: the value of each `KEY=value` line at least `minLength` long (shorter
 *   values, `warn` or `1`, turn up in any log);
 * - `{ blocks }`: the body of each inline `<tag>…</tag>` block of those tags (an OpenVPN
 *   config's key blocks; its CA and certificates are public).
 */
export type SecretInput = 'whole' | 'url-password' | { keyValueLines: { minLength: number } } | { blocks: readonly string[] };

/** input name → where its secret is. What `test/secrets.ts` exports as `secretInputs`. */
export type SecretInputs = Readonly<Record<string, SecretInput>>;

/** Where, in an action's directory, its declaration lives. */
export const SECRET_INPUTS_FILE = path.join('test', 'secrets.ts');

function urlPassword(value: string): string | undefined {
  try {
    const password = new URL(value.trim()).password;
    return password === '' ? undefined : decodeURIComponent(password);
  } catch {
    return undefined;
  }
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The secret values among a step's inputs, labelled by input, as `declared` says where they are. */
export function secretsOfInputs(declared: SecretInputs, inputs: Record<string, string | number | boolean>): Record<string, string> {
  const secrets: Record<string, string> = {};
  for (const [name, raw] of Object.entries(inputs)) {
    const kind = declared[name];
    const value = String(raw);
    if (kind === undefined || value.trim() === '') continue;
    if (kind === 'whole') secrets[name] = value;
    else if (kind === 'url-password') {
      const password = urlPassword(value);
      if (password) secrets[`${name} password`] = password;
    } else if ('keyValueLines' in kind) {
      for (const line of value.split('\n')) {
        const eq = line.indexOf('=');
        const v = eq > 0 ? line.slice(eq + 1).trim() : '';
        if (v.length >= kind.keyValueLines.minLength) secrets[`${name} ${line.slice(0, eq).trim()}`] = v;
      }
    } else {
      for (const tag of kind.blocks) {
        let n = 0;
        for (const m of value.matchAll(new RegExp(`<${escapeRegExp(tag)}>([\\s\\S]*?)</${escapeRegExp(tag)}>`, 'g'))) {
          if (!m[1]?.trim()) continue;
          n++;
          secrets[`${name} <${tag}>${n > 1 ? ` ${n}` : ''}`] = m[1];
        }
      }
    }
  }
  return secrets;
}

function checkKind(file: string, name: string, kind: unknown): void {
  if (kind === 'whole' || kind === 'url-password') return;
  if (kind && typeof kind === 'object') {
    const k = kind as Record<string, unknown>;
    const lines = k['keyValueLines'] as { minLength?: unknown } | undefined;
    if (Object.keys(k).length === 1 && lines && typeof lines.minLength === 'number' && lines.minLength > 0) return;
    const blocks = k['blocks'];
    if (Object.keys(k).length === 1 && Array.isArray(blocks) && blocks.length > 0 && blocks.every((b) => typeof b === 'string' && /^[\w-]+$/.test(b))) return;
  }
  throw new Error(`${file}: secret input "${name}" has an unknown kind ${JSON.stringify(kind)}`);
}

/**
 * Checks a declaration against the action's action.yml: every input it names must exist there,
 * and every kind must be one the sweep knows.
 */
export function checkSecretInputs(actionDir: string, declared: unknown, file = path.join(actionDir, SECRET_INPUTS_FILE)): SecretInputs {
  if (!declared || typeof declared !== 'object' || Array.isArray(declared)) throw new Error(`${file}: export const secretInputs = { 'input-name': kind, ... } is missing`);
  const metadata = readActionMetadata(actionDir);
  for (const [name, kind] of Object.entries(declared)) {
    if (!(name in metadata.inputs)) throw new Error(`${file}: declares secret input "${name}", which ${path.join(actionDir, 'action.yml')} does not have`);
    checkKind(file, name, kind);
  }
  return declared as SecretInputs;
}

const loaded = new Map<string, Promise<SecretInputs | undefined>>();

/**
 * The declaration of the action in `actionDir` (its `test/secrets.ts`), checked against its
 * action.yml; undefined when it has none (a test fixture).
 */
export function loadSecretInputs(actionDir: string): Promise<SecretInputs | undefined> {
  const dir = path.resolve(actionDir);
  let found = loaded.get(dir);
  if (!found) {
    const file = path.join(dir, SECRET_INPUTS_FILE);
    found = existsSync(file)
      ? import(pathToFileURL(file).href).then((mod: { secretInputs?: unknown }) => checkSecretInputs(dir, mod.secretInputs, file))
      : Promise.resolve(undefined);
    loaded.set(dir, found);
  }
  return found;
}
