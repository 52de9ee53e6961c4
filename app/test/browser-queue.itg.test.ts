// The pages with the queue in a real browser (Debian's chromium and redis-server): an upload the web cannot
// answer in time (no worker yet) goes to its share page, which says it waits and shows the text once a worker
// ran it; a job that failed shows its reason there.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { spawnServer, type ChildServer } from './child-server.ts';
import { describeNeeding } from './prerequisite.ts';
import { redisMissing, startTestRedis, type TestRedis } from './redis-server.ts';
import { renderTextImage } from './text-images.ts';

const CHROMIUM = '/usr/bin/chromium';
const missing = existsSync(CHROMIUM) ? redisMissing() : `${CHROMIUM} is missing (apt-get install chromium)`;

describeNeeding(missing)('the share page of a queued job, in headless Chromium', () => {
  let redis: TestRedis;
  let browser: BrowserContext;
  const children: ChildServer[] = [];
  const profile = mkdtempSync(path.join(os.tmpdir(), 'gangway-chromium-'));
  const env = () => ({ QUEUE_URL: redis.url, QUEUE_NAME: `browser-${process.pid}`, OCR_RESULT_WAIT: '1s' });

  beforeAll(async () => {
    redis = await startTestRedis();
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1200, height: 800 },
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    for (const child of children) {
      if (child.child.exitCode === null) child.child.kill('SIGKILL');
      rmSync(child.dataDir, { recursive: true, force: true });
    }
    await redis?.remove();
    rmSync(profile, { recursive: true, force: true });
  });

  it('waits on the share page, then shows the text; a failed job shows why', async () => {
    const web = await spawnServer({ APP_ROLE: 'web', ...env() });
    children.push(web);
    await web.waitReady(60_000);
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(`${web.url}/`);
    const image = await renderTextImage(['Queued for a worker', 'shown when done'], 'DejaVu Sans', 36);
    await page.setInputFiles('#file', { name: 'queued.png', mimeType: 'image/png', buffer: image.png });
    await page.waitForURL(/\/r\/[A-Za-z0-9_-]{22}$/, { timeout: 30_000 });
    await expect.poll(() => page.textContent('#status'), { timeout: 10_000 }).toMatch(/Waiting for a free worker/);
    expect(await page.locator('#status').isVisible()).toBe(true);

    // A JPEG cut short: its header passes the web's checks, the worker cannot decode it.
    const jpeg = await sharp(image.png).jpeg().toBuffer();
    const broken = jpeg.subarray(0, Math.floor(jpeg.length * 0.6));
    const failedPage = await browser.newPage();
    await failedPage.goto(`${web.url}/`);
    await failedPage.setInputFiles('#file', { name: 'broken.jpg', mimeType: 'image/jpeg', buffer: broken });
    await failedPage.waitForURL(/\/r\/[A-Za-z0-9_-]{22}$/, { timeout: 30_000 });

    const worker = await spawnServer({ APP_ROLE: 'worker', ...env() });
    children.push(worker);
    await worker.waitReady(60_000);
    await page.waitForSelector('#lines li', { timeout: 30_000 });
    expect(await page.locator('#lines li').first().textContent()).toContain('Queued for a worker');
    await expect.poll(() => failedPage.textContent('#status'), { timeout: 30_000 }).toMatch(/cannot be decoded/);
    expect(await failedPage.locator('#status').isVisible()).toBe(true);
    expect(errors).toEqual([]);
  }, 120_000);
});
