// A steady, bounded HTTP load for lab tests, the demo and benchmarks: several clients at a fixed
// total rate, half on keep-alive connections and half opening a new connection per request (the
// mix that exposes both a proxy that drops idle upstreams and a port that stops listening).
// Every request has a timeout; the whole load stops by itself after maxMs or maxRequests.
import http from 'node:http';

export interface LoadOptions {
  /** Full URL, e.g. http://198.19.0.1:8080/version. Only lab and loopback addresses. */
  url: string;
  clients?: number;
  /** Requests per second across all clients. */
  ratePerSecond?: number;
  /** Hard bounds: the load ends itself at whichever comes first. */
  maxMs?: number;
  maxRequests?: number;
  /** Per-request timeout. */
  timeoutMs?: number;
  /** Share of clients that keep connections alive (0..1). */
  keepAliveShare?: number;
}

export interface LoadFailure {
  at: number;
  reason: string;
}

export interface LoadResult {
  total: number;
  failed: number;
  /** Answers by status code, and failures by reason. */
  statuses: Record<string, number>;
  /** For JSON answers with a `version` field: how many came from each version. */
  versions: Record<string, number>;
  failures: LoadFailure[];
  /** Requests sent again on a new connection because their kept-alive one had just been closed. */
  retriedOnClosedConnection: number;
  latencyMs: { p50: number; p95: number; p99: number; max: number };
  durationMs: number;
  achievedRps: number;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] as number;
}

/** A request that failed on a kept-alive connection the server had already closed, before any answer. */
class StaleConnectionError extends Error {}

function once(url: URL, agent: http.Agent | false, timeoutMs: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = http.get(url, { agent, timeout: timeoutMs }, (res) => {
      answered = true;
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        if (body.length < 4096) body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
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
 * again once on a new connection (RFC 9112 §9.3.1). Such retries are counted, not hidden.
 */
async function get(url: URL, agent: http.Agent | false, timeoutMs: number, onRetry: () => void): Promise<{ status: number; body: string }> {
  try {
    return await once(url, agent, timeoutMs);
  } catch (error) {
    if (!(error instanceof StaleConnectionError)) throw error;
    onRetry();
    return once(url, false, timeoutMs);
  }
}

export interface RunningLoad {
  /** Stops sending, waits for requests in flight, and returns the counts. */
  stop(): Promise<LoadResult>;
  /** Counts so far, without stopping. */
  snapshot(): { total: number; failed: number };
}

export function startLoad(options: LoadOptions): RunningLoad {
  const url = new URL(options.url);
  const clients = options.clients ?? 8;
  const rate = options.ratePerSecond ?? 60;
  const maxMs = options.maxMs ?? 300_000;
  const maxRequests = options.maxRequests ?? 100_000;
  const timeoutMs = options.timeoutMs ?? 5000;
  const keepAliveClients = Math.round(clients * (options.keepAliveShare ?? 0.5));
  const spacing = (1000 * clients) / rate;
  const started = performance.now();
  let running = true;
  let total = 0;
  let failed = 0;
  let retried = 0;
  const statuses: Record<string, number> = {};
  const versions: Record<string, number> = {};
  const failures: LoadFailure[] = [];
  const latencies: number[] = [];
  const agents: http.Agent[] = [];
  let ended = started;

  const client = async (index: number): Promise<void> => {
    const agent = index < keepAliveClients ? new http.Agent({ keepAlive: true, maxSockets: 1 }) : false;
    if (agent) agents.push(agent);
    // Spread the clients over one spacing interval so the rate is steady, not bursty.
    await new Promise((r) => setTimeout(r, (spacing * index) / clients));
    let next = performance.now();
    while (running && performance.now() - started < maxMs && total < maxRequests) {
      total++;
      const sent = performance.now();
      try {
        const { status, body } = await get(url, agent, timeoutMs, () => retried++);
        latencies.push(performance.now() - sent);
        statuses[status] = (statuses[status] ?? 0) + 1;
        if (status < 200 || status >= 300) {
          failed++;
          failures.push({ at: Math.round(sent - started), reason: `HTTP ${status}` });
        } else if (body.startsWith('{')) {
          try {
            const version = (JSON.parse(body) as { version?: unknown }).version;
            if (typeof version === 'string') versions[version] = (versions[version] ?? 0) + 1;
          } catch {
            // Not JSON after all: counts as an answer, not as a version.
          }
        }
      } catch (error) {
        latencies.push(performance.now() - sent);
        failed++;
        const reason = error instanceof Error ? ((error as NodeJS.ErrnoException).code ?? error.message) : String(error);
        statuses[reason] = (statuses[reason] ?? 0) + 1;
        failures.push({ at: Math.round(sent - started), reason });
      }
      next += spacing;
      const wait = next - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      else next = performance.now();
    }
    ended = Math.max(ended, performance.now());
  };

  const loops = Array.from({ length: clients }, (_, i) => client(i));
  return {
    snapshot: () => ({ total, failed }),
    stop: async () => {
      running = false;
      await Promise.all(loops);
      for (const a of agents) a.destroy();
      const sorted = [...latencies].sort((a, b) => a - b);
      const durationMs = ended - started;
      return {
        total,
        failed,
        statuses,
        versions,
        failures,
        retriedOnClosedConnection: retried,
        latencyMs: {
          p50: Math.round(percentile(sorted, 50)),
          p95: Math.round(percentile(sorted, 95)),
          p99: Math.round(percentile(sorted, 99)),
          max: Math.round(sorted.at(-1) ?? 0),
        },
        durationMs: Math.round(durationMs),
        achievedRps: Math.round((total / durationMs) * 1000),
      };
    },
  };
}
