// The secret-leak sweep (issue #10): every step a RunnerJob runs is recorded here with the
// secret values it was given, so that a test setup file can check all of them after each test
// file, whether or not the test itself looked for leaks. A secret is whatever a user would
// hand the action from `secrets.*` (keys, passwords, tokens, the key blocks of a VPN config,
// the values of deploy-ssh's `env`), plus anything an action masked itself.
import { findSecretLeaks, type Leak } from './leaks.ts';
import type { ActionRun } from './run-action.ts';

export interface RecordedRun {
  run: ActionRun;
  /** label → value: the step's secret inputs. */
  secrets: Record<string, string>;
}

const recorded: RecordedRun[] = [];

/** Masks shorter than this are not looked for (see sweepSecrets). */
const MIN_SWEPT_MASK = 8;

/** Inputs that carry a secret whole, in any action. */
const SECRET_INPUTS = new Set([
  'private-key',
  'jump-private-key',
  'passphrase',
  'password',
  'registry-password',
  'github-token',
  'key',
  'tls-auth',
  'tls-crypt',
  'tls-crypt-v2',
]);

/** The inline key blocks of an OpenVPN config (the CA and certificates are public). */
const VPN_SECRET_BLOCKS = ['key', 'tls-auth', 'tls-crypt', 'tls-crypt-v2', 'secret'];

function urlPassword(value: string): string | undefined {
  try {
    const password = new URL(value.trim()).password;
    return password === '' ? undefined : decodeURIComponent(password);
  } catch {
    return undefined;
  }
}

/** The secret values among a step's inputs, labelled by input. */
export function secretInputs(inputs: Record<string, string | number | boolean>): Record<string, string> {
  const secrets: Record<string, string> = {};
  for (const [name, raw] of Object.entries(inputs)) {
    const value = String(raw);
    if (value.trim() === '') continue;
    if (SECRET_INPUTS.has(name)) secrets[name] = value;
    else if (name === 'config') {
      for (const block of VPN_SECRET_BLOCKS) {
        const m = new RegExp(`<${block}>([\\s\\S]*?)</${block}>`).exec(value);
        if (m?.[1]?.trim()) secrets[`config <${block}>`] = m[1];
      }
    } else if (name === 'env') {
      // deploy-ssh's env: KEY=value lines; the values go into the container and nowhere else.
      for (const line of value.split('\n')) {
        const eq = line.indexOf('=');
        const v = eq > 0 ? line.slice(eq + 1).trim() : '';
        if (v.length >= 8) secrets[`env ${line.slice(0, eq).trim()}`] = v;
      }
    } else if (name === 'smtp-url' || name === 'webhook-url' || name === 'url') {
      const password = urlPassword(value);
      if (password) secrets[`${name} password`] = password;
    }
  }
  return secrets;
}

export function recordRun(run: ActionRun, inputs: Record<string, string | number | boolean>, more: Record<string, string> = {}): void {
  recorded.push({ run, secrets: { ...secretInputs(inputs), ...more } });
}

/** The runs recorded since the last call, and forgets them. */
export function takeRecordedRuns(): RecordedRun[] {
  return recorded.splice(0, recorded.length);
}

export interface SweepResult {
  runs: number;
  /** Distinct secret values looked for. */
  secrets: number;
  leaks: Array<Leak & { action: string; context: string }>;
}

/** The line that leaked, with every secret in it replaced by *** (safe to print). */
function redactedLine(run: ActionRun, where: string, line: number, secrets: string[]): string {
  const field = where.replace(/^(pre|post):/, '');
  const text =
    field === 'stdout' ? run.printed : field === 'stderr' ? run.stderr : field === 'summary' ? run.summary
    : field.startsWith('outputs.') ? (run.outputs[field.slice(8)] ?? '') : field.startsWith('state.') ? (run.state[field.slice(6)] ?? '') : (run.env[field.slice(4)] ?? '');
  let out = text.split('\n')[line - 1] ?? '';
  for (const s of secrets.flatMap((v) => v.split('\n').map((l) => l.trim())).filter((l) => l.length >= 4).sort((a, b) => b.length - a.length)) out = out.split(s).join('***');
  return out.slice(0, 200);
}

/**
 * Looks for every secret of every run (and every value any run masked) in every run's
 * captured stdout, stderr, summary, outputs, state and exported variables.
 */
export function sweepSecrets(runs: RecordedRun[]): SweepResult {
  const all: Record<string, string> = {};
  for (const { run, secrets } of runs) {
    for (const [label, value] of Object.entries(secrets)) all[`${run.action}: ${label}`] = value;
    // What an action masked on its own counts too; short masks are left out (deploy-ssh masks
    // every env value, `warn` included, and such words turn up in any log).
    run.masks.forEach((mask, i) => {
      if (mask.trim().length >= MIN_SWEPT_MASK) all[`${run.action}: mask ${i + 1}`] = mask;
    });
  }
  const distinct = new Map<string, string>();
  for (const [label, value] of Object.entries(all)) if (!distinct.has(value)) distinct.set(value, label);
  const secrets = Object.fromEntries([...distinct].map(([value, label]) => [label, value]));
  const values = [...distinct.keys()];
  const leaks = runs.flatMap(({ run }) => findSecretLeaks(run, secrets).map((l) => ({ ...l, action: run.action, context: redactedLine(run, l.where, l.line, values) })));
  return { runs: runs.length, secrets: distinct.size, leaks };
}
