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
    return JSON.stringify(error);
  } catch {
    return String(error);
  }
}
