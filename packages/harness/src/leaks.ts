import { secretParts } from '@gangway/kit';
import type { ActionRun } from './run-action.ts';

export interface Leak {
  /** Where the secret was found: stdout, stderr, summary, outputs.<name>, state.<name>, env.<name>. */
  where: string;
  /** Which secret (its label), never the value. */
  secret: string;
  /** 1-based line of `where` that holds it. */
  line: number;
}

/** PEM armor (`-----BEGIN PRIVATE KEY-----`) names a kind of key, not a key: it is no leak. */
const PEM_ARMOR = /^-----(BEGIN|END) [A-Z0-9 ]+-----$/;

function scan(where: string, text: string, secrets: Record<string, string>, leaks: Leak[]): void {
  if (text === '') return;
  const lines = text.split('\n');
  for (const [label, value] of Object.entries(secrets)) {
    for (const part of secretParts(value).filter((p) => !PEM_ARMOR.test(p))) {
      const index = lines.findIndex((l) => l.includes(part));
      if (index !== -1) leaks.push({ where, secret: label, line: index + 1 });
    }
  }
}

/**
 * Every place in a run's captured output that holds a secret or any line of one: what the
 * action printed (stdout without the `::add-mask::` lines, which the runner consumes),
 * stderr, the job summary, outputs, saved state and exported variables. The runner's
 * masking is not counted as protection: an action must not print its secrets at all.
 */
export function findSecretLeaks(runs: ActionRun | ActionRun[], secrets: Record<string, string>): Leak[] {
  const leaks: Leak[] = [];
  for (const run of Array.isArray(runs) ? runs : [runs]) {
    const prefix = run.phase === 'main' ? '' : `${run.phase}:`;
    scan(`${prefix}stdout`, run.printed, secrets, leaks);
    scan(`${prefix}stderr`, run.stderr, secrets, leaks);
    scan(`${prefix}summary`, run.summary, secrets, leaks);
    for (const [k, v] of Object.entries(run.outputs)) scan(`${prefix}outputs.${k}`, v, secrets, leaks);
    for (const [k, v] of Object.entries(run.state)) scan(`${prefix}state.${k}`, v, secrets, leaks);
    for (const [k, v] of Object.entries(run.env)) scan(`${prefix}env.${k}`, v, secrets, leaks);
  }
  return leaks;
}
