import { describe, expect, it } from 'vitest';
import { EngineStreamError, parseImageReference, type ProgressMessage } from '@gangway/kit';
import type { DeployEngine, ImageDetails } from '../src/host/engine.ts';
import { pullImage, RegistryPullError } from '../src/host/pull.ts';

const DIGEST = `sha256:${'2'.repeat(64)}`;
const IMAGE = parseImageReference(`198.18.0.1:5000/team/app@${DIGEST}`);

type Step = (onMessage: (m: ProgressMessage) => void) => Promise<void>;

/** An engine whose pulls play the given steps, one per attempt (the last one repeats). */
function engineWith(steps: Step[]): DeployEngine & { pulls: number } {
  const details: ImageDetails = { id: 'sha256:local', repoDigests: [`198.18.0.1:5000/team/app@${DIGEST}`], hasHealthcheck: false };
  const engine = {
    pulls: 0,
    async pull(_repository: string, _tag: string, _auth: string | undefined, onMessage: (m: ProgressMessage) => void) {
      const step = steps[Math.min(engine.pulls, steps.length - 1)] as Step;
      engine.pulls++;
      await step(onMessage);
    },
    async inspectImage() {
      return details;
    },
  };
  return engine as unknown as DeployEngine & { pulls: number };
}

/** What dockerode throws when the engine answers the pull request itself with an HTTP error. */
function httpError(status: number, message: string): Error {
  return Object.assign(new Error(`(HTTP code ${status}) server error - ${message}`), { statusCode: status, json: { message } });
}

const noWait = async (): Promise<void> => undefined;

async function failure(promise: Promise<unknown>): Promise<RegistryPullError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(RegistryPullError);
  return error as RegistryPullError;
}

describe('pullImage when the registry fails', () => {
  it('refused: names the registry and the cause, and does not retry', async () => {
    const engine = engineWith([async () => Promise.reject(httpError(500, 'Get "https://198.18.0.1:5000/v2/": dial tcp 198.18.0.1:5000: connect: connection refused'))]);
    const e = await failure(pullImage(engine, IMAGE, { log: () => undefined, sleep: noWait }));
    expect(engine.pulls).toBe(1);
    expect(e.message).toMatch(/^Could not pull 198\.18\.0\.1:5000\/team\/app@sha256:2+ from registry 198\.18\.0\.1:5000: connection refused: nothing listens at 198\.18\.0\.1:5000, while fetching the manifest/);
    expect(e.failure.kind).toBe('refused');
  });

  it('a 5xx on the manifest is tried 3 times, 2 s then 4 s apart, and then names the status', async () => {
    const engine = engineWith([async () => Promise.reject(httpError(500, 'received unexpected HTTP status: 503 Service Unavailable'))]);
    const waits: number[] = [];
    const lines: string[] = [];
    const e = await failure(pullImage(engine, IMAGE, { log: (l) => lines.push(l), sleep: async (ms) => void waits.push(ms) }));
    expect(engine.pulls).toBe(3);
    expect(waits).toHaveLength(2);
    expect(waits[0]).toBeGreaterThanOrEqual(1600);
    expect(waits[0]).toBeLessThanOrEqual(2000);
    expect(waits[1]).toBeGreaterThanOrEqual(3200);
    expect(waits[1]).toBeLessThanOrEqual(4000);
    expect(lines.filter((l) => l.includes('trying again'))).toHaveLength(2);
    expect(e.message).toContain('from registry 198.18.0.1:5000: HTTP 503 Service Unavailable (a server error in the registry), while fetching the manifest; 3 attempts');
  });

  it('a 5xx that heals: the second attempt pulls', async () => {
    const engine = engineWith([async () => Promise.reject(httpError(500, 'received unexpected HTTP status: 502 Bad Gateway')), async () => undefined]);
    const pulled = await pullImage(engine, IMAGE, { log: () => undefined, sleep: noWait });
    expect(engine.pulls).toBe(2);
    expect(pulled.ref).toBe(`198.18.0.1:5000/team/app@${DIGEST}`);
  });

  it('a layer the engine already retried is not pulled again: the layer and the engine attempts are named', async () => {
    const engine = engineWith([
      async (on) => {
        on({ status: 'Pulling from team/app', id: DIGEST });
        on({ status: 'Already exists', id: 'aaaa' });
        on({ status: 'Pulling fs layer', id: 'bbbb' });
        for (const s of [5, 4, 3, 2, 1, 10, 9]) on({ status: `Retrying in ${s} seconds`, id: 'bbbb' });
        throw new EngineStreamError('unexpected EOF');
      },
    ]);
    const lines: string[] = [];
    const e = await failure(pullImage(engine, IMAGE, { log: (l) => lines.push(l), sleep: noWait }));
    expect(engine.pulls).toBe(1);
    expect(e.stage).toBe('layers');
    expect(e.message).toContain("from registry 198.18.0.1:5000: the transfer was cut mid-way (the connection closed before the whole response arrived), while downloading layer bbbb, after the engine's own retries");
    expect(lines.filter((l) => l.startsWith('bbbb: the registry failed this layer'))).toEqual(['bbbb: the registry failed this layer; the engine tries again in 5 s', 'bbbb: the registry failed this layer; the engine tries again in 10 s']);
  });

  it('the image config: the engine retried it already', async () => {
    const engine = engineWith([
      async (on) => {
        on({ status: 'Pulling fs layer', id: 'bbbb' });
        throw new EngineStreamError('error pulling image configuration: download failed after attempts=6: received unexpected HTTP status: 500 Internal Server Error');
      },
    ]);
    const e = await failure(pullImage(engine, IMAGE, { log: () => undefined, sleep: noWait }));
    expect(engine.pulls).toBe(1);
    expect(e.message).toContain("HTTP 500 Internal Server Error (a server error in the registry), while fetching the image config, after the engine's 6 attempts");
  });

  it('a registry that never answers: given up after stallMs without any message', async () => {
    const engine = engineWith([async () => new Promise<void>(() => undefined)]);
    const started = performance.now();
    const e = await failure(pullImage(engine, IMAGE, { log: () => undefined, sleep: noWait, stallMs: 200 }));
    expect(performance.now() - started).toBeLessThan(2000);
    expect(engine.pulls).toBe(1);
    expect(e.message).toMatch(/from registry 198\.18\.0\.1:5000: unreachable: no progress for 0 s/);
  });

  it('messages keep the stall watchdog quiet', async () => {
    const engine = engineWith([
      async (on) => {
        for (let i = 0; i < 6; i++) {
          await new Promise((r) => setTimeout(r, 60));
          on({ status: 'Downloading', id: 'bbbb', progressDetail: { current: i, total: 9 } });
        }
      },
    ]);
    await expect(pullImage(engine, IMAGE, { log: () => undefined, stallMs: 150 })).resolves.toMatchObject({ digest: DIGEST });
  });

  it('an error that is not the engine speaking (the connection to it) passes unchanged', async () => {
    const cut = new Error('socket hang up');
    const engine = engineWith([async () => Promise.reject(cut)]);
    await expect(pullImage(engine, IMAGE, { log: () => undefined, sleep: noWait })).rejects.toBe(cut);
    expect(engine.pulls).toBe(1);
  });
});
