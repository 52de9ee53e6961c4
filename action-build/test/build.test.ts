import { describe, expect, it } from 'vitest';
import type { ProgressMessage } from '@gangway/kit';
import { BuildFailedError, BuildProgress, describeBuildError } from '../src/build.ts';

// BuildKit traces: base64 protobuf StatusResponse, built by hand.
function varint(n: number): number[] {
  const out: number[] = [];
  let v = n;
  do {
    let b = v & 0x7f;
    v = Math.floor(v / 128);
    if (v > 0) b |= 0x80;
    out.push(b);
  } while (v > 0);
  return out;
}
const bytes = (n: number, b: number[]): number[] => [...varint((n << 3) | 2), ...varint(b.length), ...b];
const text = (n: number, s: string): number[] => bytes(n, [...Buffer.from(s)]);
const int = (n: number, v: number): number[] => [...varint(n << 3), ...varint(v)];
const ts = (s: number): number[] => int(1, s);

function trace(parts: { vertexes?: number[][]; logs?: number[][] }): ProgressMessage {
  const body = [...(parts.vertexes ?? []).flatMap((v) => bytes(1, v)), ...(parts.logs ?? []).flatMap((l) => bytes(3, l))];
  return { id: 'moby.buildkit.trace', aux: Buffer.from(body).toString('base64') };
}
const vertex = (digest: string, name: string, extra: number[] = []): number[] => [...text(1, digest), ...text(3, name), ...extra];

describe('BuildProgress with BuildKit', () => {
  it('prints steps, counts cached ones and finds the image id', () => {
    const lines: string[] = [];
    const p = new BuildProgress((l) => lines.push(l));
    p.handle(trace({ vertexes: [vertex('d0', '[internal] load build definition from Dockerfile', [...bytes(5, ts(1)), ...bytes(6, ts(1))])] }));
    p.handle(trace({ vertexes: [vertex('d1', '[1/3] FROM docker.io/library/node:24-bookworm-slim', [...int(4, 1), ...bytes(5, ts(10)), ...bytes(6, ts(10))])] }));
    p.handle(trace({ vertexes: [vertex('d2', '[2/3] RUN npm ci', [...bytes(5, ts(10))])] }));
    p.handle(trace({ logs: [[...text(1, 'd2'), ...int(3, 1), ...text(4, 'added 12 packages\npartial')]] }));
    p.handle(trace({ logs: [[...text(1, 'd2'), ...int(3, 1), ...text(4, ' line\n')]] }));
    p.handle(trace({ vertexes: [vertex('d2', '[2/3] RUN npm ci', [...bytes(5, ts(10)), ...bytes(6, ts(13))])] }));
    p.handle(trace({ vertexes: [vertex('d3', '[3/3] COPY . .', [...int(4, 1), ...bytes(5, ts(13)), ...bytes(6, ts(13))])] }));
    p.handle({ id: 'moby.image.id', aux: { ID: 'sha256:built' } });
    p.throwIfFailed();
    expect(p.imageId).toBe('sha256:built');
    expect(p.steps()).toEqual([
      { name: '[1/3] FROM docker.io/library/node:24-bookworm-slim', cached: true, durationMs: 0 },
      { name: '[2/3] RUN npm ci', cached: false, durationMs: 3000 },
      { name: '[3/3] COPY . .', cached: true, durationMs: 0 },
    ]);
    expect(lines).toContain('#3 added 12 packages');
    expect(lines).toContain('#3 partial line');
    expect(lines).toContain('#3 DONE 3.0s');
    expect(lines).toContain('#4 CACHED');
  });

  it('a failing RUN step throws with that step and its output', () => {
    const p = new BuildProgress(() => undefined);
    p.handle(trace({ vertexes: [vertex('d1', '[2/2] RUN npm test', [...bytes(5, ts(1))])] }));
    p.handle(trace({ logs: [[...text(1, 'd1'), ...int(3, 2), ...text(4, 'FAIL app.test.ts\n')]] }));
    p.handle(trace({ vertexes: [vertex('d1', '[2/2] RUN npm test', [...bytes(5, ts(1)), ...bytes(6, ts(2)), ...text(7, 'process "/bin/sh -c npm test" did not complete successfully: exit code: 1')])] }));
    p.handle({ errorDetail: { message: 'executor failed running [/bin/sh -c npm test]: exit code: 1' } });
    let error: unknown;
    try {
      p.throwIfFailed();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(BuildFailedError);
    expect((error as BuildFailedError).step).toBe('[2/2] RUN npm test');
    expect((error as Error).message).toMatch(/failed at step \[2\/2\] RUN npm test: process .* exit code: 1\nOutput of that step:\nFAIL app.test.ts/);
  });

  it('a Dockerfile syntax error says which line', () => {
    const p = new BuildProgress(() => undefined);
    p.handle({ errorDetail: { message: 'failed to solve with frontend dockerfile.v0: failed to create LLB definition: Dockerfile parse error line 3: unknown instruction: RUNN' } });
    expect(() => p.throwIfFailed()).toThrow(/the Dockerfile has a syntax error at line 3: unknown instruction: RUNN/);
    expect(describeBuildError('Dockerfile parse error on line 2: unknown flag')).toBe('the Dockerfile has a syntax error at line 2: unknown flag');
  });
});

describe('BuildProgress with the classic builder', () => {
  it('counts "Using cache" and fails with the last step output', () => {
    const p = new BuildProgress(() => undefined);
    for (const stream of ['Step 1/3 : FROM node\n', ' ---> abc\n', 'Step 2/3 : COPY . .\n', ' ---> Using cache\n', ' ---> def\n', 'Step 3/3 : RUN false\n', ' ---> Running in 123\n', 'oops\n']) p.handle({ stream });
    p.handle({ errorDetail: { message: "The command '/bin/sh -c false' returned a non-zero code: 1" } });
    expect(p.steps()).toEqual([
      { name: '[1/3] FROM node', cached: false },
      { name: '[2/3] COPY . .', cached: true },
      { name: '[3/3] RUN false', cached: false },
    ]);
    expect(() => p.throwIfFailed()).toThrow(/failed at step \[3\/3\] RUN false: The command .* non-zero code: 1\nOutput of that step:\noops/);
  });
});

describe('runBuild', () => {
  it('turns the classic builder refusing a Dockerfile (HTTP 400) into a readable failure', async () => {
    const { runBuild } = await import('../src/build.ts');
    const { FakeEngine } = await import('./fake-engine.ts');
    const engine = new FakeEngine();
    engine.build = () => {
      throw Object.assign(new Error('(HTTP code 400) unexpected'), { statusCode: 400, json: { message: 'dockerfile parse error line 3: unknown instruction: RUNN' } });
    };
    const request = { context: (await import('node:stream')).Readable.from([]), dockerfile: 'Dockerfile', builder: 'classic' as const, buildArgs: {}, labels: {}, cacheFrom: [], noCache: false };
    await expect(runBuild(engine, request, () => undefined)).rejects.toThrow('The build failed: the Dockerfile has a syntax error at line 3: unknown instruction: RUNN');
  });
});
