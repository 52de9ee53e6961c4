import { describe, expect, it } from 'vitest';
import { engineErrorMessage, engineErrorText, engineStatusCode, EngineStreamError, isEngineNotFound, isEngineStatus } from '../src/index.ts';

/** A rejection as docker-modem builds it. */
const modemError = (status: number, reason: string, message: string, json: unknown = { message }): Error =>
  Object.assign(new Error(`(HTTP code ${status}) ${reason} - ${message} `), { statusCode: status, reason, json });

describe('Engine API errors', () => {
  it('reads the status the engine answered with, and nothing from errors it did not answer', () => {
    expect(engineStatusCode(modemError(404, 'no such container', 'No such container: web'))).toBe(404);
    expect(engineStatusCode(Object.assign(new Error('connect ENOENT /var/run/docker.sock'), { code: 'ENOENT' }))).toBeUndefined();
    expect(engineStatusCode({ statusCode: '404' })).toBeUndefined();
    expect(engineStatusCode(undefined)).toBeUndefined();
    expect(engineStatusCode('text')).toBeUndefined();
  });

  it('tells statuses apart', () => {
    const gone = modemError(404, 'no such image', 'No such image: app:1');
    expect(isEngineNotFound(gone)).toBe(true);
    expect(isEngineStatus(gone, 304, 404)).toBe(true);
    expect(isEngineStatus(gone, 409)).toBe(false);
    expect(isEngineNotFound(new Error('404'))).toBe(false);
  });

  it("gives the engine's own words", () => {
    expect(engineErrorMessage(modemError(409, 'conflict', 'Conflict. The container name "/web" is already in use'))).toBe('Conflict. The container name "/web" is already in use');
    // Streaming calls: no json, the body is in the message after docker-modem's prefix.
    expect(engineErrorMessage(modemError(400, 'bad parameter', 'dockerfile parse error line 3', null))).toBe('dockerfile parse error line 3');
    expect(engineErrorMessage(modemError(500, 'server error', 'x', 'plain body\n'))).toBe('plain body');
    expect(engineErrorMessage(new EngineStreamError('manifest unknown', 404))).toBe('manifest unknown');
  });

  it('says nothing for errors the engine did not give, where the message says what happened', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:2375'), { code: 'ECONNREFUSED' });
    expect(engineErrorText(refused)).toBeUndefined();
    expect(engineErrorMessage(refused)).toBe('connect ECONNREFUSED 127.0.0.1:2375');
    expect(engineErrorMessage('a string')).toBe('a string');
  });
});
