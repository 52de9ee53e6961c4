// How OpenVPN is started (issue #16, items 6 and 7): with a minimal environment (it lives as long
// as the job; the step's environment holds every INPUT_*, secrets included), and with its
// config, keys and all, on standard input rather than in a file. A stand-in "openvpn" records
// what a real one would be given.
import type { spawn as nodeSpawn } from 'node:child_process';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OPENVPN_PATH, startOpenVpn } from '../src/openvpn-process.ts';
import { INLINE, KEY } from './fixtures.ts';

let dir: string;
const saved = { ...process.env };
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vpn-start-'));
  process.env['INPUT_PASSWORD'] = 'pw-0815-in-the-step-env';
  process.env['INPUT_KEY'] = KEY;
});
afterEach(() => {
  process.env = { ...saved };
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A stand-in for openvpn: writes its environment, arguments and standard input into `dir`. */
function fakeOpenVpn(): string {
  const file = path.join(dir, 'openvpn');
  fs.writeFileSync(file, `#!/bin/sh\nenv > '${dir}/env'\necho "$@" > '${dir}/args'\ncat > '${dir}/stdin'\n`, { mode: 0o755 });
  return file;
}

function start(spawnProcess?: typeof nodeSpawn) {
  return startOpenVpn(
    { binary: fakeOpenVpn(), configText: INLINE, cwd: dir, logFile: path.join(dir, 'openvpn.log'), pidFile: path.join(dir, 'openvpn.pid'), privilege: { root: true } },
    spawnProcess,
  );
}

describe('starting OpenVPN', () => {
  it('hands the spawn a minimal environment: no INPUT_* and nothing else of the step', async () => {
    const seen: Array<NodeJS.ProcessEnv | undefined> = [];
    const watching = ((cmd: string, args: string[], options: { env?: NodeJS.ProcessEnv }) => {
      seen.push(options.env);
      return spawn(cmd, args, options as Parameters<typeof spawn>[2]);
    }) as unknown as typeof nodeSpawn;
    await start(watching).exited;
    expect(seen).toHaveLength(1);
    const env = seen[0] ?? process.env;
    expect(Object.keys(env).filter((k) => k.startsWith('INPUT_'))).toEqual([]);
    expect(env).toEqual({ PATH: OPENVPN_PATH });
  });

  it('the started process sees no INPUT_* in its environment', async () => {
    expect((await start().exited).code).toBe(0);
    const env = fs.readFileSync(path.join(dir, 'env'), 'utf8');
    expect(env).not.toMatch(/^INPUT_/m);
    expect(env).not.toContain('pw-0815-in-the-step-env');
    expect(env).toContain(`PATH=${OPENVPN_PATH}`);
  });

  it('reads its config, key blocks included, from standard input: the arguments name no file and no key is written', async () => {
    expect((await start().exited).code).toBe(0);
    expect(fs.readFileSync(path.join(dir, 'args'), 'utf8').trim()).toBe(`--cd ${dir} --config stdin --writepid ${path.join(dir, 'openvpn.pid')}`);
    expect(fs.readFileSync(path.join(dir, 'stdin'), 'utf8')).toBe(INLINE);
  });
});
