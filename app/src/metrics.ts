// Prometheus metrics (prom-client) on a registry of the app's own, so several app instances can live in one test process.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface AppMetrics {
  registry: Registry;
  httpDuration: Histogram<'method' | 'route' | 'status'>;
  ocrRequests: Counter<'outcome'>;
  ocrStageDuration: Histogram<'stage'>;
  ocrLines: Histogram;
  queueWaiting: Gauge;
  queueRunning: Gauge;
  draining: Gauge;
  /** Jobs waiting in the queue (Redis when QUEUE_URL is set, the in-process queue otherwise). */
  queueDepth: Gauge;
  /** Jobs running: the whole queue's as the web role sees it, this process's own in a worker. */
  activeJobs: Gauge;
  /** From accepted to a worker starting it. */
  jobWait: Histogram;
  /** From a worker starting it to its result. */
  jobRun: Histogram;
}

const JOB_SECONDS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export function createMetrics(info: { version: string; gitSha: string; role?: string }, defaults = true): AppMetrics {
  const registry = new Registry();
  // Every series says which role answered (web, worker, all), so one dashboard can sum or split them.
  registry.setDefaultLabels({ app: 'gangway-app', role: info.role ?? 'all' });
  if (defaults) collectDefaultMetrics({ register: registry });
  const buildInfo = new Gauge({
    name: 'gangway_app_build_info',
    help: 'Always 1; the labels say which build runs',
    labelNames: ['version', 'git_sha'],
    registers: [registry],
  });
  buildInfo.set({ version: info.version, git_sha: info.gitSha }, 1);
  return {
    registry,
    httpDuration: new Histogram({
      name: 'gangway_http_request_duration_seconds',
      help: 'HTTP request duration by route template and status',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    ocrRequests: new Counter({
      name: 'gangway_ocr_requests_total',
      help: 'OCR requests by outcome (ok, client_error, queue_full, error)',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    ocrStageDuration: new Histogram({
      name: 'gangway_ocr_stage_duration_seconds',
      help: 'Time per OCR stage: queue, decode, detect, recognize, session_run, total',
      labelNames: ['stage'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4],
      registers: [registry],
    }),
    ocrLines: new Histogram({
      name: 'gangway_ocr_lines',
      help: 'Text lines found per image',
      buckets: [0, 1, 2, 5, 10, 20, 50, 100],
      registers: [registry],
    }),
    queueWaiting: new Gauge({ name: 'gangway_ocr_queue_waiting', help: 'OCR jobs waiting for a worker', registers: [registry] }),
    queueRunning: new Gauge({ name: 'gangway_ocr_queue_running', help: 'OCR jobs running', registers: [registry] }),
    draining: new Gauge({ name: 'gangway_draining', help: '1 once SIGTERM was received and the app drains', registers: [registry] }),
    queueDepth: new Gauge({ name: 'gangway_queue_depth', help: 'OCR jobs waiting for a worker', registers: [registry] }),
    activeJobs: new Gauge({ name: 'gangway_queue_active_jobs', help: 'OCR jobs running (web: in the whole queue; worker: in this process)', registers: [registry] }),
    jobWait: new Histogram({
      name: 'gangway_job_wait_seconds',
      help: 'Time an OCR job waited from accepted to started',
      buckets: JOB_SECONDS_BUCKETS,
      registers: [registry],
    }),
    jobRun: new Histogram({
      name: 'gangway_job_run_seconds',
      help: 'Time an OCR job ran, from started to its result',
      buckets: JOB_SECONDS_BUCKETS,
      registers: [registry],
    }),
  };
}
