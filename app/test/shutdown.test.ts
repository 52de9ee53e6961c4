// SIGTERM under load: the real server as a child process, 20 OCR requests in flight, then SIGTERM.
// Every request must be answered, /readyz must say 503 while draining, and the process must exit 0.
import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { spawnServer, type ChildServer } from './child-server.ts';
import { renderTextImage } from './text-images.ts';

describe('graceful shutdown', () => {
  let server: ChildServer | undefined;
  const started: ChildServer[] = [];
  afterAll(() => {
    for (const child of started) {
      if (child.child.exitCode === null) child.child.kill('SIGKILL');
      rmSync(child.dataDir, { recursive: true, force: true });
    }
  });

  it('answers all 20 in-flight requests after SIGTERM and exits 0', async () => {
    server = await spawnServer({ SHUTDOWN_TIMEOUT: '60s', SHUTDOWN_DELAY: '300ms', QUEUE_MAX_WAITING: '64' });
    started.push(server);
    const { url } = server;
    await server.waitReady();
    const png = (await renderTextImage(['graceful shutdown', 'keeps every request'], 'DejaVu Sans', 28)).png;

    const inFlight = Array.from({ length: 20 }, () =>
      fetch(`${url}/api/v1/ocr`, { method: 'POST', body: new Uint8Array(png), headers: { 'content-type': 'image/png' } }).then(
        async (response) => ({ status: response.status, body: (await response.json()) as { text?: string } }),
        (error: Error) => ({ status: 0, body: { text: error.message } }),
      ),
    );
    // Wait until the server holds all 20 (one running, the rest queued).
    let held = 0;
    for (let i = 0; i < 300 && held < 20; i++) {
      const ready = (await (await fetch(`${url}/readyz`)).json()) as { queue: { running: number; waiting: number } };
      held = ready.queue.running + ready.queue.waiting;
      if (held < 20) await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(held).toBe(20);

    server.child.kill('SIGTERM');
    // During SHUTDOWN_DELAY the listener is still open and readiness already fails.
    await new Promise((resolve) => setTimeout(resolve, 50));
    const draining = await fetch(`${url}/readyz`);
    expect(draining.status).toBe(503);
    expect(await draining.json()).toMatchObject({ checks: { draining: 'draining' } });

    const results = await Promise.all(inFlight);
    expect(results.map((result) => result.status)).toEqual(Array.from({ length: 20 }, () => 200));
    for (const result of results) expect(result.body.text).toBe('graceful shutdown\nkeeps every request');

    const exit = await server.exited;
    expect(exit).toEqual({ code: 0, signal: null });
    // The listener is closed afterwards.
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
  }, 120_000);

  it('exits 0 when SIGTERM comes while clients that went away still have OCR jobs running', async () => {
    const child = await spawnServer({ SHUTDOWN_TIMEOUT: '30s' });
    started.push(child);
    await child.waitReady();
    const png = (await renderTextImage(['abandoned request'], 'DejaVu Sans', 28)).png;
    const aborts = Array.from({ length: 6 }, () => new AbortController());
    const requests = aborts.map((abort) =>
      fetch(`${child.url}/api/v1/ocr`, { method: 'POST', body: new Uint8Array(png), headers: { 'content-type': 'image/png' }, signal: abort.signal }).catch(
        () => undefined,
      ),
    );
    for (let i = 0; i < 300; i++) {
      const ready = (await (await fetch(`${child.url}/readyz`)).json()) as { queue: { running: number; waiting: number } };
      if (ready.queue.running + ready.queue.waiting === 6) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    // Let the first job get well into its inference, then drop the clients and stop at once.
    await new Promise((resolve) => setTimeout(resolve, 150));
    for (const abort of aborts) abort.abort();
    child.child.kill('SIGTERM');
    await Promise.all(requests);
    expect(await child.exited).toEqual({ code: 0, signal: null });
  }, 60_000);
});
