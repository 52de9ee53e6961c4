// Masks secrets in text the action prints itself (OpenVPN's log lines), so that nothing
// depends on the runner's masker: the whole value and every line of a PEM block become ***.
import { secretParts } from '@gangway/kit';

export class Redactor {
  readonly #parts: string[];

  constructor(secrets: string[]) {
    // Longest first, so a line inside a block does not leave half of a longer match behind.
    this.#parts = [...new Set(secrets.flatMap((s) => secretParts(s)))].sort((a, b) => b.length - a.length);
  }

  redact(text: string): string {
    let out = text;
    for (const part of this.#parts) if (out.includes(part)) out = out.split(part).join('***');
    return out;
  }
}

/**
 * OpenVPN log lines fit to show people: management commands (which echo the username) are
 * dropped, the rest redacted.
 */
export function printableLogLines(messages: string[], redactor: Redactor): string[] {
  return messages.filter((m) => !/^MANAGEMENT: /.test(m)).map((m) => redactor.redact(m));
}
