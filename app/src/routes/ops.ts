// Operational endpoints: liveness, readiness, build version, Prometheus metrics.
import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../app-context.ts';
import { DatabaseWriteProbe } from '../write-probe.ts';

export function registerOpsRoutes(app: FastifyInstance, context: AppContext): void {
  const { lifecycle, ocr, store, version, metrics } = context;

  app.get('/healthz', async (_request, reply) => {
    return reply.header('cache-control', 'no-store').send({ status: 'ok', uptimeSeconds: Math.round(process.uptime()) });
  });

  // Readiness reads; the proof that the volume takes writes is a heartbeat written at most every 10 s
  // (every 2 s while it fails), however often /readyz is polled.
  const writeProbe = new DatabaseWriteProbe(() => store.writeHeartbeat(version.instance, version.version));

  app.get('/readyz', async (_request, reply) => {
    const database = writeProbe.status();
    const checks = {
      started: lifecycle.draining || lifecycle.ready ? 'ok' : 'starting',
      draining: lifecycle.draining ? 'draining' : 'ok',
      model: ocr.healthy ? 'ok' : 'not loaded',
      database,
    };
    const ready = lifecycle.ready && ocr.healthy && database === 'ok';
    return reply
      .code(ready ? 200 : 503)
      .header('cache-control', 'no-store')
      .send({ status: ready ? 'ready' : 'not_ready', checks, queue: context.queue.snapshot() });
  });

  app.get('/version', async (_request, reply) => {
    const { version: v, gitSha, imageDigest, builtAt, startedAt } = version;
    return reply.header('cache-control', 'no-store').send({ version: v, gitSha, imageDigest, builtAt, startedAt });
  });

  app.get('/metrics', async (_request, reply) => {
    const snapshot = context.queue.snapshot();
    metrics.queueWaiting.set(snapshot.waiting);
    metrics.queueRunning.set(snapshot.running);
    metrics.draining.set(lifecycle.draining ? 1 : 0);
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
}
