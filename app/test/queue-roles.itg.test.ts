// APP_ROLE=web + APP_ROLE=worker through a real Redis (Debian's redis-server on loopback, append-only file
// on) with the real models: results come back through the queue, a worker's SIGTERM finishes its job, a
// SIGKILLed worker's job runs again on another worker, a job that kills its workers too often is failed
// with a reason, a Redis restart turns the web not-ready and back without losing accepted jobs, and a web
// started without Redis waits for it instead of crashing.
import { readdirSync, rmSync } from 'node:fs';
import { DatabaseSync } from 'node:sqlite';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { spawnServer, type ChildServer } from './child-server.ts';
import { describeNeeding } from './prerequisite.ts';
import { redisMissing, startTestRedis, type TestRedis } from './redis-server.ts';
import { renderTextImage } from './text-images.ts';

interface OcrBody {
  token?: string;
  text?: string;
  status?: string;
  url?: string;
  error?: { code: string; message: string };
  timings?: { queueMs: number; inferenceMs: number };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describeNeeding(redisMissing())('web and workers through Redis', () => {
  let redis: TestRedis;
  const children: ChildServer[] = [];
  let queueIndex = 0;
  let png: Buffer;
  let bigPng: Buffer;

  beforeAll(async () => {
    redis = await startTestRedis();
    png = (await renderTextImage(['through the queue', 'and back again'], 'DejaVu Sans', 28)).png;
    // Many lines: a job long enough (about a second here) to be caught mid-run.
    const lines = Array.from({ length: 12 }, (_, i) => `line ${i} of a long page read by a worker`);
    bigPng = (await renderTextImage(lines, 'DejaVu Sans', 22)).png;
  }, 60_000);

  afterAll(async () => {
    for (const child of children) {
      if (child.child.exitCode === null && child.child.signalCode === null) child.child.kill('SIGKILL');
      rmSync(child.dataDir, { recursive: true, force: true });
    }
    await redis.remove();
  });

  /** Settings of one test's queue: a name of its own, short locks so lost jobs come back within seconds. */
  const queueEnv = (extra: Record<string, string> = {}) => ({
    QUEUE_URL: redis.url,
    QUEUE_NAME: `itg-${process.pid}-${queueIndex}`,
    QUEUE_LOCK_DURATION: '2s',
    QUEUE_STALLED_INTERVAL: '1s',
    SHUTDOWN_TIMEOUT: '20s',
    ...extra,
  });

  async function start(role: 'web' | 'worker', env: Record<string, string>, waitReady = true): Promise<ChildServer> {
    const child = await spawnServer({ APP_ROLE: role, ...env });
    children.push(child);
    if (waitReady) await child.waitReady(180_000);
    return child;
  }

  const upload = async (web: ChildServer, image: Buffer = png): Promise<{ status: number; body: OcrBody }> => {
    const response = await fetch(`${web.url}/api/v1/ocr`, { method: 'POST', body: new Uint8Array(image), headers: { 'content-type': 'image/png' } });
    return { status: response.status, body: (await response.json()) as OcrBody };
  };

  /** Polls the result URL until it is no longer 202. */
  async function finalResult(web: ChildServer, token: string, timeoutMs = 60_000): Promise<{ status: number; body: OcrBody }> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const response = await fetch(`${web.url}/api/v1/results/${token}`);
      if (response.status !== 202 && response.status !== 503) return { status: response.status, body: (await response.json()) as OcrBody };
      if (Date.now() > deadline) throw new Error(`result ${token} still ${response.status} after ${timeoutMs} ms`);
      await sleep(200);
    }
  }

  async function activeJobs(worker: ChildServer): Promise<number> {
    const body = (await (await fetch(`${worker.url}/readyz`)).json()) as { activeJobs?: number };
    return body.activeJobs ?? 0;
  }

  async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<number> {
    const started = Date.now();
    while (!(await check().catch(() => false))) {
      if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
      await sleep(25);
    }
    return Date.now() - started;
  }

  it('answers through a worker, says the role everywhere, and only the web writes the history', async () => {
    queueIndex++;
    const web = await start('web', queueEnv());
    const worker = await start('worker', queueEnv());

    const first = await upload(web);
    expect(first.status).toBe(200);
    expect(first.body.text).toBe('through the queue\nand back again');
    const again = await fetch(`${web.url}/api/v1/results/${first.body.token}`);
    expect(((await again.json()) as OcrBody).text).toBe('through the queue\nand back again');
    expect((await fetch(`${web.url}/r/${first.body.token}`)).status).toBe(200);

    expect(await (await fetch(`${web.url}/version`)).json()).toMatchObject({ role: 'web' });
    expect(await (await fetch(`${worker.url}/version`)).json()).toMatchObject({ role: 'worker' });
    expect(await (await fetch(`${web.url}/readyz`)).json()).toMatchObject({ status: 'ready', role: 'web', checks: { queue: 'ok', database: 'ok' } });
    expect(await (await fetch(`${worker.url}/readyz`)).json()).toMatchObject({ status: 'ready', role: 'worker', checks: { queue: 'ok', model: 'ok' } });

    const webMetrics = await (await fetch(`${web.url}/metrics`)).text();
    expect(webMetrics).toMatch(/gangway_queue_depth\{[^}]*role="web"[^}]*\} 0/);
    expect(webMetrics).toMatch(/gangway_queue_active_jobs\{[^}]*role="web"/);
    expect(webMetrics).toMatch(/gangway_job_wait_seconds_count\{[^}]*role="web"[^}]*\} 1/);
    expect(webMetrics).toMatch(/gangway_job_run_seconds_count\{[^}]*role="web"[^}]*\} 1/);
    const workerMetrics = await (await fetch(`${worker.url}/metrics`)).text();
    expect(workerMetrics).toMatch(/gangway_job_run_seconds_count\{[^}]*role="worker"[^}]*\} 1/);

    // A JPEG cut short passes the web's header checks; the worker cannot decode it: failed at once (no retry).
    const jpeg = await sharp(png).jpeg().toBuffer();
    const response = await fetch(`${web.url}/api/v1/ocr`, { method: 'POST', body: new Uint8Array(jpeg.subarray(0, Math.floor(jpeg.length * 0.6))), headers: { 'content-type': 'image/jpeg' } });
    expect(response.status).toBe(422);
    expect(((await response.json()) as OcrBody).error?.code).toBe('undecodable_image');

    // The worker keeps nothing on disk; the web's history has the result.
    expect(readdirSync(worker.dataDir)).toEqual([]);
    const db = new DatabaseSync(path.join(web.dataDir, 'gangway.sqlite'), { readOnly: true });
    expect(db.prepare('SELECT COUNT(*) AS n FROM results').get()).toEqual({ n: 1 });
    expect(db.prepare('SELECT code, attempts FROM failed_jobs').all()).toEqual([{ code: 'undecodable_image', attempts: 1 }]);
    db.close();
  }, 300_000);

  it('APP_ROLE=all with QUEUE_URL is web and worker in one process, through Redis', async () => {
    queueIndex++;
    const both = await spawnServer({ APP_ROLE: 'all', ...queueEnv() });
    children.push(both);
    await both.waitReady(180_000);
    const result = await upload(both);
    expect(result.status).toBe(200);
    expect(result.body.text).toBe('through the queue\nand back again');
    expect(await (await fetch(`${both.url}/readyz`)).json()).toMatchObject({ role: 'all', checks: { model: 'ok', queue: 'ok', database: 'ok' } });
    const metrics = await (await fetch(`${both.url}/metrics`)).text();
    // Counted once (by the web side), though the same process also ran it.
    expect(metrics).toMatch(/gangway_job_run_seconds_count\{[^}]*role="all"[^}]*\} 1\n/);
  }, 300_000);

  it('a web that gets SIGTERM answers its waiting requests 202 at once and exits 0; the jobs stay queued', async () => {
    queueIndex++;
    const env = queueEnv({ OCR_RESULT_WAIT: '90s' });
    const web = await start('web', env);
    const waiting = [upload(web), upload(web)];
    await sleep(500);
    const stoppedAt = Date.now();
    web.child.kill('SIGTERM');
    const answers = await Promise.all(waiting);
    expect(answers.map((a) => a.status)).toEqual([202, 202]);
    expect(Date.now() - stoppedAt).toBeLessThan(5000);
    expect(await web.exited).toEqual({ code: 0, signal: null });
    // The next web on the same volume, and a worker, finish them.
    const next = await spawnServer({ APP_ROLE: 'web', ...env }, web.dataDir);
    children.push(next);
    await next.waitReady(180_000);
    await start('worker', env);
    for (const answer of answers) {
      const outcome = await finalResult(next, answer.body.token ?? '');
      expect(outcome.status).toBe(200);
      expect(outcome.body.text).toBe('through the queue\nand back again');
    }
  }, 300_000);

  it('a worker that gets SIGTERM mid-job finishes it and exits 0; the rest go to the other worker', async () => {
    queueIndex++;
    const web = await start('web', queueEnv({ QUEUE_MAX_WAITING: '64', OCR_RESULT_WAIT: '100s' }));
    const first = await start('worker', queueEnv({ SHUTDOWN_TIMEOUT: '90s' }));
    const second = await start('worker', queueEnv());
    const requests = Array.from({ length: 8 }, () => upload(web, bigPng));
    await waitUntil('a job running on the first worker', async () => (await activeJobs(first)) > 0);
    first.child.kill('SIGTERM');
    const exit = await first.exited;
    expect(exit).toEqual({ code: 0, signal: null });
    expect(first.output()).not.toMatch(/still running at the shutdown timeout/);
    const results = await Promise.all(requests);
    expect(results.map((r) => r.status)).toEqual(Array.from({ length: 8 }, () => 200));
    console.log(`8 jobs, one worker stopped with SIGTERM mid-job: longest wait ${Math.max(...results.map((r) => r.body.timings?.queueMs ?? 0)).toFixed(0)} ms`);
    for (const r of results) expect(r.body.text).toContain('of a long page read by a worker');
    expect(second.child.exitCode).toBeNull();
  }, 300_000);

  it('a SIGKILLed worker\'s job runs again on another worker (lost: 0)', async () => {
    queueIndex++;
    const web = await start('web', queueEnv({ OCR_RESULT_WAIT: '60s' }));
    const doomed = await start('worker', queueEnv());
    const pending = upload(web, bigPng);
    await waitUntil('the job running on the doomed worker', async () => (await activeJobs(doomed)) > 0);
    doomed.child.kill('SIGKILL');
    await doomed.exited;
    const killedAt = Date.now();
    await start('worker', queueEnv());
    const result = await pending;
    expect(result.status).toBe(200);
    expect(result.body.text?.split('\n').filter((line) => line.includes('of a long page read by a worker')).length).toBeGreaterThanOrEqual(10);
    console.log(`job lost with its worker came back and finished ${((Date.now() - killedAt) / 1000).toFixed(1)} s after the SIGKILL`);
  }, 300_000);

  it('a job whose worker dies more than QUEUE_JOB_RETRIES times is failed, and its result page says why', async () => {
    queueIndex++;
    const env = queueEnv({ QUEUE_JOB_RETRIES: '1', OCR_RESULT_WAIT: '1s' });
    const web = await start('web', env);
    let worker = await start('worker', env);
    const accepted = await upload(web, bigPng);
    expect(accepted.status).toBe(202);
    const token = accepted.body.token ?? '';
    // Killed on its first run and on its one retry.
    for (let run = 1; run <= 2; run++) {
      await waitUntil(`run ${run} of the job`, async () => (await activeJobs(worker)) > 0, 60_000);
      worker.child.kill('SIGKILL');
      await worker.exited;
      worker = await start('worker', env);
    }
    const outcome = await finalResult(web, token);
    expect(outcome.status).toBe(500);
    expect(outcome.body.error?.code).toBe('worker_lost');
    expect(outcome.body.error?.message).toMatch(/stopped mid-job.*gave up/);
    // The share page exists and shows the reason (it reads the same result URL).
    expect((await fetch(`${web.url}/r/${token}`)).status).toBe(200);
  }, 300_000);

  it('a Redis restart: the web is not ready while it is down, ready again after, and no accepted job is lost', async () => {
    queueIndex++;
    const env = queueEnv({ OCR_RESULT_WAIT: '1s', QUEUE_MAX_WAITING: '64' });
    const web = await start('web', env);
    // No worker yet: the accepted jobs wait in Redis through the restart.
    const accepted = await Promise.all(Array.from({ length: 5 }, () => upload(web)));
    expect(accepted.map((r) => r.status)).toEqual([202, 202, 202, 202, 202]);
    await redis.stop('SIGTERM');
    const downAt = Date.now();
    await waitUntil('web not ready', async () => (await fetch(`${web.url}/readyz`)).status === 503, 10_000);
    const notReady = (await (await fetch(`${web.url}/readyz`)).json()) as { checks: { queue: string } };
    expect(notReady.checks.queue).toMatch(/^unreachable/);
    const refused = await upload(web);
    expect(refused.status).toBe(503);
    expect(refused.body.error?.code).toBe('queue_unavailable');
    await sleep(1500);
    await redis.start();
    const backAfter = await waitUntil('web ready again', async () => (await fetch(`${web.url}/readyz`)).status === 200, 30_000);
    console.log(`Redis down ${((Date.now() - downAt - backAfter) / 1000).toFixed(1)} s; web ready ${backAfter} ms after Redis was back`);
    await start('worker', env);
    for (const r of accepted) {
      const outcome = await finalResult(web, r.body.token ?? '');
      expect(outcome.status).toBe(200);
      expect(outcome.body.text).toBe('through the queue\nand back again');
    }
    expect(web.child.exitCode).toBeNull();
  }, 300_000);

  it('a web started while Redis is unreachable is not ready, does not exit, and turns ready when Redis comes', async () => {
    queueIndex++;
    const port = redis.port;
    await redis.stop('SIGTERM');
    const web = await start('web', queueEnv(), false);
    await waitUntil('web listening', async () => (await fetch(`${web.url}/healthz`)).status === 200);
    await sleep(2000);
    const readyz = await fetch(`${web.url}/readyz`);
    expect(readyz.status).toBe(503);
    expect(web.child.exitCode).toBeNull();
    const worker = await start('worker', queueEnv(), false);
    await redis.start();
    expect(redis.port).toBe(port);
    await web.waitReady(120_000);
    await worker.waitReady(180_000);
    const result = await upload(web);
    expect(result.status).toBe(200);
  }, 300_000);
});
