// Header values and URL passwords are masked by the runner, but a server may echo them back in a
// body that a failure message quotes: the action itself replaces them before anything is printed,
// reported or written to the summary (which the runner does not mask).
import { secretParts } from '@gangway/kit';
import type { AttemptResult } from './attempt.ts';

export type Redact = (text: string) => string;

export function createRedactor(secrets: string[]): Redact {
  const parts = [...new Set(secrets.flatMap((s) => secretParts(s)))].filter((p) => p.length >= 3).sort((a, b) => b.length - a.length);
  if (parts.length === 0) return (text) => text;
  return (text) => parts.reduce((out, part) => out.split(part).join('***'), text);
}

export function redactAttempt(result: AttemptResult, redact: Redact): AttemptResult {
  return {
    ...result,
    failures: result.failures.map((f) => ({ ...f, message: redact(f.message) })),
    ...(result.reportedVersion !== undefined ? { reportedVersion: redact(result.reportedVersion) } : {}),
  };
}
