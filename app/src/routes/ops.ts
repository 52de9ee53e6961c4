// Operational endpoints: liveness, readiness, build version, Prometheus metrics. Every role serves them;
// /readyz and /version say which role (and version) answers.
import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../app-context.ts';
import type { AppRole } from '../config.ts';
import type { AppMetrics } from '../metrics.ts';
import type { VersionInfo } from '../version.ts';
import { DatabaseWriteProbe } from '../write-probe.ts';

export interface Readiness {
  ready: boolean;
  checks: Record<string, string>;
  /** Extra fields of the /readyz body (queue figures). */
  details?: Record<string, unknown>;
}

export interface OpsEndpoints {
  role: AppRole;
  version: VersionInfo;
  metrics: AppMetrics;
  readiness: () => Readiness | Promise<Readiness>;
  /** Sets the gauges /metrics reads just before it is rendered. */
  refreshMetrics: () => void | Promise<void>;
}

export function registerOpsEndpoints(app: FastifyInstance, ops: OpsEndpoints): void {
  app.get('/healthz', async (_request, reply) => {
    return reply.header('cache-control', 'no-store').send({ status: 'ok', role: ops.role, uptimeSeconds: Math.round(process.uptime()) });
  });

  app.get('/readyz', async (_request, reply) => {
    const { ready, checks, details } = await ops.readiness();
    return reply
      .code(ready ? 200 : 503)
      .header('cache-control', 'no-store')
      // The version too (public at /version anyway): a deploy's benchmark tells which release is ready.
      .send({ status: ready ? 'ready' : 'not_ready', role: ops.role, version: ops.version.version, checks, ...details });
  });

  app.get('/version', async (_request, reply) => {
    const { version: v, gitSha, imageDigest, builtAt, startedAt } = ops.version;
    return reply.header('cache-control', 'no-store').send({ version: v, gitSha, imageDigest, builtAt, startedAt, role: ops.role });
  });

  app.get('/metrics', async (_request, reply) => {
    await ops.refreshMetrics();
    return reply.type(ops.metrics.registry.contentType).send(await ops.metrics.registry.metrics());
  });
}

/** The web side (APP_ROLE=web, or all): models (when it runs them), database, Redis (when queued). */
export function registerOpsRoutes(app: FastifyInstance, context: AppContext): void {
  const { lifecycle, ocr, store, version, metrics, remote, config } = context;
  const runsModels = config.role !== 'web';

  // Readiness reads; the proof that the volume takes writes is a heartbeat written at most every 10 s
  // (every 2 s while it fails), however often /readyz is polled.
  const writeProbe = new DatabaseWriteProbe(() => store.writeHeartbeat(version.instance, version.version));

  registerOpsEndpoints(app, {
    role: config.role,
    version,
    metrics,
    readiness: () => {
      const database = writeProbe.status();
      const checks: Record<string, string> = {
        started: lifecycle.draining || lifecycle.ready ? 'ok' : 'starting',
        draining: lifecycle.draining ? 'draining' : 'ok',
      };
      if (runsModels) checks.model = ocr.healthy ? 'ok' : 'not loaded';
      checks.database = database;
      if (remote) checks.queue = remote.health.status;
      const ready = lifecycle.ready && (!runsModels || ocr.healthy) && database === 'ok' && (!remote || remote.health.ok);
      const queue = remote ? { ...remote.counts(), maxWaiting: config.queueMaxWaiting, redis: remote.health.status } : context.queue.snapshot();
      return { ready, checks, details: { queue } };
    },
    refreshMetrics: async () => {
      if (remote) {
        const counts = await remote.snapshot();
        metrics.queueDepth.set(counts.waiting);
        metrics.activeJobs.set(counts.active);
        metrics.queueWaiting.set(counts.waiting);
        metrics.queueRunning.set(counts.active);
      } else {
        const snapshot = context.queue.snapshot();
        metrics.queueWaiting.set(snapshot.waiting);
        metrics.queueRunning.set(snapshot.running);
        metrics.queueDepth.set(snapshot.waiting);
        metrics.activeJobs.set(snapshot.running);
      }
      metrics.draining.set(lifecycle.draining ? 1 : 0);
    },
  });
}
