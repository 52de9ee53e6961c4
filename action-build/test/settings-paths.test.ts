// action-build's path inputs (issue #16, item 13): `context` is tarred and sent to the engine,
// `file` is read; neither may reach outside the workspace (or RUNNER_TEMP), symlinks included.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Inputs, mapInputs } from '@gangway/kit';
import { readEnvironment, readSettings } from '../src/settings.ts';

let dir: string;
let ws: string;
let outside: string;
let env: NodeJS.ProcessEnv;

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'build-paths-'));
  ws = path.join(dir, 'ws');
  outside = path.join(dir, 'outside');
  mkdirSync(path.join(ws, 'app'), { recursive: true });
  mkdirSync(outside);
  writeFileSync(path.join(ws, 'app', 'Dockerfile'), 'FROM scratch\n');
  writeFileSync(path.join(outside, 'Dockerfile'), 'FROM scratch\n');
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
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const read = (values: Record<string, string>) => () =>
  readSettings(new Inputs(mapInputs({ image: '198.18.0.1:5000/gangway-test/build-paths', ...values })), readEnvironment(env));

describe('action-build path inputs stay inside the workspace', () => {
  it('accepts a context and a Dockerfile in the workspace', () => {
    const s = read({ context: 'app', file: 'app/Dockerfile' })();
    expect(s.context).toBe(path.join(ws, 'app'));
    expect(s.file).toBe(path.join(ws, 'app', 'Dockerfile'));
  });

  it('refuses a context outside the workspace: relative, absolute, or through a symlink', () => {
    expect(read({ context: '../outside' })).toThrow(/Input "context" is "\.\.\/outside", which resolves to .*outside the workspace/);
    expect(read({ context: outside })).toThrow(/Input "context" .*outside the workspace/);
    expect(read({ context: '/' })).toThrow(/Input "context" is "\/".*outside the workspace/);
    symlinkSync(outside, path.join(ws, 'link'));
    expect(read({ context: 'link' })).toThrow(/Input "context" is "link", which resolves to .*outside.*symlinks/);
  });

  it('refuses a Dockerfile outside the workspace, also one the context holds as a symlink', () => {
    expect(read({ context: 'app', file: '../outside/Dockerfile' })).toThrow(/Input "file" is "\.\.\/outside\/Dockerfile".*outside the workspace/);
    expect(read({ context: 'app', file: '/etc/passwd' })).toThrow(/Input "file" is "\/etc\/passwd".*outside the workspace/);
    mkdirSync(path.join(ws, 'other'));
    symlinkSync(path.join(outside, 'Dockerfile'), path.join(ws, 'other', 'Dockerfile'));
    expect(read({ context: 'other' })).toThrow(/Input "file" .*outside the workspace/);
  });
});
