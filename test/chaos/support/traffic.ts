// For the chaos suite: the steady traffic every case runs under, and the check that no data
// was lost. Readers GET /version on the public port (lab/src/testing/load.ts); a writer POSTs
// a real image to /api/v1/ocr every `writeEveryMs` and keeps the token of every upload the app
// acknowledged. Afterwards each acknowledged token must still resolve and the history count
// may only have grown by them: a deploy that lost the volume, or a row, shows here.
import http from 'node:http';
import { startLoad, summarize, type LoadRun, type LoadSummary } from '../../../lab/src/testing/load.ts';
import { renderTextImage } from '../../../app/test/text-images.ts';

export interface Endpoint {
  host: string;
  port: number;
  /** The Host header, for an app behind the server's shared edge (port 80, routed by name). */
  hostname?: string;
}

interface Answer {
  status: number;
  body: string;
  headers: http.IncomingHttpHeaders;
}

export function request(e: Endpoint, method: string, path: string, body?: Buffer, timeoutMs = 10_000, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: e.host, port: e.port, method, path, agent: false, timeout: timeoutMs, headers: { ...(e.hostname ? { host: e.hostname } : {}), ...headers, ...(body ? { 'content-length': String(body.length) } : {}) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, headers: res.headers }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** The version the public port answers with, or the error. */
export async function answeringVersion(e: Endpoint): Promise<string> {
  try {
    const r = await request(e, 'GET', '/version', undefined, 5000);
    if (r.status !== 200) return `HTTP ${r.status}`;
    return String((JSON.parse(r.body) as { version?: unknown }).version);
  } catch (error) {
    return `error: ${error instanceof Error ? error.message : String(error)}`;
  }
}

/** Rows in the app's history (results table), from /api/v1/stats. */
export async function historyRows(e: Endpoint): Promise<number> {
  const r = await request(e, 'GET', '/api/v1/stats', undefined, 10_000);
  if (r.status !== 200) throw new Error(`GET /api/v1/stats answered ${r.status}: ${r.body.slice(0, 200)}`);
  return (JSON.parse(r.body) as { total: number }).total;
}

let imageCache: Buffer | undefined;
export async function sampleImage(): Promise<Buffer> {
  imageCache ??= (await renderTextImage(['Gangway chaos', 'nothing is lost'], 'DejaVu Sans', 28)).png;
  return imageCache;
}

/** One OCR upload; resolves to its token, or throws with the status and body. */
export async function upload(e: Endpoint, image: Buffer, timeoutMs = 15_000): Promise<string> {
  const r = await request(e, 'POST', '/api/v1/ocr', image, timeoutMs, { 'content-type': 'image/png' });
  if (r.status !== 200) throw new Error(`HTTP ${r.status}`);
  return (JSON.parse(r.body) as { token: string }).token;
}

export interface WriteStats {
  sent: number;
  acknowledged: string[];
  failed: number;
  errors: Record<string, number>;
}

export interface TrafficRun {
  load: LoadRun;
  stop(): Promise<{ load: LoadSummary; writes: WriteStats }>;
}

export interface TrafficOptions {
  rate?: number;
  clients?: number;
  writeEveryMs?: number;
  maxMs?: number;
}

/** Readers and one writer against the public port until stop() (bounded by maxMs). */
export async function startTraffic(e: Endpoint, options: TrafficOptions = {}): Promise<TrafficRun> {
  const image = await sampleImage();
  const maxMs = options.maxMs ?? 240_000;
  const load = startLoad({ host: e.host, port: e.port, ...(e.hostname ? { hostname: e.hostname } : {}), rate: options.rate ?? 40, clients: options.clients ?? 6, maxMs });
  const writes: WriteStats = { sent: 0, acknowledged: [], failed: 0, errors: {} };
  let running = true;
  const started = performance.now();
  const writer = (async () => {
    while (running && performance.now() - started < maxMs && writes.sent < 2000) {
      const at = performance.now();
      writes.sent++;
      try {
        writes.acknowledged.push(await upload(e, image));
      } catch (error) {
        writes.failed++;
        const key = error instanceof Error ? error.message : String(error);
        writes.errors[key] = (writes.errors[key] ?? 0) + 1;
      }
      const wait = (options.writeEveryMs ?? 1000) - (performance.now() - at);
      if (wait > 0 && running) await new Promise((r) => setTimeout(r, wait));
    }
  })();
  return {
    load,
    async stop() {
      running = false;
      const samples = await load.stop();
      await writer;
      return { load: summarize(samples), writes };
    },
  };
}

/** The acknowledged uploads that the app no longer knows. */
export async function missingResults(e: Endpoint, tokens: string[]): Promise<string[]> {
  const missing: string[] = [];
  for (const token of tokens) {
    const r = await request(e, 'GET', `/api/v1/results/${token}`, undefined, 10_000);
    if (r.status !== 200) missing.push(token);
  }
  return missing;
}
