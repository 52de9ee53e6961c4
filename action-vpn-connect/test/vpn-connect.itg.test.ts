// action-vpn-connect on the lab: the dist bundle run main-then-post through the runner harness,
// against the lab's real OpenVPN servers. Other tunnels may be up at the same time (the lab's
// servers have duplicate-cn): these tests touch only processes and files of their own jobs.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { findSecretLeaks, RunnerJob, type ActionRun } from '@gangway/harness';
import { readLabState, type LabState } from '../../lab/src/state.ts';

const actionDir = path.resolve(import.meta.dirname, '..');
let lab: LabState;
const read = (file: string): string => fs.readFileSync(file, 'utf8').trim();
const secrets: Record<string, string> = {};
const jobs: RunnerJob[] = [];
const figures: Record<string, string> = {};

/** Processes whose command line names this job's directories: only ever our own OpenVPN. */
function processesOf(job: RunnerJob): number[] {
  return fs
    .readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n))
    .map(Number)
    .filter((pid) => {
      try {
        const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
        if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) return false;
        return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(job.root);
      } catch {
        return false;
      }
    });
}

function privateDirs(job: RunnerJob): string[] {
  return fs.readdirSync(job.runnerTemp).filter((n) => n.startsWith('gangway-vpn-'));
}

/** Every file under `root` that holds a line of a secret (keys must never reach a disk: the config goes through stdin). */
function filesWithSecrets(root: string): string[] {
  const lines = Object.values(secrets).flatMap((v) => v.split('\n').map((l) => l.trim()).filter((l) => l.length >= 16 && !l.startsWith('-----') && !l.startsWith('#')));
  const hits: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile()) {
        const text = fs.readFileSync(full, 'utf8');
        if (lines.some((l) => text.includes(l))) hits.push(full);
      }
    }
  };
  walk(root);
  return hits;
}

/** The environment a running process was started with. */
function environOf(pid: number): string[] {
  return fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean);
}

function report(run: ActionRun): { status: string; connectMs?: number; failure?: { category: string; reason: string }; interface?: string } {
  return JSON.parse(run.outputs['report'] ?? '{}') as ReturnType<typeof report>;
}

async function mainThenPost(inputs: Record<string, string>, options: { cancel?: { whenLog: RegExp } } = {}) {
  const job = new RunnerJob();
  jobs.push(job);
  const main = await job.main(actionDir, { inputs, timeoutMs: 120_000, ...(options.cancel ? { cancel: options.cancel } : {}) });
  const pid = Number(main.outputs['pid']);
  const during = {
    processes: processesOf(job),
    dirs: privateDirs(job),
    iface: main.outputs['interface'],
    filesWithSecrets: filesWithSecrets(job.runnerTemp),
    environ: pid > 0 ? environOf(pid) : [],
    cmdline: pid > 0 ? fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0') : [],
  };
  const ifaceUp = during.iface ? fs.existsSync(`/sys/class/net/${during.iface}`) : false;
  const post = await job.post(actionDir, { inputs, timeoutMs: 60_000 });
  const leaks = findSecretLeaks([main, post], secrets);
  return { job, main, post, during, ifaceUp, leaks };
}

function expectNothingLeft(r: Awaited<ReturnType<typeof mainThenPost>>): void {
  expect(processesOf(r.job)).toEqual([]);
  expect(privateDirs(r.job)).toEqual([]);
  const pid = Number(r.main.outputs['pid']);
  if (pid > 0) expect(fs.existsSync(`/proc/${pid}/cmdline`) && fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('openvpn')).toBe(false);
  expect(r.leaks).toEqual([]);
  expect(r.post.exitCode).toBe(0);
}

/** The lab's inline client config without its <cert> and <key> (to pair it with another certificate). */
function withoutClientCert(config: string): string {
  return config.replace(/<cert>[\s\S]*?<\/cert>\n?/, '').replace(/<key>[\s\S]*?<\/key>\n?/, '');
}

beforeAll(() => {
  lab = readLabState();
  const v = lab.vpn;
  Object.assign(secrets, { ca: read(v.ca), cert: read(v.cert), key: read(v.key), 'tls-crypt': read(v.tlsCrypt) });
  if (v.wrongCert) Object.assign(secrets, { 'wrong cert': read(v.wrongCert.cert), 'wrong key': read(v.wrongCert.key) });
  if (v.auth) Object.assign(secrets, { password: v.auth.password, 'wrong password': 'not-the-password-0815' });
});

afterEach(() => {
  for (const job of jobs.splice(0)) {
    // Safety net: our own leftovers only, by pid.
    for (const pid of processesOf(job)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    job.cleanup();
  }
});

afterAll(() => {
  console.log(`action-vpn-connect figures:\n${Object.entries(figures).map(([k, v]) => `  ${k}: ${v}`).join('\n')}`);
});

describe('action-vpn-connect on the lab', () => {
  it('connects with the lab client config; check-host (the target sshd) passes; post leaves nothing', async () => {
    const inputs = { config: read(lab.vpn.configFile), 'check-host': `${lab.target.sshHost}:${lab.target.sshPort}`, 'connect-timeout': '30s' };
    const r = await mainThenPost(inputs);
    expect(r.main.exitCode, r.main.log).toBe(0);
    const rep = report(r.main);
    expect(rep.status).toBe('connected');
    expect(r.main.outputs['ip']).toMatch(/^198\.19\.0\.\d+$/);
    expect(r.main.outputs['interface']).toMatch(/^tun\d+$/);
    expect(r.ifaceUp).toBe(true);
    expect(r.during.processes).toContain(Number(r.main.outputs['pid']));
    expect(r.during.dirs).toHaveLength(1);
    // Issue #16 item 6: the long-lived root process holds none of the step's INPUT_* (secrets among them).
    expect(r.during.environ.length).toBeGreaterThan(0);
    expect(r.during.environ.filter((e) => e.startsWith('INPUT_'))).toEqual([]);
    expect(r.during.environ).toEqual(['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin']);
    // Item 7: the config with its keys reached OpenVPN on stdin; no file under RUNNER_TEMP holds a key line.
    expect(r.during.cmdline).toContain('stdin');
    expect(r.during.filesWithSecrets).toEqual([]);
    expect(r.main.summary).toContain('VPN connected');
    expect(r.main.summary).toContain(`${lab.target.sshHost}:${lab.target.sshPort} accepts TCP`);
    expect(r.post.log).toMatch(/OpenVPN stopped \(signal SIGTERM over the management interface\)/);
    expect(fs.existsSync(`/sys/class/net/${r.main.outputs['interface'] as string}`)).toBe(false);
    expectNothingLeft(r);
    figures['time to connect (inline config)'] = `${rep.connectMs ?? '?'} ms; main step ${r.main.durationMs} ms`;
    figures['post teardown'] = `${/OpenVPN stopped \([^)]*\) in (\S+)/.exec(r.post.log)?.[1] ?? '?'} to stop OpenVPN; post step ${r.post.durationMs} ms`;
  });

  it('connects from a config file in the workspace with the keys as separate inputs, and leaves that file untouched', async () => {
    const job = new RunnerJob();
    jobs.push(job);
    const config = withoutClientCert(read(lab.vpn.configFile)).replace(/<ca>[\s\S]*?<\/ca>\n?/, '').replace(/<tls-crypt>[\s\S]*?<\/tls-crypt>\n?/, '');
    fs.mkdirSync(path.join(job.workspace, 'vpn'));
    const file = path.join(job.workspace, 'vpn', 'lab.ovpn');
    fs.writeFileSync(file, config);
    const before = createHash('sha256').update(fs.readFileSync(file)).digest('hex');
    const inputs = { 'config-file': 'vpn/lab.ovpn', ca: secrets['ca'] as string, cert: secrets['cert'] as string, key: secrets['key'] as string, 'tls-key': secrets['tls-crypt'] as string, 'check-host': `${lab.target.sshHost}:${lab.target.sshPort}` };
    const main = await job.main(actionDir, { inputs, timeoutMs: 120_000 });
    expect(main.exitCode, main.log).toBe(0);
    const post = await job.post(actionDir, { inputs });
    expect(post.exitCode).toBe(0);
    expect(createHash('sha256').update(fs.readFileSync(file)).digest('hex')).toBe(before);
    expect(fs.readdirSync(path.join(job.workspace, 'vpn'))).toEqual(['lab.ovpn']);
    expect(findSecretLeaks([main, post], secrets)).toEqual([]);
    expect(processesOf(job)).toEqual([]);
  });

  it("the lab's own config file (lab/.state, inside the repository) as config-file, with the repository as the workspace, as the demo runs it", async () => {
    const repoRoot = path.resolve(actionDir, '..');
    const job = new RunnerJob({ workspace: repoRoot });
    jobs.push(job);
    const inputs = { 'config-file': path.relative(repoRoot, lab.vpn.configFile), 'check-host': `${lab.target.sshHost}:${lab.target.sshPort}` };
    const main = await job.main(actionDir, { inputs, timeoutMs: 120_000 });
    expect(main.exitCode, main.log).toBe(0);
    const post = await job.post(actionDir, { inputs });
    expect(post.exitCode).toBe(0);
    expect(findSecretLeaks([main, post], secrets)).toEqual([]);
    expect(processesOf(job)).toEqual([]);
    expect(privateDirs(job)).toEqual([]);
  });

  it('a client certificate from another CA fails with the tls category within connect-timeout + 5 s', async () => {
    const wrong = lab.vpn.wrongCert;
    if (!wrong) throw new Error('lab.json has no vpn.wrongCert: run `flock /tmp/gangway-lab.lock npm run lab:up`');
    const inputs = { config: withoutClientCert(read(lab.vpn.configFile)), cert: read(wrong.cert), key: read(wrong.key), 'connect-timeout': '20s' };
    const r = await mainThenPost(inputs);
    expect(r.main.exitCode).toBe(1);
    expect(report(r.main).failure?.category, r.main.log).toBe('tls');
    expect(r.main.annotations.find((a) => a.level === 'error')?.message).toMatch(/\[tls\].*Hint:/);
    expect(r.main.durationMs).toBeLessThan(25_000);
    expectNothingLeft(r);
    figures['wrong certificate -> tls'] = `${r.main.durationMs} ms (main step)`;
  });

  it('a wrong password fails with the auth category within 10 s; the right one connects', async () => {
    const auth = lab.vpn.auth;
    if (!auth) throw new Error('lab.json has no vpn.auth: run `flock /tmp/gangway-lab.lock npm run lab:up`');
    const config = read(auth.configFile);
    const wrong = await mainThenPost({ config, username: auth.username, password: 'not-the-password-0815', 'connect-timeout': '30s' });
    expect(wrong.main.exitCode).toBe(1);
    expect(report(wrong.main).failure?.category, wrong.main.log).toBe('auth');
    expect(wrong.main.durationMs).toBeLessThan(10_000);
    expectNothingLeft(wrong);
    figures['wrong password -> auth'] = `${wrong.main.durationMs} ms (main step)`;

    const right = await mainThenPost({ config, username: auth.username, password: auth.password, 'connect-timeout': '30s' });
    expect(right.main.exitCode, right.main.log).toBe(0);
    expect(right.main.outputs['ip']).toMatch(/^198\.19\.64\.\d+$/);
    expectNothingLeft(right);
    figures['time to connect (username/password)'] = `${report(right.main).connectMs ?? '?'} ms`;
  });

  it('an unreachable server (a closed UDP port on the lab veth) fails with the timeout category and leaves no process', async () => {
    const config = read(lab.vpn.configFile).replace(/^remote (\S+) \d+$/m, `remote ${lab.target.vethAddress} 1199`);
    const r = await mainThenPost({ config, 'connect-timeout': '8s' });
    expect(r.main.exitCode).toBe(1);
    expect(report(r.main).failure?.category, r.main.log).toBe('timeout');
    expect(r.main.durationMs).toBeLessThan(13_000);
    expectNothingLeft(r);
    figures['unreachable -> timeout (connect-timeout 8s)'] = `${r.main.durationMs} ms (main step)`;
  });

  it('retries after a timeout when asked, then fails with the category of the last attempt', async () => {
    const config = read(lab.vpn.configFile).replace(/^remote (\S+) \d+$/m, `remote ${lab.target.vethAddress} 1199`);
    const r = await mainThenPost({ config, 'connect-timeout': '2s', retries: '1' });
    expect(r.main.exitCode).toBe(1);
    expect(r.main.annotations.some((a) => a.level === 'warning' && /Attempt 1 failed \[timeout\].*Retrying in/.test(a.message))).toBe(true);
    expect(JSON.parse(r.main.outputs['report'] ?? '{}')).toMatchObject({ attempts: 2, failure: { category: 'timeout' } });
    expectNothingLeft(r);
  });

  it('a tunnel that dropped during the job: post warns and cleans up, and does not fail', async () => {
    const job = new RunnerJob();
    jobs.push(job);
    const inputs = { config: read(lab.vpn.configFile) };
    const main = await job.main(actionDir, { inputs, timeoutMs: 120_000 });
    expect(main.exitCode, main.log).toBe(0);
    process.kill(Number(main.outputs['pid']), 'SIGKILL');
    await new Promise((r) => setTimeout(r, 200));
    const post = await job.post(actionDir, { inputs });
    expect(post.exitCode).toBe(0);
    expect(post.annotations.some((a) => a.level === 'warning' && /had already exited before the post step/.test(a.message))).toBe(true);
    expect(privateDirs(job)).toEqual([]);
    expect(findSecretLeaks([main, post], secrets)).toEqual([]);
  });

  it('cancellation while connecting stops OpenVPN before the step exits', async () => {
    const config = read(lab.vpn.configFile).replace(/^remote (\S+) \d+$/m, `remote ${lab.target.vethAddress} 1199`);
    const r = await mainThenPost({ config, 'connect-timeout': '60s' }, { cancel: { whenLog: /\[state\] WAIT/ } });
    expect(r.main.cancelled).toBe(true);
    expect(r.main.exitCode).toBe(1);
    expect(r.main.durationMs).toBeLessThan(7000);
    expect(r.during.processes).toEqual([]);
    expect(report(r.main).failure?.category).toBe('cancelled');
    expectNothingLeft(r);
    figures['cancel -> stopped'] = `${r.main.durationMs} ms (main step incl. connect start)`;
  });
});
