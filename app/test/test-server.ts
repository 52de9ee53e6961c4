// Starts the real app in-process on a loopback port with a fresh DATA_DIR, for API tests.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { OcrRunner } from '../src/app-context.ts';
import { startServer, type RunningServer } from '../src/boot.ts';
import { loadConfig } from '../src/config.ts';
import { readVersionInfo } from '../src/version.ts';

export interface TestServer {
  server: RunningServer;
  url: string;
  dataDir: string;
  close: () => Promise<void>;
}

export async function startTestServer(env: Record<string, string> = {}, ocr?: OcrRunner): Promise<TestServer> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'gangway-app-test-'));
  const config = loadConfig({ HOST: '127.0.0.1', PORT: '0', DATA_DIR: dataDir, ...env });
  const version = readVersionInfo({ APP_VERSION: '1.2.3-test', GIT_SHA: 'abc1234', BUILT_AT: '2026-01-01T00:00:00Z', IMAGE_DIGEST: 'sha256:test', ...env });
  const server = await startServer(config, version, { ...(ocr ? { ocr } : {}), collectDefaultMetrics: false });
  await server.ready;
  return {
    server,
    url: server.url,
    dataDir,
    close: async () => {
      await server.app.close();
      await server.release();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A multipart/form-data body the way a browser's FormData makes it. */
export async function multipartBody(field: string, bytes: Uint8Array, filename: string, type: string): Promise<{ body: Buffer; contentType: string }> {
  const form = new FormData();
  form.append(field, new Blob([new Uint8Array(bytes)], { type }), filename);
  const request = new Request('http://127.0.0.1/', { method: 'POST', body: form });
  return { body: Buffer.from(await request.arrayBuffer()), contentType: request.headers.get('content-type') ?? '' };
}
