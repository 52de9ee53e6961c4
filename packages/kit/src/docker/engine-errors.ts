/**
 * What a failed Docker Engine API call says. docker-modem (under dockerode) rejects with an
 * Error whose message is `(HTTP code 404) no such container - No such container: web `, and
 * sets `statusCode` (the HTTP status) and `json` (the parsed body: `{ message }` from the engine;
 * null for streaming calls, whose body is read into the message instead).
 */
import { errorMessage } from '../errors.ts';
import { EngineStreamError } from './progress.ts';

/** The HTTP status the engine answered a failed call with; undefined when it did not answer (no connection, a bug). */
export function engineStatusCode(error: unknown): number | undefined {
  const code = (error as { statusCode?: unknown } | null | undefined)?.statusCode;
  return typeof code === 'number' ? code : undefined;
}

/**
 * True when the engine answered with one of `statuses`: 404 no such object, 409 a conflict
 * (name taken, image in use), 304 nothing to do (already started or stopped).
 */
export function isEngineStatus(error: unknown, ...statuses: number[]): boolean {
  const code = engineStatusCode(error);
  return code !== undefined && statuses.includes(code);
}

/** True when the engine said there is no such container, image, network, volume or service. */
export function isEngineNotFound(error: unknown): boolean {
  return isEngineStatus(error, 404);
}

/**
 * The engine's own words, when the error came from the engine: the `message` of its answer to a
 * failed call (docker-modem's `(HTTP code N) reason - ` prefix removed), or an error it reported
 * inside a stream (EngineStreamError). Undefined for anything else (the engine never answered).
 */
export function engineErrorText(error: unknown): string | undefined {
  if (error instanceof EngineStreamError) return error.message;
  if (engineStatusCode(error) === undefined) return undefined;
  const json = (error as { json?: unknown }).json;
  if (json && typeof json === 'object' && typeof (json as { message?: unknown }).message === 'string') return (json as { message: string }).message;
  if (typeof json === 'string' && json.trim() !== '') return json.trim();
  const message = (error as { message?: unknown }).message;
  return typeof message === 'string' ? message.replace(/^\(HTTP code \d+\)[^-]*- /, '').trim() : undefined;
}

/** What to tell people about a failed engine call: the engine's own words when it answered, else the error's message. */
export function engineErrorMessage(error: unknown): string {
  return engineErrorText(error) ?? errorMessage(error);
}
