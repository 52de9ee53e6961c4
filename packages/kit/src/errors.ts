/**
 * A mistake the user can fix in the workflow: a bad or missing input, a combination that
 * cannot work. Its message names the input and says what to do. Anything that is not a
 * ConfigurationError is a bug or an outside failure and is reported with its stack.
 */
export class ConfigurationError extends Error {
  readonly input: string | undefined;

  constructor(message: string, input?: string) {
    super(message);
    this.name = 'ConfigurationError';
    this.input = input;
  }
}

/** True when `error` is a ConfigurationError, also across bundle copies of this class. */
export function isConfigurationError(error: unknown): error is ConfigurationError {
  return error instanceof ConfigurationError || (error instanceof Error && error.name === 'ConfigurationError');
}

/** The message of anything thrown, without assuming it is an Error. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (typeof error === 'string') return error;
  try {
    // JSON.stringify gives undefined (not a string) for undefined, functions and symbols.
    return JSON.stringify(error) ?? String(error);
  } catch {
    return String(error);
  }
}

/**
 * Anything thrown (or passed to a callback, or given as an abort reason) as an Error: an Error
 * is returned as it is (the same object, stack and class kept); anything else becomes a new
 * Error with `errorMessage`'s text of it.
 */
export function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(errorMessage(error));
}
