// action-build on the lab, through the runner harness, on the dist bundle: the app image built on the
// runner engine, tested, pushed to the TLS + htpasswd registry and pulled on the target by image-ref;
// an unchanged rebuild in a fresh engine reuses the registry's cache; failures push nothing.
import { randomBytes } from 'node:crypto';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registryAuthHeader } from '@gangway/kit';
import { findSecretLeaks, RunnerJob, type ActionRun, type GitHubContext } from '@gangway/harness';
import { readLabState, type LabState } from '../../lab/src/state.ts';
import { ACTION_DIR, openTargetDocker, registryTags, snapshotAppContext } from './lab-access.ts';
import { copyImage, startFreshEngine, type FreshEngine } from './fresh-engine.ts';

const run = randomBytes(3).toString('hex');
const pushToMain: Partial<GitHubContext> = { ref: 'refs/heads/main', eventName: 'push', event: { repository: { default_branch: 'main' } } };

let lab: LabState;
const jobs: RunnerJob[] = [];
const temps: string[] = [];
let secrets: Record<string, string>;
let appContext: ReturnType<typeof snapshotAppContext>;

function job(github: Partial<GitHubContext> = pushToMain, workspace = appContext.dir): RunnerJob {
  const j = new RunnerJob({ github, workspace });
  jobs.push(j);
  return j;
}

function fixture(name: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), `gw-build-${name}-`));
  cpSync(path.join(ACTION_DIR, 'test', 'fixtures', name), dir, { recursive: true });
  temps.push(dir);
  return dir;
}

/** Every run is checked for the registry password, however it ended. */
function noLeaks(r: ActionRun, extra: Record<string, string> = {}): void {
  expect(findSecretLeaks(r, { ...secrets, ...extra })).toEqual([]);
}

const errors = (r: ActionRun): string => r.annotations.filter((a) => a.level === 'error').map((a) => a.message).join('\n');

beforeAll(() => {
  lab = readLabState();
  secrets = { 'registry password': lab.registry.password };
  appContext = snapshotAppContext();
});
afterAll(() => {
  for (const j of jobs.splice(0)) j.cleanup();
  for (const t of temps.splice(0)) rmSync(t, { recursive: true, force: true });
  appContext.remove();
});

describe('action-build on the lab', () => {
  const appRepo = () => `${lab.registry.host}/gangway-test/build-app`;
  let imageRef = '';

  it('builds the app image, gates it with a test command, pushes every tag and hands out repo@digest', async () => {
    const r = await job().main(ACTION_DIR, {
      inputs: {
        image: appRepo(),
        context: '.',
        file: 'app/Dockerfile',
        tags: `itg-${run}`,
        'test-command': '["node","--check","app/src/server.ts"]',
        'registry-username': lab.registry.username,
        'registry-password': lab.registry.password,
        'docker-host': lab.runner.dockerHost,
      },
      timeoutMs: 900_000,
    });
    noLeaks(r);
    expect(r.exitCode, `${errors(r)}\n${r.log.split('\n').slice(-60).join('\n')}`).toBe(0);
    imageRef = r.outputs['image-ref'] ?? '';
    expect(imageRef).toMatch(new RegExp(`^${appRepo().replace(/[.]/g, '\\.')}@sha256:[0-9a-f]{64}$`));
    expect(r.outputs['digest']).toBe(imageRef.split('@')[1]);
    const tags = (r.outputs['tags'] ?? '').split('\n');
    expect(tags).toEqual(expect.arrayContaining([`${appRepo()}:latest`, `${appRepo()}:main`, `${appRepo()}:itg-${run}`]));
    expect(Number(r.outputs['size-bytes'])).toBeGreaterThan(10_000_000);
    const report = JSON.parse(r.outputs['report'] ?? '{}') as { builder: string; testGate: { command?: { exitCode: number } }; pushed: string[] };
    expect(report.builder).toBe('buildkit');
    expect(report.testGate.command?.exitCode).toBe(0);
    expect(await registryTags(lab, 'gangway-test/build-app')).toEqual(expect.arrayContaining(['latest', 'main', `itg-${run}`]));
    expect(r.summary).toContain('Built and pushed');
    expect(r.summary).toContain(imageRef.split('@')[1]);
    expect(r.log).toContain('▸ Build');
    // What was pushed carries the OCI labels.
    const runner = new Docker({ socketPath: lab.runner.socket });
    const labels = (await runner.getImage(r.outputs['image-id'] ?? '').inspect()).Config.Labels ?? {};
    expect(labels['org.opencontainers.image.revision']).toBe(jobs.at(-1)?.github.sha);
    expect(labels['org.opencontainers.image.source']).toBe('https://github.com/octo-org/gangway-fixture');
  }, 900_000);

  it('the target engine pulls the image by image-ref through the VPN', async () => {
    expect(imageRef).not.toBe('');
    const target = await openTargetDocker(lab);
    try {
      const auth = { base64: registryAuthHeader({ username: lab.registry.username, password: lab.registry.password, serveraddress: lab.registry.host }) };
      const stream = await target.docker.pull(imageRef, { authconfig: auth });
      await new Promise<void>((resolve, reject) => target.docker.modem.followProgress(stream, (err: Error | null, out: Array<{ error?: string }>) => (err ? reject(err) : out.find((e) => e.error) ? reject(new Error(out.find((e) => e.error)?.error)) : resolve())));
      const pulled = await target.docker.getImage(imageRef).inspect();
      expect(pulled.RepoDigests).toContain(imageRef);
    } finally {
      await target.close();
    }
  }, 600_000);

  describe('in a fresh runner engine', () => {
    let fresh: FreshEngine | undefined;
    beforeAll(async () => {
      fresh = await startFreshEngine();
      await copyImage(new Docker({ socketPath: lab.runner.socket }), fresh.docker, 'node:24-bookworm-slim');
    });
    afterAll(async () => {
      await fresh?.stop();
    });

    it('an unchanged rebuild takes its steps from the registry cache (cache-from)', async () => {
      const r = await job().main(ACTION_DIR, {
        inputs: {
          image: appRepo(),
          context: '.',
          file: 'app/Dockerfile',
          push: false,
          'registry-username': lab.registry.username,
          'registry-password': lab.registry.password,
          'docker-host': fresh?.dockerHost ?? '',
        },
        timeoutMs: 600_000,
      });
      noLeaks(r);
      expect(r.exitCode, `${errors(r)}\n${r.log.split('\n').slice(-60).join('\n')}`).toBe(0);
      const report = JSON.parse(r.outputs['report'] ?? '{}') as { cachedSteps: number; totalSteps: number; steps: Array<{ name: string; cached: boolean }>; cacheFrom: string[] };
      expect(report.cacheFrom).toContain(`${appRepo()}:latest`);
      expect(report.cachedSteps).toBeGreaterThan(0);
      const ran = report.steps.filter((s) => / RUN /.test(s.name) && !s.cached);
      expect(ran, 'every RUN step came from the cache').toEqual([]);
      expect(r.summary).toMatch(/Cached steps/);
    }, 600_000);
  });

  it('a failing test-target stops the action with the stage output, and nothing is pushed', async () => {
    const tag = `gate-${run}`;
    const r = await job(pushToMain, fixture('gate')).main(ACTION_DIR, {
      inputs: {
        image: `${lab.registry.host}/gangway-test/build-gate`,
        tags: `latest=false\nbranch=false\nsha=false\n${tag}`,
        'test-target': 'test',
        'registry-username': lab.registry.username,
        'registry-password': lab.registry.password,
        'docker-host': lab.runner.dockerHost,
      },
    });
    noLeaks(r);
    expect(r.exitCode).toBe(1);
    expect(errors(r)).toMatch(/The test stage "test" failed, so nothing was pushed/);
    expect(errors(r)).toContain('FAIL sum.test: expected 4, got 5');
    expect(await registryTags(lab, 'gangway-test/build-gate')).not.toContain(tag);
    expect(r.summary).toContain('nothing was pushed');
  });

  it('a wrong password fails before the build, names the registry and the user, and leaks nothing', async () => {
    const wrong = `wrong-${randomBytes(9).toString('base64url')}`;
    const tag = `badauth-${run}`;
    const r = await job(pushToMain, fixture('gate')).main(ACTION_DIR, {
      inputs: {
        image: `${lab.registry.host}/gangway-test/build-gate`,
        tags: `latest=false\nbranch=false\nsha=false\n${tag}`,
        'registry-username': lab.registry.username,
        'registry-password': wrong,
        'docker-host': lab.runner.dockerHost,
      },
    });
    noLeaks(r, { 'wrong password': wrong });
    expect(r.exitCode).toBe(1);
    expect(errors(r)).toContain(`The registry ${lab.registry.host} refused user "${lab.registry.username}"`);
    expect(r.log).not.toContain('▸ Build');
    expect(await registryTags(lab, 'gangway-test/build-gate')).not.toContain(tag);
  });

  it('a Dockerfile syntax error names the line', async () => {
    const r = await job(pushToMain, fixture('syntax')).main(ACTION_DIR, {
      inputs: { image: `${lab.registry.host}/gangway-test/build-syntax`, push: false, 'docker-host': lab.runner.dockerHost },
    });
    noLeaks(r);
    expect(r.exitCode).toBe(1);
    expect(errors(r)).toMatch(/syntax error at line 3: unknown instruction: RUNN/i);
  });

  it('an unreachable engine says where it looked', async () => {
    const r = await job(pushToMain, fixture('gate')).main(ACTION_DIR, {
      inputs: { image: `${lab.registry.host}/gangway-test/build-gate`, push: false, 'docker-host': 'unix:///run/gangway-no-such-engine.sock' },
    });
    expect(r.exitCode).toBe(1);
    expect(errors(r)).toContain('Cannot reach the Docker engine at unix:///run/gangway-no-such-engine.sock');
  });
});
