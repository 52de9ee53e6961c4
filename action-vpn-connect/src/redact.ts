// OpenVPN's log lines as the action prints them itself: masked with the kit's redactor, so that
// nothing depends on the runner's masker (the whole value and every line of a PEM block become ***).
import type { Redact } from '@gangway/kit';

/**
 * OpenVPN log lines fit to show people: management commands (which echo the username) are
 * dropped, the rest redacted.
 */
export function printableLogLines(messages: string[], redact: Redact): string[] {
  return messages.filter((m) => !/^MANAGEMENT: /.test(m)).map((m) => redact(m));
}
