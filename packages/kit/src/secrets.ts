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
