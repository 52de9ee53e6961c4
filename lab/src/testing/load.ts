// For lab tests and benchmarks: a bounded, steady HTTP load against a lab address. Half the
// clients keep their connection alive, the other half open a new one per request; every
// request is timed and kept, so a caller can count failures and take percentiles over any window.
// Hand-written on purpose: autocannon reports a run's aggregates; this paces a fixed rate and keeps each request's send time and answering version, for percentiles over a deploy's window.
import http from 'node:http';
import https from 'node:https';

export interface LoadSample {
  /** ms since the load started, when the request was sent. */
  at: number;
  ms: number;
  status?: number;
  error?: string;
  /** The app version that answered (the `version` field of a JSON body), if any. */
  version?: string;
  keepAlive: boolean;
  /** Sent again on a new connection because its kept-alive one was closed before any answer. */
  resent?: boolean;
}

export interface LoadOptions {
  host: string;
  port: number;
  path?: string;
  /** Requests per second, spread over the clients. */
  rate?: number;
  clients?: number;
  /** Upper bounds: the load stops by itself after this many requests or this long. */
  maxRequests?: number;
  maxMs?: number;
  timeoutMs?: number;
  /** Share of clients on kept-alive connections (0..1); by default every other client. */
  keepAliveShare?: number;
  /** The Host header (and, with tls, the SNI name): a name the shared edge routes. `host` stays the address dialled. */
  hostname?: string;
  /** HTTPS, trusting only `ca` (PEM). */
  tls?: { ca: string };
}

type Target = Required<Pick<LoadOptions, 'host' | 'port' | 'path' | 'timeoutMs'>> & Pick<LoadOptions, 'hostname' | 'tls'>;

export interface LoadRun {
  samples: LoadSample[];
  startedAt: number;
  /** ms since start, for marking phases (deploy started/finished) to take percentiles over. */
  now(): number;
  stop(): Promise<LoadSample[]>;
}

/** A request that failed on a kept-alive connection the server had already closed, before any answer. */
class StaleConnectionError extends Error {}

function requestOnce(agent: http.Agent | false, o: Target): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    let answered = false;
    const options = {
      host: o.host,
      port: o.port,
      path: o.path,
      agent,
      timeout: o.timeoutMs,
      ...(o.hostname ? { headers: { host: o.hostname } } : {}),
      ...(o.tls ? { ca: o.tls.ca, servername: o.hostname ?? o.host } : {}),
    };
    const req = (o.tls ? https : http).get(options, (res) => {
      answered = true;
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`timeout after ${o.timeoutMs} ms`)));
    req.on('error', (error: NodeJS.ErrnoException) => {
      // The race every keep-alive client meets when a server closes an idle connection (as nginx's
      // old workers do on a graceful reload) just as a request goes out on it.
      if (req.reusedSocket && !answered && (error.code === 'ECONNRESET' || error.code === 'EPIPE')) reject(new StaleConnectionError(error.code));
      else reject(error);
    });
  });
}

/**
 * One GET as browsers, curl and Go's net/http send it: when a reused keep-alive connection turns
 * out to be closed before any byte of an answer came back, the (idempotent) request is sent
 * again once on a new connection (RFC 9112 §9.3.1). The sample says so: resends are counted,
 * not hidden. A reset on a new connection is a failure.
 */
async function request(agent: http.Agent | false, o: Target, sample: LoadSample): Promise<{ status: number; body: string }> {
  try {
    return await requestOnce(agent, o);
  } catch (error) {
    if (!(error instanceof StaleConnectionError)) throw error;
    sample.resent = true;
    return requestOnce(false, o);
  }
}

export function startLoad(options: LoadOptions): LoadRun {
  const rate = options.rate ?? 60;
  const clients = options.clients ?? 8;
  const maxRequests = options.maxRequests ?? 20_000;
  const maxMs = options.maxMs ?? 300_000;
  const o: Target = { host: options.host, port: options.port, path: options.path ?? '/version', timeoutMs: options.timeoutMs ?? 5000, ...(options.hostname ? { hostname: options.hostname } : {}), ...(options.tls ? { tls: options.tls } : {}) };
  const startedAt = performance.now();
  const now = (): number => performance.now() - startedAt;
  const samples: LoadSample[] = [];
  let running = true;
  let sent = 0;
  const interval = (1000 * clients) / rate;
  const loops = Array.from({ length: clients }, async (_, i) => {
    const keepAlive = options.keepAliveShare === undefined ? i % 2 === 0 : i < Math.round(clients * options.keepAliveShare);
    const agent = keepAlive ? new (options.tls ? https : http).Agent({ keepAlive: true, maxSockets: 1 }) : false;
    // Clients start spread over one interval so the rate is even.
    await new Promise((r) => setTimeout(r, (interval * i) / clients));
    let next = now();
    while (running && sent < maxRequests && now() < maxMs) {
      sent++;
      const at = now();
      const sample: LoadSample = { at, ms: 0, keepAlive };
      try {
        const res = await request(agent, o, sample);
        sample.status = res.status;
        if (res.status !== 200) sample.error = `HTTP ${res.status}`;
        try {
          const version = (JSON.parse(res.body) as { version?: unknown }).version;
          if (typeof version === 'string') sample.version = version;
        } catch {
          // not JSON: fine
        }
      } catch (error) {
        sample.error = error instanceof Error ? `${(error as NodeJS.ErrnoException).code ?? ''} ${error.message}`.trim() : String(error);
      }
      sample.ms = now() - at;
      samples.push(sample);
      next += interval;
      const wait = next - now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      else next = now();
    }
    if (agent) agent.destroy();
  });
  return {
    samples,
    startedAt,
    now,
    stop: async () => {
      running = false;
      await Promise.all(loops);
      return samples;
    },
  };
}

export interface LoadSummary {
  total: number;
  failed: number;
  /** Distinct failure reasons with counts. */
  errors: Record<string, number>;
  versions: Record<string, number>;
  p50: number;
  p99: number;
  max: number;
  /** Achieved requests per second. */
  rate: number;
  /** Requests sent again on a new connection because their kept-alive one had just been closed. */
  resent: number;
  /** When (ms since the load started) and why the first failures happened. */
  firstFailures: Array<{ at: number; error: string }>;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
}

/** Counts and latency percentiles of the samples sent within [from, to) ms (the whole run by default). */
export function summarize(samples: LoadSample[], from = 0, to = Number.POSITIVE_INFINITY): LoadSummary {
  const inWindow = samples.filter((s) => s.at >= from && s.at < to);
  const latencies = inWindow.map((s) => s.ms).sort((a, b) => a - b);
  const errors: Record<string, number> = {};
  const versions: Record<string, number> = {};
  for (const s of inWindow) {
    if (s.error) errors[s.error] = (errors[s.error] ?? 0) + 1;
    else if (s.version) versions[s.version] = (versions[s.version] ?? 0) + 1;
  }
  const first = inWindow.reduce((m, s) => Math.min(m, s.at), Number.POSITIVE_INFINITY);
  const last = inWindow.reduce((m, s) => Math.max(m, s.at), 0);
  const round = (x: number): number => Math.round(x * 10) / 10;
  return {
    total: inWindow.length,
    failed: inWindow.filter((s) => s.error).length,
    errors,
    versions,
    p50: round(percentile(latencies, 50)),
    p99: round(percentile(latencies, 99)),
    max: round(latencies.at(-1) ?? 0),
    rate: last > first ? round((inWindow.length * 1000) / (last - first)) : 0,
    resent: inWindow.filter((s) => s.resent).length,
    firstFailures: inWindow.filter((s) => s.error).slice(0, 5).map((s) => ({ at: Math.round(s.at), error: s.error as string })),
  };
}

/**
 * How long after `from` (ms since the load started) every answer comes from `version`: the time of
 * the first answer from which on every answer (by the time it arrived) is that version's, minus
 * `from`. A failure or another version's answer pushes the moment later. By answer time, not send
 * time: a request sent during a gap that hung until the new version took it was not answered
 * sooner. Undefined when the last answers were not all `version`'s (the load ended first).
 */
export function timeToVersion(samples: LoadSample[], from: number, version: string): number | undefined {
  const answered = samples.filter((s) => s.at + s.ms >= from).sort((a, b) => a.at + a.ms - (b.at + b.ms));
  let firstOfRun: number | undefined;
  for (const s of answered) {
    if (s.error === undefined && s.version === version) firstOfRun ??= s.at + s.ms;
    else firstOfRun = undefined;
  }
  return firstOfRun === undefined ? undefined : Math.round(firstOfRun - from);
}
