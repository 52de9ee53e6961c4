import { ConfigurationError } from './errors.ts';
import { parseDuration } from './duration.ts';
import {
  parseBoolean,
  parseChoice,
  parseHostPort,
  parseInteger,
  parseKeyValues,
  parseList,
  parsePort,
  type HostPort,
} from './parse.ts';
import { registerSecret } from './secrets.ts';

/** Where raw input values come from: the runner's environment, or a map in unit tests. */
export type InputSource = (name: string) => string | undefined;

/** The runner's convention: `INPUT_` + name upper-cased with spaces as `_`; hyphens stay. */
export function inputEnvName(name: string): string {
  return `INPUT_${name.replace(/ /g, '_').toUpperCase()}`;
}

export const runnerInputs: InputSource = (name) => process.env[inputEnvName(name)];

export function mapInputs(values: Record<string, string | undefined>): InputSource {
  return (name) => values[name];
}

interface Options<T> {
  /** The input must be given (not empty). The message may add how to get a value. */
  required?: boolean;
  /** Used when the input is empty. The runner already fills action.yml defaults. */
  default?: T;
  /** Appended to the "is required" message. */
  hint?: string;
}

/**
 * Typed access to an action's inputs. Every getter names the input in its error, and
 * returns `undefined` for an empty optional input without a default.
 */
export class Inputs {
  readonly #source: InputSource;

  constructor(source: InputSource = runnerInputs) {
    this.#source = source;
  }

  /** The raw value, trimmed; '' when not given. */
  raw(name: string): string {
    return (this.#source(name) ?? '').trim();
  }

  #take<T>(name: string, options: Options<T>, parse: (raw: string) => T): T | undefined {
    const raw = this.raw(name);
    if (raw === '') {
      if (options.default !== undefined) return options.default;
      if (options.required) {
        throw new ConfigurationError(`Input "${name}" is required.${options.hint ? ` ${options.hint}` : ''}`, name);
      }
      return undefined;
    }
    return parse(raw);
  }

  string(name: string, options: Options<string> & { required: true }): string;
  string(name: string, options?: Options<string>): string | undefined;
  string(name: string, options: Options<string> = {}): string | undefined {
    return this.#take(name, options, (raw) => raw);
  }

  /**
   * A secret: registered with the runner's masker before the value is returned, so
   * nothing can print it first. Not trimmed inside (PEM keys keep their lines).
   */
  secret(name: string, options: Options<string> & { required: true }): string;
  secret(name: string, options?: Options<string>): string | undefined;
  secret(name: string, options: Options<string> = {}): string | undefined {
    const value = this.#source(name) ?? '';
    registerSecret(value);
    if (value.trim() === '') {
      if (options.required) {
        throw new ConfigurationError(`Input "${name}" is required.${options.hint ? ` ${options.hint}` : ''}`, name);
      }
      return options.default;
    }
    return value.replace(/\r\n/g, '\n').trim();
  }

  boolean(name: string, fallback: boolean): boolean {
    return this.#take(name, { default: fallback }, (raw) => parseBoolean(raw, name)) as boolean;
  }

  /** Milliseconds. */
  duration(name: string, options: Options<number> & { required: true }): number;
  duration(name: string, options?: Options<number>): number | undefined;
  duration(name: string, options: Options<number> = {}): number | undefined {
    return this.#take(name, options, (raw) => parseDuration(raw, name));
  }

  port(name: string, options: Options<number> & { required: true }): number;
  port(name: string, options?: Options<number>): number | undefined;
  port(name: string, options: Options<number> = {}): number | undefined {
    return this.#take(name, options, (raw) => parsePort(raw, name));
  }

  integer(name: string, options: Options<number> & { required: true; min?: number; max?: number }): number;
  integer(name: string, options?: Options<number> & { min?: number; max?: number }): number | undefined;
  integer(name: string, options: Options<number> & { min?: number; max?: number } = {}): number | undefined {
    return this.#take(name, options, (raw) => parseInteger(raw, name, options));
  }

  list(name: string, options: Options<string[]> & { commas?: boolean } = {}): string[] {
    const list = this.#take(name, options, (raw) => parseList(raw, name, options));
    if (options.required && (list === undefined || list.length === 0)) {
      throw new ConfigurationError(`Input "${name}" is required.${options.hint ? ` ${options.hint}` : ''}`, name);
    }
    return list ?? [];
  }

  /** KEY=VALUE lines. The value is not trimmed (a leading space may matter). */
  keyValues(name: string, options: { keyPattern?: RegExp } = {}): Map<string, string> {
    const raw = this.#source(name) ?? '';
    if (raw.trim() === '') return new Map();
    return parseKeyValues(raw, name, options);
  }

  hostPort(name: string, options: Options<HostPort> & { required: true; defaultPort?: number }): HostPort;
  hostPort(name: string, options?: Options<HostPort> & { defaultPort?: number }): HostPort | undefined;
  hostPort(name: string, options: Options<HostPort> & { defaultPort?: number } = {}): HostPort | undefined {
    return this.#take(name, options, (raw) => parseHostPort(raw, name, options.defaultPort));
  }

  choice<T extends string>(name: string, choices: readonly T[], fallback: T): T {
    return this.#take(name, { default: fallback }, (raw) => parseChoice(raw, name, choices)) as T;
  }
}
