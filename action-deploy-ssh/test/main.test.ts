// main and post with the connection replaced by in-memory engines: several hosts, outputs,
// the summary, cancellation after the old container stopped, and the post step's lock release.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { formatDuration, Inputs, mapInputs } from '@gangway/kit';
import { parseKeyValueFile as parseFile } from '@gangway/harness';
import type { ConnectHost } from '../src/host/connection.ts';
import { lockName } from '../src/container/spec.ts';
import { acquireLock } from '../src/host/lock.ts';
import { LOCKS_STATE } from '../src/host/lock-state.ts';
import { main } from '../src/main.ts';
import { rolloutBatches } from '../src/rollout.ts';
import { hostFacts, phaseLine, type HostReport } from '../src/report.ts';
import { post } from '../src/post.ts';
import { DIGEST_V1, DIGEST_V2, FakeEngine } from './fakes.ts';
import { baseInputs, useRunnerFiles } from './helpers.ts';

const REPO = 'registry.example.com/team/shop';

function fakeEngine(): FakeEngine {
  const e = new FakeEngine();
  e.registry.push({ repository: REPO, tag: 'v1', digest: DIGEST_V1, id: 'sha256:img1' }, { repository: REPO, tag: 'v2', digest: DIGEST_V2, id: 'sha256:img2' });
  return e;
}

function connectTo(engines: Record<string, FakeEngine | Error>, opened: string[] = []): ConnectHost {
  return async (_settings, host) => {
    const engine = engines[host.host];
    opened.push(host.host);
    if (!engine) throw new Error(`no fake for ${host.host}`);
    if (engine instanceof Error) throw engine;
    return { engine, prober: engine.prober(), transport: 'stream-local', hostKey: 'SHA256:fake', lost: () => undefined, close: () => undefined };
  };
}

const runnerFiles = useRunnerFiles('gangway-deploy-main-');

const outputs = (): Record<string, string> => parseFile(readFileSync(path.join(runnerFiles(), 'output'), 'utf8'));
const state = (): Record<string, string> => parseFile(readFileSync(path.join(runnerFiles(), 'state'), 'utf8'));
/** This test's own job summary (a file per test: see useRunnerFiles). */
const summary = (): string => readFileSync(path.join(runnerFiles(), 'summary'), 'utf8');

describe('main', () => {
  it('deploys host after host and writes outputs, report and a summary per host', async () => {
    const a = fakeEngine();
    const b = fakeEngine();
    const inputs = new Inputs(mapInputs(baseInputs({ host: 'a.example.com\nb.example.com:2222', image: `${REPO}:v1`, publish: '8080', 'readiness-timeout': '1s' })));
    const logged: string[] = [];
    const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      logged.push(String(chunk));
      return true;
    });
    try {
      await main(new AbortController().signal, { inputs, connect: connectTo({ 'a.example.com': a, 'b.example.com': b }) });
    } finally {
      write.mockRestore();
    }
    // Each host says where its time went, in the job log.
    const phaseLines = logged.join('').split('\n').filter((l) => /^\[[^\]]+\] phases: /.test(l));
    expect(phaseLines.map((l) => l.slice(0, l.indexOf(']') + 1))).toEqual(['[a.example.com]', '[b.example.com:2222]']);
    expect(phaseLines[0]).toMatch(/phases: connect \d+ms, pull \d+ms, lock \d+ms, create \d+ms, start new \d+ms, readiness \d+ms, switch \d+ms, .* = \d/);
    const out = outputs();
    expect(out['image-digest']).toBe(DIGEST_V1);
    expect(out['rolled-back']).toBe('false');
    expect(out['container-name']).toMatch(/^shop-/);
    const report = JSON.parse(out.report ?? '{}') as { result: string; hosts: Array<{ host: string; result: string; phases: Array<{ phase: string }> }> };
    expect(report.result).toBe('success');
    expect(report.hosts.map((h) => [h.host, h.result])).toEqual([
      ['a.example.com', 'deployed'],
      ['b.example.com:2222', 'deployed'],
    ]);
    expect(report.hosts[0]?.phases[0]?.phase).toBe('connect');
    const written = summary();
    expect(written).toContain('a.example.com');
    expect(written).toContain('b.example.com:2222');
    expect(written).toContain('✅ shop: deploy (blue-green)');
    expect(written).not.toContain('requests fail during the downtime');
    // Every lock taken was released, and the saved state says so.
    expect(JSON.parse(state()[LOCKS_STATE] ?? '[]')).toEqual([]);
  });

  it('writes a host\'s phases as one line', () => {
    expect(phaseLine([{ phase: 'connect', ms: 112 }, { phase: 'pull', ms: 1500 }], 10_200)).toBe('connect 112ms, pull 1.5s = 10.2s');
  });

  it('cuts the rollout into the canary and batches of max-parallel', () => {
    expect(rolloutBatches(['a', 'b', 'c', 'd', 'e'], 2)).toEqual([['a'], ['b', 'c'], ['d', 'e']]);
    expect(rolloutBatches(['a', 'b', 'c'], 1)).toEqual([['a'], ['b'], ['c']]);
    expect(rolloutBatches(['a'], 3)).toEqual([['a']]);
    // canary: false - the first host goes with the first batch.
    expect(rolloutBatches(['a', 'b', 'c', 'd', 'e'], 2, false)).toEqual([['a', 'b'], ['c', 'd'], ['e']]);
    expect(rolloutBatches(['a', 'b', 'c'], 3, false)).toEqual([['a', 'b', 'c']]);
    expect(rolloutBatches([], 3, false)).toEqual([]);
  });

  it('blue-green on two hosts: when the second fails, the canary that switched is rolled back to its kept container', async () => {
    const a = fakeEngine();
    const b = fakeEngine();
    const connect = connectTo({ 'a.example.com': a, 'b.example.com': b });
    // With standby: the canary puts v1 on standby, and its revert goes back to it warm (no standby left to report).
    const hosts = { host: 'a.example.com, b.example.com', publish: '8080', 'readiness-timeout': '1s', 'drain-timeout': '1s', standby: '10m' };
    a.time = Date.now();
    b.time = Date.now();
    await main(new AbortController().signal, { inputs: new Inputs(mapInputs(baseInputs({ ...hosts, image: `${REPO}:v1` }))), connect });
    const v1a = a.running('shop');
    const v1b = b.running('shop');
    // v2 never gets ready on b.
    b.readyWhen = (c) => c.imageId !== 'sha256:img2';
    await expect(main(new AbortController().signal, { inputs: new Inputs(mapInputs(baseInputs({ ...hosts, image: `${REPO}:v2` }))), connect })).rejects.toThrow(/b\.example\.com.*did not get ready/s);
    const report = JSON.parse(outputs().report ?? '{}') as { result: string; rolledBack: boolean; hosts: Array<{ host: string; result: string; revert?: { container?: { name: string } } }> };
    expect(report.hosts.map((h) => [h.host, h.result])).toEqual([
      ['a.example.com', 'reverted'],
      ['b.example.com', 'rolled-back'],
    ]);
    expect(report.rolledBack).toBe(true);
    expect(a.running('shop')).toEqual(v1a);
    expect(a.proxy('shop')?.upstream).toBe(v1a[0]);
    expect(report.hosts[0]?.revert?.container?.name).toBe(v1a[0]);
    expect(b.running('shop')).toEqual(v1b);
    expect(a.dropped).toEqual([]);
    expect(b.dropped).toEqual([]);
    expect(hostFacts(report.hosts[0] as HostReport).map((r) => r.join(': '))).toContain(`Rolled back to: ${v1a[0] ?? ''} in ${formatDuration((report.hosts[0] as HostReport).revert?.totalMs ?? 0)}`);
    expect((report.hosts[0] as HostReport).standby).toBeUndefined();
    // Both runs of this test append to its summary file; the second one's verdict is there.
    const written = summary();
    expect(written).toContain('❌ shop: deploy (blue-green)');
    expect(written).toContain('deployed, then rolled back (another host failed)');
    expect(written).toContain('failed, previous version restored');
    expect(written).toContain(`${v1a[0] ?? ''} in `);
  });

  it('on-failure: halt leaves the hosts that switched on the new version and skips the rest', async () => {
    const engines = { 'a.example.com': fakeEngine(), 'b.example.com': fakeEngine(), 'c.example.com': fakeEngine() };
    const connect = connectTo(engines);
    const hosts = { host: 'a.example.com, b.example.com, c.example.com', publish: '8080', 'readiness-timeout': '1s', 'drain-timeout': '1s', 'max-parallel': '1', 'on-failure': 'halt' };
    await main(new AbortController().signal, { inputs: new Inputs(mapInputs(baseInputs({ ...hosts, image: `${REPO}:v1` }))), connect });
    engines['b.example.com'].readyWhen = (c) => c.imageId !== 'sha256:img2';
    await expect(main(new AbortController().signal, { inputs: new Inputs(mapInputs(baseInputs({ ...hosts, image: `${REPO}:v2` }))), connect })).rejects.toThrow();
    const report = JSON.parse(outputs().report ?? '{}') as { hosts: Array<{ host: string; result: string }> };
    expect(report.hosts.map((h) => h.result)).toEqual(['deployed', 'rolled-back', 'skipped']);
    const a = engines['a.example.com'];
    expect([...a.containers.values()].find((c) => c.options.name === a.running('shop')[0])?.imageId).toBe('sha256:img2');
    // c was never given v2: not pulled, no container of it.
    const skipped = engines['c.example.com'];
    expect(skipped.images.has('sha256:img2')).toBe(false);
    expect([...skipped.containers.values()].filter((x) => x.imageId === 'sha256:img2')).toEqual([]);
    expect(skipped.events.filter((x) => x.includes(DIGEST_V2))).toEqual([]);
    const written = summary();
    expect(written).toContain('❌ shop: deploy (blue-green)');
    expect(written).toContain('skipped (an earlier host failed)');
    expect(written).toContain('c.example.com');
  });

  it('stops the rollout at the first failing host and fails the step', async () => {
    const a = fakeEngine();
    const opened: string[] = [];
    const inputs = new Inputs(mapInputs(baseInputs({ host: 'down.example.com, a.example.com', image: `${REPO}:v1`, 'readiness-timeout': '1s' })));
    await expect(main(new AbortController().signal, { inputs, connect: connectTo({ 'down.example.com': new Error('SSH to deploy@down.example.com failed (timeout)'), 'a.example.com': a }, opened) })).rejects.toThrow(/failed \(timeout\)/);
    expect(opened).toEqual(['down.example.com']);
    expect(a.events).toEqual([]);
    expect(a.containers.size).toBe(0);
    const report = JSON.parse(outputs().report ?? '{}') as { result: string; hosts: Array<{ result: string }> };
    expect(report.result).toBe('failure');
    const written = summary();
    expect(written).toContain('down.example.com');
    expect(written).toContain('failed (timeout)');
    expect(written).toContain('skipped (an earlier host failed)');
  });

  it('puts the old container back when the job is cancelled after the stop', async () => {
    const e = fakeEngine();
    const first = new Inputs(mapInputs(baseInputs({ host: 'a.example.com', image: `${REPO}:v1`, publish: '8080', strategy: 'recreate', 'readiness-timeout': '1s' })));
    await main(new AbortController().signal, { inputs: first, connect: connectTo({ 'a.example.com': e }) });
    const v1 = e.running('shop');
    e.readyWhen = (c) => v1.includes(c.options.name);
    const controller = new AbortController();
    const realStart = e.startContainer.bind(e);
    e.startContainer = async (id) => {
      await realStart(id);
      if (e.running('shop').length === 1 && !v1.includes(e.running('shop')[0] ?? '')) controller.abort(new Error('The job was cancelled (SIGINT).'));
    };
    const second = new Inputs(mapInputs(baseInputs({ host: 'a.example.com', image: `${REPO}:v2`, publish: '8080', strategy: 'recreate', 'readiness-timeout': '30s' })));
    await expect(main(controller.signal, { inputs: second, connect: connectTo({ 'a.example.com': e }) })).rejects.toThrow(/cancelled.*rolled back/s);
    expect(e.running('shop')).toEqual(v1);
    expect(outputs()['rolled-back']).toBe('true');
    expect([...e.containers.values()].some((c) => c.options.name === lockName('shop'))).toBe(false);
    const written = summary();
    expect(written).toContain('❌ shop: deploy (recreate)');
    expect(written).toContain('requests fail during the downtime');
    expect(written).toContain('failed, previous version restored');
    expect(written).toMatch(/cancelled/);
  });
});

describe('post', () => {
  it('releases a lock main left behind, and only that one', async () => {
    const e = fakeEngine();
    e.images.set('sha256:img1', { id: 'sha256:img1', repoDigests: [], hasHealthcheck: false, refs: [] });
    const held = await acquireLock(e, { app: 'shop', image: 'sha256:img1', provenance: { gitSha: 'a', runUrl: 'r', actor: 'me', at: '' }, timeoutMs: 100, ttlMs: 60_000, log: () => undefined, warn: () => undefined });
    process.env[`STATE_${LOCKS_STATE}`] = JSON.stringify([{ ...held, host: 'a.example.com', sshHost: 'a.example.com', sshPort: 22 }]);
    await post(new AbortController().signal, { inputs: new Inputs(mapInputs(baseInputs())), connect: connectTo({ 'a.example.com': e }) });
    expect([...e.containers.values()].some((c) => c.options.name === lockName('shop'))).toBe(false);
    // A second post (or a lock someone else took meanwhile) removes nothing.
    const other = await acquireLock(e, { app: 'shop', image: 'sha256:img1', provenance: { gitSha: 'b', runUrl: 'r2', actor: 'you', at: '' }, timeoutMs: 100, ttlMs: 60_000, log: () => undefined, warn: () => undefined });
    await post(new AbortController().signal, { inputs: new Inputs(mapInputs(baseInputs())), connect: connectTo({ 'a.example.com': e }) });
    expect(e.containers.has(other.containerId)).toBe(true);
  });

  it('does nothing (and needs no inputs) when no lock is left', async () => {
    delete process.env[`STATE_${LOCKS_STATE}`];
    await expect(post(new AbortController().signal, { inputs: new Inputs(mapInputs({})), connect: connectTo({}) })).resolves.toBeUndefined();
  });
});
