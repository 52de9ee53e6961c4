import { describe, expect, it } from 'vitest';
import { secretInputs, sweepSecrets, type RecordedRun } from '../src/harness/index.ts';
import type { ActionRun } from '../src/harness/index.ts';

function run(printed: string, extra: Partial<ActionRun> = {}): ActionRun {
  return { action: 'probe', phase: 'main', printed, stderr: '', summary: '', outputs: {}, state: {}, env: {}, masks: [], ...extra } as unknown as ActionRun;
}

describe('secret sweep', () => {
  it('takes secret inputs, VPN key blocks, env values and URL passwords; leaves public inputs', () => {
    const s = secretInputs({
      'private-key': 'k'.repeat(20),
      host: '198.19.0.1',
      config: 'client\n<ca>\nPUBLIC\n</ca>\n<key>\nSECRETKEYLINE\n</key>\n',
      env: 'SESSION_SECRET=abcdefgh12345\nSHORT=x',
      'smtp-url': 'smtp://user:p%40ssword@198.18.0.1:25',
    });
    expect(s).toEqual({ 'private-key': 'k'.repeat(20), 'config <key>': '\nSECRETKEYLINE\n', 'env SESSION_SECRET': 'abcdefgh12345', 'smtp-url password': 'p@ssword' });
  });

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
});
