// Header values and URL passwords are masked by the runner, but a server may echo them back in a
// body that a failure message quotes: the action itself replaces them (with the kit's redactor)
// before anything is printed, reported or written to the summary (which the runner does not mask).
import type { Redact } from '@gangway/kit';
import type { AttemptResult } from './attempt.ts';

export function redactAttempt(result: AttemptResult, redact: Redact): AttemptResult {
  return {
    ...result,
    failures: result.failures.map((f) => ({ ...f, message: redact(f.message) })),
    ...(result.reportedVersion !== undefined ? { reportedVersion: redact(result.reportedVersion) } : {}),
  };
}
