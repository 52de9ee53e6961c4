// The proxy's one-exec switch (SWITCH_SCRIPT) run for real by the machine's sh (dash on Debian, as
// in nginx:stable), in a PID namespace of its own (unshare, as root) so that the only "nginx
// workers" it sees are this test's: processes named `nginx: worker process`, started by a stand-in
// `nginx` on PATH. The fake engine of the other tests only imitates the script; this is the script.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { switchCommand, workerPidsOf } from '../src/container/proxy-config.ts';

let dir: string;

// nginx -t -c FILE: refuses a config that says "refuse". nginx -c FILE -s reload: records the
// reload, then starts a new worker unless the config says "no-workers" (a master that took the
// signal but did not apply the config).
const STAND_IN = `#!/bin/bash
case " $* " in
  *" -t "*) if grep -q refuse "$3"; then echo 'nginx: [emerg] refused'; exit 1; fi; echo 'syntax is ok'; exit 0 ;;
  *" reload "*) echo "reload $(cat "$2")" >> "$RELOADS"
    if ! grep -q no-workers "$2"; then setsid bash -c 'exec -a "$WORKER" perl -e "\\$SIG{QUIT} = q(DEFAULT); sleep 60"' </dev/null >/dev/null 2>&1 & fi
    exit 0 ;;
esac
exit 2
`;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'gangway-switch-'));
  writeFileSync(path.join(dir, 'nginx'), STAND_IN);
  chmodSync(path.join(dir, 'nginx'), 0o755);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the switch to `config` with one worker running; the namespace's end takes every process with it. */
function runSwitch(config: string): { exitCode: number; output: string; runningAfter: Set<number>; file: string; reloads: string[]; ms: number } {
  const conf = path.join(dir, 'nginx.conf');
  const reloads = path.join(dir, 'reloads');
  writeFileSync(conf, 'old');
  writeFileSync(reloads, '');
  const [, , script, name, ...args] = switchCommand(config, conf);
  const started = performance.now();
  const r = spawnSync(
    'unshare',
    // The workers' name comes from the environment: a command line holding it would count as a worker.
    // After the script: which workers still run (a worker told to QUIT, a `sleep` here, is gone).
    ['--pid', '--fork', '--mount-proc', 'bash', '-c', `setsid bash -c 'exec -a "$WORKER" perl -e "\\$SIG{QUIT} = q(DEFAULT); sleep 60"' </dev/null >/dev/null 2>&1 & sleep 0.2; sh -c "$SCRIPT" "$@"; rc=$?; sleep 0.2; echo "running after: $(grep -la 'nginx[:] worker process' /proc/[0-9]*/cmdline | tr '\\n' ' ')"; exit $rc`, 'wrapper', name ?? '', ...args],
    { env: { PATH: `${dir}:${process.env['PATH'] ?? ''}`, SCRIPT: script ?? '', RELOADS: reloads, WORKER: 'nginx: worker process' }, encoding: 'utf8', timeout: 20_000 },
  );
  if (r.error) throw r.error;
  const output = `${r.stdout}${r.stderr}`;
  const [said = '', after = ''] = output.split('running after:');
  return { exitCode: r.status ?? -1, output: said, runningAfter: workerPidsOf(after), file: readFileSync(conf, 'utf8'), reloads: readFileSync(reloads, 'utf8').split('\n').filter(Boolean), ms: performance.now() - started };
}

describe('SWITCH_SCRIPT, run by sh', () => {
  it('writes the config, reloads, and returns once a new worker runs, listing the workers from before, which it told to finish', () => {
    const r = runSwitch('upstream new;');
    expect(r.exitCode, r.output).toBe(0);
    expect(r.file).toBe('upstream new;');
    expect(r.reloads).toEqual(['reload upstream new;']);
    // The one worker from before, and not the script's own shell (whose command line holds the pattern).
    const before = [...workerPidsOf(r.output)];
    expect(before).toHaveLength(1);
    // It got SIGQUIT (it is gone); the new worker runs on.
    expect([...r.runningAfter]).toHaveLength(1);
    expect(r.runningAfter.has(before[0] ?? -1)).toBe(false);
  });

  it('a config nginx refuses is put back, with nginx\'s words, and nothing is reloaded (exit 3)', () => {
    const r = runSwitch('refuse this');
    expect(r.exitCode).toBe(3);
    expect(r.output).toContain('nginx: [emerg] refused');
    expect(r.file).toBe('old');
    expect(r.reloads).toEqual([]);
  });

  it('a reload that starts no worker puts the previous config back and reloads it (exit 4)', () => {
    const r = runSwitch('no-workers here');
    expect(r.exitCode, r.output).toBe(4);
    expect(r.output).toContain('nginx did not start new workers within about 10 s of the reload');
    expect(r.file).toBe('old');
    expect(r.reloads).toEqual(['reload no-workers here', 'reload old']);
    expect(r.ms).toBeGreaterThan(9_000);
    // Nothing told the worker from before to finish: it runs beside the one the reload of the old config started.
    expect([...r.runningAfter]).toHaveLength(2);
  }, 30_000);
});
