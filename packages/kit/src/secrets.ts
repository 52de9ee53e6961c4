import * as core from '@actions/core';

/** Lines shorter than this are not masked one by one: masking `}` or `==` would garble every log. */
export const MIN_MASKED_LINE = 4;

/**
 * The pieces of a secret that must never appear in a log: the whole value and, for
 * multi-line values such as PEM keys, every line on its own (the runner masks line by
 * line, so a key printed across lines would otherwise leak).
 */
export function secretParts(value: string): string[] {
  const parts = new Set<string>();
  const whole = value.trim();
  if (whole !== '') parts.add(whole);
  if (/\r?\n/.test(whole)) {
    for (const line of whole.split(/\r?\n/)) {
      const trimmed = line.trim();
      if (trimmed.length >= MIN_MASKED_LINE) parts.add(trimmed);
    }
  }
  return [...parts];
}

/** Registers a secret with the runner before anything can print it. Empty values are ignored. */
export function registerSecret(value: string | undefined): void {
  if (value === undefined) return;
  for (const part of secretParts(value)) core.setSecret(part);
}

/** Parts shorter than this are never replaced by a redactor: a one- or two-character secret would turn every such letter of a log into ***. */
export const MIN_REDACTED_LENGTH = 3;

const REDACTED = '***';

/** Replaces secrets in text; see `createRedactor`. */
export type Redact = (text: string) => string;

/**
 * A redactor for text the action prints, reports or writes to the job summary itself (which the
 * runner does not mask), so nothing depends on the runner's masker: every part of every secret
 * (`secretParts`: the whole value, and each line of a multi-line one such as a PEM key) becomes
 * `***`. Longest first, so a line inside a block does not leave half of a longer match behind.
 * Empty and undefined values are ignored, and so are parts shorter than MIN_REDACTED_LENGTH.
 */
export function createRedactor(secrets: Iterable<string | undefined>): Redact {
  const parts = [...new Set([...secrets].flatMap((s) => (s === undefined ? [] : secretParts(s))))]
    .filter((p) => p.length >= MIN_REDACTED_LENGTH)
    .sort((a, b) => b.length - a.length);
  if (parts.length === 0) return (text) => text;
  return (text) => {
    let out = text;
    for (const part of parts) if (out.includes(part)) out = out.split(part).join(REDACTED);
    return out;
  };
}
