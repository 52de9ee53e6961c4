// The app image on the lab's runner engine: builds app/Dockerfile unchanged (local node:24-bookworm-slim
// stand-in, npm registry only), runs it, probes /readyz and /api/v1/ocr over the container's bridge address,
// checks /version and the HEALTHCHECK, then stops it with SIGTERM and expects exit code 0.
import Docker from 'dockerode';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildAppImage, readLabInfo } from './docker-image.ts';
import { describeNeeding } from './prerequisite.ts';
import { renderTextImage } from './text-images.ts';

const lab = readLabInfo();
const TAG = 'gangway-app:itg';

describeNeeding(lab ? undefined : 'no lab is up (lab/.state/lab.json is missing): npm run lab:up')('app image on the lab engine', () => {
  const docker = new Docker({ socketPath: lab?.runner.socket ?? '' });
  let container: Docker.Container | undefined;
  let address = '';

  beforeAll(async () => {
    const built = await buildAppImage(docker, TAG, {
      APP_VERSION: '9.9.9-itg',
      GIT_SHA: '0123456789abcdef0123456789abcdef01234567',
      BUILT_AT: '2026-01-02T03:04:05Z',
    });
    const image = await docker.getImage(TAG).inspect();
    console.log(`image ${built.id} built in ${built.seconds.toFixed(1)} s; size ${(image.Size / 1e6).toFixed(0)} MB`);
    container = await docker.createContainer({
      Image: TAG,
      name: `gangway-app-itg-${process.pid}`,
      Env: ['IMAGE_DIGEST=sha256:itg', 'SHUTDOWN_TIMEOUT=20s'],
      HostConfig: { AutoRemove: false },
    });
    await container.start();
    const networks = (await container.inspect()).NetworkSettings.Networks;
    address = Object.values(networks)[0]?.IPAddress ?? '';
  }, 900_000);

  afterAll(async () => {
    if (container) await container.remove({ force: true }).catch(() => undefined);
  });

  it('runs as non-root with the labels, volumes and healthcheck declared', async () => {
    const image = await docker.getImage(TAG).inspect();
    expect(image.Config.User).toBe('1000:1000');
    expect(Object.keys(image.Config.Volumes ?? {}).sort()).toEqual(['/data', '/models']);
    expect(image.Config.Labels).toMatchObject({
      'org.opencontainers.image.version': '9.9.9-itg',
      'org.opencontainers.image.revision': '0123456789abcdef0123456789abcdef01234567',
    });
    expect(image.Config.Healthcheck?.Test).toEqual(['CMD', 'node', 'app/src/healthcheck.ts']);
  });

  it('answers /readyz 200, then reads an image on /api/v1/ocr', async () => {
    const base = `http://${address}:8080`;
    const started = Date.now();
    let status = 0;
    while (Date.now() - started < 60_000) {
      status = await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(2000) }).then((r) => r.status, () => 0);
      if (status === 200) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(status).toBe(200);
    console.log(`container ready ${Date.now() - started} ms after start`);

    const png = (await renderTextImage(['Shipped by Gangway', 'blue green 2026'], 'DejaVu Sans', 32)).png;
    const response = await fetch(`${base}/api/v1/ocr`, { method: 'POST', body: new Uint8Array(png), headers: { 'content-type': 'image/png' } });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { text: string; token: string };
    expect(body.text).toBe('Shipped by Gangway\nblue green 2026');
    expect((await fetch(`${base}/api/v1/results/${body.token}`)).status).toBe(200);

    const version = (await (await fetch(`${base}/version`)).json()) as Record<string, string>;
    expect(version).toMatchObject({
      version: '9.9.9-itg',
      gitSha: '0123456789abcdef0123456789abcdef01234567',
      builtAt: '2026-01-02T03:04:05Z',
      imageDigest: 'sha256:itg',
    });
  }, 120_000);

  it('reports healthy through the HEALTHCHECK, and exits 0 on SIGTERM', async () => {
    let health = '';
    for (let i = 0; i < 90 && health !== 'healthy'; i++) {
      health = (await container!.inspect()).State.Health?.Status ?? '';
      if (health !== 'healthy') await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    expect(health).toBe('healthy');
    await container!.stop({ t: 30 });
    const state = (await container!.inspect()).State;
    expect(state.ExitCode).toBe(0);
    const logs = (await container!.logs({ stdout: true, stderr: true })).toString('utf8');
    expect(logs).toContain('shutdown complete');
  }, 150_000);
});
