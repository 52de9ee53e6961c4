// The pages in a real browser (Debian's chromium, headless, driven by playwright-core): upload an image on /,
// see the text and the boxes, open the share link, and take screenshots of the result and of /dashboard.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { REPO_ROOT } from './docker-image.ts';
import { describeNeeding } from './prerequisite.ts';
import { startTestServer, type TestServer } from './test-server.ts';
import { renderTextImage } from './text-images.ts';

const CHROMIUM = '/usr/bin/chromium';
export const SCREENSHOT_DIR = path.join(REPO_ROOT, 'test-results');

describeNeeding(existsSync(CHROMIUM) ? undefined : `${CHROMIUM} is missing (apt-get install chromium)`)('pages in headless Chromium', () => {
  let t: TestServer;
  let browser: BrowserContext;
  const profile = mkdtempSync(path.join(os.tmpdir(), 'gangway-chromium-'));

  beforeAll(async () => {
    t = await startTestServer();
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
      viewport: { width: 1200, height: 800 },
    });
    mkdirSync(SCREENSHOT_DIR, { recursive: true });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await t?.close();
    rmSync(profile, { recursive: true, force: true });
  });

  it('uploads on /, shows the lines and boxes, and the share link reloads the result', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text());
    });
    await page.goto(`${t.url}/`);
    const image = await renderTextImage(['Invoice 4711 paid', 'Harbor market station'], 'DejaVu Serif', 36);
    await page.setInputFiles('#file', { name: 'invoice.png', mimeType: 'image/png', buffer: image.png });
    await page.waitForSelector('#lines li', { timeout: 30_000 });
    expect(await page.locator('#lines li').allTextContents()).toEqual([expect.stringContaining('Invoice 4711 paid'), expect.stringContaining('Harbor market station')]);
    expect(await page.locator('#overlay rect').count()).toBe(2);
    expect(await page.textContent('#status')).toContain('Found 2 lines');

    await page.click('#copy');
    // The click handler awaits the clipboard: wait for the status it then sets, not the old one.
    await expect.poll(() => page.textContent('#status'), { timeout: 5000 }).toMatch(/copied|Ctrl\+C/);

    const shareHref = await page.getAttribute('#share', 'href');
    expect(shareHref).toMatch(/^\/r\/[A-Za-z0-9_-]{22}$/);
    await page.screenshot({ path: path.join(SCREENSHOT_DIR, 'app-result.png'), fullPage: true });

    const shared = await browser.newPage();
    await shared.goto(`${t.url}${shareHref}`);
    await shared.waitForSelector('#lines li');
    expect(await shared.locator('#lines li').first().textContent()).toContain('Invoice 4711 paid');
    await shared.waitForFunction("document.getElementById('preview').naturalWidth > 0");
    expect(await shared.locator('#upload').isHidden()).toBe(true);
    expect(errors).toEqual([]);
  }, 60_000);

  it('accepts a dropped file', async () => {
    const page = await browser.newPage();
    await page.goto(`${t.url}/`);
    const image = await renderTextImage(['dropped text works'], 'Liberation Sans', 40);
    // The page's own drop handler, fed a DataTransfer as a real drag from the desktop would be (DOM code as a string:
    // this file is type-checked without the DOM library).
    const dataTransfer = await page.evaluateHandle(`(() => {
      const bytes = Uint8Array.from(atob('${image.png.toString('base64')}'), (c) => c.charCodeAt(0));
      const transfer = new DataTransfer();
      transfer.items.add(new File([bytes], 'drop.png', { type: 'image/png' }));
      return transfer;
    })()`);
    await page.locator('#dropzone').dispatchEvent('drop', { dataTransfer });
    await page.waitForSelector('#lines li', { timeout: 30_000 });
    expect(await page.locator('#lines li').first().textContent()).toContain('dropped text works');
  }, 60_000);

  it('draws the dashboard: aggregates, and no link to any result', async () => {
    const page = await browser.newPage();
    await page.goto(`${t.url}/dashboard`);
    await page.waitForSelector('#summary strong');
    expect(await page.locator('#summary strong').first().textContent()).toMatch(/^[2-9]\d*$/);
    expect(await page.locator('a[href^="/r/"]').count()).toBe(0);
    expect(await page.locator('#per-day rect.bar').count()).toBe(1);
    expect(await page.locator('#latency rect.bar').count()).toBeGreaterThan(5);
    await page.screenshot({ path: path.join(SCREENSHOT_DIR, 'app-dashboard.png'), fullPage: true });
  }, 60_000);
});
