import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { findSecretLeaks, parseKeyValueFile, renderLog, RunnerJob } from '../src/index.ts';

const probe = path.join(import.meta.dirname, 'fixtures', 'probe-action');
const jobs: RunnerJob[] = [];
function job(options?: ConstructorParameters<typeof RunnerJob>[0]): RunnerJob {
  // The probe prints secrets on purpose (to test masking and findSecretLeaks): not swept.
  const j = new RunnerJob({ sweepSecrets: false, ...options });
  jobs.push(j);
  return j;
}
afterEach(() => {
  for (const j of jobs.splice(0)) j.cleanup();
});

describe('file command parsing', () => {
  it('reads name=value lines and heredocs with any delimiter', () => {
    const text = 'a=1\nb<<ghadelimiter_x\nline 1\nline 2\nghadelimiter_x\nc=with=eq\nempty<<EOF\nEOF\n';
    expect(parseKeyValueFile(text)).toEqual({ a: '1', b: 'line 1\nline 2', c: 'with=eq', empty: '' });
  });
  it('fails on an unclosed heredoc or a bare line', () => {
    expect(() => parseKeyValueFile('a<<D\nvalue\n')).toThrow(/no closing delimiter/);
    expect(() => parseKeyValueFile('just text\n')).toThrow(/neither/);
  });
});

describe('workflow command rendering', () => {
  it('consumes add-mask, masks later lines and decodes escapes', () => {
    const out = renderLog('before s3cret\n::add-mask::s3cret\nafter s3cret\n::error file=a.ts,line=3::bad%0Athing\n::warning::w%25\n');
    expect(out.masks).toContain('s3cret');
    expect(out.log).toContain('before s3cret');
    expect(out.log).toContain('after ***');
    expect(out.log).not.toContain('add-mask');
    expect(out.printed).not.toContain('add-mask');
    expect(out.annotations).toEqual([
      { level: 'error', message: 'bad\nthing', properties: { file: 'a.ts', line: '3' } },
      { level: 'warning', message: 'w%', properties: {} },
    ]);
  });
});

describe('RunnerJob against what @actions/core writes', () => {
  it('runs main with inputs, defaults and context, and parses every file command', async () => {
    const j = job({ github: { repository: 'acme/shop', eventName: 'pull_request' } });
    const run = await j.main(probe, { inputs: { 'input with spaces': 'yes' } });
    expect(run.exitCode).toBe(0);
    expect(run.ok).toBe(true);
    expect(run.log).toContain('greeting=acme/shop');
    expect(run.log).toContain('spaced=yes');
    expect(run.log).toContain('event=pull_request workspace-is-cwd=true');
    expect(run.outputs).toEqual({ simple: 'value=with=equals', multi: 'line one\nline two\n', json: '{"a":1}' });
    expect(run.state).toEqual({ isPost: 'true', 'token-id': 'state-123' });
    expect(run.env).toEqual({ PROBE_EXPORTED: 'exported\nacross lines' });
    expect(run.path).toEqual(['/opt/probe/bin']);
    expect(run.summary).toContain('<h1>Probe</h1>');
    expect(run.summary).toContain('summary body');
    expect(run.annotations).toEqual([{ level: 'warning', message: 'a warning, with: punctuation', properties: { title: 'T' } }]);
    expect(run.log).toContain('▸ a group');
  });

  it('runs post with STATE_* from main, and env and path exported by main', async () => {
    const j = job();
    await j.main(probe);
    const post = await j.post(probe);
    expect(post.exitCode).toBe(0);
    expect(post.log).toContain('post: state=state-123 env="exported\\nacross lines" path-has-probe=true');
    expect(post.outputs['from-post']).toBe('state-123');
  });

  it('reports a failure as exit 1 with an error annotation; post only warns', async () => {
    const j = job();
    const main = await j.main(probe, { inputs: { mode: 'fail' } });
    expect(main.exitCode).toBe(1);
    expect(main.annotations.find((a) => a.level === 'error')?.message).toBe('probe failed on purpose');
    expect(main.log).toMatch(/##\[debug\]Error: probe failed on purpose\n\s+at /);
    const post = await j.post(probe, { inputs: { mode: 'fail' } });
    expect(post.exitCode).toBe(0);
    expect(post.annotations).toEqual([{ level: 'warning', message: 'Cleanup failed: post fails too, but only warns', properties: {} }]);
  });

  it('shows a ConfigurationError without a stack', async () => {
    const run = await job().main(probe, { inputs: { mode: 'config-error' } });
    expect(run.exitCode).toBe(1);
    expect(run.annotations.filter((a) => a.level === 'error').map((a) => a.message)).toEqual(['Input "mode" was asked to fail. Use ok.']);
    expect(run.log).not.toContain('##[debug]ConfigurationError');
  });

  it('rejects a bad choice before doing anything', async () => {
    const run = await job().main(probe, { inputs: { mode: 'explode' } });
    expect(run.exitCode).toBe(1);
    expect(run.annotations[0]?.message).toBe('Input "mode" is "explode", which is not one of: ok, fail, config-error, crash, wait.');
    expect(run.outputs).toEqual({});
  });

  it('passes on the exit code of a process that exits by itself', async () => {
    const run = await job().main(probe, { inputs: { mode: 'crash' } });
    expect(run.exitCode).toBe(3);
    expect(run.ok).toBe(false);
  });

  it('cancels like the runner: SIGINT reaches the action, which cleans up', async () => {
    const run = await job().main(probe, { inputs: { mode: 'wait' }, cancel: { whenLog: /waiting for cancellation/ } });
    expect(run.cancelled).toBe(true);
    expect(run.log).toContain('Received SIGINT: cancelling and cleaning up.');
    expect(run.log).toContain('cancelled cleanly');
    expect(run.exitCode).toBe(1);
    expect(run.durationMs).toBeLessThan(7000);
  });

  it('refuses an input the action does not declare', async () => {
    await expect(job().main(probe, { inputs: { 'no-such-input': 'x' } })).rejects.toThrow(/has no input "no-such-input"/);
  });

  it('finds a printed secret, line by line, and the runner log masks it', async () => {
    const key = '-----BEGIN TEST KEY-----\nAAAAB3NzaC1yc2EAAAADAQABAAABAQ\n-----END TEST KEY-----';
    const run = await job().main(probe, { inputs: { secret: key } });
    expect(run.exitCode).toBe(0);
    expect(run.log).toContain('printing the secret on purpose: ***');
    const leaks = findSecretLeaks(run, { 'test key': key });
    expect(leaks.length).toBeGreaterThan(0);
    expect(leaks.every((l) => l.where === 'stdout' && l.secret === 'test key')).toBe(true);
    // The same run without the secret printed has no leak.
    const clean = await job().main(probe, {});
    expect(findSecretLeaks(clean, { 'test key': key })).toEqual([]);
  });
});
