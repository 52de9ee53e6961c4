// A blue-green overlap in miniature: two real servers on one DATA_DIR. Results written through either are
// readable through the other (share links survive the swap), and stopping the old one loses nothing.
import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { spawnServer, type ChildServer } from './child-server.ts';
import { renderTextImage } from './text-images.ts';

describe('two app instances sharing DATA_DIR', () => {
  const servers: ChildServer[] = [];
  afterAll(() => {
    for (const server of servers) if (server.child.exitCode === null) server.child.kill('SIGKILL');
    if (servers[0]) rmSync(servers[0].dataDir, { recursive: true, force: true });
  });

  it('serve each other\'s results while both write, and the old one stops cleanly', async () => {
    const blue = await spawnServer({ INSTANCE_NAME: 'blue' });
    servers.push(blue);
    const green = await spawnServer({ INSTANCE_NAME: 'green' }, blue.dataDir);
    servers.push(green);
    await Promise.all([blue.waitReady(), green.waitReady()]);

    const png = (await renderTextImage(['blue green overlap'], 'DejaVu Sans', 28)).png;
    const post = (server: ChildServer) =>
      fetch(`${server.url}/api/v1/ocr`, { method: 'POST', body: new Uint8Array(png), headers: { 'content-type': 'image/png' } }).then(
        async (response) => ({ status: response.status, body: (await response.json()) as { token: string; text: string } }),
      );
    const results = await Promise.all([blue, green, blue, green, blue, green].map(post));
    expect(results.map((result) => result.status)).toEqual([200, 200, 200, 200, 200, 200]);

    for (const [i, result] of results.entries()) {
      const other = i % 2 === 0 ? green : blue;
      const stored = await fetch(`${other.url}/api/v1/results/${result.body.token}`);
      expect(stored.status).toBe(200);
      expect(((await stored.json()) as { text: string }).text).toBe('blue green overlap');
      expect((await fetch(`${other.url}/api/v1/results/${result.body.token}/image`)).status).toBe(200);
    }

    blue.child.kill('SIGTERM');
    expect(await blue.exited).toEqual({ code: 0, signal: null });
    const stats = (await (await fetch(`${green.url}/api/v1/stats`)).json()) as { total: number };
    expect(stats.total).toBe(6);
    green.child.kill('SIGTERM');
    expect(await green.exited).toEqual({ code: 0, signal: null });
  }, 120_000);
});
