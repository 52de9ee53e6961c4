// The secret-leak sweep (issue #10): a test setup file (test/setup/secret-sweep.ts) records
// every step a RunnerJob runs, through onActionRun, with the secret values it was given, and
// checks all of them after each test file, whether or not the test itself looked for leaks.
// A secret is whatever a user would hand the action from `secrets.*`, as each action's tests
// declare it (secret-inputs.ts), plus anything an action masked itself.
import { findSecretLeaks, type Leak } from './leaks.ts';
import type { ActionRun, ActionRunEvent } from './run-action.ts';
import { loadSecretInputs, secretsOfInputs } from './secret-inputs.ts';

export interface RecordedRun {
  run: ActionRun;
  /** label → value: the step's secret inputs. */
  secrets: Record<string, string>;
}

/** Masks shorter than this are not looked for (see sweepSecrets). */
const MIN_SWEPT_MASK = 8;

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

/**
 * The secrets a step was given: the secret inputs its action's tests declare, and
 * StepOptions.secrets. `undeclared`: an action whose tests declare none.
 */
export async function secretsOfStep(event: ActionRunEvent): Promise<{ secrets: Record<string, string>; undeclared: boolean }> {
  const declared = event.actionDir === undefined ? {} : await loadSecretInputs(event.actionDir);
  return { secrets: { ...secretsOfInputs(declared ?? {}, event.inputs), ...event.secrets }, undeclared: declared === undefined };
}

export interface SecretSweepResult extends SweepResult {
  /** The actions run whose tests declare no secret inputs (only their masks were looked for). */
  undeclared: string[];
}

/**
 * Collects steps (its `record` is an onActionRun listener) and sweeps them. The steps of a
 * job made with `sweepSecrets: false` are left out.
 */
export class SecretSweep {
  readonly #events: ActionRunEvent[] = [];

  readonly record = (event: ActionRunEvent): void => {
    if (event.sweep) this.#events.push(event);
  };

  /** Sweeps the steps recorded since the last call, and forgets them. */
  async sweep(): Promise<SecretSweepResult> {
    const events = this.#events.splice(0);
    const undeclared = new Set<string>();
    const runs = await Promise.all(
      events.map(async (event) => {
        const { secrets, undeclared: none } = await secretsOfStep(event);
        if (none) undeclared.add(event.run.action);
        return { run: event.run, secrets };
      }),
    );
    return { ...sweepSecrets(runs), undeclared: [...undeclared].sort() };
  }
}
