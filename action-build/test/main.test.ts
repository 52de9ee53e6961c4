import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Inputs, mapInputs } from '@gangway/kit';
import { parseKeyValueFile } from '@gangway/harness';
import { main } from '../src/main.ts';
import { readEnvironment, readSettings } from '../src/settings.ts';
import { FakeEngine } from './fake-engine.ts';

let dir: string;
// @actions/core caches the summary file's path: one folder for the whole file.
const files = mkdtempSync(path.join(tmpdir(), 'build-unit-files-'));
process.env['GITHUB_OUTPUT'] = path.join(files, 'out');
process.env['GITHUB_STEP_SUMMARY'] = path.join(files, 'summary');
afterAll(() => rmSync(files, { recursive: true, force: true }));
let env: NodeJS.ProcessEnv;
const saved = { ...process.env };
const printed: string[] = [];
const REPO = '198.18.0.1:5000/gangway-test/build-unit';

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'build-unit-'));
  const ws = path.join(dir, 'ws');
  mkdirSync(path.join(ws, 'app'), { recursive: true });
  writeFileSync(path.join(ws, 'app', 'Dockerfile'), 'FROM scratch\nCOPY . /\n');
  writeFileSync(path.join(ws, 'app', 'main.js'), 'console.log(1)\n');
  for (const f of ['out', 'summary']) writeFileSync(path.join(files, f), '');
  writeFileSync(path.join(dir, 'event.json'), JSON.stringify({ repository: { default_branch: 'main' } }));
  env = {
    GITHUB_WORKSPACE: ws,
    GITHUB_EVENT_NAME: 'push',
    GITHUB_REF: 'refs/heads/main',
    GITHUB_SHA: 'abcdef0123456789abcdef0123456789abcdef01',
    GITHUB_REPOSITORY: 'acme/shop',
    GITHUB_SERVER_URL: 'https://github.com',
    GITHUB_EVENT_PATH: path.join(dir, 'event.json'),
  };
  printed.length = 0;
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
  process.env = { ...saved, GITHUB_OUTPUT: path.join(files, 'out'), GITHUB_STEP_SUMMARY: path.join(files, 'summary') };
});

function inputs(values: Record<string, string>): Inputs {
  return new Inputs(mapInputs({ image: REPO, context: 'app', ...values }));
}
function run(engine: FakeEngine, values: Record<string, string> = {}) {
  return main(new AbortController().signal, { inputs: inputs(values), env, engine: () => engine, print: (l) => printed.push(l) });
}
const outputs = (): Record<string, string> => parseKeyValueFile(readFileSync(path.join(files, 'out'), 'utf8'));

describe('settings', () => {
  it('validates every input before anything runs', () => {
    const read = (values: Record<string, string>) => () => readSettings(inputs(values), readEnvironment(env));
    expect(read({ image: '' })).toThrow(/Input "image" is required/);
    expect(read({ image: `${REPO}:v1` })).toThrow(/without a tag/);
    expect(read({ context: 'nope' })).toThrow(/Input "context".*is not a directory/);
    expect(read({ file: 'app/Nope' })).toThrow(/Input "file" is "app\/Nope"/);
    expect(read({ 'registry-password': 'pw' })).toThrow(/"registry-username" is not/);
    expect(read({ 'registry-username': 'u' })).toThrow(/Give the password/);
    expect(read({ push: 'yes' })).toThrow(/Input "push" is "yes", which is not a boolean/);
    expect(read({ 'build-args': 'NOT A PAIR' })).toThrow(/build-args/);
    expect(read({ 'test-command': '[1,2' })).toThrow(/test-command/);
    expect(read({ platform: 'amd64' })).toThrow(/os\/arch/);
    expect(read({ builder: 'kaniko' })).toThrow(/auto, buildkit, classic/);
  });
  it('decides tags, labels, cache sources and the test command', () => {
    const s = readSettings(inputs({ labels: 'org.opencontainers.image.title=Shop\nteam=ocr', 'test-command': 'npm test', 'build-args': 'A=1' }), readEnvironment(env));
    expect(s.tags).toEqual(['latest', 'main', 'sha-abcdef0']);
    expect(s.cacheFrom).toEqual([`${REPO}:latest`, `${REPO}:main`]);
    expect(s.labels['org.opencontainers.image.title']).toBe('Shop');
    expect(s.labels['org.opencontainers.image.source']).toBe('https://github.com/acme/shop');
    expect(s.labels['team']).toBe('ocr');
    expect(s.testCommand).toEqual(['sh', '-c', 'npm test']);
    expect(s.buildArgs).toEqual({ A: '1' });
    expect(s.file).toBe(path.join(env['GITHUB_WORKSPACE'] as string, 'app', 'Dockerfile'));
    expect(readSettings(inputs({ 'cache-from': 'none' }), readEnvironment(env)).cacheFrom).toEqual([]);
    expect(readSettings(inputs({ 'test-command': '["npm","test"]' }), readEnvironment(env)).testCommand).toEqual(['npm', 'test']);
  });
});

describe('main with a fake engine', () => {
  it('checks credentials, builds, tests, tags and pushes in that order, and sets outputs', async () => {
    const engine = new FakeEngine();
    const report = await run(engine, { 'registry-username': 'gangway', 'registry-password': 'pw', 'test-command': 'true' });
    expect(engine.calls).toEqual([
      'info',
      'auth gangway@198.18.0.1:5000',
      'build',
      'run sha256:image sh -c true',
      `tag sha256:image ${REPO}:latest`,
      `tag sha256:image ${REPO}:main`,
      `tag sha256:image ${REPO}:sha-abcdef0`,
      `push ${REPO}:latest`,
      `push ${REPO}:main`,
      `push ${REPO}:sha-abcdef0`,
      'inspect sha256:image',
    ]);
    expect(engine.builds[0]).toMatchObject({ dockerfile: 'Dockerfile', builder: 'buildkit', cacheFrom: [`${REPO}:latest`, `${REPO}:main`] });
    expect(report.imageRef).toBe(`${REPO}@sha256:digest`);
    const out = outputs();
    expect(out['image-ref']).toBe(`${REPO}@sha256:digest`);
    expect(out['digest']).toBe('sha256:digest');
    expect(out['tags']).toBe([`${REPO}:latest`, `${REPO}:main`, `${REPO}:sha-abcdef0`].join('\n'));
    expect(out['image-id']).toBe('sha256:image');
    expect(out['size-bytes']).toBe('1234');
    expect(JSON.parse(out['report'] ?? '{}')).toMatchObject({ digest: 'sha256:digest', builder: 'buildkit' });
    const summary = readFileSync(path.join(files, 'summary'), 'utf8');
    expect(summary).toContain('Built and pushed');
    expect(summary).not.toContain('pw');
  });

  it('a failing test command stops before any tag or push', async () => {
    const engine = new FakeEngine();
    engine.runResult = { exitCode: 3, output: 'lint: 2 problems\n' };
    await expect(run(engine, { 'test-command': 'npm run lint' })).rejects.toThrow(/test command exited with 3, so nothing was pushed[\s\S]*lint: 2 problems/);
    expect(engine.calls.filter((c) => c.startsWith('push') || c.startsWith('tag'))).toEqual([]);
    expect(readFileSync(path.join(files, 'summary'), 'utf8')).toContain('nothing was pushed');
  });

  it('a failing test stage stops before any push and shows the failing step', async () => {
    const engine = new FakeEngine();
    engine.buildScript.set('test', [
      { stream: 'Step 1/2 : FROM scratch\n' },
      { stream: 'Step 2/2 : RUN npm test\n' },
      { stream: 'FAIL test/app.test.ts\n' },
      { errorDetail: { message: "The command '/bin/sh -c npm test' returned a non-zero code: 1" }, error: 'x' },
    ]);
    await expect(run(engine, { 'test-target': 'test' })).rejects.toThrow(/test stage "test" failed[\s\S]*\[2\/2\] RUN npm test[\s\S]*FAIL test\/app.test.ts/);
    expect(engine.calls).toEqual(['info', 'build', 'build test']);
  });

  it('wrong credentials fail before the build, naming registry and user', async () => {
    const engine = new FakeEngine();
    engine.authError = Object.assign(new Error('(HTTP code 401) unexpected'), { statusCode: 401, json: { message: 'login attempt to https://198.18.0.1:5000/v2/ failed with status: 401 Unauthorized' } });
    await expect(run(engine, { 'registry-username': 'gangway', 'registry-password': 'wrong-pw' })).rejects.toThrow(
      /The registry 198\.18\.0\.1:5000 refused user "gangway".*401 Unauthorized.*registry-password/,
    );
    expect(engine.calls).toEqual(['info', 'auth gangway@198.18.0.1:5000']);
  });

  it('an auth failure during the push names the registry too', async () => {
    const engine = new FakeEngine();
    engine.pushScript = () => [{ errorDetail: { message: 'unauthorized: authentication required' }, error: 'x' }];
    await expect(run(engine)).rejects.toThrow(/The registry 198\.18\.0\.1:5000 refused anonymous access/);
  });

  it('push: false builds only and hands out the image id', async () => {
    const engine = new FakeEngine();
    const report = await run(engine, { push: 'false' });
    expect(engine.calls.some((c) => c.startsWith('push'))).toBe(false);
    expect(report.imageRef).toBe('sha256:image');
    expect(outputs()['digest']).toBe('');
  });

  it('uses the classic builder where BuildKit is missing, pulling cache sources first', async () => {
    const engine = new FakeEngine();
    engine.info_ = { ...engine.info_, buildkit: false };
    await run(engine, { push: 'false' });
    expect(engine.calls.slice(0, 4)).toEqual(['info', `pull ${REPO}:latest`, `pull ${REPO}:main`, 'build']);
    expect(engine.builds[0]).toMatchObject({ builder: 'classic', cacheFrom: [] });
  });
});
