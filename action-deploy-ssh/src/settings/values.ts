// Checks that several settings share: clean absolute paths, commands without a shell, names.
import path from 'node:path';
import { ConfigurationError } from '@gangway/kit';

// Control characters other than tab: a value that holds them is a mistake or an attack.
// eslint-disable-next-line no-control-regex
export const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f]/;
const USERNAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,31}$/;

export function validateUsername(raw: string, input: string): string {
  if (!USERNAME.test(raw)) {
    throw new ConfigurationError(`Input "${input}" is "${raw}", which is not a user name. Use letters, digits, "_", "." and "-".`, input);
  }
  return raw;
}

/** A clean absolute path: no `..` or `.` segments, no doubled slashes, no control characters. */
export function absolutePath(raw: string, input: string, what: string): string {
  if (!raw.startsWith('/') || CONTROL.test(raw) || raw.includes(',') || /\s/.test(raw)) {
    throw new ConfigurationError(`Input "${input}": ${what} "${raw}" must be an absolute path without spaces, commas or control characters.`, input);
  }
  const segments = raw.split('/').slice(1);
  if (segments.some((s) => s === '..' || s === '.') || (raw !== '/' && path.posix.normalize(raw) !== raw.replace(/\/$/, ''))) {
    throw new ConfigurationError(`Input "${input}": ${what} "${raw}" must not contain "..", "." or empty segments. Write the plain absolute path.`, input);
  }
  return raw.replace(/\/$/, '') || '/';
}

/**
 * Commands as argument arrays, one a line: either a JSON array of strings
 * (`["node", "migrate.js", "--to", "latest"]`) or plain words split on spaces. No shell ever
 * sees them, so quotes would not group anything: a line with quotes must be a JSON array.
 */
export function parseCommandLine(line: string, input: string): string[] {
  const trimmed = line.trim();
  if (trimmed.startsWith('[')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch {
      throw new ConfigurationError(`Input "${input}": ${trimmed} is not a valid JSON array. Write ["program", "arg", ...].`, input);
    }
    if (!Array.isArray(parsed) || parsed.length === 0 || !parsed.every((a) => typeof a === 'string')) {
      throw new ConfigurationError(`Input "${input}": ${trimmed} must be a non-empty JSON array of strings.`, input);
    }
    const args = parsed;
    if (args.some((a) => CONTROL.test(a)) || args[0] === '') throw new ConfigurationError(`Input "${input}": ${trimmed} holds control characters or an empty program.`, input);
    return args;
  }
  if (/["'`\\]/.test(trimmed)) {
    throw new ConfigurationError(
      `Input "${input}": "${trimmed}" has quotes or backslashes, but no shell runs it, so they would be passed literally. Write the command as a JSON array: ["program", "an arg with spaces"].`,
      input,
    );
  }
  return trimmed.split(/\s+/);
}
