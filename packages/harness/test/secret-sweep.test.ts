import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { checkSecretInputs, onActionRun, RunnerJob, SecretSweep, secretsOfInputs, sweepSecrets, type ActionRun, type ActionRunEvent, type RecordedRun, type SecretInputs } from '../src/index.ts';

function run(printed: string, extra: Partial<ActionRun> = {}): ActionRun {
  return { action: 'probe', phase: 'main', printed, stderr: '', summary: '', outputs: {}, state: {}, env: {}, masks: [], ...extra } as unknown as ActionRun;
}

const probe = path.join(import.meta.dirname, 'fixtures', 'probe-action');
const jobs: RunnerJob[] = [];
afterEach(() => {
  for (const j of jobs.splice(0)) j.cleanup();
});

describe('secret inputs as an action declares them', () => {
  const declared: SecretInputs = {
    'private-key': 'whole',
    config: { blocks: ['key', 'tls-auth'] },
    env: { keyValueLines: { minLength: 8 } },
    'smtp-url': 'url-password',
  };

  it('takes whole values, key blocks, KEY=value values and URL passwords; leaves the rest', () => {
    const s = secretsOfInputs(declared, {
      'private-key': 'k'.repeat(20),
      host: '198.19.0.1',
      config: 'client\n<ca>\nPUBLIC\n</ca>\n<key>\nSECRETKEYLINE\n</key>\n',
      env: 'SESSION_SECRET=abcdefgh12345\nSHORT=x',
      'smtp-url': 'smtp://user:p%40ssword@198.18.0.1:25',
    });
    expect(s).toEqual({ 'private-key': 'k'.repeat(20), 'config <key>': '\nSECRETKEYLINE\n', 'env SESSION_SECRET': 'abcdefgh12345', 'smtp-url password': 'p@ssword' });
  });

  it('takes every block of a tag, and nothing from empty inputs, URLs without a password or empty blocks', () => {
    expect(secretsOfInputs(declared, { config: '<key>\nONE\n</key>\n<tls-auth>\n</tls-auth>\n<key>TWO</key>' })).toEqual({ 'config <key>': '\nONE\n', 'config <key> 2': 'TWO' });
    expect(secretsOfInputs(declared, { 'private-key': '  ', 'smtp-url': 'smtp://198.18.0.1:25', env: 'A=short' })).toEqual({});
  });

  it('is checked against action.yml: an input it does not have, or an unknown kind, is refused', () => {
    expect(checkSecretInputs(probe, { secret: 'whole' })).toEqual({ secret: 'whole' });
    expect(() => checkSecretInputs(probe, { 'private-key': 'whole' })).toThrow(/declares secret input "private-key", which .*action\.yml does not have/);
    expect(() => checkSecretInputs(probe, { secret: 'all' })).toThrow(/secret input "secret" has an unknown kind "all"/);
    expect(() => checkSecretInputs(probe, { secret: { blocks: [] } })).toThrow(/unknown kind/);
    expect(() => checkSecretInputs(probe, undefined)).toThrow(/export const secretInputs/);
  });
});

describe('secret sweep', () => {
  it('finds a secret of one run in another run, and a masked value anywhere; PEM armor is no leak', () => {
    const runs: RecordedRun[] = [
      { run: run('all fine\n-----BEGIN PRIVATE KEY-----'), secrets: { 'private-key': '-----BEGIN PRIVATE KEY-----\nAAAABBBBCCCC\n-----END PRIVATE KEY-----' } },
      { run: run('oops AAAABBBBCCCC'), secrets: {} },
      { run: run('', { state: { s: 'masked-value-1' } }), secrets: {} },
      { run: run('x', { masks: ['masked-value-1'] }), secrets: {} },
    ];
    const result = sweepSecrets(runs);
    expect(result.runs).toBe(4);
    expect(result.leaks.map((l) => `${l.where}:${l.line}:${l.secret}`)).toEqual(['stdout:1:probe: private-key', 'state.s:1:probe: mask 1']);
  });

  it('hears every step through onActionRun and finds a leak of a declared secret input', async () => {
    const heard: ActionRunEvent[] = [];
    const stop = onActionRun((e) => heard.push(e));
    const key = 'probe-secret-AAAAB3NzaC1yc2E';
    // sweepSecrets: false keeps this file's own sweep (test/setup) off the deliberate leak.
    const job = new RunnerJob({ sweepSecrets: false });
    jobs.push(job);
    try {
      await job.main(probe, { inputs: { secret: key }, secrets: { extra: 'an-extra-secret-value' } });
      await job.script('echo', 'echo hello', { secrets: { more: 'a-script-secret-value' } });
    } finally {
      stop();
    }
    expect(heard.map((e) => [e.run.action, e.actionDir, e.inputs, e.secrets, e.sweep])).toEqual([
      ['probe', probe, { secret: key }, { extra: 'an-extra-secret-value' }, false],
      ['echo', undefined, {}, { more: 'a-script-secret-value' }, false],
    ]);
    // A job left out of the sweep is recorded by no SecretSweep...
    const skipping = new SecretSweep();
    for (const e of heard) skipping.record(e);
    expect((await skipping.sweep()).runs).toBe(0);
    // ...and the same steps, swept, show the leak under the label the probe's declaration gives.
    const sweep = new SecretSweep();
    for (const e of heard) sweep.record({ ...e, sweep: true });
    const result = await sweep.sweep();
    expect(result.runs).toBe(2);
    expect(result.undeclared).toEqual([]);
    expect(result.leaks.map((l) => `${l.action} ${l.where}: ${l.secret}`)).toContain('probe stdout: probe: secret');
    expect(result.leaks.every((l) => !l.context.includes(key))).toBe(true);
    expect((await sweep.sweep()).runs).toBe(0);
  });

  it('sweeps an action with no declaration for what it masked, and says so', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'gangway-undeclared-'));
    mkdirSync(path.join(dir, 'test'));
    writeFileSync(path.join(dir, 'action.yml'), 'name: undeclared\nruns:\n  using: node24\n  main: index.js\n');
    const event = (r: ActionRun): ActionRunEvent => ({ run: r, actionDir: dir, inputs: {}, secrets: {}, sweep: true });
    const sweep = new SecretSweep();
    sweep.record(event(run('the token is masked-token-123', { action: 'undeclared', masks: ['masked-token-123'] })));
    const result = await sweep.sweep();
    expect(result.undeclared).toEqual(['undeclared']);
    expect(result.leaks.map((l) => l.secret)).toEqual(['undeclared: mask 1']);
  });

  it('fails the sweep on a declaration that names an input action.yml does not have', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'gangway-misdeclared-'));
    mkdirSync(path.join(dir, 'test'));
    writeFileSync(path.join(dir, 'action.yml'), 'name: misdeclared\ninputs:\n  token:\n    description: t\nruns:\n  using: node24\n  main: index.js\n');
    writeFileSync(path.join(dir, 'test', 'secrets.ts'), "export const secretInputs = { 'old-token': 'whole' };\n");
    const sweep = new SecretSweep();
    sweep.record({ run: run('x'), actionDir: dir, inputs: { token: 'abcdefgh' }, secrets: {}, sweep: true });
    await expect(sweep.sweep()).rejects.toThrow(/declares secret input "old-token"/);
  });
});
